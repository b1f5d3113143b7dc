#!/usr/bin/env python3
"""Screenshots of a running demo into docs/, for the README.

Start the demo first (``make demo`` in another terminal), then::

    .venv/bin/python bin/screenshots.py [BASE_URL]

BASE_URL defaults to $DEMO_URL or http://127.0.0.1:8000. Drives Debian's
chromium (/usr/bin/chromium, or $CHROMIUM) headless through Playwright and
writes:

    docs/petition-page.png        the public petition page, full length
    docs/admin-edit-petition.png  the page editor with the petition's blocks
    docs/admin-block-chooser.png  the editor's block chooser, opened
"""

import argparse
import os
import re
import sys
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
            written = [shoot_public_page(browser, args), *shoot_admin(browser, args)]
        finally:
            browser.close()
    for path in written:
        print(f"Wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


if __name__ == "__main__":
    main()
