"""The petitions JSON API: list, detail, count, sign, confirm, and the leads' export and delivery status.

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

import csv
import json
import re
from datetime import timedelta

from django import forms
from django.core import signing
from django.db.models import Q
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.dateparse import parse_datetime
from django_countries import countries
from ninja import NinjaAPI, Path, Query, Router, Status
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from pydantic import ValidationError as PydanticValidationError
from wagtail.api.rich_text import RichTextOutputFormat
from wagtail.models import Page

from .. import counters, ratelimit, services, views
from ..conf import get_setting
from ..models import PetitionCountryCount, PetitionMixin
from ..origin import origin_allowed
from ..tokens import SALT as TOKEN_SALT
from ..tokens import ExpiredToken, InvalidToken, read_token
from . import schemas
from .auth import LeadTokenAuth
from .cors import with_cors

#: Page ids are 32-bit integers; larger ones are a 400, not a database error.
MAX_ID = 2**31 - 1
CURSOR_SALT = "petitions.export-cursor"
REFUSED_ORIGIN = "Signatures are not accepted from this origin: ask the site to add it to its allowed origins."
STATUS_CODES = {400: "invalid", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}
RICH_TEXT_FORMAT = Query(None, description="How rich text is given (Wagtail's formats); the site's default if absent.")
#: Answers every operation can give besides its own.
COMMON_ERRORS = {400: schemas.FieldErrors, 404: schemas.Error}
#: Every answer a sign request can get, here and through the OSDI helper.
SIGN_RESPONSES = {
    202: schemas.Accepted,
    **COMMON_ERRORS,
    **dict.fromkeys((403, 409, 410, 415, 429), schemas.Error),
}


class PetitionsAPI(NinjaAPI):
    """A NinjaAPI whose every view answers CORS preflights and grants allowed origins."""

    def _get_urls(self):  # ninja 1.7: every URL pattern of the API, docs and schema included
        patterns = super()._get_urls()
        for pattern in patterns:
            pattern.callback = with_cors(pattern.callback)
        return patterns


api = PetitionsAPI(
    title="Petitions API",
    version="1.0.0",
    description=(
        "Show petitions and collect signatures from any front end. Signatures count once the signer "
        "confirms the emailed link. Browsers may call this API from the site's own origin and from "
        "the origins it allows; POSTs from other origins are refused. The leads' endpoints take a "
        "Wagtail API token (`Authorization: Bearer …`) of a user allowed to view signatures."
    ),
    # Nested in cms.urls (app_name "petitions"): ninja reverses its own views by the full name.
    urls_namespace="petitions:petitions_api",
    openapi_url="/openapi.json",
    docs_url="/docs/",
)
router = Router(tags=["petitions"])


class Refusal(Exception):
    """An answer other than success: a status, a code for programs, words for people."""

    def __init__(self, status, code, detail, *, errors=None, headers=None):
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail
        self.errors, self.headers = errors, headers or {}


def error_response(request, status, code, detail, errors=None, headers=None):
    body = {"detail": detail, "code": code}
    if errors is None and status == 400:
        errors = {"__all__": [detail]}  # every 400 names what to correct (schemas.FieldErrors)
    if errors is not None:
        body["errors"] = errors
    response = api.create_response(request, body, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


@api.exception_handler(Refusal)
def _refused(request, exc):
    return error_response(request, exc.status, exc.code, exc.detail, exc.errors, exc.headers)


@api.exception_handler(Http404)
def _not_found(request, exc):
    return error_response(request, 404, "not_found", "No such petition.")


@api.exception_handler(AuthenticationError)
def _unauthorized(request, exc):
    detail = "A Wagtail API token is required: Authorization: Bearer <token>."
    return error_response(request, 401, "unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


@api.exception_handler(HttpError)
def _http_error(request, exc):
    return error_response(request, exc.status_code, STATUS_CODES.get(exc.status_code, "error"), str(exc))


@api.exception_handler(NinjaValidationError)
def _invalid(request, exc):
    errors = {}
    for error in exc.errors:
        location = [part for part in error.get("loc", ()) if isinstance(part, str)]
        errors.setdefault(location[-1] if location else "__all__", []).append(error.get("msg", "Invalid."))
    return error_response(request, 400, "invalid", "The request is not valid.", errors)


# --- helpers ---------------------------------------------------------------------------


def petition_id_param(description="The petition page's id."):
    return Path(..., ge=1, le=MAX_ID, description=description)


def get_petition(petition_id, *, live=True):
    """The petition page with this id (live and public unless ``live=False``), or 404."""
    pages = Page.objects.live().public() if live else Page.objects.all()
    page = pages.filter(pk=petition_id).specific().first()
    if not isinstance(page, PetitionMixin):
        raise Http404("Not a petition")
    return page


def absolute(request, name, **kwargs):
    return request.build_absolute_uri(reverse(f"petitions:petitions_api:{name}", kwargs=kwargs))


def links(request, page):
    return {
        "page": page.get_full_url(request),
        "detail": absolute(request, "petition_detail", id=page.pk),
        "count": absolute(request, "petition_count", id=page.pk),
        "signatures": absolute(request, "sign", id=page.pk),
    }


def summary(request, page, count, goal):
    return {
        "id": page.pk,
        "title": page.title,
        "url": page.get_full_url(request),
        "count": count,
        "goal": goal,
        "opens_at": page.opens_at,
        "closes_at": page.closes_at,
        "accepting_signatures": bool(page.signing_status()),
        "links": links(request, page),
    }


def private(response):
    """Signers' names: never kept by a shared cache, nor on the lead's disk."""
    patch_cache_control(response, private=True, no_store=True)
    return response


def cacheable(response):
    """Public data: a CDN may keep it briefly (per Origin, see cms.api.cors)."""
    patch_cache_control(response, public=True, max_age=get_setting("API_CACHE_SECONDS"))


def describe_form(page):
    """The page's sign form as data: what a front end must ask, with the same limits."""
    fields = []
    for name, field in page.get_form().fields.items():
        if name == "website":  # the honeypot: front ends leave it out
            continue
        if isinstance(field, forms.BooleanField):
            kind = "boolean"
        elif isinstance(field, forms.EmailField):
            kind = "email"
        elif isinstance(field, forms.ChoiceField):
            kind = "choice"
        else:
            kind = "text"
        choices = None
        if kind == "choice":
            choices = [{"value": str(value), "label": str(label)} for value, label in field.choices]
        fields.append(
            {
                "name": name,
                "label": str(field.label or name.replace("_", " ").capitalize()),
                "type": kind,
                "required": field.required,
                "max_length": getattr(field, "max_length", None),
                "choices": choices,
                "initial": field.initial,
            }
        )
    return fields


