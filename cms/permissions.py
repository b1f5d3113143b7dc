"""Who may do what, and where (deliveries, signatures, the fraud tools): checked here, in one place.

*What* is a Django permission (``deliver_petition``, ``view_signature``, ``view_delivery``), held
through a group such as "Campaign leads". *Where* is a campaign grant
(``cms.models.CampaignGrant``): a group or a user is granted a campaign index page, and with it
every petition under it. A permission without a grant reveals no campaign. Superusers see all.

Every entry point (the admin's deliveries and signatures, the leads' API, OSDI) asks
:func:`petitions_for`; a petition outside the answer is a 404 there, so ids do not leak.
"""

from functools import wraps

from django.apps import apps
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpResponseForbidden
from django.utils.translation import gettext
from wagtail.models import Page

DELIVER = "petitions_cms.deliver_petition"
VIEW_SIGNATURES = "petitions_cms.view_signature"
VIEW_DELIVERIES = "petitions_cms.view_delivery"
#: Find, export and erase a signer's signatures (with VIEW_SIGNATURES, within the grants).
ERASE_SIGNATURES = "petitions_cms.erase_signature"
#: See, add and void paper signature batches (``cms.offline_views``), within the grants.
VIEW_OFFLINE = "petitions_cms.view_offlinesignaturebatch"
ADD_OFFLINE = "petitions_cms.add_offlinesignaturebatch"
VOID_OFFLINE = "petitions_cms.change_offlinesignaturebatch"


def granted_pages(user):
    """The pages under the campaigns granted to ``user`` or one of their groups (all, for a superuser)."""
    if user is None or not user.is_active or not user.is_authenticated:
        return Page.objects.none()
    if user.is_superuser:
        return Page.objects.all()
    # The models import this module (for DELIVER), so the grant model is looked up, not imported.
    grants = apps.get_model("petitions_cms", "CampaignGrant").objects.filter(
        Q(user=user) | Q(group__in=user.groups.all())
    )
    paths = list(grants.values_list("campaign__path", flat=True))
    if not paths:
        return Page.objects.none()
    subtrees = Q()
    for path in paths:
        subtrees |= Q(path__startswith=path)
    return Page.objects.filter(subtrees)


def petitions_for(user, perm=VIEW_SIGNATURES):
    """The pages whose petitions ``user`` may act on with ``perm``: the permission, within their grants."""
    if user is None or not user.has_perm(perm):
        return Page.objects.none()
    return granted_pages(user)


def may_act_on(user, page, perm=VIEW_SIGNATURES) -> bool:
    return petitions_for(user, perm).filter(pk=page.pk).exists()


def can_deliver(user, page=None) -> bool:
    """Campaign leads (and superusers) deliver; editors compose pages but do not deliver.

    ``user`` may be None (a page's delivery settings that no lead decided). It is also
    asked when a lead's past decision is acted on: a lead who has since left the group,
    or was deactivated, decides nothing. Given a ``page``, the lead must also hold a grant
    on its campaign: a lead of campaign A decides nothing for campaign B.
    """
    if user is None or not user.is_active or not user.has_perm(DELIVER):
        return False
    return page is None or may_act_on(user, page, DELIVER)


def require_deliver_permission(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not can_deliver(request.user):
            raise PermissionDenied(gettext("Delivering petitions needs the campaign lead permission."))
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
            return HttpResponseForbidden(gettext("The fraud tools need the campaign lead permission."))
        return view(request, *args, **kwargs)

    return wrapped


def can_erase(user) -> bool:
    """Campaign leads (and superusers) find, export and erase an address's signatures; editors do not."""
    return user is not None and user.is_active and user.has_perm(VIEW_SIGNATURES) and user.has_perm(ERASE_SIGNATURES)


def erasable_petitions(user):
    """The pages whose signatures ``user`` may export and erase: both permissions, within their grants."""
    if not can_erase(user):
        return Page.objects.none()
    return petitions_for(user, ERASE_SIGNATURES)
