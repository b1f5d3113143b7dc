#!/usr/bin/env python3
"""Deliver the reference petition as the demo's campaign lead, in Chromium, as a person would.

Start the demo first (``make demo``), then::

    .venv/bin/python bin/demo_delivery.py [BASE_URL] [--mail-dir var/mail] [--shots DIR]

Logs in as lead / petitions-lead, opens Deliveries → New delivery, chooses the
reference petition (its official is ticked), prepares it, waits for the files,
sends it, and waits until every recipient has an outcome. Then it lists the
new ``.eml`` files with their attachments and saves the attached PDF and CSV
beside them (``--shots`` also gets screenshots of the admin screens).
"""

import argparse
import email
import email.policy
import os
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from petitions_site import chromium  # noqa: E402  (the repository root is on the path only now)

TITLE = "Secretary Blinken: No more weapons to Israel!"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base_url", nargs="?", default=os.environ.get("DEMO_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--mail-dir", type=Path, default=ROOT / "var" / "mail")
    parser.add_argument("--shots", type=Path)
    parser.add_argument("--username", default="lead")
    parser.add_argument("--password", default="petitions-lead")
    parser.add_argument("--chromium", default=str(chromium.CHROMIUM))
    return parser.parse_args()


def main():
    args = parse_args()
    started = time.monotonic()
    before = {path.name for path in args.mail_dir.glob("*.eml")}

    def step(text):
        print(f"[{time.monotonic() - started:6.2f}s] {text}")

    def shot(page, label):
        if args.shots:
            args.shots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.shots / f"{label}.png"), full_page=True)

    with sync_playwright() as playwright:
        browser = chromium.launch(playwright, args.chromium)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{args.base_url}/admin/login/")
        page.fill("input[name=username]", args.username)
        page.fill("input[name=password]", args.password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{args.base_url}/admin/")
        step(f"Logged in as {args.username}")
        page.click("text=Deliveries")
        page.click("text=New delivery")
        page.select_option("#choose-petition", label=TITLE)
        page.wait_for_selector("text=Deliver to")
        ticked = page.locator("input[name=officials]:checked").count()
        step(f"Chose the petition: {ticked} official(s) ticked from its letter")
        shot(page, "1-new-delivery")
        page.click("text=Prepare and preview")
        page.wait_for_selector("text=Status:")
        deadline = time.monotonic() + 60
        while page.locator("text=Send to").count() == 0:
            if time.monotonic() > deadline:
                sys.exit("The delivery never became ready")
            time.sleep(1)
            page.reload()
        step("Prepared: " + page.locator("section p").first.inner_text())
        shot(page, "2-preview")
        page.click("text=Send to")
        deadline = time.monotonic() + 60
        while "Status: Sent" not in page.content():
            if time.monotonic() > deadline:
                sys.exit("The delivery was not sent within a minute")
            time.sleep(1)
            page.reload()
        rows = page.locator("table.listing tbody tr").all_inner_texts()
        step("Sent. Recipients: " + " | ".join(row.replace("\t", " ") for row in rows))
        shot(page, "3-sent")
        browser.close()

    time.sleep(2)  # the updates to opted-in signers go out in batches
    new = sorted(path for path in args.mail_dir.glob("*.eml") if path.name not in before)
    deliveries = []
    for path in new:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if (message["X-Tags"] or "") != "petition-delivery":
            continue
        deliveries.append(path)
        names = []
        for part in message.iter_attachments():
            target = path.with_name(f"{path.stem}-{part.get_filename()}")
            target.write_bytes(
                part.get_content() if isinstance(part.get_content(), bytes) else part.get_content().encode()
            )
            names.append(str(target))
        step(f"{path.name}: to {message['To']}, subject {message['Subject']!r}, attachments saved: {', '.join(names)}")
    updates = len(new) - len(deliveries)
    step(f"{len(deliveries)} delivery email(s) and {updates} update email(s) to opted-in signers so far")


if __name__ == "__main__":
    main()
