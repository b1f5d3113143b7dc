"""Accessibility in a real browser: axe-core on the signer's pages, phone first, and signing by keyboard alone.

axe-core comes bundled in the axe-playwright-python wheel (pinned in requirements-test.txt), so
nothing is fetched at run time. Same browser and database setup as ``test_browser``, whose
fixtures these tests reuse.

Each page is checked once per language in ``LANGUAGES``, on the petition in that language (the
page itself in its own language, else a published translation as wagtail-localize makes one); the
browser asks for the language too (``Accept-Language``), and the page must say it speaks it
(``<html lang>``). English and Arabic (right to left) are checked; another language is one more code in ``LANGUAGES``.
"""

import re

import pytest
from django.core import mail
from wagtail.models import Locale

from cms import emails

from . import test_browser, test_widget_browser
from .factories import SignatureFactory

# Shared fixtures, by name: the browser tab and database handling, and the widget's partner site.
sync_api = test_browser.sync_api
page = test_browser.page
emailed_links_to_live_server = test_browser.emailed_links_to_live_server
_leave_the_migrated_data_behind = test_browser._leave_the_migrated_data_behind
partner_site = test_widget_browser.partner_site
partner_allowed = test_widget_browser.partner_allowed
signed_petition = test_widget_browser.signed_petition

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

#: The languages every page is checked in: add a code here once its translations land.
LANGUAGES = ["en", "ar"]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
#: What fails the check. "moderate" and "minor" findings are printed, not failed.
FAILING_IMPACTS = {"serious", "critical"}


@pytest.fixture(params=LANGUAGES)
def language(request, page):
    page.context.set_extra_http_headers({"Accept-Language": request.param})
    return request.param


def same_language(code, language):
    return code.split("-")[0].lower() == language.split("-")[0].lower()


@pytest.fixture
def localized(petition, language):
    """The petition in ``language``: itself in its own, else a published translation (with its parents)."""
    if same_language(petition.locale.language_code, language):
        return petition
    locale, _ = Locale.objects.get_or_create(language_code=language)
    translated = petition.copy_for_translation(locale, copy_parents=True)
    parent = translated.get_parent().specific
    if not parent.live:
        parent.save_revision().publish()
    translated.save_revision().publish()
    translated.refresh_from_db()
    return translated


