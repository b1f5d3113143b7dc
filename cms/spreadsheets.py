"""One rule for every cell the plugin writes to a CSV or XLSX file.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a
formula (``=HYPERLINK(...)`` leaks the sheet, ``=cmd|...`` runs a program in
old Excel), and skips a leading tab or carriage return before deciding.
Signers type their own names, so every string cell goes through
``spreadsheet_safe``: the delivery CSV sent to officials (``exports``), the
admin's signature export (``wagtail_hooks``) and the API's CSV
(``api.leads``). Following OWASP ("CSV Injection"), such a value gets a
leading ``'``, which spreadsheets show as text and do not print; anything
else, "Jean-Luc" included, is written as it is. Files that are not
spreadsheets (the delivery PDF, pages, emails) show names as typed.

The CSV files we write are UTF-8 with a byte order mark (``CSV_ENCODING``): without it, Excel
reads a CSV in the computer's legacy code page, and "Łucja" or "王秀英" open as mojibake;
LibreOffice, Numbers and Python's ``utf-8-sig`` take the mark as the encoding and drop it.

Imports nothing of ours: any layer may use it.
"""

#: Encoding of every CSV file the plugin writes: UTF-8, starting with a byte order mark.
CSV_ENCODING = "utf-8-sig"

#: What makes a spreadsheet read a cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    """``value`` with a leading ``'`` if a spreadsheet would run it as a formula; non-strings unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
