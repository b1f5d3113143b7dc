"""The signer's journey past confirming, in a real browser: manage the signature, withdraw, watch the count.

Reuses the browser fixtures of ``test_browser`` (Debian's chromium through Playwright, against the
live server); without chromium the tests skip, or fail when CI is set.
"""

import re
import time

import pytest
from django.core import mail

from cms import reconcile
from cms.models import ErasureLog, Signature

from .factories import SignatureFactory
from .test_browser import (  # noqa: F401 (fixtures)
    TIMEOUT_MS,
    _leave_the_migrated_data_behind,
    counter_value,
    emailed_links_to_live_server,
    page,
    sync_api,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.mark.usefixtures("emailed_links_to_live_server")
def test_confirm_then_manage_change_the_feed_withdraw_and_watch_the_count(request, petition, settings):
    api, tab = request.getfixturevalue("sync_api"), request.getfixturevalue("page")
    settings.PETITIONS = {**settings.PETITIONS, "PAGE_CACHE_SECONDS": 0}
    SignatureFactory(petition=petition, verified=True, first_name="Earlier")
    tab.goto(petition.url)
    tab.get_by_role("textbox", name="First name").fill("Grace")
    tab.get_by_role("textbox", name="Last name").fill("Hopper")
    tab.get_by_role("textbox", name="Email").fill("grace@example.org")
    tab.get_by_role("radio", name="My first name", exact=True).check()  # no default: the signer picks
    tab.get_by_role("button", name="Sign", exact=True).click()
    tab.get_by_role("heading", name="Check your email").wait_for()
    link = re.search(r"https?://\S+/confirm/\?token=\S+", mail.outbox[0].body).group(0)
    tab.goto(link)
    tab.get_by_role("button", name="Confirm my signature").click()
    tab.get_by_role("heading", name=re.compile("counted")).wait_for()
    reconcile.reconcile_counts([petition.pk])

    # The thank-you page carries the signer's own link.
    tab.get_by_role("link", name="manage my signature").click()
    tab.get_by_role("heading", name="Your signature", exact=True).wait_for()
    manage_url = tab.url
    tab.get_by_label("My first name and initial").check()
    tab.get_by_role("button", name="Save my choices").click()
    tab.get_by_text("Your choices are saved.").wait_for()
    tab.goto(petition.url)
    api.expect(tab.locator(".feed__entry .feed__name").first).to_have_text("Grace H.")
    assert counter_value(tab) == 2

    tab.goto(manage_url)
    tab.get_by_role("button", name="Withdraw my signature and erase my data").click()
    tab.get_by_role("heading", name="Your signature is withdrawn").wait_for()
    withdrawn_at = time.perf_counter()
    assert not Signature.objects.filter(email="grace@example.org").exists()
    assert ErasureLog.objects.count() == 1

    # The feed at once; the count at the next reconcile (beat runs it every 15 s in the demo).
    tab.goto(petition.url)
    assert "Grace" not in tab.locator(".feed").inner_text()
    reconcile.reconcile_counts([petition.pk])
    tab.reload()
    counter = tab.locator(".counter__count")
    api.expect(counter).to_have_attribute("data-count", "1", timeout=TIMEOUT_MS)
    print(f"\ncount down {time.perf_counter() - withdrawn_at:.2f} s after the withdrawal (with one reconcile)")

    # The old link now says it was withdrawn, and changes nothing.
    assert tab.goto(manage_url).status == 410
    tab.get_by_role("heading", name="This signature has been withdrawn").wait_for()
