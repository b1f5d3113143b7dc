"""With the plugin's cache on a Redis that is down, the web tier keeps working, degraded.

The database is the truth: a sign is stored and answered as usual (the email
task falls back to the row and the sweeper), the page and ``count.json`` are
served with the database's stored total, and the rate limit counts in the
process instead of Redis. Nothing here is a 500.
"""

import json

import pytest
import redis
from django.core.cache import caches
from django.test import Client

from cms.conf import get_signature_model
from cms.models import PetitionStats

from .conftest import sign_url

pytestmark = [pytest.mark.services, pytest.mark.django_db]

BROWSER = {"HTTP_ORIGIN": "http://testserver"}


@pytest.fixture
def dead_redis(private_redis_cache):
    """The plugin's cache on a Redis of this test's own, killed before the test runs."""
    private_redis_cache.stop()
    return private_redis_cache


@pytest.fixture
def client():
    # A server error must come back as a response to assert on, not as the test's exception.
    return Client(raise_request_exception=False)


def form_fields(n):
    return {"first_name": "Ada", "email": f"ada{n}@example.org", "feed_display": "first"}


def test_the_sign_form_stores_and_answers_as_usual(petition, client, dead_redis, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(sign_url(petition), form_fields(1), REMOTE_ADDR="10.0.0.1", **BROWSER)

    assert response.status_code == 302, response.content[:300]
    assert response["Location"] == petition.get_signed_url()
    assert get_signature_model().objects.filter(email="ada1@example.org").exists()


def test_the_json_api_and_the_osdi_helper_store_and_answer_as_usual(
    petition, client, dead_redis, django_capture_on_commit_callbacks
):
    body = {**form_fields(2)}
    osdi = {"person": {"given_name": "Ada", "email_addresses": [{"address": "ada3@example.org"}]}}
    with django_capture_on_commit_callbacks(execute=True):
        api = client.post(
            f"/api/petitions/{petition.pk}/signatures/", json.dumps(body), content_type="application/json", **BROWSER
        )
        helper = client.post(
            f"/api/osdi/v1/petitions/{petition.pk}/signatures/", json.dumps(osdi), content_type="application/json"
        )

    assert (api.status_code, helper.status_code) == (202, 202), (api.content, helper.content)
    stored = set(get_signature_model().objects.values_list("email", flat=True))
    assert {"ada2@example.org", "ada3@example.org"} <= stored


def test_the_rate_limit_still_refuses_counting_in_the_process(petition, client, dead_redis, settings):
    settings.PETITIONS = {**settings.PETITIONS, "RATE_LIMIT": 2}
    answers = [
        client.post(sign_url(petition), form_fields(n), REMOTE_ADDR="10.0.0.9", **BROWSER).status_code for n in range(3)
    ]

    assert answers == [302, 302, 429]


def test_the_page_is_served_with_the_stored_total(petition, client, dead_redis):
    PetitionStats.objects.create(petition_id=petition.pk, signature_count=1234)

    response = client.get(petition.url)

    assert response.status_code == 200
    assert b"1,234" in response.content or b"1234" in response.content


def test_the_count_is_served_with_the_stored_total(petition, client, dead_redis):
    PetitionStats.objects.create(petition_id=petition.pk, signature_count=77)

    response = client.get(f"/api/petitions/{petition.pk}/count.json")

    assert response.status_code == 200
    assert response.json()["count"] == 77


def test_the_api_detail_is_served_with_the_stored_total(petition, client, dead_redis):
    PetitionStats.objects.create(petition_id=petition.pk, signature_count=5)

    response = client.get(f"/api/petitions/{petition.pk}/")

    assert response.status_code == 200
    assert response.json()["count"] == 5


def test_the_resilient_cache_misses_and_skips_but_incr_still_raises(dead_redis):
    cache = caches["default"]

    assert cache.get("a-key", "the default") == "the default"
    assert cache.get_many(["a", "b"]) == {}
    assert cache.add("a-key", 1) is False
    cache.set("a-key", 1)
    cache.delete("a-key")
    with pytest.raises(redis.exceptions.ConnectionError):
        cache.incr("a-key")  # a counter's caller must know it counted nothing
