"""The embeddable widget and the headless example with a challenge, in a real browser, on a partner's origin.

The partner site (``test_widget_browser``'s) also serves a stand-in for the
provider's script: a "turnstile" global whose widget is one button that hands
the widget a token. The token is verified by ``test_challenge``'s stand-in
siteverify server, so the path is the real one from the widget to the server's
HTTP call.
"""

import pytest

from cms import challenge
from cms.models import Signature

from . import test_browser, test_challenge, test_widget_browser

sync_api = test_browser.sync_api
page = test_browser.page
_leave_the_migrated_data_behind = test_browser._leave_the_migrated_data_behind
partner_site = test_widget_browser.partner_site
partner_allowed = test_widget_browser.partner_allowed
siteverify = test_challenge.siteverify

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

#: The provider's script as the widget loads it (?render=explicit&onload=<callback>), reduced to a button.
FAKE_TURNSTILE = """(function () {
  var onload = new URL(document.currentScript.src).searchParams.get("onload");
  window.turnstile = {
    render: function (element, options) {
      window.challengeOptions = { sitekey: options.sitekey, action: options.action };
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = "I am a person";
      button.addEventListener("click", function () { options.callback("good"); });
      element.appendChild(button);
      return "widget-1";
    },
    reset: function () { window.challengeResets = (window.challengeResets || 0) + 1; },
  };
  if (onload) window[onload]();
})();
"""


@pytest.fixture
def challenge_on(settings, siteverify, partner_site, partner_allowed):
    directory, partner = partner_site
    (directory / "fake-turnstile.js").write_text(FAKE_TURNSTILE)

    def _on(**config):
        settings.PETITIONS = {
            **settings.PETITIONS,
            "CHALLENGE": {
                "PROVIDER": "turnstile",
                "SITE_KEY": test_challenge.SITE_KEY,
                "SECRET_KEY": test_challenge.SECRET,
                "VERIFY_URL": siteverify.url,
                "SCRIPT_URL": f"{partner}/fake-turnstile.js",
                "HOSTNAMES": ["testserver"],  # what the stand-in says a good token was solved on
                **config,
            },
        }
        return siteverify

    return _on


def open_widget(page, partner_site, live_server, petition):
    directory, partner = partner_site
    html = test_widget_browser.WIDGET_PAGE.format(api=live_server.url, petition=petition.pk)
    (directory / "article.html").write_text(html)
    page.goto(f"{partner}/article.html")
    widget = page.locator(".petition-widget")
    widget.get_by_role("link", name=petition.title).wait_for()
    widget.get_by_role("textbox", name="First name").fill("Ada")
    widget.get_by_role("textbox", name="Email").fill("ada@example.org")
    widget.get_by_role("combobox", name="Show me in the list of signers as").select_option("first")
    return widget


def test_in_always_mode_the_widget_shows_the_challenge_and_signs_once_it_is_passed(
    page, petition, live_server, partner_site, challenge_on
):
    siteverify = challenge_on(MODE="always")
    widget = open_widget(page, partner_site, live_server, petition)

    widget.get_by_role("button", name="I am a person").wait_for()  # rendered with the form
    widget.get_by_role("button", name="Sign").click()
    widget.get_by_text("Please complete the check below.").wait_for()
    assert not Signature.objects.exists()
    widget.get_by_role("button", name="I am a person").click()
    widget.get_by_role("button", name="Sign").click()
    widget.get_by_role("status").wait_for()

    assert "Check your email" in widget.get_by_role("status").inner_text()
    assert Signature.objects.filter(email="ada@example.org", source="partner-x").exists()
    assert [request["response"] for request in siteverify.received] == ["", "good"]  # "": is it there?
    assert page.evaluate("window.challengeOptions") == {"sitekey": test_challenge.SITE_KEY, "action": "petition-sign"}


def test_in_threshold_mode_the_widget_shows_the_challenge_only_when_the_api_asks_for_it(
    page, petition, live_server, partner_site, challenge_on
):
    siteverify = challenge_on(MODE="threshold", THRESHOLD=1)
    challenge.required(challenge.get_challenge(), petition)  # one sign already this minute
    widget = open_widget(page, partner_site, live_server, petition)
    assert widget.get_by_role("button", name="I am a person").count() == 0

    widget.get_by_role("button", name="Sign").click()
    widget.get_by_role("button", name="I am a person").click()  # rendered on challenge_required
    widget.get_by_role("button", name="Sign").click()
    widget.get_by_role("status").wait_for()

    assert Signature.objects.filter(email="ada@example.org").exists()
    assert [request["response"] for request in siteverify.received] == ["", "good"]  # "": is it there?


def test_the_headless_example_renders_the_challenge_and_signs_with_its_token(
    page, petition, live_server, partner_site, challenge_on
):
    siteverify = challenge_on(MODE="always")
    _, partner = partner_site

    page.goto(f"{partner}/headless.html?api={live_server.url}&petition={petition.pk}")
    page.get_by_role("textbox", name="First name").fill("Grace")
    page.get_by_role("textbox", name="Email").fill("grace@example.org")
    page.get_by_role("combobox", name="Show me in the list of signers as").select_option("first")
    page.get_by_role("button", name="Sign").click()
    page.get_by_text("Please complete the check below.").wait_for()
    page.get_by_role("button", name="I am a person").click()
    page.get_by_role("button", name="Sign").click()
    page.get_by_role("heading", name="Check your email").wait_for()

    assert Signature.objects.filter(email="grace@example.org", source="headless-example").exists()
    assert [request["response"] for request in siteverify.received] == ["", "good"]
