"""Signing and verifying: the two writes a signer makes, and the outbox of owed emails.

A sign is one autocommit upsert (the same statement and the same outbox
push whether or not the address had signed); a verification one conditional
UPDATE. Neither touches a shared row: after commit, the id goes on the outbox
(``queue_verification_email``) and the verification into the live counter
(``record_verification``); the reconcile task (``cms.reconcile``) makes the
stored totals from the rows. The page's routes, the JSON API and the tasks
call these; they take the page object and never import models.
"""

import enum
import functools
import hashlib
import logging
from dataclasses import dataclass
from datetime import timedelta

from django.apps import apps
from django.db import IntegrityError, connection, transaction
from django.db.models import DateField, DateTimeField, F, Field, Q
from django.db.models.functions import Now
from django.utils import timezone
from django_countries.fields import CountryField
from kombu.exceptions import OperationalError as KombuOperationalError

from . import quarantine
from .addresses import normalize_email
from .conf import get_setting, get_signature_model
from .degraded import warn
from .localcache import LocalMemo
from .outage import OUTAGE_ERRORS
from .signals import signature_signed, signature_verified
from .store import get_store
from .tokens import InvalidToken, read_token

logger = logging.getLogger("petitions")


class SigningRefused(Exception):
    """The petition does not accept signatures now; the message says why."""


class VerifyResult(enum.Enum):
    VERIFIED = "verified"
    ALREADY = "already"
    INVALID = "invalid"


# --- signing ---------------------------------------------------------------------


def queue_verification_email(signature_id: int) -> None:
    """Hand a committed signature's id to the workers, cheaply.

    Every sign calls this, owed an email or not (``sign_petition``): the
    sender skips an id whose email is not owed. With Redis, the id goes on
    the outbox list and at most one drain task is woken per OUTBOX_NUDGE_MS,
    however many people sign: the sign request pays one Redis round trip,
    not a Celery publish. Anything lost here is found by
    the overdue sweeper, because the row itself records the owed email.
    """
    from workers import tasks

    try:
        store = get_store()
        if store.has_outbox:
            if store.push_outbox(signature_id):
                tasks.drain_outbox.delay()
        else:
            tasks.send_verification_emails.delay([signature_id])
    except (*OUTAGE_ERRORS, KombuOperationalError) as exc:  # Redis or the broker down: the sweeper will send
        warn(logger, "Verification emails left to the overdue sweeper: the outbox is unavailable", exc)
    except Exception:  # anything else: the row is committed, the sweeper will send, but say why
        logger.exception("Could not queue the verification email of signature %s", signature_id)


def _owed_since(now):
    """Before this instant, a pending signature's last email request makes it owed a new one."""
    return now - timedelta(seconds=get_setting("RESEND_MIN_INTERVAL"))


