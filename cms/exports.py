"""Signature lists for deliveries, as CSV and PDF, streamed row by row.

Only verified signers who consented to be passed on appear, with what the
consent box names (``cms.forms.officials_receive``): name, country and the date
signed; the postcode only of those who ticked its own box
(``share_postcode_with_officials``); email addresses never. The CSV escapes what a spreadsheet would run
as a formula (``cms.spreadsheets``) and starts with a UTF-8 byte order mark; the PDF prints names as
typed, in whatever script (``cms.pdf_text``). Rows come from a server-side cursor in
chunks, so memory does not grow with the list.
"""

import csv
import io
import logging

from django.utils import dateformat, timezone
from django.utils.formats import number_format
from django.utils.translation import gettext, ngettext
from django_countries import countries

from .conf import get_signature_model
from .spreadsheets import CSV_ENCODING, spreadsheet_safe

logger = logging.getLogger("petitions")

CHUNK = 2000
PROGRESS_EVERY = 5000


def consenting_signers(petition_id, counted_until):
    Signature = get_signature_model()
    return Signature.objects.filter(
        petition_id=petition_id,
        status=Signature.Status.VERIFIED,
        share_with_officials=True,
        verified_at__lte=counted_until,
    ).order_by("pk")


def _rows(petition_id, counted_until, with_postcode):
    fields = ["first_name", "last_name", "country", "verified_at"]
    if with_postcode:  # a petition that asks for it; each row's own consent decides
        fields += ["postcode", "share_postcode_with_officials"]
    names = {}  # country code -> name, looked up once per country
    zone = timezone.get_current_timezone()
    for row in consenting_signers(petition_id, counted_until).values_list(*fields).iterator(chunk_size=CHUNK):
        first, last, country, verified_at = row[:4]
        place = names.get(country)
        if place is None:
            place = names[country] = str(countries.name(country)) if country else ""
        if with_postcode and row[4] and row[5]:
            place = f"{row[4]}, {place}" if place else row[4]
        yield f"{first} {last}".strip(), place, verified_at.astimezone(zone).date().isoformat()


def write_csv(fileobj, delivery, with_postcode=False, progress=None):
    """Write the consenting signers to a binary file, UTF-8 with a byte order mark; return the number of rows."""
    text = io.TextIOWrapper(fileobj, encoding=CSV_ENCODING, newline="", write_through=True)
    writer = csv.writer(text)
    writer.writerow([gettext("Name"), gettext("Place"), gettext("Signed on")])
    count = 0
    for count, row in enumerate(_rows(delivery.petition_id, delivery.counted_until, with_postcode), start=1):
        writer.writerow([spreadsheet_safe(value) for value in row])
        if progress and count % PROGRESS_EVERY == 0:
            progress(count)
    text.detach()
    return count


def logo_bytes(identity):
    """The campaign logo's rendition for the PDF cover (at most 400×160, JPEG or PNG), or None."""
    if identity is None or identity.logo is None:
        return None
    try:
        rendition = identity.logo.get_rendition("max-400x160")
        with rendition.file.open("rb") as image_file:
            return image_file.read()
    except (OSError, ValueError) as exc:  # a missing or unreadable original: a cover without the logo
        logger.warning("Campaign logo %s left off a delivery's cover: %s", identity.logo.pk, exc)
        return None


#: Paper batches listed on the cover; more are summed on one line.
COVER_BATCHES = 15


def _paper_lines(cover, delivery):
    """The cover's paper batches, with where and when each was collected, and why no paper signer is listed."""
    cover.line(gettext("Collected on paper"), bold=True, leading=16)
    batches = delivery.paper_batches()
    for batch in batches[:COVER_BATCHES]:
        text = gettext("%(count)s at %(where)s, on %(date)s") % {
            "count": number_format(batch["count"], force_grouping=True),
            "where": batch["collected_where"][:70],
            "date": dateformat.format(batch["collected_at"], "j F Y"),
        }
        cover.line(text, leading=13)
    rest = batches[COVER_BATCHES:]
    if rest:
        cover.line(
            gettext("…and %(count)s more in other batches")
            % {"count": number_format(sum(batch["count"] for batch in rest), force_grouping=True)},
            leading=13,
        )
    cover.line(
        gettext("The list that follows names online signers only: the names of paper signers are not stored."),
        size=9,
        leading=20,
    )


