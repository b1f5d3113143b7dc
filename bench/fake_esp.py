"""A local stand-in for Postmark's send API, for the benchmark only.

anymail's Postmark backend (ANYMAIL_POSTMARK_API_URL=http://127.0.0.1:<port>/)
posts one JSON message to ``/email`` (or a list to ``/email/batch``). This
server accepts them at once, counts them, and appends the confirmation token
found in each message's text to a file, one URL-decoded token a line.

    GET /stats            {"count", "first", "last", "tokens"}  (epoch seconds)
    GET /stats?since=T&until=U   the same, for messages received between T and U
    GET /received?since=N {"received": [[epoch, address], ...], "next": M}: every accepted message's
                          receive time and lower-cased ``To`` address, from the N-th on (the bench
                          joins them to its sign requests' send times: sign to ESP)

For the fault suite (faults/run.py) it can also misbehave, switched at runtime:

    POST /control {"mode": "ok"|"fail"|"hang"|"slow", "delay": s}   the mode from now on
        ok    accept at once (the default)
        fail  answer 503, as an ESP in trouble does (anymail raises AnymailAPIError)
        hang  read the message and never answer, until the mode changes (then the connection closes)
        slow  accept each message ``delay`` seconds after it arrived
    GET /accepted         {"accepted": {signature_id: times answered 200}, "failed": {...}, "hung": {...}}
    GET /tokens?since=N   {"tokens": [[token, signature_id, petition_id], ...], "next": M}: accepted tokens
                          from the N-th on

Messages are told apart by the ``signature_id`` anymail sends in Postmark's ``Metadata``.

Usage: python bench/fake_esp.py --port 8765 --tokens bench/var/tokens.txt
"""

import argparse
import bisect
import json
import re
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

TOKEN = re.compile(r"[?&]token=([^\s&\"'<>]+)")
ADDRESS = re.compile(r"[^\s<>\",]+@[^\s<>\",]+")


MODES = ("ok", "fail", "hang", "slow")
HANG_LIMIT = 900  # seconds a hung request is held at most: every loop of the harness is bounded


def recipient(message: dict):
    """The first address of ``To`` ("Name <a@b>" or "a@b"), lower-cased."""
    match = ADDRESS.search(str(message.get("To") or ""))
    return match.group(0).lower() if match else ""


def signature_id(message: dict):
    return str((message.get("Metadata") or {}).get("signature_id", ""))


