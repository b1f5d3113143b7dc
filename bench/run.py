"""`make bench`: load-test the petition plugin on this machine, in one command.

Starts the demo site under gunicorn (one gthread worker per core, 4 threads), two Celery
worker processes and a fake Postmark (bench/fake_esp.py), all against a
fresh PostgreSQL database and a dedicated Redis database; seeds a petition
with 1,000,000 verified signatures by COPY; then measures, in this one run,
a bare Django view (the baseline) and the plugin's paths:

  1. the petition page (counter and feed) at several concurrencies
  2. the count endpoint, GET /api/petitions/<id>/count.json
  3. sign POSTs at 16 concurrent clients
  4. verifications: POST confirm/ with the tokens the fake ESP received
  5. the verification-email pipeline: a 30 s sign burst and its drain time,
     an open-loop 300 signs/s for 30 s, each with the time from its sign
     request to the ESP's acceptance of its email (sign to ESP), then the
     workers' own rate and CPU per email on a backlog built while they were paused
  6. the reconcile: incremental after 10,000 new verifications, full recount
  7. correctness: stored = accepted, verified = confirmed, displayed = database, no 5xx

Prints one line per figure and writes bench/results/latest.json (plus a
timestamped copy). Only 127.0.0.1 is loaded; every phase is bounded in time.
Knobs (environment): BENCH_SEED_ROWS, BENCH_GET_SECONDS, BENCH_CONCURRENCIES
(4,16,64), BENCH_SIGN_SECONDS, BENCH_VERIFY_SECONDS, BENCH_BURST_SECONDS (0: skip
the burst), BENCH_OPEN_RATE (300), BENCH_OPEN_SECONDS (30; 0: skip the open-loop
phase), BENCH_OPEN_TIMEOUT (120), BENCH_DRAIN_LIMIT, BENCH_PORT, BENCH_ESP_PORT, BENCH_REDIS_DB,
BENCH_DB_NAME, BENCH_KEEP_DB=1 (keep the database afterwards), BENCH_BEAT=0 (no
Celery beat during the load), BENCH_BACKLOG_SECONDS (0: skip the backlog phase),
BENCH_WEB_WORKERS (gunicorn workers; one per core), BENCH_WORKERS=0 (the Celery
worker and beat stopped during every sign and confirm phase: the web tier alone),
BENCH_RESULTS_NAME (write bench/results/<name>.json only; bench/scaling.py),
BENCH_DB_TEMPLATE (copy this migrated database instead of migrating; made if missing).
"""

# A harness that starts local processes and talks HTTP to 127.0.0.1 only.
# ruff: noqa: S603, S607, S310

import contextlib
import ipaddress
import itertools
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote_plus, urlencode

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VAR = BENCH / "var"
RESULTS = BENCH / "results"
sys.path.insert(0, str(BENCH))

import harness  # noqa: E402
import postload  # noqa: E402
from harness import BIN, HOST, PY, Harness, env_number, port_open, wait_for  # noqa: E402
from harness import HarnessError as BenchError  # noqa: E402
from harness import server_errors as logged_errors  # noqa: E402

PORT = env_number("BENCH_PORT", 8300, int)
ESP_PORT = env_number("BENCH_ESP_PORT", 8301, int)
DB_NAME = os.environ.get("BENCH_DB_NAME", "petitions_bench")
REDIS_DB = env_number("BENCH_REDIS_DB", 14, int)
#: A migrated database to copy instead of migrating (bench/scaling.py: one migrate for its runs);
#: when it does not exist yet, this run migrates and leaves a copy under that name.
TEMPLATE_DB = os.environ.get("BENCH_DB_TEMPLATE")
CORES = os.cpu_count() or 2
WEB_WORKERS = env_number("BENCH_WEB_WORKERS", CORES, int)  # one per core (threads: bench/gunicorn.conf.py)
WEB_WORKER_CLASS = os.environ.get("BENCH_WORKER_CLASS", "gthread")
WEB_THREADS = os.environ.get("BENCH_THREADS", "4")
CELERY_PROCESSES = 2
SEED_ROWS = env_number("BENCH_SEED_ROWS", 1_000_000, int)
GET_SECONDS = env_number("BENCH_GET_SECONDS", 10)
SIGN_CONCURRENCY = 16
# The POST phases' ratios are to the baseline at SIGN_CONCURRENCY, so it is always measured.
CONCURRENCIES = sorted(
    {int(c) for c in os.environ.get("BENCH_CONCURRENCIES", "4,16,64").split(",") if c.strip()} | {SIGN_CONCURRENCY}
)
SIGN_SECONDS = env_number("BENCH_SIGN_SECONDS", 15)
VERIFY_CONCURRENCY = 16
VERIFY_SECONDS = env_number("BENCH_VERIFY_SECONDS", 15)
BURST_SECONDS = env_number("BENCH_BURST_SECONDS", 30)
BACKLOG_SECONDS = env_number("BENCH_BACKLOG_SECONDS", 10)
OPEN_RATE = env_number("BENCH_OPEN_RATE", 300)
OPEN_SECONDS = env_number("BENCH_OPEN_SECONDS", 30)
OPEN_MAX_IN_FLIGHT = 4000  # the open loop's bound: beyond it a due sign is counted as not sent
# An overloaded server must show as latency, not as answers nobody waited for: a sign the client
# gave up on may still be stored and emailed, and then no count would add up.
OPEN_TIMEOUT = env_number("BENCH_OPEN_TIMEOUT", 120)
SIGN_TO_ESP_TARGET_P99_MS = 2000
#: BENCH_WORKERS=0: the Celery worker and beat are stopped (SIGSTOP: no CPU) during every sign and
#: confirm phase, so those measure the web tier alone; they resume for each drain and the checks.
WORKERS_DURING_LOAD = os.environ.get("BENCH_WORKERS", "1") != "0"
RESULTS_NAME = os.environ.get("BENCH_RESULTS_NAME")
DRAIN_TARGET = 60.0
DRAIN_LIMIT = env_number("BENCH_DRAIN_LIMIT", 150)
RECONCILE_NEW = 10_000
BEAT = os.environ.get("BENCH_BEAT", "1") != "0"

DATABASE_URL = f"postgres://postgres@{HOST}:5432/{DB_NAME}"
REDIS_URL = f"redis://{HOST}:6379/{REDIS_DB}"
BASE = f"http://{HOST}:{PORT}"
ESP = f"http://{HOST}:{ESP_PORT}"
TOKENS = VAR / "tokens.txt"

