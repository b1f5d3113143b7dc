"""The shapes of the JSON API's requests and answers (they make its OpenAPI schema)."""

from datetime import datetime
from typing import Annotated, Any, Literal

from django_countries import countries
from ninja import Schema
from pydantic import BaseModel, ConfigDict, Field

FeedDisplay = Literal["first", "first_initial", "hidden"]
#: The codes the sign form's country field accepts (``cms.forms.country_choices``: django-countries,
#: after the host's COUNTRIES_ONLY / COUNTRIES_OVERRIDE), and "" for none given, as the form takes it.
CountryCode = Literal[("", *sorted(countries.countries))]


#: Text the sign form takes: Django's form fields refuse NUL characters, so the schema does too.
Text = Annotated[str, Field(pattern=r"^[^\x00]*$")]
#: A name the form keeps: it strips spaces, and a name of spaces alone is no name.
Name = Annotated[str, Field(pattern=r"^[^\x00]*[^\s\x00][^\x00]*$")]


class Body(BaseModel):
    """A request body's shape: a plain pydantic model, not ninja's ``Schema``.

    ``Schema`` reads objects by attribute (it serialises model instances), so a
    nested model whose fields all have defaults would take a list or a string
    for an object. Bodies must refuse what their OpenAPI schema refuses.
    Strict: a boolean is ``true`` or ``false``, never ``"yes"`` or ``1``, as the schema says. Unknown
    properties are ignored, and the schema says so (``additionalProperties: true``).
    """

    model_config = ConfigDict(strict=True, extra="ignore", json_schema_extra={"additionalProperties": True})


class Error(Schema):
    detail: str = Field(description="What went wrong, for people.")
    code: str = Field(description="What went wrong, for programs.")


class FieldErrors(Error):
    errors: dict[str, list[str]] = Field(description="Messages per field; `__all__` for the body as a whole.")


class Count(Schema):
    id: int
    count: int = Field(description="Verified signatures, from the cache, plus those collected on paper.")
    goal: int


class PetitionLinks(Schema):
    page: str | None = Field(description="The petition's own page.")
    detail: str
    count: str = Field(description="The cheap count endpoint, for polling.")
    signatures: str = Field(description="POST a signature here.")


class PetitionSummary(Schema):
    id: int
    title: str
    url: str | None = Field(description="The petition page's full URL.")
    count: int
    goal: int
    opens_at: datetime | None
    closes_at: datetime | None
    accepting_signatures: bool
    links: PetitionLinks


class PetitionList(Schema):
    count: int = Field(description="Live petitions in all.")
    next: str | None
    previous: str | None
    items: list[PetitionSummary]


class CountryCount(Schema):
    country: str | None = Field(description="ISO 3166-1 alpha-2 code; null for signers who gave none.")
    name: str
    count: int


class Signer(Schema):
    name: str = Field(description='As the signer allowed: "Ada" or "Ada L."')
    place: str = Field(description="Their country, when the petition shows places and they gave one.")
    signed_at: datetime


class Choice(Schema):
    value: str
    label: str


class FormField(Schema):
    name: str
    label: str
    type: Literal["text", "email", "choice", "boolean"]
    required: bool
    max_length: int | None = None
    choices: list[Choice] | None = None
    initial: str | bool | None = Field(
        None, description="The value to start with; none for `feed_display`, which the signer must pick."
    )
    help: str | None = Field(None, description="Text to show with the field (the officials box: what they receive).")


class Challenge(Schema):
    provider: str = Field(description='"turnstile", "hcaptcha", or the name of a site\'s own provider.')
    site_key: str = Field(description="The widget's site key.")
    script: str = Field(description="The provider's script that renders the widget.")
    action: str = Field(description="The action to give the widget (Turnstile's `action`).")
    mode: Literal["always", "threshold"] = Field(
        description="`always`: every signature needs a token; `threshold`: only once the sign endpoint answers "
        "`challenge_required` (while the petition is signed fast)."
    )