def refusal_for(page, status):
    """409 before a petition opens, 410 once it has closed."""
    if page.opens_at and timezone.now() < page.opens_at:
        return Refusal(409, "not_open", status.message)
    return Refusal(410, "closed", status.message)


def check_origin(request):
    if not origin_allowed(request):
        raise Refusal(403, "origin_refused", REFUSED_ORIGIN)


def pydantic_errors(exc):
    errors = {}
    for error in exc.errors(include_url=False):
        location = [str(part) for part in error["loc"] if isinstance(part, str)]
        errors.setdefault(location[0] if location else "__all__", []).append(error["msg"])
    return errors


def json_body(request, schema):
    """The request's JSON body validated by ``schema``; 415 or 400 otherwise."""
    if request.content_type != "application/json":
        raise Refusal(415, "unsupported_media_type", "Send the body as application/json.")
    try:
        payload = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise Refusal(400, "invalid", "The body is not valid JSON.", errors={"__all__": ["Not valid JSON."]})
    try:
        return schema.model_validate(payload)
    except PydanticValidationError as exc:
        raise Refusal(400, "invalid", "Please correct the fields named.", errors=pydantic_errors(exc))


def record_source(request, source):
    """``process_signature`` reads the source from ``?source=``; a source sent in the body stands in for it."""
    if source:
        request.GET = request.GET.copy()
        request.GET["source"] = source


