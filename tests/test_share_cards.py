"""A shared link to a petition shows its title, text and a picture (Open Graph and Twitter card tags)."""

import io
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import wagtail_factories
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation
from PIL import Image
from wagtail.models import Collection

from cms import share_cards
from cms.store import get_store

from .factories import PetitionPageFactory

pytestmark = pytest.mark.django_db


class HeadTags(HTMLParser):
    """The page's <meta> tags by property or name, and the text of its <script> elements."""

    def __init__(self, html):
        super().__init__()
        self.meta, self.links, self.scripts, self._in_script = {}, {}, [], False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "meta" and ("property" in attrs or "name" in attrs):
            self.meta[attrs.get("property") or attrs["name"]] = attrs.get("content")
        elif tag == "link":
            self.links[attrs.get("rel")] = attrs.get("href")
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)


def tags(client, page):
    response = client.get(page.url)
    assert response.status_code == 200
    return HeadTags(response.content.decode()).meta


def set_count(page, total, at):
    """The store's live count of ``page``, as a reconcile publishes it."""
    get_store().apply_reconcile(page.pk, total, at)


def fetch_card(client, url):
    parts = urlsplit(url)
    return client.get(parts.path, {"v": parts.query.removeprefix("v=")} if parts.query else {})


@pytest.fixture
def drawn(monkeypatch):
    """The inputs of every card drawn (not served from the cache)."""
    calls = []
    render = share_cards.render_card

    def counting(inputs):
        calls.append(inputs)
        return render(inputs)

    monkeypatch.setattr(share_cards, "render_card", counting)
    return calls


def test_a_petition_page_has_open_graph_and_twitter_card_tags(client, petition):
    petition.intro = "Ask the council to keep the library open."
    petition.save_revision().publish()

    meta = tags(client, petition)

    url = "http://testserver" + petition.url
    assert meta["og:title"] == meta["twitter:title"] == petition.title
    assert meta["og:description"] == meta["twitter:description"] == "Ask the council to keep the library open."
    assert meta["og:url"] == url
    assert meta["og:type"] == "website"
    assert meta["og:locale"] == translation.to_locale(translation.get_language())  # en_GB here
    assert meta["og:image"] == meta["twitter:image"]
    assert meta["og:image"].startswith(url + "share-card/?v=")
    assert (meta["og:image:width"], meta["og:image:height"]) == ("1200", "630")
    assert meta["og:image:alt"].startswith(petition.title)
    assert meta["twitter:card"] == "summary_large_image"


def test_the_description_falls_back_to_the_search_description_then_the_body_text_and_is_cut_at_a_word(
    client, index_page
):
    page = PetitionPageFactory(parent=index_page, search_description="For search engines.")
    assert tags(client, page)["og:description"] == "For search engines."

    page = PetitionPageFactory(parent=index_page)  # the body starts with "<p>Campaign text.</p>"
    assert tags(client, page)["og:description"] == "Campaign text."

    page = PetitionPageFactory(parent=index_page, intro="Save the river " * 40)
    description = tags(client, page)["og:description"]
    assert len(description) <= share_cards.DESCRIPTION_LENGTH
    assert description.endswith("river…") or description.endswith("Save…") or description.endswith("the…")


