"""End to end in a real browser: sign, confirm by the emailed link, see the count and the feed.

Drives Debian's chromium (/usr/bin/chromium) through Playwright's sync API
against pytest-django's live server. Without chromium the tests skip, or fail
when CI is set.
"""

import os
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.utils import timezone

from cms import reconcile
from cms.models import Signature
from petitions_site import chromium
from petitions_site.chromium import CHROMIUM

from .factories import SignatureFactory

TIMEOUT_MS = 10_000

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture(scope="module", autouse=True)
def _leave_the_migrated_data_behind(django_db_setup, django_db_blocker):
    """Put back what migrations created (locale, root page, site) once this module is done.

    A transactional test ends by emptying every table. serialized_rollback
    restores the migrated rows before each test here, but a later
    transactional test without it would find no root page.
    """
    yield
    from django.db import connections

    with django_db_blocker.unblock():
        for connection in connections.all():
            contents = getattr(connection, "_test_serialized_contents", None)
            if contents:
                connection.creation.deserialize_db_from_string(contents)


def _skip_or_fail(reason):
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def sync_api():
    if not CHROMIUM.exists():
        _skip_or_fail(f"{CHROMIUM} is missing: install Debian's chromium package to run the browser tests")
    try:
        from playwright import sync_api
    except ImportError:
        _skip_or_fail("the playwright package is not installed (pip install -r requirements-test.txt)")
    return sync_api


@pytest.fixture
def page(sync_api, live_server, monkeypatch):
    """A browser tab on the live server, started after the test database is set up.

    While Playwright's sync API is running, its event loop counts as running in
    this thread. Django then refuses ORM calls ("async context") unless allowed,
    and hands out separate, context-local connections: these are closed before
    Playwright stops, and Playwright stops before the database is flushed, so
    the flush and the serialized rollback use the test's own connection.
    """
    from django.db import connections

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = chromium.launch(playwright)
        try:
            context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
            context.set_default_timeout(TIMEOUT_MS)
            yield context.new_page()
        finally:
            browser.close()
            connections.close_all()


@pytest.fixture
def emailed_links_to_live_server(live_server, settings):
    # Emails link to PETITIONS["SITE_URL"] (http://testserver in tests): point them at the live server.
    settings.PETITIONS = {**settings.PETITIONS, "SITE_URL": live_server.url}


def counter_value(page):
    return int(page.locator(".counter__count").get_attribute("data-count"))


def test_sign_confirm_by_email_and_see_the_count_and_feed(
    sync_api, page, petition, live_server, emailed_links_to_live_server, settings
):
    # Two earlier signers, so the new one must come first in the feed, not just appear in it.
    for hours in (3, 2):
        SignatureFactory(petition=petition, verified=True, verified_at=timezone.now() - timedelta(hours=hours))
    reconcile.reconcile_counts([petition.pk])

    page.goto(petition.url)
    before = counter_value(page)
    assert before == 2
    page.get_by_role("textbox", name="First name").fill("Grace")
    page.get_by_role("textbox", name="Email").fill("grace@example.org")
    page.get_by_role("radio", name="My first name", exact=True).check()  # no default: the signer picks
    page.get_by_role("button", name="Sign", exact=True).click()

    page.get_by_role("heading", name="Check your email").wait_for()
    assert urlsplit(page.url).path == petition.url + "signed/"
    assert [message.to for message in mail.outbox] == [["grace@example.org"]]
    link = re.search(r"https?://\S+/confirm/\?token=\S+", mail.outbox[0].body).group(0)
    assert link.startswith(live_server.url + petition.url)

    assert page.goto(link).status == 200  # a GET only asks: mail scanners prefetch links
    assert Signature.objects.get(email="grace@example.org").status == Signature.Status.PENDING
    page.get_by_role("button", name="Confirm my signature").click()
    page.get_by_role("heading", name=re.compile("counted")).wait_for()  # the confirm page's own text says "counted"
    assert Signature.objects.get(email="grace@example.org").status == Signature.Status.VERIFIED

    # Before any reconcile: the after-commit update reached the count endpoint, which the
    # page's script polls (the page itself may be a cached copy from before signing) ...
    page.goto(petition.url)
    counter = page.locator(".counter__count")
    sync_api.expect(counter).to_have_attribute("data-count", str(before + 1), timeout=TIMEOUT_MS)
    # ... and the feed, which the page renders and so shows once that copy expires: the site's and
    # the browser's both keep it PAGE_CACHE_SECONDS. Instead of waiting that out, stop caching pages
    # and reload, which revalidates the browser's copy (test_counting covers the page cache).
    settings.PETITIONS = {**settings.PETITIONS, "PAGE_CACHE_SECONDS": 0}
    page.reload()
    sync_api.expect(page.locator(".feed__entry .feed__name").first).to_have_text("Grace", timeout=TIMEOUT_MS)

    reconcile.reconcile_counts([petition.pk])  # the scheduled recount agrees: counted once
    page.reload()
    assert counter_value(page) == before + 1
    assert page.locator(".feed__name").first.inner_text() == "Grace"


