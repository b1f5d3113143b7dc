"""Retention (issue 10, item 4): unverified signatures purged, closed petitions anonymised, delivery files deleted.

Each job is a beat task that takes no arguments and changes nothing more when run twice. Every
figure shown before a run is shown after it: the count, the country tallies, the milestones and
the deliveries' totals.
"""

import time
from datetime import timedelta

import pytest
from celery import current_app
from dateutil.relativedelta import relativedelta
from django.core.checks import run_checks
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cms import deliveries, reconcile, retention
from cms.models import Delivery, Milestone, PetitionCountryCount, PetitionStats, Signature, live_counts
from workers import tasks
from workers.schedules import beat_schedule

from .factories import PetitionPageFactory, SignatureFactory, copy_rows
from .testapp.models import MemberSignature

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


def ago(**kwargs):
    return timezone.now() - relativedelta(**kwargs)


@pytest.fixture
def closed_long_ago(index_page, official):
    """A petition that closed seven months ago (the default anonymises six months after closing)."""
    from .factories import petition_body

    return PetitionPageFactory(parent=index_page, body=petition_body([official.pk]), closes_at=ago(months=7))


def figures(petition):
    """Every figure the site shows of a petition, as stored and as live."""
    stats = PetitionStats.objects.get(petition=petition)
    return {
        "count": stats.signature_count,
        "live": live_counts([petition.pk])[petition.pk],
        "tallies": dict(
            PetitionCountryCount.objects.filter(petition=petition).values_list("country", "signature_count")
        ),
        "milestones": list(
            Milestone.objects.filter(petition=petition).values_list("threshold", "kind", "total_when_recorded")
        ),
        "deliveries": list(
            Delivery.objects.filter(petition=petition).values_list("pk", "total", "breakdown", "rows_total")
        ),
    }


def counted(petition, commit):
    commit(reconcile.reconcile_counts, petition_ids=[petition.pk])


# --- purging unverified signatures --------------------------------------------------------------


def test_pending_signatures_are_purged_after_thirty_days_and_nothing_younger_or_confirmed(petition):
    old = SignatureFactory(petition=petition, created_at=ago(days=31), email_requested_at=ago(days=31))
    young = SignatureFactory(petition=petition, created_at=ago(days=29), email_requested_at=ago(days=29))
    verified = SignatureFactory(petition=petition, created_at=ago(days=90), verified=True)

    assert retention.purge_unverified() == 1

    assert set(Signature.objects.values_list("pk", flat=True)) == {young.pk, verified.pk}
    assert not Signature.objects.filter(pk=old.pk).exists()


def test_a_pending_signer_who_signed_again_recently_keeps_their_signature(petition):
    # Signing again asks for a fresh verification email (a new link): the thirty days run from it.
    resigned = SignatureFactory(petition=petition, created_at=ago(days=60), email_requested_at=ago(days=2))

    assert retention.purge_unverified() == 0
    assert Signature.objects.filter(pk=resigned.pk).exists()


def test_quarantined_fraudulent_and_invalidated_signatures_wait_for_their_petitions_anonymisation(petition):
    kept = [
        SignatureFactory(petition=petition, created_at=ago(days=90), email_requested_at=ago(days=90), status=status)
        for status in (Signature.Status.QUARANTINED, Signature.Status.FRAUDULENT, Signature.Status.INVALIDATED)
    ]

    assert retention.purge_unverified() == 0
    assert Signature.objects.filter(pk__in=[s.pk for s in kept]).count() == 3


def test_the_purge_runs_in_batches_and_a_second_run_deletes_nothing(petition, settings):
    settings.PETITIONS = {**settings.PETITIONS, "RETENTION_BATCH": 2}
    for _ in range(5):
        SignatureFactory(petition=petition, created_at=ago(days=40), email_requested_at=ago(days=40))

    with CaptureQueriesContext(connection) as queries:
        assert tasks.purge_unverified_signatures() == 5
    assert len([q for q in queries if q["sql"].startswith("DELETE")]) == 3  # ids in ranges of 2: 2 + 2 + 1
    assert tasks.purge_unverified_signatures() == 0
    assert not Signature.objects.exists()


