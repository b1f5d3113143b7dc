"""A local stand-in for Postmark's send API, for the benchmark only.

anymail's Postmark backend (ANYMAIL_POSTMARK_API_URL=http://127.0.0.1:<port>/)
posts one JSON message to ``/email`` (or a list to ``/email/batch``). This
server accepts them at once, counts them, and appends the confirmation token
found in each message's text to a file, one URL-decoded token a line.

    GET /stats            {"count", "first", "last", "tokens"}  (epoch seconds)
    GET /stats?since=T&until=U   the same, for messages received between T and U

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


class Outbox:
    def __init__(self, tokens_path):
        self.lock = threading.Lock()
        self.times = []  # receive times, ascending
        self.tokens = 0
        self.tokens_file = open(tokens_path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 (server lifetime)

    def record(self, message: dict):
        text = (message.get("TextBody") or "") + "\n" + (message.get("HtmlBody") or "")
        match = TOKEN.search(text.replace("&amp;", "&"))
        with self.lock:
            self.times.append(time.time())
            if match:
                self.tokens += 1
                self.tokens_file.write(unquote(match.group(1)) + "\n")

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
        if url.path == "/stats":
            query = {key: float(values[0]) for key, values in parse_qs(url.query).items()}
            return self._send_json(200, self.outbox.stats(query.get("since"), query.get("until")))
        self._send_json(404, {"ErrorCode": 404, "Message": "Not found"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        try:
            data = json.loads(self.rfile.read(length) or b"null")
        except ValueError:
            return self._send_json(422, {"ErrorCode": 300, "Message": "Invalid JSON"})
        path = urlparse(self.path).path.rstrip("/")
        if path == "/email" and isinstance(data, dict):
            self.outbox.record(data)
            return self._send_json(200, answer_for(data))
        if path == "/email/batch" and isinstance(data, list):
            for message in data:
                self.outbox.record(message)
            return self._send_json(200, [answer_for(m) for m in data])
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