def admit(request, page, *, rate_limited=True):
    """Refuse a signature up front: the petition is not open, or the connection is over its rate limit.

    Like the sign form, every attempt counts towards the limit, valid or not.
    """
    status = page.signing_status()
    if not status:
        raise refusal_for(page, status)
    retry_after = ratelimit.hit(request, page) if rate_limited else None
    if retry_after:
        raise Refusal(
            429,
            "rate_limited",
            "Too many signatures have come from your connection. Please try again in a minute.",
            headers={"Retry-After": str(retry_after)},
        )


def store_signature(request, page, fields: dict, *, source: str = ""):
    """Validate with the page's form and store through its ``process_signature``.

    Raises Refusal (400) for invalid fields. The caller answers 202 whether
    the address was new, already pending, already verified, or a bot filled
    in the honeypot: nothing tells them apart.
    """
    form = page.get_form({name: value for name, value in fields.items() if value is not None})
    if not form.is_valid():
        errors = {field: [e["message"] for e in messages] for field, messages in form.errors.get_json_data().items()}
        raise Refusal(400, "invalid", "Please correct the fields named.", errors=errors)
    if form.is_bot:
        return
    record_source(request, source)
    try:
        page.process_signature(form, request)
    except services.SigningRefused:  # closed between the check in admit() and now
        raise refusal_for(page, page.signing_status())


def inline_schema(model):
    """A model's JSON schema with its ``$defs`` put in place, for an operation's request body.

    An OpenAPI document resolves ``#/…`` from its own root, so the
    ``#/$defs/…`` references pydantic writes would point nowhere.
    """
    schema = model.model_json_schema(by_alias=True)
    definitions = schema.pop("$defs", {})

    def inline(node):
        if isinstance(node, dict):
            if "$ref" in node and node["$ref"].startswith("#/$defs/"):
                return inline(definitions[node["$ref"].removeprefix("#/$defs/")])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    return inline(schema)


ACCEPTED = {
    "status": "accepted",
    "detail": "Thank you! Please check your email and click the link to confirm your signature.",
}

SIGNATURE_BODY = {
    "required": True,
    "content": {"application/json": {"schema": inline_schema(schemas.SignatureIn)}},
}


# --- public endpoints ----------------------------------------------------------------------


