"""The fault suite's own parts (`make faults`): the fake ESP's modes and accounting, and the task copier.

They decide what the suite's invariants can prove, so they are tested like the product: without
a network beyond 127.0.0.1 and without waiting on time.
"""

import http.client
import json
import sys
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from celery import Celery

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import fake_esp  # noqa: E402

from faults import copies  # noqa: E402


@pytest.fixture
def esp(tmp_path):
    fake_esp.Handler.outbox = fake_esp.Outbox(tmp_path / "tokens.txt")
    server = ThreadingHTTPServer(("127.0.0.1", 0), fake_esp.Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        fake_esp.Handler.outbox.set_mode("ok")  # releases any request held by "hang"
        server.shutdown()
        server.server_close()


def call(port, method, path, payload=None, timeout=10):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        body = None if payload is None else json.dumps(payload)
        connection.request(method, path, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def message(signature_id, petition_id=7):
    return {
        "To": f"s{signature_id}@example.org",
        "TextBody": f"Confirm: http://127.0.0.1/petitions/{petition_id}/confirm/?token=tok{signature_id}",
        "Metadata": {"signature_id": str(signature_id), "petition_id": str(petition_id)},
    }


def test_fake_esp_counts_accepted_messages_by_signature_and_lists_their_tokens(esp):
    assert call(esp, "POST", "/email", message(1))[0] == 200
    assert call(esp, "POST", "/email/batch", [message(1), message(2)])[0] == 200

    assert call(esp, "GET", "/accepted")[1]["accepted"] == {"1": 2, "2": 1}
    tokens = call(esp, "GET", "/tokens?since=1")[1]
    assert tokens == {"tokens": [["tok1", "1", "7"], ["tok2", "2", "7"]], "next": 3}


def test_fake_esp_in_fail_mode_answers_503_and_accepts_nothing(esp):
    call(esp, "POST", "/control", {"mode": "fail"})

    status, _ = call(esp, "POST", "/email", message(3))

    assert status == 503
    tally = call(esp, "GET", "/accepted")[1]
    assert tally["accepted"] == {} and tally["failed"] == {"3": 1}


def test_fake_esp_in_hang_mode_never_answers_until_the_mode_changes(esp):
    call(esp, "POST", "/control", {"mode": "hang"})

    with pytest.raises(TimeoutError):
        call(esp, "POST", "/email", message(4), timeout=0.5)  # a client's send timeout, as anymail's

    assert call(esp, "GET", "/accepted")[1]["hung"] == {"4": 1}
    call(esp, "POST", "/control", {"mode": "ok"})
    assert call(esp, "POST", "/email", message(4))[0] == 200
    assert call(esp, "GET", "/accepted")[1]["accepted"] == {"4": 1}


def test_task_copies_publish_every_message_three_times_with_one_task_id(monkeypatch):
    from celery.app.task import Task

    monkeypatch.setattr(Task, "apply_async", Task.apply_async)  # undone after the test
    app = Celery(broker="memory://", set_as_current=False)

    @app.task(name="faults.tests.noop")
    def noop():
        return None

    copies.install(3)
    result = noop.apply_async()

    with app.connection_for_write() as connection:
        queue = connection.SimpleQueue("celery")
        ids = [queue.get(timeout=1).headers["id"] for _ in range(queue.qsize())]
        queue.close()
    assert ids == [result.id] * 3
