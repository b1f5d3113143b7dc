"""Text for the delivery PDF in any script: fonts picked per character, bidi order, shaping.

Each font of a fallback chain (``PETITIONS["DELIVERY_PDF_FONTS"]``, Noto by default: see
cms/fonts/README.md) prints the characters that no earlier font holds. Text is written as
glyph numbers (CIDs) of an embedded TrueType font, and each CID's ToUnicode entry gives back
the characters it stands for, so the text can be copied and searched.

Two paths, because a 100,000-name list is mostly plain Latin:

- plain text (left to right, no marks, only in fonts that need no shaping, e.g. Latin, Greek,
  Cyrillic, CJK) maps character to glyph through a per-document table, one ``str.translate``
  a name when all of it is in the first font;
- anything else (Arabic, Hebrew, Devanagari, combining marks, joiners) is split into bidi runs
  and font runs and shaped with HarfBuzz. A CID then stands for a glyph *and* the text it was
  shaped from, so a ligature gives back both letters and a reordered vowel sign its cluster.

Characters no font holds (emoji, a rare ideograph) and invisible ones are left out.
"""

import functools
import re
import struct
import unicodedata
from pathlib import Path

import uharfbuzz
from django.core.exceptions import ImproperlyConfigured
from fontTools.ttLib import TTFont

from .conf import get_setting

FONT_DIR = Path(__file__).resolve().parent / "fonts"

#: The default chain, as (regular, bold) file names in cms/fonts; no bold file: the regular, stroked.
DEFAULT_FONTS = [
    ("NotoSans-Regular.ttf", "NotoSans-Bold.ttf"),
    ("NotoSansArabic-Regular.ttf", None),
    ("NotoSansHebrew-Regular.ttf", None),
    ("NotoSansDevanagari-Regular.ttf", None),
    ("NotoSansSC-Regular-Subset.ttf", None),
]

#: OpenType script tags whose text prints right glyph by glyph, without shaping.
SIMPLE_SCRIPTS = {"DFLT", "latn", "grek", "cyrl", "hani", "kana", "hang"}
#: Bidi classes that plain text may hold: left-to-right letters, digits and neutrals.
SIMPLE_BIDI = {"L", "EN", "ES", "ET", "CS", "WS", "ON"}
STRONG = {"L": 0, "R": 1, "AL": 1}
NEUTRAL = {"B", "S", "WS", "ON"}
MAX_CID = 0xFFFF
#: Strings whose translation a document keeps at once; then it starts again (names rarely repeat).
RECENT = 512
WORDS = re.compile(r"\S+\s*|\s+")


class FontFile:
    """What the writer needs of one font file: its glyphs by character, advances, metrics."""

    def __init__(self, path):
        self.path = str(path)
        font = TTFont(self.path, lazy=True)
        if "glyf" not in font:  # cms.font_subset and the PDF's CIDFontType2 take TrueType outlines only
            raise ImproperlyConfigured(f"DELIVERY_PDF_FONTS: {self.path} has no TrueType outlines (glyf table)")
        scale = 1000 / font["head"].unitsPerEm
        self.upem = font["head"].unitsPerEm
        glyph_ids = font.getReverseGlyphMap()
        self.cmap = {cp: glyph_ids[name] for cp, name in font.getBestCmap().items()}
        metrics = font["hmtx"].metrics
        self.advances = [round(metrics[name][0] * scale) for name in font.getGlyphOrder()]
        head, hhea, os2 = font["head"], font["hhea"], font["OS/2"]
        self.bbox = [round(v * scale) for v in (head.xMin, head.yMin, head.xMax, head.yMax)]
        self.ascent, self.descent = round(hhea.ascent * scale), round(hhea.descent * scale)
        self.cap_height = round(getattr(os2, "sCapHeight", 0) * scale) or self.ascent
        self.name = font["name"].getDebugName(6) or Path(self.path).stem
        scripts = set()
        for table in ("GSUB", "GPOS"):
            if table in font:  # the ScriptList's tags, read raw: decompiling the tables costs 0.3 s a font
                data = font.getTableData(table)
                at = struct.unpack_from(">H", data, 4)[0]
                for i in range(struct.unpack_from(">H", data, at)[0]):
                    scripts.add(data[at + 2 + 6 * i : at + 6 + 6 * i].decode("latin-1"))
        self.simple = scripts <= SIMPLE_SCRIPTS
        font.close()

    @functools.cached_property
    def shaper(self):
        return uharfbuzz.Font(uharfbuzz.Face(uharfbuzz.Blob.from_file_path(self.path)))


@functools.cache
def load_font(path) -> FontFile:
    """Parsed once a process: fonts do not change while it runs."""
    return FontFile(path)


