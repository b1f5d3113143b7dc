"""Where a sign, a confirm and a verification email spend their milliseconds: `make bench-profile`.

Runs the site in this one process, through Django's WSGI handler with the
production middleware (as gunicorn calls it), against a fresh PostgreSQL
database and a Redis server of its own (so it shares nothing with a demo,
a bench or a test run), with a published petition. For each request kind it
first times N requests without a profiler (wall and CPU ms per request),
then runs N more under cProfile and prints:

- the time per request of the stages that matter (middleware, form, rate
  limit, the database write, the outbox push, rendering), from cProfile's
  cumulative times;
- the top functions by their own time.

Kinds: ``bare`` (the baseline view), ``sign`` (POST /petitions/<id>/sign/,
a new address each), ``confirm`` (POST /petitions/<id>/confirm/ with a
token of a pending signature), ``send`` (the worker's
``send_verification_emails`` on batches of OUTBOX_BATCH owed emails, handed
to bench/fake_esp.py over HTTP as anymail's Postmark backend does; figures
per email), ``email`` (building one verification email without sending it). The summary goes to stdout and
bench/results/profile-<label>.txt (``--label``, default "now"); the raw
profiles to bench/var/profile-<kind>-{wall,cpu}.prof (snakeviz, pstats).

    python bench/profile_requests.py [--requests 2000] [--label before]
"""

# A harness that starts a local redis-server and talks to 127.0.0.1 only.
# ruff: noqa: S603, S607, T201

import argparse
import cProfile
import io
import os
import pstats
import secrets
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

import harness  # noqa: E402

DB_NAME = f"petitions_profile_{os.getpid()}"
HOST = harness.HOST

#: Stages reported per request: (label, function name as pstats shows it: "file:line(name)" suffix).
STAGES = {
    "bare": [
        ("whole request (WSGI handler)", "handlers/wsgi.py", "__call__"),
        ("the view", "petitions_site/bench.py", "bare"),
    ],
    "sign": [
        ("whole request (WSGI handler)", "handlers/wsgi.py", "__call__"),
        ("the view (cms.views.sign)", "cms/views.py", "sign"),
        ("origin check", "cms/origin.py", "origin_allowed"),
        ("page lookup (cached)", "cms/views.py", "get_petition"),
        ("signing status", "cms/models/pages.py", "signing_status"),
        ("rate limit (Redis)", "cms/ratelimit.py", "hit"),
        ("form: build", "cms/models/pages.py", "get_form"),
        ("form: validate", "django/forms/forms.py", "is_valid"),
        ("process_signature", "cms/models/pages.py", "process_signature"),
        ("  the upsert (PostgreSQL)", "cms/signing.py", "_upsert_signature"),
        ("  outbox push (Redis)", "cms/signing.py", "queue_verification_email"),
        ("redirect", "django/http/response.py", "__init__"),
    ],
    "confirm": [
        ("whole request (WSGI handler)", "handlers/wsgi.py", "__call__"),
        ("the view (cms.views.confirm)", "cms/views.py", "confirm"),
        ("token check", "cms/models/pages.py", "refuse_token"),
        ("verify_signature", "cms/signing.py", "verify"),
        ("  record in the live counter (Redis)", "cms/signing.py", "_verified"),
        ("manage link", "cms/manage_links.py", "path_for_verification"),
        ("thank-you page (this process's copy)", "cms/landing_copies.py", "render_confirmed"),
        ("render the thank-you page", "django/template/response.py", "render"),
    ],
    "send": [
        ("send_verification_emails (per email)", "cms/emails.py", "send_verification_emails"),
        ("  read the batch's rows", "cms/emails.py", "<listcomp>"),
        ("  one email: lock, build, send, record", "cms/emails.py", "_send_one"),
        ("    build the message", "cms/emails.py", "build_verification_message"),
        ("    HTTP to the ESP (anymail)", "anymail/backends/base.py", "send_messages"),
        ("    lock the row (PostgreSQL)", "cms/emails.py", "lock"),
        ("    daily cap: check (read once per batch)", "cms/emails.py", "reached"),
        ("    daily cap: count sent (Redis)", "cms/emails.py", "count"),
        ("    record the outcome (PostgreSQL)", "cms/emails.py", "record"),
    ],
    "email": [
        ("build one verification email", "cms/emails.py", "build_verification_message"),
        ("  confirm link (token)", "cms/emails.py", "confirm_url"),
        ("  manage link", "cms/manage_links.py", "manage_url"),
        ("  HTML body (template)", "django/template/loader.py", "render_to_string"),
        ("  privacy URL", "cms/models/pages.py", "get_privacy_url"),
    ],
}


