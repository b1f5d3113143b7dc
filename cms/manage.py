"""The signer's own link to their signature ("Manage my signature", issue 10, item 2).

The link (``make_manage_token``, its own salt) goes in the verification email and on the
thank-you page. Through it a signer changes how the feed shows them, withdraws consent to
officials or to updates, or withdraws altogether (``cms.erasure``). Consent can only be
withdrawn here, not given: it is given on the sign form, under the wording it names. A link is
revoked by bumping the signature's ``manage_token_version`` (``revoke_links``); withdrawing ends
it too. The view (``cms.views.manage_signature``) stays thin.
"""

from dataclasses import dataclass

from django import forms
from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from .conf import get_signature_model
from .erasure import erase_signatures
from .forms import FEED_DISPLAY_CHOICES
from .manage_links import manage_path, manage_url, path_for_verification
from .models import ErasureLog
from .tokens import ExpiredToken, InvalidToken, read_manage_token

__all__ = [
    "Link",
    "ManageForm",
    "manage_path",
    "manage_url",
    "open_link",
    "path_for_verification",
    "revoke_links",
]


@dataclass(frozen=True)
class Link:
    """What a manage link opens: a signature, or why not (a stage of the page, and its status)."""

    signature: object = None
    refusal: str = ""
    status: int = 200


def open_link(page, token: str) -> Link:
    try:
        signature_id, version = read_manage_token(token, page.canonical_id)
    except ExpiredToken:
        return Link(refusal="expired", status=410)
    except InvalidToken:
        return Link(refusal="invalid", status=400)
    signature = get_signature_model().objects.filter(pk=signature_id, petition_id=page.canonical_id).first()
    if signature is None:
        if ErasureLog.objects.filter(signature_id=signature_id, petition_id=page.canonical_id).exists():
            return Link(refusal="withdrawn", status=410)
        return Link(refusal="invalid", status=400)
    if signature.manage_token_version != version:
        return Link(refusal="revoked", status=410)
    return Link(signature=signature)


class ManageForm(forms.Form):
    feed_display = forms.ChoiceField(
        choices=FEED_DISPLAY_CHOICES, widget=forms.RadioSelect, label=_("Show me in the list of signers as")
    )
    share_with_officials = forms.BooleanField(required=False)
    opt_in_updates = forms.BooleanField(required=False)

    @classmethod
    def for_signature(cls, signature, data=None):
        display = "hidden" if not signature.show_in_feed else signature.feed_name
        initial = {
            "feed_display": display,
            "share_with_officials": signature.share_with_officials,
            "opt_in_updates": signature.opt_in_updates,
        }
        return cls(data, initial=initial)


def update_choices(page, signature, cleaned) -> None:
    """Store the signer's new choices; consent only ever goes from given to withdrawn here."""
    display = cleaned["feed_display"]
    values = {
        "show_in_feed": display != "hidden",
        "feed_name": "first_initial" if display == "first_initial" else "first",
        "share_with_officials": signature.share_with_officials and cleaned["share_with_officials"],
        "opt_in_updates": signature.opt_in_updates and cleaned["opt_in_updates"],
    }
    Signature = get_signature_model()
    with transaction.atomic():
        Signature.objects.filter(pk=signature.pk, manage_token_version=signature.manage_token_version).update(**values)
        for name, value in values.items():
            setattr(signature, name, value)
        if signature.status == Signature.Status.VERIFIED:
            transaction.on_commit(page.refresh_feed)  # the feed shows the change at once


def withdraw(page, signature) -> int:
    return erase_signatures([signature.pk], reason=ErasureLog.Reason.WITHDRAWN)


def revoke_links(signature_ids) -> int:
    """Make every manage link given so far for these signatures invalid (a 410 page)."""
    return (
        get_signature_model()
        .objects.filter(pk__in=list(signature_ids))
        .update(manage_token_version=F("manage_token_version") + 1)
    )
