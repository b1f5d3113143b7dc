"""The invariants every fault scenario ends with, held against what the clients saw.

1. every sign answered 2xx/3xx has exactly one row;
2. every row owed an email has exactly one accepted by the ESP (at most ``allow_emails``
   where the fault can make a second one: the ESP took the first and the fault came
   before the row recorded it);
3. every confirmed token's signature is verified, and the verified rows are exactly those;
4. after one reconcile the displayed count (the page's ``data-count`` and count.json)
   equals the database's verified count;
5. no 500 reached a client: every 5xx is a 503 with ``Retry-After``, and gunicorn
   logged no traceback.

``recover()`` first waits (polling, with a deadline) until every stored row has its
email at the ESP, which is what "the system recovered" means for the outbox.
"""

import json
import time
from collections import Counter

from harness import server_errors

#: Email statuses of rows the worker handled without owing an email to the ESP.
NOT_OWED = {"capped", "refused"}


def answered(records):
    return [r for r in records if r.status is not None and 200 <= r.status < 400]


def status_counts(records):
    counts = Counter(str(r.status) if r.status is not None else f"error:{r.error}" for r in records)
    return dict(sorted(counts.items()))


def rows_of(stack, petition_id):
    return stack.h.djside("rows", petition_id)["rows"]


def email_gaps(stack, petition_id):
    """Rows owed an email that the ESP has not accepted yet, and the ESP's tallies."""
    rows = rows_of(stack, petition_id)
    tally = stack.esp("/accepted")
    accepted = tally["accepted"]
    missing = [r for r in rows if r[3] not in NOT_OWED and accepted.get(str(r[0]), 0) == 0]
    return rows, tally, missing


def recover(stack, petition_id, limit, notes):
    """Wait until every owed row's email reached the ESP (at most ``limit`` seconds); the seconds it took."""
    started = time.monotonic()
    while True:
        stack.revive(notes)
        rows, tally, missing = email_gaps(stack, petition_id)
        if not missing:
            return round(time.monotonic() - started, 1), rows, tally
        if time.monotonic() - started > limit:
            notes.append(f"{len(missing)} of {len(rows)} rows still had no email at the ESP after {limit:.0f} s")
            return None, rows, tally
        time.sleep(3)


def live_count(stack, petition_id):
    """count.json's count (None when it did not answer one)."""
    status, _, body = stack.h.http_get(f"/api/petitions/{petition_id}/count.json")
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data.get("count") if status == 200 and isinstance(data, dict) else None


def counts_settle(stack, petition_id, page_path, expected, limit=30):
    """Poll count.json and the page (its shared copy lives PAGE_CACHE_SECONDS) until both show ``expected``."""
    deadline = time.monotonic() + limit
    while True:
        shown = stack.h.displayed_count(petition_id, page_path)
        shown.pop("count_json_body", None)
        if shown.get("count_json") == expected and shown.get("page_count") == expected:
            return True, shown
        if time.monotonic() > deadline:
            return False, shown
        time.sleep(1)


