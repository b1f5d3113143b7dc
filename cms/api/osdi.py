"""Petitions and signatures in the Open Supporter Data Interface (OSDI) shape, for CRMs.

HAL+JSON resources after https://opensupporter.github.io/osdi-docs/ at
``/api/osdi/v1/``: the API entry point, ``osdi:petitions`` (public),
``osdi:signatures`` of a petition (campaign leads' tokens only, sent as
``OSDI-API-Token`` or ``Authorization: Bearer``) and the record signature
helper (a POST with the same rules as the JSON sign endpoint).

What OSDI would put on a person but the plugin never gives out: email
addresses, phone numbers, postal addresses beyond the country. A signature
recorded through the helper is pending until its owner confirms the emailed
link, like every other.
"""

from datetime import datetime
from typing import Literal

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.html import escape
from django.utils.translation import gettext
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict, field_validator
from wagtail.models import Page
from wagtail.rich_text import expand_db_html

from ..models import PetitionMixin, live_counts
from . import schemas
from .auth import LeadTokenAuth, lead_petition, lifts_rate_limit
from .base import (
    COMMON_ERRORS,
    MAX_ID,
    SIGN_ERRORS,
    SIGN_RESPONSES,
    absolute,
    accepted,
    admit,
    check_origin,
    get_petition,
    inline_schema,
    json_body,
    petition_id_param,
    response_descriptions,
    store_signature,
    verified_signatures,
)

ORIGIN_SYSTEM = "Wagtail petitions"
IDENTIFIER_PREFIX = "wagtail_petitions"
OSDI_DOCS = "https://opensupporter.github.io/osdi-docs/{rel}"

router = Router(tags=["OSDI"])


class HalSchema(Schema):
    model_config = ConfigDict(populate_by_name=True)


class Link(HalSchema):
    href: str
    title: str | None = None
    templated: bool | None = None


class Curie(HalSchema):
    name: str
    href: str
    templated: bool


class EntryPointLinks(HalSchema):
    self_: Link = Field(alias="self")
    petitions: Link = Field(alias="osdi:petitions")
    curies: list[Curie]


class EntryPoint(HalSchema):
    motd: str
    vendor_name: str
    product_name: str
    osdi_version: str
    max_pagesize: int
    namespace: str
    links: EntryPointLinks = Field(alias="_links")


class Target(HalSchema):
    name: str
    title: str
    organization: str


class OsdiPetitionLinks(HalSchema):
    self_: Link = Field(alias="self")
    signatures: Link = Field(alias="osdi:signatures")
    record_signature_helper: Link = Field(alias="osdi:record_signature_helper")


class OsdiPetition(HalSchema):
    identifiers: list[str]
    origin_system: str
    created_date: datetime | None
    modified_date: datetime | None
    title: str
    description: str
    petition_text: str = Field(description="The open letter, as HTML.")
    browser_url: str | None
    total_signatures: int
    target: list[Target]
    links: OsdiPetitionLinks = Field(alias="_links")


class CollectionLinks(HalSchema):
    self_: Link = Field(alias="self")
    next: Link | None = None
    prev: Link | None = None


class PetitionCollectionLinks(CollectionLinks):
    petitions: list[Link] = Field(alias="osdi:petitions")


class PetitionsEmbedded(HalSchema):
    petitions: list[OsdiPetition] = Field(alias="osdi:petitions")


class PetitionCollection(HalSchema):
    total_pages: int
    per_page: int
    page: int
    total_records: int
    links: PetitionCollectionLinks = Field(alias="_links")
    embedded: PetitionsEmbedded = Field(alias="_embedded")


class PostalAddress(HalSchema):
    country: str
    primary: bool = True


class Person(HalSchema):
    given_name: str
    family_name: str
    postal_addresses: list[PostalAddress]


class SignatureEmbedded(HalSchema):
    person: Person = Field(alias="osdi:person")


class SignatureLinks(HalSchema):
    petition: Link = Field(alias="osdi:petition")


class ReferrerData(HalSchema):
    source: str


