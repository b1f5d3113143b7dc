#!/usr/bin/env python3
"""Does a sign request's time tell whether its address had signed? (Issue 9, item 5.)

    .venv/bin/python bench/uniform_timing.py [--requests 2000] [--warmup 200] [--background 100000]

In one process, against PostgreSQL and Redis on 127.0.0.1 (``BENCH_DATABASE_HOST_URL``,
``BENCH_REDIS_URL`` override them): a database of its own (``petitions_uniform_bench_<pid>``,
dropped at the end) and a cache key prefix of its own (its keys deleted at the end), so tests, the
demo and ``make bench`` running meanwhile are neither disturbed nor measured. The demo site runs
with its production settings (DEBUG off) through Django's test client, the whole middleware stack
included; ``bench/uniform_settings.py`` says what differs.

A petition holds ``--background`` verified signatures (COPY), plus one seeded row for each
request that signs with a known address. Then, after a warm-up, the sign requests of every case
on both paths run interleaved in a shuffled order, so a slow moment of the machine lands on every
case alike:

- ``new``: an address that never signed;
- ``pending``: a pending signature emailed a moment ago (within ``RESEND_MIN_INTERVAL``);
- ``owed``: a pending signature past ``RESEND_MIN_INTERVAL``, so the sign makes an email owed;
- ``verified``: a verified signature.

Each known address signs once (an attacker probing addresses tries each once). It prints the
median and p90 of each case per path, and the difference of each median from the new address's,
with a bootstrap 95% interval; ``bench/results/uniform_timing.json`` keeps the figures.
"""

import argparse
import gc
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RUN = f"{os.getpid()}"
DB = f"petitions_uniform_bench_{RUN}"
SERVER = os.environ.get("BENCH_DATABASE_HOST_URL", "postgres://postgres@127.0.0.1:5432")
os.environ["DATABASE_URL"] = f"{SERVER}/{DB}"
os.environ["DB_CONN_MAX_AGE"] = "3600"  # one connection for the whole run, as a busy web process keeps
os.environ["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
os.environ["BENCH_KEY_PREFIX"] = f"petitions-uniform-bench-{RUN}-{uuid.uuid4().hex[:8]}"
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.uniform_settings"
# Production settings (no query log, no debug pages), on plain HTTP to the test client's host.
os.environ["DEBUG"] = "0"
os.environ["SECRET_KEY"] = f"uniform-bench-{uuid.uuid4().hex}"
os.environ["ALLOWED_HOSTS"] = "testserver"
os.environ["PETITIONS_SITE_URL"] = "http://testserver"
os.environ["SECURE_SSL_REDIRECT"] = "0"
VAR_DIR = Path(tempfile.mkdtemp(prefix=f"petitions-uniform-bench-{RUN}-"))
os.environ["PETITIONS_VAR_DIR"] = str(VAR_DIR)
os.environ["STATIC_ROOT"] = str(VAR_DIR / "static")
(VAR_DIR / "static").mkdir()

CASES = ("new", "pending", "owed", "verified")
#: The page's form POST, the JSON API, and ``signing.sign_petition`` alone (what differs, without the HTTP).
PATHS = ("html", "api", "service")


def admin_connection():
    import psycopg

    return psycopg.connect(f"{SERVER.replace('postgres://', 'postgresql://', 1)}/postgres", autocommit=True)


def create_database():
    with admin_connection() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB}")
        conn.execute(f"CREATE DATABASE {DB}")


def drop_database():
    from django.db import connections

    connections.close_all()
    with admin_connection() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB}")


def delete_cache_keys():
    from cms import store

    client = store.redis_client_for(store.get_cache())
    prefix = os.environ["BENCH_KEY_PREFIX"] + ":"
    keys = list(client.scan_iter(prefix + "*", count=1000))
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start : start + 1000])


def address(path, case, i):
    return f"{case}-{path}-{i}@example.org"