def write_pdf(fileobj, delivery, petition_title, with_postcode=False, progress=None, identity=None):
    """Write a cover with the totals and then the consenting signers, page by page.

    ``identity`` (``cms.identity.CampaignIdentity``) puts the campaign's logo and sender name at
    the top of the cover, and its accent colour in the rule under the title.
    """
    # Only the processes that build files load the fonts' libraries (HarfBuzz, fontTools).
    from .pdf import Page, StreamingPDF

    pdf = StreamingPDF(fileobj, title=gettext("Signatures: %(petition)s") % {"petition": petition_title})
    cover = Page(pdf)
    logo = logo_bytes(identity)
    if logo:
        try:
            cover.image(pdf.add_image(logo), max_width=200, max_height=80)
        except OSError as exc:  # Pillow cannot read it: leave it off rather than fail the delivery
            logger.warning("Campaign logo left off a delivery's cover: %s", exc)
    if identity is not None and identity.sender_name:
        cover.line(identity.sender_name, size=11, bold=True, leading=22)
    cover.line(petition_title, size=16, bold=True, leading=26)
    if identity is not None and identity.accent:
        cover.rule(identity.accent_rgb(), width=2)
        cover.y -= 8
    if delivery.offline_total:
        total = ngettext(
            "%(count)s signature: %(online)s online (verified) and %(paper)s on paper",
            "%(count)s signatures: %(online)s online (verified) and %(paper)s on paper",
            delivery.total,
        ) % {
            "count": number_format(delivery.total, force_grouping=True),
            "online": number_format(delivery.online_total, force_grouping=True),
            "paper": number_format(delivery.offline_total, force_grouping=True),
        }
    else:
        total = ngettext("%(count)s verified signature", "%(count)s verified signatures", delivery.total) % {
            "count": number_format(delivery.total, force_grouping=True)
        }
    cover.line(total, size=12, bold=True, leading=18)
    if delivery.first_signed_at:
        start = dateformat.format(timezone.localtime(delivery.first_signed_at), "j F Y")
        end = dateformat.format(timezone.localtime(delivery.last_signed_at), "j F Y")
        cover.line(gettext("Signed between %(start)s and %(end)s") % {"start": start, "end": end}, leading=16)
    counted = dateformat.format(timezone.localtime(delivery.counted_until), "j F Y, H:i T")
    cover.line(gettext("Counted up to %(time)s") % {"time": counted}, leading=22)
    if delivery.offline_total:
        _paper_lines(cover, delivery)
        cover.line(gettext("Online signatures by country"), bold=True, leading=16)
    else:
        cover.line(gettext("By country"), bold=True, leading=16)
    for country, n in sorted(delivery.breakdown.items(), key=lambda item: -item[1])[:30]:
        name = countries.name(country) or gettext("Not given")
        cover.line(f"{name}: {number_format(n, force_grouping=True)}", leading=13)
    cover.y -= 10
    cover.line(
        gettext(
            "The signers listed on the following pages consented to be named to the recipients, with their country;"
        ),
        size=9,
        leading=13,
    )
    cover.line(gettext("a postcode appears only where its signer consented to pass it on as well."), size=9, leading=13)
    pdf.add_page(cover.operations)

    page, count = None, 0
    for count, (name, place, signed_on) in enumerate(
        _rows(delivery.petition_id, delivery.counted_until, with_postcode), start=1
    ):
        if page is None or page.y < 56:
            if page is not None:
                pdf.add_page(page.operations)
            page = Page(pdf)
            page.row([(50, gettext("Name")), (300, gettext("Place")), (480, gettext("Signed on"))], bold=True)
            page.rule()
        page.row([(50, name[:48]), (300, place[:32]), (480, signed_on)])
        if progress and count % PROGRESS_EVERY == 0:
            progress(count)
    if page is not None:
        pdf.add_page(page.operations)
    pdf.close()
    return count
