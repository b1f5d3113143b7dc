"""Scenario 4 of the fault suite, short, for CI: Redis killed during signing, then restarted empty.

Real PostgreSQL, and a Redis of the test's own as the plugin's cache (its store,
the outbox, the rate limit, the cached pages, Wagtail's own entries). Tasks run
eagerly here (tests/settings.py): this proves the web tier and the repairs;
the real worker's side of a Redis outage is the fault suite's and the worker
CI tests'. While Redis is down every sign through the form, the JSON API and
the OSDI helper is answered as usual and stored, confirming works, and the page
and ``count.json`` answer 200 with the database's stored total. Once Redis is
back, empty, the overdue sweeper sends every owed email exactly once and one
reconcile makes the displayed count the database's.
"""

import json
import re
from collections import Counter

import pytest
from django.test import Client

from cms import middleware
from cms.conf import get_signature_model
from cms.tokens import make_token
from workers import tasks

from .conftest import confirm_url, sign_url
from .factories import SignatureFactory

pytestmark = [pytest.mark.services, pytest.mark.django_db]

BROWSER = {"HTTP_ORIGIN": "http://testserver"}
SIGNS_PER_PATH = 5


@pytest.fixture
def redis_cache(private_redis_cache, settings):
    """The plugin's cache (and Wagtail's) on a Redis of this test's own, running."""
    # Every overdue email is owed at once: the sweeper need not wait two minutes.
    settings.PETITIONS = {**settings.PETITIONS, "EMAIL_OVERDUE_AFTER": 0}
    return private_redis_cache


def displayed_count(response):
    return int(re.search(rb'data-count="(\d+)"', response.content).group(1))


def test_signing_survives_redis_killed_and_the_repairs_are_exact(
    petition, redis_cache, reconcile, django_capture_on_commit_callbacks, mailoutbox
):
    Signature = get_signature_model()
    client = Client(raise_request_exception=False)
    for _ in range(3):
        SignatureFactory(petition=petition, verified=True)
    reconcile()
    url, count_url = petition.url, f"/api/petitions/{petition.pk}/count.json"
    assert displayed_count(client.get(url)) == 3

    redis_cache.stop()
    answers = []
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(SIGNS_PER_PATH):
            fields = {"first_name": "Form", "email": f"form{n}@example.org", "feed_display": "first"}
            answers.append(client.post(sign_url(petition), fields, REMOTE_ADDR="10.0.0.1", **BROWSER))
            body = json.dumps({"first_name": "Api", "email": f"api{n}@example.org", "feed_display": "first"})
            answers.append(
                client.post(
                    f"/api/petitions/{petition.pk}/signatures/", body, content_type="application/json", **BROWSER
                )
            )
            person = {"given_name": "Osdi", "email_addresses": [{"address": f"osdi{n}@example.org"}]}
            answers.append(
                client.post(
                    f"/api/osdi/v1/petitions/{petition.pk}/signatures/",
                    json.dumps({"person": person}),
                    content_type="application/json",
                )
            )
        signed = Signature.objects.filter(status=Signature.Status.PENDING)
        # Two signers confirm while Redis is down (the links came with emails sent before the outage).
        confirming = list(signed.order_by("pk")[:2])
        confirmed = [client.post(confirm_url(petition), {"token": make_token(s)}) for s in confirming]
    page, count = client.get(url), client.get(count_url)

    assert sorted({answer.status_code for answer in answers}) == [202, 302], [a.content[:200] for a in answers]
    assert signed.count() + len(confirming) == 3 * SIGNS_PER_PATH
    assert [response.status_code for response in confirmed] == [200, 200]
    assert (page.status_code, displayed_count(page)) == (200, 3)  # the stored total: no reconcile has run
    assert (count.status_code, count.json()["count"]) == (200, 3)

    redis_cache.start()  # back, and empty
    sent_by_the_sweeper = [tasks.resend_overdue_verification_emails() for _ in range(2)]
    reconcile()

    # Owed an email: every signature made during the outage, but the two confirmed meanwhile.
    owed = set(signed.values_list("email", flat=True))
    sent = Counter(address for message in mailoutbox for address in message.to)
    assert sent_by_the_sweeper[1] == 0
    assert len(owed) == 3 * SIGNS_PER_PATH - len(confirming)
    assert {address: sent[address] for address in owed} == dict.fromkeys(owed, 1)
    assert not any(sent[signature.email] for signature in confirming)
    verified = Signature.objects.filter(petition=petition, status=Signature.Status.VERIFIED).count()
    assert verified == 3 + len(confirming)
    assert client.get(count_url).json()["count"] == verified
    middleware.forget_copies()  # past the cached copy's five seconds
    assert displayed_count(client.get(url)) == verified
