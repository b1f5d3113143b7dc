"""Who may call the campaign leads' endpoints: Wagtail API tokens of users who may view signatures.

Tokens are Wagtail's own (``wagtail.models.APIToken``): a lead creates one
under *Settings → Users → API tokens* in the admin (with ``wagtail.api.v3``
installed) or with ``manage.py api_tokens create --user NAME --name LABEL``.
Only a digest is stored; revoking it in the admin ends its use at once.

A token is accepted as ``Authorization: Bearer <token>`` or, for OSDI
clients, as ``OSDI-API-Token: <token>``. Its user must be active and hold
``petitions_cms.view_signature`` (the permission that shows the
*Signatures* snippets in the admin); otherwise the answer is 401 (no or
unknown token) or 403 (a token without the permission).
"""

from ninja.errors import HttpError
from wagtail.api.v3.auth import BearerTokenAuth

VIEW_SIGNATURES = "petitions_cms.view_signature"
OSDI_TOKEN_HEADER = "OSDI-API-Token"


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
            raise HttpError(403, "This token's user may not view signatures.")
        return api_token


def lead_from_request(request):
    """The lead a request's token names, or None; never an error (for optional auth)."""
    header = request.headers.get(OSDI_TOKEN_HEADER) or request.headers.get("Authorization", "")
    if not header:
        return None
    try:
        return LeadTokenAuth()(request)
    except HttpError:
        return None
