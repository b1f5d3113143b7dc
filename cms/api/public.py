"""The public side of the petitions JSON API: list, detail, count, sign, confirm.

Mounted by ``cms.urls`` at ``/api/`` with its OpenAPI schema at
``/api/openapi.json`` (interactive docs at ``/api/docs/``). Every answer
carries CORS headers for allowed origins only (``cms.api.cors``); the POSTs
also refuse other origins outright (``cms.origin``), so a third-party page
cannot make a visitor's browser sign or confirm.

The rules are the sign form's: the sign endpoint validates with the page's
form class, is rate-limited like the page (``cms.ratelimit``), stores
through the page's ``process_signature`` and answers the same 202 whether
or not the address had signed before.
"""

from django.core import signing
from django.http import Http404, HttpResponse
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext
from django_countries import countries
from ninja import Query, Status
from wagtail.api.rich_text import RichTextOutputFormat
from wagtail.models import Page

from .. import challenge, manage, views
from ..conf import get_signature_model
from ..forms import ConfirmForm
from ..models import PetitionCountryCount, PetitionMixin, PetitionStats, live_values
from ..signing import VerifyResult, verify
from ..tokens import SALT as TOKEN_SALT
from ..tokens import ExpiredToken, InvalidToken, read_token
from ..widget_texts import widget_texts
from . import conditional, schemas
from .base import (
    COMMON_ERRORS,
    MAX_ID,
    RICH_TEXT_FORMAT,
    SIGN_ERRORS,
    SIGN_RESPONSES,
    SIGNATURE_BODY,
    Refusal,
    absolute,
    accepted,
    admit,
    cacheable,
    check_origin,
    describe_form,
    get_petition,
    json_body,
    petition_id_param,
    response_descriptions,
    response_links,
    router,
    store_signature,
    summary,
)


@router.get(
    "/petitions/",
    response={200: schemas.PetitionList, 400: schemas.FieldErrors},
    url_name="petition_list",
    operation_id="petitions_list",
    summary="Live petitions",
    openapi_extra=response_links(200, detail=("petitions_detail", "$response.body#/items/0/id")),
)
def petition_list(
    request,
    response: HttpResponse,
    limit: int = Query(20, ge=1, le=100),
    offset: int = Query(0, ge=0, le=MAX_ID),
):
    petitions = Page.objects.live().public().type(PetitionMixin).order_by("-first_published_at", "-pk")
    total = petitions.count()
    pages = list(petitions[offset : offset + limit].specific())
    values = live_values([page.canonical_id for page in pages])  # a translation shows its petition's count
    items = []
    for page in pages:
        count, goal = values[page.canonical_id]
        items.append(summary(request, page, count, max(page.goal, goal or 0)))
    base = absolute(request, "petition_list")
    cacheable(response)
    return {
        "count": total,
        "next": f"{base}?limit={limit}&offset={offset + limit}" if offset + limit < total else None,
        "previous": f"{base}?limit={limit}&offset={max(0, offset - limit)}" if offset else None,
        "items": items,
    }