def consent_version(text: str) -> str:
    """The short hash a signature records of the consent wording it was given."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _wording_model():
    return apps.get_model("petitions_cms", "ConsentWording")


def record_wording(version: str, text: str, now) -> None:
    """Keep the wording a version names, once (a repeat does nothing)."""
    ConsentWording = _wording_model()
    ConsentWording.objects.bulk_create([ConsentWording(hash=version, text=text, first_seen=now)], ignore_conflicts=True)


def replaced_fields(Signature) -> list:
    """The columns a new submission replaces while its address's signature is still pending.

    The signer's fields and consent, never the address the link was mailed to: the latest
    submission's name and choices are what the owner of the inbox is asked to confirm. The language
    too (the page's it was made on): the email the latest submission is owed goes out in it.
    """
    names = [name for name in Signature.SIGNER_FIELDS if name != "email"] + list(Signature.CONSENT_FIELDS)
    names.append("language")
    return [Signature._meta.get_field(name) for name in names]


def _upsert_signature(Signature, values, now, wording=None) -> tuple[int, bool, bool]:
    """Store a signature, or touch the one this address already made: (id, created, email owed).

    On PostgreSQL one statement does it, whatever the address's history: the
    work, and so the time, of the sign request does not tell a new address
    from one that signed. See ``_upsert_postgresql``.
    """
    if connection.vendor == "postgresql":
        return _upsert_postgresql(Signature, values, now, wording)
    # Elsewhere (SQLite, the embedded demo): correct, but an address that signed before costs
    # a failed INSERT, conditional UPDATEs and a SELECT, so its timing differs from a new one's.
    if wording is not None:
        record_wording(values["consent_version"], wording, now)
    try:
        with transaction.atomic():  # a savepoint: a duplicate must not abort the caller's transaction
            return Signature.objects.create(**values).pk, True, True
    except IntegrityError:
        pass
    existing = Signature.objects.filter(petition_id=values["petition_id"], email_normalized=values["email_normalized"])
    # While pending, the latest submission's name, choices and consent replace the earlier ones.
    signature = Signature(**values)
    existing.filter(status=Signature.Status.PENDING).update(
        **{field.attname: getattr(signature, field.attname) for field in replaced_fields(Signature)}
    )
    # Conditional, so two re-signs racing each other make one email owed.
    owed = existing.filter(
        Q(email_requested_at__isnull=True) | Q(email_requested_at__lt=_owed_since(now)),
        status=Signature.Status.PENDING,
    ).update(email_requested_at=now)
    return existing.values_list("pk", flat=True).get(), False, bool(owed)


def _upsert_postgresql(Signature, values, now, wording=None):
    """``INSERT … ON CONFLICT … DO UPDATE``, always one statement, one row version and one id.

    A conflict on a pending signature replaces its signer's fields and consent
    (``replaced_fields``: the latest submission is what the inbox's owner
    confirms, and can still change on the confirm page) and moves
    ``email_requested_at``, the latter only past ``RESEND_MIN_INTERVAL`` (or
    with no request on record). Every other row (verified, quarantined,
    invalidated, fraudulent) gets the values it already holds: nothing a
    submission carries (names, choices, status) changes it. Each column is a
    ``CASE`` on the old row's status, so the statement is the same whatever
    the address's history. The consent wording rides in the same statement
    (a CTE that inserts it unless already stored), unless this process saw it
    stored within LOCAL_CACHE_SECONDS (``STORED_WORDINGS``): whether the CTE
    is sent depends on the wording, never on the address. The update is
    unconditional on purpose: a ``WHERE`` on ``DO UPDATE`` would make
    a verified or recently emailed address cost a row lock and no row version,
    and return no id, where a new one costs an insert. Writing the row version
    makes every sign one write and one id. ``email_requested_at`` is in no
    index, so the update is HOT where the page has room; either way it leaves
    one dead row version for vacuum, less than the live row a sign with a new
    address adds, so re-signing bloats the table no faster than signing does.
    The row stays locked until the caller's transaction ends (at once in
    autocommit; a host with ``ATOMIC_REQUESTS`` holds it for the request), so
    only signs of the same address wait on each other.

    The row lock that ``DO UPDATE`` takes serialises two re-signs racing each
    other: the second sees the first's new ``email_requested_at`` and leaves it,
    so one email is owed. ``created`` is PostgreSQL's ``xmax = 0`` (a row this
    statement inserted); the email is owed when the row now holds this sign's
    ``email_requested_at``.
    """
    statement = _upsert_statement(Signature)
    version = values.get("consent_version")
    sql, params = statement.sql, []
    if wording is not None and STORED_WORDINGS.get(version) is None:
        sql, params = statement.sql_with_wording, [version, wording, now]
        # Only once committed: a rolled-back sign stored no wording.
        transaction.on_commit(lambda: STORED_WORDINGS.set(version, True))
    params += statement.params(values)
    owed_since, now_db = statement.prep_time(_owed_since(now)), statement.prep_time(now)
    params += [Signature.Status.PENDING, owed_since, *statement.pending_per_replaced, now_db]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        signature_id, created, owed = cursor.fetchone()
    return signature_id, created, owed


#: Wording hashes this process has seen committed, for LOCAL_CACHE_SECONDS: their CTE is left out.
#: Nothing deletes a ConsentWording (retention and erasure keep them: they say what a signer agreed to).
STORED_WORDINGS = LocalMemo()


@functools.cache
def _upsert_statement(Signature):
    """The signature model's ``UpsertStatement``, built on first use."""
    return UpsertStatement(Signature)


