"""The benchmark's steps that run inside Django (the settings come from the environment).

    python bench/djside.py probe              which endpoints and services exist (JSON)
    python bench/djside.py queues             the Celery queues the workers must consume
    python bench/djside.py seed N PORT        site + petition + N verified signatures (COPY), then reconcile
    python bench/djside.py stats PETITION     signature counts of a petition (JSON)
    python bench/djside.py reconcile_once PETITION   one reconcile, then database and cached counts
    python bench/djside.py reconcile PETITION time reconcile and recount after 10,000 new verifications
    python bench/djside.py petition PORT SLUG  a fresh, empty petition beside any others (the fault suite)
    python bench/djside.py rows PETITION      every signature of a petition: id, email, status, email sent
    python bench/djside.py reconcile_twice PETITION   two reconciles at the same moment, then the counts

Each command prints one JSON line on stdout (after "BENCH_JSON ").
"""

import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "petitions_site.settings")

import django  # noqa: E402

django.setup()

from django.db import DatabaseError, connection, transaction  # noqa: E402
from psycopg.copy import QueuedLibpqWriter  # noqa: E402

FIRST_NAMES = ["Sam", "Maria", "Omar", "Lena", "Tom", "Priya", "Jon", "Aisha", "Luca", "Noor", "Ruth", "Karim"]
LAST_NAMES = ["Khan", "Smith", "Garcia", "Okafor", "Nguyen", "Müller", "Rossi", "Haddad"]
COUNTRIES = ["US", "US", "US", "US", "GB", "CA", "IE", "DE", "FR", "AU"]
VARIABLE_COLUMNS = {
    "first_name",
    "last_name",
    "email",
    "email_normalized",
    "country",
    "show_in_feed",
    "created_at",
    "verified_at",
    "email_requested_at",
    "email_sent_at",
}
SPREAD = timedelta(weeks=8)  # the seeded verifications span the last eight weeks
PAGE_SLUG = "bench-petition"


def emit(payload):
    print("BENCH_JSON " + json.dumps(payload, default=str), flush=True)


# --- probe -------------------------------------------------------------------


def probe():
    from django.urls import Resolver404, resolve

    from cms import reconcile

    def resolves(path):
        try:
            match = resolve(path)
        except Resolver404:
            return None
        name = f"{match.func.__module__}.{getattr(match.func, '__name__', type(match.func).__name__)}"
        return None if name.startswith("wagtail.") else name  # Wagtail's catch-all page route

    emit(
        {
            "bare_view": resolves("/bench/bare/"),
            "count_view": resolves("/api/petitions/1/count.json"),
            "sign_view": resolves("/petitions/1/sign/"),
            "confirm_view": resolves("/petitions/1/confirm/"),
            "reconcile_lag_s": _setting("RECONCILE_LAG") if "RECONCILE_LAG" in _defaults() else 0,
            "full_recount": hasattr(reconcile, "full_recount"),
            "trusted_proxies": _trusted_proxies(),
            "rate_limits": {name: _setting(name) for name in _rate_limit_names()},
        }
    )


def _trusted_proxies():
    """PETITIONS["TRUSTED_PROXIES"] as JSON: a count, or the networks' addresses ("127.0.0.1" for 127.0.0.1/32)."""
    value = _setting("TRUSTED_PROXIES") if "TRUSTED_PROXIES" in _defaults() else None
    if isinstance(value, (list, tuple)):
        return [item.removesuffix("/32").removesuffix("/128") for item in value]
    return value


def _rate_limit_names():
    return [name for name in _defaults() if name.startswith("RATE_LIMIT") and name != "RATE_LIMIT_ALLOW"]


def _defaults():
    from cms.conf import DEFAULTS

    return DEFAULTS


def _setting(name):
    from cms.conf import get_setting

    return get_setting(name)


# --- queues ------------------------------------------------------------------