@router.get(
    "/petitions/{id}/",
    response={200: schemas.PetitionDetail, 304: None, **COMMON_ERRORS},
    url_name="petition_detail",
    operation_id="petitions_detail",
    summary="A petition, with its counts by country, recent signers, sign form and blocks",
    description=(
        "Answers carry a weak `ETag` (of the whole answer) and `Last-Modified` (the page's last publication "
        "or the newest signer shown, whichever is later). Send them back as `If-None-Match` or "
        "`If-Modified-Since` for a 304; `If-None-Match` wins when both are sent, and is exact: a signer "
        "who is not shown moves the count without moving `Last-Modified`."
    ),
    openapi_extra=conditional.with_validator_headers(
        response_links(
            200,
            count=("petitions_count", "$response.body#/id"),
            sign=("petitions_sign", "$response.body#/id"),
            osdi=("osdi_petition", "$response.body#/id"),
        )
    ),
)
def petition_detail(
    request,
    response: HttpResponse,
    id: int = petition_id_param(),
    rich_text_format: RichTextOutputFormat | None = RICH_TEXT_FORMAT,
):
    page = get_petition(id)
    count, goal = page.get_live_values()
    status = page.signing_status()
    tallies = PetitionCountryCount.objects.filter(petition_id=page.canonical_id, signature_count__gt=0).order_by(
        "-signature_count", "country"
    )
    body = getattr(page, "body", None)
    feed = page.get_feed()
    cacheable(response)
    data = {
        **summary(request, page, count, goal),
        "intro": getattr(page, "intro", "") or "",
        "refusal": status.message,
        "offline_count": PetitionStats.objects.filter(petition_id=page.canonical_id)
        .values_list("offline_count", flat=True)
        .first()
        or 0,
        "countries": [
            {
                "country": tally.country or None,
                "name": (countries.name(tally.country) or tally.country) if tally.country else gettext("Not given"),
                "count": tally.signature_count,
            }
            for tally in tallies
        ],
        "recent_signers": [
            {"name": entry["name"], "place": entry.get("place", ""), "signed_at": entry["at"]} for entry in feed
        ],
        "consent_wording": page.consent_wording,
        "texts": widget_texts(),
        "privacy_url": page.get_privacy_url(),
        "form": describe_form(page),
        "challenge": provider.describe() if (provider := challenge.get_challenge()) else None,
        "body": []
        if body is None
        else body.stream_block.get_api_representation(body, {"request": request, "page": page}),
    }
    etag, last_modified = conditional.content_etag(data), detail_last_modified(page, feed)
    if conditional.is_not_modified(request, etag, last_modified):
        return conditional.not_modified(response, etag, last_modified)
    conditional.set_validators(response, etag, last_modified)
    return data


def detail_last_modified(page, feed):
    """When the detail last changed, as far as is known without a query: the page's last
    publication, or the newest signer shown, whichever is later (None if neither is known)."""
    times = [page.last_published_at or page.first_published_at]
    if feed:
        at = feed[0]["at"]
        times.append(parse_datetime(at) if isinstance(at, str) else at)
    times = [time for time in times if time is not None]
    return max(times) if times else None


@router.get(
    "/petitions/{id}/count.json",
    response={200: schemas.Count, 304: None, **COMMON_ERRORS},
    url_name="petition_count",
    operation_id="petitions_count",
    summary="The live count and goal, cheap enough to poll",
    description=(
        "Served from the cache with no database query. Answers carry a weak `ETag`; send it back as "
        "`If-None-Match` for a 304. `Cache-Control: public, max-age=2` lets a CDN absorb the polling, and "
        "`stale-while-revalidate` and `stale-if-error` let it keep answering while the site is down."
    ),
)
def petition_count(request, id: int = petition_id_param()):
    # The plugin's plain view does the work: the same answer at the same URL, now with CORS.
    return views.count(request, id)


@router.post(
    "/petitions/{id}/signatures/",
    response=SIGN_RESPONSES,
    url_name="sign",
    operation_id="petitions_sign",
    summary="Sign a petition",
    description=(
        "The sign form's fields and rules as JSON. Answers 202 whether or not the address had signed "
        "before; the signature counts once its owner follows the emailed link. 400 names the fields to "
        "correct; 409 before the petition opens; 410 once it has closed; 429 (with `Retry-After`) when "
        "too many signatures came from one address; 403 for a browser page on an origin the site does "
        "not allow. `source` (query or body) records where the signature came from. When the site "
        "requires a challenge (the petition's `challenge`), send the widget's token as `challenge_token`: "
        "without one the answer is 400 `challenge_required`, with one the provider rejects 400 "
        "`challenge_failed` (render the widget again: tokens are single-use), and 503 "
        "`challenge_unavailable` (with `Retry-After`) when the provider cannot be reached and the site "
        "refuses signatures then. These are checked before anything is stored and say nothing about the "
        "address."
    ),
    openapi_extra={"requestBody": SIGNATURE_BODY, **response_descriptions(SIGN_ERRORS)},
)
def sign(
    request,
    id: int = petition_id_param(),
    source: str | None = Query(None, description="Where the signature came from, e.g. partner-x."),
):
    check_origin(request)
    page = get_petition(id)
    admit(request, page)
    signature = json_body(request, schemas.SignatureIn)
    store_signature(
        request,
        page,
        signature.model_dump(exclude={"source", "challenge_token"}),
        source=signature.source or source or "",
        challenge_token=signature.challenge_token,
    )
    return Status(202, accepted())