def test_a_malformed_email_is_a_field_error_not_a_server_error(page, petition):
    page.goto(petition.url)
    page.get_by_role("textbox", name="First name").fill("Grace")
    page.get_by_role("textbox", name="Email").fill("grace-at-example.org")
    page.get_by_role("radio", name="My first name", exact=True).check()
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Sign", exact=True).click()

    assert navigation.value.status == 400
    error = page.locator(".field--invalid .field__error")
    assert "valid email" in error.inner_text()
    assert page.get_by_role("textbox", name="First name").input_value() == "Grace"  # nothing typed is lost
    assert not Signature.objects.exists()
    assert mail.outbox == []


def test_sign_with_every_option_change_them_on_the_confirm_page_and_confirm(
    page, petition, live_server, emailed_links_to_live_server, settings
):
    """Issue 10's journey: the confirm page shows what will be published and takes the signer's changes."""
    petition.ask_postcode = True
    petition.save_revision().publish()
    page.goto(petition.url)
    page.get_by_role("textbox", name="First name").fill("Vera")
    page.get_by_role("textbox", name="Last name").fill("Real")
    page.get_by_role("textbox", name="Email").fill("vera@example.org")
    page.get_by_role("combobox", name="Country").select_option("GB")
    page.get_by_role("textbox", name="Postcode").fill("SW1A 1AA")
    page.get_by_role("radio", name="My first name and initial").check()
    for box in (petition.consent_wording, "Pass my postcode on to them as well", "Email me about this campaign"):
        page.get_by_role("checkbox", name=box).check()
    page.get_by_role("button", name="Sign", exact=True).click()
    page.get_by_role("heading", name="Check your email").wait_for()

    link = re.search(r"https?://\S+/confirm/\?token=\S+", mail.outbox[0].body).group(0)
    page.goto(link)
    summary = page.locator(".confirm-summary").inner_text()
    assert "Vera R." in summary and "SW1A 1AA" in summary and "postcode" in summary
    page.get_by_role("radio", name="Don't show me").check()  # changed her mind about the feed ...
    page.get_by_role("checkbox", name="Pass my postcode on to them as well").uncheck()  # ... and the postcode
    page.get_by_role("button", name="Confirm my signature").click()
    page.get_by_role("heading", name=re.compile("counted")).wait_for()

    signature = Signature.objects.get(email="vera@example.org")
    assert signature.status == Signature.Status.VERIFIED
    assert (signature.show_in_feed, signature.share_with_officials, signature.share_postcode_with_officials) == (
        False,
        True,
        False,
    )
    assert signature.opt_in_updates and signature.consent_version and signature.consent_given_at
    reconcile.reconcile_counts([petition.pk])
    settings.PETITIONS = {**settings.PETITIONS, "PAGE_CACHE_SECONDS": 0}
    page.goto(petition.url)
    assert "Vera" not in page.locator(".block-feed").first.inner_text()
    assert page.get_by_role("link", name=re.compile("privacy notice")).first.get_attribute("href").endswith("/privacy/")
