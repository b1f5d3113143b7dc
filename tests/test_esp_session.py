"""The ESP session reads the host's proxy settings once per batch, and still honours them."""

import pytest
import requests.sessions
from django.core.mail import get_connection

from cms import emails
from cms.esp_session import settle_environment

from .factories import SignatureFactory

pytestmark = pytest.mark.django_db

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture
def postmark_at(settings, monkeypatch):
    """Send through anymail's Postmark backend to ``url``, with no proxy variables but the test's own."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)

    def _at(url):
        settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
        settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "esp-session-tests", "POSTMARK_API_URL": url,
                            "REQUESTS_TIMEOUT": (2, 2)}  # fmt: skip

    return _at


def test_a_proxy_in_the_environment_still_carries_every_email(petition, fake_esp, postmark_at, monkeypatch):
    # The ESP's host does not resolve: only the proxy (the fake ESP, which answers any path) can take them.
    postmark_at("http://esp.invalid/")
    monkeypatch.setenv("http_proxy", fake_esp.url)
    ids = [signature.pk for signature in SignatureFactory.create_batch(3, petition=petition)]

    assert emails.send_verification_emails(ids) == (ids, [])
    assert sorted(fake_esp.accepted) == ids


def test_no_proxy_for_the_esp_host_still_sends_directly(petition, fake_esp, postmark_at, monkeypatch):
    postmark_at(fake_esp.url)
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9/")  # nothing listens: a proxied send would fail
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    ids = [signature.pk for signature in SignatureFactory.create_batch(2, petition=petition)]

    assert emails.send_verification_emails(ids) == (ids, [])
    assert sorted(fake_esp.accepted) == ids


def test_the_environment_is_read_once_per_batch_not_per_email(petition, fake_esp, postmark_at, monkeypatch):
    postmark_at(fake_esp.url)
    lookups = []
    read = requests.sessions.get_environ_proxies
    monkeypatch.setattr(requests.sessions, "get_environ_proxies", lambda *a, **k: lookups.append(a) or read(*a, **k))
    ids = [signature.pk for signature in SignatureFactory.create_batch(4, petition=petition)]

    assert emails.send_verification_emails(ids) == (ids, [])
    assert len(lookups) == 1


def test_a_backend_that_is_not_requests_based_is_left_as_it_is(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with get_connection() as connection:
        before = dict(vars(connection))
        settle_environment(connection)
        assert vars(connection) == before
