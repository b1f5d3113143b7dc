"""make bench's load client (bench/postload.py), the fake ESP's receive log and the sign-to-ESP join.

No site: a tiny local HTTP server stands in for gunicorn, so these hold without PostgreSQL or Redis.
"""

import http.client
import importlib.util
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

import fake_esp  # noqa: E402
import postload  # noqa: E402

# bench/run.py under a name of its own ("run" is too common a module name to take in sys.modules).
_spec = importlib.util.spec_from_file_location("bench_run", BENCH / "run.py")
bench_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_run)


class Answering(BaseHTTPRequestHandler):
    """Answers every POST 302 after ``delay`` seconds, and records the bodies it read."""

    protocol_version = "HTTP/1.1"
    delay = 0.0
    bodies = None

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.bodies.append((body.decode(), self.headers.get("X-Forwarded-For"), self.headers.get("Connection")))
        time.sleep(self.delay)
        self.send_response(302)
        self.send_header("Location", "/thanks/")
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def server():
    def serve(delay=0.0):
        handler = type("Handler", (Answering,), {"delay": delay, "bodies": []})
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        httpd.daemon_threads = True
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return httpd.server_address[1], handler.bodies

    servers = []
    yield serve
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def bodies(count=None):
    i = 0
    while count is None or i < count:
        yield f"s-{i}@bench.example.org", f"email=s-{i}%40bench.example.org", {"X-Forwarded-For": f"198.18.0.{i}"}
        i += 1


def test_closed_loop_records_exactly_one_answer_per_request_sent_with_its_own_body_and_header(server):
    port, seen = server()
    result = postload.run("127.0.0.1", port, "/sign/", bodies(40), concurrency=4, duration=30, keep_records=True)
    assert result["sent"] == result["requests"] == 40
    assert result["by_status"] == {"302": 40}
    assert sorted(r[0] for r in result["records"]) == sorted(label for label, _, _ in bodies(40))
    assert sorted(seen) == sorted((body, headers["X-Forwarded-For"], "close") for _, body, headers in bodies(40))
    assert sorted(result["ok_labels"]) == sorted(label for label, _, _ in bodies(40))


def test_closed_loop_stops_starting_at_the_deadline_and_waits_for_the_answers_in_flight(server):
    port, seen = server(delay=0.3)
    result = postload.run("127.0.0.1", port, "/sign/", bodies(), concurrency=3, duration=0.5)
    assert result["sent"] == len(seen) == 6  # two rounds of three started before 0.5 s, none after
    assert result["by_status"] == {"302": 6}
    assert result["duration_us"] >= 600_000


def test_open_loop_starts_on_schedule_whatever_the_server_does(server):
    port, seen = server(delay=1.0)  # a server slower than the offered rate
    t0 = time.time()
    result = postload.run("127.0.0.1", port, "/sign/", bodies(), duration=0.5, rate=100, keep_records=True)
    schedule = result["open_loop"]
    assert schedule["due"] == schedule["started"] == result["sent"] == len(seen) == 50
    assert schedule["skipped"] == 0
    assert schedule["peak_in_flight"] >= 40  # nobody waited for an answer before starting the next
    assert result["by_status"] == {"302": 50}
    sent_at = sorted(r[2] for r in result["records"])
    assert t0 <= sent_at[0] and sent_at[-1] - sent_at[0] < 0.6
    assert result["latency_us"]["p50"] >= 1_000_000


def test_open_loop_counts_requests_beyond_its_bound_as_not_sent(server):
    port, _ = server(delay=1.0)
    result = postload.run("127.0.0.1", port, "/sign/", bodies(), duration=0.3, rate=100, max_in_flight=10)
    assert result["sent"] == 10 and result["open_loop"]["skipped"] == 20


def test_a_refused_or_unanswered_request_is_recorded_as_an_error_not_lost():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, not listening: connections are refused
        refused = postload.run("127.0.0.1", port, "/sign/", bodies(5), concurrency=2, duration=5)
    assert refused["sent"] == 5 and refused["requests"] == 0 and sum(refused["errors"].values()) == 5

    listener = socket.create_server(("127.0.0.1", 0))  # accepts (backlog) and never answers
    try:
        silent = postload.run(
            "127.0.0.1", listener.getsockname()[1], "/sign/", bodies(2), concurrency=2, duration=5, timeout=1.5
        )
    finally:
        listener.close()
    assert silent["sent"] == 2 and silent["errors"] == {"timeout": 2}