class Outbox:
    def __init__(self, tokens_path):
        self.lock = threading.Lock()
        self.times = []  # receive times, ascending
        self.received = []  # (receive time, recipient) of accepted messages, in order
        self.tokens = 0
        self.tokens_file = open(tokens_path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 (server lifetime)
        self.token_list = []  # (token, signature_id, petition_id) of accepted messages, in order
        self.tally = {"accepted": {}, "failed": {}, "hung": {}}
        self.mode, self.delay = "ok", 0.0
        self.mode_changed = threading.Condition(self.lock)

    def set_mode(self, mode, delay=0.0):
        with self.lock:
            self.mode, self.delay = mode, float(delay)
            self.mode_changed.notify_all()
        return {"mode": mode, "delay": self.delay}

    def count(self, kind, message):
        with self.lock:
            tally = self.tally[kind]
            key = signature_id(message)
            tally[key] = tally.get(key, 0) + 1

    def wait_while_hanging(self):
        """Hold a hung request until the mode changes (or HANG_LIMIT passes)."""
        deadline = time.monotonic() + HANG_LIMIT
        with self.lock:
            while self.mode == "hang" and time.monotonic() < deadline:
                self.mode_changed.wait(timeout=1)

    def record(self, message: dict):
        text = (message.get("TextBody") or "") + "\n" + (message.get("HtmlBody") or "")
        match = TOKEN.search(text.replace("&amp;", "&"))
        to = recipient(message)
        with self.lock:
            now = time.time()
            self.times.append(now)
            self.received.append((now, to))
            key = signature_id(message)
            self.tally["accepted"][key] = self.tally["accepted"].get(key, 0) + 1
            if match:
                token = unquote(match.group(1))
                self.tokens += 1
                self.tokens_file.write(token + "\n")
                self.token_list.append((token, key, str((message.get("Metadata") or {}).get("petition_id", ""))))

    def received_since(self, start):
        with self.lock:
            return {"received": self.received[start:], "next": len(self.received)}

    def tokens_since(self, start):
        with self.lock:
            return {"tokens": self.token_list[start:], "next": len(self.token_list)}

    def stats(self, since=None, until=None):
        with self.lock:
            lo = bisect.bisect_left(self.times, since) if since is not None else 0
            hi = bisect.bisect_right(self.times, until) if until is not None else len(self.times)
            times = self.times[lo:hi]
            tokens = self.tokens
        return {
            "count": len(times),
            "first": times[0] if times else None,
            "last": times[-1] if times else None,
            "tokens": tokens,
        }


def answer_for(message: dict) -> dict:
    return {
        "To": message.get("To", ""),
        "SubmittedAt": datetime.now(UTC).isoformat(),
        "MessageID": str(uuid.uuid4()),
        "ErrorCode": 0,
        "Message": "OK",
    }


class Handler(BaseHTTPRequestHandler):
    # Headers and body go out in two writes: without this, Nagle plus the client's delayed
    # ACK stall every keep-alive request by 40 ms, which is the harness, not an ESP.
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"  # keep-alive, as the real API
    outbox: Outbox = None

    def log_message(self, *args):  # quiet: thousands of requests
        pass

    def _send_json(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urlparse(self.path)
        query = {key: float(values[0]) for key, values in parse_qs(url.query).items()}
        if url.path == "/stats":
            return self._send_json(200, self.outbox.stats(query.get("since"), query.get("until")))
        if url.path == "/accepted":
            with self.outbox.lock:
                tally = {kind: dict(counts) for kind, counts in self.outbox.tally.items()}
            return self._send_json(200, {**tally, "mode": self.outbox.mode})
        if url.path == "/received":
            return self._send_json(200, self.outbox.received_since(int(query.get("since", 0))))
        if url.path == "/tokens":
            return self._send_json(200, self.outbox.tokens_since(int(query.get("since", 0))))
        self._send_json(404, {"ErrorCode": 404, "Message": "Not found"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        try:
            data = json.loads(self.rfile.read(length) or b"null")
        except ValueError:
            return self._send_json(422, {"ErrorCode": 300, "Message": "Invalid JSON"})
        path = urlparse(self.path).path.rstrip("/")
        if path == "/control" and isinstance(data, dict) and data.get("mode") in MODES:
            return self._send_json(200, self.outbox.set_mode(data["mode"], data.get("delay") or 0))
        messages = None
        if path == "/email" and isinstance(data, dict):
            messages = [data]
        elif path == "/email/batch" and isinstance(data, list):
            messages = data
        if messages is not None:
            mode, delay = self.outbox.mode, self.outbox.delay
            if mode == "fail":
                for message in messages:
                    self.outbox.count("failed", message)
                return self._send_json(503, {"ErrorCode": 100, "Message": "Service unavailable (fake ESP: fail)"})
            if mode == "hang":
                for message in messages:
                    self.outbox.count("hung", message)
                self.outbox.wait_while_hanging()
                self.close_connection = True  # no answer at all: the client sees its read time out or a reset
                return None
            if mode == "slow":
                time.sleep(delay * len(messages))
            for message in messages:
                self.outbox.record(message)
            answers = [answer_for(m) for m in messages]
            return self._send_json(200, answers[0] if path == "/email" else answers)
        self._send_json(422, {"ErrorCode": 300, "Message": f"Unsupported endpoint {self.path}"})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--tokens", required=True, help="file the confirmation tokens are appended to")
    args = parser.parse_args(argv)
    Handler.outbox = Outbox(args.tokens)
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    server.request_queue_size = 256
    print(f"fake ESP on http://{args.host}:{args.port}/", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
