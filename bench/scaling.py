"""`make bench-scaling`: the short bench in four configurations, and one table of what scales with what.

Runs bench/run.py once per configuration, one after the other (each its own
fresh database and processes), with 100,000 seeded signatures, 10 s phases,
the GETs at 16 connections only and no burst, open-loop or backlog phase:

    web workers   1 or 2 gunicorn workers (BENCH_WEB_WORKERS)
    Celery        running during the sign and confirm phases, or stopped
                  (BENCH_WORKERS=0: the web tier alone; it drains afterwards)

and prints a table of the bare view's, the page's, sign's and confirm's
requests a second and their ratios to the bare view, per configuration.
Writes bench/results/scaling.json and bench/results/scaling.md (and each
run's own bench/results/scaling-<configuration>.json). About 10 minutes.

Every knob of bench/run.py passes through (BENCH_PORT, BENCH_DB_NAME,
BENCH_SEED_ROWS, ...); BENCH_SCALING_SECONDS sets the phases' length (10). The
first run migrates and leaves a template database the others copy
(BENCH_DB_TEMPLATE), dropped at the end.
"""

# Runs the bench as a child process on this machine.
# ruff: noqa: S603

import json
import os
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
SECONDS = os.environ.get("BENCH_SCALING_SECONDS", "10")
CONFIGURATIONS = [  # (key, web workers, Celery running during the sign and confirm phases)
    ("web2-celery", 2, True),
    ("web1-celery", 1, True),
    ("web2-alone", 2, False),
    ("web1-alone", 1, False),
]
SHORT = {
    "BENCH_SEED_ROWS": os.environ.get("BENCH_SEED_ROWS", "100000"),
    "BENCH_CONCURRENCIES": "16",
    "BENCH_GET_SECONDS": SECONDS,
    "BENCH_SIGN_SECONDS": SECONDS,
    "BENCH_VERIFY_SECONDS": SECONDS,
    "BENCH_BURST_SECONDS": "0",
    "BENCH_OPEN_SECONDS": "0",
    "BENCH_BACKLOG_SECONDS": "0",
}
#: Migrated once, by the first run, and copied by the others (dropped at the end).
TEMPLATE_DB = os.environ.get("BENCH_DB_NAME", "petitions_bench") + "_template"


def drop_template():
    import psycopg

    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE_DB} WITH (FORCE)")


def figure(results, name):
    return next((f for f in results["figures"] if f["name"].startswith(name)), None)


def row(key, web_workers, celery, results):
    """One configuration's line of the table, from its run's results."""
    phases = results.get("phases", {})
    bare = (phases.get("baseline_c16") or {}).get("rps")
    page = (phases.get("page_c16") or {}).get("rps")
    sign = figure(results, "sign POST (302")
    confirm = figure(results, "verification POST confirm/")

    def ratio(value):
        return round(value / bare, 3) if bare and value is not None else None

    return {
        "configuration": key,
        "web_workers": web_workers,
        "celery_during_sign_and_confirm": celery,
        "bare_rps": bare,
        "page_rps": page,
        "sign_rps": sign and sign["value"],
        "confirm_rps": confirm and confirm["value"],
        "page_ratio": ratio(page),
        "sign_ratio": ratio(sign and sign["value"]),
        "confirm_ratio": ratio(confirm and confirm["value"]),
        "checks_ok": bool(results.get("ok")),
        "failed_checks": [name for name, c in results.get("checks", {}).items() if not c["ok"]],
        "error": results.get("error"),
    }


def markdown(rows):
    def cell(value, ratio=False):
        if value is None:
            return "n/a"
        return f"{value:.3f}x" if ratio else f"{value:,.1f}"

    lines = [
        "| web workers | Celery during sign/confirm | bare req/s | page req/s | sign/s | confirm/s "
        "| page/bare | sign/bare | confirm/bare | checks |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['web_workers']} | {'running' if r['celery_during_sign_and_confirm'] else 'stopped'} "
            f"| {cell(r['bare_rps'])} | {cell(r['page_rps'])} | {cell(r['sign_rps'])} | {cell(r['confirm_rps'])} "
            f"| {cell(r['page_ratio'], True)} | {cell(r['sign_ratio'], True)} | {cell(r['confirm_ratio'], True)} "
            f"| {'pass' if r['checks_ok'] else 'FAIL: ' + '; '.join(r['failed_checks'] or [str(r['error'])])} |"
        )
    return "\n".join(lines)


def run_one(key, web_workers, celery):
    """One short bench run in one configuration; its row of the table."""
    env = {
        **os.environ,
        **SHORT,
        "BENCH_WEB_WORKERS": str(web_workers),
        "BENCH_WORKERS": "1" if celery else "0",
        "BENCH_RESULTS_NAME": f"scaling-{key}",
        "BENCH_DB_TEMPLATE": TEMPLATE_DB,
    }
    print(f"[scaling] {key}: {web_workers} web workers, Celery {'running' if celery else 'stopped'}", flush=True)
    path = RESULTS / f"scaling-{key}.json"
    path.unlink(missing_ok=True)
    subprocess.run([sys.executable, str(BENCH / "run.py")], env=env, check=False)
    results = json.loads(path.read_text()) if path.exists() else {"error": "no results written"}
    return row(key, web_workers, celery, results)


def main():
    started = time.monotonic()
    rows = []
    drop_template()  # migrated from this checkout's migrations, not an older one's
    try:
        for key, web_workers, celery in CONFIGURATIONS:
            rows.append(run_one(key, web_workers, celery))
    finally:
        drop_template()
    table = markdown(rows)
    summary = {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - (time.monotonic() - started))),
        "settings": {**SHORT, "concurrency": 16},
        "rows": rows,
        "wall_s": round(time.monotonic() - started, 1),
    }
    (RESULTS / "scaling.json").write_text(json.dumps(summary, indent=2) + "\n")
    (RESULTS / "scaling.md").write_text(table + "\n")
    print(table)
    print(f"scaling: {summary['wall_s']} s; bench/results/scaling.json and scaling.md")
    return 0 if all(r["checks_ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
