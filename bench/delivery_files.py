#!/usr/bin/env python3
"""Time and peak memory to build a delivery's CSV and PDF for 10,000 and 100,000 signatures.

    .venv/bin/python bench/delivery_files.py [--sizes 10000 100000]

Uses its own PostgreSQL database (petitions_files_bench, dropped at the end)
and the same code the worker runs (cms.exports). Peak memory is measured
with tracemalloc (Python allocations) around each file build; the ratio of
the two peaks shows whether memory grows with the row count.
"""

import argparse
import json
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB = "petitions_files_bench"
os.environ.setdefault("DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{DB}")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "petitions_site.settings")
os.environ.setdefault("DEBUG", "1")  # the demo's settings on this machine, as `make demo` runs them
os.environ.setdefault("PETITIONS_VAR_DIR", tempfile.mkdtemp(prefix="petitions-files-bench-"))


def create_database():
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB}")
        conn.execute(f"CREATE DATABASE {DB}")


def drop_database():
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB}")


def seed(petition_id, count, start):
    """COPY ``count`` verified signatures, two in three consenting to be named."""
    from django.db import connection

    from cms.models import Signature

    columns = [
        "petition_id", "first_name", "last_name", "email", "email_normalized", "country", "postcode",
        "show_in_feed", "feed_name", "share_with_officials", "opt_in_updates", "hidden_from_feed", "source",
        "status", "created_at", "verified_at", "email_status", "email_message_id",
    ]  # fmt: skip
    with (
        connection.cursor() as cursor,
        cursor.connection.cursor().copy(f"COPY {Signature._meta.db_table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for i in range(start, start + count):
            email = f"bench{i}@example.org"
            copy.write_row(
                [petition_id, f"Firstname{i}", f"Lastname{i}", email, email, ["GB", "US", "FR", "DE"][i % 4], "",
                 True, "first", i % 3 != 0, False, False, "", "verified",
                 "2026-01-01 00:00+00", "2026-01-01 00:01+00", "sent", ""]
            )  # fmt: skip


def measure(build):
    """(rows, seconds, peak bytes, bytes written): timed on its own, then again under tracemalloc."""
    with open(os.devnull, "wb") as sink:
        started = time.perf_counter()
        counting = CountingFile(sink)
        rows = build(counting)
        seconds = time.perf_counter() - started
        tracemalloc.start()
        build(CountingFile(sink))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return rows, seconds, peak, counting.written


class CountingFile:
    def __init__(self, file):
        self.file, self.written = file, 0

    def write(self, data):
        self.written += len(data)
        return self.file.write(data)

    def tell(self):
        return self.written

    def writable(self):
        return True

    def readable(self):
        return False

    def seekable(self):
        return False

    def flush(self):
        pass

    @property
    def closed(self):
        return False


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()

    create_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from cms import exports
    from cms.models import Delivery, Signature
    from tests.factories import CampaignIndexPageFactory, PetitionPageFactory

    call_command("migrate", verbosity=0)
    from wagtail.models import Page

    index = CampaignIndexPageFactory(parent=Page.get_first_root_node(), slug="bench")
    results = []
    try:
        seeded = 0
        for size in sorted(args.sizes):
            petition = PetitionPageFactory(parent=index)
            seed(petition.pk, size, seeded)
            seeded += size
            consenting = Signature.objects.filter(petition_id=petition.pk, share_with_officials=True).count()
            delivery = Delivery(
                petition_id=petition.pk, counted_until=timezone.now(), total=size, breakdown={"GB": size},
                subject="bench", letter_html="", letter_text="",
            )  # fmt: skip
            for kind, build in (
                ("csv", lambda f, d=delivery: exports.write_csv(f, d)),
                ("pdf", lambda f, d=delivery, p=petition: exports.write_pdf(f, d, p.title)),
            ):
                rows, seconds, peak, written = measure(build)
                assert rows == consenting, (rows, consenting)
                line = {
                    "signatures": size,
                    "rows": rows,
                    "file": kind,
                    "seconds": round(seconds, 3),
                    "rows_per_second": round(rows / seconds),
                    "peak_python_memory_mib": round(peak / 2**20, 2),
                    "file_mib": round(written / 2**20, 2),
                }
                results.append(line)
                print(
                    f"{kind.upper():4} {size:>7,} signatures ({rows:,} consenting rows): {seconds:6.2f} s, "
                    f"{rows / seconds:>9,.0f} rows/s, peak memory {peak / 2**20:6.2f} MiB, "
                    f"file {written / 2**20:6.2f} MiB"
                )
        for kind in ("csv", "pdf"):
            peaks = [r["peak_python_memory_mib"] for r in results if r["file"] == kind]
            if len(peaks) > 1:
                print(f"{kind.upper()} peak memory, largest vs smallest list: {peaks[-1] / peaks[0]:.2f}x")
    finally:
        drop_database()
    out = ROOT / "bench" / "results" / "delivery_files.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"Wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
