"""Fraud tools for campaign leads (issue 9, item 10), after e-petitions' ``Invalidation`` and blocked domains/IPs.

A signature from a flagged address, domain or network is quarantined when it is confirmed:
the signer sees exactly what any signer sees, and it is not counted. Leads release or
invalidate quarantined signatures, and invalidate in bulk by domain, IP network and time
window after a preview count; counts, country tallies and the feed follow at the next reconcile.
"""

import re
import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from cms import fraud, signing
from cms import reconcile as reconciling
from cms.models import FraudRule, Invalidation, PetitionCountryCount, PetitionStats, Signature, live_counts
from cms.permissions import can_review_fraud
from cms.tokens import make_token
from workers import tasks

from .conftest import confirm_url
from .factories import LeadFactory, PetitionPageFactory, SignatureFactory, copy_rows

pytestmark = pytest.mark.django_db


def user_in(django_user_model, username, group):
    user = django_user_model.objects.create_user(username, f"{username}@example.org", "password")
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def lead(index_page):
    return LeadFactory(username="lead", campaigns=[index_page])


@pytest.fixture
def editor(django_user_model):
    return user_in(django_user_model, "editor", "Editors")


def feed_names(petition):
    return [entry["name"] for entry in petition.get_feed()]


def country_tallies(petition):
    return dict(
        PetitionCountryCount.objects.filter(petition=petition, signature_count__gt=0).values_list(
            "country", "signature_count"
        )
    )


def confirm(client, petition, signature, capture):
    with capture(execute=True):
        return client.post(confirm_url(petition), {"token": make_token(signature)})


# --- quarantine --------------------------------------------------------------------------


FLAGS = {
    "email": ("email", "Mallory@Example.ORG", {"email": "mallory@example.org"}),
    "domain": ("domain", "spam.example", {"email": "mallory@spam.example"}),
    "subdomain": ("domain", "spam.example", {"email": "mallory@mx.spam.example"}),
    "ipv4 network": ("ip", "203.0.113.0/24", {"email": "mallory@example.org", "REMOTE_ADDR": "203.0.113.77"}),
    "ipv6 network": ("ip", "2001:db8::/32", {"email": "mallory@example.org", "REMOTE_ADDR": "2001:db8:5::1"}),
}


def without_manage_token(html):
    """The thank-you page links each signer to their own signature: the same link but for its token."""
    return re.sub(r"manage/\?token=[^\"]+", "manage/?token=TOKEN", html)


@pytest.mark.parametrize("flag", FLAGS, ids=list(FLAGS))
def test_a_flagged_signer_sees_what_any_signer_sees_and_is_not_counted(
    flag, petition, sign, client, mailoutbox, django_capture_on_commit_callbacks, reconcile
):
    kind, value, flagged_signer = FLAGS[flag]
    FraudRule.objects.create(kind=kind, value=value)

    answers = []
    for first_name, signer in (("Honest", {"email": "honest@example.org"}), ("Mallory", flagged_signer)):
        signed = sign(petition, first_name=first_name, **signer)
        signature = Signature.objects.get(first_name=first_name)
        first = confirm(client, petition, signature, django_capture_on_commit_callbacks)
        again = confirm(client, petition, signature, django_capture_on_commit_callbacks)
        answers.append(
            (
                signed.status_code,
                signed["Location"],
                first.status_code,
                without_manage_token(first.content.decode().replace(first_name, "NAME")),
                again.status_code,
                without_manage_token(again.content.decode().replace(first_name, "NAME")),
            )
        )

    assert answers[0] == answers[1]
    assert len(mailoutbox) == 2  # the flagged signer is emailed like anyone else
    assert Signature.objects.get(first_name="Mallory").status == Signature.Status.QUARANTINED
    reconcile()
    assert live_counts([petition.pk])[petition.pk] == 1
    assert feed_names(petition) == ["Honest"]
    assert PetitionStats.objects.get(petition=petition).signature_count == 1


