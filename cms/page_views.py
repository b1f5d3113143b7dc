"""What a petition page does with a POST: sign, and confirm.

The page's routes call these (``PetitionMixin.serve_sign`` and
``serve_confirm``, which hosts may override), as do the plugin's sign and
confirm endpoints in ``cms.views``. They take the page object and never
import models, so the models can call them without an import circle.
"""

from django.http import HttpResponseRedirect
from django.utils.cache import add_never_cache_headers

from . import challenge, landing_copies, manage_links, ratelimit
from .conf import get_signature_model
from .forms import ConfirmForm
from .signing import SigningRefused, VerifyResult, verify
from .tokens import read_token


def serve_sign(page, request):
    """Validate, rate-limit, challenge and store a signature; the same redirect whether the address is new or not."""
    status = page.signing_status()
    if not status:
        return page.render_page(request, page.get_form(), status=403, refusal=status.message)
    retry_after = ratelimit.hit(request, page)
    if retry_after:
        refusal = ratelimit.refusal_message(retry_after)
        response = page.render_page(request, page.get_form(request.POST), status=429, refusal=refusal)
        response["Retry-After"] = str(retry_after)
        return response
    form = page.get_form(request.POST)
    if not form.is_valid():
        return page.render_page(request, form, status=400)
    provider = challenge.get_challenge()
    if provider is not None:
        # Checked before anything is stored, so the answer says nothing about the address.
        refusal = challenge.check(page, request, request.POST.get(provider.response_field, ""))
        if refusal is not None:
            response = page.render_page(
                request, form, status=refusal.status, refusal=refusal.detail, challenge_required=True
            )
            if refusal.retry_after:
                response["Retry-After"] = str(refusal.retry_after)
            return response
    if not form.is_bot:
        try:
            page.process_signature(form, request)
        except SigningRefused as refused:  # closed between the check above and now
            return page.render_page(request, form, status=403, refusal=str(refused))
    # The same answer whether or not this address had signed before.
    return HttpResponseRedirect(page.get_signed_url())


def serve_confirm(page, request):
    """The confirm page (GET) and its button (POST): what will be stored, the signer's changes, the verification.

    A GET shows the pending signature as it will be stored and published, in a form the signer
    may correct; it changes nothing (mail scanners prefetch links). The POST verifies once
    however often the button is pressed; the changes it carries are written by the same
    conditional UPDATE, so only while the signature is pending (``signing.verify_signature``).
    A POST without the form (``review``; an older confirm page) verifies the signature as it stands.
    """
    source = request.POST if request.method == "POST" else request.GET
    token = source.get("token", "")
    refusal = page.refuse_token(request, token)
    if refusal is not None:
        return refusal
    if request.method != "POST":
        return _private(_confirm_page(page, request, token))
    changes = None
    if "review" in request.POST:  # the confirm page's form, reviewed by the signer
        form = ConfirmForm(request.POST, page=page)
        if not form.is_valid():
            return _private(page.render_landing(request, "confirm", status=400, token=token, form=form))
        changes = form.changes()
    verification = verify(page, token, changes)
    if verification.result == VerifyResult.INVALID:
        return page.render_landing(request, "invalid", status=400)
    # The token's holder (the inbox's owner) gets the link to manage the signature from now on.
    manage_url = manage_links.path_for_verification(page, verification)
    # The thank-you page carries that signer's manage link: never cached either (the process keeps
    # a copy without it: cms.landing_copies).
    already = verification.result == VerifyResult.ALREADY
    return _private(landing_copies.render_confirmed(page, request, already=already, manage_url=manage_url))


def _confirm_page(page, request, token):
    Signature = get_signature_model()
    signature = Signature.objects.filter(pk=read_token(token, page.canonical_id), petition_id=page.canonical_id).first()
    if signature is None or signature.status in (Signature.Status.INVALIDATED, Signature.Status.FRAUDULENT):
        return page.render_landing(request, "invalid", status=400)
    if signature.status != Signature.Status.PENDING:
        return landing_copies.render_confirmed(page, request, already=True)
    form = ConfirmForm(page=page, signature=signature)
    return page.render_landing(request, "confirm", token=token, form=form, signature=signature)


def _private(response):
    """The confirm page shows one signer's data: never cached, by us or anyone between (no-store, private)."""
    add_never_cache_headers(response)
    return response
