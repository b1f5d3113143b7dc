"""The fault scenarios of issue 11: each injects one fault while a steady load signs and confirms.

Each scenario gets a fresh petition (so its rows, emails and rate limits are its
own), starts the load, injects its fault at fixed offsets into the load, lets the
system recover and holds the invariants of faults/checks.py, plus its own checks.
Durations follow the issue; each is an environment knob, and ``FAULTS_QUICK=1``
shortens them all for development.
"""

# A harness that starts local processes and talks HTTP to 127.0.0.1 only.
# ruff: noqa: S603

import asyncio
import itertools
import os
import subprocess
import time
from pathlib import Path
from urllib.parse import urlencode

from harness import PY, json_line, wait_for

from faults import checks
from faults.load import Load, request

ROOT = Path(__file__).resolve().parent.parent
QUICK = os.environ.get("FAULTS_QUICK") == "1"
RATE = float(os.environ.get("FAULTS_RATE", "50"))
petition_numbers = itertools.count(1)


def knob(name, full, quick):
    """A duration or size: the environment's, else the issue's (or the quick one with FAULTS_QUICK=1)."""
    return float(os.environ.get(name, quick if QUICK else full))


RECOVERY_LIMIT = knob("FAULTS_RECOVERY_SECONDS", 420, 240)
#: The share of signs (and page reads) a degraded site must still answer during a Redis outage.
MIN_SHARE = float(os.environ.get("FAULTS_MIN_SHARE", "0.99"))


def new_petition(stack, name):
    slug = f"faults-{name}-{os.getpid()}-{next(petition_numbers)}"
    return stack.h.djside("petition", stack_port(stack), slug)


def stack_port(stack):
    return int(stack.h.base.rsplit(":", 1)[1])


def in_window(records, start, end):
    return [r for r in records if start <= r.t < end]


def share(records, predicate):
    return round(sum(1 for r in records if predicate(r)) / len(records), 4) if records else None


def accepted(record):
    return record.status is not None and 200 <= record.status < 400


def run_load(stack, name, seconds, fault, *, rate=RATE, allow_emails=1, **load_options):
    """The shared shape: a petition, the load, the fault during it, recovery, the invariants."""
    scenario = {"name": name, **new_petition(stack, name), "notes": [], "checks": {}, "figures": {}}
    log_offset = stack.gunicorn_log_offset()
    stack.log(f"{name}: {seconds:g} s at {rate:g}/s on petition {scenario['petition_id']}")
    load = Load(stack, scenario["petition_id"], scenario["path"], rate=rate, seconds=seconds, tag=name, **load_options)
    load.start()
    try:
        fault(load, scenario)
    except BaseException:  # Ctrl-C or a broken fault: stop starting requests, let those in flight end
        load.stopping.set()
        load.join()
        raise
    results = load.join()
    extra_confirmed = scenario.pop("extra_confirmed", ())
    invariants, figures, _ = checks.check(
        stack,
        scenario,
        results,
        log_offset=log_offset,
        allow_emails=allow_emails,
        recovery_limit=RECOVERY_LIMIT,
        extra_confirmed=extra_confirmed,
    )
    scenario["figures"] = {"seconds": seconds, "rate": rate, **figures, **scenario["figures"]}
    scenario["invariants"] = invariants
    scenario["passed"] = all(c["ok"] for c in invariants.values()) and all(c["ok"] for c in scenario["checks"].values())
    scenario["results"] = results
    return scenario


# --- 1. soak ---------------------------------------------------------------------------


def soak(stack):
    seconds, warmup = knob("FAULTS_SOAK_SECONDS", 600, 60), knob("FAULTS_SOAK_WARMUP", 30, 10)

    def fault(load, scenario):
        load.wait_until(warmup)
        start = {"web": stack.rss_mb("gunicorn"), "worker": stack.rss_mb("celery")}
        load.wait_until(seconds - 1)
        end = {"web": stack.rss_mb("gunicorn"), "worker": stack.rss_mb("celery")}
        growth = {k: round((end[k] - start[k]) / start[k] * 100, 1) if start[k] else None for k in start}
        scenario["figures"]["rss_mb"] = {"start": start, "end": end, "growth_pct": growth}
        scenario["checks"]["memory"] = {"ok": all(g is not None and g <= 10 for g in growth.values()), **growth}

    return run_load(stack, "soak", seconds, fault)


