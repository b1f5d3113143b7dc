"""Paper signatures (issue 14, part 5): offline totals with provenance, counted with the online ones."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from cms import offline
from cms.models import Milestone, OfflineSignatureBatch, PetitionStats, live_counts, stored_values

from .factories import LeadFactory, PetitionPageFactory, SignatureFactory, petition_body

pytestmark = pytest.mark.django_db


def add(petition, user=None, count=250, **fields):
    fields = {
        "collected_at": timezone.localdate() - datetime.timedelta(days=2),
        "collected_where": "Market square stall, Lyon",
        **fields,
    }
    return offline.add_batch(petition, count=count, entered_by=user, **fields)


def live_count(petition):
    return live_counts([petition.pk])[petition.pk]


def test_a_paper_batch_raises_the_live_and_stored_count_after_publishing(petition, reconcile, commit):
    SignatureFactory.create_batch(3, petition=petition, verified=True)
    reconcile()
    assert live_count(petition) == 3

    commit(add, petition, count=250)

    assert live_count(petition) == 253
    assert stored_values([petition.pk])[petition.pk][0] == 253
    stats = PetitionStats.objects.get(petition_id=petition.pk)
    assert (stats.signature_count, stats.offline_count) == (3, 250)


def test_the_offline_total_is_recomputed_not_incremented(petition, reconcile, commit):
    batch = commit(add, petition, count=40)
    commit(offline.update_offline_total, petition.pk)
    commit(offline.update_offline_total, petition.pk)
    reconcile()

    assert PetitionStats.objects.get(petition_id=petition.pk).offline_count == batch.count == 40
    assert live_count(petition) == 40


def test_a_batch_crossing_the_goal_records_the_milestone_once(petition, reconcile, commit):
    petition.goal = 100
    petition.save()
    SignatureFactory.create_batch(2, petition=petition, verified=True)
    reconcile()

    commit(add, petition, count=98)
    reconcile()

    milestone = Milestone.objects.get(petition_id=petition.pk, kind=Milestone.Kind.GOAL)
    assert (milestone.threshold, milestone.total_when_recorded) == (100, 100)


def test_voiding_a_batch_lowers_the_count_and_keeps_the_row(petition, reconcile, commit):
    lead = LeadFactory()
    SignatureFactory(petition=petition, verified=True)
    reconcile()
    batch = commit(add, petition, count=30)
    assert live_count(petition) == 31

    commit(offline.void_batch, batch, voided_by=lead, reason="Counted twice")

    assert live_count(petition) == 1
    batch.refresh_from_db()
    assert batch.is_voided and batch.voided_by == lead and batch.void_reason == "Counted twice"
    with pytest.raises(ValidationError):
        offline.void_batch(batch, voided_by=lead)


def test_a_batch_on_a_translation_counts_against_the_canonical_petition(petition, commit):
    from wagtail.models import Locale

    french, _ = Locale.objects.get_or_create(language_code="fr")
    translation = petition.copy_for_translation(french, copy_parents=True)

    batch = commit(add, translation, count=12)

    assert batch.petition_id == petition.pk
    assert live_count(petition) == 12


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("count", 0),
        ("count", -5),
        ("count", 1_000_001),
        ("collected_at", timezone.localdate() + datetime.timedelta(days=1)),
    ],
)
def test_zero_negative_absurd_and_future_batches_are_refused_with_a_field_error(petition, field, value):
    fields = {"count": 10, field: value}
    with pytest.raises(ValidationError) as refused:
        add(petition, **fields)
    assert field in refused.value.message_dict
    assert not OfflineSignatureBatch.objects.exists()


def test_the_batch_maximum_is_a_setting(petition, settings):
    settings.PETITIONS = {**getattr(settings, "PETITIONS", {}), "OFFLINE_BATCH_MAX": 50}
    with pytest.raises(ValidationError) as refused:
        add(petition, count=51)
    assert "count" in refused.value.message_dict
    assert add(petition, count=50).count == 50


def test_a_closed_petition_counts_its_paper_batch_too(index_page, official, commit):
    closed = PetitionPageFactory(parent=index_page, closed=True, body=petition_body([official.pk]))
    commit(add, closed, count=7)
    assert live_count(closed) == 7


# The admin: scoped to the lead's campaigns, append-only.


@pytest.fixture
def lead_a(campaign_a):
    return LeadFactory(campaigns=[campaign_a])


@pytest.fixture
def petition_b(campaign_b, official):
    return PetitionPageFactory(parent=campaign_b, title="Petition B", body=petition_body([official.pk]))


def batch_form(petition, **fields):
    return {
        "petition": petition.pk,
        "count": 120,
        "collected_at": (timezone.localdate() - datetime.timedelta(days=1)).isoformat(),
        "collected_where": "Town hall steps",
        "note": "",
        **fields,
    }


def test_a_lead_adds_a_batch_entered_by_them_and_the_count_includes_it(
    client, lead_a, petition, django_capture_on_commit_callbacks
):
    client.force_login(lead_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("petitions_offline:add"), batch_form(petition))

    assert response.status_code == 302
    batch = OfflineSignatureBatch.objects.get()
    assert (batch.entered_by, batch.count, batch.collected_where) == (lead_a, 120, "Town hall steps")
    assert live_count(petition) == 120
    listing = client.get(reverse("petitions_offline:index"))
    assert listing.status_code == 200 and "Town hall steps" in listing.content.decode()
    assert client.get(reverse("petitions_offline:inspect", args=[batch.pk])).status_code == 200


def test_entered_by_cannot_be_posted(client, lead_a, petition, campaign_b):
    other = LeadFactory(campaigns=[campaign_b])
    client.force_login(lead_a)
    client.post(reverse("petitions_offline:add"), batch_form(petition, entered_by=other.pk))
    assert OfflineSignatureBatch.objects.get().entered_by == lead_a


@pytest.mark.parametrize(
    ("field", "value"),
    [("count", "0"), ("count", "-3"), ("count", "5000000"), ("count", "many"), ("collected_at", "2999-01-01")],
)
def test_the_add_form_refuses_bad_totals_and_dates_with_a_field_error_and_a_400(client, lead_a, petition, field, value):
    client.force_login(lead_a)
    response = client.post(reverse("petitions_offline:add"), batch_form(petition, **{field: value}))
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not OfflineSignatureBatch.objects.exists()


def test_a_lead_cannot_add_a_batch_to_another_campaigns_petition(client, lead_a, petition_b):
    client.force_login(lead_a)
    response = client.post(reverse("petitions_offline:add"), batch_form(petition_b))
    assert response.status_code == 403
    assert not OfflineSignatureBatch.objects.exists()


def test_another_campaigns_batches_are_neither_listed_nor_voidable(client, lead_a, petition_b, commit):
    batch = commit(add, petition_b, count=9, collected_where="Elsewhere")
    client.force_login(lead_a)

    assert "Elsewhere" not in client.get(reverse("petitions_offline:index")).content.decode()
    void_url = reverse("petitions_offline:edit", args=[batch.pk])
    assert client.post(void_url, {"reason": "not mine"}).status_code == 404
    for view in ("inspect", "history", "usage"):
        assert client.get(reverse(f"petitions_offline:{view}", args=[batch.pk])).status_code == 404, view
    for path in ("inspect/nonsense/", "history/nonsense/", "nonsense/void/", "99999999999999999999/void/"):
        assert client.get(f"/admin/petitions/paper/{path}").status_code == 404, path
    batch.refresh_from_db()
    assert not batch.is_voided


def test_a_lead_voids_a_batch_with_a_reason_and_nobody_deletes_one(
    client, lead_a, petition, commit, django_capture_on_commit_callbacks
):
    batch = commit(add, petition, count=9)
    client.force_login(lead_a)
    void_url = reverse("petitions_offline:edit", args=[batch.pk])
    assert client.post(void_url, {"reason": ""}).status_code == 400

    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(void_url, {"reason": "Entered twice"}).status_code == 302

    batch.refresh_from_db()
    assert (batch.voided_by, batch.void_reason) == (lead_a, "Entered twice")
    assert live_count(petition) == 0
    assert client.post(f"/admin/petitions/paper/{batch.pk}/delete/").status_code == 404
    assert OfflineSignatureBatch.objects.filter(pk=batch.pk).exists()


# Deliveries, the API, the insights: the paper total is in the totals, marked as paper.


def test_a_delivery_totals_include_the_paper_batches_marked_as_paper(petition, official, commit, reconcile, mailoutbox):
    import io

    from pypdf import PdfReader

    from cms import deliveries

    SignatureFactory(petition=petition, first_name="Online", last_name="Signer", verified=True,
                     share_with_officials=True)  # fmt: skip
    reconcile()
    commit(add, petition, count=1345, collected_where="Place Bellecour, Lyon", collected_at=datetime.date(2026, 11, 3))
    voided = commit(add, petition, count=99, collected_where="Entered twice")
    commit(offline.void_batch, voided, voided_by=None)

    delivery = commit(deliveries.prepare_delivery, petition, [official])
    delivery.refresh_from_db()

    assert (delivery.total, delivery.online_total, delivery.offline_total) == (1346, 1, 1345)
    assert delivery.offline_batches == [
        {"count": 1345, "collected_at": "2026-11-03", "collected_where": "Place Bellecour, Lyon"}
    ]
    assert "1,346" in delivery.subject
    cover = PdfReader(io.BytesIO(delivery.pdf_file.open("rb").read())).pages[0].extract_text()
    assert "1,346 signatures: 1 online (verified) and 1,345 on paper" in cover
    assert "1,345 at Place Bellecour, Lyon, on 3 November 2026" in cover
    assert "names online signers only" in cover and "Entered twice" not in cover
    csv_text = delivery.csv_file.open("rb").read().decode("utf-8-sig")
    assert "Online Signer" in csv_text and "Bellecour" not in csv_text

    _, text, html = deliveries.render(delivery, delivery.recipients.get())
    assert "1 signed online, each confirmed by email, and 1345 signed on paper" in text  # as the text's other numbers
    assert "1345 at Place Bellecour, Lyon, on 3 November 2026" in text
    assert "1,345 at Place Bellecour, Lyon, on 3 November 2026" in html
    assert "Every signature was confirmed by email." not in text


def test_a_delivery_without_paper_batches_reads_as_before(petition, official, commit, reconcile):
    from cms import deliveries

    SignatureFactory(petition=petition, verified=True)
    reconcile()
    delivery = commit(deliveries.prepare_delivery, petition, [official], include_list=False)
    _, text, _ = deliveries.render(delivery, delivery.recipients.get())
    assert delivery.offline_total == 0 and delivery.offline_batches == []
    assert "Every signature was confirmed by email." in text and "paper" not in text


def test_the_api_shows_the_total_and_the_offline_count(client, petition, commit, reconcile):
    SignatureFactory.create_batch(2, petition=petition, verified=True)
    reconcile()
    commit(add, petition, count=30)

    detail = client.get(f"/api/petitions/{petition.pk}/").json()
    count = client.get(f"/api/petitions/{petition.pk}/count.json").json()

    assert (detail["count"], detail["offline_count"], count["count"]) == (32, 30, 32)


def test_the_insights_show_the_paper_signatures_as_their_own_line(client, lead_a, petition, commit, reconcile):
    SignatureFactory.create_batch(2, petition=petition, verified=True)
    reconcile()
    commit(add, petition, count=1200, collected_where='=HYPERLINK("x")', collected_at=datetime.date(2026, 10, 1))
    commit(add, petition, count=300, collected_where="Fair", collected_at=datetime.date(2026, 10, 1))
    commit(add, petition, count=45, collected_where="Library", collected_at=datetime.date(2026, 10, 5))
    client.force_login(lead_a)

    page = client.get(reverse("petitions_insights:petition", args=[petition.pk]))
    paper_csv = client.get(reverse("petitions_insights:csv", args=[petition.pk]) + "?kind=paper")
    csv_rows = paper_csv.content.decode("utf-8-sig")

    assert page.status_code == 200
    assert page.context["offline"] == 1545 and page.context["public_total"] == 1547
    assert [(row["count"], row["cumulative"]) for row in page.context["paper_series"]] == [(1500, 1500), (45, 1545)]
    assert "Offline (paper)" in page.content.decode()
    assert csv_rows.splitlines()[1:] == [
        '2026-10-01,"\'=HYPERLINK(""x""), Fair",1500,1500',
        "2026-10-05,Library,45,1545",
    ]


def test_the_add_form_offers_only_the_leads_own_petitions(client, lead_a, petition, petition_b):
    client.force_login(lead_a)
    response = client.get(reverse("petitions_offline:add"))
    choices = [str(label) for _, label in response.context["form"].fields["petition"].choices]
    assert response.status_code == 200
    assert petition.title in choices and petition_b.title not in choices


def test_the_demo_adds_one_paper_batch_to_the_reference_petition_once(index_page, official, commit):
    from petitions_site import demo_content

    reference = PetitionPageFactory(
        parent=index_page, slug=demo_content.REFERENCE_SLUG, body=petition_body([official.pk])
    )
    lead = LeadFactory(campaigns=[index_page])
    commit(demo_content.add_paper_batch, lead, timezone.now())
    commit(demo_content.add_paper_batch, lead, timezone.now())

    batch = OfflineSignatureBatch.objects.get()
    assert (batch.petition_id, batch.entered_by, batch.count) == (reference.pk, lead, 340)
    assert live_count(reference) == 340