class PetitionDetail(PetitionSummary):
    intro: str
    refusal: str = Field(description="Why the petition does not accept signatures now; empty while it does.")
    offline_count: int = Field(
        description="Signatures collected on paper, entered by the campaign (included in `count`).", ge=0
    )
    countries: list[CountryCount] = Field(description="Verified signatures per country, as of the last recount.")
    recent_signers: list[Signer]
    consent_wording: str
    texts: dict[str, str] = Field(
        description="The embeddable widget's interface texts, in the request's language (`%(…)s`: placeholders)."
    )
    privacy_url: str = Field(description="The privacy notice for signers, to link next to the form.")
    form: list[FormField] = Field(description="The fields the sign endpoint takes for this petition.")
    challenge: Challenge | None = Field(
        None, description="The challenge (CAPTCHA) signers may have to pass; null when the site has none."
    )
    body: list[dict[str, Any]] = Field(
        description="The page's blocks as Wagtail's API represents them, with live values on the counter and feed."
    )


class SignatureIn(Body):
    """A signature: the sign form's fields. Fields a petition does not ask for are ignored."""

    first_name: Name = Field(min_length=1, max_length=100)
    email: Text = Field(
        max_length=254,
        description="Where the confirmation link is sent. Never shown anywhere.",
        json_schema_extra={"format": "email"},
    )
    last_name: Text | None = Field(None, max_length=100)
    country: CountryCode | None = Field(None, description='ISO 3166-1 alpha-2 code, e.g. GB; "" or null: none.')
    postcode: Text | None = Field(None, max_length=20)
    feed_display: FeedDisplay = Field(
        description="How the public feed names the signer, or `hidden`: required, the signer must pick (no default)."
    )
    share_with_officials: bool = Field(
        False, description="Consent to be named in deliveries to the officials (name, country, date signed)."
    )
    share_postcode_with_officials: bool = Field(
        False, description="Consent to pass the postcode on as well; counts only with `share_with_officials`."
    )
    opt_in_updates: bool = False
    website: Text | None = Field(None, max_length=200, description="A honeypot: leave it out or empty.")
    source: str | None = Field(None, description="Where the signature came from (at most 64 characters).")
    challenge_token: str | None = Field(
        None,
        max_length=8192,
        description="The token the challenge widget gave (see the petition's `challenge`), when one is required.",
    )


class Accepted(Schema):
    status: Literal["accepted"]
    detail: str


class ConfirmChanges(Body):
    """The signer's corrections, made before confirming; fields left out keep what was signed."""

    model_config = ConfigDict(strict=True, extra="forbid", json_schema_extra={"additionalProperties": False})

    first_name: Name | None = Field(None, min_length=1, max_length=100)
    last_name: Text | None = Field(None, max_length=100)
    country: CountryCode | None = None
    postcode: Text | None = Field(None, max_length=20)
    feed_display: FeedDisplay | None = None
    share_with_officials: bool | None = None
    share_postcode_with_officials: bool | None = None
    opt_in_updates: bool | None = None


class ConfirmIn(Body):
    token: str = Field(description="The token from the emailed link (its `token` query parameter).")
    petition_id: int | None = Field(None, description="Optional: the token names its petition.")
    changes: ConfirmChanges | None = Field(
        None,
        description="Optional corrections, applied with the confirmation and only while the signature is pending.",
    )


class Confirmed(Schema):
    status: Literal["verified", "already_verified"]
    petition_id: int
    detail: str
    #: The signer's own link to change or withdraw the signature (only the token's holder gets it).
    manage_url: str | None = None


class ExportedSignature(Schema):
    id: int
    petition_id: int
    first_name: str
    last_name: str
    country: str | None
    verified_at: datetime
    share_with_officials: bool = Field(description="The signer consents to be named in deliveries.")
    source: str


class SignatureExport(Schema):
    items: list[ExportedSignature]
    has_more: bool
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page, or later for signatures verified since; null if none yet."
    )
    next: str | None


class DeliveryRecipient(Schema):
    name: str
    status: str = Field(description="What the ESP said: pending, sent, queued, scheduled, rejected, invalid, failed.")
    attempts: int
    sent_at: datetime | None
    error: str = Field(description="The last error, with any address in it masked.")


class Delivery(Schema):
    id: int
    status: Literal["preparing", "ready", "sending", "sent", "partial"]
    trigger: Literal["manual", "goal", "step"]
    created_at: datetime
    sent_at: datetime | None
    total: int = Field(description="Signatures delivered: verified online ones plus those collected on paper.")
    offline_total: int = Field(description="Of `total`, the signatures collected on paper.", ge=0)
    counted_until: datetime
    include_list: bool = Field(description="Whether the consenting signers' list went with it.")
    recipients: list[DeliveryRecipient]


class DeliveryList(Schema):
    items: list[Delivery]
