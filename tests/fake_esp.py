"""A Postmark-shaped ESP on 127.0.0.1 for the fault tests, in the test's own process.

anymail's Postmark backend (``ANYMAIL["POSTMARK_API_URL"]`` = ``url``) posts each
message to ``/email``. The server records every message it receives by its
``signature_id`` metadata before answering, so a message whose sender died while
waiting for the answer still counts as taken, as it would at a real ESP. Modes:

- ``"accept"``: answer at once, 200;
- ``"fail"``: answer 503 (an outage);
- ``"hold"``: record, then keep the request open until ``release()`` (a slow or
  hanging ESP; the sender's read timeout or its death ends it first);
- ``set_mode("accept", hold_after=n)``: accept n requests, then hold the rest.

Tests wait on ``wait_for`` (a condition over the records, with a deadline),
never on time passing. (``bench/fake_esp.py`` is the benchmark's, which this
one does not share: the tests need modes and per-recipient records.)
"""

import json
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeESP:
    def __init__(self):
        self.mode = "accept"
        self.changed = threading.Condition()
        self.received = []  # signature ids, in arrival order (every request, answered or not)
        self.accepted = Counter()  # signature id -> messages answered 200 or held (taken)
        self.failed = 0  # requests answered 503
        self.held = 0  # requests being held now
        self.gate = threading.Event()
        self.limit = None  # in "accept" mode: hold every request after this many
        esp = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                signature_id = int((body.get("Metadata") or {}).get("signature_id") or 0)
                with esp.changed:
                    mode = esp.mode
                    if mode == "accept" and esp.limit is not None and len(esp.received) >= esp.limit:
                        mode = "hold"
                    esp.received.append(signature_id)
                    if mode == "fail":
                        esp.failed += 1
                    else:
                        esp.accepted[signature_id] += 1
                    if mode == "hold":
                        esp.held += 1
                    esp.changed.notify_all()
                if mode == "hold":
                    esp.gate.wait(60)
                    with esp.changed:
                        esp.held -= 1
                        esp.changed.notify_all()
                if mode == "fail":
                    self._answer(503, {"ErrorCode": 100, "Message": "Service unavailable"})
                else:
                    self._answer(200, {"To": body.get("To", ""), "MessageID": str(uuid.uuid4()), "ErrorCode": 0,
                                       "Message": "OK", "SubmittedAt": "2026-12-01T00:00:00Z"})  # fmt: skip

            def _answer(self, status, payload):
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the sender is gone (killed, or timed out)
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.release()
        self.server.shutdown()
        self.server.server_close()

    def set_mode(self, mode, hold_after=None):
        """Answer every request as ``mode`` says; with ``hold_after``, accept that many, then hold."""
        with self.changed:
            self.mode, self.limit = mode, hold_after
            if mode == "hold" or hold_after is not None:
                self.gate.clear()

    def release(self):
        """Answer every held request (its sender may be gone)."""
        self.gate.set()

    def wait_for(self, condition, timeout, what="the fake ESP"):
        """Block until ``condition(self)`` holds (checked on every request); AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not condition(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what}: {len(self.received)} requests received")
                self.changed.wait(left)