# --- 2. surge --------------------------------------------------------------------------


def surge(stack):
    seconds, rate = knob("FAULTS_SURGE_SECONDS", 60, 15), knob("FAULTS_SURGE_RATE", 200, 200)

    def fault(load, scenario):
        pass  # the fault is the load itself: one address at four times the steady rate

    scenario = run_load(stack, "surge", seconds, fault, rate=rate, one_client="203.0.113.77", page_rate=0)
    signs = scenario["results"].signs
    refused = [r for r in signs if r.status == 429]
    fives = [r for r in signs if r.status is not None and r.status >= 500]
    scenario["figures"].update(refused_429=len(refused), fives_share=share(signs, lambda r: (r.status or 0) >= 500))
    scenario["checks"]["429_with_retry_after"] = {
        "ok": bool(refused) and all(r.retry_after for r in refused),
        "429": len(refused),
        "without_retry_after": sum(1 for r in refused if not r.retry_after),
    }
    scenario["checks"]["5xx_at_most_0.1pct"] = {"ok": len(fives) <= 0.001 * len(signs), "5xx": len(fives)}
    return finish(scenario)


# --- 3. twenty parallel clicks of one confirm link ---------------------------------------


def clicks(stack):
    seconds, parallel = knob("FAULTS_CLICKS_SECONDS", 20, 10), int(knob("FAULTS_CLICKS", 20, 20))

    def fault(load, scenario):
        def first_token():
            for token, signature_id, petition_id in stack.esp("/tokens?since=0")["tokens"]:
                if str(petition_id) == str(scenario["petition_id"]):
                    scenario["token"] = (token, int(signature_id))
                    return True
            return False

        wait_for(first_token, 60, "a confirmation email for the clicks", interval=0.5)
        token, signature_id = scenario["token"]
        answers = asyncio.run(click_together(load, scenario["petition_id"], token, parallel))
        statuses = [a if isinstance(a, int) else f"error:{a}" for a in answers]
        scenario["extra_confirmed"] = {signature_id}
        live = wait_live_count(stack, scenario["petition_id"], 1)
        scenario["figures"].update(clicks=parallel, click_statuses=checks.Counter(map(str, statuses)), live=live)
        scenario["checks"]["every_click_answered_200"] = {"ok": all(s == 200 for s in statuses)}
        scenario["checks"]["counted_once_live"] = {"ok": live == 1, "count_json_after_clicks": live}

    return finish(run_load(stack, "clicks", seconds, fault, confirm_share=0))


async def click_together(load, petition_id, token, parallel):
    """``parallel`` confirm POSTs of one token, released together once every connection is open."""
    body = urlencode({"token": token}).encode()
    gate = asyncio.Event()

    async def click(n):
        await gate.wait()
        try:
            status, _ = await request(
                load.host,
                load.port,
                "POST",
                f"/petitions/{petition_id}/confirm/",
                body,
                {"Origin": load.base, "X-Forwarded-For": f"192.0.2.{n + 10}"},
            )
            return status
        except Exception as exc:  # noqa: BLE001 (recorded)
            return type(exc).__name__

    tasks = [asyncio.create_task(click(n)) for n in range(parallel)]
    await asyncio.sleep(0)  # let every click reach the gate
    gate.set()
    return await asyncio.gather(*tasks)


def wait_live_count(stack, petition_id, expected, limit=10):
    """count.json (the live count, before any reconcile) once it reached ``expected``, held a moment."""
    deadline = time.monotonic() + limit
    value = None
    while time.monotonic() < deadline:
        value = checks.live_count(stack, petition_id)
        if value is not None and value >= expected:
            break
        time.sleep(0.25)
    return value


# --- 4. Redis killed, 5. Redis flushed ---------------------------------------------------


def redis_kill(stack):
    pre, outage, post = 10, knob("FAULTS_REDIS_OUTAGE", 60, 15), 20

    def fault(load, scenario):
        load.wait_until(pre)
        stack.log("redis-kill: SIGKILL Redis")
        stack.redis.stop()
        load.wait_until(pre + outage)
        stack.redis.start()
        stack.log("redis-kill: Redis back, empty")

    scenario = run_load(stack, "redis-kill", pre + outage + post, fault)
    # From a second after the kill (requests in flight at that moment may fail) to the restart.
    signed, served, signs, gets = outage_figures(scenario, pre + 1, pre + outage, "redis")
    scenario["checks"]["signing_kept_working"] = {
        "ok": signed is not None and signed >= MIN_SHARE,
        "signed_share": signed,
        "statuses": checks.status_counts(signs),
    }
    scenario["checks"]["page_kept_serving"] = {
        "ok": served is not None and served >= MIN_SHARE,
        "served_share": served,
        "statuses": checks.status_counts(gets),
    }
    return finish(scenario)


