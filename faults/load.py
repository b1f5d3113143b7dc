"""An open-loop load for the fault suite: signs at a fixed rate, confirms as the emails arrive, reads the page.

Open loop: the n-th sign starts at ``n / rate`` seconds whatever the server is
doing, so a stalled dependency shows as slow or refused answers rather than as
a load that politely slows down. Every request is its own connection
(``Connection: close``) and its own record: status, ``Retry-After``, error,
latency. The confirmer reads the tokens the fake ESP accepted for this
petition and POSTs the confirm form with a share of them, as people do.
Everything is bounded: no more than ``MAX_IN_FLIGHT`` requests at once, each
with a timeout, and the run stops starting requests at its deadline.
"""

import asyncio
import itertools
import json
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from postload import _read_response  # noqa: E402

MAX_IN_FLIGHT = 1000
TIMEOUT = 30.0
#: Synthetic client addresses (RFC 2544's benchmark range), one per request, as bench/run.py forwards.
CLIENT_BASE = (198 << 24) | (18 << 16)
CLIENTS = itertools.count()  # one counter for the whole run: no address signs twice in 131,072 requests


def client_address(n):
    value = CLIENT_BASE + n % (1 << 17)
    return ".".join(str((value >> shift) & 255) for shift in (24, 16, 8, 0))


@dataclass
class Record:
    t: float  # seconds since the load started
    label: str  # the email (signs), the token (confirms), the path (GETs)
    status: int | None = None
    retry_after: str | None = None
    error: str | None = None
    latency: float = 0.0


@dataclass
class Results:
    signs: list = field(default_factory=list)
    confirms: list = field(default_factory=list)  # Record with label = token, plus confirmed_ids
    gets: list = field(default_factory=list)
    confirmed_ids: set = field(default_factory=set)  # signature ids whose confirm answered 200
    uncertain_ids: set = field(default_factory=set)  # confirms with no answer or a 5xx: may or may not have verified
    skipped: int = 0  # signs not started because MAX_IN_FLIGHT were waiting (the client saturated)


