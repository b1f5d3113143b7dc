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

The default font is Pillow's own scalable one, which draws Latin script; set
``PETITIONS["SHARE_CARD_FONT"]`` to a TrueType or OpenType file (a Noto font, DejaVu Sans) for
other scripts. Pillow lays out right-to-left text (Arabic, Hebrew) where it was built with libraqm.
"""

import hashlib
import io
import re
from dataclasses import dataclass
from functools import lru_cache
from html import unescape

from django.http import HttpResponse, HttpResponseNotModified
from django.utils.html import strip_tags
from django.utils.translation import get_language, get_language_bidi, gettext, ngettext, to_locale
from PIL import Image, ImageDraw, ImageFont
from wagtail.models import Site

from .conf import get_setting
from .outage import patch_public_cache
from .store import get_cache

WIDTH, HEIGHT = 1200, 630
#: The editor's share image is cropped to this (Open Graph's recommended size, and Twitter's large card).
RENDITION_FILTER = f"fill-{WIDTH}x{HEIGHT}"
#: Changes whenever the drawing below changes, so every stored card is drawn again.
LAYOUT_VERSION = "1"
DESCRIPTION_LENGTH = 200
MARGIN = 64
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


@lru_cache(maxsize=32)
def load_font(path: str, size: int):
    if path:
        return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)


def _wrap(draw, text, font, width) -> list:
    """``text`` in lines no wider than ``width``; a word too wide (or a script without spaces) is split."""
    lines, line = [], ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if draw.textlength(candidate, font=font) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        line = ""
        for char in word:
            if line and draw.textlength(line + char, font=font) > width:
                lines.append(line)
                line = ""
            line += char
    if line:
        lines.append(line)
    return lines


def _fit_title(draw, title, font_path, width, height):
    """The biggest font size (and lines) at which the title fits the box; at the smallest, cut with "…"."""
    for size in (76, 68, 60, 54, 48, 42):
        font = load_font(font_path, size)
        lines = _wrap(draw, title, font, width)
        if len(lines) * size * 1.2 <= height:
            return font, size, lines
    most = int(height // (size * 1.2))
    if len(lines) > most:
        lines = lines[:most]
        while lines[-1] and draw.textlength(lines[-1] + "…", font=font) > width:
            lines[-1] = lines[-1][:-1]
        lines[-1] = lines[-1].rstrip() + "…"
    return font, size, lines


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
    draw.text((start, 48), inputs.site_name, font=load_font(inputs.font, 34), fill=WHITE, anchor=f"{align}m")

    font, size, lines = _fit_title(draw, inputs.title, inputs.font, width, 300)
    y = 150
    for line in lines:
        draw.text((start, y), line, font=font, fill=INK, anchor=f"{align}a")
        y += int(size * 1.2)

    count_font = load_font(inputs.font, 54)
    draw.text((start, 500), inputs.count_text(), font=count_font, fill=ACCENT, anchor=f"{align}s", stroke_width=1)

    if inputs.goal:
        bar_top, bar_bottom = 522, 546
        draw.rounded_rectangle((MARGIN, bar_top, WIDTH - MARGIN, bar_bottom), radius=12, fill=LINE)
        filled = round(width * inputs.percent() / 100)
        if filled:
            filled = max(filled, 24)  # never narrower than its rounded ends
            left = WIDTH - MARGIN - filled if inputs.rtl else MARGIN  # it fills from the start side
            draw.rounded_rectangle((left, bar_top, left + filled, bar_bottom), radius=12, fill=ACCENT)
        draw.text((start, 590), inputs.goal_text(), font=load_font(inputs.font, 30), fill=MUTED, anchor=f"{align}m")

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
