"""Who may do what with deliveries: checked here, in one place."""

from functools import wraps

from django.core.exceptions import PermissionDenied

DELIVER = "petitions_cms.deliver_petition"


def can_deliver(user) -> bool:
    """Campaign leads (and superusers) deliver; editors compose pages but do not deliver.

    ``user`` may be None (a page's delivery settings that no lead decided). It is also
    asked when a lead's past decision is acted on: a lead who has since left the group,
    or was deactivated, decides nothing.
    """
    return user is not None and user.is_active and user.has_perm(DELIVER)


def require_deliver_permission(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not can_deliver(request.user):
            raise PermissionDenied("Delivering petitions needs the campaign lead permission.")
        return view(request, *args, **kwargs)

    return wrapped