started_wall = time.monotonic()


# --- environment -----------------------------------------------------------


def site_env():
    return harness.site_env(
        base=BASE, esp=ESP, database_url=DATABASE_URL, redis_url=REDIS_URL, var=VAR, extra={"PETITIONS_BENCH": "1"}
    )


ENV = site_env()
H = Harness(var=VAR, env=ENV, base=BASE, tag="bench")
processes = H.processes  # (name, Popen) of what this run started
log, manage, djside, celery_ping = H.log, H.manage, H.djside, H.celery_ping
start, stop, stop_all, check_alive, http_get = H.start, H.stop, H.stop_all, H.check_alive, H.http_get


def preflight():
    if not shutil.which("wrk"):
        if os.geteuid() != 0:
            raise BenchError("wrk is missing: apt-get install wrk (as root)")
        log("installing Debian's wrk")
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "wrk"],
            check=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    if not port_open(5432) and shutil.which("pg_ctlcluster") and Path("/etc/postgresql").is_dir():
        version = sorted(os.listdir("/etc/postgresql"))[0]
        log("starting PostgreSQL")
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"], check=False)
    if not port_open(6379) and shutil.which("redis-server"):
        log("starting Redis")
        subprocess.run(
            [
                "redis-server",
                "--daemonize",
                "yes",
                "--bind",
                HOST,
                "--port",
                "6379",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            check=False,
        )
    wait_for(lambda: port_open(5432), 30, "PostgreSQL on 127.0.0.1:5432")
    wait_for(lambda: port_open(6379), 30, "Redis on 127.0.0.1:6379")
    for port in (PORT, ESP_PORT):
        if port_open(port):
            raise BenchError(f"port {port} is already in use (set BENCH_PORT / BENCH_ESP_PORT)")


def reset_stores():
    import psycopg
    import redis

    with psycopg.connect(f"postgres://postgres@{HOST}:5432/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        migrated = bool(
            TEMPLATE_DB and conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [TEMPLATE_DB]).fetchone()
        )
        conn.execute(f"CREATE DATABASE {DB_NAME}" + (f" TEMPLATE {TEMPLATE_DB}" if migrated else ""))
        server_version = conn.execute("SHOW server_version").fetchone()[0]
    redis.Redis.from_url(REDIS_URL).flushdb()
    return server_version, migrated


def keep_template():
    """Copy the freshly migrated database to TEMPLATE_DB, for the next run to start from."""
    import psycopg

    with psycopg.connect(f"postgres://postgres@{HOST}:5432/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {TEMPLATE_DB} TEMPLATE {DB_NAME}")


def drop_stores():
    import psycopg
    import redis

    try:
        redis.Redis.from_url(REDIS_URL).flushdb()
    except Exception as exc:  # noqa: BLE001
        log(f"could not flush Redis db {REDIS_DB}: {exc}")
    if os.environ.get("BENCH_KEEP_DB") == "1":
        log(f"kept database {DB_NAME} (BENCH_KEEP_DB=1)")
        return
    try:
        with psycopg.connect(f"postgres://postgres@{HOST}:5432/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    except Exception as exc:  # noqa: BLE001
        log(f"could not drop {DB_NAME}: {exc}")


def esp_stats(since=None, until=None):
    query = urlencode({k: v for k, v in (("since", since), ("until", until)) if v is not None})
    with urllib.request.urlopen(f"{ESP}/stats?{query}", timeout=10) as response:
        return json.loads(response.read())


def esp_received(since=0):
    """(receive epoch, address) of every message the fake ESP accepted, from the ``since``-th on; and the next index."""
    with urllib.request.urlopen(f"{ESP}/received?since={since}", timeout=30) as response:
        answer = json.loads(response.read())
    return answer["received"], answer["next"]


def sign_to_esp(records, received):
    """Per accepted sign (3xx): seconds from its request's send time to the ESP's acceptance of its email.

    ``records`` are postload's (label = the signer's address, status, send epoch, ...); the two sides
    are joined by the address (the fake ESP records each message's ``To``). An accepted sign whose
    email is not in ``received`` is missing.
    """
    first = {}
    for at, address in received:
        first.setdefault(address, at)
    delays, missing = [], 0
    for label, status, sent_at, _, _ in records:
        if status is None or not 300 <= status < 400:
            continue
        at = first.get(label.lower())
        if at is None:
            missing += 1
        else:
            delays.append(at - sent_at)
    delays.sort()

    def ms(value):
        return None if value is None else round(value * 1000, 1)

    return {
        "accepted": len(delays) + missing,
        "emailed": len(delays),
        "missing": missing,
        "p50_ms": ms(postload.percentile(delays, 50)),
        "p90_ms": ms(postload.percentile(delays, 90)),
        "p99_ms": ms(postload.percentile(delays, 99)),
        "max_ms": ms(delays[-1] if delays else None),
    }


# --- load ----------------------------------------------------------------------


def cpu_snapshot():
    """CPU seconds used so far, by who: the processes this run started, PostgreSQL, Redis, the rest."""
    groups = {process.pid: name for name, process in processes}  # each runs in its own process group
    tick = os.sysconf("SC_CLK_TCK")
    used = {}
    for pid, comm, fields in harness.processes_now():
        pgrp, own, children = int(fields[2]), int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])
        if pid == os.getpid():
            used["load client"] = used.get("load client", 0) + own / tick
            # Reaped children: wrk during a GET phase (and the short Django helper steps).
            used["wrk"] = used.get("wrk", 0) + children / tick
            continue
        if pgrp in groups:
            key = groups[pgrp]
        elif comm == "wrk":
            key = "wrk"
        elif comm.startswith("postgres"):
            key = "postgres"
        elif comm.startswith("redis"):
            key = "redis"
        else:
            key = "other processes"
        used[key] = used.get(key, 0) + own / tick
    return used, time.monotonic()


def cpu_seconds_since(snapshot):
    """CPU seconds each party used since ``snapshot``, and the wall seconds that passed."""
    before, t0 = snapshot
    after, t1 = cpu_snapshot()
    return {k: after.get(k, 0) - before.get(k, 0) for k in after}, max(t1 - t0, 1e-6)


def cpu_since(snapshot, used=None):
    """Cores each party used on average since ``snapshot`` (the machine has CORES), or in ``used``."""
    used, wall = used or cpu_seconds_since(snapshot)
    cores = {k: round(v / wall, 2) for k, v in used.items()}
    return {k: v for k, v in sorted(cores.items(), key=lambda kv: -kv[1]) if v >= 0.01}