#: Fields whose ``pre_save`` returns the attribute as set (a pure function of it, for CountryField),
#: so their value can be prepared without a model instance.
_PLAIN_PRE_SAVES = frozenset({Field.pre_save, DateField.pre_save, DateTimeField.pre_save, CountryField.pre_save})


class UpsertStatement:
    """``_upsert_postgresql``'s SQL for one signature model, and its columns, built once per process.

    Quoting every name and reading every field's metadata cost more CPU per sign than the
    database spent on the statement. The values are still prepared per sign by each field's
    ``get_db_prep_save``, as ``Model.save`` does; a model with a field whose ``pre_save`` needs the
    instance (``auto_now``, files) gets a model instance per sign, as before.
    """

    def __init__(self, Signature):
        quote = connection.ops.quote_name
        meta = Signature._meta
        self.model = Signature
        self.fields = [field for field in meta.concrete_fields if not field.primary_key]
        self.attnames = frozenset(field.attname for field in self.fields)
        self.needs_instance = any(
            type(field).pre_save not in _PLAIN_PRE_SAVES
            or getattr(field, "auto_now", False)
            or getattr(field, "auto_now_add", False)
            for field in self.fields
        )
        # A default that is not callable is prepared once; a callable one (and db_default) per sign.
        self.columns = [(field, field.attname, _prepared_default(field)) for field in self.fields]
        self.requested_field = meta.get_field("email_requested_at")
        table = quote(meta.db_table)
        columns = ", ".join(quote(field.column) for field in self.fields)
        placeholders = ", ".join(["%s"] * len(self.fields))
        requested = quote(self.requested_field.column)
        status = quote(meta.get_field("status").column)
        conflict = ", ".join(quote(meta.get_field(name).column) for name in ("petition", "email_normalized"))
        replaced_columns = [quote(field.column) for field in replaced_fields(Signature)]
        replaced = "".join(
            f", {column} = CASE WHEN s.{status} = %s THEN EXCLUDED.{column} ELSE s.{column} END"
            for column in replaced_columns
        )
        self.pending_per_replaced = [Signature.Status.PENDING] * len(replaced_columns)
        self.sql = (
            f"INSERT INTO {table} AS s ({columns}) VALUES ({placeholders}) "  # noqa: S608 (names from the model)
            f"ON CONFLICT ({conflict}) DO UPDATE SET {requested} = CASE "
            f"WHEN s.{status} = %s AND (s.{requested} IS NULL OR s.{requested} < %s) "
            f"THEN EXCLUDED.{requested} ELSE s.{requested} END{replaced} "
            f"RETURNING s.{quote(meta.pk.column)}, s.xmax = 0, s.{requested} = %s"
        )
        self.sql_with_wording = (
            f"WITH wording AS (INSERT INTO {quote(_wording_model()._meta.db_table)} (hash, text, first_seen) "  # noqa: S608
            f"VALUES (%s, %s, %s) ON CONFLICT (hash) DO NOTHING) {self.sql}"
        )

    def params(self, values) -> list:
        """The INSERT's values of ``values`` (attribute names), prepared for the database, in column order."""
        if self.needs_instance or not values.keys() <= self.attnames:  # a related object by name: the model sorts it
            return self.params_via_instance(values)
        params = []
        for field, attname, default in self.columns:
            if attname in values:
                params.append(field.get_db_prep_save(values[attname], connection))
            elif default is _PER_SIGN:
                params.append(field.get_db_prep_save(field.get_default(), connection))
            else:
                params.append(default)
        return params

    def params_via_instance(self, values) -> list:
        """The same through a model instance, as ``Model.save`` prepares them (the reference)."""
        signature = self.model(**values)
        return [field.get_db_prep_save(field.pre_save(signature, True), connection) for field in self.fields]

    def prep_time(self, moment):
        return self.requested_field.get_db_prep_save(moment, connection)


_PER_SIGN = object()


def _prepared_default(field):
    if callable(field.default) or (field.has_db_default() and not field.has_default()):
        return _PER_SIGN  # get_default() each time, as a model instance would
    return field.get_db_prep_save(field.get_default(), connection)  # a constant (or None, or "")


