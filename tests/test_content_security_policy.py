"""The demo site's Content-Security-Policy (django-csp) and what the pages need of it."""

import base64
import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEADER = "Content-Security-Policy"


class InlineCode(HTMLParser):
    """Collects what a policy without 'unsafe-inline' blocks: inline scripts, styles and handlers."""

    def __init__(self):
        super().__init__()
        self.found = []
        self._script = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and not attrs.get("src") and attrs.get("type") != "application/json":
            self._script = tag
        if tag == "style":
            self.found.append("<style>")
        self.found += [f"{tag} {name}=" for name in attrs if name == "style" or name.startswith("on")]
        if any((value or "").strip().lower().startswith("javascript:") for value in attrs.values()):
            self.found.append(f"{tag} javascript: URL")

    def handle_data(self, data):
        if self._script and data.strip():
            self.found.append(f"<script>{data.strip()[:40]}")

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = None


def inline_code(html):
    parser = InlineCode()
    parser.feed(html)
    return parser.found


def directives(policy):
    return {part.split()[0]: part.split()[1:] for part in (p.strip() for p in policy.split(";")) if part}


@pytest.mark.django_db
@pytest.mark.parametrize("visitor", ["anonymous", "an editor (with the Wagtail userbar)"])
def test_the_petition_page_carries_a_csp_and_needs_nothing_it_blocks(petition, client, admin_user, visitor):
    if visitor != "anonymous":
        client.force_login(admin_user)

    response = client.get(petition.url)

    assert response.status_code == 200
    policy = directives(response[HEADER])
    assert policy["default-src"] == ["'self'"]
    for name in ("script-src", "style-src"):
        assert policy[name] == ["'self'"], name  # no 'unsafe-inline', no nonce: a cached copy is shared
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert inline_code(response.content.decode()) == []


@pytest.mark.django_db
def test_the_wagtail_admin_is_left_out_of_the_csp_because_it_runs_inline_scripts(petition, admin_client):
    response = admin_client.get(f"/admin/pages/{petition.pk}/edit/")

    assert response.status_code == 200
    assert HEADER not in response
    assert inline_code(response.content.decode())  # why it is left out


def widget_style_hash():
    source = (ROOT / "cms" / "static" / "petitions" / "widget.js").read_text()
    array = re.search(r"var STYLE = \[\n(.*?)\n  \]\.join\(\"\\n\"\);", source, re.S).group(1)
    style = "\n".join(json.loads(f"[{array.rstrip().rstrip(',')}]"))
    return "'sha256-" + base64.b64encode(hashlib.sha256(style.encode()).digest()).decode() + "'"


def test_the_readme_gives_partners_the_hash_of_the_widgets_style():
    readme = (ROOT / "README.md").read_text()

    assert widget_style_hash() in readme
