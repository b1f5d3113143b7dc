"""The signer's manage link (``cms.manage``): made for emails, the thank-you page and the API's confirm answer.

Apart from ``cms.manage`` so that the confirm flow (``cms.page_views``, which the page models
call) can give the link without importing the models.
"""

from urllib.parse import quote_plus

from django.urls import reverse

from .conf import absolute_url
from .tokens import make_manage_token, manage_token_for


def manage_path(page, signature) -> str:
    return _path(page, make_manage_token(signature))


def _path(page, token):
    return reverse("petitions:manage", args=[page.pk]) + "?token=" + quote_plus(token)  # as urlencode writes it


def manage_url(page, signature) -> str:
    """The link as an email carries it: absolute, on ``SITE_URL`` or the page's site.

    The same as ``absolute_url(manage_path(…))``; the part before the token is worked out once per
    page object, not once per email of a batch.
    """
    base = getattr(page, "_petitions_manage_base", None)
    if base is None:
        base = page._petitions_manage_base = absolute_url(reverse("petitions:manage", args=[page.pk]), page) + "?token="
    return base + quote_plus(make_manage_token(signature))


def path_for_verification(page, verification) -> str:
    """The manage link of the signature a verification confirmed ("" for an invalid token): for its holder only.

    Built from the values the verification read back (``cms.signing.verify``), so it costs no query.
    """
    if verification.signature_id is None or verification.manage_token_version is None:
        return ""
    return _path(
        page, manage_token_for(verification.signature_id, page.canonical_id, verification.manage_token_version)
    )