# --- anonymising closed petitions -----------------------------------------------------------------


def test_verified_signatures_are_anonymised_six_months_after_closing_and_every_figure_stays(closed_long_ago, commit):
    petition = closed_long_ago
    for i, country in enumerate(["GB", "GB", "FR", "DE"]):
        SignatureFactory(
            petition=petition, verified=True, verified_at=ago(months=8), country=country, postcode=f"N{i} 1AA",
            ip_address="198.51.100.7", source="newsletter-4711", share_with_officials=True, opt_in_updates=True,
        )  # fmt: skip
    counted(petition, commit)
    before = figures(petition)

    assert commit(retention.anonymise_closed_petitions) == 4

    for row in Signature.objects.filter(petition=petition):
        assert row.status == Signature.Status.VERIFIED
        assert row.anonymised_at is not None
        assert (row.first_name, row.last_name, row.email, row.postcode, row.source) == ("", "", "", "", "")
        assert row.ip_address is None
        assert row.email_normalized == f"anonymised-{row.pk}"  # unique per petition, and no address
        assert not (row.show_in_feed or row.share_with_officials or row.opt_in_updates)
    assert sorted(Signature.objects.filter(petition=petition).values_list("country", flat=True)) == [
        "DE", "FR", "GB", "GB"
    ]  # fmt: skip
    # The counter's own recount finds exactly what was stored.
    assert commit(reconcile.full_recount, petition_ids=[petition.pk]) == {}
    counted(petition, commit)
    assert figures(petition) == before


def test_a_petition_still_open_or_closed_less_than_six_months_ago_keeps_its_signers(index_page, petition):
    recent = PetitionPageFactory(parent=index_page, closes_at=ago(months=5))
    for page in (petition, recent):
        SignatureFactory(petition=page, verified=True, first_name="Kept")

    assert retention.anonymise_closed_petitions() == 0
    assert set(Signature.objects.values_list("first_name", flat=True)) == {"Kept"}


def test_every_status_of_an_anonymised_petition_loses_its_personal_data(closed_long_ago):
    for status in (Signature.Status.QUARANTINED, Signature.Status.FRAUDULENT, Signature.Status.INVALIDATED):
        SignatureFactory(petition=closed_long_ago, status=status, created_at=ago(months=8), ip_address="203.0.113.9")

    assert retention.anonymise_closed_petitions() == 3
    assert not Signature.objects.exclude(first_name="").exists()
    assert set(Signature.objects.values_list("status", flat=True)) == {"quarantined", "fraudulent", "invalidated"}


def test_the_feed_of_an_anonymised_petition_shows_no_names(closed_long_ago, commit):
    SignatureFactory(petition=closed_long_ago, verified=True, verified_at=ago(months=8), first_name="Vera")
    counted(closed_long_ago, commit)
    assert [entry["name"] for entry in closed_long_ago.get_feed()] == ["Vera"]

    commit(retention.anonymise_closed_petitions)

    assert closed_long_ago.get_feed() == []  # the cached feed too, not only the rows
    assert closed_long_ago.get_feed_from_database() == []


def test_a_delivery_prepared_after_anonymisation_names_nobody_but_counts_everyone(closed_long_ago, official, commit):
    SignatureFactory(petition=closed_long_ago, verified=True, verified_at=ago(months=8), share_with_officials=True,
                     first_name="Named", last_name="Signer")  # fmt: skip
    counted(closed_long_ago, commit)
    commit(retention.anonymise_closed_petitions)

    delivery = commit(deliveries.prepare_delivery, closed_long_ago, [official])
    delivery.refresh_from_db()

    assert delivery.total == 1
    assert delivery.rows_total == 0
    assert "Named" not in delivery.csv_file.open("rb").read().decode()


