"""A Redis server of a test's own, which the test may kill, restart empty or flush.

The suite's shared Redis (``REDIS_URL``) may serve a demo, a benchmark or a
second run at the same time, so no test stops or flushes it. A fault test
starts its own ``redis-server`` on a free port instead, points the plugin's
cache (and, where it needs one, the Celery broker) at it, and does to it what
production's Redis may suffer: ``stop()`` kills it, ``start()`` brings it
back empty (no persistence), ``flushall()`` empties it while it runs.
"""

import shutil
import socket
import subprocess
import tempfile
import time

import redis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    def __init__(self, port=None):
        self.port = port or free_port()
        self.process = None
        self.dir = tempfile.mkdtemp(prefix="petitions-test-redis-")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def start(self, timeout=10.0):
        """Start (or restart) the server, empty: no RDB, no AOF."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        argv = [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"]
        argv += ["--dir", self.dir, "--logfile", ""]
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.client().ping():
                    return self
            except redis.exceptions.ConnectionError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server on port {self.port} exited with {self.process.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on port {self.port} did not answer within {timeout} s")
            time.sleep(0.02)  # polling a condition with a deadline, not a wait for time to pass

    def stop(self):
        """Kill the server (SIGKILL: no goodbye to its clients) and wait until it is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def flushall(self):
        self.client().flushall()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None
