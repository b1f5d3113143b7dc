"""A PDF writer that streams: each page goes to the file as soon as it is full.

Only the list of page object numbers and the glyphs used so far stay in memory, so a
100,000-row list costs about the same memory as a 100-row one. Text is set in embedded,
subset TrueType fonts (cms.pdf_text picks them per character and shapes what needs it);
the fonts, one resource dictionary shared by every page, are written at the end, once the
document knows which glyphs it used.
"""

import hashlib
import io
import zlib

from PIL import Image

from .font_subset import subset_truetype
from .pdf_text import DocumentText

PAGE_WIDTH, PAGE_HEIGHT = 595, 842  # A4 in points
CATALOG, PAGES, RESOURCES, INFO = 1, 2, 3, 4


def pdf_text_string(text: str) -> str:
    """A PDF text string: literal when ASCII, else UTF-16BE with its byte order mark (PDF 1.7, 7.9.2.2)."""
    if text.isascii():
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").replace("\r", "\\r")
        return "(" + escaped.replace("\n", "\\n") + ")"
    return "<FEFF" + text.encode("utf-16-be").hex().upper() + ">"


class StreamingPDF:
    def __init__(self, fileobj, title="", fonts=None):
        self.file = fileobj
        self.title = title
        self.text = DocumentText(fonts)
        self.offsets = {}
        self.page_ids = []
        self.next_id = INFO + 1
        self.images = {}  # resource name -> object number
        self.file.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")

    def _new_id(self):
        self.next_id += 1
        return self.next_id - 1

    def _write_object(self, number, body: bytes):
        self.offsets[number] = self.file.tell()
        self.file.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")

    def _write_stream(self, number, data: bytes, extra=""):
        stream = zlib.compress(data)
        self._write_object(
            number,
            f"<< /Length {len(stream)} /Filter /FlateDecode{extra} >>\nstream\n".encode() + stream + b"\nendstream",
        )

    def add_image(self, data: bytes) -> tuple:
        """Write a raster image (JPEG or PNG bytes) once; return (resource name, width, height) for ``Page.image``.

        A JPEG in RGB or grey goes in as it is (/DCTDecode); anything else is decoded with
        Pillow, laid on white where it is transparent, and stored as RGB (/FlateDecode).
        """
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if image.format == "JPEG" and image.mode in ("RGB", "L"):  # progressive too: PDF 1.3 reads it
                space = "/DeviceRGB" if image.mode == "RGB" else "/DeviceGray"
                stream, extra = data, "/Filter /DCTDecode"
            else:
                rgba = image.convert("RGBA")
                flat = Image.new("RGB", rgba.size, (255, 255, 255))
                flat.paste(rgba, mask=rgba.getchannel("A"))
                space, stream, extra = "/DeviceRGB", zlib.compress(flat.tobytes()), "/Filter /FlateDecode"
        number, name = self._new_id(), f"Im{len(self.images) + 1}"
        self._write_object(
            number,
            (
                f"<< /Type /XObject /Subtype /Image /Width {width} /Height {height} /ColorSpace {space} "
                f"/BitsPerComponent 8 {extra} /Length {len(stream)} >>\nstream\n"
            ).encode()
            + stream
            + b"\nendstream",
        )
        self.images[name] = number
        return name, width, height

    def add_page(self, operations):
        """Write one page from PDF content operators (see Page)."""
        content_id, page_id = self._new_id(), self._new_id()
        self._write_stream(content_id, "\n".join(operations).encode("ascii"))
        self._write_object(
            page_id,
            (
                f"<< /Type /Page /Parent {PAGES} 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] "
                f"/Resources {RESOURCES} 0 R /Contents {content_id} 0 R >>"
            ).encode(),
        )
        self.page_ids.append(page_id)

    def close(self):
        fonts = " ".join(f"/{use.resource} {self._write_font(use)} 0 R" for use in self.text.used.values())
        images = " ".join(f"/{name} {number} 0 R" for name, number in self.images.items())
        self._write_object(RESOURCES, f"<< /Font << {fonts} >> /XObject << {images} >> >>".encode())
        kids = " ".join(f"{page_id} 0 R" for page_id in self.page_ids)
        self._write_object(PAGES, f"<< /Type /Pages /Kids [{kids}] /Count {len(self.page_ids)} >>".encode())
        self._write_object(CATALOG, f"<< /Type /Catalog /Pages {PAGES} 0 R >>".encode())
        self._write_object(INFO, f"<< /Title {pdf_text_string(self.title)} /Producer (wagtail-petitions) >>".encode())
        xref_at = self.file.tell()
        count = self.next_id
        lines = [f"xref\n0 {count}\n", "0000000000 65535 f \n"]
        lines += [f"{self.offsets.get(n, 0):010d} 00000 n \n" for n in range(1, count)]
        self.file.write("".join(lines).encode())
        self.file.write(f"trailer\n<< /Size {count} /Root {CATALOG} 0 R /Info {INFO} 0 R >>\n".encode())
        self.file.write(f"startxref\n{xref_at}\n%%EOF\n".encode())

    def _write_font(self, use):
        """A Type0 font over a CIDFontType2 holding only the glyphs used; returns its object number."""
        font = use.font
        data = subset_truetype(font.path, use.glyphs)
        tag = "".join(chr(65 + b % 26) for b in hashlib.sha256(data).digest()[:6])
        name = f"{tag}+{font.name}".replace(" ", "")
        type0, cid_font, descriptor, file_id, to_unicode, cid_to_gid = (self._new_id() for _ in range(6))
        self._write_stream(file_id, data, f" /Length1 {len(data)}")
        self._write_stream(cid_to_gid, b"".join(glyph.to_bytes(2, "big") for glyph in use.glyphs))
        self._write_stream(to_unicode, to_unicode_cmap(use.texts))
        self._write_object(
            descriptor,
            (
                f"<< /Type /FontDescriptor /FontName /{name} /Flags 4 /FontBBox [{' '.join(map(str, font.bbox))}] "
                f"/ItalicAngle 0 /Ascent {font.ascent} /Descent {font.descent} /CapHeight {font.cap_height} "
                f"/StemV 80 /FontFile2 {file_id} 0 R >>"
            ).encode(),
        )
        self._write_object(
            cid_font,
            (
                f"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /{name} "
                f"/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
                f"/FontDescriptor {descriptor} 0 R /DW 0 /W [0 [{' '.join(map(str, use.widths()))}]] "
                f"/CIDToGIDMap {cid_to_gid} 0 R >>"
            ).encode(),
        )
        self._write_object(
            type0,
            (
                f"<< /Type /Font /Subtype /Type0 /BaseFont /{name} /Encoding /Identity-H "
                f"/DescendantFonts [{cid_font} 0 R] /ToUnicode {to_unicode} 0 R >>"
            ).encode(),
        )
        return type0