@router.get(
    "/petitions/",
    response={200: schemas.PetitionList, 400: schemas.FieldErrors},
    url_name="petition_list",
    operation_id="petitions_list",
    summary="Live petitions",
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
    values = counters.get_live_values([page.pk for page in pages])
    items = []
    for page in pages:
        count, goal = values[page.pk]
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
    response={200: schemas.PetitionDetail, **COMMON_ERRORS},
    url_name="petition_detail",
    operation_id="petitions_detail",
    summary="A petition, with its counts by country, recent signers, sign form and blocks",
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
    tallies = PetitionCountryCount.objects.filter(petition_id=page.pk, signature_count__gt=0).order_by(
        "-signature_count", "country"
    )
    body = getattr(page, "body", None)
    cacheable(response)
    return {
        **summary(request, page, count, goal),
        "intro": getattr(page, "intro", "") or "",
        "refusal": status.message,
        "countries": [
            {
                "country": tally.country or None,
                "name": (countries.name(tally.country) or tally.country) if tally.country else "Not given",
                "count": tally.signature_count,
            }
            for tally in tallies
        ],
        "recent_signers": [
            {"name": entry["name"], "place": entry.get("place", ""), "signed_at": entry["at"]}
            for entry in page.get_feed()
        ],
        "consent_wording": page.consent_wording,
        "form": describe_form(page),
        "body": []
        if body is None
        else body.stream_block.get_api_representation(body, {"request": request, "page": page}),
    }


@router.get(
    "/petitions/{id}/count.json",
    response={200: schemas.Count, 304: None, **COMMON_ERRORS},
    url_name="petition_count",
    operation_id="petitions_count",
    summary="The live count and goal, cheap enough to poll",
    description=(
        "Served from the cache with no database query. Answers carry a weak `ETag`; send it back as "
        "`If-None-Match` for a 304. `Cache-Control: public, max-age=2` lets a CDN absorb the polling."
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
        "not allow. `source` (query or body) records where the signature came from."
    ),
    openapi_extra={"requestBody": SIGNATURE_BODY},
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
    store_signature(request, page, signature.model_dump(exclude={"source"}), source=signature.source or source or "")
    return Status(202, ACCEPTED)


def invalid_token():
    detail = "This confirmation link is not valid."
    return Refusal(400, "invalid_token", detail, errors={"token": [detail]})


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
        "400 for a token that is not valid, 410 for an expired one."
    ),
)
def confirm(request, data: schemas.ConfirmIn):
    check_origin(request)
    petition_id = data.petition_id or token_petition_id(data.token)
    if not 1 <= petition_id <= MAX_ID:
        raise Http404("Not a petition")
    page = get_petition(petition_id)
    try:
        read_token(data.token, page.pk)
    except ExpiredToken:
        raise Refusal(410, "expired_token", "This confirmation link has expired. Please sign again.")
    except InvalidToken:
        raise invalid_token()
    result = services.verify_signature(page, data.token)
    if result == services.VerifyResult.INVALID:
        raise invalid_token()
    if result == services.VerifyResult.ALREADY:
        return {"status": "already_verified", "petition_id": page.pk, "detail": "You have already confirmed."}
    return {"status": "verified", "petition_id": page.pk, "detail": "Thank you, your signature is counted."}


# --- the leads' export --------------------------------------------------------------------

EXPORT_FIELDS = (
    "id",
    "petition_id",
    "first_name",
    "last_name",
    "country",
    "verified_at",
    "share_with_officials",
    "source",
)
LEAD_ERRORS = {**COMMON_ERRORS, 401: schemas.Error, 403: schemas.Error}


def verified_signatures(page):
    """The petition's verified signatures, oldest first, up to RECONCILE_LAG seconds ago.

    A verification still committing may carry an earlier ``verified_at``
    than one already visible; stopping short of "now" keeps a cursor from
    stepping over it (the reconcile task counts the same way).
    """
    Signature = page.get_signature_class()
    until = timezone.now() - timedelta(seconds=get_setting("RECONCILE_LAG"))
    return Signature.objects.filter(
        petition_id=page.pk, status=Signature.Status.VERIFIED, verified_at__lte=until
    ).order_by("verified_at", "pk")


def make_cursor(row):
    return signing.dumps([row["verified_at"].isoformat(), row["id"]], salt=CURSOR_SALT, compress=True)


def after_cursor(queryset, cursor):
    try:
        at, pk = signing.loads(cursor, salt=CURSOR_SALT)
        at = parse_datetime(at)
    except (signing.BadSignature, ValueError, TypeError):
        raise Refusal(400, "invalid", "The cursor is not valid.", errors={"cursor": ["Not a cursor from this API."]})
    if at is None or not isinstance(pk, int):
        raise Refusal(400, "invalid", "The cursor is not valid.", errors={"cursor": ["Not a cursor from this API."]})
    return queryset.filter(Q(verified_at__gt=at) | Q(verified_at=at, pk__gt=pk))


