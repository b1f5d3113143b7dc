"""Whether an address had signed never shows: the same answer, and the same work, for every address.

Issue 9, item 5. A new address, a pending one (emailed a moment ago, or owed a resend), a verified
one, one a lead invalidated or marked fraudulent, and one whose inbox hit its daily email cap all
get the same status, body and headers on the HTML and the API path; the request runs the same SQL
statements and the same store and task calls, so the timing tells them apart no more than the answer
does. What differs happens later, in the worker, which skips every id it owes no email.
"""

import json
import re
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cms import signing
from cms import store as store_module
from cms.models import Signature
from cms.signals import signature_signed
from workers import tasks

from .concurrency import run_together
from .conftest import sign_url
from .factories import PetitionPageFactory, SignatureFactory

pytestmark = pytest.mark.django_db

API = "api"
HTML = "html"


def api_sign_url(page):
    return f"/api/petitions/{page.pk}/signatures/"


def _minutes_ago(minutes):
    return timezone.now() - timedelta(minutes=minutes)


#: "The moment the history was made": an email requested and sent at this instant is not owed.
NOW = "now"

#: What each case's address has done before the sign under test (None: nothing, a new address).
HISTORIES = {
    "new": None,
    "pending, emailed a moment ago": {"email_sent_at": NOW, "email_status": "sent"},
    "pending, owed a resend": {
        "email_requested_at": lambda: _minutes_ago(60),
        "email_sent_at": lambda: _minutes_ago(60),
        "email_status": "sent",
    },
    "pending, email not sent yet": {},
    "verified": {"status": "verified", "verified_at": NOW, "email_sent_at": NOW},
    "invalidated": {"status": "invalidated", "email_sent_at": NOW},
    "fraudulent": {"status": "fraudulent", "email_sent_at": NOW},
    "pending, over its daily email cap": {"email_sent_at": NOW, "email_status": "capped"},
    "pending, address refused by the ESP": {
        "email_requested_at": lambda: _minutes_ago(60),
        "email_sent_at": lambda: _minutes_ago(60),
        "email_status": "refused",
    },
}


def make_history(petition, email, history):
    if history is None:
        return None
    now = timezone.now()
    values = {"email_requested_at": now}
    for key, value in history.items():
        values[key] = now if value == NOW else value() if callable(value) else value
    return SignatureFactory(petition=petition, email=email, first_name="Earlier", **values)


def post_sign(page, path, email, client=None):
    """One sign request as a new visitor makes it (no cookies), from one connection."""
    client = client or Client()
    fields = {"first_name": "Ada", "last_name": "Lovelace", "email": email, "feed_display": "first"}
    if path == HTML:
        return client.post(sign_url(page), fields, REMOTE_ADDR="10.0.0.1")
    return client.post(api_sign_url(page), json.dumps(fields), content_type="application/json", REMOTE_ADDR="10.0.0.1")


def answer(response):
    """Everything a client sees: status, body, every header but Date, and cookies."""
    headers = {name.lower(): value for name, value in response.items() if name.lower() != "date"}
    cookies = {name: morsel.OutputString() for name, morsel in response.cookies.items()}
    return response.status_code, response.content, headers, cookies


@pytest.fixture
def steady(settings):
    """The page lookup stays cached for the whole test, as it does for a surge of signers."""
    settings.PETITIONS = {**settings.PETITIONS, "PAGE_LOOKUP_SECONDS": 3600}


@pytest.mark.parametrize("path", [HTML, API])
def test_every_address_gets_the_same_status_body_and_headers(petition, steady, path):
    post_sign(petition, path, "warm-up@example.org")  # the page lookup is cached, as it is mid-surge
    answers = {}
    for i, (case, history) in enumerate(HISTORIES.items()):
        email = f"case{i}@example.org"
        make_history(petition, email, history)
        answers[case] = answer(post_sign(petition, path, email))

    expected = answers["new"]
    assert expected[0] == (302 if path == HTML else 202)
    assert {case: got for case, got in answers.items() if got != expected} == {}


