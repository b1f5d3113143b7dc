"""Share cards: what a shared link to a petition shows (Open Graph and Twitter card tags, and the picture).

The picture is the editor's share image (a 1200×630 rendition) or, without one, a card drawn here
with Pillow: the site's name, the title, the count and the progress towards the goal.

A card is drawn from a few values (:class:`CardInputs`); their hash is its version. The page's
``og:image`` URL carries the version (``share-card/?v=…``), so a social network fetches the card
again when it changes, and the drawn PNG is kept in the plugin's cache under it, so it is drawn
once per version, not per request. The count on the card is :func:`count_bucket`: rounded down to
two significant figures. A card is then redrawn at most about 90 times per power of ten (every 10
signatures from 100 to 1,000, every 100 to 10,000, ...), never per signature, while what it says
("1,200+ signatures") stays true and less than a tenth below the total. (A time-based
refresh was the other choice; it redraws a still petition for nothing and gives a hot one a figure
that is wrong by any amount.) The count comes from the store (``live_values``), never a COUNT(*).

By default the card is drawn in the Noto fonts the plugin ships for the delivery PDF (cms/fonts):
each stretch of text in the first of them that has its characters (Latin, Greek and Cyrillic, then
Arabic, Hebrew, Devanagari, Chinese), so a title in any of those scripts prints, and an Arabic
sentence with Latin digits takes its digits from Noto Sans. ``PETITIONS["SHARE_CARD_FONT"]`` (a
TrueType or OpenType file) draws everything in that one font instead. Pillow lays out right-to-left
text and shapes Arabic where it was built with libraqm (its wheels are).
"""

import hashlib
import io
import re
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from html import unescape
from pathlib import Path

from django.http import HttpResponse, HttpResponseNotModified
from django.utils.html import strip_tags
from django.utils.translation import get_language, get_language_bidi, gettext, ngettext, to_locale
from fontTools.ttLib import TTFont
from PIL import Image, ImageDraw, ImageFont
from wagtail.models import Site

from .conf import get_setting
from .outage import patch_public_cache
from .store import get_cache

WIDTH, HEIGHT = 1200, 630
#: The editor's share image is cropped to this (Open Graph's recommended size, and Twitter's large card).
RENDITION_FILTER = f"fill-{WIDTH}x{HEIGHT}"
#: Changes whenever the drawing below changes, so every stored card is drawn again.
LAYOUT_VERSION = "2"
DESCRIPTION_LENGTH = 200
MARGIN = 64
FONT_DIR = Path(__file__).resolve().parent / "fonts"
#: Without SHARE_CARD_FONT: the bundled fonts, each character drawn in the first one that has it.
FONT_CHAIN = (
    "NotoSans-Regular.ttf",
    "NotoSansArabic-Regular.ttf",
    "NotoSansHebrew-Regular.ttf",
    "NotoSansDevanagari-Regular.ttf",
    "NotoSansSC-Regular-Subset.ttf",
)
# The petition pages' own colours (cms/static/petitions/petitions.css).
PAPER, INK, MUTED, LINE, ACCENT, WHITE = "#fffdf9", "#1b1b1f", "#5f5f66", "#e6e1da", "#b3261e", "#ffffff"


def count_bucket(count: int) -> int:
    """The count a card shows: exact below 100, else rounded down to two significant figures (1,234 -> 1,200)."""
    count = max(int(count or 0), 0)
    if count < 100:
        return count
    step = 10 ** (len(str(count)) - 2)
    return count - count % step


def plain_text(html: str) -> str:
    """Rich text as one line of plain text."""
    return " ".join(unescape(strip_tags(html or "")).split())


