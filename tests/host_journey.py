"""A signer's journey on a host site nobody here wrote; run inside that site's virtualenv.

tests/test_host_install.py copies this file into a fresh ``wagtail start`` site
that followed the README's install steps and runs it with the harness settings
(locmem email, eager Celery, no reconcile lag, no per-process memo). It uses only
public surfaces: HTTP URLs through Django's test client, the page classes (and
the Official snippet) in ``cms.models``, ``workers.tasks`` by task name, and
Django's mail outbox. Each step prints one line; a failed step raises.
"""

# ruff: noqa: E402  (Django is set up before the site's modules are imported)

import importlib
import json
import os
import re
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import django

django.setup()

from django.conf import settings
from django.core import mail
from django.test import Client
from wagtail.models import Site

import cms
import workers
from cms.models import CampaignIndexPage, Official, PetitionPage
from workers import tasks

ORIGIN = "http://testserver"  # what a browser on this site sends with its POSTs


def step(text):
    print(text, flush=True)


class Forms(HTMLParser):
    """The forms on a page: [{"action": ..., "fields": {name: value}, "names": {every input's name}}]."""

    def __init__(self, html):
        super().__init__()
        self.forms = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({"action": attrs.get("action", ""), "fields": {}, "names": set()})
        elif tag == "input" and self.forms and attrs.get("name"):
            self.forms[-1]["names"].add(attrs["name"])
            # As a browser posts: a radio or checkbox only when checked (a checkbox's value is "on").
            if attrs.get("type") in ("radio", "checkbox"):
                if "checked" in attrs:
                    self.forms[-1]["fields"][attrs["name"]] = attrs.get("value") or "on"
                return
            self.forms[-1]["fields"].setdefault(attrs["name"], attrs.get("value") or "")


def form_posting_to(html, action):
    forms = [form for form in Forms(html).forms if form["action"] == action]
    assert forms, f"no form posts to {action}"
    return forms[0]


def shown_count(html):
    return int(re.search(r'data-count="(\d+)"', html).group(1))


def feed_names(html):
    return re.findall(r'<span class="feed__name">([^<]*)</span>', html)


def count_json(client, petition):
    response = client.get(f"/api/petitions/{petition.pk}/count.json")
    assert response.status_code == 200, response.status_code
    return response.json()["count"]


def page_body(official_id):
    """A letter, a sign form, a counter and a feed, as an editor composes them in the admin."""
    return json.dumps(
        [
            {"type": "text", "value": "<p>The bridge has been closed for a year.</p>"},
            {
                "type": "letter",
                "value": {
                    "greeting": "Dear",
                    "officials": [official_id],
                    "body": "<p>We, the undersigned, ask you to reopen it.</p>",
                    "sign_off": "Sincerely,",
                    "signatories": "The undersigned",
                },
            },
            {"type": "sign_form", "value": {"heading": "Will you sign?", "text": "", "button_label": "Sign"}},
            {"type": "counter", "value": {"label": "people already signed", "goal": None, "show_progress": True}},
            {"type": "signer_feed", "value": {"heading": "Who's signing", "size": 10}},
        ]
    )


