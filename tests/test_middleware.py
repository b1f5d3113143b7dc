"""The shared page cache (cms.middleware): a cached copy is as safe as a fresh one, and outlives an outage."""

import time

import pytest
from django.db import OperationalError
from django.db.backends.utils import CursorWrapper
from django.http import HttpResponse
from django.test import RequestFactory

from cms import middleware
from cms.tokens import make_token

from .conftest import sign_url
from .factories import SignatureFactory

pytestmark = pytest.mark.django_db

CACHE = "cms.middleware.PetitionPageCacheMiddleware"
#: What a hit and a miss may differ in: the cache's own marker.
OWN_MARKER = "X-Petitions-Cache"


@pytest.fixture(params=["the demo's order", "the cache first"])
def middleware_order(request, settings):
    """The demo puts the cache after SecurityMiddleware; a host may put it first of all."""
    if request.param == "the cache first":
        settings.MIDDLEWARE = [CACHE, *(name for name in settings.MIDDLEWARE if name != CACHE)]
    assert CACHE in settings.MIDDLEWARE
    return request.param


def test_a_cached_copy_carries_the_same_security_headers_as_the_fresh_page(petition, client, middleware_order):
    miss = client.get(petition.url)
    hit = client.get(petition.url)

    assert (miss[OWN_MARKER], hit[OWN_MARKER]) == ("miss", "hit")
    for name in (
        "X-Frame-Options",
        "Vary",
        "Referrer-Policy",
        "X-Content-Type-Options",
        "Cross-Origin-Opener-Policy",
        "Content-Security-Policy",
    ):
        assert name in miss, name  # the page has them fresh: a hit must too
    assert {k: v for k, v in hit.items() if k != OWN_MARKER} == {k: v for k, v in miss.items() if k != OWN_MARKER}
    assert hit.content == miss.content


def page_response(**headers):
    response = HttpResponse("<p>petition</p>", content_type="text/html; charset=utf-8")
    response.petitions_cacheable = True
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def test_a_cached_copy_never_replays_a_cookie_or_a_connection_header(settings):
    settings.PETITIONS = {**settings.PETITIONS, "PAGE_CACHE_SECONDS": 5}
    fresh = page_response(
        Set_Cookie="visitor=one; Path=/", Connection="keep-alive", Content_Length="15", X_Frame_Options="DENY"
    )
    cache = middleware.PetitionPageCacheMiddleware(lambda request: fresh)
    request = RequestFactory().get("/petition-with-a-cookie/")

    miss = cache(request)
    hit = cache(RequestFactory().get("/petition-with-a-cookie/"))

    assert (miss[OWN_MARKER], hit[OWN_MARKER]) == ("miss", "hit")
    assert hit["X-Frame-Options"] == "DENY"
    assert "Set-Cookie" not in hit and not hit.cookies
    assert "Connection" not in hit
    assert hit.get("Content-Length") in (None, str(len(hit.content)))


# --- stale copies: the page while the origin cannot render it -----------------------------------


class Clock:
    """The middleware's clock, moved forward by the test (a copy's age, without waiting)."""

    def __init__(self):
        self.real = time.time
        self.ahead = 0.0

    def time(self):
        return self.real() + self.ahead


