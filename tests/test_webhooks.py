"""Outgoing webhooks (cms.webhooks): signed, retried with backoff, dead-lettered, redelivered, guarded, scoped.

The receiver is a small threaded HTTP server on 127.0.0.1 in the test's own process
(``WEBHOOKS_ALLOW_PRIVATE`` is on for it). Retries are driven by calling
``webhooks.deliver`` with a fake clock: nothing sleeps, and the one hang is cut by a
read timeout of a fraction of a second.
"""

import hashlib
import hmac
import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse
from django.utils import timezone

from cms import deliveries, reconcile, signing, webhooks
from cms.models import Delivery, OfficialResponse, WebhookEndpoint, WebhookEvent
from cms.tokens import make_token
from workers.tasks import deliver_webhook, queue_webhooks

from .factories import LeadFactory, PetitionPageFactory, SignatureFactory

pytestmark = pytest.mark.django_db

ADD_URL = "wagtailsnippets_petitions_cms_webhookendpoint:add"


def verify(secret: str, headers, body: bytes, tolerance=300, now=None) -> bool:
    """The receiver's check, as docs/api.md ("Verifying a webhook") gives it."""
    timestamp = headers["X-Petitions-Timestamp"]
    if abs((now or time.time()) - int(timestamp)) > tolerance:
        return False  # too old (or from the future): a replay
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    parts = dict(part.split("=", 1) for part in headers["X-Petitions-Signature"].split(","))
    return parts.get("t") == timestamp and hmac.compare_digest(expected, parts.get("v1", ""))