class SignatureCustomFields(HalSchema):
    share_with_officials: bool = Field(description="The signer consents to be named in deliveries.")


class OsdiSignature(HalSchema):
    identifiers: list[str]
    origin_system: str
    created_date: datetime
    modified_date: datetime
    referrer_data: ReferrerData
    custom_fields: SignatureCustomFields
    embedded: SignatureEmbedded = Field(alias="_embedded")
    links: SignatureLinks = Field(alias="_links")


class SignatureCollectionLinks(CollectionLinks):
    petition: Link = Field(alias="osdi:petition")


class SignaturesEmbedded(HalSchema):
    signatures: list[OsdiSignature] = Field(alias="osdi:signatures")


class SignatureCollection(HalSchema):
    total_pages: int
    per_page: int
    page: int
    total_records: int
    links: SignatureCollectionLinks = Field(alias="_links")
    embedded: SignaturesEmbedded = Field(alias="_embedded")


# --- the record signature helper's body ------------------------------------------------------
# Plain pydantic models (schemas.Body): each object refuses a list or a string, as its schema does.
# Unknown properties are ignored and declared so: OSDI clients send more of a person than we keep.


class EmailAddressIn(schemas.Body):
    address: schemas.Text = Field(max_length=254, json_schema_extra={"format": "email"})
    primary: bool | None = None

    @field_validator("address")
    @classmethod
    def _an_address(cls, value):
        # Every address, not only the one the signature keeps: a body the schema refuses is refused.
        try:
            validate_email(value)
        except ValidationError:
            raise ValueError(gettext("Enter a valid email address.")) from None
        return value


class PostalAddressIn(schemas.Body):
    postal_code: schemas.Text | None = Field(None, max_length=20)
    country: schemas.CountryCode | None = Field(None, description='ISO 3166-1 alpha-2 code, e.g. GB; "" or null: none.')


class PersonIn(schemas.Body):
    given_name: schemas.Name = Field(min_length=1, max_length=100)
    family_name: schemas.Text | None = Field(None, max_length=100)
    email_addresses: list[EmailAddressIn] = Field(min_length=1)
    postal_addresses: list[PostalAddressIn] = Field(default_factory=list)


class ReferrerDataIn(schemas.Body):
    source: str | None = Field(None, max_length=64)


class SignatureCustomFieldsIn(schemas.Body):
    share_with_officials: bool = False
    share_postcode_with_officials: bool = False
    opt_in_updates: bool = False
    feed_display: Literal["first", "first_initial", "hidden"] | None = Field(
        None, description="How the feed names the signer; left out: not at all (they can choose when they confirm)."
    )


class RecordSignatureIn(schemas.Body):
    """OSDI's record signature helper: a person, and where they came from."""

    person: PersonIn
    referrer_data: ReferrerDataIn | None = None
    custom_fields: SignatureCustomFieldsIn | None = None
    add_tags: list[str] | None = Field(None, description="Accepted and ignored.")
    challenge_token: str | None = Field(
        None,
        max_length=8192,
        description="Without a lead's token: the challenge widget's token, when the site requires one.",
    )


RECORD_SIGNATURE_BODY = {
    "required": True,
    "content": {"application/json": {"schema": inline_schema(RecordSignatureIn)}},
}


# --- building resources -------------------------------------------------------------------


def link(href, title=None):
    return {"href": href, "title": title} if title else {"href": href}


def petition_text(page):
    """The letter blocks' text as HTML: salutation, body, sign-off."""
    parts = []
    for block in getattr(page, "body", None) or []:
        if block.block_type != "letter":
            continue
        value = block.value
        if value.salutation():
            parts.append(f"<p>{escape(value.salutation())}</p>")
        parts.append(expand_db_html(value["body"].source))
        if value.get("sign_off"):
            parts.append(f"<p>{escape(value['sign_off'])}<br>{escape(value.get('signatories') or '')}</p>")
    return "\n".join(parts)