def truncate(text: str, length: int = DESCRIPTION_LENGTH) -> str:
    """``text`` cut at the last word break before ``length`` characters, with an ellipsis."""
    text = " ".join((text or "").split())
    if len(text) <= length:
        return text
    cut = text[: length - 1]
    if " " in cut[length // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:.-–—") + "…"


def description(page) -> str:
    """The share text: the page's intro, else its search description, else the first text of its body."""
    text = getattr(page, "intro", "") or page.search_description
    if not text:
        for block in getattr(page, "body", None) or []:
            if block.block_type in ("text", "letter"):
                text = plain_text(str(block.value.get("body") if block.block_type == "letter" else block.value))
                if text:
                    break
    return truncate(plain_text(text))


def site_name(page, request=None) -> str:
    site = Site.find_for_request(request) if request is not None else page.get_site()
    return (site.site_name if site else "") or gettext("Petitions")


def canonical_url(page) -> str:
    """The page's full URL, on ``SITE_URL`` where it is set (as the links in emails).

    Asked without the request, so Wagtail keeps the sites' root paths on the page object, where
    ``get_privacy_url`` (the sign form's link) finds them again: one cache read per render, not two.
    """
    if not hasattr(page, "_petitions_canonical_url"):
        base = get_setting("SITE_URL")
        parts = page.get_url_parts()
        if base and parts:
            page._petitions_canonical_url = base.rstrip("/") + parts[2]
        else:
            page._petitions_canonical_url = page.get_full_url() or ""
    return page._petitions_canonical_url


def absolute(url: str, page) -> str:
    """A media URL made absolute on the page's origin (crawlers need one)."""
    if url.startswith(("http://", "https://", "//")):
        return url
    origin = canonical_url(page)
    match = re.match(r"^[a-z]+://[^/]+", origin)
    return (match.group(0) if match else "") + url


@dataclass(frozen=True)
class CardInputs:
    """Everything a generated card shows: equal inputs, equal picture."""

    title: str
    site_name: str
    count: int  # already bucketed
    goal: int
    language: str
    rtl: bool
    font: str

    @property
    def version(self) -> str:
        raw = "\x1f".join(map(str, (LAYOUT_VERSION, *self.__dict__.values())))
        return hashlib.sha256(raw.encode()).hexdigest()[:16]

    def count_text(self) -> str:
        if self.count < 100:  # exact
            return ngettext("%(count)s signature", "%(count)s signatures", self.count) % {"count": f"{self.count:,}"}
        # Translators: a count rounded down, e.g. "1,200+ signatures" (there are at least 1,200).
        return ngettext("%(count)s+ signature", "%(count)s+ signatures", self.count) % {"count": f"{self.count:,}"}

    def percent(self) -> int:
        return min(100, self.count * 100 // self.goal) if self.goal else 0

    def goal_text(self) -> str:
        # The counter block's words, so the card and the page say the same.
        return gettext("%(percent)s%% of our goal of %(goal)s") % {"percent": self.percent(), "goal": f"{self.goal:,}"}


def card_inputs(page, request=None) -> CardInputs:
    count, goal = page.get_live_values()
    return CardInputs(
        title=page.seo_title or page.title,
        site_name=site_name(page, request),
        count=count_bucket(count),
        goal=goal,
        language=get_language() or "",
        rtl=get_language_bidi(),
        font=get_setting("SHARE_CARD_FONT") or "",
    )


# --- drawing ----------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def load_font(path: str, size: int):
    return ImageFont.truetype(path, size)


@cache
def _characters(path: str) -> frozenset:
    """The code points a font file has glyphs for (read once a process)."""
    font = TTFont(path, lazy=True)
    try:
        return frozenset(font.getBestCmap())
    finally:
        font.close()


class Typeface:
    """Text in one size, drawn in one font (SHARE_CARD_FONT) or across the bundled chain, run by run."""

    def __init__(self, font_setting: str, size: int):
        self.paths = (font_setting,) if font_setting else tuple(str(FONT_DIR / name) for name in FONT_CHAIN)
        self.size = size

    def runs(self, text) -> list:
        """[(font, text, direction)] in logical order, direction "L", "R" or "N" (spaces, digits, signs).

        A character goes to the first font that has it; a digit or sign stays with the run before it
        when that font has it too; spaces are runs of their own, so words can be reordered.
        """
        runs = []  # [path, chars, direction]
        for char in text:
            if char.isspace():
                if runs and runs[-1][2] == " ":
                    runs[-1][1].append(char)
                else:
                    runs.append([runs[-1][0] if runs else self.paths[0], [char], " "])
                continue
            code = ord(char)
            last = runs[-1] if runs and runs[-1][2] != " " else None
            if last and not char.isalpha() and code in _characters(last[0]):
                last[1].append(char)
                continue
            path = next((path for path in self.paths if code in _characters(path)), self.paths[0])
            if last and last[0] == path:
                last[1].append(char)
            else:
                runs.append([path, [char], ""])
        return [(load_font(path, self.size), "".join(chars), _direction(chars)) for path, chars, _ in runs]

    def length(self, draw, text) -> float:
        return sum(draw.textlength(run, font=font) for font, run, _ in self.runs(text))

    def draw(self, draw, xy, text, *, rtl, anchor, **options):
        """Like ``draw.text``; ``anchor``'s first letter is l or r, its second the vertical one.

        Runs are put in visual order (``_visual_order``); each lays out its own direction (libraqm).
        """
        x, y = xy
        runs = [(font, run, draw.textlength(run, font=font)) for font, run in _visual_order(self.runs(text), rtl)]
        total = sum(width for _, _, width in runs)
        left = x - total if anchor[0] == "r" else x
        # One baseline for every run, placed by the first font's metrics: fonts' ascenders differ.
        ascent, descent = load_font(self.paths[0], self.size).getmetrics()
        baseline = y + {"a": ascent, "m": (ascent - descent) / 2, "s": 0}[anchor[1]]
        for font, run, width in runs:
            draw.text((left, baseline), run, font=font, anchor="ls", **options)
            left += width


def _direction(chars) -> str:
    """A run's strong direction: "R" (Arabic, Hebrew), "L" (Latin, CJK, ...) or "N" (digits, signs, spaces)."""
    classes = {unicodedata.bidirectional(char) for char in chars}
    if classes & {"R", "AL"}:
        return "R"
    return "L" if "L" in classes else "N"


def _visual_order(runs, rtl) -> list:
    """[(font, text)] left to right: a simple bidi for one line of a card.

    In a right-to-left line the runs go from the right, except that a stretch of left-to-right
    runs (with the spaces and digits between them) keeps its order ("حضرة Secretary Blinken");
    in a left-to-right line, a right-to-left stretch is reversed. A number is a run of its own.
    """
    embedded = "L" if rtl else "R"
    groups, i = [], 0
    while i < len(runs):
        if runs[i][2] == embedded:
            end = j = i + 1
            while j < len(runs) and runs[j][2] in (embedded, "N"):
                if runs[j][2] == embedded:
                    end = j + 1
                j += 1
            group = runs[i:end]
            groups.append(group if rtl else group[::-1])
            i = end
        else:
            groups.append(runs[i : i + 1])
            i += 1
    if rtl:
        groups.reverse()
    return [(font, text) for group in groups for font, text, _ in group]


def _wrap(draw, text, face, width) -> list:
    """``text`` in lines no wider than ``width``; a word too wide (or a script without spaces) is split."""
    lines, line = [], ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if face.length(draw, candidate) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        line = ""
        for char in word:
            if line and face.length(draw, line + char) > width:
                lines.append(line)
                line = ""
            line += char
    if line:
        lines.append(line)
    return lines


def _fit_title(draw, title, font_path, width, height):
    """The biggest font size (and lines) at which the title fits the box; at the smallest, cut with "…"."""
    for size in (76, 68, 60, 54, 48, 42):
        face = Typeface(font_path, size)
        lines = _wrap(draw, title, face, width)
        if len(lines) * size * 1.2 <= height:
            return face, size, lines
    most = int(height // (size * 1.2))
    if len(lines) > most:
        lines = lines[:most]
        while lines[-1] and face.length(draw, lines[-1] + "…") > width:
            lines[-1] = lines[-1][:-1]
        lines[-1] = lines[-1].rstrip() + "…"
    return face, size, lines


def render_card(inputs: CardInputs) -> bytes:
    """The card as a 1200×630 PNG."""
    image = Image.new("RGB", (WIDTH, HEIGHT), PAPER)
    draw = ImageDraw.Draw(image)
    start = WIDTH - MARGIN if inputs.rtl else MARGIN
    align = "r" if inputs.rtl else "l"
    width = WIDTH - 2 * MARGIN

    # The site's header band, as on the page.
    draw.rectangle((0, 0, WIDTH, 92), fill=INK)
    draw.rectangle((0, 92, WIDTH, 100), fill=ACCENT)
    rtl = inputs.rtl
    Typeface(inputs.font, 34).draw(draw, (start, 48), inputs.site_name, rtl=rtl, anchor=f"{align}m", fill=WHITE)

    face, size, lines = _fit_title(draw, inputs.title, inputs.font, width, 300)
    y = 150
    for line in lines:
        face.draw(draw, (start, y), line, rtl=rtl, anchor=f"{align}a", fill=INK)
        y += int(size * 1.2)

    count_face = Typeface(inputs.font, 54)
    count_face.draw(draw, (start, 500), inputs.count_text(), rtl=rtl, anchor=f"{align}s", fill=ACCENT, stroke_width=1)

    if inputs.goal:
        bar_top, bar_bottom = 522, 546
        draw.rounded_rectangle((MARGIN, bar_top, WIDTH - MARGIN, bar_bottom), radius=12, fill=LINE)
        filled = round(width * inputs.percent() / 100)
        if filled:
            filled = max(filled, 24)  # never narrower than its rounded ends
            left = WIDTH - MARGIN - filled if inputs.rtl else MARGIN  # it fills from the start side
            draw.rounded_rectangle((left, bar_top, left + filled, bar_bottom), radius=12, fill=ACCENT)
        Typeface(inputs.font, 30).draw(draw, (start, 590), inputs.goal_text(), rtl=rtl, anchor=f"{align}m", fill=MUTED)

    out = io.BytesIO()
    # Not optimize=True: it saves 4% of the bytes and makes a draw five times slower (20 ms -> 110 ms here).
    image.save(out, format="PNG")
    return out.getvalue()


# --- the page's tags and the card's route ----------------------------------------------------------


def card_key(page, inputs: CardInputs) -> str:
    return f"petitions:share-card:{page.pk}:{inputs.version}"


def get_card(page, inputs: CardInputs) -> bytes:
    """The page's generated card as a PNG: from the cache, drawn on a miss."""
    key = card_key(page, inputs)
    cache = get_cache()
    png = cache.get(key)
    if png is None:
        png = render_card(inputs)
        cache.set(key, png, get_setting("SHARE_CARD_STORE_SECONDS"))
    return png


def serve_card(page, request) -> HttpResponse:
    """The card's answer: public, long-lived when the URL names the current version, with an ETag."""
    inputs = card_inputs(page, request)
    etag = f'"{inputs.version}"'
    # A stale ?v= (a page cached before the count moved) still gets the current card, but briefly.
    current = request.GET.get("v") == inputs.version
    max_age = get_setting("SHARE_CARD_CACHE_SECONDS") if current else min(60, get_setting("SHARE_CARD_CACHE_SECONDS"))
    if etag in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]:
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(get_card(page, inputs), content_type="image/png")
    response["ETag"] = etag
    return patch_public_cache(response, max_age=max_age)


def share_meta(page, request=None) -> dict:
    """The values of the page's Open Graph and Twitter card tags."""
    url = canonical_url(page)
    title = page.seo_title or page.title
    image = getattr(page, "share_image", None)
    if image is not None:
        rendition = image.get_rendition(RENDITION_FILTER)
        picture = {
            "url": absolute(rendition.url, page),
            "width": rendition.width,
            "height": rendition.height,
            "alt": getattr(image, "default_alt_text", "") or title,
        }
    else:
        inputs = card_inputs(page, request)
        picture = {
            "url": f"{url}{page.reverse_subpage('share_card')}?v={inputs.version}",
            "width": WIDTH,
            "height": HEIGHT,
            "alt": f"{title}: {inputs.count_text()}",
        }
    return {
        "title": title,
        "description": description(page),
        "url": url,
        "site_name": site_name(page, request),
        "locale": to_locale(get_language() or "en"),
        "image": picture,
    }