def font_chain():
    """[(regular path, bold path or None), ...] from the setting, names resolved in cms/fonts."""
    chain = get_setting("DELIVERY_PDF_FONTS") or DEFAULT_FONTS
    return [tuple(str(FONT_DIR / name) if name else None for name in pair) for pair in chain]


class FontUse:
    """One font as one document uses it: the CIDs handed out and what each stands for."""

    def __init__(self, resource, font: FontFile):
        self.resource, self.font = resource, font
        self.cids = {}  # (glyph id, text) -> CID
        self.glyphs = [0]  # CID -> glyph id; CID 0 is .notdef
        self.texts = [""]
        self.by_glyph = {}  # glyph id -> a CID, once the CIDs run out

    def cid(self, glyph, text):
        key = (glyph, text)
        cid = self.cids.get(key)
        if cid is None:
            if len(self.glyphs) > MAX_CID:  # a pathological document: extraction may suffer, printing not
                return self.by_glyph.get(glyph, 0)
            cid = self.cids[key] = len(self.glyphs)
            self.glyphs.append(glyph)
            self.texts.append(text)
            self.by_glyph.setdefault(glyph, cid)
        return cid

    def widths(self):
        return [self.font.advances[glyph] for glyph in self.glyphs]


class _PlainTable(dict):
    """``str.translate`` table: character -> 4 hex digits of its CID in the first font.

    A character that is not plain or not in that font maps to None (deleted), so a
    translated string shorter than four times the original tells the caller to go the long way.
    """

    def __init__(self, style):
        super().__init__()
        self.style = style

    def __missing__(self, code):
        entry = self.style.plain(chr(code))
        value = self[code] = None if entry is None or entry[0] is not self.style.first() else entry[1]
        return value


class Style:
    """Regular or bold: its fallback chain of FontUses, created as text needs them."""

    def __init__(self, text, bold):
        self.text, self.bold = text, bold
        self.uses = [None] * len(text.chain)
        self.stroked = set()  # FontUses this style draws stroked: bold with no bold file
        self.plain_entries = {}  # char -> (FontUse, hex CID, width) or None
        self.table = _PlainTable(self)
        self.recent = {}  # text -> its translation: places and dates repeat on every page
        self.indexes = {}  # code point -> index of the first font in the chain that holds it, or None

    def use(self, index):
        use = self.uses[index]
        if use is None:
            regular, bold = self.text.chain[index]
            path = (bold or regular) if self.bold else regular
            use = self.uses[index] = self.text.font_use(load_font(path))
            if self.bold and not bold:
                self.stroked.add(use)
        return use

    def first(self):
        return self.use(0)

    def font_index(self, cp):
        try:
            return self.indexes[cp]
        except KeyError:
            pass
        found = None
        for index, (regular, bold) in enumerate(self.text.chain):
            path = (bold or regular) if self.bold else regular
            if cp in load_font(path).cmap:
                found = index
                break
        self.indexes[cp] = found
        return found

    def plain(self, char):
        """(FontUse, hex CID, width) if ``char`` prints by itself; None if it needs shaping or no font has it."""
        try:
            return self.plain_entries[char]
        except KeyError:
            pass
        entry = None
        category = unicodedata.category(char)
        if unicodedata.bidirectional(char) in SIMPLE_BIDI and category[0] not in "MC" and category not in ("Zl", "Zp"):
            index = self.font_index(ord(char))
            if index is not None:
                use = self.use(index)
                if use.font.simple:
                    glyph = use.font.cmap[ord(char)]
                    entry = (use, f"{use.cid(glyph, char):04X}", use.font.advances[glyph])
        self.plain_entries[char] = entry
        return entry


