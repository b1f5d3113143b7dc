"""`make bench-insights`: the admin's insights at 1,000,000 signatures, timed in process.

Makes a fresh PostgreSQL database of its own (``petitions_insights_bench_<pid>``, dropped at
the end unless BENCH_KEEP_DB=1), migrates it, and seeds one petition with BENCH_SEED_ROWS
(1,000,000) signatures by COPY, made over the last 30 days: 80% verified a few minutes after
signing, the rest pending; five sources (one of them none), ten countries, a few bounces and
complaints. Then it times:

  1. the first reconcile, which fills the totals and the insights from the first row
  2. the full recount, which rebuilds them
  3. an incremental reconcile after 10,000 more signatures (half verified)
  4. the insights report, its CSV and the Wagtail dashboard, through Django's test client as a
     campaign lead (median and 95th percentile of BENCH_REQUESTS requests each, after one warm-up),
     with their SQL queries, none of which may read the signatures table

and checks that the aggregates equal a COUNT over the signatures. Prints one line per figure
and writes them to bench/results/insights.txt. Runs with DEBUG off and no Redis (local memory
cache), like a production request would apart from the cache.
"""

# ruff: noqa: S608 (table names come from the models)

import os
import re
import secrets
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "insights.txt"
HOST = "127.0.0.1"
DB_NAME = os.environ.get("BENCH_DB_NAME", f"petitions_insights_bench_{os.getpid()}")
ROWS = int(os.environ.get("BENCH_SEED_ROWS", 1_000_000))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", 20))
DAYS = 30
SOURCES = ["", "", "newsletter", "partner-x", "widget-campaign-7", "social"]
COUNTRIES = ["US", "US", "GB", "GB", "FR", "DE", "CA", "IE", "AU", "MA"]

os.environ.update(
    DJANGO_SETTINGS_MODULE="petitions_site.settings",
    DATABASE_URL=f"postgres://postgres@{HOST}:5432/{DB_NAME}",
    SECRET_KEY=secrets.token_urlsafe(40),
    ALLOWED_HOSTS="testserver,127.0.0.1",
    PETITIONS_SITE_URL="http://127.0.0.1:8000",
    DEBUG="",
)
os.environ.pop("REDIS_URL", None)
sys.path.insert(0, str(ROOT))
lines = []


def say(line):
    print(line, flush=True)
    lines.append(line)


def admin_connection():
    return psycopg.connect(f"postgres://postgres@{HOST}:5432/postgres", autocommit=True)