def check(stack, scenario, load_results, *, log_offset, allow_emails=1, recovery_limit=300, extra_confirmed=()):
    """Recover, then hold the five invariants; returns (invariants, figures, notes)."""
    petition_id, page_path = scenario["petition_id"], scenario["path"]
    notes = scenario.setdefault("notes", [])
    recovery_s, rows, tally = recover(stack, petition_id, recovery_limit, notes)
    invariants, figures = {}, {"recovery_s": recovery_s}

    # 1. every 2xx/3xx sign has exactly one row
    signed = [r.label for r in answered(load_results.signs)]
    by_email = Counter(r[1] for r in rows)
    missing_rows = [e for e in signed if by_email.get(e, 0) == 0]
    doubled_rows = [e for e, n in by_email.items() if n > 1]
    unanswered_rows = len(set(by_email) - set(signed))
    invariants["rows"] = {
        "ok": not missing_rows and not doubled_rows,
        "signed": len(signed),
        "rows": len(rows),
        "missing": missing_rows[:10],
        "missing_count": len(missing_rows),
        "more_than_one": doubled_rows[:10],
        "rows_without_a_2xx_3xx_answer": unanswered_rows,
    }

    # 2. every row owed an email has exactly one at the ESP (or at most allow_emails)
    accepted = tally["accepted"]
    owed = [r for r in rows if r[3] not in NOT_OWED]
    per_row = Counter(accepted.get(str(r[0]), 0) for r in owed)
    too_many = [r[0] for r in owed if accepted.get(str(r[0]), 0) > allow_emails]
    none = [r[0] for r in owed if accepted.get(str(r[0]), 0) == 0]
    dups = sum(n for k, n in per_row.items() if k > 1)
    invariants["emails"] = {
        "ok": not too_many and not none,
        "owed": len(owed),
        "emails_per_row": {str(k): v for k, v in sorted(per_row.items())},
        "allowed_per_row": allow_emails,
        "rows_without_email": none[:10],
        "rows_without_email_count": len(none),
        "rows_over_allowance": too_many[:10],
        "failed_or_hung_at_esp": {
            kind: sum(tally[kind].get(str(r[0]), 0) for r in rows) for kind in ("failed", "hung")
        },
    }
    figures.update(
        emails=sum(accepted.get(str(r[0]), 0) for r in owed),
        duplicate_emails=dups,
        **{f"esp_{kind}": n for kind, n in invariants["emails"]["failed_or_hung_at_esp"].items() if n},
    )

    # 3. every confirmed token's signature is verified, once
    confirmed = set(load_results.confirmed_ids) | set(extra_confirmed)
    status_by_id = {r[0]: r[2] for r in rows}
    not_verified = [i for i in confirmed if status_by_id.get(i) != "verified"]
    verified_ids = {r[0] for r in rows if r[2] == "verified"}
    uncertain = set(load_results.uncertain_ids)  # a confirm with no answer may have verified
    invariants["verified"] = {
        "ok": not not_verified and confirmed <= verified_ids <= confirmed | uncertain,
        "unanswered_confirms": len(uncertain),
        "confirmed": len(confirmed),
        "verified_rows": len(verified_ids),
        "confirmed_not_verified": not_verified[:10],
        "verified_not_confirmed": sorted(verified_ids - confirmed - uncertain)[:10],
    }

    # 4. the displayed count equals the database after one reconcile
    try:
        once = stack.h.djside("reconcile_once", petition_id)
    except Exception as exc:  # noqa: BLE001 (an invariant failure, not a crash)
        once = {"error": str(exc)[-500:], "db_verified": len(verified_ids)}
    settled, shown = counts_settle(stack, petition_id, page_path, once["db_verified"])
    invariants["count"] = {"ok": settled and "error" not in once, "db_verified": once["db_verified"], **shown}
    if "error" in once:
        invariants["count"]["reconcile_error"] = once["error"]

    # 5. no 500: every 5xx a 503 with Retry-After; no traceback in gunicorn's log
    every = load_results.signs + load_results.confirms + load_results.gets
    fives = [r for r in every if r.status is not None and r.status >= 500]
    bad = [r for r in fives if r.status != 503 or not r.retry_after]
    tracebacks = server_errors(stack.h.var / "gunicorn.log", start=log_offset)
    invariants["no_500"] = {
        "ok": not bad and not tracebacks,
        "5xx": len(fives),
        "503_with_retry_after": len(fives) - len(bad),
        "other_5xx": status_counts(bad),
        "tracebacks": tracebacks[:10],
        "client_errors": sum(1 for r in every if r.error),
    }
    figures.update(
        signs=len(load_results.signs),
        signed=len(signed),
        rows=len(rows),
        confirmed=len(confirmed),
        db_verified=once["db_verified"],
        displayed=shown.get("count_json"),
        page_count=shown.get("page_count"),
        sign_statuses=status_counts(load_results.signs),
        confirm_statuses=status_counts(load_results.confirms),
        get_statuses=status_counts(load_results.gets),
        skipped_signs=load_results.skipped,
        fives=len(fives),
    )
    return invariants, figures, notes
