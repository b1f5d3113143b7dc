"""Verification emails: built from the page's wording, sent through anymail."""

import logging
import re
import secrets
from types import SimpleNamespace
from urllib.parse import quote_plus

from anymail.exceptions import AnymailAPIError, AnymailInvalidAddress, AnymailRecipientsRefused
from anymail.message import AnymailMessage
from django.core.mail import get_connection
from django.db import connections, router, transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import escape
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from .conf import get_setting, get_signature_model
from .esp_session import settle_environment
from .manage_links import manage_url
from .models import Suppression, address_hash
from .store import EMAIL_CAP_KEY, ESP_PAUSED_KEY, get_cache, get_store
from .tokens import make_token
from .translations import page_language, rendered_in_page_language, translation_for

logger = logging.getLogger("petitions")

PLACEHOLDER = re.compile(r"\{(first_name|petition|link)\}")
#: What ``{first_name}`` becomes in page texts written before names left the email ("Hi there,").
#: Nothing a signer typed goes into the verification email: it is mailed to any address typed
#: into a public form, so a name field would let anyone make our sender greet a stranger with
#: their own text (a URL, an offer). The email's To header is the bare address for the same reason.
GENERIC_GREETING = pgettext_lazy("in a greeting, for the signer, whose name is never used: Hello there", "there")
#: After the page's text, in every verification email: the signer's own link (``cms.manage``).
MANAGE_TEXT = _("To change how you appear, withdraw a consent or withdraw your signature at any time:\n%(manage_link)s")
# anymail recipient statuses after which the ESP will never deliver.
REFUSED_STATUSES = {"rejected", "invalid", "failed"}


def fill(template: str, values: dict) -> str:
    """Replace the known placeholders only: editor text is not a format string."""
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def confirm_url(page, signature) -> str:
    # The page's own URL is worked out once per page object, not once per email of a batch.
    base = getattr(page, "_petitions_confirm_base", None)
    if base is None:
        base = page._petitions_confirm_base = page.get_full_subpage_url("confirm") + "?token="
    return base + quote_plus(make_token(signature))  # as urlencode({"token": …}) writes it


def html_paragraphs(template: str, values: dict) -> list:
    """The body as paragraphs of text and link segments; the template escapes the text."""
    paragraphs = []
    for paragraph in re.split(r"\n\s*\n", template.strip()):
        segments = []
        for i, part in enumerate(paragraph.split("{link}")):
            if i:
                segments.append({"link": values["link"]})
            if part:
                segments.append({"text": fill(part, values)})
        paragraphs.append(segments)
    return paragraphs


def _petition_id(page):
    # The id its signatures are counted under (cms.translations): one petition, whichever translation.
    return getattr(page, "canonical_id", page.pk)


# ``page`` is the translation the signer signed (``verification_page``): its wording and links, rendered
# with its language active, so this module's strings and the template's are in that language too.
@rendered_in_page_language
def render_verification_message(page, signature, confirm_link: str, manage_link: str) -> AnymailMessage:
    """The verification email of ``signature``, rendered whole: the page's wording, the signer's links."""
    values = {"first_name": str(GENERIC_GREETING), "petition": page.title, "link": confirm_link}
    privacy_url = page.get_privacy_url()
    identity = page.get_identity()  # the campaign's sender, once per compiled email
    message = AnymailMessage(
        # One line: no editor text can add a header.
        subject=" ".join(fill(page.verification_email_subject, values).split()),
        body=fill(page.verification_email_body, values)
        + "\n\n"
        + MANAGE_TEXT % {"manage_link": manage_link}
        + "\n\n"
        + gettext("How we use your data (privacy notice): %(url)s") % {"url": privacy_url},
        from_email=identity.from_header(),
        reply_to=identity.reply_to_list(),
        # The address alone, never "name <address>": no display name from the signer's input.
        to=[signature.email],
        tags=list(get_setting("VERIFICATION_EMAIL_TAGS")),
        metadata={"petition_id": str(_petition_id(page)), "signature_id": str(signature.pk)},
        headers={"Content-Language": page_language(page)},
    )
    html = render_to_string(
        "petitions/email/verify_signature.html",
        {
            "page": page,
            "paragraphs": html_paragraphs(page.verification_email_body, values),
            "privacy_url": privacy_url,
            "manage_link": manage_link,
        },
    )
    message.attach_alternative(html, "text/html")
    return message