def osdi_petition(request, page, count):
    return {
        "identifiers": [f"{IDENTIFIER_PREFIX}:{page.pk}"],
        "origin_system": ORIGIN_SYSTEM,
        "created_date": page.first_published_at,
        "modified_date": page.last_published_at or page.first_published_at,
        "title": page.title,
        "description": getattr(page, "intro", "") or "",
        "petition_text": petition_text(page),
        "browser_url": page.get_full_url(request),
        "total_signatures": count,
        "target": [
            {"name": official.name, "title": official.title, "organization": official.organisation}
            for official in page.get_officials()
        ],
        "_links": {
            "self": link(absolute(request, "osdi_petition", id=page.pk)),
            "osdi:signatures": link(absolute(request, "osdi_signatures", id=page.pk)),
            "osdi:record_signature_helper": link(absolute(request, "osdi_record_signature", id=page.pk)),
        },
    }


def page_links(url, page, per_page, total_pages):
    links = {"self": link(f"{url}?page={page}&per_page={per_page}")}
    if page < total_pages:
        links["next"] = link(f"{url}?page={page + 1}&per_page={per_page}")
    if page > 1:
        links["prev"] = link(f"{url}?page={min(page - 1, max(total_pages, 1))}&per_page={per_page}")
    return links


# --- endpoints -----------------------------------------------------------------------------

MAX_PAGESIZE = 100


@router.get("/", response=EntryPoint, by_alias=True, url_name="osdi_entry_point", operation_id="osdi_entry_point")
def entry_point(request):
    """The OSDI API entry point (AEP): where the petitions are."""
    return {
        "motd": "Petitions and their signatures, in the Open Supporter Data Interface shape.",
        "vendor_name": ORIGIN_SYSTEM,
        "product_name": "wagtail-petitions",
        "osdi_version": "1.0",
        "max_pagesize": MAX_PAGESIZE,
        "namespace": IDENTIFIER_PREFIX,
        "_links": {
            "self": link(absolute(request, "osdi_entry_point")),
            "osdi:petitions": link(absolute(request, "osdi_petitions"), "The live petitions"),
            "curies": [{"name": "osdi", "href": OSDI_DOCS, "templated": True}],
        },
    }