class DocumentText:
    """Turns strings into text-showing operators for one document, and remembers the fonts it used."""

    def __init__(self, chain=None):
        self.chain = chain or font_chain()
        self.used = {}  # font path -> FontUse, in resource order
        self.styles = (Style(self, bold=False), Style(self, bold=True))
        self.shaped = {}  # (FontUse, word, rtl) -> its glyphs: names share their words

    def font_use(self, font):
        use = self.used.get(font.path)
        if use is None:
            use = self.used[font.path] = FontUse(f"F{len(self.used) + 1}", font)
        return use

    def show(self, x, y, text, size, bold=False):
        """A ``BT … ET`` block that prints ``text`` with its left edge at (x, y)."""
        if not text:
            return ""
        style = self.styles[bold]
        hexed = style.recent.get(text)
        if hexed is None:
            hexed = text.translate(style.table)
            if len(style.recent) >= RECENT:
                style.recent.clear()
            style.recent[text] = hexed
        if len(hexed) == 4 * len(text):  # the common case: every character in the first font
            use = style.uses[0]
            if use not in style.stroked:
                return f"BT {x} {y} Td /{use.resource} {size} Tf <{hexed}> Tj ET"
            return _block(x, y, size, [(use, f"<{hexed}> Tj")], style.stroked)
        segments = self._plain_segments(style, text, size)
        if segments is None:
            segments = self._shaped_segments(style, text, size)
        return _block(x, y, size, segments, style.stroked)

    def _plain_segments(self, style, text, size):
        segments, current, hexes, width = [], None, [], 0
        for char in text:
            entry = style.plain(char)
            if entry is None:
                return None
            use, hex_cid, advance = entry
            if use is not current and hexes:
                segments.append((current, f"<{''.join(hexes)}> Tj", width * size / 1000))
                hexes, width = [], 0
            current = use
            hexes.append(hex_cid)
            width += advance
        if hexes:
            segments.append((current, f"<{''.join(hexes)}> Tj", width * size / 1000))
        return segments

    def _shaped_segments(self, style, text, size):
        text = unicodedata.normalize("NFC", text)
        levels = bidi_levels(text)
        runs = []  # [level, FontUse, chars]
        current = None
        for char, level in zip(text, levels, strict=True):
            use = _font_for(style, char, current)
            if use is None:
                continue
            if runs and runs[-1][0] == level and runs[-1][1] is use:
                runs[-1][2].append(char)
            else:
                runs.append([level, use, [char]])
            current = use
        segments = []
        for level, use, chars in visual_order(runs):
            rtl = level % 2
            # Words are shaped one by one (nothing joins across a space) and kept, since names repeat
            # theirs; a run stays one TJ, which pypdf needs to read a right-to-left run in order.
            words = WORDS.findall("".join(chars))
            glyphs = []
            for word in reversed(words) if rtl else words:
                key = (use, word, rtl)
                shaped = self.shaped.get(key)
                if shaped is None:
                    if len(self.shaped) >= RECENT:
                        self.shaped.clear()
                    shaped = self.shaped[key] = _shape(use, word, rtl)
                glyphs += shaped
            if glyphs:
                segments.append(_run_segment(use, glyphs, size))
        return segments


def _font_for(style, char, current):
    """The FontUse that prints ``char``: marks and joiners stay with their base, neutrals with their run."""
    category = unicodedata.category(char)
    if category == "Cc":
        return None
    if current is not None:
        if category[0] == "M" or category == "Cf":
            return current
        if unicodedata.bidirectional(char) in NEUTRAL | {"EN", "ES", "ET", "CS"} and ord(char) in current.font.cmap:
            return current
    index = style.font_index(ord(char))
    return None if index is None else style.use(index)


def _shape(use, text, rtl):
    """HarfBuzz's glyphs for ``text``, left to right: [(CID, x offset, y offset, advance, width)] in 1/1000 em."""
    buffer = uharfbuzz.Buffer()
    buffer.add_codepoints([ord(c) for c in text])
    buffer.guess_segment_properties()
    buffer.direction = "rtl" if rtl else "ltr"
    buffer.flags = uharfbuzz.BufferFlags.REMOVE_DEFAULT_IGNORABLES
    uharfbuzz.shape(use.font.shaper, buffer, {})
    infos, positions = buffer.glyph_infos, buffer.glyph_positions
    # Each cluster's text goes to its first glyph in reading order, the cluster's other glyphs stand for "".
    starts = sorted({info.cluster for info in infos})
    ends = dict(zip(starts, starts[1:] + [len(text)], strict=True))
    order = range(len(infos) - 1, -1, -1) if rtl else range(len(infos))
    seen, texts = set(), [""] * len(infos)
    for i in order:
        cluster = infos[i].cluster
        if cluster not in seen:
            seen.add(cluster)
            texts[i] = text[cluster : ends[cluster]]
    scale = 1000 / use.font.upem
    return [
        (use.cid(info.codepoint, glyph_text), position.x_offset * scale, position.y_offset * scale,
         position.x_advance * scale, use.font.advances[info.codepoint])
        for info, position, glyph_text in zip(infos, positions, texts, strict=True)
        if info.codepoint  # .notdef: no font has the character; it is left out, space and all
    ]  # fmt: skip


def _run_segment(use, glyphs, size):
    """(FontUse, operators, width in points): one TJ (and Ts where a glyph is raised) for a run's glyphs."""
    parts, items, pending, rise, pen = [], [], 0.0, 0.0, 0.0
    for cid, x_offset, y_offset, advance, width in glyphs:
        glyph_rise = round(y_offset * size / 1000, 2)
        if glyph_rise != rise:
            if items:
                parts.append(f"[{' '.join(items)}] TJ")
                items = []
            parts.append(f"{glyph_rise} Ts")
            rise = glyph_rise
        # TJ moves left by n/1000 em for a number n; the glyph's own width is added after showing it.
        pending += x_offset
        if round(pending):
            items.append(str(-round(pending)))
        items.append(f"<{cid:04X}>")
        pen += advance
        pending = advance - x_offset - width + (pending - round(pending))
    if items:
        parts.append(f"[{' '.join(items)}] TJ")
    if rise:
        parts.append("0 Ts")
    return use, " ".join(parts), pen * size / 1000


