#!/usr/bin/env python3
"""Screenshots of a running demo into docs/, for the README.

Start the demo first (``make demo`` in another terminal), then::

    .venv/bin/python bin/screenshots.py [BASE_URL]

BASE_URL defaults to $DEMO_URL or http://127.0.0.1:8000. Drives Debian's
chromium (/usr/bin/chromium, or $CHROMIUM) headless through Playwright and
writes:

    docs/petition-page.png        the public petition page, full length
    docs/petition-phone-en.png    its first screen on a phone (390x844): headline, count, "Sign the petition"
    docs/petition-desktop-en.png  its first screen on a desktop (1280x900)
    docs/admin-edit-petition.png  the page editor with the petition's blocks
    docs/admin-block-chooser.png  the editor's block chooser, opened
    docs/confirm-page.png         the confirm page: what will be stored and published, to change
    docs/manage-page.png          "Manage my signature", from the thank-you page's link
    docs/admin-signatures-listing.png  the signatures listing, its filters open, a row ticked

and walks a signer through the journey, printing the count at each step: sign with every
option, change them on the confirm page, confirm, manage, withdraw, and watch the count
fall back at the next reconcile (the demo's beat runs one every 15 s).
"""

import argparse
import email
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from petitions_site import chromium  # noqa: E402  (the repository root is on the path only now)

WIDTH = 1280
#: The first screens shot per language: a phone (an iPhone 12 to 15's CSS viewport) and a desktop.
FIRST_SCREENS = {"phone": (390, 844), "desktop": (WIDTH, 900)}
EDIT_PATH = re.compile(r"/admin/pages/(\d+)/edit/")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "base_url", nargs="?", default=os.environ.get("DEMO_URL", "http://127.0.0.1:8000"), help="the running demo"
    )
    parser.add_argument("--slug", default="no-more-weapons", help="the petition page's slug")
    parser.add_argument("--page-id", type=int, help="the petition page's id (found through the admin if not given)")
    parser.add_argument("--username", default=os.environ.get("DEMO_USERNAME", "admin"))
    parser.add_argument("--password", default=os.environ.get("DEMO_PASSWORD", "petitions-demo"))
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="where the PNGs go")
    parser.add_argument("--chromium", default=str(chromium.CHROMIUM))
    parser.add_argument("--mail-dir", type=Path, default=ROOT / "var" / "mail", help="where the demo writes mail")
    parser.add_argument("--no-journey", action="store_true", help="only the page and admin screenshots")
    parser.add_argument("--language", default="en", help="the language the first screens are asked in")
    parser.add_argument(
        "--first-screens-only", action="store_true", help="only the phone and desktop first screens, in --language"
    )
    return parser.parse_args(argv)


def check_demo_is_up(base_url, slug):
    url = f"{base_url}/{slug}/"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (a URL the user gave)
            response.read()
    except (urllib.error.URLError, OSError) as exc:
        sys.exit(f"Cannot open {url} ({exc}). Start the demo first: make demo")