# Stand-ins for a signer's two links while a page's email is rendered once: letters and digits only,
# so escaping, linebreaksbr and the subject's folding of whitespace leave them as they are; random per
# process, so no editor's text can hold one.
_SLOT_NONCE = secrets.token_hex(12)
CONFIRM_SLOT = f"petitionsconfirmlink{_SLOT_NONCE}"
MANAGE_SLOT = f"petitionsmanagelink{_SLOT_NONCE}"


class CompiledVerificationEmail:
    """A page's verification email rendered once, with slots where each signer's links go.

    Rendering (the template, ``fill``, the page's URLs) is the same for every signer of a page; only
    the two links, the address and the signature id differ. ``message_for`` fills them in by string
    substitution, the links HTML-escaped in the HTML part as the template escapes them, so the
    message is the one ``render_verification_message`` makes for that signer (tests/test_emails_compiled.py).
    Nothing of one signer is kept: each message is built from the page's parts and its own values.
    """

    def __init__(self, page):
        self.page_pk = _petition_id(page)
        self.language = page_language(page)
        nobody = SimpleNamespace(pk=0, email="")  # the message's to and metadata are set per signer
        message = render_verification_message(page, nobody, CONFIRM_SLOT, MANAGE_SLOT)
        self.subject, self.body, self.from_email = message.subject, message.body, message.from_email
        self.reply_to = list(message.reply_to)
        self.tags, self.headers = message.tags, dict(message.extra_headers)
        [(self.html, _)] = message.alternatives

    def message_for(self, page, signature, confirm_link: str, manage_link: str) -> AnymailMessage:
        if confirm_link.split() != [confirm_link]:  # whitespace the subject would fold: render it whole
            return render_verification_message(page, signature, confirm_link, manage_link)
        message = AnymailMessage(
            subject=self.subject.replace(CONFIRM_SLOT, confirm_link),
            body=self.body.replace(CONFIRM_SLOT, confirm_link).replace(MANAGE_SLOT, manage_link),
            from_email=self.from_email,
            reply_to=list(self.reply_to),
            to=[signature.email],
            tags=list(self.tags),
            metadata={"petition_id": str(self.page_pk), "signature_id": str(signature.pk)},
            headers=dict(self.headers),
        )
        html = self.html.replace(CONFIRM_SLOT, escape(confirm_link)).replace(MANAGE_SLOT, escape(manage_link))
        message.attach_alternative(html, "text/html")
        return message


def build_verification_message(page, signature) -> AnymailMessage:
    """The verification email of ``signature``: the page's email, rendered once per page object, filled in.

    ``page`` is the translation the signer signed (``verification_page``), so the compiled email is
    one per petition and language. The worker loads each page once per batch, so a batch renders each
    page's email once; an edit reaches the next batch.
    """
    compiled = getattr(page, "_petitions_verification_email", None)
    if compiled is None:
        compiled = page._petitions_verification_email = CompiledVerificationEmail(page)
    return compiled.message_for(page, signature, confirm_url(page, signature), manage_url(page, signature))


def verification_page(pages: dict, signature):
    """The page whose wording and links ``signature``'s email carries: its petition in the signer's language.

    The translation the signer signed (same ``translation_key``, the locale of ``signature.language``),
    or the petition's own page when there is none (a translation since deleted, an old row). ``pages``
    holds the batch's pages by (petition id, language), so each is looked up once per batch.
    """
    language = signature.get_language()
    page = pages.get((signature.petition_id, language))
    if page is None:
        petition = pages.get(signature.petition_id)
        if petition is None:
            petition = pages[signature.petition_id] = signature.petition.specific
        page = pages[(signature.petition_id, language)] = translation_for(petition, language)
    return page


