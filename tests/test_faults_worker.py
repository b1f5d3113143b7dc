"""Faults around the workers: an ESP failing or hanging, a worker killed mid-batch, counts while a
verification's transaction is held open, and every task delivered more than once (issue 11).

Real PostgreSQL and Redis; where the behaviour is asynchronous, a real ``celery worker`` process.
No test sleeps to synchronise: each waits on a condition, with a deadline.
"""

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test import Client

from cms import emails, signing
from cms import reconcile as reconciling
from cms.models import Milestone, PetitionStats, Signature, live_counts
from cms.signals import signature_verified
from cms.store import ESP_PAUSED_KEY, get_cache, get_store
from cms.tokens import make_token
from workers import tasks

from .concurrency import run_together
from .conftest import confirm_url, sign_url
from .factories import PetitionPageFactory, SignatureFactory

pytestmark = pytest.mark.services

WAIT = 20  # seconds: the deadline of every wait below


def live_count(petition):
    return live_counts([petition.pk])[petition.pk]


# --- counts exact after one reconcile (scenario 3's counting half) --------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_verification_held_open_past_the_lag_is_counted_by_the_next_reconcile(index_page):
    petition = PetitionPageFactory(parent=index_page)
    signature = SignatureFactory(petition=petition)
    reconciling.reconcile_counts([petition.pk])
    updated, release, failures = threading.Event(), threading.Event(), []

    def verify_in_a_slow_transaction():
        try:
            with transaction.atomic():  # a stalled request: the UPDATE done, the commit late
                assert signing.verify_signature(petition, make_token(signature)) == signing.VerifyResult.VERIFIED
                updated.set()
                assert release.wait(WAIT)
        except Exception as exc:  # surfaced in the test's thread
            failures.append(exc)
            updated.set()
        finally:
            connection.close()

    thread = threading.Thread(target=verify_in_a_slow_transaction)
    thread.start()
    try:
        assert updated.wait(WAIT)
        # RECONCILE_LAG is 0 in the tests: this run's watermark is past the verification's time.
        assert reconciling.reconcile_counts([petition.pk]) == {petition.pk: 0}
    finally:
        release.set()
        thread.join(WAIT)
    assert not failures, failures
    assert Signature.objects.get(pk=signature.pk).status == Signature.Status.VERIFIED
    assert live_count(petition) == 1  # recorded after commit, above the watermark

    assert reconciling.reconcile_counts([petition.pk]) == {petition.pk: 1}
    assert PetitionStats.objects.get(petition_id=petition.pk).signature_count == 1
    assert live_count(petition) == 1


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["redis", "embedded"])
def test_a_reconcile_published_after_a_newer_one_does_not_move_the_watermark_back(petition, kind, settings, tmp_path):
    """Two reconciles in a row publish after commit, in either order: the older must not win."""
    from django.utils import timezone

    if kind == "embedded":  # the demo's CacheStore, on a file cache
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                                       "LOCATION": str(tmp_path)}}  # fmt: skip
    store = get_store()
    t0 = timezone.now()
    store.apply_reconcile(petition.pk, 0, t0 - timezone.timedelta(seconds=10))
    for pk, seconds in ((101, -5), (102, -1)):
        assert store.record_verification(petition.pk, pk, t0 + timezone.timedelta(seconds=seconds), None)
    # Run 1 counted up to t0-6 (nothing); run 2, later, up to t0 (both). Run 2 publishes first.
    assert store.apply_reconcile(petition.pk, 2, t0) == 2
    store.apply_reconcile(petition.pk, 0, t0 - timezone.timedelta(seconds=6))

    assert live_count(petition) == 2
    assert store.record_verification(petition.pk, 103, t0 - timezone.timedelta(seconds=3), None) is False


# --- the ESP failing or hanging (scenario 7) ----------------------------------------------


@pytest.fixture
def postmark(settings, fake_esp):
    """This process sends through anymail's Postmark backend to the fake ESP, with short timeouts."""
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "fault-tests", "POSTMARK_API_URL": fake_esp.url,
                        "REQUESTS_TIMEOUT": (1, 1)}  # fmt: skip
    return fake_esp