def test_a_second_anonymisation_run_changes_nothing(closed_long_ago, settings):
    settings.PETITIONS = {**settings.PETITIONS, "RETENTION_BATCH": 2}
    for _ in range(5):
        SignatureFactory(petition=closed_long_ago, verified=True, verified_at=ago(months=8))
    with CaptureQueriesContext(connection) as queries:
        assert tasks.anonymise_closed_petitions() == 5
    assert len([q for q in queries if q["sql"].startswith(f'UPDATE "{Signature._meta.db_table}"')]) == 3
    stamps = dict(Signature.objects.values_list("pk", "anonymised_at"))

    assert tasks.anonymise_closed_petitions() == 0
    assert dict(Signature.objects.values_list("pk", "anonymised_at")) == stamps


def test_a_reopened_petition_is_anonymised_again_once_it_has_been_closed_long_enough(closed_long_ago):
    SignatureFactory(petition=closed_long_ago, verified=True, verified_at=ago(months=8))
    assert retention.anonymise_closed_petitions() == 1
    closed_long_ago.closes_at = timezone.now() + DAY
    closed_long_ago.save()
    late = SignatureFactory(petition=closed_long_ago, verified=True, first_name="Late")

    assert retention.anonymise_closed_petitions() == 0  # open again: the new signer stays
    assert retention.anonymise_closed_petitions(now=timezone.now() + relativedelta(months=7)) == 1
    late.refresh_from_db()
    assert late.first_name == "" and late.anonymised_at is not None


def test_a_host_models_own_personal_fields_are_blanked_too(closed_long_ago, settings):
    settings.PETITIONS = {**settings.PETITIONS, "SIGNATURE_MODEL": "petitions_testapp.MemberSignature"}
    member = MemberSignature.objects.create(
        petition=closed_long_ago, first_name="Mo", email="mo@example.org", email_normalized="mo@example.org",
        membership_number="M-12345", status=MemberSignature.Status.VERIFIED, verified_at=ago(months=8),
    )  # fmt: skip

    assert retention.anonymise_closed_petitions() == 1

    member.refresh_from_db()
    assert (member.first_name, member.email, member.membership_number) == ("", "", "")


def test_a_personal_field_the_model_does_not_have_is_a_system_check_error(settings, monkeypatch):
    monkeypatch.setattr(Signature, "PERSONAL_FIELDS", (*Signature.PERSONAL_FIELDS, "shoe_size"))

    errors = [message for message in run_checks() if message.id == "petitions.E040"]

    assert errors and "shoe_size" in errors[0].msg


# --- delivery files -------------------------------------------------------------------------------


@pytest.fixture
def sent_delivery(petition, official, commit):
    SignatureFactory(petition=petition, verified=True, share_with_officials=True, country="GB", first_name="Ada")
    SignatureFactory(petition=petition, verified=True, country="FR")
    counted(petition, commit)
    delivery = commit(deliveries.prepare_delivery, petition, [official])
    delivery.refresh_from_db()  # its files built
    commit(deliveries.start_sending, delivery)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT and delivery.csv_file and delivery.pdf_file
    return delivery


def test_delivery_files_are_deleted_after_thirty_days_and_the_record_and_totals_stay(sent_delivery, admin_client):
    storage, names = sent_delivery.csv_file.storage, [sent_delivery.csv_file.name, sent_delivery.pdf_file.name]
    Delivery.objects.filter(pk=sent_delivery.pk).update(sent_at=ago(days=31))
    before = figures(sent_delivery.petition.specific)

    assert retention.delete_delivery_files() == 1

    delivery = Delivery.objects.get(pk=sent_delivery.pk)
    assert not any(storage.exists(name) for name in names)
    assert not delivery.csv_file and not delivery.pdf_file
    assert delivery.files_deleted_at is not None
    assert (delivery.status, delivery.total, delivery.breakdown, delivery.rows_total) == (
        Delivery.Status.SENT, 2, {"GB": 1, "FR": 1}, 1
    )  # fmt: skip
    assert figures(sent_delivery.petition.specific) == before
    # The lead is told, not sent to an error page.
    page = admin_client.get(reverse("petitions_deliveries:detail", args=[delivery.pk])).content.decode()
    assert "deleted" in page
    response = admin_client.get(reverse("petitions_deliveries:download", args=[delivery.pk, "csv"]))
    assert response.status_code == 410
    assert "retention" in response.content.decode()