def _cap_key(signature) -> str:
    # The canonical address, so Ada@x.org and ada@x.org share a cap; hashed: no addresses in keys.
    return EMAIL_CAP_KEY.format(address_hash(signature.email_normalized or signature.email))


class DailyCap:
    """The ``EMAILS_PER_ADDRESS_PER_DAY`` cap of a batch's inboxes: read once per batch, counted per email.

    The cap is per canonical address across all petitions, in a fixed one-day window of the
    store (it resets a day after the first email, not at midnight). It is applied here, in
    the sender, rather than in the sign request: it counts what is really sent, the sweeper's
    resends included, and the signer's answer cannot differ. Only emails the ESP took (or
    refused) count (``count``); a temporary ESP error and its retries spend none.

    The batch's counts are read in one round trip when it starts, and each email counted is one
    more: the count's answer, the inbox's count as it stands in the store (other workers' emails
    included), replaces the one read, so an inbox mailed twice in one batch is checked against a
    fresh count the second time. Only a batch's first check of an inbox reads a count as old as
    the batch: a worker can pass one check it would have failed, so, as when each check read the
    store, the cap can be exceeded by the number of concurrent workers, never more. With the
    store (Redis) down the emails still go, uncapped and uncounted: the row stays the truth.
    """

    WINDOW = 24 * 3600

    def __init__(self, signatures):
        self.cap = get_setting("EMAILS_PER_ADDRESS_PER_DAY")
        self.sent = {}
        if self.cap is None:
            return
        keys = list({_cap_key(signature) for signature in signatures})
        try:
            self.sent = dict(zip(keys, get_store().attempts_many(keys), strict=True))
        except Exception:  # the store (Redis) is down: the emails still go; the row stays the truth
            logger.warning("Daily email cap not checked for %d signatures: the store is unavailable", len(keys))

    def reached(self, signature) -> bool:
        """True if this inbox has had its verification emails for the day."""
        if self.cap is None:
            return False
        return self.sent.get(_cap_key(signature), 0) >= self.cap

    def count(self, signature):
        """Count one verification email handed to the ESP for this signature's inbox."""
        if self.cap is None:
            return
        key = _cap_key(signature)
        self.sent[key] = self.sent.get(key, 0) + 1
        try:
            self.sent[key] = get_store().count_attempt(key, self.WINDOW)
        except Exception:  # the store is down: this email goes uncounted rather than unrecorded
            logger.warning("Daily email cap not counted for signature %s: the store is unavailable", signature.pk)


def _owed(signature) -> bool:
    """True if this pending signature is owed an email: the outbox may hold ids owed none.

    Every sign pushes its signature's id, so a re-sign of an address emailed a
    moment ago lands here too and is skipped (``cms.signing.sign_petition``).
    """
    if signature.email_status == signature.EmailStatus.REFUSED:
        return False
    return signature.email_sent_at is None or (
        signature.email_requested_at is not None and signature.email_sent_at < signature.email_requested_at
    )


