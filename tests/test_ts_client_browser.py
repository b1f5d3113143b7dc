"""The TypeScript client's example front end, in a real browser, on another origin than the API.

A little web server on 127.0.0.1 serves examples/typescript-client (the committed app.js: no node
needed) while the API runs on pytest-django's live server (``localhost``), so every call the typed
client makes is a real cross-origin one, allowed through ``PETITIONS["ALLOWED_ORIGINS"]``. The
verification email's link points at the site; the test takes its token to the front end's own
confirm page, as a front end hosting its confirm page would have the site link to it.
Same browser setup and database caveats as ``test_browser``.
"""

import functools
import re
import shutil
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.core import mail

from cms.models import Signature

from . import test_browser, test_widget_browser

# test_browser's browser and database fixtures, and the widget tests' petition with two signers, by name.
sync_api = test_browser.sync_api
page = test_browser.page
_leave_the_migrated_data_behind = test_browser._leave_the_migrated_data_behind
signed_petition = test_widget_browser.signed_petition

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

CLIENT = Path(__file__).resolve().parent.parent / "examples" / "typescript-client"
#: The count polls every 5 s (count.json): room for one poll after the confirmation, and some.
POLL_TIMEOUT_MS = 15_000


@pytest.fixture
def front_end(tmp_path, settings):
    """The example front end on http://127.0.0.1:<port>, an origin the site allows."""
    for name in ("index.html", "confirm.html", "app.js", "style.css"):
        shutil.copy(CLIENT / name, tmp_path / name)
    handler = functools.partial(test_widget_browser.QuietHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    settings.PETITIONS = {**settings.PETITIONS, "ALLOWED_ORIGINS": [origin]}
    try:
        yield origin
    finally:
        server.shutdown()
        server.server_close()


def test_list_open_sign_confirm_on_its_own_page_and_watch_the_count_go_up(
    sync_api, page, signed_petition, live_server, front_end
):
    petition = signed_petition
    api = urlencode({"api": live_server.url})

    page.goto(f"{front_end}/index.html?{api}")
    page.get_by_role("link", name=petition.title).click()
    page.get_by_role("heading", name=petition.title).wait_for()
    count = page.locator("#count")
    sync_api.expect(count).to_have_attribute("data-count", "2")

    page.get_by_role("textbox", name="First name").fill("Grace")
    page.get_by_role("textbox", name="Email").fill("not-an-address")
    page.get_by_role("combobox", name="Show me in the list of signers as").select_option("first")
    page.get_by_role("button", name="Sign").click()
    page.get_by_text("Enter a valid email address.").wait_for()  # the API's 400, shown by its field
    page.get_by_role("textbox", name="Email").fill("grace@example.org")
    page.get_by_role("button", name="Sign").click()
    sync_api.expect(page.get_by_role("status")).to_contain_text("Check your email")
    signature = Signature.objects.get(email="grace@example.org")
    assert (signature.status, signature.source) == (Signature.Status.PENDING, "typescript-client")

    # The emailed link points at the site; its token goes to the front end's confirm page, in
    # another tab, while the petition's tab keeps polling the count.
    link = re.search(r"https?://\S+/confirm/\?token=\S+", mail.outbox[-1].body).group(0)
    token = parse_qs(urlsplit(link).query)["token"][0]
    confirm_tab = page.context.new_page()
    confirm_tab.goto(f"{front_end}/confirm.html?{api}&{urlencode({'token': token})}")
    assert Signature.objects.get(pk=signature.pk).status == Signature.Status.PENDING  # opening it only asks
    confirm_tab.get_by_role("button", name="Confirm my signature").click()
    sync_api.expect(confirm_tab.get_by_role("status")).to_contain_text("counted")
    assert Signature.objects.get(pk=signature.pk).status == Signature.Status.VERIFIED

    sync_api.expect(count).to_have_attribute("data-count", "3", timeout=POLL_TIMEOUT_MS)
    assert count.inner_text() == "3"
    assert urlsplit(page.url).netloc == urlsplit(front_end).netloc  # never left the front end's origin