def test_a_delivery_sent_recently_keeps_its_files_and_a_second_run_deletes_nothing(sent_delivery):
    assert retention.delete_delivery_files() == 0
    Delivery.objects.filter(pk=sent_delivery.pk).update(sent_at=ago(days=31))
    assert tasks.delete_delivery_files() == 1

    assert tasks.delete_delivery_files() == 0


def test_a_delivery_whose_files_were_deleted_cannot_be_sent_again_and_says_why(sent_delivery):
    Delivery.objects.filter(pk=sent_delivery.pk).update(sent_at=ago(days=31), status=Delivery.Status.PARTIAL)
    retention.delete_delivery_files()
    delivery = Delivery.objects.get(pk=sent_delivery.pk)

    with pytest.raises(deliveries.DeliveryError, match="deleted"):
        deliveries.start_sending(delivery)


# --- settings and schedule ------------------------------------------------------------------------


def test_each_job_is_off_when_its_setting_is_none(closed_long_ago, sent_delivery, settings):
    settings.PETITIONS = {
        **settings.PETITIONS,
        "RETENTION_UNVERIFIED_DAYS": None,
        "RETENTION_ANONYMISE_MONTHS": None,
        "RETENTION_DELIVERY_FILES_DAYS": None,
    }
    SignatureFactory(petition=closed_long_ago, created_at=ago(days=90), email_requested_at=ago(days=90))
    SignatureFactory(petition=closed_long_ago, verified=True, verified_at=ago(months=8))
    Delivery.objects.filter(pk=sent_delivery.pk).update(sent_at=ago(days=90))

    assert retention.purge_unverified() == 0
    assert retention.anonymise_closed_petitions() == 0
    assert retention.delete_delivery_files() == 0
    assert not Signature.objects.filter(first_name="").exists()


def test_the_retention_tasks_are_in_the_beat_schedule_daily_and_take_no_arguments():
    schedule = {entry["task"]: entry for entry in beat_schedule().values()}

    for name in (
        "petitions.purge_unverified_signatures",
        "petitions.anonymise_closed_petitions",
        "petitions.delete_delivery_files",
    ):
        assert name in schedule
        assert not schedule[name].get("args")
        assert current_app.tasks[name].name == name  # registered under the scheduled name
        crontab = schedule[name]["schedule"]
        assert (len(crontab.hour), len(crontab.minute), len(crontab.day_of_week)) == (1, 1, 7)  # once a day


def test_a_purge_shorter_than_a_verification_links_life_is_a_warning(settings):
    settings.PETITIONS = {**settings.PETITIONS, "RETENTION_UNVERIFIED_DAYS": 7}

    assert any(message.id == "petitions.W040" for message in run_checks())


@pytest.mark.parametrize("value", [0, -3, "30", 2.5, True])
def test_a_retention_setting_that_is_not_a_whole_number_of_days_is_a_system_check_error(settings, value):
    settings.PETITIONS = {**settings.PETITIONS, "RETENTION_DELIVERY_FILES_DAYS": value}

    errors = [message for message in run_checks() if message.id == "petitions.E041"]

    assert errors and "RETENTION_DELIVERY_FILES_DAYS" in errors[0].msg


# --- at scale -------------------------------------------------------------------------------------