def main():
    site_name = settings.ROOT_URLCONF.split(".")[0]
    step(
        f"host: {site_name} (wagtail start), settings {os.environ['DJANGO_SETTINGS_MODULE']}; "
        f"cms from {Path(cms.__file__).parent}, workers from {Path(workers.__file__).parent}"
    )
    assert "site-packages" in cms.__file__ and "site-packages" in workers.__file__

    celery_app = importlib.import_module(site_name).celery_app
    celery_app.loader.import_default_modules()
    petition_tasks = sorted(name for name in celery_app.tasks if name.startswith("petitions."))
    assert "petitions.reconcile_counts" in petition_tasks
    assert "petitions-reconcile-counts" in celery_app.conf.beat_schedule
    step(
        f"celery app {celery_app.main!r}: {len(petition_tasks)} petitions.* tasks registered, "
        f"beat schedule {sorted(celery_app.conf.beat_schedule)}"
    )

    home = Site.objects.get(is_default_site=True).root_page.specific
    index = home.add_child(instance=CampaignIndexPage(title="Campaigns", slug="campaigns"))
    index.save_revision().publish()
    official = Official.objects.create(name="Ada Minister", title="Minister", email="minister@example.gov")
    petition = index.add_child(
        instance=PetitionPage(
            title="Reopen the bridge", slug="reopen-the-bridge", goal=100, body=page_body(official.pk)
        )
    )
    petition.save_revision().publish()
    petition.refresh_from_db()
    url = petition.url
    step(f"published: {type(home).__name__} > CampaignIndexPage {index.url} > PetitionPage {url} (id {petition.pk})")

    client = Client()
    response = client.get(url)
    html = response.content.decode()
    sign_action = f"/petitions/{petition.pk}/sign/"
    sign_form = form_posting_to(html, sign_action)
    assert response.status_code == 200, response.status_code
    assert f"/static/css/{site_name}.css" in html, "not in the site's layout (the README's template override)"
    assert "ask you to reopen it" in html, "no letter"
    assert shown_count(html) == 0 and feed_names(html) == []
    step(
        f"GET {url} -> 200 (X-Petitions-Cache: {response.get('X-Petitions-Cache')}), in the site's layout "
        f"(css/{site_name}.css): the letter, a sign form posting to {sign_action} with fields "
        f"{sorted(sign_form['names'])}, count 0, an empty feed"
    )
    share_image = re.search(r'<meta property="og:image" content="([^"]+)"', html)
    assert share_image and 'name="twitter:card" content="summary_large_image"' in html, "no share tags in the head"
    card = client.get(urlsplit(unescape(share_image.group(1))).path)
    assert card.status_code == 200 and card["Content-Type"] == "image/png" and card.content[:8] == b"\x89PNG\r\n\x1a\n"
    step(f"share tags in the site's head (the README's meta block); og:image {share_image.group(1)} -> 200 image/png")
    again = client.get(url)
    step(f"GET {url} again -> {again.status_code} (X-Petitions-Cache: {again.get('X-Petitions-Cache')})")
    for static in ("petitions/petitions.css", "petitions/live-count.js", "petitions/widget.js"):
        assert client.get(f"/static/{static}").status_code == 200, static
    step("GET /static/petitions/{petitions.css,live-count.js,widget.js} -> 200 (from the installed package)")

    fields = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.org",
        "feed_display": "first",
        "share_with_officials": "on",
    }
    assert set(fields) <= sign_form["names"], sign_form["names"]
    response = client.post(sign_action, fields, HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 302, (response.status_code, response.content[:500])
    signed = client.get(response["Location"])
    assert signed.status_code == 200 and "Check your email" in signed.content.decode()
    step(f"POST {sign_action} (Origin {ORIGIN}) -> 302 {response['Location']} -> 200 'Check your email'")

    outbox = getattr(mail, "outbox", [])
    assert len(outbox) == 1, outbox
    message = outbox[0]
    link = re.search(r"https?://\S+", message.body).group()
    assert message.to == ["ada@example.org"]
    step(f"email to {message.to[0]}: {message.subject!r}, link {link[:80]}...")

    before = count_json(client, petition)
    link_path = urlsplit(link)._replace(scheme="", netloc="").geturl()
    response = client.get(link_path)
    html = response.content.decode()
    confirm_action = f"/petitions/{petition.pk}/confirm/"
    confirm_form = form_posting_to(html, confirm_action)
    assert response.status_code == 200 and "Confirm my signature" in html
    after_link = count_json(client, petition)
    assert before == after_link == 0, (before, after_link)
    step(
        f"GET the link -> 200 'Confirm my signature' (a button posting to {confirm_action}); "
        f"count.json {before} before, {after_link} after: opening the link verifies nothing"
    )

    response = client.post(confirm_action, confirm_form["fields"], HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 200 and "counted" in response.content.decode(), response.status_code
    live = count_json(client, petition)
    assert live == 1, live
    step(f'POST {confirm_action} -> 200 "Thank you, you\'re counted!"; count.json {live} at once (the live count)')

    result = tasks.reconcile_counts.delay()
    step(f"workers.tasks.reconcile_counts (petitions.reconcile_counts, eager) -> {result.get()}")

    count = count_json(client, petition)
    assert count == 1, count
    fresh = client.get(url, {"from": "journey"})  # a query string bypasses the shared page copy
    html = fresh.content.decode()
    assert fresh.status_code == 200 and shown_count(html) == 1 and feed_names(html) == ["Ada"], feed_names(html)
    step(f"GET /api/petitions/{petition.pk}/count.json -> count {count}")
    step(f"GET {url}?from=journey -> 200: count {shown_count(html)}, feed {feed_names(html)}")
    step("journey complete")


if __name__ == "__main__":
    main()