def setup_environment(redis_url, esp_url):
    env = harness.site_env(
        base="http://127.0.0.1:8399",
        esp=esp_url,
        database_url=f"postgres://postgres@{HOST}:5432/{DB_NAME}",
        redis_url=redis_url,
        var=BENCH / "var" / "profile",
        extra={"PETITIONS_BENCH": "1", "PETITIONS_LOG_LEVEL": "ERROR"},
    )
    os.environ.clear()
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "petitions_site.settings"


def create_database():
    import psycopg

    with psycopg.connect(f"postgres://postgres@{HOST}:5432/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")


def drop_database():
    import psycopg

    with psycopg.connect(f"postgres://postgres@{HOST}:5432/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


class Site:
    """The WSGI application and the environ of each request kind."""

    def __init__(self):
        from django.core.handlers.wsgi import WSGIHandler

        self.app = WSGIHandler()
        self.client_numbers = iter(range(10**9))

    def environ(self, method, path, body=b"", query=""):
        number = next(self.client_numbers)
        return {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8399",
            "HTTP_HOST": "127.0.0.1:8399",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_X_FORWARDED_FOR": f"198.18.{number // 256 % 256}.{number % 256}",
            "CONTENT_TYPE": "application/x-www-form-urlencoded",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "SERVER_PROTOCOL": "HTTP/1.1",
        }

    def call(self, environ, expect):
        status = []
        response = self.app(environ, lambda s, h, exc_info=None: status.append(s))
        body = b"".join(response)
        response.close()
        code = int(status[0].split()[0])
        if code != expect:
            print(body.decode()[-2000:], file=sys.stderr)
            raise SystemExit(f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']} answered {code}, not {expect}")


def make_requests(kind, site, page, n, tag):
    """``n`` zero-argument callables, each one request (or one email) of ``kind``."""
    from cms.conf import get_signature_model
    from cms.emails import build_verification_message
    from cms.signing import sign_petition
    from cms.tokens import make_token

    if kind == "bare":
        return [lambda: site.call(site.environ("GET", "/bench/bare/"), 200) for _ in range(n)]
    if kind == "sign":

        def sign(i):
            body = urlencode({"first_name": "Bench", "email": f"{tag}-{i}@bench.example.org", "feed_display": "first"})
            return lambda: site.call(site.environ("POST", f"/petitions/{page.pk}/sign/", body.encode()), 302)

        return [sign(i) for i in range(n)]
    Signature = get_signature_model()
    ids = [
        sign_petition(page, {"first_name": "Bench", "email": f"{tag}-{i}@bench.example.org", "feed_display": "first"})
        for i in range(n)
    ]
    signatures = list(Signature.objects.filter(pk__in=ids).order_by("pk"))
    if kind == "confirm":

        def confirm(signature):
            body = urlencode({"token": make_token(signature)}).encode()
            return lambda: site.call(site.environ("POST", f"/petitions/{page.pk}/confirm/", body), 200)

        return [confirm(signature) for signature in signatures]
    if kind == "send":
        from cms.conf import get_setting
        from cms.emails import send_verification_emails

        batch = get_setting("OUTBOX_BATCH")
        chunks = [ids[start : start + batch] for start in range(0, len(ids), batch)]

        def send(chunk):
            def run():
                sent, retry = send_verification_emails(chunk)
                if len(sent) != len(chunk) or retry:
                    raise SystemExit(f"sent {len(sent)} of {len(chunk)}, {len(retry)} to retry")

            return run

        # Each callable sends a batch; the per-email figures divide by the email count.
        return _PerItem([send(chunk) for chunk in chunks], n)
    if kind == "email":
        pages = {page.pk: page}

        def email(signature):
            return lambda: build_verification_message(pages[signature.petition_id], signature).message()

        return [email(signature) for signature in signatures]
    raise ValueError(kind)


class _PerItem(list):
    """Callables that each do several of the items measured (a batch of emails): ``items`` in all."""

    def __init__(self, calls, items):
        super().__init__(calls)
        self.items = items


def timed(calls):
    wall, cpu = time.perf_counter(), time.process_time()
    for call in calls:
        call()
    n = getattr(calls, "items", len(calls))
    return (time.perf_counter() - wall) * 1000 / n, (time.process_time() - cpu) * 1000 / n


def stage_times(stats, kind, n):
    """Cumulative ms per request of each stage (summed over matching functions)."""
    rows = []
    for label, file_part, name in STAGES[kind]:
        total, found = 0.0, False
        for (filename, _, funcname), (_, _, _, cumulative, _) in stats.stats.items():
            if funcname == name and filename.replace("\\", "/").endswith(file_part):
                total += cumulative
                found = True
        rows.append((label, total * 1000 / n if found else None))
    return rows


def top_functions(profile, n, limit=25):
    out = io.StringIO()
    pstats.Stats(profile, stream=out).strip_dirs().sort_stats("tottime").print_stats(limit)
    lines = out.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("ncalls"))
    body = [line for line in lines[start:] if line.strip()]
    return [f"(per call of {n}: tottime/{n} in ms ≈ tottime × {1000 / n:.2f})"] + body


def profiled(kind, site, page, n, timer):
    calls = make_requests(kind, site, page, n, f"prof-{kind}-{secrets.token_hex(3)}")
    profile = cProfile.Profile(timer) if timer else cProfile.Profile()
    profile.enable()
    for call in calls:
        call()
    profile.disable()
    return profile


def run_kind(kind, site, page, n):
    # Warm-up: imports, template caches, the page cache, connections.
    for call in make_requests(kind, site, page, 200, f"warm-{kind}-{secrets.token_hex(3)}"):
        call()
    wall_ms, cpu_ms = timed(make_requests(kind, site, page, n, f"timed-{kind}-{secrets.token_hex(3)}"))
    # Wall clock: where a request waits too (PostgreSQL, Redis); CPU clock: what it costs this process.
    wall = profiled(kind, site, page, n, None)
    cpu = profiled(kind, site, page, n, time.process_time)
    wall.dump_stats(str(BENCH / "var" / f"profile-{kind}-wall.prof"))
    cpu.dump_stats(str(BENCH / "var" / f"profile-{kind}-cpu.prof"))
    lines = [f"## {kind}: {wall_ms:.3f} ms wall, {cpu_ms:.3f} ms CPU per request (no profiler, {n} requests)", ""]
    # cProfile's own overhead inflates every figure it times, the CPU clock's the most: each
    # stage is shown as its share of the first row, and that share of the unprofiled time.
    lines.append(f"{'stage (cumulative share under cProfile, ≈ ms per request)':<58} {'wall':>13} {'CPU':>13}")
    wall_stages, cpu_stages = stage_times(pstats.Stats(wall), kind, n), stage_times(pstats.Stats(cpu), kind, n)
    whole_wall, whole_cpu = wall_stages[0][1] or 1, cpu_stages[0][1] or 1
    for (label, stage_wall), (_, stage_cpu) in zip(wall_stages, cpu_stages, strict=True):
        lines.append(
            f"{label:<58} {_share(stage_wall, whole_wall, wall_ms):>13} {_share(stage_cpu, whole_cpu, cpu_ms):>13}"
        )
    lines += ["", "Top functions by their own CPU time:"]
    lines += top_functions(cpu, n)
    lines.append("")
    return lines


def _share(stage, whole, measured):
    if stage is None:
        return "-"
    share = stage / whole
    return f"{share:4.0%} {share * measured:6.3f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--label", default="now")
    parser.add_argument("--kinds", default="bare,sign,confirm,send")
    args = parser.parse_args()

    import importlib.util

    # tests/redis_server.py, by path: the tests folder holds modules named like installed packages.
    spec = importlib.util.spec_from_file_location("redis_server", ROOT / "tests" / "redis_server.py")
    redis_server_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(redis_server_module)
    RedisServer = redis_server_module.RedisServer

    redis_server = RedisServer().start()
    esp_port = redis_server_module.free_port()
    (BENCH / "var" / "profile" / "static").mkdir(parents=True, exist_ok=True)
    esp = subprocess.Popen(
        [sys.executable, str(BENCH / "fake_esp.py"), "--port", str(esp_port), "--tokens", os.devnull],
        stdout=subprocess.DEVNULL,
    )
    harness.wait_for(lambda: harness.port_open(esp_port), 20, "fake ESP")
    create_database()
    try:
        setup_environment(redis_server.url, f"http://{HOST}:{esp_port}")
        (BENCH / "var" / "profile" / "static").mkdir(parents=True, exist_ok=True)
        import django

        django.setup()
        import logging

        # With DEBUG off Django logs a 500's traceback nowhere: show it.
        logging.getLogger("django.request").addHandler(logging.StreamHandler(sys.stderr))
        from django.conf import settings

        settings.DEBUG_PROPAGATE_EXCEPTIONS = True  # a 500 stops the run with its traceback
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        import djside

        page = djside.create_petition(8399, slug="profile-petition")
        site = Site()
        import platform

        from django.db import connection

        lines = [
            f"# Profile of one request of each kind ({args.label}), {time.strftime('%Y-%m-%d %H:%M')}",
            f"python {platform.python_version()}, PostgreSQL {connection.cursor().connection.info.server_version}, "
            f"{os.cpu_count()} cores; in-process WSGI, production middleware",
            "",
        ]
        for kind in args.kinds.split(","):
            lines += run_kind(kind, site, page, args.requests)
        text = "\n".join(lines)
        print(text)
        out = BENCH / "results" / f"profile-{args.label}.txt"
        out.write_text(text + "\n")
        print(f"\nwritten to {out.relative_to(ROOT)}", file=sys.stderr)
    finally:
        from django.db import connections

        connections.close_all()
        drop_database()
        redis_server.stop()
        esp.terminate()


if __name__ == "__main__":
    main()
