"""`make faults`: the fault and soak suite of issue 11, on this machine, in one command.

    python faults/run.py [scenario ...]      default: all, in the issue's order

Starts a stack of its own on 127.0.0.1 (faults/stack.py: PostgreSQL and Redis
instances of its own, the fake ESP, gunicorn, a Celery worker and beat with the
demo site's production settings), runs each scenario (faults/scenarios.py),
prints one PASS/FAIL line per scenario with its figures, and writes
bench/results/faults.json. Exit status: 0 when every scenario passed, 1 when
one failed, 2 when the stack could not start. Every process it started is
stopped at the end, also on failure or Ctrl-C.
"""

import json
import platform
import signal
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]  # the repo's packages, and bench/'s shared harness

from harness import HarnessError  # noqa: E402

from faults import scenarios  # noqa: E402
from faults.load import MAX_IN_FLIGHT  # noqa: E402
from faults.stack import Stack  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def line(scenario):
    """One line a person reads: verdict, name, what ran and what came of it."""
    f, verdict = scenario.get("figures", {}), "PASS" if scenario.get("passed") else "FAIL"
    head = f"{verdict} {scenario['name']:<12}"
    if "signs" not in f:
        extra = "; ".join(scenario.get("notes", [])) or json.dumps(f)[:200]
        return f"{head} {extra}"
    text = (
        f"{f['seconds']:g} s at {f['rate']:g}/s: {f['signed']} signed, {f['rows']} rows, "
        f"{f['emails']} emails ({f['duplicate_emails']} dup), {f['confirmed']} confirmed, "
        f"count {f['displayed']} {'=' if f['displayed'] == f['db_verified'] else '!='} db {f['db_verified']}"
    )
    if f.get("recovery_s") is not None:
        text += f"; recovered in {f['recovery_s']} s"
    rss = f.get("rss_mb")
    if rss:
        text += "; rss " + ", ".join(
            f"{k} {rss['start'][k]:.0f}→{rss['end'][k]:.0f} MB ({rss['growth_pct'][k]:+.1f}%)" for k in rss["start"]
        )
    for key, value in f.items():
        if key.startswith(
            ("signed_share_during", "page_gets_failed_during", "refused_429", "queued_when", "esp_failed", "esp_hung")
        ):
            text += f"; {key.replace('_', ' ')} {value}"
    text += f"; {f['fives']} 5xx"
    if f.get("skipped_signs"):
        text += f"; {f['skipped_signs']} signs not sent (the client held {MAX_IN_FLIGHT} waiting)"
    revived = [n for n in scenario.get("notes", []) if "restarted" in n]
    if revived:
        text += f"; {'; '.join(revived)}"
    failed = [name for name, c in {**scenario.get("invariants", {}), **scenario["checks"]}.items() if not c["ok"]]
    if failed:
        text += f"  [failed: {', '.join(failed)}]"
    return f"{head} {text}"


def serialisable(scenario):
    return {k: v for k, v in scenario.items() if k != "results"}


def write(report):
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "faults.json"
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    return path


def main(argv):
    names = argv or list(scenarios.SCENARIOS)
    unknown = [n for n in names if n not in scenarios.SCENARIOS]
    if unknown:
        print(f"unknown scenario(s) {unknown}; choose from {list(scenarios.SCENARIOS)}", file=sys.stderr)
        return 2

    def on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    report = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": scenarios.QUICK,
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "scenarios": [],
    }
    started, stack, status = time.monotonic(), None, 0
    try:
        if any(n != "disk-full" for n in names):
            stack = Stack()
            stack.open()
            report["machine"]["postgresql"] = stack.server_version
        for name in names:
            number, function = scenarios.SCENARIOS[name]
            t = time.monotonic()
            try:
                scenario = function(stack)
            except HarnessError as exc:
                scenario = {"name": name, "passed": False, "checks": {}, "notes": [f"the scenario broke: {exc}"]}
            except Exception:  # noqa: BLE001 (one broken scenario must not hide the others)
                scenario = {"name": name, "passed": False, "checks": {}, "notes": [traceback.format_exc()[-1500:]]}
            scenario.update(number=number, wall_s=round(time.monotonic() - t, 1))
            print(line(scenario), flush=True)
            report["scenarios"].append(serialisable(scenario))
            write(report)
    except (HarnessError, KeyboardInterrupt) as exc:
        report["error"] = f"{type(exc).__name__}: {exc}"[-4000:]
        print(f"faults stopped: {report['error']}", file=sys.stderr)
        status = 2
    finally:
        if stack is not None:
            stack.close()
    report["wall_s"] = round(time.monotonic() - started, 1)
    report["ok"] = status == 0 and all(s["passed"] for s in report["scenarios"])
    print(f"{sum(s['passed'] for s in report['scenarios'])}/{len(report['scenarios'])} scenarios passed in "
          f"{report['wall_s']} s; results in {write(report).relative_to(ROOT)}")  # fmt: skip
    return status or (0 if report["ok"] else 1)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
