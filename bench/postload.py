"""A small asyncio HTTP/1.1 client for the POST phases (sign, confirm).

wrk stops at its deadline with requests still in flight, which the server
then completes without anyone counting the answer; the correctness checks
need every request accounted for. This client stops *starting* requests at
the deadline (or when the bodies run out) and waits for those in flight, so
each request sent has exactly one recorded answer (a status or an error).
"""

import asyncio
import time


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


async def _read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    else:
        body = await reader.read()
    keep = headers.get("connection", "").lower() != "close" and lines[0].startswith("HTTP/1.1")
    return status, headers, body, keep


async def _load(host, port, path, bodies, concurrency, duration, headers, timeout):
    head = f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    bodies = iter(bodies)
    results = []  # (label, status or None, latency seconds, error)
    start = time.monotonic()
    deadline = start + duration

    async def client():
        reader = writer = None
        while time.monotonic() < deadline:
            try:
                label, body, *extra = next(bodies)
            except StopIteration:
                break
            data = body.encode()
            own = "".join(f"{k}: {v}\r\n" for k, v in (extra[0] if extra else {}).items())
            request = (head + own + f"Content-Length: {len(data)}\r\n\r\n").encode() + data
            t0 = time.monotonic()
            try:
                if writer is None:
                    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
                writer.write(request)
                status, _, _, keep = await asyncio.wait_for(_read_response(reader), timeout)
                results.append((label, status, time.monotonic() - t0, None))
            except Exception as exc:  # noqa: BLE001 (recorded, not raised)
                results.append((label, None, time.monotonic() - t0, type(exc).__name__))
                keep = False
            if not keep:
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return results, start, time.monotonic()


def run(host, port, path, bodies, *, concurrency=16, duration=15.0, headers=None, timeout=30.0):
    """POST ``bodies`` ((label, form-encoded body) pairs, or triples with that request's own headers,
    e.g. its ``X-Forwarded-For``) for at most ``duration`` seconds.

    Returns a summary like the wrk scripts' (latencies in microseconds) plus
    ``ok_labels``: the labels of requests answered 2xx/3xx.
    """
    results, start, end = asyncio.run(_load(host, port, path, bodies, concurrency, duration, headers or {}, timeout))
    latencies = sorted(r[2] for r in results if r[1] is not None)
    classes = {f"{n}xx": 0 for n in range(1, 6)}
    errors = {}
    for _, status, _, error in results:
        if status is None:
            errors[error] = errors.get(error, 0) + 1
        else:
            classes[f"{status // 100}xx"] += 1
    by_status = {}
    for _, status, _, _ in results:
        if status is not None:
            by_status[str(status)] = by_status.get(str(status), 0) + 1

    def us(value):
        return None if value is None else int(value * 1e6)

    return {
        "requests": len(latencies),
        "sent": len(results),
        "duration_us": us(end - start),
        "latency_us": {
            "p50": us(percentile(latencies, 50)),
            "p90": us(percentile(latencies, 90)),
            "p99": us(percentile(latencies, 99)),
            "max": us(latencies[-1] if latencies else None),
            "mean": (sum(latencies) / len(latencies) * 1e6) if latencies else None,
        },
        "status": classes,
        "by_status": by_status,
        "errors": errors,
        "ok_labels": [label for label, status, _, _ in results if status is not None and 200 <= status < 400],
    }