def log_in(page, base_url, username, password):
    page.goto(f"{base_url}/admin/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    if "/admin/login/" in page.url:
        sys.exit(f"Could not log in to {base_url}/admin/ as {username!r}: check --username and --password")


def find_page_id(page, base_url, slug):
    """The id of the page at /<slug>/, from the userbar's edit link or the admin search."""
    page.goto(f"{base_url}/{slug}/")
    for href in page.locator("a[href*='/admin/pages/']").evaluate_all("links => links.map(a => a.href)"):
        if match := EDIT_PATH.search(href):
            return int(match.group(1))
    title = page.locator("h1").first.inner_text()
    page.goto(f"{base_url}/admin/pages/search/?q={urllib.parse.quote(title)}")
    for href in page.locator("a[href*='/edit/']").evaluate_all("links => links.map(a => a.href)"):
        if match := EDIT_PATH.search(href):
            return int(match.group(1))
    sys.exit(f"Could not find the page /{slug}/ in the admin: pass --page-id")


def shoot_public_page(browser, args):
    context = browser.new_context(viewport={"width": WIDTH, "height": 900}, device_scale_factor=1)
    page = context.new_page()
    page.goto(f"{args.base_url}/{args.slug}/", wait_until="networkidle")
    path = args.out / "petition-page.png"
    page.screenshot(path=path, full_page=True)
    context.close()
    return path


def language_prefix(language):
    """The demo's URL prefix for a language: none for English (the default), ``/ar`` for Arabic."""
    return "" if language.startswith("en") else f"/{language}"


def shoot_first_screens(browser, args):
    """What a signer sees first, before scrolling, on a phone and on a desktop, in ``args.language``."""
    shots = []
    for name, (width, height) in FIRST_SCREENS.items():
        context = browser.new_context(
            viewport={"width": width, "height": height},
            device_scale_factor=1,
            extra_http_headers={"Accept-Language": args.language},
        )
        page = context.new_page()
        page.goto(f"{args.base_url}{language_prefix(args.language)}/{args.slug}/", wait_until="networkidle")
        shots.append(args.out / f"petition-{name}-{args.language}.png")
        page.screenshot(path=shots[-1])
        context.close()
    return shots


def shoot_admin(browser, args):
    context = browser.new_context(viewport={"width": WIDTH, "height": 1000}, device_scale_factor=1)
    page = context.new_page()
    log_in(page, args.base_url, args.username, args.password)
    page_id = args.page_id or find_page_id(page, args.base_url, args.slug)
    page.goto(f"{args.base_url}/admin/pages/{page_id}/edit/", wait_until="networkidle")

    # Fold each block of the body to its one-line summary, so the whole page's composition shows.
    toggles = page.locator(
        "#body-root > [data-streamfield-stream-container] > [data-streamfield-child] > section"
        " > .w-panel__header > button.w-panel__toggle[aria-expanded='true']"
    )
    for _ in range(toggles.count()):
        toggles.first.click()
    page.evaluate("window.scrollTo(0, 0)")
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.mouse.move(WIDTH - 100, 300)  # no focus or hover effects on the blocks
    page.wait_for_timeout(400)
    shots = [args.out / "admin-edit-petition.png"]
    page.screenshot(path=shots[0])

    # The block chooser, opened from the first "insert a block" button in the body.
    insert = page.locator("[data-contentpath='body'] button[title='Insert a block']").first
    try:
        insert.scroll_into_view_if_needed(timeout=5000)
        insert.click(timeout=5000)
        page.locator("[role=listbox], .w-combobox").first.wait_for(timeout=5000)
        page.wait_for_timeout(300)
        shots.append(args.out / "admin-block-chooser.png")
        page.screenshot(path=shots[-1])
    except PlaywrightError as exc:
        print(f"Skipped the block chooser screenshot: {exc.message.splitlines()[0]}", file=sys.stderr)
    context.close()
    return shots


def shoot_signatures_listing(browser, args, path="/admin/petitions/signatures/"):
    """The signatures listing (``cms.signature_listing``) with its filters drawer open and one row ticked."""
    context = browser.new_context(viewport={"width": WIDTH, "height": 900}, device_scale_factor=1)
    page = context.new_page()
    log_in(page, args.base_url, args.username, args.password)
    page.goto(f"{args.base_url}{path}", wait_until="networkidle")
    page.locator("input.bulk-action-checkbox").first.check()  # shows the bulk actions footer
    filters = page.locator("[aria-label='Show filters'], button:has-text('Filter')").first
    try:
        filters.click(timeout=3000)
        page.wait_for_timeout(400)
    except PlaywrightError as exc:
        print(f"The filters stay closed in the listing screenshot: {exc.message.splitlines()[0]}", file=sys.stderr)
    page.mouse.move(WIDTH - 20, 880)
    shot = args.out / "admin-signatures-listing.png"
    page.screenshot(path=shot)
    context.close()
    return shot


def read_count(base_url, page_id):
    with urllib.request.urlopen(f"{base_url}/api/petitions/{page_id}/count.json", timeout=10) as response:  # noqa: S310
        return json.load(response)["count"]


def confirm_link(mail_dir, address, since, timeout=60):
    """The confirm link of the newest email to ``address`` the demo's worker wrote after ``since``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted(mail_dir.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True):
            if path.stat().st_mtime < since:
                break
            message = email.message_from_bytes(path.read_bytes())
            if address in message.get("To", ""):
                for part in message.walk():
                    if part.get_content_type() == "text/plain":
                        text = part.get_payload(decode=True).decode()
                        if match := re.search(r"https?://\S+/confirm/\?token=\S+", text):
                            return match.group(0)
        time.sleep(0.5)  # the worker sends within a second or two
    sys.exit(f"No verification email to {address} in {mail_dir} after {timeout} s: is the demo's worker running?")


def wait_for_count(base_url, page_id, expected, timeout=60):
    deadline = time.monotonic() + timeout
    while (count := read_count(base_url, page_id)) != expected and time.monotonic() < deadline:
        time.sleep(1)
    return count


def walk_a_signer(browser, args):
    """Sign with every option, change them on the confirm page, confirm, manage, withdraw; print the count."""
    context = browser.new_context(viewport={"width": WIDTH, "height": 900}, device_scale_factor=1)
    page = context.new_page()
    address = f"vera.{int(time.time())}@example.org"
    page.goto(f"{args.base_url}/{args.slug}/", wait_until="networkidle")
    page_id = int(
        re.search(
            r"/petitions/(\d+)/sign/", page.locator("form[action*='/sign/']").first.get_attribute("action")
        ).group(1)
    )
    start = read_count(args.base_url, page_id)
    print(f"count before: {start}")
    page.get_by_role("textbox", name="First name").fill("Vera")
    page.get_by_role("textbox", name="Last name").fill("Real")
    page.get_by_role("textbox", name="Email").fill(address)
    page.get_by_role("combobox", name="Country").select_option("GB")
    if page.get_by_role("textbox", name="Postcode").count():
        page.get_by_role("textbox", name="Postcode").fill("SW1A 1AA")
    page.get_by_role("radio", name="My first name and initial").check()
    for box in page.locator("form[action*='/sign/'] input[type=checkbox]").all():
        box.check()  # every option
    sent = time.time() - 1
    page.locator("form[action*='/sign/'] button[type=submit]").first.click()  # its label is the editor's
    page.get_by_role("heading", name="Check your email").wait_for()
    print(f"signed as {address} with every option")

    page.goto(confirm_link(args.mail_dir, address, sent), wait_until="networkidle")
    shots = [args.out / "confirm-page.png"]
    page.screenshot(path=shots[0], full_page=True)
    page.get_by_role("radio", name="My first name", exact=True).check()  # changed her mind about the feed
    page.get_by_role("button", name="Confirm my signature").click()
    page.get_by_role("heading", name=re.compile("counted")).wait_for()
    print(f"confirmed, shown as 'Vera' (changed on the confirm page); live count {read_count(args.base_url, page_id)}")

    page.get_by_role("link", name="manage my signature").click()
    page.get_by_role("heading", name="Your signature", exact=True).wait_for()
    shots.append(args.out / "manage-page.png")
    page.screenshot(path=shots[-1], full_page=True)
    page.get_by_role("button", name="Withdraw my signature and erase my data").click()
    page.get_by_role("heading", name="Your signature is withdrawn").wait_for()
    withdrawn = time.monotonic()
    count = wait_for_count(args.base_url, page_id, start)
    print(f"withdrawn; count {count} after {time.monotonic() - withdrawn:.1f} s (the next reconcile)")
    context.close()
    return shots


def main(argv=None):
    args = parse_args(argv)
    args.base_url = args.base_url.rstrip("/")
    args.out.mkdir(parents=True, exist_ok=True)
    if not Path(args.chromium).exists():
        sys.exit(f"{args.chromium} is missing: install Debian's chromium package (or set CHROMIUM)")
    check_demo_is_up(args.base_url, args.slug)
    with sync_playwright() as playwright:
        browser = chromium.launch(playwright, args.chromium)
        try:
            written = shoot_first_screens(browser, args)
            if not args.first_screens_only:
                written += [
                    shoot_public_page(browser, args),
                    *shoot_admin(browser, args),
                    shoot_signatures_listing(browser, args),
                ]
            if not (args.no_journey or args.first_screens_only):
                written += walk_a_signer(browser, args)
        finally:
            browser.close()
    for path in written:
        print(f"Wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


if __name__ == "__main__":
    main()