def test_the_json_api_confirms_a_flagged_signer_as_it_confirms_anyone(petition, commit):
    FraudRule.objects.create(kind="domain", value="spam.example")
    honest = SignatureFactory(petition=petition, email="honest@example.org")
    flagged = SignatureFactory(petition=petition, email="mallory@spam.example")

    assert commit(signing.verify_signature, petition, make_token(honest)) == signing.VerifyResult.VERIFIED
    assert commit(signing.verify_signature, petition, make_token(flagged)) == signing.VerifyResult.VERIFIED
    assert commit(signing.verify_signature, petition, make_token(flagged)) == signing.VerifyResult.ALREADY
    flagged.refresh_from_db()
    assert flagged.status == Signature.Status.QUARANTINED


def test_the_client_address_is_stored_with_the_signature_for_fraud_review(petition, sign):
    sign(petition, REMOTE_ADDR="198.51.100.9")

    assert Signature.objects.get().ip_address == "198.51.100.9"


def test_the_json_api_stores_the_client_address_too(petition, client, django_capture_on_commit_callbacks):
    body = {"first_name": "Ada", "email": "ada@example.org", "feed_display": "hidden"}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/api/petitions/{petition.pk}/signatures/",
            body,
            content_type="application/json",
            REMOTE_ADDR="2001:db8::7",
        )

    assert response.status_code == 202, response.content
    assert Signature.objects.get().ip_address == "2001:db8::7"


def test_a_malformed_client_address_is_stored_as_none_not_an_error(petition, sign):
    response = sign(petition, REMOTE_ADDR="unknown")

    assert response.status_code == 302
    assert Signature.objects.get().ip_address is None