def sign_petition(page, data: dict, *, source: str = "", ip: str | None = None) -> int | None:
    """Store a pending signature, or find the one this address already made.

    Raises SigningRefused if the petition is closed, not yet open or not
    live. Returns the id of the signature owed an email, or None when none
    is owed (a verified signer, or a pending one emailed in the last
    RESEND_MIN_INTERVAL). Nothing already stored is overwritten.

    Whatever the address's history, the request does the same work: one
    statement (on PostgreSQL), and after commit one outbox push of the
    signature's id. The worker sends only what is owed
    (``emails.send_verification_emails``), so a verified or recently emailed
    address gets nothing more, and the sign's cost does not say which it was.
    The email is queued only after the transaction commits. ``ip`` is the
    client address (``cms.clientip.client_address``), kept for the fraud tools.
    """
    status = page.signing_status()
    if not status:
        raise SigningRefused(status.message)
    Signature = get_signature_model()
    now = timezone.now()
    # Only what a signer may set: never the status, times, or a lead's choices.
    values = {key: data[key] for key in Signature.SIGNER_FIELDS if data.get(key) not in (None, "")}
    values["email"] = values["email"].strip()
    values.update(
        # Every translation of the petition counts on one page (cms.translations); the signer's language is the page's.
        petition_id=page.canonical_id,
        language=page.get_language(),
        email_normalized=normalize_email(values["email"]),
        source=source[:64],
        status=Signature.Status.PENDING,
        created_at=now,
        email_requested_at=now,
        ip_address=quarantine.clean_client_address(ip),
    )
    wording = data.get("consent_text") or None
    if wording is not None:
        values.update(consent_version=consent_version(wording), consent_given_at=now)
    # One statement, its own short transaction (or part of the caller's): no BEGIN/COMMIT round trips.
    signature_id, created, owed = _upsert_signature(Signature, values, now, wording)
    # After the caller's commit (at once in autocommit): a rolled-back sign queues nothing.
    transaction.on_commit(lambda: _signed(Signature, signature_id, page.canonical_id, created, owed))
    return signature_id if owed else None


def _signed(Signature, signature_id, petition_id, created, owed):
    # Every sign pushes its id, owed or not: the worker skips what is not owed.
    queue_verification_email(signature_id)
    if owed:
        signature_signed.send(Signature, signature_id=signature_id, petition_id=petition_id, created=created)


# --- verifying -------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    """What a verification did, and what its holder's manage link is made of (``cms.manage_links``)."""

    result: VerifyResult
    signature_id: int | None = None
    manage_token_version: int | None = None


def verify_signature(page, token: str, changes: dict | None = None) -> VerifyResult:
    """Verify the signature a token names, once however often it is called.

    ``changes`` are the signer's corrections from the confirm page
    (``cms.forms.ConfirmForm.changes``: signer fields, and ``consent_text``,
    the wording shown there): written by the same conditional UPDATE that
    verifies, so they apply only to a pending signature, and never to one
    already confirmed. A signature a fraud rule flags (``cms.fraud``) is QUARANTINED instead: the
    signer gets the same answers (VERIFIED, then ALREADY), but it is neither
    counted nor announced until a lead releases it.
    """
    return verify(page, token, changes).result