class Receiver:
    """Answers each POST as the next of ``modes`` says ("ok", "fail", "hang", "garbage"), then "ok".

    Records every request it read (headers and body), answered or not, as a receiver would
    see it. A hung request waits on ``gate`` (released at the end), not on a clock.
    """

    def __init__(self):
        self.modes = []
        self.requests = []
        self.gate = threading.Event()
        self.changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.changed:
                    mode = receiver.modes.pop(0) if receiver.modes else "ok"
                    receiver.requests.append((dict(self.headers), body, mode))
                    receiver.changed.notify_all()
                if mode == "hang":
                    receiver.gate.wait(30)
                    return
                if mode == "garbage":
                    self.wfile.write(b"\x00\xffnot http at all\r\n\r\n")
                    self.close_connection = True
                    return
                self.send_response(500 if mode == "fail" else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()

    def event_ids(self):
        return [headers["X-Petitions-Event-Id"] for headers, _, _ in self.requests]


@pytest.fixture
def receiver(settings):
    settings.PETITIONS = {**settings.PETITIONS, "WEBHOOKS_ALLOW_PRIVATE": True, "WEBHOOKS_TIMEOUT": (1, 0.3)}
    server = Receiver()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("admin", "admin@example.org", "not-used")


def endpoint_for(campaign, url, *events, **fields):
    return WebhookEndpoint.objects.create(
        campaign=campaign, url=url, events=list(events) or ["signature.verified"], **fields
    )


def verified(petition, commit, **fields):
    """A signature confirmed through the real flow (so the signal and its receiver run)."""
    signature = SignatureFactory(petition=petition, **fields)
    commit(signing.verify_signature, petition, make_token(signature))
    return signature


# --- signing --------------------------------------------------------------------------


def test_the_signature_timestamp_and_event_id_headers_verify_with_the_documented_recipe(
    petition, index_page, receiver, commit
):
    endpoint = endpoint_for(index_page, receiver.url)
    verified(petition, commit)

    [(headers, body, _)] = receiver.requests
    assert headers["X-Petitions-Event"] == "signature.verified"
    assert verify(endpoint.secret, headers, body)
    assert json.loads(body)["id"] == headers["X-Petitions-Event-Id"]
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.DELIVERED
    # A changed body, another secret or an old timestamp fail the check.
    assert not verify(endpoint.secret, headers, body + b" ")
    assert not verify("whsec_other", headers, body)
    assert not verify(endpoint.secret, headers, body, now=time.time() + 301)


# --- failures, retries, dead letters ---------------------------------------------------


def test_a_receiver_that_fails_hangs_and_answers_garbage_loses_nothing_once_it_recovers(
    petition, index_page, receiver, commit
):
    receiver.modes = ["fail", "hang", "garbage", "fail", "hang", "garbage"]
    endpoint = endpoint_for(index_page, receiver.url)
    verified(petition, commit)  # its first attempt (the eager task): fail
    verified(petition, commit)  # and this one's: hang
    events = list(WebhookEvent.objects.order_by("created"))
    assert len(events) == 2

    clock = timezone.now()
    delays = []
    pending = [str(event.id) for event in events]
    while pending:
        clock += timedelta(seconds=max(delays[-1:] or [0]))
        still = []
        for event_id in pending:
            delay = webhooks.deliver(event_id, now=clock, rng=lambda: 0.5)
            if delay is not None:
                delays.append(delay)
                still.append(event_id)
        pending = still

    ids = receiver.event_ids()
    assert {str(event.id) for event in events} == set(ids)  # each event arrived
    assert len(ids) == 8  # 6 failures, then one success each
    assert all(
        verify(endpoint.secret, headers, body, now=int(headers["X-Petitions-Timestamp"]))
        for headers, body, _ in receiver.requests
    )
    delivered = [headers["X-Petitions-Event-Id"] for headers, _, mode in receiver.requests if mode == "ok"]
    assert sorted(delivered) == sorted(str(event.id) for event in events)
    for event in events:
        event.refresh_from_db()
        assert event.status == WebhookEvent.Status.DELIVERED
        assert event.attempts.count() == ids.count(str(event.id))
        # the duplicates a receiver saw (a hang it answered too late) carry the one event id
        assert {
            json.loads(body)["id"]
            for headers, body, _ in receiver.requests
            if headers["X-Petitions-Event-Id"] == str(event.id)
        } == {str(event.id)}
    # The first attempts ran in the eager task; the retries after them waited (30 * 2**n) * (1/2 + 0.5/2).
    assert delays == [45.0, 45.0, 90.0, 90.0]
    errors = set(WebhookEvent.objects.values_list("attempts__error", flat=True))
    assert "HTTP 500" in errors
    assert any(error.startswith("ReadTimeout") for error in errors)
    assert any(error.startswith("ProtocolError") for error in errors)  # the garbage


def test_the_task_is_safe_to_run_twice(petition, index_page, receiver, commit):
    endpoint_for(index_page, receiver.url)
    verified(petition, commit)
    event_id = str(WebhookEvent.objects.get().id)
    deliver_webhook.delay(event_id)
    deliver_webhook.delay(event_id)
    assert receiver.event_ids() == [event_id]


def test_an_event_whose_task_was_lost_is_queued_again_by_the_sweeper(petition, index_page, receiver, commit):
    receiver.modes = ["fail"]
    endpoint_for(index_page, receiver.url)
    verified(petition, commit)  # one failed attempt; say its retry task was lost with the broker
    event = WebhookEvent.objects.get()
    assert webhooks.stalled_event_ids() == []
    later = timezone.now() + timedelta(hours=2)
    assert webhooks.stalled_event_ids(now=later) == [str(event.id)]

    queue_webhooks(webhooks.stalled_event_ids(now=later))
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.DELIVERED
    assert receiver.event_ids() == [str(event.id)] * 2


def test_backoff_doubles_with_jitter_up_to_the_cap(settings):
    settings.PETITIONS = {**settings.PETITIONS, "WEBHOOKS_RETRY_BASE": 30, "WEBHOOKS_RETRY_MAX": 3600}
    lowest = [webhooks.backoff(n, rng=lambda: 0.0) for n in range(9)]
    highest = [webhooks.backoff(n, rng=lambda: 0.999999) for n in range(9)]
    assert lowest == [15, 30, 60, 120, 240, 480, 960, 1800, 1800]
    assert [round(delay) for delay in highest] == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_after_the_retry_window_the_event_is_dead_lettered_and_redeliver_sends_it_again_with_its_id(
    petition, index_page, receiver, commit, superuser, client, django_capture_on_commit_callbacks
):
    receiver.modes = ["fail"] * 1000
    endpoint_for(index_page, receiver.url)
    verified(petition, commit)
    event = WebhookEvent.objects.get()

    clock, delays = event.window_started_at, []
    while (delay := webhooks.deliver(event.id, now=clock, rng=lambda: 0.5)) is not None:
        delays.append(delay)
        clock += timedelta(seconds=delay)
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.DEAD
    assert clock - event.window_started_at <= timedelta(hours=24)
    # the first attempt (the eager task), then one after each delay, then the last one that found the window over
    assert event.attempts_made == len(receiver.requests) == len(delays) + 2 == event.attempts.count()
    assert sum(delays) > 23 * 3600  # it kept trying for (nearly) the whole day

    client.force_login(superuser)
    listing = client.get(reverse("petitions_webhooks:events"))
    assert str(event.id) in listing.content.decode()
    receiver.modes = []
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("petitions_webhooks:redeliver"), {"event": [str(event.id)]})
    assert response.status_code == 302
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.DELIVERED
    assert receiver.event_ids()[-1] == str(event.id)
    assert set(receiver.event_ids()) == {str(event.id)}


