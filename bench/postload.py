"""The load client of the POST phases (sign, confirm): cheap, and every answer accounted for.

wrk stops at its deadline with requests still in flight, which the server
then completes without anyone counting the answer; the correctness checks
need every request accounted for. This client stops *starting* requests at
the deadline (or when the bodies run out) and waits for those in flight, so
each request sent has exactly one recorded answer (a status or an error).

It shares the two cores with the server it measures, so it costs as little
as it can: one epoll loop over non-blocking sockets, each request encoded
once into one ``send``, its own connection (``Connection: close``, as
gunicorn answers without keep-alive behind a proxy), read to the server's
close, and parsed no further than the status code. (The asyncio client it
replaces spent about 0.75 ms of CPU a request; see bench/README.md.)

Two ways to offer the load:

- closed loop (``concurrency``): that many requests in flight, the next one
  started as one is answered, so a slow server gets fewer requests;
- open loop (``rate``): the n-th request is due at ``n / rate`` seconds and
  starts then (or as soon after as the client can), whatever the server is
  doing, so a slow server shows as latency. At most ``max_in_flight`` wait at
  once; a request due beyond that is not sent and is counted (``skipped``).
"""

import errno
import resource
import select
import socket
import time

LATE_S = 0.010  # an open-loop request starting later than this after its due time counts as late


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


async def _read_response(reader):
    """One HTTP/1.1 response from an asyncio reader: (status, headers, body, keep-alive) (faults/load.py)."""
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


def request_head(host, port, path, headers):
    """The part of every request's head that does not change: request line and shared headers."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
    )
    return head + "".join(f"{k}: {v}\r\n" for k, v in headers.items())


def encode(head, body, headers):
    """The bytes of one form POST: ``head`` (request_head) plus this request's own headers and body."""
    data = body.encode() if isinstance(body, str) else body
    own = "".join(f"{k}: {v}\r\n" for k, v in headers.items()) if headers else ""
    return f"{head}{own}Content-Length: {len(data)}\r\n\r\n".encode() + data


def _status(data):
    """The status code of a whole response, or None when it is not one."""
    if data[:7] != b"HTTP/1." or len(data) < 12:
        return None
    try:
        return int(data[9:12])
    except ValueError:
        return None


