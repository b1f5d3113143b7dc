"""The delivery's PDF and CSV carry names in every script: printed, embedded, and readable back."""

import csv
import io
import re

import pytest
from django.core.exceptions import ImproperlyConfigured
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.t2CharStringPen import T2CharStringPen
from fontTools.ttLib import TTFont
from pypdf import PdfReader

from cms import deliveries, exports
from cms.font_subset import subset_truetype
from cms.pdf import StreamingPDF, pdf_text_string
from cms.pdf_text import FONT_DIR, bidi_levels, load_font
from cms.spreadsheets import CSV_ENCODING

from .factories import SignatureFactory
from .test_deliveries import pdf_text

#: One signer's first and last name per script; RTL ones as typed, i.e. in logical order.
NAMES = {
    "Latin": ("Łucja", "Gőzü-Şahin"),
    "Cyrillic": ("Святослав", "Ярошенко"),
    "Greek": ("Ξανθίππη", "Παπαδοπούλου"),
    "Arabic": ("محمود", "عبد الله"),
    "Hebrew": ("אביגיל", "כהן"),
    "Devanagari": ("अनन्या", "किशोर"),
    "CJK": ("王秀英", "李"),
}

#: Names that must not fail, as typed -> what the PDF gives back (the emoji has no font and is left out).
AWKWARD = {
    "Ivan Иван محمد 李": "Ivan Иван محمد 李",
    "Zoe\u0308 Jose\u0301": "Zoë José",  # combining marks, printed composed
    "Ana\u200bMaria": "Ana\u200bMaria",  # a zero-width space, kept in the text of the letter before it
    "Nir\u200dmala": "Nir\u200dmala",  # a zero-width joiner
    "Sam 😀": "Sam ",
}

pytestmark = pytest.mark.django_db


def signer(petition, first, last=""):
    return SignatureFactory(
        petition=petition, first_name=first, last_name=last, verified=True, share_with_officials=True, country="GB"
    )


def delivered(petition, official, commit):
    delivery = commit(deliveries.prepare_delivery, petition, [official])
    delivery.refresh_from_db()
    return delivery


def extracted_lines(delivery):
    return pdf_text(delivery.pdf_file.open("rb").read()).splitlines()


@pytest.mark.parametrize("script", NAMES)
def test_a_name_in_each_script_comes_back_out_of_the_pdf_as_typed(script, petition, official, commit):
    first, last = NAMES[script]
    signer(petition, first, last)

    lines = extracted_lines(delivered(petition, official, commit))

    # pypdf reads right-to-left glyphs (drawn left to right) back into logical order, so the
    # Arabic and Hebrew lines compare against the names as typed, with no reordering here.
    row = [line for line in lines if first in line]
    assert row, lines
    assert f"{first} {last}" in row[0]
    assert "United Kingdom" in row[0]


def test_names_in_all_scripts_share_one_list(petition, official, commit):
    for first, last in NAMES.values():
        signer(petition, first, last)

    text = pdf_text(delivered(petition, official, commit).pdf_file.open("rb").read())

    assert all(f"{first} {last}" in text for first, last in NAMES.values())
    assert "?" not in text  # nothing fell back to a replacement character


@pytest.mark.parametrize("typed", AWKWARD)
def test_mixed_scripts_combining_marks_zero_width_and_emoji_print_and_export(typed, petition, official, commit):
    signer(petition, typed)

    delivery = delivered(petition, official, commit)

    assert delivery.status == delivery.Status.READY
    lines = extracted_lines(delivery)
    assert any(AWKWARD[typed] in line for line in lines), lines
    rows = list(csv.reader(io.StringIO(delivery.csv_file.open("rb").read().decode(CSV_ENCODING))))
    assert rows[1][0] == typed  # the CSV keeps every character as typed


def test_right_to_left_text_is_laid_out_right_to_left():
    # "Ivan" left to right, then the Arabic word (level 1), its digits (level 2) and the trailing space (base).
    assert bidi_levels("Ivan محمد 12 ") == [0] * 5 + [1] * 5 + [2, 2, 0]
    # An Arabic name sets a right-to-left line: the Latin inside it rises to level 2.
    assert bidi_levels("محمد Ivan") == [1] * 5 + [2] * 4


