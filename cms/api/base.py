"""What every endpoint of the JSON API shares: the NinjaAPI, its error answers, and helpers.

``public`` (petitions, count, sign, confirm) and ``leads`` (the export and
delivery status, behind a token) add their routers to ``api``; ``osdi``
answers the same data in OSDI's shape; ``cms.api.urls`` mounts them all.
"""

import json
from datetime import timedelta

from django import forms
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from ninja import NinjaAPI, Path, Query, Router
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from pydantic import ValidationError as PydanticValidationError
from wagtail.models import Page

from .. import challenge, outage, ratelimit
from ..conf import get_setting, get_signature_model
from ..forms import FEED_CHOICE_REQUIRED
from ..models import PetitionMixin
from ..origin import origin_allowed
from ..signing import SigningRefused
from ..translations import in_requested_language
from . import schemas
from .cors import with_cors

#: Page ids are 32-bit integers; larger ones are a 400, not a database error.
MAX_ID = 2**31 - 1
CURSOR_SALT = "petitions.export-cursor"
REFUSED_ORIGIN = _("Signatures are not accepted from this origin: ask the site to add it to its allowed origins.")
STATUS_CODES = {400: "invalid", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}
RICH_TEXT_FORMAT = Query(None, description="How rich text is given (Wagtail's formats); the site's default if absent.")
#: Answers every operation can give besides its own (503: the database or Redis is down, with Retry-After).
COMMON_ERRORS = {400: schemas.FieldErrors, 404: schemas.Error, 503: schemas.Error}
#: Every answer a sign request can get, here and through the OSDI helper.
SIGN_RESPONSES = {
    202: schemas.Accepted,
    **COMMON_ERRORS,
    **dict.fromkeys((403, 409, 410, 415, 429), schemas.Error),
}


class PetitionsAPI(NinjaAPI):
    """A NinjaAPI whose every view answers CORS preflights, grants allowed origins and speaks the
    language the client asks for (``Accept-Language``; ``cms.translations.in_requested_language``)."""

    def _get_urls(self):  # ninja 1.7: every URL pattern of the API, docs and schema included
        patterns = super()._get_urls()
        for pattern in patterns:
            pattern.callback = with_cors(in_requested_language(pattern.callback))
        return patterns


