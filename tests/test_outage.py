"""A dependency's outage is a 503 with Retry-After and words a person understands, never Django's 500.

The database is made to fail the way a stopped PostgreSQL does (every query
raises ``OperationalError``) once the test's data is in place.
"""

import json

import pytest
from django.db import OperationalError, connection
from django.db.backends.utils import CursorWrapper
from django.test import Client

from cms import checks, middleware
from cms.tokens import make_token

from .conftest import confirm_url, sign_url
from .factories import SignatureFactory
from .redis_server import free_port

pytestmark = pytest.mark.django_db

REFUSED = 'connection to server at "127.0.0.1", port 5432 failed: Connection refused'


@pytest.fixture
def client():
    # A server error must come back as a response to assert on, not as the test's exception.
    return Client(raise_request_exception=False)


@pytest.fixture
def database_down(monkeypatch):
    """Call it to make every query fail as with PostgreSQL stopped."""

    def refuse(*args, **kwargs):
        raise OperationalError(REFUSED)

    def down():
        monkeypatch.setattr(CursorWrapper, "_execute", refuse)
        monkeypatch.setattr(CursorWrapper, "_executemany", refuse)

    middleware.forget_copies()
    yield down
    middleware.forget_copies()


class RaisingMiddleware:
    """Stands in for a middleware that reads the database (sessions, authentication) and fails."""

    error = OperationalError(REFUSED)

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        raise self.error


class BrokenMiddleware(RaisingMiddleware):
    error = ValueError("a bug, not an outage")


def assert_unavailable(response):
    assert response.status_code == 503, response.content[:300]
    assert response["Retry-After"] == "30"
    cache_control = response["Cache-Control"]
    assert "no-store" in cache_control and "public" not in cache_control and "stale" not in cache_control


def test_a_sign_post_while_the_database_is_down_is_a_503_saying_it_was_not_stored(petition, client, database_down):
    database_down()

    response = client.post(sign_url(petition), {"first_name": "Ada", "email": "ada@example.org"})

    assert_unavailable(response)
    text = response.content.decode()
    assert "was not stored" in text and "please sign again in 30 seconds" in text
    assert "Traceback" not in text and "Server Error" not in text


def test_the_json_api_answers_an_outage_in_its_error_shape(petition, client, database_down):
    database_down()
    body = {"first_name": "Ada", "email": "ada@example.org", "feed_display": "first"}

    signed = client.post(f"/api/petitions/{petition.pk}/signatures/", json.dumps(body), content_type="application/json")
    detail = client.get(f"/api/petitions/{petition.pk}/")

    for response in (signed, detail):
        assert_unavailable(response)
        assert response.json()["code"] == "unavailable"
        assert set(response.json()) == {"detail", "code"}
    assert "was not stored" in signed.json()["detail"]


def test_count_json_with_nothing_cached_and_the_database_down_is_a_json_503(petition, client, database_down):
    database_down()

    response = client.get(f"/api/petitions/{petition.pk}/count.json")

    assert_unavailable(response)
    assert response.json()["code"] == "unavailable"


def test_a_confirm_while_the_database_is_down_is_a_503(petition, client, database_down):
    token = make_token(SignatureFactory(petition=petition))
    database_down()

    response = client.post(confirm_url(petition), {"token": token})

    assert_unavailable(response)


def test_a_page_with_no_copy_anywhere_is_the_503_page_while_the_database_is_down(petition, client, database_down):
    url = petition.url
    database_down()

    response = client.get(url)

    assert_unavailable(response)
    assert "Please try again in 30 seconds" in response.content.decode()


def test_an_outage_inside_another_middleware_is_a_503_too(petition, client, settings):
    at = settings.MIDDLEWARE.index("cms.middleware.OutageMiddleware") + 1
    settings.MIDDLEWARE = [*settings.MIDDLEWARE[:at], "tests.test_outage.RaisingMiddleware", *settings.MIDDLEWARE[at:]]

    response = client.get("/admin/")

    assert_unavailable(response)


def test_an_error_that_is_no_outage_stays_a_500(petition, client, settings):
    at = settings.MIDDLEWARE.index("cms.middleware.OutageMiddleware") + 1
    settings.MIDDLEWARE = [*settings.MIDDLEWARE[:at], "tests.test_outage.BrokenMiddleware", *settings.MIDDLEWARE[at:]]

    assert client.get("/admin/").status_code == 500


def test_the_retry_after_is_a_setting(petition, client, database_down, settings):
    settings.PETITIONS = {**settings.PETITIONS, "OUTAGE_RETRY_AFTER": 120}
    database_down()

    response = client.post(sign_url(petition), {"first_name": "Ada", "email": "ada@example.org"})

    assert response["Retry-After"] == "120"
    assert "in 120 seconds" in response.content.decode()


@pytest.mark.services
def test_a_refused_database_connection_is_a_503_everywhere(django_db_blocker):
    """The real thing, not a stand-in: the connection goes to a port where no PostgreSQL listens."""
    client = Client(raise_request_exception=False)
    nobody = 2**30  # no petition this process has looked up before
    with django_db_blocker.unblock():
        connection.close()
        saved = dict(connection.settings_dict)
        connection.settings_dict.update(HOST="127.0.0.1", PORT=str(free_port()))
        try:
            page = client.get("/")
            signed = client.post(f"/petitions/{nobody}/sign/", {"email": "ada@example.org"})
            count = client.get(f"/api/petitions/{nobody}/count.json")
            api = client.get(f"/api/petitions/{nobody}/")
        finally:
            connection.close()
            connection.settings_dict.update(saved)

    for response in (page, signed, count, api):
        assert_unavailable(response)
    assert "try again in 30 seconds" in page.content.decode()
    assert "was not stored" in signed.content.decode()
    assert (count.json()["code"], api.json()["code"]) == ("unavailable", "unavailable")


def test_the_checks_warn_of_a_missing_or_misplaced_outage_middleware(settings):
    demo = list(settings.MIDDLEWARE)
    without = [name for name in settings.MIDDLEWARE if name != checks.OUTAGE]
    misplaced = [*without, checks.OUTAGE]

    assert checks.check_outage_middleware(None) == []
    settings.MIDDLEWARE = without
    assert [message.id for message in checks.check_outage_middleware(None)] == ["petitions.W050"]
    settings.MIDDLEWARE = misplaced
    assert [message.id for message in checks.check_outage_middleware(None)] == ["petitions.W051"]
    assert demo.index(checks.OUTAGE) < demo.index(checks.PAGE_CACHE)  # the demo's order, as the hint says
