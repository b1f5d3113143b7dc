"""The data migration that gives existing signatures their canonical address (cms/migrations/0006).

Each test makes rows as the old code stored them (``email_normalized`` only case-folded) and runs
the migration's own function against the real app registry.
"""

import importlib
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection
from django.utils import timezone

from cms import reconcile as reconciling
from cms import signing
from cms.models import PetitionCountryCount, PetitionStats, Signature, live_counts
from cms.store import get_store
from tests.testapp.models import MemberSignature

from .factories import PetitionPageFactory, SignatureFactory

pytestmark = pytest.mark.django_db

migration = importlib.import_module("cms.migrations.0006_canonical_email_addresses")
INVALIDATED, VERIFIED, PENDING = Signature.Status.INVALIDATED, Signature.Status.VERIFIED, Signature.Status.PENDING


def run_migration():
    """The migration's RunPython function, with the real registry and this connection."""
    migration.forwards(apps, SimpleNamespace(connection=connection))


def old_row(petition, email, **kwargs):
    """A signature as the code before canonical addresses stored it: case and whitespace folded only."""
    return SignatureFactory(petition=petition, email=email, email_normalized=email.strip().lower(), **kwargs)


def states(*rows):
    return [Signature.objects.values_list("email", "email_normalized", "status").get(pk=row.pk) for row in rows]


def test_each_row_gets_its_canonical_address_and_keeps_the_address_as_typed(petition):
    gmail = old_row(petition, "A.Da+news@GoogleMail.com")
    idn = old_row(petition, "grace@Bücher.example")
    plain = old_row(petition, "alan@example.org", verified=True)

    run_migration()

    assert states(gmail, idn, plain) == [
        ("A.Da+news@GoogleMail.com", "ada@gmail.com", PENDING),
        ("grace@Bücher.example", "grace@xn--bcher-kva.example", PENDING),
        ("alan@example.org", "alan@example.org", VERIFIED),
    ]


def test_rows_of_one_inbox_keep_the_earliest_verified_and_invalidate_the_others(petition):
    now = timezone.now()
    # The first row holds the plain address the kept row moves to: the moves must not collide.
    first_pending = old_row(petition, "ada@gmail.com", created_at=now - timedelta(days=3))
    kept = old_row(petition, "a.da@gmail.com", verified=True, verified_at=now - timedelta(days=1))
    later = old_row(petition, "ada+1@gmail.com", verified=True, verified_at=now - timedelta(hours=1))
    fraud = old_row(petition, "a.d.a+x@googlemail.com", status=Signature.Status.FRAUDULENT)

    run_migration()

    assert states(kept, first_pending, later, fraud) == [
        ("a.da@gmail.com", "ada@gmail.com", VERIFIED),
        ("ada@gmail.com", f"ada@gmail.com#dup{first_pending.pk}", INVALIDATED),
        ("ada+1@gmail.com", f"ada@gmail.com#dup{later.pk}", INVALIDATED),
        # A row already taken out keeps the reason it was taken out for.
        ("a.d.a+x@googlemail.com", f"ada@gmail.com#dup{fraud.pk}", Signature.Status.FRAUDULENT),
    ]


def test_without_a_verified_row_the_earliest_created_is_kept(petition):
    now = timezone.now()
    newer = old_row(petition, "ada+x@outlook.com", created_at=now - timedelta(hours=1))
    older = old_row(petition, "ADA@Outlook.com", created_at=now - timedelta(hours=2))

    run_migration()

    assert states(older, newer) == [
        ("ADA@Outlook.com", "ada@outlook.com", PENDING),
        ("ada+x@outlook.com", f"ada@outlook.com#dup{newer.pk}", INVALIDATED),
    ]


def test_one_inbox_keeps_one_signature_on_each_petition(index_page, petition):
    other = PetitionPageFactory(parent=index_page)
    here = old_row(petition, "a.da@gmail.com")
    there = old_row(other, "ada+x@gmail.com")

    run_migration()

    assert states(here, there) == [
        ("a.da@gmail.com", "ada@gmail.com", PENDING),
        ("ada+x@gmail.com", "ada@gmail.com", PENDING),
    ]


def test_a_duplicate_suffix_never_makes_the_column_overflow(petition):
    local = "a" * 240  # ada…@gmail.com is 250 characters: no room left for "#dup<pk>"
    kept = old_row(petition, f"{local}@gmail.com", verified=True)
    loser = old_row(petition, f"a.{local[1:]}@gmail.com")

    run_migration()

    value = Signature.objects.get(pk=loser.pk).email_normalized
    assert len(value) == 254 and value.endswith(f"#dup{loser.pk}")
    assert Signature.objects.get(pk=kept.pk).email_normalized == f"{local}@gmail.com"