api = PetitionsAPI(
    title="Petitions API",
    version="1.1.0",  # docs/api.md, "Versioning": semantic, announced in the changelog
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
#: One router for the public and the leads' operations: two that share a path
#: (GET and POST of a petition's signatures) must live in one router.
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
    return error_response(request, 404, "not_found", gettext("No such petition."))


@api.exception_handler(AuthenticationError)
def _unauthorized(request, exc):
    detail = gettext("A Wagtail API token is required: Authorization: Bearer <token>.")
    return error_response(request, 401, "unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


@api.exception_handler(HttpError)
def _http_error(request, exc):
    return error_response(request, exc.status_code, STATUS_CODES.get(exc.status_code, "error"), str(exc))


@api.exception_handler(NinjaValidationError)
def _invalid(request, exc):
    errors = {}
    for error in exc.errors:
        location = [part for part in error.get("loc", ()) if isinstance(part, str)]
        errors.setdefault(location[-1] if location else "__all__", []).append(error.get("msg") or gettext("Invalid."))
    return error_response(request, 400, "invalid", gettext("The request is not valid."), errors)


# The database or Redis is down: a 503 with Retry-After in the API's shape (never ninja's traceback page).
for _error in outage.OUTAGE_ERRORS:
    api.add_exception_handler(_error, outage.unavailable_response)


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
    """Public data: a CDN may keep it briefly (per Origin, see cms.api.cors), and serve it stale (cms.outage)."""
    outage.patch_public_cache(response, max_age=get_setting("API_CACHE_SECONDS"))


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
                "help": str(field.help_text) or None,
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
        raise Refusal(403, "origin_refused", str(REFUSED_ORIGIN))


#: The sign form's words for a required field left out, where pydantic's "Field required" would say less.
MISSING = {"feed_display": FEED_CHOICE_REQUIRED}


def pydantic_errors(exc):
    errors = {}
    for error in exc.errors(include_url=False):
        location = [str(part) for part in error["loc"] if isinstance(part, str)]
        name = location[0] if location else "__all__"
        message = gettext(MISSING[name]) if error["type"] == "missing" and name in MISSING else error["msg"]
        errors.setdefault(name, []).append(message)
    return errors


def json_body(request, schema):
    """The request's JSON body validated by ``schema``; 415 or 400 otherwise."""
    if request.content_type != "application/json":
        raise Refusal(415, "unsupported_media_type", gettext("Send the body as application/json."))
    try:
        payload = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise Refusal(
            400, "invalid", gettext("The body is not valid JSON."), errors={"__all__": [gettext("Not valid JSON.")]}
        )
    try:
        return schema.model_validate(payload)
    except PydanticValidationError as exc:
        raise Refusal(400, "invalid", gettext("Please correct the fields named."), errors=pydantic_errors(exc))


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
        detail = ratelimit.refusal_message(retry_after)
        raise Refusal(429, "rate_limited", detail, headers={"Retry-After": str(retry_after)})


def store_signature(request, page, fields: dict, *, source: str = "", challenge_token=None, challenged=True):
    """Validate with the page's form, pass the challenge, and store through its ``process_signature``.

    Raises Refusal (400) for invalid fields or a challenge not passed (503
    when the provider cannot answer and the site fails closed);
    ``challenged=False`` skips the challenge (a lead's server-to-server call).
    The caller answers 202 whether the address was new, already pending,
    already verified, or a bot filled in the honeypot: nothing tells them apart.
    """
    form = page.get_form({name: value for name, value in fields.items() if value is not None})
    if not form.is_valid():
        errors = {field: [e["message"] for e in messages] for field, messages in form.errors.get_json_data().items()}
        raise Refusal(400, "invalid", gettext("Please correct the fields named."), errors=errors)
    if challenged:
        refusal = challenge.check(page, request, challenge_token or "")
        if refusal is not None:
            detail = str(refusal.detail)  # translated in the request's language
            raise Refusal(
                refusal.status,
                refusal.code,
                detail,
                errors={"challenge_token": [detail]} if refusal.status == 400 else None,
                headers={"Retry-After": str(refusal.retry_after)} if refusal.retry_after else None,
            )
    if form.is_bot:
        return
    record_source(request, source)
    try:
        page.process_signature(form, request)
    except SigningRefused:  # closed between the check in admit() and now
        raise refusal_for(page, page.signing_status())


def response_descriptions(descriptions):
    """OpenAPI descriptions of an operation's answers, {status: words}: what each error status means here."""
    return {"responses": {status: {"description": words} for status, words in descriptions.items()}}


#: What the sign endpoints' error answers mean (their bodies: schemas.Error, FieldErrors for 400).
SIGN_ERRORS = {
    400: "`invalid`: the fields named in `errors`; `challenge_required` or `challenge_failed`: the challenge.",
    403: "`origin_refused`: a browser page on an origin the site does not allow.",
    404: "`not_found`: no live petition with this id.",
    409: "`not_open`: the petition does not accept signatures yet.",
    410: "`closed`: the petition no longer accepts signatures.",
    415: "`unsupported_media_type`: the body is not `application/json`.",
    429: "`rate_limited`: too many signatures from one address; see `Retry-After`.",
    503: "`unavailable` (database or Redis down) or `challenge_unavailable`; see `Retry-After`.",
}


def response_links(status, **links):
    """OpenAPI ``links`` from one answer to the operations it leads to: {name: (operation id, id's source)}.

    They say where a client goes next (list → detail → count); schemathesis's stateful phase follows them.
    """
    return {
        "responses": {
            status: {  # an int, as ninja keys its responses, so the two merge
                "links": {
                    name: {"operationId": operation_id, "parameters": {"id": source}}
                    for name, (operation_id, source) in links.items()
                }
            }
        }
    }


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


def accepted():
    """The 202 answer to a signature, in the request's language."""
    return {
        "status": "accepted",
        "detail": gettext("Thank you! Please check your email and click the link to confirm your signature."),
    }


SIGNATURE_BODY = {
    "required": True,
    "content": {"application/json": {"schema": inline_schema(schemas.SignatureIn)}},
}


def verified_signatures(page):
    """The petition's verified signatures, oldest first, up to RECONCILE_LAG seconds ago.

    A verification still committing may carry an earlier ``verified_at``
    than one already visible; stopping short of "now" keeps a cursor from
    stepping over it (the reconcile task counts the same way).
    """
    Signature = get_signature_model()
    until = timezone.now() - timedelta(seconds=get_setting("RECONCILE_LAG"))
    return Signature.objects.filter(
        petition_id=page.canonical_id, status=Signature.Status.VERIFIED, verified_at__lte=until
    ).order_by("verified_at", "pk")