SCALE = 100_000
COLUMNS = [
    "petition_id", "first_name", "last_name", "email", "email_normalized", "country", "postcode",
    "show_in_feed", "feed_name", "share_with_officials", "opt_in_updates", "hidden_from_feed", "source",
    "status", "created_at", "verified_at", "email_status", "email_message_id", "ip_address",
]  # fmt: skip


def seed(closed_id, open_id):
    """90% of SCALE verified on the closed petition (1% consenting to be named), 10% pending on the open one."""
    countries = ["GB", "US", "FR", "DE", ""]
    signed = timezone.now() - relativedelta(months=8)
    pending_old, pending_new = ago(days=45), ago(days=2)
    for i in range(SCALE):
        email = f"s{i}@example.org"
        if i % 10:
            yield [closed_id, f"Signer{i}", "Example", email, email, countries[i % 5], "SW1A 1AA",
                   True, "first", i % 100 == 1, True, False, "crm-1234", "verified",
                   signed, signed + timedelta(seconds=1 + i / SCALE), "sent", "", "198.51.100.7"]  # fmt: skip
        else:
            created = pending_old if i % 20 else pending_new
            yield [open_id, f"Pending{i}", "Example", email, email, "GB", "", True, "first", False, False, False,
                   "", "pending", created, None, "sent", "", "198.51.100.8"]  # fmt: skip


@pytest.mark.services
def test_retention_of_100k_signatures_keeps_every_figure_and_is_quick(closed_long_ago, petition, official, commit,
                                                                      capsys):  # fmt: skip
    started = time.perf_counter()
    copy_rows(Signature, COLUMNS, seed(closed_long_ago.pk, petition.pk))
    timings = {"seed (COPY)": time.perf_counter() - started}
    counted(closed_long_ago, commit)
    counted(petition, commit)
    delivery = commit(deliveries.prepare_delivery, closed_long_ago, [official])  # its files built
    Delivery.objects.filter(pk=delivery.pk).update(status=Delivery.Status.SENT, sent_at=ago(days=40))
    before = {page.pk: figures(page) for page in (closed_long_ago, petition)}
    assert before[closed_long_ago.pk]["count"] == SCALE * 9 // 10
    assert before[closed_long_ago.pk]["deliveries"][0][3] == SCALE // 100  # rows named in the files

    jobs = {
        "purge": tasks.purge_unverified_signatures,
        "anonymise": lambda: commit(tasks.anonymise_closed_petitions),
        "delivery files": tasks.delete_delivery_files,
    }
    runs = []
    for run in ("first run", "second run"):
        done = []
        for name, job in jobs.items():
            started = time.perf_counter()
            done.append(job())
            timings[f"{run}: {name}"] = time.perf_counter() - started
        runs.append(tuple(done))

    assert runs == [(SCALE // 20, SCALE * 9 // 10, 1), (0, 0, 0)]
    assert Signature.objects.filter(petition=petition).count() == SCALE // 20  # the young pending ones
    anonymised = Signature.objects.filter(petition=closed_long_ago)
    assert anonymised.filter(anonymised_at__isnull=False, status="verified").count() == SCALE * 9 // 10
    assert not anonymised.exclude(first_name="", last_name="", email="", postcode="", source="").exists()
    assert not anonymised.filter(ip_address__isnull=False).exists()
    assert not anonymised.exclude(email_normalized__startswith="anonymised-").exists()
    assert closed_long_ago.get_feed() == []
    started = time.perf_counter()
    assert commit(reconcile.full_recount) == {}  # no drift: the rows still count what was stored
    timings["full recount after"] = time.perf_counter() - started
    for page in (closed_long_ago, petition):
        counted(page, commit)
        assert figures(page) == before[page.pk]
    with capsys.disabled():
        print(
            f"\nRetention, {SCALE:,} signatures on PostgreSQL:", ", ".join(f"{k} {v:.2f} s" for k, v in timings.items())
        )
    assert sum(timings[f"first run: {name}"] for name in jobs) < 20