def queues():
    from petitions_site.celery import app

    app.loader.import_default_modules()
    names = {app.conf.task_default_queue or "celery"}
    names.update(q.name for q in (app.conf.task_queues or []))
    routes = app.conf.task_routes or {}
    for route in routes if isinstance(routes, (list, tuple)) else [routes]:
        if isinstance(route, dict):
            for value in route.values():
                if isinstance(value, dict) and value.get("queue"):
                    names.add(value["queue"] if isinstance(value["queue"], str) else value["queue"].name)
    for task in app.tasks.values():
        queue = getattr(task, "queue", None)
        if queue:
            names.add(queue if isinstance(queue, str) else queue.name)
    emit({"queues": sorted(names)})


# --- seed --------------------------------------------------------------------


def create_petition(port, slug=PAGE_SLUG):
    """A published petition under the campaign index (made, with the site, on the first call)."""
    from wagtail.models import Page, Site

    from cms.models import CampaignIndexPage, Official, PetitionPage
    from petitions_site import demo_content

    index = CampaignIndexPage.objects.filter(slug="campaigns").first()
    if index is None:
        root = Page.get_first_root_node()
        index = CampaignIndexPage(title="Campaigns", slug="campaigns", intro="<p>Benchmark campaigns.</p>")
        root.add_child(instance=index)
        index.save_revision().publish()
        Site.objects.all().delete()
        Site.objects.create(hostname="127.0.0.1", port=port, root_page=index, is_default_site=True, site_name="Bench")
        Page.objects.filter(depth=2).exclude(pk=index.pk).delete()  # Wagtail's welcome page

    official = Official.objects.create(
        name="Antony Blinken", title="Secretary", organisation="U.S. Department of State", region="US"
    )
    page = PetitionPage(
        title=demo_content.REFERENCE_TITLE,
        slug=slug,
        intro="The benchmark's petition.",
        goal=2_000_000,
        body=json.dumps(demo_content.reference_body(official)),
    )
    index.add_child(instance=page)
    page.save_revision().publish()
    page.refresh_from_db()
    return page


def copy_signatures(petition_id, count, *, prefix, status, now, spread=SPREAD, batch=20_000):
    """COPY ``count`` signatures into the table: one row per distinct address.

    Every concrete column is written: known ones get bench values, any other
    takes the model field's default, so new fields with defaults need no change here.
    """
    from cms.models import Signature

    fields = [f for f in Signature._meta.concrete_fields if not f.primary_key]
    names = [f.name for f in fields]
    verified = status == "verified"

    def text(field, value):
        if value is None:
            return r"\N"
        value = field.get_db_prep_save(value, connection)
        if isinstance(value, bool):
            return "t" if value else "f"
        if isinstance(value, datetime):
            return value.isoformat()
        return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")

    constants = {}
    for field in fields:
        if field.name == "petition":
            constants[field.name] = str(petition_id)
        elif field.name == "status":
            constants[field.name] = status
        elif field.name == "email_status":
            constants[field.name] = "sent"
        elif field.name == "source":
            constants[field.name] = "bench-seed"
        elif field.name in VARIABLE_COLUMNS:
            continue
        else:
            constants[field.name] = text(field, field.get_default())
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(Signature._meta.db_table)
    step = spread / max(count, 1)

    def row(i):
        at = now - step * i
        email = f"{prefix}{i}@bench.example.org"
        variable = {
            "first_name": FIRST_NAMES[i % len(FIRST_NAMES)],
            "last_name": LAST_NAMES[i % len(LAST_NAMES)],
            "email": email,
            "email_normalized": email,
            "country": COUNTRIES[i % len(COUNTRIES)],
            "show_in_feed": "t" if i % 10 < 7 else "f",
            "created_at": (at - timedelta(minutes=3)).isoformat(),
            "verified_at": at.isoformat() if verified else r"\N",
            "email_requested_at": (at - timedelta(minutes=3)).isoformat(),
            "email_sent_at": (at - timedelta(minutes=2)).isoformat(),
        }
        return "\t".join(constants[name] if name in constants else variable[name] for name in names) + "\n"

    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg 3
        # A queued writer sends in a thread, so PostgreSQL ingests while Python builds the next batch.
        writer = QueuedLibpqWriter(raw)
        with raw.copy(f"COPY {table} ({columns}) FROM STDIN", writer=writer) as copy:
            for start in range(0, count, batch):
                copy.write("".join(row(i) for i in range(start, min(start + batch, count))))
    return table


