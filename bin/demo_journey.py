#!/usr/bin/env python3
"""Walk the signer's journey through a running demo, as a person would, in Chromium.

Start the demo first (``make demo``), then::

    .venv/bin/python bin/demo_journey.py [BASE_URL] [--mail-dir var/mail]

It opens the reference petition, signs with a fresh name and address, finds
the verification email among the ``.eml`` files the demo writes, opens its
link, presses "Confirm my signature", and then reloads the petition until the
count has gone up by one and the name tops the feed (at most --wait seconds).
Each step is printed with how long it took; screenshots go to --shots.
"""

import argparse
import email
import email.policy
import os
import re
import sys
import time
import uuid
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from petitions_site import chromium  # noqa: E402  (the repository root is on the path only now)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base_url", nargs="?", default=os.environ.get("DEMO_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--slug", default="no-more-weapons")
    parser.add_argument("--mail-dir", type=Path, default=ROOT / "var" / "mail")
    parser.add_argument("--wait", type=float, default=60, help="seconds to wait for the email and the count")
    parser.add_argument("--shots", type=Path, help="a folder for a screenshot of each step")
    parser.add_argument("--chromium", default=str(chromium.CHROMIUM))
    return parser.parse_args()


def count_on(page):
    return int(page.locator(".counter__count").first.get_attribute("data-count"))


def find_email(mail_dir, address, deadline):
    while time.monotonic() < deadline:
        for path in sorted(mail_dir.glob("*.eml"), reverse=True):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if address in message["To"]:
                return path, message
        time.sleep(0.25)
    sys.exit(f"No email to {address} appeared in {mail_dir}")


def main():
    args = parse_args()
    started = time.monotonic()
    name = f"Journey{uuid.uuid4().hex[:6]}"
    address = f"{name.lower()}@example.org"

    def step(text):
        print(f"[{time.monotonic() - started:6.2f}s] {text}")

    def shot(page, label):
        if args.shots:
            args.shots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.shots / f"{label}.png"), full_page=True)

    with sync_playwright() as playwright:
        browser = chromium.launch(playwright, args.chromium)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{args.base_url}/{args.slug}/")
        before = count_on(page)
        step(f"Opened the petition: {before:,} signed")

        page.fill("input[name=first_name]", name)
        page.fill("input[name=email]", address)
        page.click("form.sign-form button[type=submit]")
        page.wait_for_selector("text=Check your email")
        step(f"Signed as {name} <{address}>: the page says 'Check your email'")
        shot(page, "1-signed")

        path, message = find_email(args.mail_dir, address, time.monotonic() + args.wait)
        body = message.get_body(preferencelist=("plain",)).get_content()
        link = re.search(r"https?://\S+/confirm/\?token=\S+", body).group(0)
        step(f"Email {path.name}: subject {message['Subject']!r}, tags {message['X-Tags']!r}")

        page.goto(link)
        page.wait_for_selector("text=Confirm your signature")
        step("Opened the link: a confirm page (the GET counted nothing)")
        shot(page, "2-confirm")
        page.click("text=Confirm my signature")
        page.wait_for_selector("text=counted")
        step("Pressed 'Confirm my signature': the page says I'm counted")
        shot(page, "3-confirmed")

        deadline = time.monotonic() + args.wait
        while True:
            page.goto(f"{args.base_url}/{args.slug}/")
            count, top = count_on(page), page.locator(".feed__name").first.inner_text()
            if count == before + 1 and top == name:
                step(f"The petition shows {count:,} signed (+1) and {name} at the top of the feed")
                shot(page, "4-counted")
                break
            if time.monotonic() > deadline:
                sys.exit(f"After {args.wait}s the page shows {count:,} and {top!r} on top")
            time.sleep(2)
        browser.close()


if __name__ == "__main__":
    main()