def outage_figures(scenario, start, end, what):
    results = scenario["results"]
    signs, gets = in_window(results.signs, start, end), in_window(results.gets, start, end)
    signed, served = share(signs, accepted), share(gets, lambda r: r.status == 200)
    scenario["figures"].update(
        {
            f"signs_during_{what}_outage": len(signs),
            f"signed_share_during_{what}_outage": signed,
            f"sign_statuses_during_{what}_outage": checks.status_counts(signs),
            f"page_gets_during_{what}_outage": len(gets),
            f"page_gets_failed_during_{what}_outage": sum(1 for r in gets if r.status != 200),
        }
    )
    return signed, served, signs, gets


def redis_flush(stack):
    queued = int(knob("FAULTS_FLUSH_QUEUED", 1000, 300))
    seconds = 5 + queued / RATE + 15

    def fault(load, scenario):
        load.wait_until(5)
        stack.pause_worker()
        paused_at = load.now()
        try:
            deadline = time.monotonic() + queued / RATE * 3 + 30
            while sum(1 for r in in_window(load.results.signs, paused_at, 1e9) if accepted(r)) < queued:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            held = sum(1 for r in in_window(load.results.signs, paused_at, 1e9) if accepted(r))
            stack.log(f"redis-flush: FLUSHALL with {held} emails queued")
            stack.redis.flushall()
        finally:
            stack.resume_worker()
        scenario["figures"]["queued_when_flushed"] = held
        scenario["checks"]["queued_enough"] = {"ok": held >= queued, "queued": held, "wanted": queued}

    return finish(run_load(stack, "redis-flush", seconds, fault))


# --- 6. the worker SIGKILLed mid-batch ---------------------------------------------------


def worker_kill(stack):
    pre, down, post = 10, knob("FAULTS_WORKER_DOWN", 10, 5), 20
    delay = knob("FAULTS_SLOW_DELAY", 0.1, 0.1)

    def fault(load, scenario):
        load.wait_until(pre - 5)
        stack.esp_mode("slow", delay)  # each batch of 25 takes seconds: batches are in flight at the kill
        load.wait_until(pre)
        before = sum(stack.esp("/accepted")["accepted"].values())
        stack.log("worker-kill: SIGKILL the Celery worker's process group")
        stack.kill_worker()
        load.wait_until(pre + down)
        stack.start_worker()
        stack.esp_mode("ok")
        scenario["figures"]["emails_accepted_before_kill"] = before

    # A message the ESP accepted just before the kill, whose row the killed process never marked
    # sent, is sent again by the redelivered task or the sweeper: two are allowed.
    return finish(run_load(stack, "worker-kill", pre + down + post, fault, allow_emails=2))


# --- 7. the ESP fails, the ESP hangs -----------------------------------------------------


def esp_outage(stack, name, mode, seconds):
    """The ESP in ``mode`` (``fail``: 503s; ``hang``: no answer) for ``seconds`` of the load, then well again."""
    pre, post = 10, 20

    def fault(load, scenario):
        load.wait_until(pre)
        stack.esp_mode(mode)
        load.wait_until(pre + seconds)
        stack.esp_mode("ok")

    return finish(run_load(stack, name, pre + seconds + post, fault))


def esp_fail(stack):
    return esp_outage(stack, "esp-5xx", "fail", knob("FAULTS_ESP_FAIL_SECONDS", 300, 20))


def esp_hang(stack):
    # Longer than the send timeout, also when quick: the timeout must fire.
    return esp_outage(stack, "esp-hang", "hang", knob("FAULTS_ESP_HANG_SECONDS", 120, 45))


# --- 8. PostgreSQL restarted -------------------------------------------------------------


