#!/usr/bin/env python3
"""Rebuild the Noto fonts in cms/fonts/ that the delivery PDF embeds (see cms/fonts/README.md).

    apt-get download fonts-noto-core fonts-noto-cjk
    dpkg-deb -x fonts-noto-core_*.deb src && dpkg-deb -x fonts-noto-cjk_*.deb src
    .venv/bin/python bin/build_pdf_fonts.py src/usr/share/fonts

Drops TrueType hinting (a PDF viewer does not need it) and keeps every glyph and the shaping
tables. Noto Sans CJK SC becomes a subset (GB 2312, kana, the 2,350 Hangul syllables of
KS X 1001, CJK punctuation, full-width forms) with quadratic outlines, so every font the PDF
embeds is TrueType (cms.pdf writes CIDFontType2 only).
"""

import sys
from pathlib import Path

from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.subset import Options, Subsetter
from fontTools.ttLib import TTFont, newTable

OUT = Path(__file__).resolve().parent.parent / "cms" / "fonts"
CORE = [
    "NotoSans-Regular", "NotoSans-Bold", "NotoSansArabic-Regular", "NotoSansHebrew-Regular",
    "NotoSansDevanagari-Regular",
]  # fmt: skip


def options(layout=True):
    opts = Options()
    opts.hinting = False
    opts.name_IDs = ["*"]
    opts.name_languages = ["*"]
    opts.notdef_outline = True
    opts.glyph_names = False
    opts.drop_tables += ["DSIG", "VORG", "vhea", "vmtx"]
    if layout:
        opts.layout_features = ["*"]
    else:
        opts.layout_features = []
        opts.drop_tables += ["GSUB", "GPOS", "GDEF", "BASE"]
    return opts


def unhinted(path):
    font = TTFont(path)
    subsetter = Subsetter(options())
    subsetter.populate(glyphs=font.getGlyphOrder())
    subsetter.subset(font)
    return font


def cjk_characters():
    chosen = set()
    for cp in range(0x20, 0x10000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        if 0x3000 <= cp <= 0x30FF or 0xFF00 <= cp <= 0xFFEF:  # punctuation, kana, full-width forms
            chosen.add(cp)
        elif 0xAC00 <= cp <= 0xD7A3:  # Hangul: the precomposed syllables of KS X 1001 only
            try:
                if len(ch.encode("euc_kr")) == 2:
                    chosen.add(cp)
            except UnicodeEncodeError:
                pass
        else:
            try:
                ch.encode("gb2312")
                chosen.add(cp)
            except UnicodeEncodeError:
                pass
    return chosen


def to_truetype(font):
    """CFF (cubic) outlines to glyf (quadratic), within 1 font unit."""
    order = font.getGlyphOrder()
    glyphs = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder, glyf.glyphs = order, {}
    for name in order:
        pen = TTGlyphPen(glyphs)
        glyphs[name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
        glyf.glyphs[name] = pen.glyph()
    font["glyf"], font["loca"] = glyf, newTable("loca")
    maxp = font["maxp"]
    maxp.tableVersion = 0x00010000
    for field in (
        "maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs", "maxStackElements",
        "maxSizeOfInstructions", "maxComponentElements", "maxPoints", "maxContours", "maxCompositePoints",
        "maxCompositeContours", "maxComponentDepth",
    ):  # fmt: skip
        setattr(maxp, field, 0)
    maxp.maxZones = 1
    font["head"].indexToLocFormat, font["head"].glyphDataFormat = 1, 0
    post = font["post"]
    post.formatType, post.extraNames, post.mapping = 3.0, [], {}
    del font["CFF "]
    font.sfntVersion = "\x00\x01\x00\x00"
    return font


def main(source):
    source = Path(source)
    for name in CORE:
        unhinted(next(source.rglob(f"{name}.ttf"))).save(OUT / f"{name}.ttf")
    cjk = TTFont(next(source.rglob("NotoSansCJK-Regular.ttc")), fontNumber=2)  # the SC face
    subsetter = Subsetter(options(layout=False))
    subsetter.populate(unicodes=cjk_characters())
    subsetter.subset(cjk)
    to_truetype(cjk).save(OUT / "NotoSansSC-Regular-Subset.ttf")


if __name__ == "__main__":
    main(sys.argv[1])