def test_running_the_migration_again_changes_nothing(petition):
    now = timezone.now()
    old_row(petition, "a.da@gmail.com", verified=True, verified_at=now - timedelta(hours=2))
    old_row(petition, "ada@gmail.com", verified=True, verified_at=now - timedelta(hours=1))
    old_row(petition, "ADA+x@Example.org")
    run_migration()
    before = sorted(Signature.objects.values_list("pk", "email_normalized", "status"))

    run_migration()

    assert sorted(Signature.objects.values_list("pk", "email_normalized", "status")) == before


def test_after_the_migration_the_same_inbox_signing_again_adds_nothing(petition):
    kept = old_row(petition, "a.da@gmail.com", verified=True)
    old_row(petition, "ada+1@gmail.com")
    run_migration()

    assert signing.sign_petition(petition, {"first_name": "Ada", "email": "ADA+2@googlemail.com"}) is None
    assert Signature.objects.filter(status__in=[PENDING, VERIFIED]).get().pk == kept.pk


def test_an_invalidated_row_counted_before_leaves_the_stored_total_at_the_next_full_recount(
    petition, django_capture_on_commit_callbacks
):
    """The reconcile only adds what was verified after its watermark, so it cannot take a counted row out.

    The daily full recount counts the verified rows up to the watermark again: it finds the row the
    migration invalidated missing, corrects the stored total, the country tallies and the live count.
    """
    now = timezone.now()
    old_row(petition, "a.da@gmail.com", verified=True, verified_at=now - timedelta(hours=2), country="GB")
    old_row(petition, "ada@gmail.com", verified=True, verified_at=now - timedelta(hours=1), country="GB")
    old_row(petition, "alan@example.org", verified=True, verified_at=now - timedelta(hours=1), country="FR")
    with django_capture_on_commit_callbacks(execute=True):
        assert reconciling.reconcile_counts([petition.pk], now=now) == {petition.pk: 3}

    run_migration()
    with django_capture_on_commit_callbacks(execute=True):
        assert reconciling.reconcile_counts([petition.pk], now=now + timedelta(seconds=15)) == {petition.pk: 3}
        assert reconciling.full_recount([petition.pk]) == {petition.pk: -1}

    assert PetitionStats.objects.get(petition_id=petition.pk).signature_count == 2
    assert dict(PetitionCountryCount.objects.values_list("country", "signature_count")) == {"GB": 1, "FR": 1}
    assert live_counts([petition.pk])[petition.pk] == 2
    with django_capture_on_commit_callbacks(execute=True):
        assert reconciling.full_recount([petition.pk]) == {}


def test_an_invalidated_row_verified_after_the_watermark_is_never_counted(petition, django_capture_on_commit_callbacks):
    """Not in the stored total, and the live count drops it once the next reconcile's watermark passes it."""
    now = timezone.now()
    old_row(petition, "a.da@gmail.com", verified=True, verified_at=now - timedelta(hours=2))
    with django_capture_on_commit_callbacks(execute=True):
        # A second back: on PostgreSQL no watermark passes the database's clock (cms.reconcile.counted_until).
        assert reconciling.reconcile_counts([petition.pk], now=now - timedelta(seconds=1)) == {petition.pk: 1}
    later = old_row(petition, "ada@gmail.com", verified=True, verified_at=now)
    get_store().record_verification(petition.pk, later.pk, later.verified_at, None)  # as its confirm did
    assert live_counts([petition.pk])[petition.pk] == 2

    run_migration()
    with django_capture_on_commit_callbacks(execute=True):
        assert reconciling.reconcile_counts([petition.pk], now=now + timedelta(seconds=15)) == {petition.pk: 1}
        assert reconciling.full_recount([petition.pk]) == {}

    assert live_counts([petition.pk])[petition.pk] == 1


def test_a_site_with_its_own_signature_model_can_run_the_same_backfill(petition):
    now = timezone.now()

    def member(email, **kwargs):
        return MemberSignature.objects.create(
            petition=petition, first_name="Ada", email=email, email_normalized=email.lower(), **kwargs
        )

    kept = member("a.da@gmail.com", created_at=now - timedelta(hours=2))
    loser = member("ada+x@gmail.com", created_at=now - timedelta(hours=1))

    migration.backfill_email_normalized(MemberSignature)

    assert list(MemberSignature.objects.order_by("pk").values_list("pk", "email_normalized", "status")) == [
        (kept.pk, "ada@gmail.com", PENDING),
        (loser.pk, f"ada@gmail.com#dup{loser.pk}", INVALIDATED),
    ]