@router.get(
    "/petitions/",
    response={200: PetitionCollection, 400: schemas.FieldErrors},
    by_alias=True,
    url_name="osdi_petitions",
    operation_id="osdi_petitions",
    summary="osdi:petitions — the live petitions",
)
def petitions(
    request,
    page: int = Query(1, ge=1, le=MAX_ID),
    per_page: int = Query(25, ge=1, le=MAX_PAGESIZE),
):
    queryset = Page.objects.live().public().type(PetitionMixin).order_by("-first_published_at", "-pk")
    total = queryset.count()
    start = (page - 1) * per_page
    pages = list(queryset[start : start + per_page].specific()) if start < total else []
    counts = live_counts([p.canonical_id for p in pages])  # a translation: its petition's count
    resources = [osdi_petition(request, p, counts[p.canonical_id]) for p in pages]
    total_pages = -(-total // per_page)
    url = absolute(request, "osdi_petitions")
    return {
        "total_pages": total_pages,
        "per_page": per_page,
        "page": page,
        "total_records": total,
        "_links": {
            **page_links(url, page, per_page, total_pages),
            "osdi:petitions": [r["_links"]["self"] for r in resources],
        },
        "_embedded": {"osdi:petitions": resources},
    }


@router.get(
    "/petitions/{id}/",
    response={200: OsdiPetition, **COMMON_ERRORS},
    by_alias=True,
    url_name="osdi_petition",
    operation_id="osdi_petition",
    summary="An osdi:petition",
)
def petition(request, id: int = petition_id_param()):
    page = get_petition(id)
    return osdi_petition(request, page, page.get_signature_count())


def osdi_signature(request, row, petition_url):
    verified_at = row["verified_at"]
    return {
        "identifiers": [f"{IDENTIFIER_PREFIX}:signature-{row['id']}"],
        "origin_system": ORIGIN_SYSTEM,
        "created_date": row["created_at"],
        "modified_date": verified_at,
        "referrer_data": {"source": row["source"]},
        "custom_fields": {"share_with_officials": row["share_with_officials"]},
        "_embedded": {
            "osdi:person": {
                "given_name": row["first_name"],
                "family_name": row["last_name"],
                "postal_addresses": [{"country": row["country"], "primary": True}] if row["country"] else [],
            }
        },
        "_links": {"osdi:petition": link(petition_url)},
    }


@router.get(
    "/petitions/{id}/signatures/",
    response={200: SignatureCollection, **COMMON_ERRORS, 401: schemas.Error, 403: schemas.Error},
    by_alias=True,
    auth=LeadTokenAuth(),
    url_name="osdi_signatures",
    operation_id="osdi_signatures",
    summary="osdi:signatures — a petition's verified signatures (campaign leads)",
    description="Names, country, consent and source; never email addresses. Oldest first.",
)
def signatures(
    request,
    id: int = petition_id_param(),
    page: int = Query(1, ge=1, le=MAX_ID),
    per_page: int = Query(25, ge=1, le=MAX_PAGESIZE),
):
    petition = lead_petition(request, id, "read_signatures")
    queryset = verified_signatures(petition)
    total = queryset.count()
    start = (page - 1) * per_page
    fields = ("id", "first_name", "last_name", "country", "created_at", "verified_at", "share_with_officials", "source")
    rows = list(queryset.values(*fields)[start : start + per_page]) if start < total else []
    petition_url = absolute(request, "osdi_petition", id=petition.pk)
    total_pages = -(-total // per_page)
    return {
        "total_pages": total_pages,
        "per_page": per_page,
        "page": page,
        "total_records": total,
        "_links": {
            **page_links(absolute(request, "osdi_signatures", id=petition.pk), page, per_page, total_pages),
            "osdi:petition": link(petition_url),
        },
        "_embedded": {"osdi:signatures": [osdi_signature(request, row, petition_url) for row in rows]},
    }


@router.post(
    "/petitions/{id}/signatures/",
    response=SIGN_RESPONSES,
    url_name="osdi_record_signature",
    operation_id="osdi_record_signature",
    summary="osdi:record_signature_helper — sign on a person's behalf",
    description=(
        "The same rules and answers as `POST /api/petitions/{id}/signatures/`: the person gets the "
        "confirmation email, and the signature counts once they confirm. A token with the `record` scope, "
        "of a lead granted this petition's campaign, lifts the rate limit, for CRMs that push many "
        "signatures from one address, and the challenge (CAPTCHA) a site may require; any other token "
        "changes nothing: without one, send the widget's token as `challenge_token`."
    ),
    openapi_extra={"requestBody": RECORD_SIGNATURE_BODY, **response_descriptions(SIGN_ERRORS)},
)
def record_signature(request, id: int = petition_id_param()):
    check_origin(request)
    page = get_petition(id)
    # A lead's token with the record scope marks a CRM's server-to-server call: the person is not
    # there to solve a challenge, and the lead answers for what it sends. Other calls are challenged.
    anonymous = not lifts_rate_limit(request, page)
    admit(request, page, rate_limited=anonymous)
    body = json_body(request, RecordSignatureIn)
    person = body.person
    address = next((a for a in person.postal_addresses if a.country or a.postal_code), PostalAddressIn())
    custom = body.custom_fields or SignatureCustomFieldsIn()
    fields = {
        "first_name": person.given_name,
        "last_name": person.family_name,
        "email": next((e for e in person.email_addresses if e.primary), person.email_addresses[0]).address,
        "country": address.country,
        "postcode": address.postal_code,
        # A record made elsewhere: no pick sent publishes nothing; the confirm page lets the person pick.
        "feed_display": custom.feed_display or "hidden",
        "share_with_officials": custom.share_with_officials,
        "share_postcode_with_officials": custom.share_postcode_with_officials,
        "opt_in_updates": custom.opt_in_updates,
    }
    source = (body.referrer_data.source if body.referrer_data else None) or request.GET.get("source", "")
    store_signature(
        request, page, fields, source=source or "osdi", challenge_token=body.challenge_token, challenged=anonymous
    )
    return Status(202, accepted())