@pytest.mark.parametrize("path", [HTML, API])
def test_a_disposable_address_gets_the_same_field_error_whether_or_not_it_signed(petition, steady, path, mailoutbox):
    # Signed before its domain was listed as disposable (the package's list grows).
    SignatureFactory(petition=petition, email="signed@mailinator.com", verified=True)

    signed = answer(post_sign(petition, path, "signed@mailinator.com"))
    never = answer(post_sign(petition, path, "never1@mailinator.com"))

    # The form shows the address as typed; apart from that, nothing differs.
    assert signed[0] == never[0] == 400
    assert signed[1].replace(b"signed@", b"never1@") == never[1]
    assert (signed[2], signed[3]) == (never[2], never[3])
    assert b"disposable addresses, which cannot sign" in never[1]
    assert mailoutbox == []


def test_the_api_answer_carries_no_signature_id_or_anything_about_the_address(petition, steady):
    response = post_sign(petition, API, "ada@example.org")

    assert response.status_code == 202
    assert response.json() == {
        "status": "accepted",
        "detail": "Thank you! Please check your email and click the link to confirm your signature.",
    }
    assert "ETag" not in response
    assert not response.cookies


# --- the work a sign request does ---------------------------------------------------------------

#: Literals in an SQL statement (the address, times, ids): the statement's shape is what is left.
LITERALS = re.compile(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b")


def shape(sql):
    return LITERALS.sub("?", sql)


@pytest.fixture
def work(monkeypatch, django_capture_on_commit_callbacks):
    """Record what a sign does: its SQL (shapes), its store calls and its task publishes, after commit too."""
    store_calls, published = [], []
    store_class = type(store_module.get_store())
    for name in dir(store_module.BaseStore):
        if name.startswith("_") or not callable(getattr(store_module.BaseStore, name)):
            continue
        method = getattr(store_class, name)

        def spy(self, *args, _method=method, _name=name, **kwargs):
            store_calls.append(_name)
            return _method(self, *args, **kwargs)

        monkeypatch.setattr(store_class, name, spy)
    for task in (tasks.drain_outbox, tasks.send_verification_emails):
        # Published, not run: the worker's work is not the request's.
        monkeypatch.setattr(task, "delay", lambda *args, _name=task.name, **kwargs: published.append(_name))

    def _work(function, *args, **kwargs):
        store_module.get_store().start_draining()  # every case starts with the drain task asleep
        del store_calls[:], published[:]
        with (
            CaptureQueriesContext(connection) as queries,
            django_capture_on_commit_callbacks(execute=True) as callbacks,
        ):
            result = function(*args, **kwargs)
        return result, {
            "sql": [shape(query["sql"]) for query in queries],
            "store": list(store_calls),
            "tasks": list(published),
            "on_commit": len(callbacks),
        }

    return _work


@pytest.mark.services
@pytest.mark.parametrize("path", [HTML, API])
def test_every_address_costs_the_same_queries_store_calls_and_tasks(petition, steady, work, path):
    client = Client()
    post_sign(petition, path, "warm-up@example.org", client)
    costs = {}
    for i, (case, history) in enumerate(HISTORIES.items()):
        email = f"case{i}@example.org"
        make_history(petition, email, history)
        response, costs[case] = work(post_sign, petition, path, email, client)
        assert response.status_code in (302, 202), case

    expected = costs["new"]
    # One statement on the signatures, whatever the address's history (the API also looks the page up).
    assert len([sql for sql in expected["sql"] if Signature._meta.db_table in sql]) == 1
    assert expected["store"] == ["count_attempts", "push_outbox"]  # the rate limit, the outbox
    assert expected["tasks"] == ["petitions.drain_outbox"]
    assert {case: cost for case, cost in costs.items() if cost != expected} == {}


# --- what the worker then does with each id -----------------------------------------------------

#: The cases whose sign leaves an email owed; the worker skips every other id the sign pushed.
MAILED = {"new", "pending, owed a resend", "pending, email not sent yet"}
#: Pending past the resend interval: the sign asks for a new email (never sent to a refused address).
REQUESTED_AGAIN = {"pending, owed a resend", "pending, address refused by the ESP"}


@pytest.fixture(params=["postgresql", "other"])
def vendor(request, monkeypatch):
    """Each case on PostgreSQL's one statement, and on the path other databases (SQLite) take."""
    if request.param == "other":
        monkeypatch.setattr(connection, "vendor", "sqlite")
    return request.param


#: What a sign replaces of a pending signature: the signer's fields and consent, never the address or status.
REPLACED_WHILE_PENDING = {field.name for field in signing.replaced_fields(Signature)}


def test_only_an_owed_email_is_sent_and_only_a_pending_signature_is_overwritten(
    petition, steady, vendor, commit, mailoutbox
):
    before = {}
    for i, (case, history) in enumerate(HISTORIES.items()):
        existing = make_history(petition, f"case{i}@example.org", history)
        if existing is not None:
            before[case] = Signature.objects.values().get(pk=existing.pk)

    mailed = set()
    for i, case in enumerate(HISTORIES):
        del mailoutbox[:]
        commit(post_sign, petition, HTML, f"case{i}@example.org")  # eager tasks: the worker runs here
        if mailoutbox:
            mailed.add(case)
        # One row per address; a re-sign moves its email request at most, never what was stored.
        row = Signature.objects.values().get(petition_id=petition.pk, email_normalized=f"case{i}@example.org")
        if case in before:
            changed = {key for key, value in row.items() if before[case][key] != value}
            outbox = {"email_requested_at", "email_sent_at", "email_status", "email_message_id"}
            if before[case]["status"] == "pending":
                # The latest submission's name, choices and consent replace a pending one's
                # (issue 10; tests/test_consent.py): the inbox's owner confirms what is stored.
                assert changed - outbox <= REPLACED_WHILE_PENDING, case
                assert row["first_name"] == "Ada"
            else:
                assert changed <= outbox, case
                assert row["first_name"] == "Earlier"
            assert ("email_requested_at" in changed) is (case in REQUESTED_AGAIN), case

    assert mailed == MAILED
    assert Signature.objects.filter(petition_id=petition.pk).count() == len(HISTORIES)


def test_signing_again_within_the_interval_sends_no_second_email_though_the_id_is_queued_again(
    petition, vendor, commit, mailoutbox
):
    for _ in range(3):
        commit(post_sign, petition, API, "ada@example.org")

    assert len(mailoutbox) == 1


def test_signature_signed_is_sent_only_when_a_sign_makes_an_email_owed(petition, vendor, commit):
    events = []

    def receiver(sender, **kwargs):
        events.append((kwargs["signature_id"], kwargs["created"]))

    signature_signed.connect(receiver)
    try:
        commit(post_sign, petition, HTML, "new@example.org")
        commit(post_sign, petition, HTML, "new@example.org")  # within the interval: nothing owed
        verified = SignatureFactory(petition=petition, email="verified@example.org", verified=True)
        commit(post_sign, petition, HTML, "verified@example.org")
        owed = SignatureFactory(petition=petition, email="owed@example.org", email_requested_at=_minutes_ago(60))
        commit(post_sign, petition, HTML, "owed@example.org")
    finally:
        signature_signed.disconnect(receiver)

    new = Signature.objects.get(email="new@example.org")
    assert events == [(new.pk, True), (owed.pk, False)]
    assert verified.pk not in [signature_id for signature_id, _ in events]


def test_a_rolled_back_resign_of_a_known_address_queues_nothing_and_moves_nothing(petition, vendor, monkeypatch):
    pushed = []
    monkeypatch.setattr(signing, "queue_verification_email", pushed.append)
    owed = SignatureFactory(petition=petition, email="ada@example.org", email_requested_at=_minutes_ago(60))
    requested = Signature.objects.get(pk=owed.pk).email_requested_at

    with pytest.raises(RuntimeError), transaction.atomic():
        signing.sign_petition(petition, {"first_name": "Ada", "email": "ada@example.org"})
        raise RuntimeError("the request failed after the upsert")

    assert pushed == []
    assert Signature.objects.get(pk=owed.pk).email_requested_at == requested


# --- two re-signs at once (real PostgreSQL) ------------------------------------------------------


@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_resigns_racing_each_other_make_one_email_owed(index_page, monkeypatch):
    petition = PetitionPageFactory(parent=index_page)
    pushed = []
    monkeypatch.setattr(signing, "queue_verification_email", pushed.append)
    owed = SignatureFactory(petition=petition, email="ada@example.org", email_requested_at=_minutes_ago(60))
    data = {"first_name": "Ada", "email": "ada@example.org"}

    results = run_together(*[lambda: signing.sign_petition(petition, dict(data))] * 4)

    assert sorted(results, key=lambda r: r is None) == [owed.pk, None, None, None]
    assert pushed == [owed.pk] * 4  # every sign pushes; the worker sends the one owed email
    assert Signature.objects.filter(petition_id=petition.pk).count() == 1