@pytest.fixture
def esp(tmp_path):
    fake_esp.Handler.outbox = fake_esp.Outbox(tmp_path / "tokens.txt")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), fake_esp.Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def esp_call(port, method, path, payload=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path, body=None if payload is None else json.dumps(payload))
    response = conn.getresponse()
    return json.loads(response.read())


def test_fake_esp_logs_each_accepted_message_receive_time_and_recipient(esp):
    before = time.time()
    esp_call(esp, "POST", "/email", {"To": '"Bench" <Burst-1@bench.example.org>', "TextBody": "x"})
    esp_call(esp, "POST", "/email/batch", [{"To": "burst-2@bench.example.org"}, {"To": "Ann <a@b.example>"}])
    received = esp_call(esp, "GET", "/received?since=0")
    assert [address for _, address in received["received"]] == [
        "burst-1@bench.example.org",
        "burst-2@bench.example.org",
        "a@b.example",
    ]
    assert all(before <= at <= time.time() for at, _ in received["received"])
    assert received["next"] == 3
    assert esp_call(esp, "GET", "/received?since=2")["received"][0][1] == "a@b.example"


def test_sign_to_esp_joins_each_accepted_sign_to_its_own_email_and_counts_the_missing():
    records = [
        ("a@x.org", 302, 100.0, 0.01, None),
        ("b@x.org", 302, 100.5, 0.01, None),
        ("c@x.org", 302, 101.0, 0.01, None),  # accepted, never emailed
        ("d@x.org", 429, 101.0, 0.01, None),  # refused: owed no email
        ("e@x.org", None, 101.0, 0.01, "timeout"),
    ]
    received = [(100.3, "a@x.org"), (100.9, "b@x.org"), (102.0, "b@x.org"), (150.0, "z@x.org")]
    delays = bench_run.sign_to_esp(records, received)
    # a: 0.3 s; b: its first email, 0.4 s after its own request (not a's send time, not its second email).
    assert delays["accepted"] == 3 and delays["emailed"] == 2 and delays["missing"] == 1
    assert delays["max_ms"] == pytest.approx(400.0) and delays["p50_ms"] in (pytest.approx(300.0), pytest.approx(400.0))


def test_scaling_table_reads_each_configuration_rates_and_ratios_to_the_bare_view():
    import scaling

    results = {
        "ok": True,
        "checks": {},
        "phases": {"baseline_c16": {"rps": 1000.0}, "page_c16": {"rps": 800.0}},
        "figures": [
            {"name": "sign POST (302 = accepted)", "value": 350.0},
            {"name": "verification POST confirm/ (200 = confirmed)", "value": 300.0},
        ],
    }
    row = scaling.row("web1-alone", 1, False, results)
    assert (row["bare_rps"], row["page_rps"], row["sign_rps"], row["confirm_rps"]) == (1000.0, 800.0, 350.0, 300.0)
    assert (row["page_ratio"], row["sign_ratio"], row["confirm_ratio"]) == (0.8, 0.35, 0.3)
    failed = scaling.row("web2-celery", 2, True, {"ok": False, "checks": {"5xx": {"ok": False}}, "figures": []})
    table = scaling.markdown([row, failed]).splitlines()
    assert table[2] == ("| 1 | stopped | 1,000.0 | 800.0 | 350.0 | 300.0 | 0.800x | 0.350x | 0.300x | pass |")
    assert table[3].startswith("| 2 | running | n/a |") and table[3].endswith("| FAIL: 5xx |")


def test_sign_bodies_are_what_urlencode_gives_each_from_the_next_address_of_the_pool():
    import ipaddress
    import itertools
    from urllib.parse import urlencode

    bench_run.client_numbers = itertools.count(256 * 256 * 2 - 2)  # across the end of the /15: it wraps
    csrf = {"token": "a+b/c=", "cookie": "x"}
    for (label, body, headers), i in zip(bench_run.sign_bodies("burst", csrf), range(5), strict=False):
        email = f"burst-{i}@bench.example.org"
        fields = {"first_name": "Bench", "email": email, "feed_display": "first", "csrfmiddlewaretoken": "a+b/c="}
        assert (label, body) == (email, urlencode(fields))
        n = (256 * 256 * 2 - 2 + i) % (256 * 256 * 2)
        assert headers == {"X-Forwarded-For": str(ipaddress.ip_network("198.18.0.0/15")[n])}
    bench_run.client_numbers = itertools.count()