def seed(petition_id, now):
    """COPY ``ROWS`` signatures of ``petition_id`` made over the last ``DAYS`` days; every column written."""
    from django.db import connection

    from cms.models import Signature

    fields = [f for f in Signature._meta.concrete_fields if not f.primary_key]
    step = timedelta(days=DAYS) / ROWS

    def value(field, i):
        made = now - step * (i + 1)
        verified = i % 5 != 0
        email = f"s{i}@bench.example.org"
        name = field.name
        if name == "petition":
            return str(petition_id)
        if name in ("email", "email_normalized"):
            return email
        if name == "first_name":
            return "Sam"
        if name == "country":
            return COUNTRIES[i % len(COUNTRIES)]
        if name == "source":
            return SOURCES[(i // 7) % len(SOURCES)]
        if name == "status":
            return "verified" if verified else "pending"
        if name in ("created_at", "email_requested_at"):
            return made.isoformat()
        if name == "verified_at":
            return (made + timedelta(minutes=4)).isoformat() if verified else r"\N"
        if name == "email_status":
            return "bounced" if i % 997 == 0 else "complained" if i % 4999 == 0 else "sent"
        if name == "show_in_feed":
            return "t"
        default = field.get_db_prep_save(field.get_default(), connection)
        if default is None:
            return r"\N"
        if isinstance(default, bool):
            return "t" if default else "f"
        return str(default)

    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {Signature._meta.db_table} ({columns}) FROM STDIN") as copy,
    ):
        for start in range(0, ROWS, 20_000):
            copy.write(
                "".join("\t".join(value(f, i) for f in fields) + "\n" for i in range(start, min(start + 20_000, ROWS)))
            )
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {Signature._meta.db_table}")


def timed(function, *args):
    started = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - started


def request_times(client, url):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from cms.models import Signature

    warm = client.get(url, secure=True)  # warm-up (templates, content types); secure: DEBUG off redirects to https
    assert warm.status_code == 200, (url, warm.status_code, warm.get("Location"))
    times = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        response = client.get(url, secure=True)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    with CaptureQueriesContext(connection) as queries:
        client.get(url, secure=True)
    table = connection.ops.quote_name(Signature._meta.db_table)
    on_signatures = [q["sql"] for q in queries.captured_queries if table in q["sql"]]
    p95 = sorted(times)[max(0, round(0.95 * len(times)) - 1)]
    return statistics.median(times), p95, len(queries.captured_queries), on_signatures


def exact(petition_id):
    """The aggregates against a COUNT over the signatures: (hours equal, sources equal)."""
    from django.db.models import Count
    from django.db.models.functions import TruncHour

    from cms.models import PetitionHourlyStats, PetitionSourceStats, Signature

    rows = Signature.objects.filter(petition_id=petition_id)
    verified = rows.filter(status=Signature.Status.VERIFIED)
    made_hours = dict(
        rows.annotate(h=TruncHour("created_at", tzinfo=UTC)).values_list("h").annotate(n=Count("pk")).order_by()
    )
    verified_hours = dict(
        verified.annotate(h=TruncHour("verified_at", tzinfo=UTC)).values_list("h").annotate(n=Count("pk")).order_by()
    )
    made_sources = dict(rows.values_list("source").annotate(n=Count("pk")).order_by())
    verified_sources = dict(verified.values_list("source").annotate(n=Count("pk")).order_by())
    hours = {h: (made_hours.get(h, 0), verified_hours.get(h, 0)) for h in set(made_hours) | set(verified_hours)}
    sources = {s: (made_sources.get(s, 0), verified_sources.get(s, 0)) for s in made_sources}
    stored_hours = {
        h: (s, v)
        for h, s, v in PetitionHourlyStats.objects.filter(petition_id=petition_id).values_list(
            "hour", "signed", "verified"
        )
    }
    stored_sources = {
        src: (s, v)
        for src, s, v in PetitionSourceStats.objects.filter(petition_id=petition_id).values_list(
            "source", "signed", "verified"
        )
    }
    return stored_hours == hours, stored_sources == sources


def main():
    with admin_connection() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    try:
        run()
    finally:
        if os.environ.get("BENCH_KEEP_DB") != "1":
            from django.db import connections

            connections.close_all()
            with admin_connection() as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


def run():
    import django
    from django.conf import settings
    from django.test.utils import override_settings

    django.setup()
    # The site's manifest storage needs collectstatic; the pages' asset URLs are not what is timed.
    override_settings(
        STORAGES={
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
    ).enable()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    sys.path.insert(0, str(ROOT / "bench"))
    from cms import reconcile
    from cms.models import CampaignGrant, PetitionStats, Signature

    say(f"# bench/insights.py, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, database {DB_NAME}")
    _, seconds = timed(call_command, "migrate", "--noinput", "-v0")
    say(f"migrate: {seconds:.1f} s")
    from djside import create_petition

    page = create_petition(8000, slug="insights-bench")
    now = datetime.now(UTC) - timedelta(minutes=10)  # every seeded time older than any RECONCILE_LAG
    _, seconds = timed(seed, page.pk, now)
    say(f"seed: {ROWS:,} signatures over {DAYS} days by COPY (+ VACUUM ANALYZE): {seconds:.1f} s")

    totals, seconds = timed(reconcile.reconcile_counts)
    say(f"first reconcile (totals + insights from the first row): {seconds * 1000:.0f} ms, total {totals[page.pk]:,}")
    _, seconds = timed(reconcile.full_recount, [page.pk])
    say(f"full recount (totals, countries, hourly and source rows rebuilt, bounces): {seconds * 1000:.0f} ms")

    # 10,000 more, signed now (after the watermarks), half verified: what a busy reconcile interval adds.
    extra = [
        Signature(
            petition_id=page.pk, email=f"new{i}@bench.example.org", email_normalized=f"new{i}@bench.example.org",
            first_name="New", show_in_feed=True, source=SOURCES[i % len(SOURCES)], country="GB",
            created_at=datetime.now(UTC), status="verified" if i % 2 else "pending",
            verified_at=datetime.now(UTC) if i % 2 else None,
        )
        for i in range(10_000)
    ]  # fmt: skip
    Signature.objects.bulk_create(extra, batch_size=5000)
    _, seconds = timed(reconcile.reconcile_counts, None, datetime.now(UTC) + timedelta(seconds=3))
    say(f"incremental reconcile after 10,000 new signatures (5,000 verified): {seconds * 1000:.0f} ms")
    _, seconds = timed(reconcile.reconcile_counts)
    say(f"incremental reconcile with nothing new: {seconds * 1000:.0f} ms")
    hours_exact, sources_exact = exact(page.pk)
    say(f"aggregates = COUNT over signatures: per hour {hours_exact}, per source {sources_exact}")
    stats = PetitionStats.objects.get(petition_id=page.pk)
    say(
        f"stored: {stats.signature_count:,} verified, "
        f"{stats.bounced_count} bounced, {stats.complained_count} complaints"
    )

    lead = get_user_model().objects.create_user("bench-lead", password=secrets.token_urlsafe(12))
    lead.groups.add(Group.objects.get(name="Campaign leads"))
    CampaignGrant.objects.create(user=lead, campaign=page.get_parent())
    client = Client()
    client.force_login(lead)
    report = reverse("petitions_insights:petition", args=[page.pk])
    for name, url in (
        ("insights report", report),
        ("insights CSV (series)", reverse("petitions_insights:csv", args=[page.pk])),
        ("insights CSV (sources)", reverse("petitions_insights:csv", args=[page.pk]) + "?kind=sources"),
        ("dashboard (with the insights panel)", reverse("wagtailadmin_home")),
    ):
        median, p95, queries, on_signatures = request_times(client, url)
        say(
            f"{name}: median {median:.0f} ms, p95 {p95:.0f} ms over {REQUESTS} requests; "
            f"{queries} queries, {len(on_signatures)} on the signatures table"
        )
    html = client.get(report, secure=True).content.decode()
    say(f"report points: {len(re.findall(r'<tr><td>', html))} table rows, chart {'<polyline' in html}")
    RESULTS.write_text("\n".join(lines) + "\n")
    say(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