class FailingCache:
    """A cache whose every read and write fails, as Redis down or a full disk under the file cache."""

    def get(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    set = get


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(middleware, "time", clock)
    return clock


@pytest.fixture
def fresh_process():
    middleware.forget_copies()
    yield middleware.forget_copies
    middleware.forget_copies()


@pytest.fixture
def database_down(monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("the database system is shutting down")

    def down():
        monkeypatch.setattr(CursorWrapper, "_execute", refuse)
        monkeypatch.setattr(CursorWrapper, "_executemany", refuse)

    return down


@pytest.fixture
def server_errors_as_responses(client):
    client.raise_request_exception = False
    return client


def test_a_stale_copy_is_served_when_the_page_cannot_be_rendered(
    petition, client, clock, fresh_process, database_down, server_errors_as_responses
):
    url = petition.url
    fresh = client.get(url)
    clock.ahead = 60  # long past PAGE_CACHE_SECONDS, well within PAGE_STALE_SECONDS
    database_down()

    stale = client.get(url)

    assert (fresh[OWN_MARKER], stale.status_code, stale[OWN_MARKER]) == ("miss", 200, "stale")
    assert stale.content == fresh.content
    assert stale["Cache-Control"] == "public, max-age=5, stale-while-revalidate=30, stale-if-error=86400"
    assert stale["X-Frame-Options"] == fresh["X-Frame-Options"]


def test_a_stale_copy_is_rendered_again_while_the_database_answers(petition, client, clock, fresh_process):
    client.get(petition.url)
    clock.ahead = 60

    assert client.get(petition.url)[OWN_MARKER] == "miss"


def test_with_the_database_and_the_cache_down_the_process_keeps_its_own_copy(
    petition, client, clock, fresh_process, database_down, monkeypatch, server_errors_as_responses
):
    url = petition.url
    fresh = client.get(url)
    clock.ahead = 60
    monkeypatch.setattr(middleware, "get_cache", FailingCache)
    database_down()

    stale = client.get(url)

    assert (stale.status_code, stale[OWN_MARKER], stale.content) == (200, "stale", fresh.content)


def test_a_fresh_process_finds_the_stale_copy_in_the_shared_cache(
    petition, client, clock, fresh_process, database_down, server_errors_as_responses
):
    url = petition.url
    fresh = client.get(url)
    fresh_process()  # a new web process: no known paths, no copies of its own
    clock.ahead = 60
    database_down()

    stale = client.get(url)

    assert (stale.status_code, stale[OWN_MARKER], stale.content) == (200, "stale", fresh.content)


def test_a_copy_older_than_page_stale_seconds_is_not_served(
    petition, client, clock, fresh_process, database_down, settings, server_errors_as_responses
):
    url = petition.url
    client.get(url)
    clock.ahead = settings.PETITIONS.get("PAGE_STALE_SECONDS", 24 * 3600) + 1
    database_down()

    assert client.get(url).status_code == 503


def test_a_cache_that_fails_is_a_miss_never_an_error(petition, client, fresh_process, monkeypatch):
    monkeypatch.setattr(middleware, "get_cache", FailingCache)

    answers = [client.get(petition.url) for _ in range(2)]

    assert [(answer.status_code, answer[OWN_MARKER]) for answer in answers] == [(200, "miss"), (200, "miss")]


# --- what a CDN may do with an answer ------------------------------------------------------------------


def test_the_page_and_count_json_let_a_cdn_serve_them_stale(petition, client, fresh_process):
    page = client.get(petition.url)
    count = client.get(f"/api/petitions/{petition.pk}/count.json")
    detail = client.get(f"/api/petitions/{petition.pk}/")

    for response in (page, count, detail):
        cache_control = response["Cache-Control"]
        assert cache_control.startswith("public, max-age=")
        assert "stale-while-revalidate=30" in cache_control and "stale-if-error=86400" in cache_control


def test_the_stale_directives_are_settings(petition, client, fresh_process, settings):
    settings.PETITIONS = {**settings.PETITIONS, "STALE_WHILE_REVALIDATE": 10, "STALE_IF_ERROR": None}

    cache_control = client.get(petition.url)["Cache-Control"]

    assert "stale-while-revalidate=10" in cache_control and "stale-if-error" not in cache_control


def test_private_and_refused_answers_never_carry_stale_directives(petition, client, fresh_process):
    token = make_token(SignatureFactory(petition=petition))
    answers = {
        "confirm page": client.get(f"{petition.url}confirm/?token={token}"),
        "refused sign": client.post(sign_url(petition), {"first_name": "Ada", "email": "not an address"}),
        "bad token": client.get(f"{petition.url}confirm/?token=nonsense"),
        "manage page": client.get(f"/petitions/{petition.pk}/manage/?token=nonsense"),
        "missing count": client.get(f"/api/petitions/{petition.pk + 1000}/count.json"),
    }

    for name, response in answers.items():
        cache_control = response.get("Cache-Control", "")
        assert "stale" not in cache_control and "public" not in cache_control, (name, cache_control)


def test_a_share_links_query_string_gets_the_stale_copy_too(
    petition, client, clock, fresh_process, database_down, server_errors_as_responses
):
    url = petition.url
    fresh = client.get(url)
    clock.ahead = 60
    database_down()

    stale = client.get(url + "?utm_source=share&fbclid=abc")

    assert (stale.status_code, stale[OWN_MARKER], stale.content) == (200, "stale", fresh.content)
