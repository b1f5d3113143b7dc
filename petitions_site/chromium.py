"""Debian's Chromium, headless, for the demo scripts and the browser tests.

No browser is downloaded here: Playwright drives /usr/bin/chromium (or $CHROMIUM).
Without the networking flags Chromium keeps trying hosts this machine cannot reach.
"""

import os
from pathlib import Path

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def launch(playwright, executable=None):
    """A headless Chromium browser from a Playwright (sync) instance."""
    return playwright.chromium.launch(executable_path=str(executable or CHROMIUM), headless=True, args=ARGS)
