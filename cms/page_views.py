"""What a petition page does with a POST: sign, and confirm.

The page's routes call these (``PetitionMixin.serve_sign`` and
``serve_confirm``, which hosts may override), as do the plugin's sign and
confirm endpoints in ``cms.views``. They take the page object and never
import models, so the models can call them without an import circle.
"""

from django.http import HttpResponseRedirect

from . import challenge, manage_links, ratelimit
from .signing import SigningRefused, VerifyResult, verify_signature


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
    """Verify the signature the posted token names, once however often the button is pressed."""
    token = request.POST.get("token", "")
    refusal = page.refuse_token(request, token)
    if refusal is not None:
        return refusal
    result = verify_signature(page, token)
    if result == VerifyResult.INVALID:
        return page.render_landing(request, "invalid", status=400)
    # The token's holder (the inbox's owner) gets the link to manage the signature from now on.
    manage_url = manage_links.path_for_confirm_token(page, token)
    return page.render_landing(request, "confirmed", already=result == VerifyResult.ALREADY, manage_url=manage_url)