def test_an_endpoint_switched_off_dead_letters_its_pending_events(petition, index_page, receiver, commit):
    receiver.modes = ["fail"]
    endpoint = endpoint_for(index_page, receiver.url)
    verified(petition, commit)
    endpoint.active = False
    endpoint.save()
    assert webhooks.deliver(WebhookEvent.objects.get().id) is None
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.DEAD
    assert len(receiver.requests) == 1


# --- the URL guard ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://10.0.0.1/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://localhost/hook",
        "file:///etc/passwd",
        "ftp://example.org/hook",
    ],
)
def test_a_url_on_a_private_network_or_not_http_is_refused_with_a_field_error(url, index_page, superuser, client):
    client.force_login(superuser)
    response = client.post(
        reverse(ADD_URL), {"campaign": index_page.pk, "url": url, "events": ["signature.verified"], "active": "on"}
    )
    assert response.status_code == 200
    assert "url" in response.context["form"].errors
    assert not WebhookEndpoint.objects.exists()


def test_a_public_url_is_registered_with_a_generated_secret(index_page, superuser, client):
    client.force_login(superuser)
    response = client.post(
        reverse(ADD_URL),
        {
            "campaign": index_page.pk,
            "url": "https://93.184.215.14/hook",
            "events": ["signature.verified"],
            "active": "on",
        },
    )
    assert response.status_code == 302
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret.startswith("whsec_") and len(endpoint.secret) > 40
    assert endpoint.created_by == superuser
    edit = client.get(reverse("wagtailsnippets_petitions_cms_webhookendpoint:edit", args=[endpoint.pk]))
    assert endpoint.secret in edit.content.decode()  # revealable to whoever may edit it


def test_a_private_address_is_refused_again_at_send_time(petition, index_page, commit, settings):
    # Registered while allowed (or a name that resolved elsewhere then): the send checks again.
    endpoint_for(index_page, "http://localhost:9/hook")
    verified(petition, commit)
    event = WebhookEvent.objects.get()
    assert webhooks.deliver(event.id) is not None  # the eager task's attempt, then this one: both refused
    assert [("private" in error) for error in event.attempts.values_list("error", flat=True)] == [True, True]


# --- payloads -------------------------------------------------------------------------


