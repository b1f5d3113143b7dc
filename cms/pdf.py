"""A PDF writer that streams: each page goes to the file as soon as it is full.

Only the list of page object numbers stays in memory, so a 100,000-row list
costs the same memory as a 100-row one. Text uses the PDF standard fonts
(Helvetica) with WinAnsi encoding; characters outside it print as "?".
"""

import zlib

PAGE_WIDTH, PAGE_HEIGHT = 595, 842  # A4 in points
CATALOG, PAGES, FONT, FONT_BOLD, INFO = 1, 2, 3, 4, 5


def pdf_string(text: str) -> str:
    text = text.encode("cp1252", "replace").decode("cp1252")
    return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


class StreamingPDF:
    def __init__(self, fileobj, title=""):
        self.file = fileobj
        self.title = title
        self.offsets = {}
        self.page_ids = []
        self.next_id = INFO + 1
        self.file.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")

    def _write_object(self, number, body: bytes):
        self.offsets[number] = self.file.tell()
        self.file.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")

    def add_page(self, operations):
        """Write one page from PDF content operators (see Page)."""
        stream = zlib.compress("\n".join(operations).encode("cp1252", "replace"))
        content_id, page_id = self.next_id, self.next_id + 1
        self.next_id += 2
        self._write_object(
            content_id, f"<< /Length {len(stream)} /Filter /FlateDecode >>\nstream\n".encode() + stream + b"\nendstream"
        )
        self._write_object(
            page_id,
            (
                f"<< /Type /Page /Parent {PAGES} 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] "
                f"/Resources << /Font << /F1 {FONT} 0 R /F2 {FONT_BOLD} 0 R >> >> /Contents {content_id} 0 R >>"
            ).encode(),
        )
        self.page_ids.append(page_id)

    def close(self):
        for number, name in ((FONT, "Helvetica"), (FONT_BOLD, "Helvetica-Bold")):
            self._write_object(
                number, f"<< /Type /Font /Subtype /Type1 /BaseFont /{name} /Encoding /WinAnsiEncoding >>".encode()
            )
        kids = " ".join(f"{page_id} 0 R" for page_id in self.page_ids)
        self._write_object(PAGES, f"<< /Type /Pages /Kids [{kids}] /Count {len(self.page_ids)} >>".encode())
        self._write_object(CATALOG, f"<< /Type /Catalog /Pages {PAGES} 0 R >>".encode())
        self._write_object(INFO, f"<< /Title {pdf_string(self.title)} /Producer (wagtail-petitions) >>".encode())
        xref_at = self.file.tell()
        count = self.next_id
        lines = [f"xref\n0 {count}\n", "0000000000 65535 f \n"]
        lines += [f"{self.offsets.get(n, 0):010d} 00000 n \n" for n in range(1, count)]
        self.file.write("".join(lines).encode())
        self.file.write(f"trailer\n<< /Size {count} /Root {CATALOG} 0 R /Info {INFO} 0 R >>\n".encode())
        self.file.write(f"startxref\n{xref_at}\n%%EOF\n".encode())


class Page:
    """Collects text lines for one page, top to bottom."""

    def __init__(self, top=PAGE_HEIGHT - 56, left=50):
        self.operations = []
        self.y = top
        self.left = left

    def text(self, x, y, text, size=10, bold=False):
        font = "F2" if bold else "F1"
        self.operations.append(f"BT /{font} {size} Tf {x} {y} Td {pdf_string(text)} Tj ET")

    def line(self, text, size=10, bold=False, leading=None, x=None):
        self.text(self.left if x is None else x, self.y, text, size, bold)
        self.y -= leading or size * 1.45

    def row(self, columns, size=9, bold=False, leading=14):
        for x, text in columns:
            self.text(x, self.y, text, size, bold)
        self.y -= leading

    def rule(self):
        self.operations.append(f"0.6 w {self.left} {self.y + 9} m {PAGE_WIDTH - self.left} {self.y + 9} l S")
