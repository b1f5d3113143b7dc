"""One rule for every cell the plugin writes to a CSV or XLSX file.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a
formula (``=HYPERLINK(...)`` leaks the sheet, ``=cmd|...`` runs a program in
old Excel), and skips a leading tab or carriage return before deciding.
Signers type their own names, so every string cell goes through
``spreadsheet_safe``: the delivery CSV sent to officials (``exports``), the
admin's signature export (``signature_listing``), the insights downloads
(``insights_views``) and the API's CSV (``api.leads``). Following OWASP ("CSV Injection"), such a value gets a
leading ``'``, which spreadsheets show as text and do not print; anything
else, "Jean-Luc" included, is written as it is. Files that are not
spreadsheets (the delivery PDF, pages, emails) show names as typed.

The CSV files a person opens (the delivery's list, the admin's insights downloads) are UTF-8
with a byte order mark (``CSV_ENCODING``, ``CSV_BOM``): without it, Excel reads a CSV in the
computer's legacy code page, and "Łucja" or "王秀英" open as mojibake; LibreOffice, Numbers and
Python's ``utf-8-sig`` take the mark as the encoding and drop it. The API's CSV (``api.leads``),
read by programs, is plain UTF-8 as its ``Content-Type`` says. (The admin's XLSX and CSV export of
the signatures listing are Wagtail's.)

Imports nothing of ours: any layer may use it.
"""

#: Encoding of the CSV files a person opens: UTF-8, starting with a byte order mark.
CSV_ENCODING = "utf-8-sig"
#: The mark itself, for a CSV written as text into a response.
CSV_BOM = "\ufeff"

#: What makes a spreadsheet read a cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    """``value`` with a leading ``'`` if a spreadsheet would run it as a formula; non-strings unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
