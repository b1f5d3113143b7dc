"""Factories for pages, officials and signatures (factories over fixtures)."""

import json

import factory
import wagtail_factories
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.utils import timezone
from wagtail.models import APIToken

from cms.models import CampaignGrant, CampaignIndexPage, Official, PetitionPage, Signature, TokenScopes, normalize_email


class OfficialFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Official

    name = "Antony Blinken"
    title = "Secretary"
    organisation = "U.S. Department of State"
    email = factory.Sequence(lambda n: f"official{n}@example.gov")


class CampaignIndexPageFactory(wagtail_factories.PageFactory):
    class Meta:
        model = CampaignIndexPage

    title = "Campaigns"


def petition_body(official_ids=(), feed_size=10):
    """A body with every petition block, like the reference page."""
    return json.dumps(
        [
            {"type": "text", "value": "<p>Campaign text.</p>"},
            {
                "type": "letter",
                "value": {
                    "greeting": "Dear",
                    "officials": list(official_ids),
                    "body": "<p>We, the undersigned, ask that you act.</p>",
                    "sign_off": "Sincerely,",
                    "signatories": "The undersigned",
                },
            },
            {"type": "sign_form", "value": {"heading": "Will you sign?", "text": "", "button_label": "Sign"}},
            {"type": "counter", "value": {"label": "people already signed", "goal": None, "show_progress": True}},
            {"type": "signer_feed", "value": {"heading": "Who's signing", "size": feed_size}},
            {"type": "share_links", "value": {"heading": "Share", "message": "", "networks": ["email", "x"]}},
        ]
    )


class PetitionPageFactory(wagtail_factories.PageFactory):
    class Meta:
        model = PetitionPage

    title = factory.Sequence(lambda n: f"Petition {n}")
    slug = factory.Sequence(lambda n: f"petition-{n}")
    goal = 100
    live = True
    body = factory.LazyFunction(petition_body)

    class Params:
        closed = factory.Trait(closes_at=factory.LazyFunction(lambda: timezone.now() - timezone.timedelta(hours=1)))
        not_yet_open = factory.Trait(opens_at=factory.LazyFunction(lambda: timezone.now() + timezone.timedelta(days=1)))


class SignatureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Signature

    first_name = factory.Sequence(lambda n: f"Signer{n}")
    last_name = "Example"
    email = factory.Sequence(lambda n: f"signer{n}@example.org")
    email_normalized = factory.LazyAttribute(lambda o: normalize_email(o.email))
    country = "GB"
    show_in_feed = True  # the signer's pick: the model has no default they did not choose
    email_requested_at = factory.LazyFunction(timezone.now)

    class Params:
        verified = factory.Trait(status=Signature.Status.VERIFIED, verified_at=factory.LazyFunction(timezone.now))


class LeadFactory(factory.django.DjangoModelFactory):
    """A campaign lead: in the "Campaign leads" group (what they may do), granted ``campaigns`` (where)."""

    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"lead{n}")
    password = factory.django.Password("not-used")

    @factory.post_generation
    def groups(self, create, extracted, **kwargs):
        for name in ("Campaign leads",) if extracted is None else extracted:
            self.groups.add(Group.objects.get(name=name))

    @factory.post_generation
    def campaigns(self, create, extracted, **kwargs):
        for campaign in extracted or ():
            CampaignGrant.objects.create(user=self, campaign=campaign)


def lead_token(user, *scopes, name="CRM"):
    """A Wagtail API token of ``user`` with our scopes (none given: every scope); returns the plaintext."""
    api_token, plaintext = APIToken.create_token(user=user, name=name)
    scopes = scopes or TokenScopes.NAMES
    TokenScopes.objects.create(token=api_token, **{name: name in scopes for name in TokenScopes.NAMES})
    return plaintext


def copy_rows(model, columns, rows):
    """Write ``rows`` (sequences in ``columns`` order) into ``model``'s table with PostgreSQL's COPY.

    Seeds 100k signatures in a second or two, where ``bulk_create`` takes ten times as long;
    for the tests at scale (``@pytest.mark.services``).
    """
    with (
        connection.cursor() as cursor,
        cursor.connection.cursor().copy(f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