def test_the_generated_card_is_a_1200_by_630_png_served_public_with_an_etag(client, petition):
    url = tags(client, petition)["og:image"]

    response = fetch_card(client, url)

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert (image.format, image.size) == ("PNG", (1200, 630))
    assert "public" in response["Cache-Control"]
    assert "max-age=86400" in response["Cache-Control"]
    again = client.get(urlsplit(url).path, HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304


def test_a_card_asked_for_at_an_old_version_is_the_current_one_kept_briefly(client, petition):
    response = client.get(petition.url + "share-card/", {"v": "not-a-version"})

    assert response.status_code == 200
    assert Image.open(io.BytesIO(response.content)).size == (1200, 630)
    assert "max-age=60" in response["Cache-Control"]


def test_the_card_reads_the_count_from_the_store_not_a_count_query(client, petition):
    set_count(petition, 1234, timezone.now())
    client.get(petition.url + "share-card/")  # the page's own lookups warm up

    with CaptureQueriesContext(connection) as queries:
        response = client.get(petition.url + "share-card/")

    assert response.status_code == 200
    assert [query["sql"] for query in queries if "COUNT(" in query["sql"].upper()] == []


def test_the_card_is_drawn_again_when_the_count_bucket_changes_not_on_every_signature(
    client, petition, drawn, settings
):
    # Each look at the page renders it (a cached copy lags the count by PAGE_CACHE_SECONDS at most).
    settings.PETITIONS = {**getattr(settings, "PETITIONS", {}), "PAGE_CACHE_SECONDS": 0}
    now = timezone.now()
    set_count(petition, 1234, now)
    first = tags(client, petition)["og:image"]
    fetch_card(client, first)
    assert [inputs.count for inputs in drawn] == [1200]

    # More signatures within the bucket: the same version, served from the cache.
    for step, total in enumerate((1235, 1250, 1299), start=1):
        set_count(petition, total, now + timedelta(seconds=step))
        assert tags(client, petition)["og:image"] == first
        assert fetch_card(client, first).status_code == 200
    assert len(drawn) == 1

    # The displayed figure moves on: a new version in the page, drawn once.
    set_count(petition, 1300, now + timedelta(seconds=10))
    second = tags(client, petition)["og:image"]
    assert second != first
    fetch_card(client, second)
    fetch_card(client, second)
    assert [inputs.count for inputs in drawn] == [1200, 1300]


def test_with_a_share_image_the_og_image_is_its_1200_by_630_rendition(client, petition, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    image = wagtail_factories.ImageFactory(
        collection=Collection.get_first_root_node(), title="The march", file__width=2400, file__height=1600
    )
    petition.share_image = image
    petition.save_revision().publish()

    meta = tags(client, petition)

    rendition = image.get_rendition("fill-1200x630")
    assert meta["og:image"] == meta["twitter:image"] == "http://testserver" + rendition.url
    assert (meta["og:image:width"], meta["og:image:height"]) == ("1200", "630")
    assert "share-card" not in meta["og:image"]


def test_a_hostile_title_and_intro_stay_inside_their_attributes(client, index_page):
    hostile = '"><script>alert("x")</script>'
    page = PetitionPageFactory(parent=index_page, title="Stop " + hostile, intro="Read </script><b>this</b>")

    response = client.get(page.url)
    html = response.content.decode()
    parsed = HeadTags(html)

    assert hostile not in html
    assert parsed.meta["og:title"] == parsed.meta["twitter:title"] == "Stop " + hostile
    assert parsed.meta["og:description"] == "Read this"
    assert [script for script in parsed.scripts if "alert" in script] == []
    card = fetch_card(client, parsed.meta["og:image"])
    assert Image.open(io.BytesIO(card.content)).size == (1200, 630)


@pytest.mark.parametrize(
    ("count", "shown"), [(0, 0), (7, 7), (99, 99), (100, 100), (1234, 1200), (98765, 98000), (1_500_001, 1_500_000)]
)
def test_the_count_bucket_is_two_significant_figures_rounded_down(count, shown):
    assert share_cards.count_bucket(count) == shown


def inputs(**changes):
    values = {"title": "Keep the library open", "site_name": "Petitions", "count": 1200, "goal": 2000}
    values.update(language="en", rtl=False, font="")
    return share_cards.CardInputs(**{**values, **changes})


def test_the_card_says_the_rounded_count_and_the_goal():
    assert inputs().count_text() == "1,200+ signatures"
    assert inputs(count=1).count_text() == "1 signature"
    assert inputs().goal_text() == "60% of our goal of 2,000"
    assert inputs(count=5000).percent() == 100


def test_a_card_is_a_new_version_when_anything_it_shows_changes():
    versions = {
        inputs().version,
        inputs(title="Another title").version,
        inputs(count=1300).version,
        inputs(goal=5000).version,
        inputs(language="fr").version,
        inputs(font="/fonts/NotoSans-Regular.ttf").version,
    }
    assert len(versions) == 6
    assert inputs().version == inputs().version


def test_a_long_right_to_left_title_is_drawn_within_the_card():
    with translation.override("ar"):
        card = inputs(title="أوقفوا إغلاق المكتبة " * 12, rtl=True, language="ar")
        png = share_cards.render_card(card)

    assert Image.open(io.BytesIO(png)).size == (1200, 630)


def test_an_unsaved_page_such_as_a_new_pages_preview_gets_no_share_tags():
    from cms.templatetags.petitions_share import share_tags

    assert share_tags({}, PetitionPageFactory.build()) == {"share": None}


def test_the_card_is_drawn_in_the_active_language():
    with translation.override("fr"):
        assert inputs().goal_text() == "60 % de notre objectif de 2,000"


def test_a_share_card_font_pillow_cannot_open_is_a_system_check_error(settings, tmp_path):
    from cms.checks import check_share_card_font

    not_a_font = tmp_path / "font.ttf"
    not_a_font.write_text("not a font")
    settings.PETITIONS = {**getattr(settings, "PETITIONS", {}), "SHARE_CARD_FONT": str(not_a_font)}

    assert [message.id for message in check_share_card_font(None)] == ["petitions.E071"]


def test_no_share_card_font_set_means_pillows_own_and_no_error():
    from cms.checks import check_share_card_font

    assert check_share_card_font(None) == []


def test_editors_choose_the_share_image_on_the_promote_tab():
    from cms.models import PetitionPage

    promote = next(tab for tab in PetitionPage.edit_handler.children if tab.heading == "Promote")
    assert "share_image" in [getattr(panel, "field_name", None) for panel in promote.children]
    assert "share_image" in PetitionPage.get_edit_handler().get_form_class().base_fields


def test_an_unpublished_petition_serves_no_card(client, petition):
    url = petition.url + "share-card/"
    petition.unpublish()

    assert client.get(url).status_code == 404


def test_the_card_draws_each_script_in_a_bundled_font_that_has_it_and_orders_a_right_to_left_line():
    from cms.share_cards import Typeface, _visual_order

    face = Typeface("", 30)
    runs = face.runs("وقّع 1,248 شخصًا")
    fonts = [Path(font.path).name for font, text, _ in runs if not text.isspace()]
    assert fonts == ["NotoSansArabic-Regular.ttf", "NotoSans-Regular.ttf", "NotoSansArabic-Regular.ttf"]
    # Right to left: the first word at the right; a number keeps its own order.
    assert [text for _, text in _visual_order(runs, rtl=True)] == ["شخصًا", " ", "1,248", " ", "وقّع"]
    # A Latin stretch inside an Arabic line keeps its words in order, and the other way round.
    mixed = face.runs("حضرة Secretary Blinken")
    assert [text for _, text in _visual_order(mixed, rtl=True)] == ["Secretary", " ", "Blinken", " ", "حضرة"]
    embedded = face.runs("Save أنقذوا المدرسة now")
    assert [text for _, text in _visual_order(embedded, rtl=False)] == [
        "Save",
        " ",
        "المدرسة",
        " ",
        "أنقذوا",
        " ",
        "now",
    ]
    assert Path(face.runs("王秀英")[0][0].path).name == "NotoSansSC-Regular-Subset.ttf"
