import pytest
from django.utils import timezone

from cms import counters, services
from cms.models import PetitionStats, Signature
from cms.tokens import make_token
from workers import tasks

from .factories import PetitionPageFactory, SignatureFactory

pytestmark = pytest.mark.django_db


def test_reconcile_sets_the_stored_and_cached_count_from_the_database(petition):
    SignatureFactory.create_batch(3, petition=petition, verified=True)
    SignatureFactory.create_batch(2, petition=petition)  # pending: not counted

    counts = services.reconcile_counts()

    assert counts[petition.pk] == 3
    assert PetitionStats.objects.get(petition_id=petition.pk).signature_count == 3
    assert counters.get_cache().get(counters.COUNT_KEY.format(petition.pk)) == 3


def test_a_verification_updates_the_cached_count_and_feed_after_commit(petition, django_capture_on_commit_callbacks):
    services.reconcile_counts()
    signature = SignatureFactory(petition=petition, first_name="Stefanie")

    with django_capture_on_commit_callbacks(execute=True):
        assert services.verify_signature(petition, make_token(signature)) == services.VerifyResult.VERIFIED

    assert petition.get_signature_count() == 1
    assert petition.get_feed()[0]["name"] == "Stefanie"


def test_a_verification_recorded_twice_counts_once(petition):
    services.reconcile_counts()
    signature = SignatureFactory(petition=petition, verified=True)

    counters.record_verification(petition.pk, signature.pk)
    counters.record_verification(petition.pk, signature.pk)

    assert petition.get_signature_count() == 1


def test_an_empty_cache_falls_back_to_the_stored_total(petition):
    SignatureFactory.create_batch(2, petition=petition, verified=True)
    services.reconcile_counts()
    counters.get_cache().clear()

    assert petition.get_signature_count() == 2
    assert len(petition.get_feed()) == 2


def test_reconcile_corrects_drift_in_the_cached_count(petition):
    SignatureFactory.create_batch(2, petition=petition, verified=True)
    counters.get_cache().set(counters.COUNT_KEY.format(petition.pk), 999)

    tasks.reconcile_counts.delay()

    assert petition.get_signature_count() == 2


def test_the_reconcile_task_skips_while_another_run_holds_the_lock(petition):
    SignatureFactory(petition=petition, verified=True)
    counters.get_cache().add(counters.RECONCILE_LOCK_KEY, 1)

    assert tasks.reconcile_counts.delay().get() is None
    assert not PetitionStats.objects.exists()

    counters.get_cache().delete(counters.RECONCILE_LOCK_KEY)
    assert tasks.reconcile_counts.delay().get() == {petition.pk: 1}


def test_the_feed_shows_only_verified_signers_who_allowed_it_newest_first(petition):
    now = timezone.now()
    SignatureFactory(petition=petition, first_name="Old", verified=True, verified_at=now - timezone.timedelta(days=2))
    SignatureFactory(petition=petition, first_name="New", verified=True, verified_at=now)
    SignatureFactory(petition=petition, first_name="Private", verified=True, show_in_feed=False)
    SignatureFactory(petition=petition, first_name="Hidden", verified=True, hidden_from_feed=True)
    SignatureFactory(petition=petition, first_name="Pending")

    services.reconcile_counts()

    assert [entry["name"] for entry in petition.get_feed()] == ["New", "Old"]
    assert petition.get_signature_count() == 4


def test_petitions_closed_over_a_day_ago_are_no_longer_reconciled(index_page):
    open_petition = PetitionPageFactory(parent=index_page)
    recently_closed = PetitionPageFactory(parent=index_page, closes_at=timezone.now() - timezone.timedelta(hours=2))
    long_closed = PetitionPageFactory(parent=index_page, closes_at=timezone.now() - timezone.timedelta(days=3))
    draft = PetitionPageFactory(parent=index_page, live=False)

    ids = set(services.active_petition_ids())

    assert {open_petition.pk, recently_closed.pk} <= ids
    assert not {long_closed.pk, draft.pk} & ids


@pytest.mark.parametrize("signers", [10, 200])
def test_the_petition_page_costs_the_same_queries_whatever_the_number_of_signatures(
    petition, client, django_assert_num_queries, signers
):
    Signature.objects.bulk_create(
        SignatureFactory.build(petition=petition, verified=True, email=f"s{i}@example.org", email_normalized=f"s{i}")
        for i in range(signers)
    )
    services.reconcile_counts()
    client.get(petition.url)  # warm Wagtail's site and page caches

    # Site, route (3 page rows), view restrictions (2), the letter's officials: none touch signatures.
    with django_assert_num_queries(PAGE_QUERIES):
        response = client.get(petition.url)

    assert f'data-count="{signers}"' in response.content.decode()


PAGE_QUERIES = 7


def test_the_feed_says_how_long_ago_each_signer_signed(petition, client):
    now = timezone.now()
    SignatureFactory(
        petition=petition, first_name="Stefanie", verified=True, verified_at=now - timezone.timedelta(hours=4)
    )
    SignatureFactory(petition=petition, first_name="Newest", verified=True, verified_at=now)
    services.reconcile_counts()

    page = client.get(petition.url).content.decode()

    assert '<span class="feed__name">Newest</span> signed just now' in page
    assert '<span class="feed__name">Stefanie</span> signed 4\xa0hours ago' in page