def send_verification_emails(signature_ids) -> tuple[list, list]:
    """Send the emails these signatures are owed; return (sent ids, ids to retry).

    Safe to run twice, and at once in two workers: each email is sent under
    its row's lock (another worker's locked row is skipped, not waited for)
    after checking it is still owed, and recorded in that row's own short
    transaction, committed before the next email. So a worker killed
    mid-batch has recorded every email the ESP took but the one in flight,
    and only that one can go twice; and a hanging ESP holds one row lock,
    not a batch's.

    A temporary ESP error (a 5xx, a timeout, a refused connection) leaves
    that email owed and stops the batch: the emails not tried yet go in the
    retry list with it, so an ESP outage costs one failed request per batch
    and retry, not one per email. A refused address is recorded and never
    retried.

    An email over the address's daily cap (``DailyCap``) is not sent and
    is recorded as handled (``email_sent_at`` set, status ``capped``), so the
    overdue sweeper never picks it up again; the signature stays pending, and
    the signer, who saw the same answer as everyone, gets an email if they
    sign again once the cap has reset (each sign after ``RESEND_MIN_INTERVAL``
    makes the email owed again). An address on the suppression list for a
    bounce, a refusal or a complaint (``cms.suppression``) is handled the same
    way, with status ``suppressed``; the sign request itself never looks.
    """
    Signature = get_signature_model()
    sent, retry = [], []
    # Unlocked, to skip at once the ids owed nothing (every sign pushes its id); each owed row
    # is locked and checked again before its send.
    owed = [
        signature
        # Oldest first: the first signers are emailed first, and the daily cap stops the newest.
        for signature in Signature.objects.filter(pk__in=list(signature_ids), status=Signature.Status.PENDING).order_by(
            "pk"
        )
        if _owed(signature)
    ]
    if not owed:
        return sent, retry
    if esp_paused():  # another send failed a moment ago: no request until the pause is over
        return sent, [signature.pk for signature in owed]
    # One query for the batch: the addresses that bounced, were refused or complained before.
    suppressed = Suppression.hashes_among(
        (signature.email_normalized or signature.email for signature in owed), Suppression.UNDELIVERABLE
    )
    pages, cap = {}, DailyCap(owed)
    database = connections[router.db_for_write(Signature)]
    rows = SignatureRows(Signature, database)
    # One ESP connection (one HTTP session) and one database cursor for the whole batch.
    with get_connection() as connection, database.cursor() as cursor:
        settle_environment(connection)
        for index, candidate in enumerate(owed):
            outcome = _send_one(rows, cursor, candidate.pk, suppressed, cap, pages, connection)
            if outcome == "sent":
                sent.append(candidate.pk)
            elif outcome == "retry":
                # The ESP is failing: try none of the rest now; they wait for the retry with this one,
                # and every other sender holds off for ESP_PAUSE_SECONDS.
                retry += [signature.pk for signature in owed[index:]]
                pause_esp()
                break
    return sent, retry


def esp_paused() -> bool:
    """True while a recent temporary ESP failure holds every sender off (``ESP_PAUSE_SECONDS``).

    Shared through the cache by every worker, so a 5-minute outage costs the ESP one probe every
    few seconds, not a request per batch and per retry. With the cache down: not paused.
    """
    if not get_setting("ESP_PAUSE_SECONDS"):
        return False
    try:
        return get_cache().get(ESP_PAUSED_KEY) is not None
    except Exception:  # noqa: BLE001 (the cache is down: send, as without the pause)
        return False


def pause_esp():
    seconds = get_setting("ESP_PAUSE_SECONDS")
    if seconds:
        try:
            get_cache().set(ESP_PAUSED_KEY, 1, timeout=seconds)
        except Exception as exc:  # noqa: BLE001 (the cache is down: no pause, each batch probes)
            logger.warning("ESP pause not recorded: the cache is unavailable: %s", exc)