def to_unicode_cmap(texts) -> bytes:
    """The ToUnicode CMap: CID -> the text it stands for (UTF-16BE; "" for a glyph that only completes its cluster)."""
    entries = [f"<{cid:04X}> <{text.encode('utf-16-be').hex().upper()}>" for cid, text in enumerate(texts) if cid]
    lines = [
        "/CIDInit /ProcSet findresource begin 12 dict begin begincmap",
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
        "/CMapName /Adobe-Identity-UCS def /CMapType 2 def",
        "1 begincodespacerange <0000> <FFFF> endcodespacerange",
    ]
    for start in range(0, len(entries), 100):
        chunk = entries[start : start + 100]
        lines += [f"{len(chunk)} beginbfchar", *chunk, "endbfchar"]
    lines.append("endcmap CMapName currentdict /CMap defineresource pop end end")
    return "\n".join(lines).encode("ascii")


class Page:
    """Collects text lines for one page, top to bottom."""

    def __init__(self, pdf: StreamingPDF, top=PAGE_HEIGHT - 56, left=50):
        self.text_maker = pdf.text
        self.operations = []
        self.y = top
        self.left = left

    def text(self, x, y, text, size=10, bold=False):
        if text:
            self.operations.append(self.text_maker.show(x, y, text, size, bold))

    def line(self, text, size=10, bold=False, leading=None, x=None):
        self.text(self.left if x is None else x, self.y, text, size, bold)
        self.y = round(self.y - (leading or size * 1.45), 2)

    def row(self, columns, size=9, bold=False, leading=14):
        for x, text in columns:
            self.text(x, self.y, text, size, bold)
        self.y -= leading

    def rule(self, colour=None, width=0.6):
        """A line across the page above the current line; ``colour`` is (r, g, b) in 0–1, else black."""
        stroke = "{} {} {} RG ".format(*colour) if colour else ""
        self.operations.append(
            f"q {stroke}{width} w {self.left} {self.y + 9} m {PAGE_WIDTH - self.left} {self.y + 9} l S Q"
        )

    def image(self, image, max_width, max_height):
        """Draw an image from ``StreamingPDF.add_image`` at the left margin, scaled to fit, and move below it."""
        name, width, height = image
        scale = min(max_width / width, max_height / height, 1)
        drawn_width, drawn_height = round(width * scale, 2), round(height * scale, 2)
        bottom = round(self.y - drawn_height, 2)
        self.operations.append(f"q {drawn_width} 0 0 {drawn_height} {self.left} {bottom} cm /{name} Do Q")
        self.y = round(self.y - drawn_height - 20, 2)