def axe_violations(page, context=None):
    """axe-core's serious and critical violations on the page as it is now, as readable lines."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, context=context)
    assert results.response["testEngine"]["name"] == "axe-core"
    lines = []
    for violation in results.response["violations"]:
        targets = [" ".join(node["target"]) for node in violation["nodes"]]
        line = f"{violation['id']} ({violation['impact']}): {violation['help']} at {targets}"
        if violation["impact"] in FAILING_IMPACTS:
            lines.append(line)
        else:
            print(f"axe, not failing: {line}")
    return lines


def assert_accessible(page, language, context=None):
    assert same_language(page.evaluate("document.documentElement.lang"), language)
    assert axe_violations(page, context) == []


def test_the_petition_page_has_no_serious_accessibility_violations_on_a_phone_or_a_desktop(page, localized, language):
    for viewport in (PHONE, DESKTOP):
        page.set_viewport_size(viewport)
        page.goto(localized.url)
        assert_accessible(page, language)


def test_the_petition_page_with_field_errors_has_no_serious_accessibility_violations(page, localized, language):
    page.goto(localized.url)
    page.locator(".sign-form input[type=email]").fill("not-an-address")
    with page.expect_navigation():
        page.locator(".sign-form [type=submit]").click()
    page.locator(".field--invalid").first.wait_for()
    assert_accessible(page, language)


@pytest.mark.usefixtures("emailed_links_to_live_server")
def test_the_confirm_page_has_no_serious_accessibility_violations(page, petition, localized, language):
    signature = SignatureFactory(petition=petition)  # pending: the emailed link's page asks to confirm
    page.goto(emails.confirm_url(localized, signature))
    page.locator(".confirm-form [type=submit]").wait_for()
    assert_accessible(page, language)


@pytest.mark.usefixtures("emailed_links_to_live_server")
def test_the_thank_you_pages_have_no_serious_accessibility_violations(page, petition, localized, language):
    page.goto(f"{localized.url}signed/")  # "check your email"
    page.locator(".landing--signed").wait_for()
    assert_accessible(page, language)

    signature = SignatureFactory(petition=petition)
    page.goto(emails.confirm_url(localized, signature))
    with page.expect_navigation():
        page.locator(".confirm-form [type=submit]").click()
    page.locator(".landing--confirmed").wait_for()  # counted: the manage link and the share links
    assert_accessible(page, language)


@pytest.mark.usefixtures("emailed_links_to_live_server")
def test_the_manage_page_has_no_serious_accessibility_violations(page, petition, localized, language):
    signature = SignatureFactory(petition=petition, verified=True)
    page.goto(emails.manage_url(localized, signature))
    page.locator("form").first.wait_for()
    assert_accessible(page, language)


def test_the_campaign_index_has_no_serious_accessibility_violations(page, localized, language):
    page.goto(localized.get_parent().url)
    page.get_by_role("link", name=localized.title).wait_for()
    assert_accessible(page, language)


def test_the_widget_has_no_serious_accessibility_violations(
    page, signed_petition, localized, live_server, partner_site, partner_allowed, language
):
    directory, partner = partner_site
    html = test_widget_browser.WIDGET_PAGE.format(api=live_server.url, petition=localized.pk)
    (directory / "article.html").write_text(html.replace('lang="en"', f'lang="{language}"'))
    page.goto(f"{partner}/article.html")
    page.locator(".petition-widget input[type=email]").wait_for()
    assert_accessible(page, language, context=".petition-widget")


def test_on_a_phone_the_headline_the_count_and_a_way_to_sign_are_on_the_first_screen(page, petition):
    page.set_viewport_size(PHONE)
    page.goto(petition.url)
    call = page.get_by_role("link", name="Sign the petition")
    for element in (page.get_by_role("heading", level=1), page.locator(".sign-call__count"), call):
        box = element.bounding_box()
        assert box is not None and box["y"] + box["height"] <= PHONE["height"], element

    call.press("Enter")  # jumps to the form, with the focus in its first field
    expect_focus_on(page)
    field = page.get_by_role("textbox", name="First name").bounding_box()
    assert field["y"] >= 0 and field["y"] + field["height"] <= PHONE["height"]


def test_on_a_phone_the_count_under_the_headline_follows_the_live_count(sync_api, page, petition):
    # The count endpoint answers more than the page was rendered with, as after signatures on a cached page.
    page.route(
        re.compile(r"/count\.json"),
        lambda route: route.fulfill(json={"count": 1234, "goal": 2000}, headers={"Cache-Control": "no-store"}),
    )
    page.set_viewport_size(PHONE)
    page.goto(petition.url)
    sync_api.expect(page.locator(".sign-call__count")).to_have_text("1,234")


def test_on_a_desktop_the_page_shows_as_composed_without_the_phone_call_to_sign(page, petition):
    page.set_viewport_size(DESKTOP)
    page.goto(petition.url)
    assert not page.locator(".sign-call").is_visible()
    assert page.get_by_role("heading", level=1).is_visible()
    assert page.locator("#sign").is_visible()


def expect_focus_on(page, field="First name"):
    # Playwright's wait_for_function would evaluate a string, which the site's CSP forbids.
    from playwright.sync_api import expect

    expect(page.get_by_role("textbox", name=field)).to_be_focused()


FOCUSED = """() => {
    const el = document.activeElement, style = getComputedStyle(el);
    return {
        name: el.name || el.type || el.tagName.toLowerCase(),
        labelled: el.type === 'submit' ? !!el.textContent.trim() : el.labels.length > 0,
        outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0,
        shadow: style.boxShadow !== 'none',
    };
}"""


def sign_by_keyboard(page, typed, start="First name", limit=20):
    """From the top of the page: follow the "Sign the petition" link to ``start``, Tab through the form typing
    ``typed`` (a field's name to its text, or to " " to tick it) and stop on the submit button.

    Returns the focused controls, in order.
    """
    for _ in range(6):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Sign the petition":
            break
    page.keyboard.press("Enter")
    expect_focus_on(page, start)
    stops = []
    while len(stops) < limit:
        stops.append(page.evaluate(FOCUSED))
        name = stops[-1]["name"]
        if name == "submit":
            break
        if typed.get(name) == " ":
            page.keyboard.press("Space")
        elif name in typed:
            page.keyboard.press("ControlOrMeta+a")  # over what the page kept from a first try
            page.keyboard.type(typed[name])
        page.keyboard.press("Tab")
    return stops


def described_by(page, field):
    """The text of the elements a control's aria-describedby names."""
    ids = (field.get_attribute("aria-describedby") or "").split()
    return " ".join(page.locator(f"#{id_}").inner_text() for id_ in ids)


def test_a_keyboard_alone_can_sign_and_errors_are_tied_to_their_fields(page, petition):
    expected = [field.name for field in petition.get_form().visible_fields() if field.name != "website"]
    page.set_viewport_size(PHONE)
    page.goto(petition.url)

    # A first try: a name, a malformed address, no choice for the feed.
    stops = sign_by_keyboard(page, {"first_name": "Grace", "email": "grace-at-example.org"})
    with page.expect_navigation() as navigation:
        page.keyboard.press("Enter")
    assert navigation.value.status == 400
    # Every control in order, each labelled and with a visible focus; the honeypot is skipped.
    assert [stop["name"] for stop in stops] == [*expected, "submit"]
    assert all(stop["labelled"] for stop in stops), stops
    assert all(stop["outline"] or stop["shadow"] for stop in stops), stops

    email = page.get_by_role("textbox", name="Email")
    assert email.get_attribute("aria-invalid") == "true"
    assert "valid email" in described_by(page, email)
    feed = page.get_by_role("group", name=re.compile("Show me in the list of signers as"))
    assert "Choose how you appear" in described_by(page, feed)
    assert page.get_by_role("radio", name="My first name", exact=True).get_attribute("aria-invalid") == "true"
    assert page.get_by_role("textbox", name="First name").get_attribute("aria-invalid") is None

    # The second try, by keyboard again, from the first field in error: the address mended, a feed choice taken.
    sign_by_keyboard(page, {"email": "grace@example.org", "feed_display": " "}, start="Email")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Check your email").wait_for()
    assert [message.to for message in mail.outbox] == [["grace@example.org"]]