# The export shares its path with the sign endpoint (GET and POST), so it lives on the same router.
@router.get(
    "/petitions/{id}/signatures/",
    response={200: schemas.SignatureExport, **LEAD_ERRORS},
    auth=LeadTokenAuth(),
    tags=["campaign leads"],
    url_name="export_signatures",
    operation_id="petitions_signatures_export",
    summary="Verified signatures, a page at a time (for campaign leads)",
    description=(
        "Oldest first. Names, country, when verified, consent to be named in deliveries, and source: "
        "never email addresses. Follow `next` while `has_more`; keep `next_cursor` to fetch only newer "
        "signatures later."
    ),
)
def export_signatures(
    request,
    response: HttpResponse,
    id: int = petition_id_param(),
    cursor: str | None = Query(None, description="From a previous page's `next_cursor`."),
    limit: int = Query(100, ge=1, le=1000),
):
    private(response)
    page = get_petition(id, live=False)
    signatures = verified_signatures(page)
    if cursor:
        signatures = after_cursor(signatures, cursor)
    rows = list(signatures.values(*EXPORT_FIELDS)[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = make_cursor(rows[-1]) if rows else cursor
    for row in rows:
        row["country"] = row["country"] or None
    return {
        "items": rows,
        "has_more": has_more,
        "next_cursor": next_cursor,
        "next": f"{absolute(request, 'export_signatures', id=page.pk)}?limit={limit}&cursor={next_cursor}"
        if has_more
        else None,
    }


ADDRESS = re.compile(r"[^\s<>\"']+@[^\s<>\"']+")


@router.get(
    "/petitions/{id}/deliveries/",
    response={200: schemas.DeliveryList, **LEAD_ERRORS},
    auth=LeadTokenAuth(),
    tags=["campaign leads"],
    url_name="deliveries",
    operation_id="petitions_deliveries",
    summary="Deliveries of the letter and each official's send status (for campaign leads)",
    description="Newest first. Needs the `view_delivery` permission too. Officials are named, never addressed.",
)
def deliveries(request, response: HttpResponse, id: int = petition_id_param()):
    from ..models import Delivery

    private(response)
    if not request.user.has_perm("petitions_cms.view_delivery"):
        raise HttpError(403, "This token's user may not view deliveries.")
    page = get_petition(id, live=False)
    rows = Delivery.objects.filter(petition_id=page.pk).prefetch_related("recipients").order_by("-created_at", "-pk")
    return {
        "items": [
            {
                "id": delivery.pk,
                "status": delivery.status,
                "trigger": delivery.trigger,
                "created_at": delivery.created_at,
                "sent_at": delivery.sent_at,
                "total": delivery.total,
                "counted_until": delivery.counted_until,
                "include_list": delivery.include_list,
                "recipients": [
                    {
                        "name": recipient.name,
                        "status": recipient.status,
                        "attempts": recipient.attempts,
                        "sent_at": recipient.sent_at,
                        "error": ADDRESS.sub("[address]", recipient.error),
                    }
                    for recipient in delivery.recipients.all()
                ],
            }
            for delivery in rows
        ]
    }


class _Echo:
    """A file-like object whose write returns the line, for streaming csv.writer output."""

    def write(self, value):
        return value


def spreadsheet_safe(value):
    """Keep a spreadsheet from running a name as a formula (=, +, -, @ at the start)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@router.get(
    "/petitions/{id}/signatures.csv",
    response=LEAD_ERRORS,
    auth=LeadTokenAuth(),
    tags=["campaign leads"],
    url_name="export_signatures_csv",
    operation_id="petitions_signatures_csv",
    summary="Every verified signature as CSV, streamed (for campaign leads)",
    openapi_extra={
        "responses": {
            "200": {
                "description": "CSV with a header row; the same columns as the JSON export.",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        }
    },
)
def export_signatures_csv(request, id: int = petition_id_param()):
    page = get_petition(id, live=False)
    rows = verified_signatures(page).values_list(*EXPORT_FIELDS).iterator(chunk_size=2000)
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(EXPORT_FIELDS)
        for row in rows:
            yield writer.writerow([spreadsheet_safe(value) for value in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="petition-{page.pk}-signatures.csv"'
    return private(response)


api.add_router("/", router)
