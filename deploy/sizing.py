"""How many cores of each part a sign rate needs, from `make bench`'s measured figures.

    .venv/bin/python deploy/sizing.py [--signs 1000] [--confirm-rate 0.7] [--esp-latency 0.15]

Reads ``bench/results/latest.json`` (or ``--results``): each phase's requests per second
(``rps``) and the CPU each process group used meanwhile (``cpu_cores``), so a cost per request
is ``cpu_cores[group] / rps``. Everything it prints is that arithmetic, scaled linearly to the
asked rate: an extrapolation from one 2-core machine, where the load client, the workers,
PostgreSQL and Redis shared the cores. Re-run it after a new bench run (issue 12 makes the
sign request cheaper) and the figures follow.

Two steps of a signer's journey are not loaded by the bench: the "check your email" page
the sign's 302 leads to (``signed/``) and the confirm page a link opens (GET). Their cost is
taken relative to the sign POST, measured in one process with Django's test client
(``UNMEASURED_STEPS``; deploy/README.md, "How many of each", says how).
"""

import argparse
import json
import math
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: CPU of a step the bench does not load, as a multiple of the sign POST's, measured in one
#: process (500 interleaved requests each, DEBUG off, PostgreSQL and Redis on 127.0.0.1):
#: sign POST 1.97 ms, signed/ GET 7.09 ms, confirm page GET 19.77 ms, confirm POST 6.67 ms,
#: cached page 0.25 ms, count.json 0.36 ms (2026-12-01, main at 2f82cab). Since issue 12 the
#: signed/ page is the page cache's shared copy, so it costs what a cached page does (0.13×).
UNMEASURED_STEPS = {"signed/ GET": 0.13, "confirm page GET": 10.05}


def per_request(phase, group):
    """CPU seconds of ``group`` per request of ``phase`` (None when the phase did not report it)."""
    cores = phase.get("cpu_cores", {}).get(group)
    return cores / phase["rps"] if cores is not None else None


def worst(phases, names, group):
    """The highest cost per request among ``names``, and the phase it came from."""
    costs = [(per_request(phases[name], group), name) for name in names if name in phases]
    return max((cost, name) for cost, name in costs if cost is not None)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    parser.add_argument("--signs", type=float, default=1000, help="sign requests a second")
    parser.add_argument("--confirm-rate", type=float, default=0.7, help="share of signers who confirm")
    parser.add_argument("--esp-latency", type=float, default=0.15, help="seconds the ESP takes per email")
    parser.add_argument("--utilisation", type=float, default=0.7, help="target CPU use of a machine")
    args = parser.parse_args(argv)
    results = json.loads(args.results.read_text())
    phases = results["phases"]
    signs = args.signs
    confirms = signs * args.confirm_rate

    print(f"from {args.results.relative_to(ROOT)} (run started {results['started_at']}, "
          f"{results['machine']['cores']} cores)")  # fmt: skip
    sign_web, sign_phase = worst(phases, ("sign", "burst", "backlog_signs"), "gunicorn")
    confirm_web = per_request(phases["verify"], "gunicorn")
    print(f"web CPU per sign POST     {1000 * sign_web:5.2f} ms  (phases.{sign_phase}: cpu_cores.gunicorn / rps)")
    print(f"web CPU per confirm POST  {1000 * confirm_web:5.2f} ms  (phases.verify)")
    steps = {"sign POST": signs * sign_web, "confirm POST": confirms * confirm_web}
    steps["signed/ GET"] = signs * sign_web * UNMEASURED_STEPS["signed/ GET"]
    steps["confirm page GET"] = confirms * sign_web * UNMEASURED_STEPS["confirm page GET"]
    for name, cores in steps.items():
        print(f"  {name:18s} {cores:6.2f} cores at 100%")
    bench_only = steps["sign POST"] + steps["confirm POST"]
    journey = sum(steps.values())
    print(f"web, the two POSTs alone: {bench_only:.2f} cores -> {math.ceil(bench_only / args.utilisation)} "
          f"at {args.utilisation:.0%}")  # fmt: skip
    print(f"web, the whole journey:   {journey:.2f} cores -> {math.ceil(journey / args.utilisation)} "
          f"at {args.utilisation:.0%} (page and count.json from the CDN)")  # fmt: skip

    drain = phases["backlog_pipeline"]
    emails_per_s = drain["emails"] / drain["drain_s"]
    email_cpu = drain["cpu_cores_while_draining"]["celery"] / emails_per_s
    print(f"worker CPU per email      {1000 * email_cpu:5.2f} ms  (phases.backlog_pipeline: "
          f"{drain['emails']} emails in {drain['drain_s']} s, cpu_cores_while_draining.celery)")  # fmt: skip
    worker_cores = signs * email_cpu
    senders = signs * (args.esp_latency + email_cpu)
    print(f"workers: {worker_cores:.2f} cores at 100% -> {math.ceil(worker_cores / args.utilisation)}; "
          f"{math.ceil(senders)} sends in flight at {args.esp_latency * 1000:.0f} ms per email")  # fmt: skip

    pg_sign, pg_phase = worst(phases, ("sign", "backlog_signs"), "postgres")
    pg_confirm = per_request(phases["verify"], "postgres")
    pg_email = drain["cpu_cores_while_draining"].get("postgres", 0) / emails_per_s
    pg = signs * pg_sign + confirms * pg_confirm + signs * pg_email
    print(f"PostgreSQL per sign {1000 * pg_sign:.2f} ms (phases.{pg_phase}), per confirm {1000 * pg_confirm:.2f} ms, "
          f"per email {1000 * pg_email:.3f} ms: {pg:.2f} cores")  # fmt: skip
    redis_sign, redis_phase = worst(phases, ("sign", "burst", "backlog_signs"), "redis")
    redis_confirm = per_request(phases["verify"], "redis")
    redis_email = drain["cpu_cores_while_draining"]["redis"] / emails_per_s
    redis = signs * redis_sign + confirms * redis_confirm + signs * redis_email
    print(f"Redis per sign {1000 * redis_sign:.3f} ms (phases.{redis_phase}), "
          f"per confirm {1000 * redis_confirm:.3f} ms, per email {1000 * redis_email:.3f} ms: "
          f"{redis:.2f} of its one core")  # fmt: skip


if __name__ == "__main__":
    main()
