"""Time the admin's signatures listing at a million signatures (issue 14): `make bench-listing`.

    python bench/listing.py [ROWS]        (default 1,000,000)

Creates a PostgreSQL database of its own (dropped at the end), migrates it, seeds ROWS signatures
with one INSERT … SELECT over generate_series (no Python per row), over four petitions in two
campaigns, then asks for the listing's first page through the Django test client as a lead of
one campaign: unfiltered, filtered by petition, by status, by a name search and by an address
search, and the CSV export's first rows. Each case is asked once to warm up, then REPEAT times;
the median and the slowest are printed and written to bench/results/listing.txt, with the plan
PostgreSQL chose for the unfiltered page. The target: the first page in under 300 ms.
"""

import os
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB_NAME = f"petitions_listing_bench_{os.getpid()}_{secrets.token_hex(3)}"
RESULTS = ROOT / "bench" / "results" / "listing.txt"
REPEAT = int(os.environ.get("BENCH_REPEAT", "9"))
TARGET_MS = 300

FIRST_NAMES = ["Sam", "Maria", "Omar", "Lena", "Tom", "Priya", "Jon", "Aisha", "Luca", "Noor", "Ruth", "Karim", "Ada"]
LAST_NAMES = ["Khan", "Smith", "Garcia", "Okafor", "Nguyen", "Müller", "Rossi", "Haddad", "Lovelace"]
COUNTRIES = ["US", "US", "US", "GB", "CA", "IE", "DE", "FR", "AU", "MA"]
SOURCES = ["", "newsletter", "twitter", "partner-x", "widget"]


def log(message):
    print(f"[bench-listing] {message}", flush=True)


def create_database():
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {DB_NAME}")


def drop_database():
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


def setup_django():
    os.environ["DATABASE_URL"] = f"{SERVER}/{DB_NAME}"
    # Production settings (DEBUG off), over plain HTTP from the test client.
    os.environ.update(
        SECRET_KEY="bench-" + secrets.token_urlsafe(32),
        DEBUG="0",
        ALLOWED_HOSTS="testserver",
        SECURE_SSL_REDIRECT="0",
        PETITIONS_SITE_URL="http://testserver",
        WAGTAILADMIN_BASE_URL="http://testserver",
        PETITIONS_VAR_DIR=tempfile.mkdtemp(prefix="bench-listing-"),
        PETITIONS_LOG_LEVEL="WARNING",
    )
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.listing_settings"  # production settings, no collectstatic
    import django

    django.setup()


def make_pages():
    """Two campaigns; three petitions under the lead's, one under the other."""
    from wagtail.models import Page

    from cms.models import CampaignIndexPage, PetitionPage

    root = Page.get_first_root_node()
    campaigns, petitions = [], []
    for name, count in (("Ours", 3), ("Theirs", 1)):
        campaign = CampaignIndexPage(title=f"{name} campaign", slug=name.lower(), intro="<p>Bench.</p>")
        root.add_child(instance=campaign)
        campaigns.append(campaign)
        for n in range(count):
            petition = PetitionPage(title=f"{name} petition {n + 1}", slug=f"{name.lower()}-{n + 1}", goal=10**6)
            campaign.add_child(instance=petition)
            petitions.append(petition)
    return campaigns, petitions


def seed(petitions, rows):
    """ROWS signatures in one statement: 60 % on the first petition, 20 %, 10 %, and 10 % on the other campaign's."""
    from django.db import connection

    from cms.models import Signature

    p1, p2, p3, theirs = (p.pk for p in petitions)
    expressions = {
        "petition": f"CASE WHEN i % 10 < 6 THEN {p1} WHEN i % 10 < 8 THEN {p2} "
        f"WHEN i % 10 = 8 THEN {p3} ELSE {theirs} END",
        "first_name": f"(%(first)s::text[])[1 + i % {len(FIRST_NAMES)}]",
        "last_name": f"(%(last)s::text[])[1 + (i / {len(FIRST_NAMES)}) % {len(LAST_NAMES)}]",
        "email": "'signer' || i || '@bench.example.org'",
        "email_normalized": "'signer' || i || '@bench.example.org'",
        "country": f"(%(countries)s::text[])[1 + (i / 11) % {len(COUNTRIES)}]",
        "show_in_feed": "i % 10 < 7",
        "share_with_officials": "i % 3 <> 0",
        "hidden_from_feed": "i % 97 = 0",
        "source": f"(%(sources)s::text[])[1 + (i / 3) % {len(SOURCES)}]",
        # Status cycles apart from the petition's (i % 10), so every petition has every status.
        "status": "CASE WHEN (i / 7) % 20 < 17 THEN 'verified' WHEN (i / 7) % 20 < 19 THEN 'pending' "
        "WHEN (i / 7) % 40 = 19 THEN 'invalidated' ELSE 'quarantined' END",
        # One signature every 3 seconds back from now: a million span about five weeks.
        "created_at": "now() - i * interval '3 seconds'",
        "verified_at": "CASE WHEN (i / 7) % 20 < 17 THEN now() - i * interval '3 seconds' + interval '2 minutes' END",
        "email_requested_at": "now() - i * interval '3 seconds'",
        "email_sent_at": "now() - i * interval '3 seconds' + interval '20 seconds'",
        "email_status": "'sent'",
    }
    params = {"first": FIRST_NAMES, "last": LAST_NAMES, "countries": COUNTRIES, "sources": SOURCES}
    columns, values = [], []
    for field in Signature._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(connection.ops.quote_name(field.column))
        if field.name in expressions:
            values.append(expressions[field.name])
        else:  # every other column takes the model's default, so a new field needs no change here
            key = f"default_{field.name}"
            params[key] = field.get_db_prep_save(field.get_default(), connection)
            values.append(f"%({key})s")
    table = connection.ops.quote_name(Signature._meta.db_table)
    # Our own column expressions; every value is a parameter.
    select = f"SELECT {', '.join(values)} FROM generate_series(1, %(rows)s) AS i"  # noqa: S608
    sql = f"INSERT INTO {table} ({', '.join(columns)}) " + select
    params["rows"] = rows
    sql = sql.replace(" % ", " %% ")  # a modulo, not a placeholder
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO off")
        cursor.execute(sql, params)
    with connection.cursor() as cursor:  # autocommit: VACUUM cannot run in a transaction
        cursor.execute(f"VACUUM (ANALYZE) {table}")