def seed(count, port):
    from cms import reconcile

    started = time.monotonic()
    page = create_petition(port)
    page_seconds = time.monotonic() - started

    t = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO off")
        # Skip the per-row foreign-key trigger (every row names the petition just created): about
        # twice as fast. Needs a superuser, as the bench's postgres role is; otherwise rows are checked.
        try:
            with transaction.atomic():
                cursor.execute("SET session_replication_role TO replica")
        except DatabaseError:
            pass
        cursor.execute("SHOW session_replication_role")
        fk_trigger_skipped = cursor.fetchone()[0] == "replica"
    newest = datetime.now(UTC) - timedelta(minutes=1)  # older than any RECONCILE_LAG
    table = copy_signatures(page.pk, count, prefix="seed", status="verified", now=newest)
    copy_seconds = time.monotonic() - t
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role TO DEFAULT")

    t = time.monotonic()
    with connection.cursor() as cursor:  # autocommit: VACUUM cannot run in a transaction
        cursor.execute(f"VACUUM (ANALYZE) {table}")
    vacuum_seconds = time.monotonic() - t

    t = time.monotonic()
    counts = reconcile.reconcile_counts()
    reconcile_seconds = time.monotonic() - t

    emit(
        {
            "petition_id": page.pk,
            "path": page.url,
            "rows": count,
            "page_s": round(page_seconds, 2),
            "copy_s": round(copy_seconds, 2),
            "copy_fk_trigger_skipped": fk_trigger_skipped,
            "vacuum_analyze_s": round(vacuum_seconds, 2),
            "initial_reconcile_s": round(reconcile_seconds, 3),
            "reconciled": counts.get(page.pk) if isinstance(counts, dict) else None,
        }
    )


# --- stats -------------------------------------------------------------------


def stats(petition_id):
    from cms.models import Signature

    rows = Signature.objects.filter(petition_id=petition_id)
    pending = rows.filter(status=Signature.Status.PENDING)
    emit(
        {
            "total": rows.count(),
            "verified": rows.filter(status=Signature.Status.VERIFIED).count(),
            "pending": pending.count(),
            "pending_unsent": pending.filter(email_sent_at__isnull=True).count(),
            "bench_rows": rows.exclude(source="bench-seed").count(),
        }
    )


def _lag():
    return _setting("RECONCILE_LAG") if "RECONCILE_LAG" in _defaults() else 0


def _cached_count(petition_id):
    from cms.models import live_counts

    try:
        return live_counts([petition_id])[petition_id]
    except Exception as exc:  # noqa: BLE001 (reported, not fatal)
        return f"error: {exc!r}"


def _timed(function, tries=5):
    """Time one call; a None result means another run held the reconcile lock, so wait and call again."""
    for _ in range(tries):
        t = time.monotonic()
        value = function()
        seconds = round(time.monotonic() - t, 4)
        if value is not None:
            break
        time.sleep(1)
    return seconds, value


def reconcile_once(petition_id):
    """One reconcile as the beat would run it, after the lag so every verification so far is in."""
    from cms import reconcile
    from cms.models import Signature

    time.sleep(_lag() + 0.5)
    seconds, counts = _timed(reconcile.reconcile_counts)
    emit(
        {
            "reconcile_s": seconds,
            "reconciled": counts.get(petition_id) if isinstance(counts, dict) else counts,
            "db_verified": Signature.objects.filter(petition_id=petition_id, status=Signature.Status.VERIFIED).count(),
            "cached_count": _cached_count(petition_id),
        }
    )