def invalid_token():
    detail = gettext("This confirmation link is not valid.")
    return Refusal(400, "invalid_token", detail, errors={"token": [detail]})


def confirm_changes(page, data):
    """The corrections sent with a confirmation, validated as the confirm page's form; None without any.

    Fields left out keep what the pending signature holds. A signature no longer pending gets
    None: ``verify_signature`` then only answers, and changes nothing.
    """
    sent = data.changes.model_dump(exclude_none=True) if data.changes else {}
    if not sent:
        return None
    Signature = get_signature_model()
    signature = Signature.objects.filter(
        pk=read_token(data.token, page.canonical_id), petition_id=page.canonical_id, status=Signature.Status.PENDING
    ).first()
    if signature is None:
        return None
    form = ConfirmForm({**ConfirmForm.initial_from(signature), **sent}, page=page)
    if not form.is_valid():
        errors = {field: [e["message"] for e in messages] for field, messages in form.errors.get_json_data().items()}
        raise Refusal(400, "invalid", gettext("Please correct the fields named."), errors=errors)
    return form.changes()


def token_petition_id(token):
    """The petition a verification token names (its signature is checked later), or 400."""
    try:
        _, petition_id = signing.loads(token, salt=TOKEN_SALT)
    except (signing.BadSignature, ValueError, TypeError):
        raise invalid_token()
    if not isinstance(petition_id, int) or not 1 <= petition_id <= MAX_ID:
        raise invalid_token()
    return petition_id


@router.post(
    "/signatures/confirm/",
    response={200: schemas.Confirmed, **COMMON_ERRORS, 403: schemas.Error, 410: schemas.Error},
    url_name="confirm",
    operation_id="signatures_confirm",
    summary="Confirm a signature with the token from its emailed link",
    description=(
        "For front ends that host their own confirm page. Confirming twice is harmless and says so. "
        "`changes` carries the signer's corrections (the confirm page's form: name, country, postcode, "
        "feed choice, consents); they are applied with the confirmation, only while the signature is "
        "pending: a confirmed signature is never changed here. 400 for a token that is not valid or "
        "changes that are not (naming the fields), 410 for an expired one."
    ),
    openapi_extra=response_descriptions(
        {
            400: "`invalid_token`: the token is not one this site signed for a signature (`errors.token`); "
            "`invalid`: the body or its `changes`, field by field.",
            403: "`origin_refused`: a browser page on an origin the site does not allow.",
            404: "`not_found`: the token's petition is not live.",
            410: "`expired_token`: the link has expired; sign again.",
            503: "`unavailable`: the database or Redis is down; see `Retry-After`.",
        }
    ),
)
def confirm(request, data: schemas.ConfirmIn):
    check_origin(request)
    petition_id = data.petition_id or token_petition_id(data.token)
    if not 1 <= petition_id <= MAX_ID:
        raise Http404("Not a petition")
    page = get_petition(petition_id)
    try:
        read_token(data.token, page.canonical_id)
    except ExpiredToken:
        raise Refusal(410, "expired_token", gettext("This confirmation link has expired. Please sign again."))
    except InvalidToken:
        raise invalid_token()
    changes = confirm_changes(page, data)
    verification = verify(page, data.token, changes)
    result = verification.result
    if result == VerifyResult.INVALID:
        raise invalid_token()
    path = manage.path_for_verification(page, verification)
    manage_url = request.build_absolute_uri(path) if path else None
    if result == VerifyResult.ALREADY:
        if data.changes:
            detail = gettext("You have already confirmed. Nothing was changed.")
        else:
            detail = gettext("You have already confirmed.")
        return {"status": "already_verified", "petition_id": page.pk, "detail": detail, "manage_url": manage_url}
    detail = gettext("Thank you, your signature is counted.")
    return {"status": "verified", "petition_id": page.pk, "detail": detail, "manage_url": manage_url}
