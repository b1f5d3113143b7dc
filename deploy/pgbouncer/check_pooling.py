"""Check that the site's database settings hold behind a transaction-mode pooler.

Run it against pgbouncer (``pool_mode = transaction``, ``default_pool_size`` of 2 or more)::

    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:6432/postgres DATABASE_POOL_MODE=transaction \\
        .venv/bin/python deploy/pgbouncer/check_pooling.py

It needs no tables and writes nothing. Each check forces what a busy site does by chance: between
two transactions of one Django connection, another client takes the server connection the first
one used, so pgbouncer hands the first a different one. One PASS/FAIL line per check; the exit
status is 1 if any failed. (Straight to PostgreSQL the time-zone check fails by design: there is
no other server connection to be handed.)

- ``iterator``: ``QuerySet.iterator()`` outside a transaction, as the CSV export of the API, the
  delivery files and retention read. Without ``DATABASE_POOL_MODE=transaction`` Django declares a
  ``WITH HOLD`` cursor on one server connection and fetches its next chunk from another.
- ``prepared statements``: the connection never prepares a statement (pgbouncer 1.18, Debian 12's,
  cannot route them; Django's psycopg backend defaults to ``prepare_threshold=None``).
- ``time zone``: every transaction sees the connection's ``TimeZone`` (Django sets it per session;
  pgbouncer replays it on each server connection it hands out).
- ``advisory lock``: the reconcile's ``pg_try_advisory_xact_lock`` excludes a second run while held
  and is free again at commit, whichever server connection the next run gets.
"""

import os
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "petitions_site.settings")

import django  # noqa: E402

django.setup()

from django.db import connection, models, transaction  # noqa: E402

from cms import reconcile  # noqa: E402

TIMEOUT = 10  # seconds any step may wait for the other thread


class PgType(models.Model):
    """Rows every PostgreSQL database has (pg_catalog.pg_type), read through the ORM."""

    oid = models.BigIntegerField(primary_key=True)
    typname = models.CharField(max_length=64)

    class Meta:
        app_label = "petitions_site"
        db_table = "pg_type"
        managed = False


def backend_pid():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


class Holder(threading.Thread):
    """Another client: opens a transaction (taking the idle server connection) and holds it."""

    def __init__(self, work=None):
        super().__init__(daemon=True)
        self.work = work or backend_pid
        self.holding = threading.Event()
        self.release = threading.Event()
        self.result = self.error = None

    def run(self):
        try:
            with transaction.atomic():
                self.result = self.work()
                self.holding.set()
                self.release.wait(TIMEOUT)
        except Exception as error:  # reported by the check that started it
            self.error = error
            self.holding.set()
        finally:
            connection.close()

    def __enter__(self):
        self.start()
        if not self.holding.wait(TIMEOUT):
            raise RuntimeError("the other client never got a server connection")
        if self.error:
            raise self.error
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.join(TIMEOUT)


def check_iterator():
    rows = PgType.objects.order_by("pk").values_list("typname", flat=True).iterator(chunk_size=1)
    first = next(rows)
    with Holder():
        rest = list(rows)  # the next chunk, on whichever server connection pgbouncer has free
    return f"read {1 + len(rest)} rows in chunks of 1 ({first!r} first) while another client held a transaction"


def check_prepared_statements():
    for _ in range(10):
        backend_pid()
    threshold = connection.connection.prepare_threshold
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        prepared = cursor.fetchone()[0]
    assert threshold is None, f"prepare_threshold is {threshold!r}: statements get prepared"
    assert prepared == 0, f"{prepared} prepared statements on the server connection"
    return "prepare_threshold=None, 0 prepared statements after 10 runs of one query"


def check_time_zone():
    def zone():
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('TimeZone'), pg_backend_pid()")
            return cursor.fetchone()

    first_zone, first_pid = zone()
    with Holder():
        second_zone, second_pid = zone()
    assert first_pid != second_pid, "pgbouncer gave the same server connection: is pool_mode transaction?"
    assert first_zone == second_zone == connection.timezone_name, (first_zone, second_zone)
    return f"TimeZone {first_zone} on server connections {first_pid} and {second_pid}"


def check_advisory_lock():
    def take():
        return reconcile._try_lock()

    with Holder(take) as holder:
        assert holder.result is True, "the first run did not get the lock"
        with transaction.atomic():
            assert reconcile._try_lock() is False, "a second run got the lock while the first held it"
    with transaction.atomic():
        assert reconcile._try_lock() is True, "the lock was not free after the first run committed"
    return "a second run is refused while the first holds it, and gets it after the commit"


CHECKS = {
    "iterator": check_iterator,
    "prepared statements": check_prepared_statements,
    "time zone": check_time_zone,
    "advisory lock": check_advisory_lock,
}


def main():
    settings = connection.settings_dict
    print(
        f"database {settings['HOST']}:{settings['PORT']}/{settings['NAME']}, "
        f"DISABLE_SERVER_SIDE_CURSORS={settings.get('DISABLE_SERVER_SIDE_CURSORS', False)}"
    )
    failed = 0
    for name, check in CHECKS.items():
        try:
            print(f"PASS {name}: {check()}")
        except Exception as error:
            failed += 1
            print(f"FAIL {name}: {type(error).__name__}: {str(error).strip().splitlines()[0]}")
        finally:
            connection.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