def test_a_counts_only_endpoint_gets_counts_and_ids_without_personal_data(petition, index_page, receiver, commit):
    full = endpoint_for(index_page, receiver.url)
    counts = endpoint_for(index_page, receiver.url + "?counts", counts_only=True)
    signature = verified(
        petition,
        commit,
        first_name="Zelda",
        email="zelda@example.org",
        country="FR",
        share_with_officials=True,
        ip_address="203.0.113.9",
    )
    by_endpoint = {event.endpoint_id: event.payload for event in WebhookEvent.objects.all()}

    data = by_endpoint[counts.pk]["data"]
    assert data == {"petition": {"id": petition.pk}, "signature": {"id": signature.pk}, "signature_count": 1}
    text = json.dumps(by_endpoint[counts.pk])
    for personal in ("Zelda", "zelda@example.org", "203.0.113.9", "FR"):
        assert personal not in text

    shared = by_endpoint[full.pk]["data"]["signature"]
    assert shared["signer"] == {"first_name": "Zelda", "country": "FR"}
    assert "zelda@example.org" not in json.dumps(by_endpoint[full.pk])
    assert "203.0.113.9" not in json.dumps(by_endpoint[full.pk])


def test_a_signer_who_did_not_consent_is_sent_without_name_or_country(petition, index_page, receiver, commit):
    endpoint_for(index_page, receiver.url)
    verified(petition, commit, first_name="Zelda", share_with_officials=False)
    payload = WebhookEvent.objects.get().payload
    assert "signer" not in payload["data"]["signature"]
    assert "Zelda" not in json.dumps(payload)


def test_an_official_response_is_an_event(petition, index_page, receiver, commit, official):
    endpoint_for(index_page, receiver.url, "official.responded")
    response = commit(
        OfficialResponse.objects.create,
        petition=petition,
        official=official,
        responded_on=timezone.localdate(),
        text="<p>No.</p>",
    )
    [(headers, body, _)] = receiver.requests
    assert headers["X-Petitions-Event"] == "official.responded"
    assert json.loads(body)["data"]["response"] == {
        "id": response.pk,
        "official": official.name,
        "responded_on": response.responded_on.isoformat(),
    }


def test_milestones_and_a_sent_delivery_are_events(index_page, official, receiver, django_capture_on_commit_callbacks):
    petition = PetitionPageFactory(parent=index_page, goal=3, milestone_step=2)
    endpoint_for(index_page, receiver.url, "milestone.reached", "delivery.sent")
    SignatureFactory.create_batch(3, petition=petition, verified=True, share_with_officials=True)
    with django_capture_on_commit_callbacks(execute=True):
        reconcile.reconcile_counts([petition.pk])
    with django_capture_on_commit_callbacks(execute=True):
        delivery = deliveries.prepare_delivery(petition, [official])
    with django_capture_on_commit_callbacks(execute=True):
        deliveries.start_sending(Delivery.objects.get(pk=delivery.pk))

    bodies = [json.loads(body) for _, body, _ in receiver.requests]
    milestones = [b["data"]["milestone"]["threshold"] for b in bodies if b["type"] == "milestone.reached"]
    assert milestones == [2, 3]
    [sent] = [b["data"] for b in bodies if b["type"] == "delivery.sent"]
    assert sent["delivery"]["id"] == delivery.pk and sent["delivery"]["officials"] == [official.name]
    assert all(
        status == WebhookEvent.Status.DELIVERED for status in WebhookEvent.objects.values_list("status", flat=True)
    )


def test_an_endpoint_gets_only_the_events_it_asked_for(petition, index_page, receiver, commit):
    endpoint_for(index_page, receiver.url, "milestone.reached")
    verified(petition, commit)
    assert not WebhookEvent.objects.exists()


# --- the hot path -----------------------------------------------------------------------


def test_a_verification_with_no_endpoint_costs_no_query_and_a_new_endpoint_is_seen_at_once(
    petition, index_page, django_assert_num_queries
):
    webhooks.wanted("signature.verified", petition)  # this process loads its (empty) table
    with django_assert_num_queries(0):
        assert webhooks.wanted("signature.verified", petition) == []
    endpoint = endpoint_for(index_page, "https://93.184.215.14/hook")
    assert webhooks.wanted("signature.verified", petition) == [endpoint.pk]
    with django_assert_num_queries(0):
        assert webhooks.wanted("signature.verified", petition) == [endpoint.pk]
    endpoint.delete()
    assert webhooks.wanted("signature.verified", petition) == []