class SignatureRows:
    """The lock and the record of one email as SQL built once per batch, not compiled by the ORM per email.

    ``lock`` is what ``select_for_update(skip_locked=True).filter(pk=…, status=PENDING).first()``
    ran: every concrete column, the database's converters applied, a row another worker holds
    skipped rather than waited for. ``record`` is the ``update()`` of the email's outcome; on
    PostgreSQL it also lets this transaction's commit return before its WAL reaches the disk
    (``set_config(…, true)`` is ``SET LOCAL``, folded into the statement: one round trip less).
    Each email's record is its own transaction (so a killed worker resends at most the email in
    flight), and a commit that waits for the disk costs more than the send. The record only keeps
    an email from going twice: a database crash that loses the last moment's records makes those
    emails owed again, and each goes at most twice, as after any fault. ``SET LOCAL`` ends with the
    transaction, so a pooled connection (pgbouncer's transaction mode) keeps its own setting.
    """

    RECORDED = ("email_status", "email_message_id", "email_sent_at")

    def __init__(self, Signature, connection):
        meta, quote = Signature._meta, connection.ops.quote_name
        self.Signature, self.connection = Signature, connection
        self.fields = meta.concrete_fields
        self.attnames = [field.attname for field in self.fields]
        columns = [field.get_col(meta.db_table) for field in self.fields]
        self.converters = [
            (i, column, converters)
            for i, column in enumerate(columns)
            if (converters := connection.ops.get_db_converters(column) + column.get_db_converters(connection))
        ]
        table, pk = quote(meta.db_table), quote(meta.pk.column)
        skip_locked = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
        self.lock_sql = (
            f"SELECT {', '.join(quote(field.column) for field in self.fields)} FROM {table}"  # noqa: S608 (model names)
            f" WHERE {pk} = %s AND {quote(meta.get_field('status').column)} = %s{skip_locked}"
        )
        self.pending = meta.get_field("status").get_db_prep_value(Signature.Status.PENDING, connection)
        self.recorded = [meta.get_field(name) for name in self.RECORDED]
        assignments = ", ".join(f"{quote(field.column)} = %s" for field in self.recorded)
        self.record_sql = f"UPDATE {table} SET {assignments} WHERE {pk} = %s"  # noqa: S608 (names from the model)
        if connection.vendor == "postgresql":
            self.record_sql += " RETURNING set_config('synchronous_commit', 'off', true)"

    def lock(self, cursor, signature_id):
        """The pending signature ``signature_id``, locked until the transaction ends; None if gone or held."""
        cursor.execute(self.lock_sql, (signature_id, self.pending))
        row = cursor.fetchone()
        if row is None:
            return None
        if self.converters:
            row = list(row)
            for i, column, converters in self.converters:
                for converter in converters:
                    row[i] = converter(row[i], column, self.connection)
        return self.Signature.from_db(self.connection.alias, self.attnames, row)

    def record(self, cursor, signature):
        values = [
            field.get_db_prep_save(value, self.connection)
            for field, value in zip(
                self.recorded, (signature.email_status, signature.email_message_id, timezone.now()), strict=True
            )
        ]
        cursor.execute(self.record_sql, [*values, signature.pk])


def _send_one(rows, cursor, signature_id, suppressed, cap, pages, connection) -> str | None:
    """Send one owed email under its row's lock and record it; "sent", "retry" or None (nothing sent)."""
    Signature = rows.Signature
    with transaction.atomic(using=rows.connection.alias):
        signature = rows.lock(cursor, signature_id)
        # Gone, confirmed, sent meanwhile, or locked by a worker sending it now.
        if signature is None or not _owed(signature):
            return None
        outcome = None
        if suppressed and address_hash(signature.email_normalized or signature.email) in suppressed:
            logger.info("Verification email for signature %s not sent: its address is suppressed", signature.pk)
            signature.email_status = Signature.EmailStatus.SUPPRESSED
        elif cap.reached(signature):
            logger.info("Verification email for signature %s not sent: daily cap of its address", signature.pk)
            signature.email_status = Signature.EmailStatus.CAPPED
        else:
            message = build_verification_message(verification_page(pages, signature), signature)
            message.connection = connection
            try:
                message.send()
            except (AnymailRecipientsRefused, AnymailInvalidAddress) as exc:
                logger.warning("Verification email for signature %s refused: %s", signature.pk, exc)
                signature.email_status = Signature.EmailStatus.REFUSED
            except AnymailAPIError as exc:
                logger.warning("Verification email for signature %s failed, will retry: %s", signature.pk, exc)
                return "retry"
            else:
                statuses = message.anymail_status.status or set()
                refused = statuses and statuses <= REFUSED_STATUSES
                signature.email_status = Signature.EmailStatus.REFUSED if refused else Signature.EmailStatus.SENT
                signature.email_message_id = str(message.anymail_status.message_id or "")[:255]
                outcome = None if refused else "sent"
            cap.count(signature)
        # As bulk_update did: no save(), so no model signals per email.
        rows.record(cursor, signature)
    return outcome