def verify(page, token: str, changes: dict | None = None) -> Verification:
    """``verify_signature``, also naming the signature and its manage link's version (for the thank-you page).

    On PostgreSQL a new verification is one autocommit statement (``_verify_postgresql``);
    an ALREADY or INVALID answer costs one more SELECT.
    """
    try:
        signature_id = read_token(token, page.canonical_id)
    except InvalidToken:
        return Verification(VerifyResult.INVALID)
    Signature = get_signature_model()
    changes = dict(changes or {})
    wording = changes.pop("consent_text", None)
    allowed = {field.name for field in replaced_fields(Signature)}
    if set(changes) - allowed:
        raise ValueError(f"Not a signer's field: {sorted(set(changes) - allowed)}")
    if wording:
        changes["consent_version"] = consent_version(wording)
    if connection.vendor == "postgresql":
        return _verify_postgresql(page, Signature, signature_id, changes, wording)
    with transaction.atomic():
        pending = Signature.objects.filter(
            pk=signature_id, petition_id=page.canonical_id, status=Signature.Status.PENDING
        )
        status = _status_for(page, Signature, signature_id)
        # One conditional UPDATE: a second click, a scanner or a replay changes nothing.
        now = timezone.now()
        if wording:
            changes["consent_given_at"] = now
        if not pending.update(status=status, verified_at=_verification_time(now), **changes):
            return _not_pending(page, Signature, signature_id)
        if wording:
            record_wording(changes["consent_version"], wording, now)
        signature = Signature.objects.only(*Signature.FEED_FIELDS, "manage_token_version").get(pk=signature_id)
        if status == Signature.Status.VERIFIED:
            transaction.on_commit(lambda: _verified(page, signature))
    # A quarantined signature is VERIFIED to the signer too; nothing counts it.
    return Verification(VerifyResult.VERIFIED, signature_id, signature.manage_token_version)


def _status_for(page, Signature, signature_id):
    """VERIFIED, or QUARANTINED when a fraud rule flags the pending signature."""
    rules = quarantine.load_rules()  # cached; with no rules, no query more
    if rules:
        pending = Signature.objects.filter(
            pk=signature_id, petition_id=page.canonical_id, status=Signature.Status.PENDING
        )
        row = pending.values_list("email_normalized", "ip_address").first()
        if row is not None and quarantine.is_flagged(rules, *row, page.path):
            return Signature.Status.QUARANTINED
    return Signature.Status.VERIFIED


def _not_pending(page, Signature, signature_id) -> Verification:
    """The answer for a token whose signature was not pending: ALREADY once confirmed, else INVALID."""
    row = (
        Signature.objects.filter(pk=signature_id, petition_id=page.canonical_id)
        .values_list("status", "manage_token_version")
        .first()
    )
    if row is None or row[0] not in (Signature.Status.VERIFIED, Signature.Status.QUARANTINED):
        return Verification(VerifyResult.INVALID)
    return Verification(VerifyResult.ALREADY, signature_id, row[1])


def _verify_postgresql(page, Signature, signature_id, changes, wording) -> Verification:
    """One statement: ``UPDATE … WHERE status = 'pending' RETURNING`` what the live counter and the feed need.

    In autocommit it is its own transaction (no BEGIN, SELECT, COMMIT round trips); inside a
    caller's transaction it is part of it, and the live counter still hears of it only after
    commit. ``verified_at`` is the database's statement time (see ``_verification_time``). The
    consent wording the signer was shown is stored by a CTE of the same statement, and only
    when the UPDATE verified the row: an answer to a signature no longer pending writes nothing.
    """
    status = _status_for(page, Signature, signature_id)
    if wording:
        changes["consent_given_at"] = timezone.now()
    statement = _verify_statement(Signature, tuple(changes), bool(wording))
    params = [status]
    params += [
        field.get_db_prep_save(value, connection)
        for field, value in zip(statement.set_fields, changes.values(), strict=True)
    ]
    params += [signature_id, page.canonical_id, Signature.Status.PENDING]
    if wording:
        params += [changes["consent_version"], wording, changes["consent_given_at"]]
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, params)
        row = cursor.fetchone()
    if row is None:  # not pending: a second click, a scanner, a replay, or a signature a lead set aside
        return _not_pending(page, Signature, signature_id)
    values = [_from_db(field, value) for field, value in zip(statement.returned, row, strict=True)]
    if status == Signature.Status.VERIFIED:
        signature = Signature.from_db(connection.alias, statement.attnames, values)
        transaction.on_commit(lambda: _verified(page, signature))
    return Verification(VerifyResult.VERIFIED, signature_id, values[statement.version_index])


@dataclass(frozen=True)
class _Statement:
    sql: str
    set_fields: tuple  # the fields of the signer's changes, in the order of their parameters
    returned: tuple  # the columns RETURNING gives, in the model's order (as Model.from_db reads them)
    attnames: tuple
    version_index: int  # where manage_token_version is among them


