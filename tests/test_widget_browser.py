"""The headless example page and the embeddable widget, in a real browser, on a partner's origin.

A second little web server on 127.0.0.1 plays the partner site: it serves
``examples/headless.html`` and a page with the widget's script tag, while
the API runs on pytest-django's live server (``localhost``: another origin),
so every call is a real cross-origin one that CORS and the Origin check
decide. Same browser setup and database caveats as ``test_browser``.
"""

import functools
import re
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.utils import timezone

from cms import reconcile
from cms.models import Signature

from . import test_browser
from .factories import SignatureFactory

# test_browser's browser and database fixtures, shared by name.
sync_api = test_browser.sync_api
page = test_browser.page
emailed_links_to_live_server = test_browser.emailed_links_to_live_server
_leave_the_migrated_data_behind = test_browser._leave_the_migrated_data_behind

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
WIDGET_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Partner</title></head>
<body><h1>A partner's article</h1>
<script src="{api}/static/petitions/widget.js" data-petition="{petition}" data-source="partner-x" async></script>
</body></html>
"""


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture
def partner_site(tmp_path, live_server):
    """A static site on http://127.0.0.1:<port>: the example page and a page embedding the widget."""
    shutil.copy(EXAMPLES / "headless.html", tmp_path / "headless.html")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def partner_allowed(partner_site, settings):
    settings.PETITIONS = {**settings.PETITIONS, "ALLOWED_ORIGINS": [partner_site[1]]}


@pytest.fixture
def signed_petition(petition):
    for hours in (3, 2):
        SignatureFactory(petition=petition, verified=True, verified_at=timezone.now() - timezone.timedelta(hours=hours))
    reconcile.reconcile_counts([petition.pk])
    return petition


def confirm_by_the_emailed_link(page, live_server):
    link = re.search(r"https?://\S+/confirm/\?token=\S+", mail.outbox[-1].body).group(0)
    assert link.startswith(live_server.url)
    page.goto(link)
    page.get_by_role("button", name="Confirm my signature").click()
    page.get_by_role("heading", name=re.compile("counted")).wait_for()


def test_the_static_page_shows_the_petition_signs_and_the_emailed_link_confirms(
    page, signed_petition, live_server, partner_site, partner_allowed, emailed_links_to_live_server
):
    petition = signed_petition
    _, partner = partner_site
    example = f"{partner}/headless.html?api={live_server.url}&petition={petition.pk}"

    page.goto(example)
    page.get_by_role("heading", name=petition.title).wait_for()
    assert page.locator("#count").inner_text() == "2"
    assert "We, the undersigned, ask that you act." in page.get_by_role("region", name="Letter").inner_text()
    page.get_by_role("textbox", name="Email").fill("not-an-address")
    page.get_by_role("textbox", name="First name").fill("Grace")
    page.get_by_role("button", name="Sign").click()
    page.get_by_text("Choose how you appear in the list of signers.").wait_for()  # no default: a field error
    page.get_by_role("combobox", name="Show me in the list of signers as").select_option("first")
    page.get_by_role("button", name="Sign").click()
    page.get_by_text("Enter a valid email address.").wait_for()  # the API's 400, shown by the field

    page.get_by_role("textbox", name="Email").fill("grace@example.org")
    page.get_by_role("button", name="Sign").click()
    page.get_by_role("heading", name="Check your email").wait_for()
    signature = Signature.objects.get(email="grace@example.org")
    assert (signature.status, signature.source) == (Signature.Status.PENDING, "headless-example")
    assert urlsplit(page.url).netloc == urlsplit(partner).netloc  # signed without leaving the partner's page

    confirm_by_the_emailed_link(page, live_server)
    assert Signature.objects.get(email="grace@example.org").status == Signature.Status.VERIFIED

    # Back on the page: it asks the count endpoint at once (the detail may be a cached copy for a few
    # seconds), and the confirmation has already reached the count in the cache.
    page.goto(example)
    page.wait_for_function("document.getElementById('count')?.textContent === '3'")


def test_the_widget_shows_the_counter_and_signs_with_its_source(
    page, signed_petition, live_server, partner_site, partner_allowed, emailed_links_to_live_server
):
    directory, partner = partner_site
    (directory / "article.html").write_text(WIDGET_PAGE.format(api=live_server.url, petition=signed_petition.pk))

    page.goto(f"{partner}/article.html")
    widget = page.locator(".petition-widget")
    widget.get_by_role("link", name=signed_petition.title).wait_for()
    assert widget.locator(".pw__count").inner_text() == "2"
    widget.get_by_role("textbox", name="First name").fill("Ada")
    widget.get_by_role("textbox", name="Email").fill("ada@example.org")
    widget.get_by_role("combobox", name="Show me in the list of signers as").select_option("first")
    widget.get_by_role("button", name="Sign").click()
    widget.get_by_role("status").wait_for()

    assert "Check your email" in widget.get_by_role("status").inner_text()
    signature = Signature.objects.get(email="ada@example.org")
    assert (signature.source, signature.status, signature.show_in_feed) == ("partner-x", "pending", True)
    confirm_by_the_emailed_link(page, live_server)
    assert Signature.objects.get(email="ada@example.org").status == Signature.Status.VERIFIED


def test_the_widget_on_an_origin_the_site_does_not_allow_can_neither_read_nor_sign(
    page, signed_petition, live_server, partner_site
):
    directory, partner = partner_site
    (directory / "article.html").write_text(WIDGET_PAGE.format(api=live_server.url, petition=signed_petition.pk))

    page.goto(f"{partner}/article.html")

    page.locator(".petition-widget").get_by_text("This petition could not be loaded.").wait_for()
    # A page that POSTs anyway: a JSON POST needs a preflight, which is refused; a "simple" POST
    # goes out (CORS only hides its answer) and the Origin check refuses it.
    outcomes = page.evaluate(
        """async (url) => {
            const body = JSON.stringify({first_name: "Eve", email: "eve@example.org"});
            const outcomes = [];
            for (const headers of [{"Content-Type": "application/json"}, {"Content-Type": "text/plain"}]) {
                try {
                    const mode = headers["Content-Type"] === "text/plain" ? "no-cors" : "cors";
                    await fetch(url, {method: "POST", mode, headers, body});
                    outcomes.push("sent");
                } catch (e) {
                    outcomes.push("blocked");
                }
            }
            return outcomes;
        }""",
        f"{live_server.url}/api/petitions/{signed_petition.pk}/signatures/",
    )
    assert outcomes == ["blocked", "sent"]
    assert not Signature.objects.filter(email="eve@example.org").exists()