# --- reconcile timing --------------------------------------------------------


def reconcile_timing(petition_id, new=10_000):
    """Time an incremental reconcile after ``new`` verifications, and a full recount."""
    from cms import reconcile
    from cms.models import Signature

    result = {"new_verifications": new, "reconcile_lag_s": _lag()}
    table = copy_signatures(
        petition_id,
        new,
        prefix="recon",
        status="pending",
        now=datetime.now(UTC),
        spread=timedelta(minutes=5),
    )
    # The rows verify as the confirm route does it: status and verified_at, now.
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET status = %s, verified_at = now() "  # noqa: S608 (table name from the model)
            "WHERE petition_id = %s AND email_normalized LIKE %s AND status = %s",
            ["verified", petition_id, "recon%", "pending"],
        )
        result["updated"] = cursor.rowcount
    time.sleep(_lag() + 0.5)  # the reconcile counts up to RECONCILE_LAG before now

    result["incremental_s"], counts = _timed(reconcile.reconcile_counts)
    result["incremental_result"] = counts.get(petition_id) if isinstance(counts, dict) else counts
    result["incremental_nothing_new_s"], _ = _timed(reconcile.reconcile_counts)

    if hasattr(reconcile, "full_recount"):
        result["full_recount_s"], drift = _timed(reconcile.full_recount)
        result["full_recount_result"] = drift  # {petition_id: drift} it corrected, {} if none, None if locked
    else:
        result["full_recount_s"] = None
        result["full_recount_missing"] = "cms.reconcile.full_recount does not exist"

    result["db_verified"] = Signature.objects.filter(petition_id=petition_id, status=Signature.Status.VERIFIED).count()
    result["cached_count"] = _cached_count(petition_id)
    emit(result)


# --- the fault suite ---------------------------------------------------------


def petition(port, slug):
    page = create_petition(port, slug)
    emit({"petition_id": page.pk, "path": page.url})


def rows(petition_id):
    """Every signature of the petition, for faults/checks.py to hold against what the clients saw."""
    from cms.models import Signature

    values = Signature.objects.filter(petition_id=petition_id).values_list(
        "pk", "email", "status", "email_status", "email_sent_at", "verified_at"
    )
    emit(
        {
            "rows": [
                [pk, email, status, email_status, sent is not None, verified is not None]
                for pk, email, status, email_status, sent, verified in values
            ]
        }
    )


def reconcile_twice(petition_id):
    """Two reconciles started together from two connections: the advisory lock lets one count."""
    import threading

    from django.db import connections

    from cms import reconcile
    from cms.models import Signature

    time.sleep(_lag() + 0.5)
    barrier, results = threading.Barrier(2), []

    def run():
        barrier.wait(timeout=30)
        try:
            counts = reconcile.reconcile_counts()
            results.append(counts.get(petition_id) if isinstance(counts, dict) else counts)
        except Exception as exc:  # noqa: BLE001 (reported, not fatal)
            results.append(f"error: {exc!r}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    emit(
        {
            "results": [r if isinstance(r, (int, str, type(None))) else str(r) for r in results],
            "db_verified": Signature.objects.filter(petition_id=petition_id, status=Signature.Status.VERIFIED).count(),
            "cached_count": _cached_count(petition_id),
        }
    )


def main(argv):
    command, args = argv[0], argv[1:]
    if command == "probe":
        probe()
    elif command == "queues":
        queues()
    elif command == "seed":
        seed(int(args[0]), int(args[1]))
    elif command == "stats":
        stats(int(args[0]))
    elif command == "reconcile_once":
        reconcile_once(int(args[0]))
    elif command == "reconcile":
        reconcile_timing(int(args[0]), int(args[1]) if len(args) > 1 else 10_000)
    elif command == "petition":
        petition(int(args[0]), args[1])
    elif command == "rows":
        rows(int(args[0]))
    elif command == "reconcile_twice":
        reconcile_twice(int(args[0]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