def wrk(path, concurrency, seconds):
    argv = [
        "wrk",
        "-t", str(min(CORES, concurrency)),
        "-c", str(concurrency),
        "-d", f"{seconds:g}s",
        "--timeout", "10s",
        "-s", str(BENCH / "wrk" / "get.lua"),
        BASE + path,
    ]  # fmt: skip
    snapshot = cpu_snapshot()
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    cpu = cpu_since(snapshot)
    for line in out.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            result = json.loads(line[len("BENCH_JSON ") :])
            result["tool"] = "wrk"
            result["cpu_cores"] = cpu
            return summarise(result, concurrency)
    raise BenchError(f"wrk {path} gave no result:\n{out.stdout}\n{out.stderr}")


def status_text(result):
    classes = " ".join(f"{k} {v}" for k, v in result["status"].items() if v)
    errors = {k: v for k, v in (result.get("errors") or {}).items() if v and k != "status"}
    cpu = ", ".join(f"{k} {v}" for k, v in (result.get("cpu_cores") or {}).items())
    client = result.get("load_client_cpu_ms_per_request")
    client = f"; load client {client} ms CPU/request" if client is not None else ""
    return f"[{classes}{' errors ' + str(errors) if errors else ''}] cores: {cpu}{client}"


def summarise(result, concurrency):
    seconds = result["duration_us"] / 1e6
    latency = result["latency_us"]
    result.update(
        concurrency=concurrency,
        seconds=round(seconds, 2),
        rps=round(result["requests"] / seconds, 1) if seconds else 0.0,
        p50_ms=None if latency["p50"] is None else round(latency["p50"] / 1000, 2),
        p99_ms=None if latency["p99"] is None else round(latency["p99"] / 1000, 2),
    )
    return result


def post_load(path, bodies, concurrency, seconds, csrf=None, *, rate=None, keep_records=False, timeout=30.0):
    """POST ``bodies``: ``concurrency`` at a time, or open loop at ``rate`` a second (``concurrency`` is then None)."""
    snapshot, own = cpu_snapshot(), os.times()
    result = postload.run(
        HOST,
        PORT,
        path,
        bodies,
        concurrency=concurrency or 1,
        duration=seconds,
        headers={"Cookie": f"csrftoken={csrf['cookie']}"} if csrf else {},
        rate=rate,
        max_in_flight=OPEN_MAX_IN_FLIGHT,
        keep_records=keep_records,
        timeout=timeout,
    )
    after = os.times()
    result["tool"] = "bench/postload.py"
    result["cpu_cores"] = cpu_since(snapshot)
    # What the load client itself cost: this process's CPU over the phase (the loop, the bodies).
    client_s = (after.user - own.user) + (after.system - own.system)
    result["load_client_cpu_ms_per_request"] = round(client_s * 1000 / result["sent"], 3) if result["sent"] else None
    return summarise(result, concurrency)


@contextlib.contextmanager
def workers_stopped(stop_them=True):
    """Celery's worker and beat paused (SIGSTOP) inside the block when ``stop_them``; resumed after it."""
    names = [name for name, _ in processes if name in ("celery", "beat")] if stop_them else []
    for name in names:
        H.send_signal(name, signal.SIGSTOP)
    try:
        yield
    finally:
        for name in names:
            H.send_signal(name, signal.SIGCONT)


def web_alone():
    """The sign and confirm phases' context: the web tier alone under BENCH_WORKERS=0."""
    return workers_stopped(not WORKERS_DURING_LOAD)


#: Synthetic client addresses, forwarded as a proxy would: 198.18.0.0/15, the range RFC 2544 sets
#: aside for benchmarks (131,072 addresses). One counter runs through it across every sign phase,
#: so no address signs twice until 131,072 sign requests have been sent in the run (about
#: 28,000 at the rates measured), far under the limits (20 a minute, 100 an hour per address).
CLIENT_POOL = ipaddress.ip_network("198.18.0.0/15")
client_numbers = itertools.count()


POOL_BASE = int(CLIENT_POOL.network_address)


def next_client():
    # Integer arithmetic, not CLIENT_POOL[n] (8 us): the load client's CPU is the servers' too.
    value = POOL_BASE + next(client_numbers) % CLIENT_POOL.num_addresses
    return f"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}"


def sign_bodies(phase, csrf=None):
    """Form bodies with a distinct email address each (one new signature per request), from a distinct client.

    Encoded as ``urlencode`` would (tests/test_bench_load.py holds them equal), by formatting: the
    fields are the same each time but the address.
    """
    before = urlencode({"first_name": "Bench"}) + "&email="
    after = "&" + urlencode({"feed_display": "first", **({"csrfmiddlewaretoken": csrf["token"]} if csrf else {})})
    quoted_phase = quote_plus(phase)
    i = 0
    while True:
        yield (
            f"{phase}-{i}@bench.example.org",
            f"{before}{quoted_phase}-{i}%40bench.example.org{after}",
            {"X-Forwarded-For": next_client()},
        )
        i += 1


def fetch_csrf(path):
    status, headers, body = http_get(path)
    if status != 200:
        raise BenchError(f"GET {path} answered {status}")
    cookie = None
    for value in headers.get_all("Set-Cookie") or []:
        match = re.match(r"csrftoken=([^;]+)", value)
        if match:
            cookie = match.group(1)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body)
    if not (cookie and token):
        raise BenchError("the petition page set no CSRF cookie or form token")
    return {"cookie": cookie, "token": token.group(1)}


def wait_for_emails(since, expected, limit):
    """Poll the fake ESP until ``expected`` messages arrived since ``since``; return its stats and when."""
    deadline = time.monotonic() + limit
    while True:
        stats = esp_stats(since=since)
        if stats["count"] >= expected:
            return stats, time.time(), True
        if time.monotonic() >= deadline:
            return stats, time.time(), False
        check_alive()
        time.sleep(0.2)


def displayed_count(petition_id, path, count_available):
    """The count the public sees: count.json if it exists, and the page's counter."""
    return H.displayed_count(petition_id, path, count_available)


# --- the run ---------------------------------------------------------------------