@functools.lru_cache(maxsize=64)
def _verify_statement(Signature, changed: tuple, with_wording: bool) -> _Statement:
    """``_verify_postgresql``'s SQL for one model and one set of changed fields, built once per process."""
    meta = Signature._meta
    quote = connection.ops.quote_name
    set_fields = tuple(meta.get_field(name) for name in changed)
    sets = [f"{quote(meta.get_field('status').column)} = %s"]
    sets.append(f"{quote(meta.get_field('verified_at').column)} = STATEMENT_TIMESTAMP()")
    sets += [f"{quote(field.column)} = %s" for field in set_fields]
    wanted = {meta.pk.name if name == "pk" else name for name in (*Signature.FEED_FIELDS, "manage_token_version")}
    returned = tuple(field for field in meta.concrete_fields if field.name in wanted)
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {', '.join(sets)} "  # noqa: S608 (names from the model)
        f"WHERE {quote(meta.pk.column)} = %s AND {quote(meta.get_field('petition').column)} = %s "
        f"AND {quote(meta.get_field('status').column)} = %s "
        f"RETURNING {', '.join(quote(field.column) for field in returned)}"
    )
    if with_wording:
        wordings = quote(_wording_model()._meta.db_table)
        sql = (
            f"WITH verified AS ({sql}), wording AS (INSERT INTO {wordings} (hash, text, first_seen) "  # noqa: S608
            "SELECT %s, %s, %s WHERE EXISTS (SELECT 1 FROM verified) ON CONFLICT (hash) DO NOTHING) "
            "SELECT * FROM verified"
        )
    version = meta.get_field("manage_token_version")
    return _Statement(sql, set_fields, returned, tuple(f.attname for f in returned), returned.index(version))


def _from_db(field, value):
    """A column as the ORM would load it (a field's own conversion, where it has one)."""
    convert = getattr(field, "from_db_value", None)
    return convert(value, None, connection) if convert is not None and value is not None else value


def _verification_time(now):
    """The ``verified_at`` a verification writes.

    On PostgreSQL the database's own statement time, never before the
    transaction's start: ``cms.reconcile.counted_until`` keeps the watermark
    below every transaction still open, so a verification however late its
    commit is counted by the next run. Elsewhere the time as late as it can
    be in Python, and the reconcile's lag covers the commit that follows.
    The row is read back for the live counter and the feed.
    """
    return Now() if connection.vendor == "postgresql" else now


def record_verification(page, signature) -> bool:
    """Count one new verification in the live store, once however often it is called (after commit)."""
    return get_store().record_verification(
        page.canonical_id, signature.pk, signature.verified_at, signature.feed_entry(page)
    )


def _verified(page, signature):
    try:
        record_verification(page, signature)
    except OUTAGE_ERRORS as exc:  # Redis down: the next reconcile counts it from the database
        warn(logger, "Verifications left to the next reconcile: the live counter is unavailable", exc)
    except Exception:
        logger.exception("Could not record verification %s in the live counter", signature.pk)
    signature_verified.send(type(signature), signature_id=signature.pk, petition_id=page.canonical_id, page=page)


# --- the outbox --------------------------------------------------------------------


def overdue_verification_email_ids(now=None, limit=1000, after=0) -> list:
    """Pending signatures whose owed email has not left in EMAIL_OVERDUE_AFTER seconds.

    At most ``limit`` ids above ``after``, ascending: the sweeper pages through a backlog by id.
    """
    Signature = get_signature_model()
    now = now or timezone.now()
    oldest = now - timedelta(seconds=get_setting("VERIFY_TOKEN_MAX_AGE"))
    overdue = now - timedelta(seconds=get_setting("EMAIL_OVERDUE_AFTER"))
    return list(
        Signature.objects.filter(
            status=Signature.Status.PENDING,
            email_requested_at__gte=oldest,
            email_requested_at__lt=overdue,
        )
        .exclude(email_status=Signature.EmailStatus.REFUSED)
        .filter(Q(email_sent_at__isnull=True) | Q(email_sent_at__lt=F("email_requested_at")))
        .filter(pk__gt=after)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