@pytest.mark.django_db
def test_an_esp_outage_costs_one_request_per_batch_and_leaves_every_email_owed(petition, postmark):
    ids = [signature.pk for signature in SignatureFactory.create_batch(10, petition=petition)]
    postmark.set_mode("fail")

    assert emails.send_verification_emails(ids) == ([], ids)

    assert postmark.failed == 1  # the first 503 stops the batch: the other nine were not tried
    assert not Signature.objects.filter(email_sent_at__isnull=False).exists()
    assert sorted(signing.overdue_verification_email_ids(now=time_after(minutes=10))) == ids

    postmark.set_mode("accept")  # the ESP is back: the retry sends each email once
    assert emails.send_verification_emails(ids) == (ids, [])
    assert all(postmark.accepted[pk] == 1 for pk in ids)


@pytest.mark.django_db
def test_after_an_esp_failure_every_sender_holds_off_for_the_pause_then_probes_again(petition, postmark, settings):
    settings.PETITIONS = {**settings.PETITIONS, "ESP_PAUSE_SECONDS": 60}
    first, second = (
        [s.pk for s in SignatureFactory.create_batch(5, petition=petition)],
        [s.pk for s in SignatureFactory.create_batch(5, petition=petition)],
    )
    postmark.set_mode("fail")

    assert emails.send_verification_emails(first) == ([], first)
    assert emails.send_verification_emails(second) == ([], second)  # another batch, another worker: no request

    assert postmark.failed == 1
    postmark.set_mode("accept")
    get_cache().delete(ESP_PAUSED_KEY)  # the pause is over
    assert emails.send_verification_emails(first + second) == (first + second, [])
    assert all(postmark.accepted[pk] == 1 for pk in first + second)


@pytest.mark.django_db
def test_a_hanging_esp_times_out_and_the_batch_is_retried_not_held(petition, postmark):
    ids = [signature.pk for signature in SignatureFactory.create_batch(5, petition=petition)]
    postmark.set_mode("hold")
    started = time.monotonic()

    assert emails.send_verification_emails(ids) == ([], ids)

    assert time.monotonic() - started < 5  # one read timeout (1 s), not one per email
    assert len(postmark.received) == 1
    postmark.release()
    postmark.set_mode("accept")
    assert emails.send_verification_emails(ids) == (ids, [])


def test_the_retries_of_a_five_minute_outage_reach_the_esp_within_a_minute_of_its_return():
    outage = 300
    attempts, at = [], 0.0
    for retries in range(tasks.send_verification_emails.max_retries):
        at += tasks._backoff(retries)
        attempts.append(at)
    first_after = next(t for t in attempts if t >= outage)
    assert first_after - outage <= 60
    assert tasks.send_verification_emails.max_retries == 8 and attempts[-1] > 20 * 60  # then the sweeper


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_sweeper_and_a_retry_at_once_send_one_email(index_page, postmark, settings):
    """A retry still sending when the sweeper re-queues the same email: the row lock lets one through."""
    settings.ANYMAIL = {**settings.ANYMAIL, "REQUESTS_TIMEOUT": (1, WAIT)}  # held until released
    petition = PetitionPageFactory(parent=index_page)
    signature = SignatureFactory(petition=petition, email_requested_at=time_after(minutes=-10))
    postmark.set_mode("hold")
    results = []

    def retry():
        try:
            results.append(emails.send_verification_emails([signature.pk]))
        finally:
            connection.close()

    thread = threading.Thread(target=retry)
    thread.start()
    try:
        postmark.wait_for(lambda esp: esp.held == 1, WAIT, "the retry's request")
        assert signing.overdue_verification_email_ids() == [signature.pk]  # the sweeper finds it owed...
        assert emails.send_verification_emails([signature.pk]) == ([], [])  # ...and skips the locked row
    finally:
        postmark.release()
        thread.join(WAIT)
    assert results == [([signature.pk], [])]
    assert emails.send_verification_emails([signature.pk]) == ([], [])  # recorded: owed no more
    assert postmark.accepted[signature.pk] == 1


def time_after(**delta):
    from django.utils import timezone

    return timezone.now() + timezone.timedelta(**delta)


# --- 20 parallel clicks of one confirm link (scenario 3) ------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_twenty_parallel_clicks_of_one_confirm_link_verify_once_and_count_once(index_page):
    petition = PetitionPageFactory(parent=index_page)
    signature = SignatureFactory(petition=petition)
    reconciling.reconcile_counts([petition.pk])
    token = make_token(signature)
    heard = []
    signature_verified.connect(lambda **kwargs: heard.append(kwargs["signature_id"]), weak=False, dispatch_uid="t20")
    try:
        answers = run_together(
            *[lambda: Client().post(confirm_url(petition), {"token": token}).status_code for _ in range(20)]
        )
    finally:
        signature_verified.disconnect(dispatch_uid="t20")

    assert answers == [200] * 20
    assert heard == [signature.pk]  # one verification announced
    assert Signature.objects.filter(pk=signature.pk, status=Signature.Status.VERIFIED).count() == 1
    assert live_count(petition) == 1
    assert reconciling.reconcile_counts([petition.pk]) == {petition.pk: 1}
    assert live_count(petition) == 1