def raise_fd_limit(wanted):
    """Raise this process's open-file limit towards ``wanted``; the limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return soft


def _load(host, port, path, bodies, *, concurrency, duration, headers, timeout, rate, max_in_flight):
    """Send the requests; (records, start epoch, end epoch, schedule stats)."""
    address = (host, port)
    head = request_head(host, port, path, headers)
    bodies = iter(bodies)
    records = []  # (label, status or None, send time (epoch), latency s, error or None)
    append = records.append
    epoll = select.epoll()
    EPOLLIN, EPOLLOUT = select.EPOLLIN, select.EPOLLOUT  # noqa: N806
    live = {}  # fd -> [socket, label, monotonic start, request bytes, chunks]
    mono0, wall0 = time.monotonic(), time.time()
    deadline = mono0 + duration
    late = skipped = peak = 0
    worst_late = 0.0
    exhausted = False

    def start(due=None):
        """Start the next request; False when the bodies ran out."""
        nonlocal exhausted, late, worst_late, peak
        try:
            label, body, *extra = next(bodies)
        except StopIteration:
            exhausted = True
            return False
        request = encode(head, body, extra[0] if extra else None)
        t0 = time.monotonic()
        if due is not None and t0 - due > LATE_S:
            late += 1
            worst_late = max(worst_late, t0 - due)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        code = sock.connect_ex(address)
        if code not in (0, errno.EINPROGRESS):
            sock.close()
            append((label, None, wall0 + (t0 - mono0), 0.0, errno.errorcode.get(code, str(code))))
            return True
        # On loopback the handshake is done by the time connect returns: send at once, and wait
        # for writability (one more wake-up) only when the socket is not ready yet.
        try:
            sent = sock.send(request)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:
            if exc.errno != errno.ENOTCONN:
                sock.close()
                append((label, None, wall0 + (t0 - mono0), time.monotonic() - t0, errno.errorcode.get(exc.errno, "")))
                return True
            sent = 0
        fd = sock.fileno()
        rest = request[sent:] or None
        live[fd] = [sock, label, t0, rest, []]
        epoll.register(fd, EPOLLOUT if rest else EPOLLIN)
        peak = max(peak, len(live))
        return True

    def finish(fd, status, error):
        sock, label, t0, _, _ = live.pop(fd)
        epoll.unregister(fd)
        sock.close()
        append((label, status, wall0 + (t0 - mono0), time.monotonic() - t0, error))

    def expire(now):
        for fd in [fd for fd, entry in live.items() if now - entry[2] > timeout]:
            finish(fd, None, "timeout")

    n = 0  # open loop: requests due so far
    next_expiry = mono0 + 1.0
    while True:
        now = time.monotonic()
        if rate is None:
            while not exhausted and len(live) < concurrency and time.monotonic() < deadline:
                start()
            wait = 0.5
        else:
            while not exhausted and n / rate < duration and mono0 + n / rate <= now:
                if len(live) >= max_in_flight:
                    skipped += 1
                else:
                    start(mono0 + n / rate)
                n += 1
            more = not exhausted and n / rate < duration
            wait = min(0.5, max(0.0, mono0 + n / rate - time.monotonic())) if more else 0.5
            if more:
                now = time.monotonic()
        if not live and (rate is None or exhausted or n / rate >= duration):
            break
        if now >= next_expiry:
            expire(now)
            next_expiry = now + 1.0
        for fd, _ in epoll.poll(wait):
            entry = live.get(fd)
            if entry is None:
                continue
            sock = entry[0]
            if entry[3] is not None:  # connecting: send the request once writable
                try:
                    sent = sock.send(entry[3])
                except OSError as exc:
                    finish(fd, None, errno.errorcode.get(exc.errno, type(exc).__name__))
                    continue
                entry[3] = entry[3][sent:] or None
                if entry[3] is None:
                    epoll.modify(fd, EPOLLIN)
                continue
            # Read on while there is something: the server's close usually follows its answer
            # at once, and seeing it now saves a wake-up.
            try:
                while data := sock.recv(262144):
                    entry[4].append(data)
            except BlockingIOError:
                continue
            except OSError as exc:
                finish(fd, None, errno.errorcode.get(exc.errno, type(exc).__name__))
                continue
            # The server closed: the answer is whole (Connection: close).
            answer = entry[4][0] if entry[4] else b""
            if len(answer) < 12 and len(entry[4]) > 1:
                answer = b"".join(entry[4])
            status = _status(answer)
            finish(fd, status, None if status is not None else ("incomplete" if answer else "closed"))
    epoll.close()
    end = time.monotonic()
    schedule = {"late": late, "worst_late_ms": round(worst_late * 1000, 1), "skipped": skipped, "peak_in_flight": peak}
    return records, wall0, wall0 + (end - mono0), schedule


def run(
    host,
    port,
    path,
    bodies,
    *,
    concurrency=16,
    duration=15.0,
    headers=None,
    timeout=30.0,
    rate=None,
    max_in_flight=4000,
    keep_records=False,
):
    """POST ``bodies`` ((label, form-encoded body) pairs, or triples with that request's own headers,
    e.g. its ``X-Forwarded-For``) for at most ``duration`` seconds: ``concurrency`` at a time, or
    open loop at ``rate`` a second (at most ``max_in_flight`` at once).

    Returns a summary like the wrk scripts' (latencies in microseconds) plus ``ok_labels``: the
    labels of requests answered 2xx/3xx, and with ``keep_records`` ``records``: (label, status,
    send time as epoch seconds, latency in seconds, error) of every request sent.
    """
    if rate is not None:
        max_in_flight = min(max_in_flight, raise_fd_limit(max_in_flight + 200) - 200)
    records, start, end, schedule = _load(
        host,
        port,
        path,
        bodies,
        concurrency=concurrency,
        duration=duration,
        headers=headers or {},
        timeout=timeout,
        rate=rate,
        max_in_flight=max_in_flight,
    )
    latencies = sorted(r[3] for r in records if r[1] is not None)
    classes = {f"{n}xx": 0 for n in range(1, 6)}
    errors, by_status = {}, {}
    for _, status, _, _, error in records:
        if status is None:
            errors[error] = errors.get(error, 0) + 1
        else:
            classes[f"{status // 100}xx"] += 1
            by_status[str(status)] = by_status.get(str(status), 0) + 1

    def us(value):
        return None if value is None else int(value * 1e6)

    result = {
        "requests": len(latencies),
        "sent": len(records),
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
        "ok_labels": [r[0] for r in records if r[1] is not None and 200 <= r[1] < 400],
    }
    if rate is not None:
        starts = sorted(r[2] for r in records)
        span = (starts[-1] - start) if len(starts) > 1 else None
        result["open_loop"] = {
            "offered_rps": rate,
            "offered_seconds": duration,
            "due": round(rate * duration),
            "started": len(records),
            "started_rps": round(len(records) / span, 1) if span else None,
            "max_in_flight": max_in_flight,
            **schedule,
        }
    else:
        result["peak_in_flight"] = schedule["peak_in_flight"]
    if keep_records:
        result["records"] = records
    return result