def seed(petition_id, background, known):
    """COPY the background (verified) and one row per known address, in the state its case names."""
    from django.db import connection
    from django.utils import timezone

    from cms.models import Signature

    now = timezone.now()
    long_ago = now - timezone.timedelta(days=1)
    columns = [
        "petition_id", "first_name", "last_name", "email", "email_normalized", "country", "postcode",
        "show_in_feed", "feed_name", "share_with_officials", "opt_in_updates", "hidden_from_feed", "source",
        "status", "created_at", "verified_at", "email_requested_at", "email_sent_at", "email_status",
        "email_message_id",
    ]  # fmt: skip

    def row(email, status, verified_at, requested, sent):
        return [petition_id, "Earlier", "Signer", email, email, "GB", "", True, "first", False, False, False, "",
                status, long_ago, verified_at, requested, sent, "sent", ""]  # fmt: skip

    with (
        connection.cursor() as cursor,
        cursor.connection.cursor().copy(f"COPY {Signature._meta.db_table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for i in range(background):
            copy.write_row(row(f"background{i}@example.org", "verified", long_ago, long_ago, long_ago))
        for path in PATHS:
            for i in range(known):
                copy.write_row(row(address(path, "pending", i), "pending", None, now, now))
                copy.write_row(row(address(path, "owed", i), "pending", None, long_ago, long_ago))
                copy.write_row(row(address(path, "verified", i), "verified", long_ago, long_ago, long_ago))
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {Signature._meta.db_table}")


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def median_difference_interval(sample, baseline, rounds=400, seed=1):
    """A bootstrap 95% interval of median(sample) - median(baseline)."""
    rng = random.Random(seed)

    def resampled_median(values):
        return statistics.median(rng.choices(values, k=len(values)))

    differences = sorted(resampled_median(sample) - resampled_median(baseline) for _ in range(rounds))
    return differences[int(0.025 * rounds)], differences[int(0.975 * rounds) - 1]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000, help="timed sign requests per case and path")
    parser.add_argument("--warmup", type=int, default=200, help="untimed sign requests per case and path first")
    parser.add_argument("--background", type=int, default=100_000, help="verified signatures already on the petition")
    parser.add_argument("--seed", type=int, default=20261201, help="of the shuffled order")
    args = parser.parse_args()

    create_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse
    from wagtail.models import Page, Site

    from cms import signing
    from cms.models import Signature
    from tests.factories import CampaignIndexPageFactory, PetitionPageFactory

    results = {}
    try:
        call_command("migrate", verbosity=0)
        index = CampaignIndexPageFactory(parent=Page.get_first_root_node(), slug="campaigns")
        Site.objects.update_or_create(
            is_default_site=True, defaults={"hostname": "testserver", "port": 80, "root_page": index}
        )
        petition = PetitionPageFactory(parent=index)
        per_kind = args.warmup + args.requests
        known = per_kind * 3 * len(PATHS)
        print(f"Seeding {args.background:,} verified signatures and {known:,} known addresses…", file=sys.stderr)
        seed(petition.pk, args.background, per_kind)
        urls = {
            "html": reverse("petitions:sign", args=[petition.pk]),
            "api": f"/api/petitions/{petition.pk}/signatures/",
        }
        clients = {path: Client() for path in PATHS}

        def sign(path, email):
            """The answer as (status, body, Location)."""
            fields = {"first_name": "Ada", "last_name": "Lovelace", "email": email, "feed_display": "first"}
            if path == "service":  # autocommit: the after-commit push runs at once, inside the timing
                cleaned = {"first_name": "Ada", "last_name": "Lovelace", "email": email, "show_in_feed": True}
                signing.sign_petition(petition, cleaned)
                return "stored", b"", None
            if path == "html":
                response = clients[path].post(urls[path], fields)
            else:
                response = clients[path].post(urls[path], json.dumps(fields), content_type="application/json")
            return response.status_code, response.content, response.get("Location")

        expected_status = {"html": 302, "api": 202, "service": "stored"}
        order = [(path, case) for path in PATHS for case in CASES]
        warmup = [kind for kind in order for _ in range(args.warmup)]
        timed = [kind for kind in order for _ in range(args.requests)]
        random.Random(args.seed).shuffle(warmup)
        random.Random(args.seed + 1).shuffle(timed)
        used = dict.fromkeys(order, 0)
        samples = {kind: [] for kind in order}
        answers = {kind: set() for kind in order}

        gc.collect()
        gc.freeze()  # what setup allocated is never scanned again: collections cost every case alike
        started = time.monotonic()
        for phase, kinds in (("warm-up", warmup), ("timed", timed)):
            print(f"{phase}: {len(kinds):,} sign requests…", file=sys.stderr)
            for path, case in kinds:
                email = address(path, case, used[path, case])
                used[path, case] += 1
                begin = time.perf_counter_ns()
                response = sign(path, email)
                elapsed = time.perf_counter_ns() - begin
                if response[0] != expected_status[path]:
                    raise SystemExit(f"{path} {case}: {response[0]} {response[1][:200]!r}")
                if phase == "timed":
                    samples[path, case].append(elapsed / 1e6)
                    answers[path, case].add(response)
        wall = time.monotonic() - started

        # The run changed what it should have: one new row per new address, nothing verified twice.
        new_rows = Signature.objects.filter(email__startswith="new-").count()
        assert new_rows == len(PATHS) * per_kind, new_rows
        assert Signature.objects.filter(status="verified").count() == args.background + len(PATHS) * per_kind
        for path in PATHS:
            assert len({answer for case in CASES for answer in answers[path, case]}) == 1, f"{path}: answers differ"

        print(
            f"\n{len(timed):,} timed sign requests in {wall:.0f} s (with the warm-up), interleaved; "
            f"{args.background:,} signatures in the table. Milliseconds per request:\n"
        )
        print(f"{'path':7} {'case':9} {'median':>7} {'p90':>7}  median vs new (95% interval)")
        for path in PATHS:
            baseline = samples[path, "new"]
            new_median = statistics.median(baseline)
            for case in CASES:
                values = samples[path, case]
                median, p90 = statistics.median(values), percentile(values, 0.9)
                line = {"median_ms": round(median, 4), "p90_ms": round(p90, 4), "n": len(values)}
                comparison = ""
                if case != "new":
                    low, high = median_difference_interval(values, baseline)
                    line.update(
                        median_minus_new_ms=round(median - new_median, 4),
                        median_ratio_to_new=round(median / new_median, 4),
                        difference_interval_ms=[round(low, 4), round(high, 4)],
                    )
                    comparison = (
                        f"  {median - new_median:+.3f} ms ({median / new_median - 1:+.1%}), [{low:+.3f}, {high:+.3f}]"
                    )
                results[f"{path}:{case}"] = line
                print(f"{path:7} {case:9} {median:7.3f} {p90:7.3f}{comparison}")
        results["settings"] = {
            "requests_per_case_and_path": args.requests,
            "warmup_per_case_and_path": args.warmup,
            "background_signatures": args.background,
            "wall_seconds": round(wall, 1),
        }
    finally:
        try:
            delete_cache_keys()
        finally:
            drop_database()
            shutil.rmtree(VAR_DIR, ignore_errors=True)
    out = ROOT / "bench" / "results" / "uniform_timing.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nWrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