# --- a real worker process: killed mid-batch (scenario 6), every task three times (scenario 9) ------


class WorkerProcess:
    """``celery -A petitions_site worker`` in a session of its own, on the test's database and Redis.

    ``kill()`` SIGKILLs its whole process group (the main process and its pool), as a machine's
    crash or the OOM killer would: no task finishes, no message is acknowledged.
    """

    def __init__(self, env, log_dir, concurrency=2):
        self.env, self.log_dir, self.concurrency = env, log_dir, concurrency
        self.process = None
        self.starts = 0

    def start(self, timeout=WAIT, **env):
        self.starts += 1
        self.log = self.log_dir / f"worker-{self.starts}.log"
        name = f"faults-{self.starts}-{uuid.uuid4().hex[:6]}@%h"
        argv = [sys.executable, "-m", "celery", "-A", "petitions_site", "worker", "--pool", "prefork",
                "--concurrency", str(self.concurrency), "--without-heartbeat", "--without-gossip",
                "--without-mingle", "--loglevel", "INFO", "--hostname", name]  # fmt: skip
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(  # noqa: S603
                argv,
                env={**self.env, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=settings.BASE_DIR,
            )
        wait_until(lambda: b"ready." in self.log.read_bytes() or self.process.poll() is not None, timeout, "the worker")
        assert self.process.poll() is None, self.log.read_text()
        return self

    def kill(self):
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(WAIT)
        self.process = None


def wait_until(condition, timeout, what):
    """Poll a condition another process makes true (a row, a Redis key), with a deadline."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)  # polling a condition with a deadline, not a wait for time to pass


@pytest.fixture
def worker_world(settings, private_redis, fake_esp, tmp_path):
    """A private Redis as broker and cache for this process and a worker process, and the fake ESP.

    Yields (start a worker, publish a task, broker Redis client). Tasks are published on this run's
    queue in the private Redis (the worker's broker), each with the task id given, as many times as asked.
    """
    from django.conf import settings as django_settings

    app = tasks.send_verification_emails.app
    settings.CACHES = {"default": {**django_settings.CACHES["default"], "LOCATION": private_redis.url}}
    app.conf.task_always_eager = False
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.worker_settings",
        "REDIS_URL": private_redis.url,
        "CELERY_BROKER_URL": private_redis.url,
        "PETITIONS_WORKER_DATABASE": connection.settings_dict["NAME"],
        "PETITIONS_FAKE_ESP_URL": fake_esp.url,
    }
    workers = []

    def start(**env_overrides):
        worker = WorkerProcess(env, tmp_path)
        workers.append(worker)
        return worker.start(**env_overrides)

    broker = app.connection_for_write(private_redis.url)

    def publish(task, args=(), times=1):
        """Publish ``times`` copies of one task message (one task id); return the id."""
        task_id = str(uuid.uuid4())
        for _ in range(times):
            task.apply_async(args, task_id=task_id, connection=broker)
        return task_id

    try:
        yield start, publish, private_redis.client()
    finally:
        for worker in workers:
            worker.kill()
        broker.release()
        app.conf.task_always_eager = True


def all_finished(client, expected):
    """Every task id in ``expected`` ({id: copies published}) has run that many times, and nothing waits."""
    finished = Counter(
        task_id.decode() for task_id in client.lrange(f"{settings.TEST_RUN_PREFIX}:tasks-finished", 0, -1)
    )
    return all(finished[task_id] >= n for task_id, n in expected.items()) and broker_idle(client)


def broker_idle(client):
    """No message of this run waits in the queue or is held unacknowledged by a worker."""
    prefix = settings.TEST_BROKER_PREFIX
    return client.llen(prefix + settings.CELERY_TASK_DEFAULT_QUEUE) == 0 and client.hlen(prefix + "unacked") == 0


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_worker_killed_mid_batch_then_restarted_sends_every_email_and_only_the_one_in_flight_twice(
    index_page, worker_world, fake_esp
):
    start, publish, client = worker_world
    petition = PetitionPageFactory(parent=index_page)
    ids = [signature.pk for signature in SignatureFactory.create_batch(40, petition=petition)]
    worker = start()
    fake_esp.set_mode("accept", hold_after=12)  # then each of the two pool processes waits on one email
    for start_at in range(0, len(ids), 10):
        publish(tasks.send_verification_emails, [ids[start_at : start_at + 10]])
    fake_esp.wait_for(lambda esp: esp.held == 2, WAIT, "two emails in flight")
    in_flight = set(fake_esp.received[12:])

    worker.kill()
    # Each email the ESP answered was recorded before the next was sent: only the two in flight are not.
    assert Signature.objects.filter(email_sent_at__isnull=False).count() == 12
    assert not in_flight & set(Signature.objects.filter(email_sent_at__isnull=False).values_list("pk", flat=True))

    fake_esp.set_mode("accept")
    fake_esp.release()
    # Restarted: the unacknowledged batches come back after the visibility timeout (1 s here), and the
    # sweeper (as beat runs it) re-queues whatever is overdue (here at once) meanwhile.
    start(CELERY_VISIBILITY_TIMEOUT="1", PETITIONS_EMAIL_OVERDUE_AFTER="0")
    publish(tasks.resend_overdue_verification_emails)
    wait_until(lambda: not Signature.objects.filter(email_sent_at__isnull=True).exists(), WAIT, "every email sent")
    wait_until(lambda: broker_idle(client), WAIT, "every redelivered batch to run")

    assert set(fake_esp.accepted) == set(ids)
    twice = {pk for pk, n in fake_esp.accepted.items() if n > 1}
    assert max(fake_esp.accepted.values()) == 2 if twice else 1
    assert twice <= in_flight  # the ESP took them before the kill; nothing else went twice
    assert set(Signature.objects.values_list("email_status", flat=True)) == {Signature.EmailStatus.SENT}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_every_task_delivered_three_times_and_beat_twice_keeps_one_email_a_row_and_exact_counts(
    index_page, worker_world, fake_esp
):
    start, publish, client = worker_world
    petition = PetitionPageFactory(parent=index_page, goal=5)
    owed = [signature.pk for signature in SignatureFactory.create_batch(30, petition=petition)]
    confirming = SignatureFactory.create_batch(10, petition=petition, email_sent_at=time_after(seconds=-1))
    for signature in confirming:  # confirmed in this process: counted live through the private Redis
        with transaction.atomic():
            assert signing.verify_signature(petition, make_token(signature)) == signing.VerifyResult.VERIFIED
    store = get_store()
    for pk in owed:
        store.push_outbox(pk)
    start(PETITIONS_EMAIL_OVERDUE_AFTER="0")

    expected = {}
    for start_at in range(0, len(owed), 10):  # each send batch delivered three times, one task id
        expected[publish(tasks.send_verification_emails, [owed[start_at : start_at + 10]], times=3)] = 3
    for _beat in range(2):  # two beats, each publishing every periodic task twice
        for task in (tasks.drain_outbox, tasks.resend_overdue_verification_emails, tasks.reconcile_counts,
                     tasks.full_recount, tasks.purge_unverified_signatures, tasks.anonymise_closed_petitions,
                     tasks.delete_delivery_files):  # fmt: skip
            expected[publish(task, times=2)] = 2
    wait_until(lambda: all_finished(client, expected), WAIT, "every task")
    # The one reconcile after which the count must be exact.
    final = publish(tasks.reconcile_counts)
    wait_until(lambda: all_finished(client, {final: 1}), WAIT, "the reconcile")

    assert {pk: fake_esp.accepted[pk] for pk in owed} == dict.fromkeys(owed, 1)
    assert not set(fake_esp.accepted) - set(owed) - {0}  # nothing for the confirmed (0: the leads' emails)
    assert PetitionStats.objects.get(petition_id=petition.pk).signature_count == 10
    assert live_count(petition) == 10
    assert Milestone.objects.filter(petition_id=petition.pk, kind="goal").count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_redis_killed_while_signing_then_back_empty_the_worker_sends_each_email_once_and_counts_come_back(
    index_page, worker_world, fake_esp, private_redis
):
    """Scenario 4 with a real worker: Redis (broker, outbox, cache) dies while people sign."""
    start, publish, client = worker_world
    petition = PetitionPageFactory(parent=index_page)
    worker = start(PETITIONS_EMAIL_OVERDUE_AFTER="0")
    browser = Client(raise_request_exception=False)
    sign = sign_url(petition)

    def sign_as(n):
        data = {"first_name": "Ada", "email": f"ada{n}@example.org", "feed_display": "first"}
        return browser.post(sign, data, HTTP_ORIGIN="http://testserver", REMOTE_ADDR=f"198.18.0.{n}")

    assert sign_as(0).status_code == 302
    # The drain, as beat's backstop publishes it (this process's own nudge goes to the suite's broker).
    publish(tasks.drain_outbox)
    fake_esp.wait_for(lambda esp: len(esp.accepted) == 1, WAIT, "the first email, through Redis")
    first = Signature.objects.get()
    with transaction.atomic():
        assert signing.verify_signature(petition, make_token(first)) == signing.VerifyResult.VERIFIED

    private_redis.stop()
    answers = [sign_as(n).status_code for n in range(1, 11)]
    page = browser.get(petition.url)
    confirming = Signature.objects.exclude(pk=first.pk).order_by("pk")[:3]
    with transaction.atomic():
        for signature in confirming:  # by the token, as the confirm button does; counted from the rows
            assert signing.verify_signature(petition, make_token(signature)) == signing.VerifyResult.VERIFIED

    assert answers == [302] * 10  # signing goes on: each row stored, its email owed
    assert (page.status_code, Signature.objects.count()) == (200, 11)
    assert b'data-count="' in page.content

    private_redis.start()  # back, and empty: the outbox, the queue and the live counts are gone
    if worker.process.poll() is not None:  # a worker that lost its broker may exit: a supervisor restarts it
        worker = start(PETITIONS_EMAIL_OVERDUE_AFTER="0")
    sweep, count = publish(tasks.resend_overdue_verification_emails), publish(tasks.reconcile_counts)
    wait_until(lambda: all_finished(client, {sweep: 1, count: 1}), WAIT, "the sweeper and the reconcile")
    # Owed: the first and the seven still pending (the three confirmed meanwhile are owed none).
    fake_esp.wait_for(lambda esp: len(esp.accepted) == 8, WAIT, "every owed email")

    assert set(fake_esp.accepted.values()) == {1}  # each email once
    pending = Signature.objects.filter(status=Signature.Status.PENDING)
    assert set(fake_esp.accepted) == {first.pk, *pending.values_list("pk", flat=True)}
    assert not pending.filter(email_sent_at__isnull=True).exists()
    assert PetitionStats.objects.get(petition_id=petition.pk).signature_count == 4
    assert live_count(petition) == 4


# --- duplicate tasks of deliveries (scenario 9) ------------------------------------------


@pytest.mark.django_db
def test_a_duplicate_send_of_a_delivery_that_read_it_before_the_first_committed_announces_it_once(
    petition, official, commit, monkeypatch
):
    """Two copies of ``petitions.send_delivery``: the second read the delivery while the first was sending."""
    from cms import deliveries
    from cms.models import Delivery
    from cms.signals import delivery_sent

    SignatureFactory(petition=petition, verified=True, share_with_officials=True)
    commit(reconciling.reconcile_counts)
    delivery = commit(deliveries.prepare_delivery, petition, [official])
    Delivery.objects.filter(pk=delivery.pk).update(status=Delivery.Status.SENDING)
    stale = Delivery.objects.get(pk=delivery.pk)  # what the second copy read: not sent yet
    announced = []
    delivery_sent.connect(lambda delivery, **kw: announced.append(delivery.pk), weak=False, dispatch_uid="t-dup")
    try:
        commit(deliveries.send, delivery.pk)
        monkeypatch.setattr(Delivery.objects, "get", lambda **kwargs: stale)
        commit(deliveries.send, delivery.pk)
    finally:
        delivery_sent.disconnect(dispatch_uid="t-dup")

    assert announced == [delivery.pk]


@pytest.mark.django_db
def test_two_builds_of_one_delivery_at_once_keep_one_pair_of_files(
    petition, official, commit, monkeypatch, settings, tmp_path
):
    """A duplicated ``petitions.build_delivery_files`` finishing first: the other's files are not left behind."""
    from cms import deliveries, exports
    from cms.models import Delivery

    settings.MEDIA_ROOT = tmp_path
    SignatureFactory(petition=petition, verified=True, share_with_officials=True)
    commit(reconciling.reconcile_counts)
    monkeypatch.setattr(deliveries, "sends_itself", lambda delivery: False)
    monkeypatch.setattr(tasks.build_delivery_files, "delay", lambda *args: None)  # built below, twice
    delivery = commit(deliveries.prepare_delivery, petition, [official], include_list=True)
    write_csv, nested = exports.write_csv, []

    def write_csv_while_a_duplicate_builds(*args, **kwargs):
        if not nested:
            nested.append(None)
            nested[0] = deliveries.build_files(delivery.pk)  # the duplicate, start to end
        return write_csv(*args, **kwargs)

    monkeypatch.setattr(exports, "write_csv", write_csv_while_a_duplicate_builds)

    assert deliveries.build_files(delivery.pk) is False
    assert nested == [True]
    delivery = Delivery.objects.get(pk=delivery.pk)
    assert delivery.status == Delivery.Status.READY
    assert sorted(path for path in tmp_path.rglob("*") if path.is_file()) == sorted(
        Path(field.path) for field in (delivery.csv_file, delivery.pdf_file)
    )


# --- the system check of the ESP timeout -------------------------------------------------------


@pytest.mark.parametrize(
    ("backend", "anymail", "warned"),
    [
        ("anymail.backends.postmark.EmailBackend", {"POSTMARK_SERVER_TOKEN": "x"}, True),  # anymail's 30 s default
        ("anymail.backends.postmark.EmailBackend", {"REQUESTS_TIMEOUT": (3.05, 120)}, True),
        ("anymail.backends.mailgun.EmailBackend", {"REQUESTS_TIMEOUT": 90}, True),
        ("anymail.backends.postmark.EmailBackend", {"REQUESTS_TIMEOUT": (3.05, 10)}, False),
        ("anymail.backends.test.EmailBackend", {}, False),  # no HTTP: nothing to wait on
        ("django.core.mail.backends.smtp.EmailBackend", {}, False),
    ],
)
def test_the_system_check_warns_of_an_esp_timeout_unset_or_over_a_minute(settings, backend, anymail, warned):
    from cms.checks import _check_esp_timeout

    settings.EMAIL_BACKEND = backend
    settings.ANYMAIL = anymail

    assert [message.id for message in _check_esp_timeout()] == (["petitions.W060"] if warned else [])


def test_the_demo_settings_give_the_esp_a_short_timeout(settings):
    connect, read = settings.ANYMAIL["REQUESTS_TIMEOUT"]
    assert connect + read <= 60


@pytest.mark.django_db
def test_a_send_task_out_of_time_retries_its_batch_and_sends_nothing_twice(petition, monkeypatch, mailoutbox):
    from celery.exceptions import SoftTimeLimitExceeded

    ids = [signature.pk for signature in SignatureFactory.create_batch(3, petition=petition)]
    send = emails.send_verification_emails
    calls = []

    def slow_esp(signature_ids):  # the first run sends one email, then the soft time limit strikes
        calls.append(list(signature_ids))
        if len(calls) == 1:
            send(signature_ids[:1])
            raise SoftTimeLimitExceeded()
        return send(signature_ids)

    monkeypatch.setattr(emails, "send_verification_emails", slow_esp)
    monkeypatch.setitem(tasks.send_verification_emails.app.conf, "task_eager_propagates", False)

    assert tasks.send_verification_emails.apply(args=[ids]).state == "SUCCESS"
    assert calls == [ids, ids]
    assert sorted(int(m.anymail_test_params["metadata"]["signature_id"]) for m in mailoutbox) == ids


@pytest.mark.django_db
def test_during_an_esp_outage_each_sweep_costs_one_request_a_batch_and_starts_no_retries(
    petition, postmark, monkeypatch
):
    SignatureFactory.create_batch(30, petition=petition, email_requested_at=time_after(minutes=-10))
    postmark.set_mode("fail")
    monkeypatch.setitem(tasks.send_verification_emails.app.conf, "task_eager_propagates", False)

    assert tasks.resend_overdue_verification_emails.apply().get() == 30

    assert postmark.failed == 2  # two batches of 25 and 5, one failed request each, and no retry chain
    postmark.set_mode("accept")  # the next sweep, once the ESP is back, sends each once
    assert tasks.resend_overdue_verification_emails.apply().get() == 30
    assert sorted(postmark.accepted.values()) == [1] * 30
    assert tasks.resend_overdue_verification_emails.apply().get() == 0