def test_a_rule_a_lead_adds_in_the_admin_quarantines_the_next_confirmation(petition, index_page, lead, client, commit):
    client.force_login(lead)
    response = client.post(
        reverse("wagtailsnippets_petitions_cms_fraudrule:add"),
        {"kind": "domain", "value": " Spam.Example ", "note": "A wave from one domain", "campaign": index_page.pk},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert FraudRule.objects.get().value == "spam.example"
    signature = SignatureFactory(petition=petition, email="x@spam.example")

    commit(signing.verify_signature, petition, make_token(signature))

    signature.refresh_from_db()
    assert signature.status == Signature.Status.QUARANTINED


def test_deleting_a_rule_stops_quarantining_at_once(petition, commit):
    rule = FraudRule.objects.create(kind="domain", value="spam.example")
    first = SignatureFactory(petition=petition, email="a@spam.example")
    commit(signing.verify_signature, petition, make_token(first))
    commit(rule.delete)
    second = SignatureFactory(petition=petition, email="b@spam.example")

    commit(signing.verify_signature, petition, make_token(second))

    assert Signature.objects.get(pk=first.pk).status == Signature.Status.QUARANTINED
    assert Signature.objects.get(pk=second.pk).status == Signature.Status.VERIFIED


@pytest.mark.parametrize(
    "kind, value",
    [("ip", "not-a-network"), ("domain", "someone@example.org"), ("email", "no-at-sign"), ("ip", "")],
)
def test_a_bad_rule_is_a_form_error_not_a_500(kind, value, lead, client):
    client.force_login(lead)

    response = client.post(reverse("wagtailsnippets_petitions_cms_fraudrule:add"), {"kind": kind, "value": value})

    assert response.status_code == 200  # Wagtail re-renders the form with the error
    assert "error" in response.content.decode().lower()
    assert not FraudRule.objects.exists()


def test_a_lead_releases_a_quarantined_signature_and_the_next_reconcile_counts_it(
    petition, lead, client, commit, reconcile
):
    FraudRule.objects.create(kind="domain", value="spam.example")
    released, kept = (SignatureFactory(petition=petition, email=f"{n}@spam.example", country="FR") for n in "ab")
    for signature in (released, kept):
        commit(signing.verify_signature, petition, make_token(signature))
    reconcile()
    assert live_counts([petition.pk])[petition.pk] == 0
    client.force_login(lead)

    listing = client.get(reverse("petitions_fraud:quarantine"))
    response = client.post(reverse("petitions_fraud:quarantine"), {"action": "release", "signatures": [released.pk]})

    assert listing.status_code == 200 and released.first_name in listing.content.decode()
    assert response.status_code == 302
    assert Signature.objects.get(pk=released.pk).status == Signature.Status.VERIFIED
    assert Signature.objects.get(pk=kept.pk).status == Signature.Status.QUARANTINED
    reconcile()
    assert live_counts([petition.pk])[petition.pk] == 1
    assert country_tallies(petition) == {"FR": 1}
    assert feed_names(petition) == [released.first_name]


def test_a_lead_invalidates_a_quarantined_signature_and_it_is_never_counted(petition, lead, client, commit, reconcile):
    FraudRule.objects.create(kind="email", value="a@spam.example")
    signature = SignatureFactory(petition=petition, email="a@spam.example")
    commit(signing.verify_signature, petition, make_token(signature))
    client.force_login(lead)

    client.post(reverse("petitions_fraud:quarantine"), {"action": "invalidate", "signatures": [signature.pk]})
    reconcile()

    assert Signature.objects.get(pk=signature.pk).status == Signature.Status.INVALIDATED
    assert live_counts([petition.pk])[petition.pk] == 0


def test_releasing_a_signature_that_is_not_quarantined_changes_nothing(petition, lead, client):
    pending = SignatureFactory(petition=petition)
    client.force_login(lead)

    client.post(reverse("petitions_fraud:quarantine"), {"action": "release", "signatures": [pending.pk]})

    assert Signature.objects.get(pk=pending.pk).status == Signature.Status.PENDING


# --- bulk invalidation -------------------------------------------------------------------


@pytest.fixture
def mixed_petition(index_page):
    """Twelve verified signers, counted: four from a spam domain on one network, four over IPv6, four honest."""
    petition = PetitionPageFactory(parent=index_page)
    old = timezone.now() - timedelta(days=2)
    for n in range(4):
        SignatureFactory(
            petition=petition, verified=True, first_name=f"Spam{n}", email=f"s{n}@spam.example",
            ip_address=f"203.0.113.{n + 1}", country="RU", created_at=old,
        )  # fmt: skip
        SignatureFactory(
            petition=petition, verified=True, first_name=f"Six{n}", email=f"v{n}@example.net",
            ip_address=f"2001:db8::{n + 1}", country="US",
        )  # fmt: skip
        SignatureFactory(
            petition=petition, verified=True, first_name=f"Honest{n}", email=f"h{n}@example.org",
            ip_address=f"198.51.100.{n + 1}", country="GB",
        )  # fmt: skip
    return petition


def invalidation_form(petition=None, **conditions):
    return {"petition": petition.pk if petition else "", "summary": "A bot wave", **conditions}


def create_and_preview(client, data):
    response = client.post(reverse("petitions_fraud:create"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    invalidation = Invalidation.objects.latest("pk")
    preview = client.get(reverse("petitions_fraud:detail", args=[invalidation.pk]))
    assert preview.status_code == 200
    return invalidation, preview


def start(client, invalidation, capture):
    with capture(execute=True):
        return client.post(reverse("petitions_fraud:start", args=[invalidation.pk]))


CONDITIONS = {
    "domain": ({"email_domain": "SPAM.example"}, 4, {"GB": 4, "US": 4}),
    "ipv4 range": ({"ip_network": "203.0.113.0/29"}, 4, {"GB": 4, "US": 4}),
    "ipv6 range": ({"ip_network": "2001:db8::/64"}, 4, {"GB": 4, "RU": 4}),
    "time window": ({"created_before": "past"}, 4, {"GB": 4, "US": 4}),
    "domain and range": ({"email_domain": "example.org", "ip_network": "198.51.100.0/30"}, 3, None),
}


@pytest.mark.parametrize("condition", CONDITIONS, ids=list(CONDITIONS))
def test_a_bulk_invalidation_invalidates_what_its_preview_counted_and_the_next_reconcile_corrects_counts(
    condition, mixed_petition, lead, client, reconcile, django_capture_on_commit_callbacks
):
    conditions, expected, tallies = CONDITIONS[condition]
    if conditions.get("created_before") == "past":
        conditions = {
            "created_before": timezone.localtime(timezone.now() - timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
        }
    reconcile()
    assert live_counts([mixed_petition.pk])[mixed_petition.pk] == 12
    client.force_login(lead)

    invalidation, preview = create_and_preview(client, invalidation_form(mixed_petition, **conditions))
    started = start(client, invalidation, django_capture_on_commit_callbacks)

    invalidation.refresh_from_db()
    assert preview.context["invalidation"].matching_count == expected
    assert f"{expected} signature" in preview.content.decode()
    assert started.status_code == 302
    assert invalidation.invalidated_count == expected
    assert invalidation.completed_at is not None and invalidation.created_by == lead
    assert Signature.objects.filter(status=Signature.Status.INVALIDATED).count() == expected
    reconcile()
    assert live_counts([mixed_petition.pk])[mixed_petition.pk] == 12 - expected
    assert PetitionStats.objects.get(petition=mixed_petition).signature_count == 12 - expected
    if tallies is not None:
        assert country_tallies(mixed_petition) == tallies
    counted = Signature.objects.filter(status=Signature.Status.VERIFIED).values_list("first_name", flat=True)
    assert sorted(feed_names(mixed_petition)) == sorted(counted)


def test_a_bulk_invalidation_of_a_campaign_reaches_every_petition_of_it(
    mixed_petition, index_page, lead, client, reconcile, django_capture_on_commit_callbacks
):
    other = PetitionPageFactory(parent=index_page)
    SignatureFactory(petition=other, verified=True, email="x@spam.example", country="RU")
    reconcile()
    client.force_login(lead)

    invalidation, _ = create_and_preview(client, invalidation_form(email_domain="spam.example", campaign=index_page.pk))
    start(client, invalidation, django_capture_on_commit_callbacks)
    reconcile()

    assert Invalidation.objects.get(pk=invalidation.pk).invalidated_count == 5
    assert live_counts([mixed_petition.pk, other.pk]) == {mixed_petition.pk: 8, other.pk: 0}


def test_running_the_invalidation_task_twice_changes_nothing_more(mixed_petition, lead, reconcile):
    reconcile()
    invalidation = Invalidation.objects.create(summary="Spam", email_domain="spam.example", created_by=lead)
    fraud.preview(invalidation)

    first = tasks.run_invalidation.delay(invalidation.pk).get()
    statuses = dict(Signature.objects.values_list("pk", "status"))
    second = tasks.run_invalidation.delay(invalidation.pk).get()

    invalidation.refresh_from_db()
    assert (first, second) == (4, 0)
    assert invalidation.invalidated_count == 4
    assert dict(Signature.objects.values_list("pk", "status")) == statuses
    reconcile()
    reconcile()
    assert PetitionStats.objects.get(petition=mixed_petition).signature_count == 8


def test_a_second_start_does_not_queue_the_invalidation_again(
    mixed_petition, lead, client, django_capture_on_commit_callbacks
):
    client.force_login(lead)
    invalidation, _ = create_and_preview(client, invalidation_form(mixed_petition, email_domain="spam.example"))
    start(client, invalidation, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = client.post(reverse("petitions_fraud:start", args=[invalidation.pk]))

    assert again.status_code == 302
    assert callbacks == []


@pytest.mark.parametrize(
    "conditions, message",
    [
        ({}, "at least one condition"),
        ({"ip_network": "300.1.2.3/8"}, "network"),
        ({"email_domain": "a@spam.example"}, "domain"),
        ({"created_after": "2026-02-01 00:00", "created_before": "2026-01-01 00:00"}, "after"),
        ({"created_after": "yesterday-ish"}, "valid date"),
    ],
)
def test_an_invalidation_without_a_valid_condition_is_a_clear_400(conditions, message, mixed_petition, lead, client):
    client.force_login(lead)

    response = client.post(reverse("petitions_fraud:create"), invalidation_form(mixed_petition, **conditions))

    assert response.status_code == 400
    assert message in response.content.decode().lower()
    assert not Invalidation.objects.exists()


def test_undoing_an_invalidation_restores_its_signatures_and_counts(
    mixed_petition, lead, client, reconcile, django_capture_on_commit_callbacks
):
    reconcile()
    client.force_login(lead)
    invalidation, _ = create_and_preview(client, invalidation_form(mixed_petition, email_domain="spam.example"))
    start(client, invalidation, django_capture_on_commit_callbacks)
    reconcile()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("petitions_fraud:restore", args=[invalidation.pk]))
    reconcile()

    assert response.status_code == 302
    assert not Signature.objects.filter(status=Signature.Status.INVALIDATED).exists()
    assert live_counts([mixed_petition.pk])[mixed_petition.pk] == 12
    assert country_tallies(mixed_petition) == {"GB": 4, "US": 4, "RU": 4}


def test_an_invalidation_on_a_petition_closed_long_ago_is_recounted_at_the_next_reconcile(
    index_page, lead, reconcile, django_capture_on_commit_callbacks
):
    petition = PetitionPageFactory(parent=index_page)
    SignatureFactory(petition=petition, verified=True, email="a@spam.example", country="RU")
    SignatureFactory(petition=petition, verified=True, email="b@example.org", country="GB")
    reconcile()
    type(petition).objects.filter(pk=petition.pk).update(closes_at=timezone.now() - timedelta(days=30))
    assert petition.pk not in reconciling.active_petition_ids()
    invalidation = Invalidation.objects.create(summary="Spam", petition=petition, email_domain="spam.example")
    fraud.preview(invalidation)

    fraud.run_invalidation(invalidation.pk)
    reconcile()

    assert PetitionStats.objects.get(petition=petition).signature_count == 1
    assert PetitionStats.objects.get(petition=petition).recount_requested_at is None
    assert country_tallies(petition) == {"GB": 1}


def test_a_status_a_lead_changes_on_a_signature_in_the_admin_is_recounted_at_the_next_reconcile(
    mixed_petition, lead, client, reconcile
):
    reconcile()
    signature = Signature.objects.get(first_name="Honest0")
    client.force_login(lead)

    response = client.post(
        reverse("petitions_signatures:edit", args=[signature.pk]),
        {"hidden_from_feed": "", "status": Signature.Status.INVALIDATED},
    )
    reconcile()

    assert response.status_code == 302
    assert live_counts([mixed_petition.pk])[mixed_petition.pk] == 11
    assert "Honest0" not in feed_names(mixed_petition)


# --- who may -----------------------------------------------------------------------------


def test_editors_cannot_use_the_fraud_tools(mixed_petition, editor, client):
    invalidation = Invalidation.objects.create(summary="Spam", email_domain="spam.example")
    client.force_login(editor)

    answers = [
        client.get(reverse("petitions_fraud:index")).status_code,
        client.get(reverse("petitions_fraud:create")).status_code,
        client.post(reverse("petitions_fraud:create"), invalidation_form(email_domain="spam.example")).status_code,
        client.get(reverse("petitions_fraud:detail", args=[invalidation.pk])).status_code,
        client.post(reverse("petitions_fraud:start", args=[invalidation.pk])).status_code,
        client.post(reverse("petitions_fraud:restore", args=[invalidation.pk])).status_code,
        client.get(reverse("petitions_fraud:quarantine")).status_code,
    ]
    client.post(reverse("wagtailsnippets_petitions_cms_fraudrule:add"), {"kind": "domain", "value": "example.org"})

    assert answers == [403] * len(answers)
    assert "Fraud tools" not in client.get(reverse("wagtailadmin_home")).content.decode()
    assert Invalidation.objects.count() == 1 and Invalidation.objects.get().enqueued_at is None
    assert not FraudRule.objects.exists()


def test_a_lead_finds_the_fraud_tools_in_the_menu_and_their_pages_render(
    mixed_petition, lead, client, reconcile, django_capture_on_commit_callbacks
):
    client.force_login(lead)
    invalidation, _ = create_and_preview(client, invalidation_form(mixed_petition, email_domain="spam.example"))
    start(client, invalidation, django_capture_on_commit_callbacks)

    pages = {
        name: client.get(url)
        for name, url in {
            "home": reverse("wagtailadmin_home"),
            "index": reverse("petitions_fraud:index"),
            "new": reverse("petitions_fraud:create"),
            "done": reverse("petitions_fraud:detail", args=[invalidation.pk]),
            "rules": reverse("wagtailsnippets_petitions_cms_fraudrule:list"),
        }.items()
    }

    assert {name: response.status_code for name, response in pages.items()} == dict.fromkeys(pages, 200)
    assert "Fraud tools" in pages["home"].content.decode()
    assert "A bot wave" in pages["index"].content.decode()
    assert "4 of 4 signatures invalidated" in pages["done"].content.decode()


def test_campaign_leads_may_edit_rules_and_invalidate(lead):
    assert lead.has_perms(
        ["petitions_cms.add_fraudrule", "petitions_cms.change_fraudrule", "petitions_cms.delete_fraudrule"]
    )
    assert can_review_fraud(lead)


# --- at scale ----------------------------------------------------------------------------

SCALE = 100_000


def copy_signatures(petition_id, count):
    """COPY ``count`` verified signatures: even rows from spam.example on 203.0.113.0/24, odd ones honest."""
    columns = [
        "petition_id", "first_name", "last_name", "email", "email_normalized", "country", "postcode",
        "show_in_feed", "feed_name", "share_with_officials", "opt_in_updates", "hidden_from_feed", "source",
        "status", "created_at", "verified_at", "email_status", "email_message_id", "ip_address",
    ]  # fmt: skip
    countries = ["GB", "US", "FR", "DE"]
    created = timezone.now() - timedelta(hours=1)

    def rows():
        for i in range(count):
            spam = i % 2 == 0
            email = f"s{i}@spam.example" if spam else f"h{i}@example.org"
            ip = f"203.0.113.{i % 250}" if spam else f"198.51.{i % 250}.{i % 200}"
            yield [petition_id, f"Signer{i}", "Example", email, email, countries[i % 4], "",
                   True, "first", False, False, False, "", "verified",
                   created, created + timedelta(seconds=1 + i / count), "sent", "", ip]  # fmt: skip

    copy_rows(Signature, columns, rows())


@pytest.mark.services
def test_a_bulk_invalidation_of_half_of_100k_signatures_is_exact_and_quick(index_page, reconcile, capsys):
    petition = PetitionPageFactory(parent=index_page)
    started = time.perf_counter()
    copy_signatures(petition.pk, SCALE)
    timings = {"seed (COPY)": time.perf_counter() - started}
    started = time.perf_counter()
    reconcile()
    timings["first reconcile"] = time.perf_counter() - started
    invalidation = Invalidation.objects.create(
        summary="Half", petition=petition, email_domain="spam.example", ip_network="203.0.113.0/24"
    )

    started = time.perf_counter()
    fraud.preview(invalidation)
    timings["preview count"] = time.perf_counter() - started
    started = time.perf_counter()
    invalidated = fraud.run_invalidation(invalidation.pk)
    timings["invalidate"] = time.perf_counter() - started
    started = time.perf_counter()
    reconcile()
    timings["reconcile with recount"] = time.perf_counter() - started

    invalidation.refresh_from_db()
    assert invalidation.matching_count == invalidated == invalidation.invalidated_count == SCALE // 2
    assert PetitionStats.objects.get(petition=petition).signature_count == SCALE // 2
    assert live_counts([petition.pk])[petition.pk] == SCALE // 2
    # Even rows (spam) are GB and FR; odd rows (honest) US and DE.
    assert country_tallies(petition) == {"US": SCALE // 4, "DE": SCALE // 4}
    assert all(int(name.removeprefix("Signer")) % 2 == 1 for name in feed_names(petition))
    with capsys.disabled():
        print(f"\n{SCALE:,} signatures on PostgreSQL:", ", ".join(f"{k} {v:.2f} s" for k, v in timings.items()))
    assert timings["invalidate"] + timings["reconcile with recount"] < 20