async def request(host, port, method, path, body=b"", headers=None, timeout=TIMEOUT):
    """One request on its own connection: (status, headers) or raises."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    if method == "POST":
        lines += ["Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    data = ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    async def exchange():
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(data)
            status, response_headers, _, _ = await _read_response(reader)
            return status, response_headers
        finally:
            writer.close()

    return await asyncio.wait_for(exchange(), timeout)


class Load:
    """Signs at ``rate`` a second for ``seconds``; run it in a thread with ``start()``, then ``join()``."""

    def __init__(
        self,
        stack,
        petition_id,
        page_path,
        *,
        rate=50.0,
        seconds=60.0,
        confirm_share=0.4,
        one_client=None,
        page_rate=2.0,
        tag="load",
    ):
        self.host, self.port = stack.h.base.split("//")[1].split(":")
        self.port = int(self.port)
        self.base, self.esp_url = stack.h.base, stack.esp_url
        self.petition_id, self.page_path = petition_id, page_path
        self.rate, self.seconds, self.confirm_share = rate, seconds, confirm_share
        self.one_client, self.page_rate, self.tag = one_client, page_rate, tag
        self.results = Results()
        self.t0 = None
        self.stopping = threading.Event()
        self.thread = None

    # --- control ---

    def start(self):
        self.t0 = time.monotonic()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), name=self.tag, daemon=True)
        self.thread.start()
        return self

    def now(self):
        return time.monotonic() - self.t0

    def join(self, timeout=None):
        self.thread.join(timeout=timeout or self.seconds + TIMEOUT + 60)
        if self.thread.is_alive():
            raise RuntimeError(f"{self.tag} did not finish")
        return self.results

    def wait_until(self, t):
        """Wait until ``t`` seconds into the load (faults are injected at fixed offsets)."""
        while self.now() < t and self.thread.is_alive():
            time.sleep(min(0.05, max(0.0, t - self.now())))

    # --- the requests ---

    def _client(self):
        return self.one_client or client_address(next(CLIENTS))

    async def _record(self, into, label, method, path, body=b"", headers=None):
        """One request, recorded in ``into`` whatever happens: status and Retry-After, or the error."""
        record = Record(t=self.now(), label=label)
        t = time.monotonic()
        try:
            status, response = await request(self.host, self.port, method, path, body, headers)
            record.status, record.retry_after = status, response.get("retry-after")
        except Exception as exc:  # noqa: BLE001 (recorded, not raised)
            record.error = type(exc).__name__
        record.latency = time.monotonic() - t
        into.append(record)
        return record

    async def _sign(self, n, semaphore):
        email = f"{self.tag}-{n}@faults.example.org"
        body = urlencode({"first_name": "Fault", "email": email, "feed_display": "first"}).encode()
        headers = {"Origin": self.base, "X-Forwarded-For": self._client()}
        try:
            path = f"/petitions/{self.petition_id}/sign/"
            await self._record(self.results.signs, email, "POST", path, body, headers)
        finally:
            semaphore.release()

    async def confirm(self, token, signature_id):
        body = urlencode({"token": token}).encode()
        headers = {"Origin": self.base, "X-Forwarded-For": self._client()}
        path = f"/petitions/{self.petition_id}/confirm/"
        record = await self._record(self.results.confirms, token, "POST", path, body, headers)
        if record.status == 200:
            self.results.confirmed_ids.add(int(signature_id))
        elif record.status is None or record.status >= 500:
            self.results.uncertain_ids.add(int(signature_id))  # it may have committed before the failure
        return record

    async def _get(self, path):
        headers = {"X-Forwarded-For": "192.0.2.1"}  # one reader: GETs are not rate-limited
        await self._record(self.results.gets, path, "GET", path, headers=headers)

    # --- the loops ---

    async def _signer(self):
        semaphore = asyncio.Semaphore(MAX_IN_FLIGHT)
        tasks, n = [], 0
        while not self.stopping.is_set():
            due = n / self.rate
            if due >= self.seconds:
                break
            delay = due - self.now()
            if delay > 0:
                await asyncio.sleep(delay)
            if semaphore.locked():
                self.results.skipped += 1
            else:
                await semaphore.acquire()
                tasks.append(asyncio.create_task(self._sign(n, semaphore)))
            n += 1
        await asyncio.gather(*tasks)

    async def _confirmer(self, done):
        """Confirm a share of this petition's tokens as the ESP accepts them (every k-th, deterministic)."""
        since, seen, tasks = 0, 0, []
        every = round(1 / self.confirm_share) if self.confirm_share else 0
        while not done.is_set() and every:
            try:
                answer = await asyncio.to_thread(self._tokens, since)
            except OSError:
                answer = {"tokens": [], "next": since}
            since = answer["next"]
            for token, signature_id, petition_id in answer["tokens"]:
                if str(petition_id) != str(self.petition_id):
                    continue
                seen += 1
                if seen % every == 0:
                    tasks.append(asyncio.create_task(self.confirm(token, signature_id)))
            try:
                await asyncio.wait_for(done.wait(), 0.5)
            except TimeoutError:
                pass
        await asyncio.gather(*tasks)

    def _tokens(self, since):
        with urllib.request.urlopen(f"{self.esp_url}/tokens?since={since}", timeout=10) as response:  # noqa: S310
            return json.loads(response.read())

    async def _reader(self, done):
        """The anonymous page, read at ``page_rate`` a second: does it keep serving through the fault?"""
        tasks, n = [], 0
        while not done.is_set() and self.page_rate:
            due = n / self.page_rate
            delay = due - self.now()
            if delay > 0:
                try:
                    await asyncio.wait_for(done.wait(), delay)
                    break
                except TimeoutError:
                    pass
            tasks.append(asyncio.create_task(self._get(self.page_path)))
            n += 1
        await asyncio.gather(*tasks)

    async def _run(self):
        done = asyncio.Event()
        side = [asyncio.create_task(self._confirmer(done)), asyncio.create_task(self._reader(done))]
        await self._signer()
        done.set()
        await asyncio.gather(*side)
