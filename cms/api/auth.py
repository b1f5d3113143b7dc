"""Who may call the campaign leads' endpoints: Wagtail API tokens, within their user's grants and their scopes.

Tokens are Wagtail's own (``wagtail.models.APIToken``); their scopes are ours
(``cms.models.TokenScopes``): ``read_signatures``, ``export`` (the CSV), ``deliver``
(delivery status) and ``record`` (the OSDI helper without the rate limit). A lead creates
one with scopes under *Settings → Lead API tokens*, where it is shown once and can be
revoked; revoking it (there or in Wagtail's own token admin) ends its use at once. A token
made without scopes (Wagtail's admin, ``manage.py api_tokens``) may only read signatures.

A token is accepted as ``Authorization: Bearer <token>`` or, for OSDI clients, as
``OSDI-API-Token: <token>``. No token, an unknown, revoked one, or one whose user is
deactivated: 401. A user without ``petitions_cms.view_signature``, or a token without the
endpoint's scope: 403. A petition outside the user's granted campaigns: 404, as if it did
not exist (``cms.permissions.petitions_for``).
"""

from django.http import Http404
from django.utils.translation import gettext
from ninja.errors import HttpError
from wagtail.api.v3.auth import BearerTokenAuth

from ..models import TokenScopes
from ..permissions import VIEW_SIGNATURES, may_act_on
from .base import get_petition

OSDI_TOKEN_HEADER = "OSDI-API-Token"
#: What a token may do when it was created without our scopes.
UNSCOPED = TokenScopes(read_signatures=True)


class LeadTokenAuth(BearerTokenAuth):
    """A Wagtail API token whose user may view signatures."""

    def __call__(self, request):
        token = request.headers.get(OSDI_TOKEN_HEADER)
        if token:
            return self.authenticate(request, token.strip())
        return super().__call__(request)

    def authenticate(self, request, token):
        api_token = super().authenticate(request, token)
        if api_token is not None and not request.user.has_perm(VIEW_SIGNATURES):
            raise HttpError(403, gettext("This token's user may not view signatures."))
        return api_token


def scopes_of(api_token):
    try:
        return api_token.petition_scopes
    except TokenScopes.DoesNotExist:
        return UNSCOPED


def lead_petition(request, petition_id, scope, perm=VIEW_SIGNATURES):
    """The petition a lead's token may act on with ``scope``: 403 without the scope, 404 outside the grants."""
    if not getattr(scopes_of(request.auth), scope):
        raise HttpError(403, gettext("This token does not have the %(scope)r scope.") % {"scope": scope})
    page = get_petition(petition_id, live=False)
    if not may_act_on(request.user, page, perm):
        raise Http404("Not a petition")
    return page


def lifts_rate_limit(request, page) -> bool:
    """Whether the request carries a token with the ``record`` scope for this petition's campaign.

    Never an error: no token, a bad one, another campaign's, or one without the scope all
    leave the rate limit in place.
    """
    header = request.headers.get(OSDI_TOKEN_HEADER) or request.headers.get("Authorization", "")
    if not header:
        return False
    try:
        api_token = LeadTokenAuth()(request)
    except HttpError:
        return False
    return api_token is not None and scopes_of(api_token).record and may_act_on(request.user, page)