def pg_restart(stack):
    pre, hold, post = 10, knob("FAULTS_PG_DOWN_SECONDS", 10, 5), 20

    def fault(load, scenario):
        load.wait_until(pre)
        stack.log(f"pg-restart: stop -m fast, {hold:g} s down, start")
        started = load.now()
        stack.pg.stop("fast")
        time.sleep(hold)  # the outage's length is the fault; nothing waits on it to synchronise
        stack.pg.start()
        scenario["figures"]["gap_s"] = round(load.now() - started, 1)
        scenario["gap"] = (started, load.now())

    # The ESP can take an email whose row the worker then cannot mark sent (its connection died):
    # the retry sends it again. Two are allowed.
    scenario = run_load(stack, "pg-restart", pre + hold + post + 10, fault, allow_emails=2, page_rate=10)
    start, end = scenario.pop("gap")
    signed, served, signs, gets = outage_figures(scenario, start, end + 1, "database")
    scenario["checks"]["signs_during_gap_3xx_or_503"] = {
        "ok": all(accepted(r) or (r.status == 503 and r.retry_after) for r in signs),
        "statuses": checks.status_counts(signs),
    }
    scenario["checks"]["page_served_during_gap"] = {
        "ok": all(r.status == 200 for r in gets),
        "failed": sum(1 for r in gets if r.status != 200),
        "of": len(gets),
    }
    return finish(scenario)


# --- 9. duplicate and concurrent tasks ---------------------------------------------------


def duplicates(stack):
    seconds = knob("FAULTS_DUP_SECONDS", 60, 20)
    stack.log("duplicates: every task published 3 times, two beats")
    stack.stop_apps()
    stack.start_apps({"FAULTS_TASK_COPIES": "3"}, beats=2)
    try:

        def fault(load, scenario):
            load.wait_until(seconds / 2)
            twice = stack.h.djside("reconcile_twice", scenario["petition_id"])
            scenario["figures"]["reconcile_twice"] = twice
            ran = [r for r in twice["results"] if isinstance(r, int)]
            scenario["checks"]["two_reconciles_at_once"] = {
                "ok": not any(isinstance(r, str) for r in twice["results"]) and len(set(ran)) <= 1,
                **twice,
            }

        scenario = run_load(stack, "duplicates", seconds, fault)
    finally:
        stack.stop_apps()
        stack.start_apps()
    return finish(scenario)


# --- 10. disk full in the embedded demo (faults/disk_full.py) ----------------------------


def disk_full(stack=None):
    script = ROOT / "faults" / "disk_full.py"
    scenario = {"name": "disk-full", "figures": {}, "checks": {}, "invariants": {}, "notes": []}
    if not script.exists():
        scenario.update(passed=False, notes=["not available: faults/disk_full.py does not exist yet"])
        return scenario
    # SIGTERM, not run()'s SIGKILL, on a timeout: the script then unmounts its small filesystem
    # and stops its demo (it cleans up on SIGTERM and Ctrl-C).
    process = subprocess.Popen([PY, str(script)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = process.communicate(timeout=knob("FAULTS_DISK_TIMEOUT", 900, 600))
    except subprocess.TimeoutExpired:
        process.terminate()
        try:
            process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
        scenario.update(passed=False, notes=["faults/disk_full.py did not finish in time"])
        return scenario
    payload = json_line(stdout, "FAULTS_JSON")
    if payload is None:
        scenario.update(passed=False, notes=[f"no FAULTS_JSON line (exit {process.returncode}): {stderr[-500:]}"])
        return scenario
    scenario.update(
        figures=payload.get("figures", {}),
        notes=payload.get("notes", []),
        passed=bool(payload.get("passed")) and process.returncode == 0,
    )
    return scenario


def finish(scenario):
    scenario["passed"] = all(c["ok"] for c in scenario.get("invariants", {}).values()) and all(
        c["ok"] for c in scenario["checks"].values()
    )
    return scenario


#: name -> (issue number, function)
SCENARIOS = {
    "soak": (1, soak),
    "surge": (2, surge),
    "clicks": (3, clicks),
    "redis-kill": (4, redis_kill),
    "redis-flush": (5, redis_flush),
    "worker-kill": (6, worker_kill),
    "esp-5xx": (7, esp_fail),
    "esp-hang": (7, esp_hang),
    "pg-restart": (8, pg_restart),
    "duplicates": (9, duplicates),
    "disk-full": (10, disk_full),
}