def test_the_pdf_embeds_subset_fonts_with_a_to_unicode_map(petition, official, commit):
    for first, last in NAMES.values():
        signer(petition, first, last)

    reader = PdfReader(delivered(petition, official, commit).pdf_file.open("rb"))
    fonts = {}
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            fonts[font["/BaseFont"]] = font
    assert {re.sub(r"^/[A-Z]{6}\+", "", name) for name in fonts} >= {
        "NotoSans-Regular", "NotoSans-Bold", "NotoSansArabic-Regular", "NotoSansHebrew-Regular",
        "NotoSansDevanagari-Regular", "NotoSansCJKsc-Regular",
    }  # fmt: skip
    for name, font in fonts.items():
        assert re.match(r"^/[A-Z]{6}\+", name), name  # the subset tag
        assert font["/Subtype"] == "/Type0" and "/ToUnicode" in font
        descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"]
        embedded = TTFont(io.BytesIO(descriptor["/FontFile2"].get_object().get_data()))
        drawn = [g for g in embedded.getGlyphOrder() if embedded["glyf"][g].numberOfContours]
        assert 0 < len(drawn) < 300, (name, len(drawn))  # only the glyphs used, of thousands


def test_the_subset_keeps_only_the_glyphs_asked_for_and_what_they_are_built_from():
    source = TTFont(FONT_DIR / "NotoSans-Regular.ttf")
    glyph = source.getReverseGlyphMap()[source.getBestCmap()[ord("Ł")]]

    subset = TTFont(io.BytesIO(subset_truetype(FONT_DIR / "NotoSans-Regular.ttf", [glyph])))

    order = subset.getGlyphOrder()  # glyph numbers unchanged: the same count, "Ł" where it was
    assert len(order) == len(source.getGlyphOrder())
    outline = subset["glyf"][order[glyph]]
    assert outline.numberOfContours != 0
    parts = {subset.getGlyphID(name) for name in outline.getComponentNames(subset["glyf"])}
    drawn = {i for i, name in enumerate(order) if subset["glyf"][name].numberOfContours}
    assert drawn == {0, glyph} | parts
    assert subset["glyf"][order[source.getReverseGlyphMap()[source.getBestCmap()[ord("A")]]]].numberOfContours == 0


def test_the_title_metadata_is_a_unicode_text_string(petition, official, commit):
    petition.title = "Sauvez l'école de Łódź, 王"
    petition.save_revision().publish()
    signer(petition, "Jean")

    reader = PdfReader(delivered(petition, official, commit).pdf_file.open("rb"))

    assert reader.metadata.title == "Signatures: Sauvez l'école de Łódź, 王"
    assert pdf_text_string("é") == "<FEFF00E9>"
    assert pdf_text_string("a (b)") == r"(a \(b\))"


def test_the_cover_prints_a_title_in_any_script(petition, official, commit):
    petition.title = "أنقذوا المدرسة — Спасите школу"
    petition.save_revision().publish()
    signer(petition, "Jean")

    lines = extracted_lines(delivered(petition, official, commit))

    # The title starts in Arabic, so its line runs right to left (UAX #9): the Cyrillic prints at the
    # left. pypdf reads the runs left to right and each Arabic run back into logical order.
    assert "Спасите школу — أنقذوا المدرسة" in lines


def test_the_delivery_csv_is_utf8_with_a_byte_order_mark_and_still_escapes_formulas(petition, official, commit):
    signer(petition, "王秀英", "=1+1")
    signer(petition, "Łucja", "محمود")

    data = delivered(petition, official, commit).csv_file.open("rb").read()

    assert data.startswith(b"\xef\xbb\xbf") and data.count(b"\xef\xbb\xbf") == 1
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["Name", "Place", "Signed on"]
    assert sorted(row[0] for row in rows[1:]) == ["Łucja محمود", "王秀英 =1+1"]


def test_a_csv_written_to_a_file_in_progress_gets_one_byte_order_mark(petition, official, commit):
    signer(petition, "Łucja")
    delivery = delivered(petition, official, commit)
    buffer = io.BytesIO()

    exports.write_csv(buffer, delivery)
    exports.write_csv(buffer, delivery)  # a second table after the first: no mark in the middle

    assert buffer.getvalue().count(b"\xef\xbb\xbf") == 1


def test_a_pdf_with_no_text_still_closes(tmp_path):
    with open(tmp_path / "empty.pdf", "wb") as file:
        pdf = StreamingPDF(file, title="")
        pdf.add_page([])
        pdf.close()

    assert len(PdfReader(tmp_path / "empty.pdf").pages) == 1


def test_a_font_without_truetype_outlines_is_refused_by_name(tmp_path):
    builder = FontBuilder(1000, isTTF=False)  # CFF outlines, as an .otf has
    builder.setupGlyphOrder([".notdef"])
    builder.setupCharacterMap({})
    builder.setupCFF("Cff", {}, {".notdef": T2CharStringPen(500, None).getCharString()}, {})
    builder.setupHorizontalMetrics({".notdef": (500, 0)})
    builder.setupHorizontalHeader()
    builder.setupNameTable({"familyName": "Cff", "styleName": "Regular"})
    builder.setupOS2()
    builder.setupPost()
    builder.save(tmp_path / "cff.otf")

    with pytest.raises(ImproperlyConfigured, match="cff.otf has no TrueType outlines"):
        load_font(str(tmp_path / "cff.otf"))