# --- scoping ----------------------------------------------------------------------------


@pytest.fixture
def lead_a(campaign_a):
    return LeadFactory(campaigns=[campaign_a])


def test_an_endpoint_of_campaign_a_hears_nothing_of_campaign_b_and_a_site_wide_one_hears_both(
    campaign_a, campaign_b, receiver, commit
):
    petition_a = PetitionPageFactory(parent=campaign_a)
    petition_b = PetitionPageFactory(parent=campaign_b)
    of_a = endpoint_for(campaign_a, receiver.url)
    everywhere = endpoint_for(None, receiver.url + "?all")
    verified(petition_a, commit)
    verified(petition_b, commit)
    assert WebhookEvent.objects.filter(endpoint=of_a).count() == 1
    assert WebhookEvent.objects.filter(endpoint=everywhere).count() == 2


def test_campaign_leads_may_manage_webhook_endpoints(lead_a):
    assert lead_a.has_perms(
        [
            "petitions_cms.add_webhookendpoint",
            "petitions_cms.change_webhookendpoint",
            "petitions_cms.delete_webhookendpoint",
        ]
    )


def test_a_lead_registers_endpoints_only_for_their_own_campaigns(lead_a, campaign_a, campaign_b, client):
    client.force_login(lead_a)
    data = {"url": "https://93.184.215.14/hook", "events": ["signature.verified"], "active": "on"}
    for campaign in ("", campaign_b.pk):
        response = client.post(reverse(ADD_URL), {**data, "campaign": campaign})
        assert response.status_code == 200
        assert "campaign" in response.context["form"].errors
    assert client.post(reverse(ADD_URL), {**data, "campaign": campaign_a.pk}).status_code == 302
    assert WebhookEndpoint.objects.get().campaign_id == campaign_a.pk


def test_a_lead_sees_edits_and_redelivers_only_their_campaigns_endpoints(
    lead_a, campaign_a, campaign_b, client, django_capture_on_commit_callbacks
):
    mine = endpoint_for(campaign_a, "https://93.184.215.14/mine")
    theirs = endpoint_for(campaign_b, "https://93.184.215.14/theirs")
    site_wide = endpoint_for(None, "https://93.184.215.14/all")
    now = timezone.now()
    dead = {
        endpoint.pk: WebhookEvent.objects.create(
            endpoint=endpoint,
            event_type="signature.verified",
            payload={},
            window_started_at=now,
            status=WebhookEvent.Status.DEAD,
        )
        for endpoint in (mine, theirs, site_wide)
    }
    client.force_login(lead_a)
    listing = client.get(reverse("wagtailsnippets_petitions_cms_webhookendpoint:list")).content.decode()
    assert "/mine" in listing and "/theirs" not in listing and "/all" not in listing
    edit = "wagtailsnippets_petitions_cms_webhookendpoint:edit"
    assert client.get(reverse(edit, args=[mine.pk])).status_code == 200
    assert client.get(reverse(edit, args=[theirs.pk])).status_code == 404
    assert client.get(reverse(edit, args=[site_wide.pk])).status_code == 404

    events = client.get(reverse("petitions_webhooks:events")).content.decode()
    assert str(dead[mine.pk].id) in events and str(dead[theirs.pk].id) not in events
    with django_capture_on_commit_callbacks(execute=False):
        client.post(reverse("petitions_webhooks:redeliver"), {"event": [str(e.id) for e in dead.values()] + ["junk"]})
    statuses = dict(WebhookEvent.objects.values_list("endpoint_id", "status"))
    assert statuses == {mine.pk: "pending", theirs.pk: "dead", site_wide.pk: "dead"}


def test_an_editor_without_the_lead_permission_sees_no_webhook_events(client, django_user_model):
    user = django_user_model.objects.create_user("editor", password="x")
    client.force_login(user)
    assert client.get(reverse("petitions_webhooks:events")).status_code in (302, 403)