def make_lead(campaign):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from cms.models import CampaignGrant

    user = get_user_model().objects.create_user("bench-lead", password=None)
    user.groups.add(Group.objects.get(name="Campaign leads"))
    CampaignGrant.objects.create(user=user, campaign=campaign)
    return user


def time_case(client, url, params, repeat=REPEAT):
    def once():
        started = time.perf_counter()
        response = client.get(url, params)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, (response.status_code, body[:300])
        return elapsed, body

    _warm, body = once()
    times = [once()[0] for _ in range(repeat)]
    return statistics.median(times), max(times), body


def explain_first_page(user):
    """PostgreSQL's plan for the unfiltered first page, as the listing asks for it."""
    from django.db import connection

    from cms.signature_listing import granted_signatures

    queryset = granted_signatures(user).select_related("petition").order_by("-created_at", "-pk")[:25]
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def main(rows):
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    t = time.monotonic()
    call_command("migrate", verbosity=0)
    log(f"migrated in {time.monotonic() - t:.1f} s")
    campaigns, petitions = make_pages()
    t = time.monotonic()
    seed(petitions, rows)
    seed_s = time.monotonic() - t
    log(f"seeded {rows:,} signatures (INSERT … SELECT generate_series, then VACUUM ANALYZE) in {seed_s:.1f} s")

    lead = make_lead(campaigns[0])
    client = Client()
    client.force_login(lead)
    url = reverse("petitions_signatures:index")
    cases = [
        ("first page, unfiltered", {}),
        ("filtered by petition (60 % of rows)", {"petition": petitions[0].pk}),
        ("filtered by petition (10 % of rows)", {"petition": petitions[2].pk}),
        ("filtered by status: pending (10 %)", {"status": "pending"}),
        ("filtered by status: invalidated (2.5 %)", {"status": "invalidated"}),
        ("filtered by country and source", {"country": "FR", "source": "widget"}),
        ("search: name prefix 'Lovel'", {"q": "Lovel"}),
        ("search: 'Ada Lov' (first and last name)", {"q": "Ada Lov"}),
        ("search: an address", {"q": "signer123456@bench.example.org"}),
        ("page 40 (the last counted), unfiltered", {"p": 40}),
    ]
    lines = []
    worst = 0.0
    for name, params in cases:
        median, slowest, body = time_case(client, url, params)
        worst = max(worst, median)
        rows_shown = body.count(b'data-bulk-action-checkbox class="bulk-action-checkbox"')
        line = f"{name:<44} median {median:7.1f} ms   slowest {slowest:7.1f} ms   rows on page {rows_shown}"
        log(line)
        lines.append(line)

    plan = explain_first_page(lead)
    verdict = "PASS" if worst < TARGET_MS else "FAIL"
    header = [
        f"Signatures listing, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {rows:,} signatures "
        f"(3 petitions in the lead's campaign, 1 in another), {os.cpu_count()} cores, PostgreSQL on the same machine.",
        "Through the Django test client as a logged-in campaign lead (Campaign leads group, one campaign granted):",
        f"first page (25 rows, the listing's page size), warm, median and slowest of {REPEAT} "
        "(after one warm-up request).",
        f"Seeding: {seed_s:.1f} s.",
        f"Target: every median under {TARGET_MS} ms: {verdict} (worst median {worst:.1f} ms).",
        "",
    ]
    text = "\n".join(header + lines + ["", "Plan of the unfiltered first page:", plan, ""])
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(text)
    log(f"written to {RESULTS.relative_to(ROOT)}")
    print(text)
    return verdict == "PASS"


def entry():
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    create_database()
    try:
        setup_django()
        ok = main(rows)
    finally:
        if "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()
        drop_database()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    entry()