def _block(x, y, size, segments, stroked):
    """Segments side by side from (x, y); a stroked (synthetic bold) one is drawn with fill and stroke."""
    ops = [f"BT {x} {y} Td"]
    for i, segment in enumerate(segments):
        use, show = segment[0], segment[1]
        if i:
            ops.append(f"{segments[i - 1][2]:.2f} 0 Td")
        # A Tf for every segment, the same font or not: pypdf ends a right-to-left stretch of text at a
        # Tf, so the space after an Arabic word is read after it, not before.
        ops.append(f"/{use.resource} {size} Tf")
        if use in stroked:
            ops.append(f"2 Tr {size * 0.03:.2f} w {show} 0 Tr")
        else:
            ops.append(show)
    ops.append("ET")
    return " ".join(ops)


def bidi_levels(text):
    """Embedding level of each character, by UAX #9 for one line.

    Rules P2-P3, W1-W7, N1-N2, I1-I2 and L1 (trailing spaces). Explicit embeddings, overrides and
    isolates are read as neutrals: a name has no use for them, and a stray one must not fail.
    """
    types = [unicodedata.bidirectional(c) for c in text]
    kinds = set(types)
    if not kinds & {"R", "AL", "AN"}:  # nothing right to left: one left-to-right run
        return [0] * len(text)
    if not kinds & {"L", "EN", "AN", "ES", "ET", "CS"}:  # right to left letters, marks and neutrals only
        return [1] * len(text)
    base = next((STRONG[t] for t in types if t in STRONG), 0)
    edge = "R" if base else "L"
    # W1 (and X9: boundary neutrals take the type before them, as marks do)
    previous = edge
    for i, t in enumerate(types):
        if t in ("NSM", "BN"):
            types[i] = previous
        elif t in ("LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"):
            types[i] = "ON"
        previous = types[i]
    # W2, W3
    last_strong = edge
    for i, t in enumerate(types):
        if t in STRONG:
            last_strong = t
        if t == "EN" and last_strong == "AL":
            types[i] = "AN"
        if t == "AL":
            types[i] = "R"
    # W4
    for i in range(1, len(types) - 1):
        before, after = types[i - 1], types[i + 1]
        if types[i] == "ES" and before == after == "EN":
            types[i] = "EN"
        elif types[i] == "CS" and before == after and before in ("EN", "AN"):
            types[i] = before
    # W5, W6
    for i, t in enumerate(types):
        if t == "ET":
            j = i
            while j < len(types) and types[j] == "ET":
                j += 1
            if (i and types[i - 1] == "EN") or (j < len(types) and types[j] == "EN"):
                for k in range(i, j):
                    types[k] = "EN"
    types = ["ON" if t in ("ES", "ET", "CS") else t for t in types]
    # W7
    last_strong = edge
    for i, t in enumerate(types):
        if t in ("L", "R"):
            last_strong = t
        elif t == "EN" and last_strong == "L":
            types[i] = "L"
    # N1, N2
    i = 0
    while i < len(types):
        if types[i] in NEUTRAL:
            j = i
            while j < len(types) and types[j] in NEUTRAL:
                j += 1
            before = edge if i == 0 else ("R" if types[i - 1] in ("R", "EN", "AN") else "L")
            after = edge if j == len(types) else ("R" if types[j] in ("R", "EN", "AN") else "L")
            fill = before if before == after else edge
            for k in range(i, j):
                types[k] = fill
            i = j
        else:
            i += 1
    # I1, I2
    if base == 0:
        levels = [1 if t == "R" else 2 if t in ("AN", "EN") else 0 for t in types]
    else:
        levels = [2 if t == "L" or t in ("AN", "EN") else 1 for t in types]
    # L1: trailing white space at the paragraph's level
    i = len(text)
    while i and unicodedata.bidirectional(text[i - 1]) in ("WS", "S", "B", "BN"):
        i -= 1
        levels[i] = base
    return levels


def visual_order(runs):
    """Rule L2 on runs (each of one level): reverse every sequence at or above each odd level, highest first."""
    if not runs:
        return runs
    runs = list(runs)
    highest = max(run[0] for run in runs)
    lowest_odd = min((run[0] for run in runs if run[0] % 2), default=highest + 1)
    for level in range(highest, lowest_odd - 1, -1):
        i = 0
        while i < len(runs):
            if runs[i][0] >= level:
                j = i
                while j < len(runs) and runs[j][0] >= level:
                    j += 1
                runs[i:j] = runs[i:j][::-1]
                i = j
            else:
                i += 1
    return runs