def new_results():
    stamp = datetime.now(UTC)
    return {
        "started_at": stamp.isoformat(timespec="seconds"),
        "machine": {
            "cores": CORES,
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "config": {
            "gunicorn_workers": WEB_WORKERS,
            "gunicorn_worker_class": WEB_WORKER_CLASS,
            "celery_worker_processes": CELERY_PROCESSES,
            "seed_rows": SEED_ROWS,
            "get_seconds": GET_SECONDS,
            "concurrencies": CONCURRENCIES,
            "sign_concurrency": SIGN_CONCURRENCY,
            "sign_seconds": SIGN_SECONDS,
            "verify_concurrency": VERIFY_CONCURRENCY,
            "verify_seconds": VERIFY_SECONDS,
            "burst_seconds": BURST_SECONDS,
            "open_rate": OPEN_RATE,
            "open_seconds": OPEN_SECONDS,
            "open_max_in_flight": OPEN_MAX_IN_FLIGHT,
            "open_timeout_s": OPEN_TIMEOUT,
            "celery_during_sign_and_confirm": WORKERS_DURING_LOAD,
            "backlog_seconds": BACKLOG_SECONDS,
            "drain_target_s": DRAIN_TARGET,
            "drain_limit_s": DRAIN_LIMIT,
            "celery_beat": BEAT,
            "database": DATABASE_URL,
            "redis": REDIS_URL,
        },
        "phases": {},
        "figures": [],
        "checks": {},
        "notes": [],
        "status_totals": {"2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0, "errors": 0},
    }


def main(results):
    phases, figures, notes = results["phases"], results["figures"], results["notes"]
    status_totals = results["status_totals"]

    def account(name, result):
        phases[name] = {k: v for k, v in result.items() if k not in ("ok_labels", "records")}
        for cls in ("2xx", "3xx", "4xx", "5xx"):
            status_totals[cls] += result["status"].get(cls, 0)
        errors = result.get("errors") or {}
        status_totals["errors"] += sum(v for k, v in errors.items() if k != "status")
        return result

    baseline = {}

    def figure(name, value, unit, *, concurrency=None, result=None, rate=False, extra=None):
        entry = {"name": name, "value": value, "unit": unit}
        if concurrency is not None:
            entry["concurrency"] = concurrency
        if result is not None:
            entry.update(
                p50_ms=result["p50_ms"],
                p99_ms=result["p99_ms"],
                requests=result["requests"],
                status=result["status"],
            )
        if rate:
            base = baseline.get(concurrency or SIGN_CONCURRENCY)
            entry["baseline_rps"] = base
            entry["ratio_to_baseline"] = round(value / base, 3) if base and value is not None else None
        if extra:
            entry.update(extra)
        figures.append(entry)
        return entry

    VAR.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    TOKENS.write_text("")
    if not WORKERS_DURING_LOAD:
        notes.append(
            "BENCH_WORKERS=0: Celery's worker and beat were stopped during every sign and confirm phase "
            "(the web tier alone); the sign-to-ESP times include that wait"
        )

    # --- setup ---
    preflight()
    log(f"fresh database {DB_NAME}, Redis db {REDIS_DB} flushed")
    results["machine"]["postgresql"], migrated = reset_stores()
    t = time.monotonic()
    if migrated:
        log(f"copied the migrated database {TEMPLATE_DB} (BENCH_DB_TEMPLATE)")
    else:
        manage("migrate", "--noinput")
        if TEMPLATE_DB:
            keep_template()
    results["setup"] = {"migrate_s": round(time.monotonic() - t, 1), "from_template": migrated}
    t = time.monotonic()
    manage("collectstatic", "--noinput")
    results["setup"]["collectstatic_s"] = round(time.monotonic() - t, 1)
    unmigrated = subprocess.run(
        [PY, "manage.py", "makemigrations", "--check", "--dry-run"], cwd=ROOT, env=ENV, capture_output=True, text=True
    )
    if unmigrated.returncode:
        notes.append(
            "model changes without a migration (makemigrations --check): " + " ".join(unmigrated.stdout.split())[:300]
        )
    features = djside("probe")
    results["features"] = features
    if not features["bare_view"]:
        # Measure anyway, with the site's URLs plus /bench/bare/ in front, and say so.
        ENV["DJANGO_SETTINGS_MODULE"] = "bench.settings_shim"
        features = results["features"] = {**djside("probe"), "bare_view_via": "bench/urls_shim.py"}
        notes.append(
            "petitions_site/urls.py has no PETITIONS_BENCH include: /bench/bare/ was routed by "
            "bench/urls_shim.py (the site's URLconf plus that one route; see bench/README.md)"
        )
        if not features["bare_view"]:
            raise BenchError("/bench/bare/ is not routed even through bench/urls_shim.py")
    else:
        features["bare_view_via"] = "petitions_site/urls.py"
    if HOST not in (features.get("trusted_proxies") or []):
        notes.append(
            f"PETITIONS_TRUSTED_PROXIES did not reach the settings (TRUSTED_PROXIES = "
            f"{features.get('trusted_proxies')}): every sign request counts against 127.0.0.1's rate limit "
            "and those beyond it answer 429"
        )
    log(f"seeding {SEED_ROWS:,} verified signatures by COPY")
    seed = djside("seed", SEED_ROWS, PORT)
    results["setup"]["seed"] = seed
    petition_id, page_path = seed["petition_id"], seed["path"]
    log(
        f"seeded petition {petition_id} at {page_path}: COPY {seed['copy_s']} s, "
        f"initial reconcile {seed['initial_reconcile_s']} s"
    )

    queues = djside("queues")["queues"]
    results["config"]["celery_queues"] = queues
    start("fake_esp", [PY, str(BENCH / "fake_esp.py"), "--port", str(ESP_PORT), "--tokens", str(TOKENS)])
    start(
        "gunicorn",
        [
            str(BIN / "gunicorn"),
            "petitions_site.wsgi:application",
            "--config", str(BENCH / "gunicorn.conf.py"),
            "--workers", str(WEB_WORKERS),
            "--bind", f"{HOST}:{PORT}",
        ],
    )  # fmt: skip
    # Production runs the workers on other machines; on this one box they get a lower CPU
    # priority (BENCH_WORKER_NICE, default 10) so a surge's emails queue and drain after it,
    # rather than the workers taking the CPU the sign requests need. 0 shares it equally.
    start(
        "celery",
        [
            "nice", "-n", os.environ.get("BENCH_WORKER_NICE", "10"),
            str(BIN / "celery"),
            "-A", "petitions_site",
            "worker",
            "--concurrency", str(CELERY_PROCESSES),
            "--pool", "prefork",
            "-Q", ",".join(queues),
            "--hostname", f"bench-{os.getpid()}@%h",
            "--loglevel", "WARNING",
            "--without-gossip",
            "--without-mingle",
        ],
    )  # fmt: skip
    if BEAT:  # as in production: the plugin's schedule (reconcile, outbox backstop, sweeper)
        schedule = VAR / "celerybeat-schedule"
        for stale in VAR.glob("celerybeat-schedule*"):
            stale.unlink()
        start(
            "beat",
            [str(BIN / "celery"), "-A", "petitions_site", "beat", "--schedule", str(schedule), "--loglevel", "WARNING"],
        )
    wait_for(lambda: port_open(ESP_PORT), 20, "fake ESP")
    wait_for(lambda: port_open(PORT), 60, "gunicorn")
    status, _, body = http_get("/bench/bare/")
    if status != 200 or body != "ok":
        raise BenchError(f"GET /bench/bare/ answered {status} {body[:80]!r}")
    status, _, _ = http_get(page_path)
    if status != 200:
        raise BenchError(f"GET {page_path} answered {status}; see {VAR / 'gunicorn.log'}")
    count_path = f"/api/petitions/{petition_id}/count.json"
    count_status, _, count_body = http_get(count_path)
    count_available = count_status == 200
    results["features"]["count_endpoint_status"] = count_status
    if not count_available:
        notes.append(f"GET {count_path} answered {count_status}: count endpoint phase skipped")
    wait_for(celery_ping, 60, "Celery worker", interval=1)
    log(
        f"gunicorn ({WEB_WORKERS} {WEB_WORKER_CLASS} workers x {WEB_THREADS} threads), "
        f"Celery ({CELERY_PROCESSES} processes, queues {queues})"
        f"{' and beat' if BEAT else ''}, fake ESP up"
    )

    # Warm every worker process (imports, URL resolvers, template caches) before measuring.
    for path in ["/bench/bare/", page_path] + ([count_path] if count_available else []):
        wrk(path, 4, 2)

    # --- 0, 1, 2: GET phases ---
    for label, path, enabled in (
        ("baseline", "/bench/bare/", True),
        ("page", page_path, True),
        ("count", count_path, count_available),
    ):
        if not enabled:
            continue
        for concurrency in CONCURRENCIES:
            check_alive()
            result = account(f"{label}_c{concurrency}", wrk(path, concurrency, GET_SECONDS))
            if label == "baseline":
                baseline[concurrency] = result["rps"]
            log(
                f"{label} c={concurrency}: {result['rps']} req/s p50 {result['p50_ms']} ms "
                f"p99 {result['p99_ms']} ms {status_text(result)}"
            )
    for concurrency in CONCURRENCIES:
        figure(
            "baseline: bare Django view",
            baseline[concurrency],
            "req/s",
            concurrency=concurrency,
            result=phases[f"baseline_c{concurrency}"],
            rate=True,
        )
    for concurrency in CONCURRENCIES:
        result = phases[f"page_c{concurrency}"]
        figure(
            "petition page (counter + feed)", result["rps"], "req/s", concurrency=concurrency, result=result, rate=True
        )
    if count_available:
        for concurrency in CONCURRENCIES:
            result = phases[f"count_c{concurrency}"]
            figure("count.json", result["rps"], "req/s", concurrency=concurrency, result=result, rate=True)

    # --- 3: sign POSTs ---
    if features.get("sign_view"):
        sign_path, csrf = f"/petitions/{petition_id}/sign/", None
    else:  # the page's own form POST, with a CSRF token
        sign_path, csrf = page_path, fetch_csrf(page_path)
        notes.append(f"/petitions/<id>/sign/ is not routed: signed through the page's form POST {page_path}")
    if features.get("confirm_view"):
        confirm_path = f"/petitions/{petition_id}/confirm/"
    else:
        confirm_path = page_path + "confirm/"
        notes.append(f"/petitions/<id>/confirm/ is not routed: confirmed through {confirm_path}")
    results["config"].update(sign_path=sign_path, confirm_path=confirm_path)
    check_alive()
    sign_since = time.time()
    with web_alone():
        sign = account("sign", post_load(sign_path, sign_bodies("sign", csrf), SIGN_CONCURRENCY, SIGN_SECONDS, csrf))
    sign_end = time.time()
    accepted_sign = sign["status"]["3xx"]
    log(
        f"sign c={SIGN_CONCURRENCY}: {sign['rps']} req/s p50 {sign['p50_ms']} ms p99 {sign['p99_ms']} ms, "
        f"{accepted_sign} accepted {status_text(sign)}"
    )
    figure(
        "sign POST (302 = accepted)",
        round(accepted_sign / sign["seconds"], 1),
        "signatures/s",
        concurrency=SIGN_CONCURRENCY,
        result=sign,
        rate=True,
        extra={"non_2xx_3xx": sign["status"]["4xx"] + sign["status"]["5xx"], "client_errors": sign["errors"]},
    )
    esp, done_at, drained = wait_for_emails(sign_since, accepted_sign, DRAIN_LIMIT)
    phases["sign_drain"] = {"emails": esp["count"], "drained": drained, "drain_s": round(done_at - sign_end, 2)}
    log(f"sign emails: {esp['count']}/{accepted_sign} at the ESP, {done_at - sign_end:.1f} s after the phase")

    # --- 4: verifications with the tokens the ESP received ---
    tokens = [line for line in TOKENS.read_text().splitlines() if line]
    phases["tokens_available"] = len(tokens)
    bodies = (
        (token, urlencode({"token": token, **({"csrfmiddlewaretoken": csrf["token"]} if csrf else {})}))
        for token in tokens
    )
    with web_alone():
        verify = account("verify", post_load(confirm_path, bodies, VERIFY_CONCURRENCY, VERIFY_SECONDS, csrf))
    confirmed = verify["by_status"].get("200", 0)
    log(
        f"verify c={VERIFY_CONCURRENCY}: {verify['rps']} req/s p50 {verify['p50_ms']} ms p99 {verify['p99_ms']} ms, "
        f"{confirmed} confirmed of {len(tokens)} tokens {status_text(verify)}"
    )
    figure(
        "verification POST confirm/ (200 = confirmed)",
        round(confirmed / verify["seconds"], 1) if verify["seconds"] else 0.0,
        "verifications/s",
        concurrency=VERIFY_CONCURRENCY,
        result=verify,
        rate=True,
        extra={"tokens": len(tokens), "non_2xx_3xx": verify["status"]["4xx"] + verify["status"]["5xx"]},
    )

    # --- 5: a sign burst and the email pipeline's drain ---
    accepted_burst = 0
    if BURST_SECONDS > 0:
        check_alive()
        accepted_burst = burst_phase(phases, figure, account, sign_path, csrf)

    # --- 5a: open loop at a fixed rate: sign to ESP under (over)load ---
    accepted_open = 0
    if OPEN_SECONDS > 0 and OPEN_RATE > 0:
        check_alive()
        accepted_open = open_loop_phase(results, figure, account, sign_path, csrf)

    # --- 5b: the workers' own rate, from a backlog ---
    # While the sign rate stays below what the workers can send, the burst above only shows that
    # they keep up. Here they are paused (SIGSTOP) while people sign, then resumed on the backlog.
    accepted_backlog = 0
    if BACKLOG_SECONDS > 0:
        check_alive()
        celery = dict(processes)["celery"]
        backlog_since = time.time()
        os.killpg(celery.pid, signal.SIGSTOP)
        try:
            backlog = account(
                "backlog_signs",
                post_load(sign_path, sign_bodies("backlog", csrf), SIGN_CONCURRENCY, BACKLOG_SECONDS, csrf),
            )
        finally:
            os.killpg(celery.pid, signal.SIGCONT)
        resumed = time.time()
        accepted_backlog = backlog["status"]["3xx"]
        snapshot = cpu_snapshot()
        esp, done_at, drained = wait_for_emails(backlog_since, accepted_backlog, DRAIN_LIMIT)
        used = cpu_seconds_since(snapshot)
        cpu = cpu_since(snapshot, used)
        sent_after = esp_stats(since=resumed)
        seconds = (sent_after["last"] - resumed) if sent_after["count"] else None
        # The worker's processes (its group: the parent and the prefork pool) while they drain.
        worker_cpu_s = used[0].get("celery", 0.0)
        per_email_ms = round(worker_cpu_s * 1000 / sent_after["count"], 3) if sent_after["count"] else None
        phases["backlog_pipeline"] = {
            "accepted_while_paused": accepted_backlog,
            "sign_rps_while_paused": backlog["rps"],
            "emails": esp["count"],
            "emails_after_resume": sent_after["count"],
            "drained": drained,
            "drain_s": round(done_at - resumed, 2),
            "cpu_cores_while_draining": cpu,
            "worker_cpu_s_while_draining": round(worker_cpu_s, 3),
            "worker_cpu_ms_per_email": per_email_ms,
        }
        figure(
            "emails handed to the ESP by the 2 workers from a backlog",
            round(sent_after["count"] / seconds, 1) if seconds else None,
            "emails/s",
            extra={"emails": sent_after["count"], "drain_s": round(done_at - resumed, 2), "drained": drained},
        )
        figure(
            "worker CPU per verification email (backlog drain)",
            per_email_ms,
            "ms/email",
            extra={"emails": sent_after["count"], "worker_cpu_s": round(worker_cpu_s, 3)},
        )
        figure(
            "verification emails per worker-core-second (backlog drain)",
            round(sent_after["count"] / worker_cpu_s, 1) if worker_cpu_s else None,
            "emails/core-s",
        )
        log(
            f"backlog: {accepted_backlog} signed while the workers were paused; {sent_after['count']} sent "
            f"in {done_at - resumed:.1f} s after resuming (drained: {drained}); worker CPU {per_email_ms} ms "
            f"an email; cores: {cpu}"
        )

    # --- 7: correctness after the load ---
    check_alive()
    if BEAT:
        stop("beat")  # the timed and checked reconciles below must not meet a scheduled one
    accepted_total = accepted_sign + accepted_burst + accepted_open + accepted_backlog
    esp_total = esp_stats()
    stats = djside("stats", petition_id)
    shown_before = displayed_count(petition_id, page_path, count_available)
    once = attempt(results, "one reconcile before the correctness checks", djside, "reconcile_once", petition_id)
    shown_after = displayed_count(petition_id, page_path, count_available)
    phases["correctness"] = {
        "db": stats,
        "esp_total": esp_total,
        "displayed_before_reconcile": shown_before,
        "reconcile_once": once,
        "displayed_after_reconcile": shown_after,
    }

    def check(name, expected, actual):
        add_check(results, name, expected, actual)

    check("stored signatures = seeded + accepted sign requests", SEED_ROWS + accepted_total, stats["total"])
    check("verified signatures = seeded + confirmed tokens", SEED_ROWS + confirmed, stats["verified"])
    check("emails at the ESP = accepted sign requests", accepted_total, esp_total["count"])
    check("pending signatures whose email was never sent", 0, stats["pending_unsent"])
    refused = sum(
        phases[name]["by_status"].get("429", 0) for name in ("sign", "burst", "open", "backlog_signs") if name in phases
    )
    check("sign requests refused by the rate limit (429), each client's address forwarded", 0, refused)
    source = "count.json" if "count_json" in shown_after else "page counter"
    displayed = shown_after.get("count_json", shown_after.get("page_count"))
    if once is None:
        displayed = "reconcile failed (see notes)"
    for name, label in (("burst_pipeline", "burst"), ("open_pipeline", f"open loop {OPEN_RATE:g}/s")):
        if name in phases:
            check(
                f"accepted signs of the {label} whose email never reached the ESP (within {DRAIN_LIMIT:g} s)",
                0,
                phases[name]["sign_to_esp"]["missing"],
            )
    check(f"displayed count ({source}) after one reconcile = database count", stats["verified"], displayed)
    if "count_json" in shown_after and shown_after.get("page_count") is not None and once is not None:
        check("page counter after one reconcile = database count", stats["verified"], shown_after["page_count"])
    before = shown_before.get("count_json", shown_before.get("page_count"))
    phases["correctness"]["displayed_minus_db_before_reconcile"] = (
        None if before is None else before - stats["verified"]
    )

    # --- 6: reconcile timings (in-process, after the checks they would disturb) ---
    log(f"reconcile: {RECONCILE_NEW:,} new verifications, then incremental run and full recount")
    timing = attempt(results, "reconcile timings", djside, "reconcile", petition_id, RECONCILE_NEW)
    if timing is None:
        return
    phases["reconcile"] = timing
    figure(
        f"reconcile_counts() incremental after {RECONCILE_NEW:,} new verifications",
        round(timing["incremental_s"] * 1000, 1),
        "ms",
        extra={"rows_verified": timing["updated"], "total_after": timing["incremental_result"]},
    )
    figure(
        "reconcile_counts() with nothing new",
        round(timing["incremental_nothing_new_s"] * 1000, 1),
        "ms",
    )
    figure(
        f"full_recount() at {timing['db_verified']:,} verified",
        None if timing["full_recount_s"] is None else round(timing["full_recount_s"] * 1000, 1),
        "ms",
        extra=(
            {"missing": timing.get("full_recount_missing")}
            if timing["full_recount_s"] is None
            else {"drift_corrected": timing.get("full_recount_result")}
        ),
    )
    if timing["full_recount_s"] is None:
        notes.append("cms.reconcile.full_recount() does not exist: full recount not timed")
    shown_final = displayed_count(petition_id, page_path, count_available)
    phases["reconcile"]["displayed_after"] = shown_final
    check(
        f"incremental reconcile total after {RECONCILE_NEW:,} new verifications = database count",
        timing["db_verified"],
        timing["incremental_result"],
    )
    if timing["full_recount_s"] is not None:
        check("full recount found no drift", {}, timing.get("full_recount_result"))
    final = shown_final.get("count_json", shown_final.get("page_count"))
    check("displayed count after the recount = database count", timing["db_verified"], final)


def burst_phase(phases, figure, account, sign_path, csrf):
    """A sign burst at SIGN_CONCURRENCY clients, the pipeline's drain, and each accepted sign's time to the ESP."""
    _, received_from = esp_received(10**9)
    burst_since = time.time()
    with web_alone():
        burst = account(
            "burst",
            post_load(sign_path, sign_bodies("burst", csrf), SIGN_CONCURRENCY, BURST_SECONDS, csrf, keep_records=True),
        )
    burst_end = time.time()
    accepted_burst = burst["status"]["3xx"]
    log(
        f"burst: {accepted_burst} signatures accepted in {burst['seconds']} s ({burst['rps']} req/s) "
        f"{status_text(burst)}; draining"
    )
    during = esp_stats(since=burst_since, until=burst_end)["count"]
    esp, done_at, drained = wait_for_emails(burst_since, accepted_burst, DRAIN_LIMIT)
    drain_s = round(done_at - burst_end, 2)
    window = (esp["last"] - esp["first"]) if esp["count"] > 1 else None
    after = esp["count"] - during
    phases["burst_pipeline"] = {
        "accepted": accepted_burst,
        "emails": esp["count"],
        "emails_during_burst": during,
        "emails_after_burst": after,
        "first_email": esp["first"],
        "last_email": esp["last"],
        "burst_start": burst_since,
        "burst_end": burst_end,
        "drained": drained,
        "drain_s": drain_s,
    }
    figure(
        f"sign burst ({BURST_SECONDS:g} s at {SIGN_CONCURRENCY} clients)",
        round(accepted_burst / burst["seconds"], 1),
        "signatures/s",
        concurrency=SIGN_CONCURRENCY,
        result=burst,
        rate=True,
    )
    figure(
        "emails handed to the ESP (burst + drain)",
        round(esp["count"] / window, 1) if window else None,
        "emails/s",
        extra={"emails": esp["count"]},
    )
    figure(
        "emails handed to the ESP during the burst",
        round(during / (burst_end - burst_since), 1),
        "emails/s",
    )
    figure(
        "emails handed to the ESP after the burst (drain)",
        round(after / (esp["last"] - burst_end), 1) if after >= 50 and esp["last"] > burst_end else None,
        "emails/s",
        extra={
            "emails": after,
            **({"why_no_rate": "fewer than 50 emails were left after the burst"} if after < 50 else {}),
        },
    )
    figure(
        "email drain time after the burst",
        drain_s if drained else None,
        "s",
        extra={
            "target_s": DRAIN_TARGET,
            "within_target": drained and drain_s <= DRAIN_TARGET,
            "sent_of_accepted": f"{esp['count']}/{accepted_burst}",
            "limit_s": DRAIN_LIMIT,
        },
    )
    log(f"burst emails: {esp['count']}/{accepted_burst} sent, drain {drain_s} s (drained: {drained})")
    delays = sign_to_esp(burst["records"], esp_received(received_from)[0])
    phases["burst_pipeline"]["sign_to_esp"] = delays
    sign_to_esp_figure(figure, f"sign to ESP, burst ({SIGN_CONCURRENCY} clients, max rate)", delays)
    return accepted_burst


def sign_to_esp_figure(figure, name, delays, **extra):
    figure(
        name,
        delays["p50_ms"],
        "ms (p50)",
        extra={
            "p50_ms": delays["p50_ms"],
            "p99_ms": delays["p99_ms"],
            "max_ms": delays["max_ms"],
            "emails": delays["emailed"],
            "missing": delays["missing"],
            **extra,
        },
    )


def open_loop_phase(results, figure, account, sign_path, csrf):
    """OPEN_RATE signs a second for OPEN_SECONDS, started on schedule whatever the server does (postload's
    open loop), then the drain and each accepted sign's time from its request to the ESP's acceptance."""
    phases = results["phases"]
    _, received_from = esp_received(10**9)
    since = time.time()
    with web_alone():
        result = post_load(
            sign_path,
            sign_bodies("open", csrf),
            None,
            OPEN_SECONDS,
            csrf,
            rate=OPEN_RATE,
            keep_records=True,
            timeout=OPEN_TIMEOUT,
        )
    end = time.time()
    account("open", result)
    accepted = result["status"]["3xx"]
    schedule = result["open_loop"]
    log(
        f"open loop {OPEN_RATE:g}/s for {OPEN_SECONDS:g} s: {schedule['started']} started of {schedule['due']} due "
        f"({schedule['started_rps']}/s; {schedule['late']} late > {postload.LATE_S * 1000:.0f} ms, "
        f"{schedule['skipped']} not sent, peak {schedule['peak_in_flight']} in flight), {accepted} accepted, "
        f"p50 {result['p50_ms']} ms p99 {result['p99_ms']} ms {status_text(result)}; draining"
    )
    esp, done_at, drained = wait_for_emails(since, accepted, DRAIN_LIMIT)
    delays = sign_to_esp(result["records"], esp_received(received_from)[0])
    phases["open_pipeline"] = {
        "accepted": accepted,
        "emails": esp["count"],
        "drained": drained,
        "drain_s": round(done_at - end, 2),
        "sign_to_esp": delays,
    }
    figure(
        f"sign POST, open loop {OPEN_RATE:g}/s offered for {OPEN_SECONDS:g} s (302 = accepted)",
        round(accepted / result["seconds"], 1) if result["seconds"] else 0.0,
        "signatures/s",
        result=result,
        extra={
            "offered_rps": OPEN_RATE,
            "started_rps": schedule["started_rps"],
            "late_to_start": schedule["late"],
            "worst_late_ms": schedule["worst_late_ms"],
            "not_sent": schedule["skipped"],
            "peak_in_flight": schedule["peak_in_flight"],
            "by_status": result["by_status"],
            "client_errors": result["errors"],
        },
    )
    p99 = delays["p99_ms"]
    sign_to_esp_figure(
        figure,
        f"sign to ESP, open loop {OPEN_RATE:g}/s",
        delays,
        target_p99_ms=SIGN_TO_ESP_TARGET_P99_MS,
        within_target_p99=p99 is not None and p99 < SIGN_TO_ESP_TARGET_P99_MS and not delays["missing"],
    )
    log(
        f"open loop: {esp['count']}/{accepted} emails, drain {done_at - end:.1f} s; sign to ESP p50 "
        f"{delays['p50_ms']} ms p99 {p99} ms max {delays['max_ms']} ms, {delays['missing']} missing"
    )
    return accepted


def add_check(results, name, expected, actual):
    results["checks"][name] = {"expected": expected, "actual": actual, "ok": expected == actual}


def attempt(results, what, function, *args):
    """Run one step whose failure should not end the run: note it and go on."""
    try:
        return function(*args)
    except BenchError as exc:
        text = str(exc).strip()
        last = text.splitlines()[-1] if text else "?"
        results["notes"].append(f"{what} failed: {last}")
        results.setdefault("step_errors", {})[what] = text[-6000:]
        log(f"{what} failed: {last}")
        return None


def finish(results):
    """The totals over every phase that ran, also after a failed run."""
    totals = results["status_totals"]
    if any(name in results["phases"] for name in ("baseline_c4", "sign")):
        add_check(results, "5xx answers across all phases", 0, totals["5xx"])
        add_check(results, "client-side errors (connect/read/timeout) across all phases", 0, totals["errors"])
        results["figures"].append({"name": "5xx answers across all phases", "value": totals["5xx"], "unit": "answers"})
        results["figures"].append({"name": "4xx answers across all phases", "value": totals["4xx"], "unit": "answers"})
    busiest = max(
        ((name, phase["cpu_cores"].get("other processes", 0)) for name, phase in results["phases"].items()
         if isinstance(phase, dict) and "cpu_cores" in phase),
        key=lambda item: item[1],
        default=None,
    )  # fmt: skip
    if busiest and busiest[1] >= 0.2:
        results["notes"].append(
            f"processes outside the bench used up to {busiest[1]} of {CORES} cores (phase {busiest[0]}): "
            "figures are noisier than on an idle machine"
        )
    errors = server_errors()
    if errors:
        results["server_errors"] = errors
        results["notes"].append(f"gunicorn logged {len(errors)} request errors; first: {errors[0]}")


def server_errors(limit=20):
    """The exception lines of the tracebacks the web workers logged (see bench/gunicorn.conf.py)."""
    return logged_errors(VAR / "gunicorn.log", limit=limit)


def report(results):
    lines = []
    for f in results["figures"]:
        value = f["value"]
        text = "n/a" if value is None else (f"{value:,.1f}" if isinstance(value, float) else f"{value:,}")
        line = f"{f['name']:<62} " + (f"c={f['concurrency']:<3} " if "concurrency" in f else " " * 6)
        line += f"{text:>10} {f['unit']:<16}"
        if "p50_ms" in f:
            line += f" p50 {f['p50_ms']} ms  p99 {f['p99_ms']} ms"
        if "max_ms" in f:
            line += f"  max {f['max_ms']} ms  ({f['emails']} emails, {f['missing']} missing)"
        if "target_p99_ms" in f:
            line += f"  ({'within' if f['within_target_p99'] else 'NOT within'} p99 < {f['target_p99_ms']} ms)"
        if "offered_rps" in f:
            line += (
                f"  offered {f['offered_rps']:g}/s, started {f['started_rps']}/s, {f['late_to_start']} late, "
                f"{f['not_sent']} not sent, peak {f['peak_in_flight']} in flight, {f['by_status']}"
            )
        if "ratio_to_baseline" in f:
            ratio = f["ratio_to_baseline"]
            line += f"  {'n/a' if ratio is None else f'{ratio:.3f}'}x baseline"
        if "non_2xx_3xx" in f:
            line += f"  non-2xx/3xx {f['non_2xx_3xx']}"
        if "emails" in f and "max_ms" not in f:
            line += f"  ({f['emails']} emails{'; ' + f['why_no_rate'] if 'why_no_rate' in f else ''})"
        if "within_target" in f:
            verdict = "within" if f["within_target"] else "NOT within"
            line += f"  ({verdict} {f['target_s']:.0f} s; {f['sent_of_accepted']} sent)"
        lines.append(line.rstrip())
    for name, c in results["checks"].items():
        lines.append(f"check {'PASS' if c['ok'] else 'FAIL'}: {name}: expected {c['expected']}, got {c['actual']}")
    for note in results["notes"]:
        lines.append(f"note: {note}")
    if results.get("error"):
        lines.append(f"error: the run stopped early: {results['error'].strip().splitlines()[-1]}")
    return "\n".join(lines)


def write(results):
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=2, default=str)
    if RESULTS_NAME:  # bench/scaling.py: one file per configuration, latest.json left alone
        (RESULTS / f"{RESULTS_NAME}.json").write_text(text + "\n")
        return RESULTS / f"{RESULTS_NAME}.json"
    stamp = results["started_at"].replace(":", "").replace("-", "").replace("+0000", "Z")
    (RESULTS / "latest.json").write_text(text + "\n")
    (RESULTS / f"{stamp}.json").write_text(text + "\n")
    return RESULTS / "latest.json"


def entry():
    def on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    results, error = new_results(), None
    try:
        main(results)
    except (BenchError, subprocess.TimeoutExpired, KeyboardInterrupt) as exc:
        error = exc
        results["error"] = f"{type(exc).__name__}: {exc}"[-6000:]
    finally:
        stop_all()
        drop_stores()
    finish(results)
    results["wall_s"] = round(time.monotonic() - started_wall, 1)
    results["ok"] = error is None and all(c["ok"] for c in results["checks"].values())
    print(report(results))
    print(f"total wall time {results['wall_s']} s; results in {write(results).relative_to(ROOT)}")
    if error is not None:
        print(f"bench failed: {error}", file=sys.stderr)
        return 2
    return 0 if results["ok"] else 1


if __name__ == "__main__":
    sys.exit(entry())
