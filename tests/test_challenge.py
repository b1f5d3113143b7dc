"""The optional challenge (Turnstile or hCaptcha) on the sign form, the JSON API, OSDI and the widget.

The real verification code talks HTTP to a stand-in siteverify server on
127.0.0.1 (``siteverify``): the token a test sends decides the answer.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from django.core import checks

from cms import challenge
from cms.models import Signature

from .conftest import sign_url
from .factories import LeadFactory, SignatureFactory, lead_token

pytestmark = pytest.mark.django_db

SITE_KEY = "site-key-for-tests"
SECRET = "secret-for-tests"
ORIGIN = {"Origin": "http://testserver"}


class Siteverify(ThreadingHTTPServer):
    """A siteverify endpoint: answers by the token it is sent, and records what it was sent.

    ``good`` passes on testserver; ``bad`` fails; ``elsewhere`` passes for another host;
    ``other-action`` passes for another action; ``garbage`` is not JSON; ``error`` is a 500;
    ``slow`` answers only once ``release`` is set.
    """

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), SiteverifyHandler)
        self.received = []
        self.release = threading.Event()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/siteverify"


class SiteverifyHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        params = {
            k: v[0]
            for k, v in parse_qs(
                self.rfile.read(int(self.headers["Content-Length"])).decode(), keep_blank_values=True
            ).items()
        }
        self.server.received.append(params)
        token = params.get("response")
        if token == "slow":
            self.server.release.wait(10)
        if token == "error":
            return self.answer(500, b"Internal Server Error", "text/plain")
        if token == "garbage":
            return self.answer(200, b"<html>maintenance</html>", "text/html")
        verdict = {"success": False, "error-codes": ["invalid-input-response"]}
        if not token:
            verdict = {"success": False, "error-codes": ["missing-input-response"]}
        if params.get("secret") != SECRET:
            verdict = {"success": False, "error-codes": ["invalid-input-secret"]}
        elif token in ("good", "slow"):
            verdict = {"success": True, "hostname": "testserver", "error-codes": []}
        elif token == "elsewhere":
            verdict = {"success": True, "hostname": "evil.example", "error-codes": []}
        elif token == "other-action":
            verdict = {"success": True, "hostname": "testserver", "action": "login", "error-codes": []}
        self.answer(200, json.dumps(verdict).encode(), "application/json")

    def answer(self, status, body, content_type):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


@pytest.fixture
def siteverify():
    server = Siteverify()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def require_challenge(settings, siteverify):
    """Turn the challenge on, pointed at the stand-in: ``require_challenge(MODE="threshold", ...)``."""

    def _require(**config):
        settings.PETITIONS = {
            **settings.PETITIONS,
            "CHALLENGE": {
                "PROVIDER": "turnstile",
                "SITE_KEY": SITE_KEY,
                "SECRET_KEY": SECRET,
                "VERIFY_URL": siteverify.url,
                **config,
            },
        }
        return siteverify

    return _require


def form_sign(client, page, token=None, field="cf-turnstile-response", **data):
    fields = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org", "feed_display": "first"}
    fields.update(data)
    if token is not None:
        fields[field] = token
    return client.post(sign_url(page), fields, REMOTE_ADDR="10.0.0.1")


def api_sign(client, page, token=None, **data):
    body = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org", "feed_display": "first"}
    body.update(data)
    if token is not None:
        body["challenge_token"] = token
    return client.post(
        f"/api/petitions/{page.pk}/signatures/",
        json.dumps(body),
        content_type="application/json",
        REMOTE_ADDR="10.0.0.1",
    )


def osdi_sign(client, page, headers=None, **extra):
    body = {"person": {"given_name": "Ada", "email_addresses": [{"address": "ada@example.org", "primary": True}]}}
    body.update(extra)
    return client.post(
        f"/api/osdi/v1/petitions/{page.pk}/signatures/",
        json.dumps(body),
        content_type="application/json",
        REMOTE_ADDR="10.0.0.1",
        headers=headers or {},
    )


# --- the page and the HTML form -------------------------------------------------------------------


def test_without_a_challenge_configured_the_page_has_no_widget_and_signs_as_before(petition, client, siteverify):
    assert b"cf-turnstile" not in client.get(petition.url).content

    response = form_sign(client, petition)

    assert response.status_code == 302
    assert Signature.objects.filter(petition=petition).count() == 1
    assert siteverify.received == []


def test_always_mode_puts_the_widget_and_its_script_on_the_page(petition, client, require_challenge):
    require_challenge(MODE="always")

    html = client.get(petition.url).content.decode()

    assert f'<div class="cf-turnstile" data-sitekey="{SITE_KEY}" data-action="petition-sign"' in html
    assert '<script src="https://challenges.cloudflare.com/turnstile/v0/api.js" async defer></script>' in html


def test_a_sign_without_a_token_comes_back_with_the_widget_and_everything_typed(petition, client, require_challenge):
    siteverify = require_challenge(MODE="always")

    response = form_sign(client, petition, first_name="Ada", last_name="Byron", email="ada@example.org")

    assert response.status_code == 400
    html = response.content.decode()
    assert "Please complete the check below" in html
    assert 'class="cf-turnstile"' in html
    assert 'value="Ada"' in html and 'value="Byron"' in html and 'value="ada@example.org"' in html
    assert not Signature.objects.exists()
    # Failing open (the default), it asks whether the provider is there: it is, so a token is due.
    assert [request["response"] for request in siteverify.received] == [""]


def test_failing_closed_a_sign_without_a_token_is_refused_without_asking_the_provider(
    petition, client, require_challenge
):
    siteverify = require_challenge(MODE="always", FAIL_OPEN=False)

    response = form_sign(client, petition)

    assert response.status_code == 400
    assert "Please complete the check below" in response.content.decode()
    assert siteverify.received == []


def test_a_token_the_provider_rejects_is_refused_and_stores_nothing(petition, client, require_challenge, mailoutbox):
    require_challenge(MODE="always")

    response = form_sign(client, petition, token="bad")

    assert response.status_code == 400
    assert "The check did not succeed" in response.content.decode()
    assert 'value="ada@example.org"' in response.content.decode()
    assert not Signature.objects.exists()
    assert mailoutbox == []


def test_a_good_token_signs_and_the_provider_is_asked_with_the_secret_and_the_signers_address(
    petition, client, require_challenge
):
    siteverify = require_challenge(MODE="always")

    response = form_sign(client, petition, token="good")

    assert response.status_code == 302
    assert Signature.objects.filter(petition=petition, email="ada@example.org").exists()
    assert siteverify.received == [{"secret": SECRET, "response": "good", "remoteip": "10.0.0.1"}]


@pytest.mark.parametrize("token", ["elsewhere", "other-action"])
def test_a_token_solved_for_another_host_or_action_is_refused(petition, client, require_challenge, token):
    require_challenge(MODE="always")

    response = form_sign(client, petition, token=token)

    assert response.status_code == 400
    assert not Signature.objects.exists()


def test_a_token_too_long_to_be_real_is_refused_without_asking_the_provider(petition, client, require_challenge):
    siteverify = require_challenge(MODE="always")

    response = form_sign(client, petition, token="x" * 5000)

    assert response.status_code == 400
    assert siteverify.received == []


def test_a_refused_challenge_answers_the_same_whether_the_address_had_signed(petition, client, require_challenge):
    require_challenge(MODE="always")
    SignatureFactory(petition=petition, email="known@example.org", verified=True)

    known = form_sign(client, petition, token="bad", email="known@example.org")
    unknown = form_sign(client, petition, token="bad", email="unknown@example.org")

    assert known.status_code == unknown.status_code == 400
    assert known.content.decode().replace("known@", "unknown@") == unknown.content.decode()


def test_invalid_fields_are_reported_without_spending_the_token(petition, client, require_challenge):
    siteverify = require_challenge(MODE="always")

    response = form_sign(client, petition, token="good", email="not-an-address")

    assert response.status_code == 400
    assert siteverify.received == []  # tokens are single-use: the signer's next try may still use it


# --- threshold mode -------------------------------------------------------------------------------


def test_threshold_mode_asks_nothing_below_the_rate(petition, client, require_challenge):
    siteverify = require_challenge(MODE="threshold", THRESHOLD=3)

    answers = [form_sign(client, petition, email=f"signer{n}@example.org").status_code for n in range(3)]

    assert answers == [302, 302, 302]
    assert b"cf-turnstile" not in client.get(petition.url).content
    assert siteverify.received == []


def test_threshold_mode_demands_the_challenge_once_the_rate_passes_it(petition, client, require_challenge, index_page):
    require_challenge(MODE="threshold", THRESHOLD=2)
    for n in range(2):
        assert form_sign(client, petition, email=f"signer{n}@example.org").status_code == 302

    refused = form_sign(client, petition, email="third@example.org")
    with_token = form_sign(client, petition, token="good", email="third@example.org")
    next_without = form_sign(client, petition, email="fourth@example.org")

    assert refused.status_code == 400
    assert "Please complete the check below" in refused.content.decode()
    assert 'class="cf-turnstile"' in refused.content.decode()
    assert with_token.status_code == 302
    assert next_without.status_code == 400  # it stays required for the signs that follow
    assert set(Signature.objects.values_list("email", flat=True)) == {
        "signer0@example.org",
        "signer1@example.org",
        "third@example.org",
    }


def test_the_threshold_counts_each_petition_on_its_own(petition, client, require_challenge, index_page):
    from .factories import PetitionPageFactory

    other = PetitionPageFactory(parent=index_page)
    require_challenge(MODE="threshold", THRESHOLD=1)
    form_sign(client, petition, email="one@example.org")
    assert form_sign(client, petition, email="two@example.org").status_code == 400

    assert form_sign(client, other, email="two@example.org").status_code == 302


# --- when the provider cannot be reached ----------------------------------------------------------


@pytest.mark.parametrize("token", ["garbage", "error", "slow"])
def test_by_default_a_provider_that_cannot_answer_lets_the_signer_through(
    petition, client, require_challenge, token, caplog
):
    require_challenge(MODE="always", TIMEOUT=0.2)

    response = form_sign(client, petition, token=token)

    assert response.status_code == 302
    assert Signature.objects.filter(petition=petition).count() == 1
    assert "turnstile could not verify a challenge" in caplog.text and "let through" in caplog.text


def test_a_provider_nobody_listens_at_lets_the_signer_through_by_default(petition, client, require_challenge):
    gone = Siteverify()
    url = gone.url
    gone.server_close()
    require_challenge(MODE="always", VERIFY_URL=url)

    assert form_sign(client, petition, token="good").status_code == 302


def test_while_the_provider_is_down_a_sign_without_a_token_goes_through_by_default(petition, client, require_challenge):
    # Its widget cannot load either: nobody could get a token to send.
    gone = Siteverify()
    url = gone.url
    gone.server_close()
    require_challenge(MODE="always", VERIFY_URL=url)

    assert form_sign(client, petition).status_code == 302
    assert api_sign(client, petition, email="grace@example.org").status_code == 202
    assert Signature.objects.filter(petition=petition).count() == 2


@pytest.mark.parametrize("token", ["garbage", "error", "slow"])
def test_failing_closed_answers_503_and_keeps_what_was_typed(petition, client, require_challenge, token):
    require_challenge(MODE="always", TIMEOUT=0.2, FAIL_OPEN=False)

    response = form_sign(client, petition, token=token, last_name="Byron")

    assert response.status_code == 503
    assert "Please try again in a few minutes" in response.content.decode()
    assert 'value="Byron"' in response.content.decode()
    assert response["Retry-After"]
    assert not Signature.objects.exists()


def test_after_repeated_failures_the_provider_is_left_alone_for_a_while(petition, client, require_challenge):
    siteverify = require_challenge(MODE="always", FAIL_OPEN=False)

    answers = [form_sign(client, petition, token="error", email=f"s{n}@example.org").status_code for n in range(5)]

    assert answers == [503] * 5
    assert len(siteverify.received) == challenge.FAILURES_BEFORE_PAUSE  # the rest did not wait on it


# --- hCaptcha -------------------------------------------------------------------------------------


def test_hcaptcha_has_its_own_widget_field_and_sends_the_site_key(petition, client, require_challenge):
    siteverify = require_challenge(PROVIDER="hcaptcha")

    html = client.get(petition.url).content.decode()
    response = form_sign(client, petition, token="good", field="h-captcha-response")

    assert f'<div class="h-captcha" data-sitekey="{SITE_KEY}"' in html
    assert '<script src="https://js.hcaptcha.com/1/api.js" async defer></script>' in html
    assert response.status_code == 302
    assert siteverify.received == [{"secret": SECRET, "response": "good", "remoteip": "10.0.0.1", "sitekey": SITE_KEY}]


def test_a_provider_given_by_dotted_path_is_used(petition, client, require_challenge):
    require_challenge(PROVIDER="tests.test_challenge.HeaderTokenChallenge")

    assert form_sign(client, petition, token="good", field="x-token").status_code == 302
    assert form_sign(client, petition, token="bad", field="x-token").status_code == 400


class HeaderTokenChallenge(challenge.Turnstile):
    response_field = "x-token"


# --- the JSON API ---------------------------------------------------------------------------------


def test_the_api_refuses_a_sign_without_a_token_with_challenge_required(petition, client, require_challenge):
    require_challenge(MODE="always")

    response = api_sign(client, petition)

    assert response.status_code == 400
    assert response.json()["code"] == "challenge_required"
    assert response.json()["errors"] == {"challenge_token": ["Please complete the check below."]}
    assert not Signature.objects.exists()


def test_the_api_refuses_a_bad_token_with_challenge_failed(petition, client, require_challenge):
    require_challenge(MODE="always")

    response = api_sign(client, petition, token="bad")

    assert response.status_code == 400
    assert response.json()["code"] == "challenge_failed"
    assert not Signature.objects.exists()


def test_the_api_signs_with_a_good_token(petition, client, require_challenge):
    siteverify = require_challenge(MODE="always")

    response = api_sign(client, petition, token="good")

    assert response.status_code == 202
    assert Signature.objects.filter(petition=petition).count() == 1
    assert [request["response"] for request in siteverify.received] == ["good"]


def test_the_api_answers_503_when_failing_closed(petition, client, require_challenge):
    require_challenge(MODE="always", FAIL_OPEN=False)

    response = api_sign(client, petition, token="error")

    assert response.status_code == 503
    assert response.json()["code"] == "challenge_unavailable"
    assert response["Retry-After"]


def test_the_api_in_threshold_mode_demands_a_token_only_above_the_rate(petition, client, require_challenge):
    require_challenge(MODE="threshold", THRESHOLD=1)

    first = api_sign(client, petition, email="one@example.org")
    second = api_sign(client, petition, email="two@example.org")
    third = api_sign(client, petition, token="good", email="two@example.org")

    assert (first.status_code, second.status_code, third.status_code) == (202, 400, 202)
    assert second.json()["code"] == "challenge_required"


def test_the_petition_detail_tells_api_clients_how_to_render_the_widget(petition, client, require_challenge):
    require_challenge(MODE="threshold")

    detail = client.get(f"/api/petitions/{petition.pk}/").json()

    assert detail["challenge"] == {
        "provider": "turnstile",
        "site_key": SITE_KEY,
        "script": "https://challenges.cloudflare.com/turnstile/v0/api.js",
        "action": "petition-sign",
        "mode": "threshold",
    }


def test_the_petition_detail_has_no_challenge_when_none_is_configured(petition, client):
    assert client.get(f"/api/petitions/{petition.pk}/").json()["challenge"] is None


def test_the_openapi_schema_documents_the_token_and_its_errors(client, db):
    schema = client.get("/api/openapi.json").json()
    operation = schema["paths"]["/api/petitions/{id}/signatures/"]["post"]

    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert "challenge_token" in body["properties"]
    assert "503" in operation["responses"]
    assert "challenge_required" in operation["description"]


# --- OSDI -----------------------------------------------------------------------------------------


@pytest.fixture
def crm_token(index_page):
    """A token with the record scope, of a lead granted the petition's campaign: a CRM's."""
    return lead_token(LeadFactory(campaigns=[index_page]), "record")


def test_osdi_with_a_leads_token_is_exempt_from_the_challenge(petition, client, require_challenge, crm_token):
    siteverify = require_challenge(MODE="always")

    response = osdi_sign(client, petition, headers={"Authorization": f"Bearer {crm_token}"})

    assert response.status_code == 202
    assert siteverify.received == []


def test_osdi_without_a_token_is_challenged_like_the_public_api(petition, client, require_challenge):
    require_challenge(MODE="always")

    refused = osdi_sign(client, petition)
    accepted = osdi_sign(client, petition, challenge_token="good")

    assert refused.status_code == 400 and refused.json()["code"] == "challenge_required"
    assert accepted.status_code == 202


# --- configuration --------------------------------------------------------------------------------


def errors(settings, config):
    settings.PETITIONS = {**settings.PETITIONS, "CHALLENGE": config}
    return [message.id for message in challenge.check_challenge_settings(None) if message.level >= checks.ERROR]


@pytest.mark.parametrize(
    "config",
    [
        {"PROVIDER": "recaptcha", "SITE_KEY": "k", "SECRET_KEY": "s"},
        {"PROVIDER": "cms.nothing.Here", "SITE_KEY": "k", "SECRET_KEY": "s"},
        {"PROVIDER": "turnstile", "SITE_KEY": "k"},
        {"PROVIDER": "turnstile", "SECRET_KEY": "s"},
        {"PROVIDER": "turnstile", "SITE_KEY": "k", "SECRET_KEY": "s", "MODE": "sometimes"},
        {"PROVIDER": "turnstile", "SITE_KEY": "k", "SECRET_KEY": "s", "MODE": "threshold", "THRESHOLD": 0},
        {"PROVIDER": "turnstile", "SITE_KEY": "k", "SECRET_KEY": "s", "VERIFY_URL": "file:///etc/passwd"},
        {"PROVIDER": "turnstile", "SITE_KEY": "k", "SECRET_KEY": "s", "SPEED": "fast"},
        "turnstile",
    ],
)
def test_the_system_check_refuses_a_challenge_it_cannot_run(settings, config):
    assert errors(settings, config) == ["petitions.E030"]


@pytest.mark.parametrize(
    "config",
    [
        None,
        {"PROVIDER": "turnstile", "SITE_KEY": "k", "SECRET_KEY": "s"},
        {"PROVIDER": "hcaptcha", "SITE_KEY": "k", "SECRET_KEY": "s", "MODE": "threshold", "THRESHOLD": 120},
        {"PROVIDER": "tests.test_challenge.HeaderTokenChallenge", "SITE_KEY": "k", "SECRET_KEY": "s"},
    ],
)
def test_the_system_check_passes_a_valid_challenge(settings, config):
    assert errors(settings, config) == []


def test_the_system_check_warns_when_the_csp_would_block_the_widget(settings):
    config = {"PROVIDER": "turnstile", "SITE_KEY": "k", "SECRET_KEY": "s"}
    settings.PETITIONS = {**settings.PETITIONS, "CHALLENGE": config}

    ids = [message.id for message in challenge.check_challenge_settings(None)]
    settings.CONTENT_SECURITY_POLICY = {
        "DIRECTIVES": {**settings.CONTENT_SECURITY_POLICY["DIRECTIVES"], **challenge.Turnstile.csp}
    }
    ids_after = [message.id for message in challenge.check_challenge_settings(None)]

    assert ids == ["petitions.W030"]
    assert ids_after == []


def test_the_demo_sites_csp_additions_are_the_providers_own():
    from petitions_site import settings as demo

    assert {name: provider.csp for name, provider in challenge.PROVIDERS.items()} == demo.CHALLENGE_CSP


@pytest.mark.parametrize("provider", ["turnstile", "hcaptcha"])
def test_the_demo_site_configured_from_its_environment_passes_its_checks(tmp_path, provider):
    from .test_deploy_settings import run_site

    env = {"DEBUG": "1", "PETITIONS_CHALLENGE": provider, "PETITIONS_CHALLENGE_THRESHOLD": "60"}
    keys = {"PETITIONS_CHALLENGE_SITE_KEY": "k", "PETITIONS_CHALLENGE_SECRET_KEY": "s"}

    configured = run_site(tmp_path, ["manage.py", "check"], **env, **keys)
    without_keys = run_site(tmp_path, ["manage.py", "check"], **env)

    assert configured.returncode == 0, configured.stderr
    assert "petitions.W030" not in configured.stderr + configured.stdout
    assert without_keys.returncode != 0
    assert "petitions.E030" in without_keys.stderr
