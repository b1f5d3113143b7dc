"""Paper signatures (issue 14, part 5): offline totals with provenance, counted with the online ones."""

import datetime

import pytest
from django.core.exceptions import ValidationError
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
