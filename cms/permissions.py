"""Who may do what with deliveries and the fraud tools: checked here, in one place."""

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.http import HttpResponseForbidden

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


REVIEW_FRAUD = "petitions_cms.review_fraud"


def can_review_fraud(user) -> bool:
    """Campaign leads (and superusers) quarantine, release and invalidate signatures; editors do not."""
    return user is not None and user.is_active and user.has_perm(REVIEW_FRAUD)


def require_fraud_permission(view):
    """A plain 403 (not Wagtail's redirect to the dashboard), so a refusal reads as one to any client."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not can_review_fraud(request.user):
            return HttpResponseForbidden("The fraud tools need the campaign lead permission.")
        return view(request, *args, **kwargs)

    return wrapped
