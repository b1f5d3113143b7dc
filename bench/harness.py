"""What `make bench` (bench/run.py) and `make faults` (faults/run.py) share: processes, ports, logs.

A ``Harness`` holds the processes one run started (each in its own process
group, its output in ``<var>/<name>.log``), the site's environment and base
URL, and stops everything it started, also after a failure or Ctrl-C.
Nothing here touches a process the run did not start.
"""

# A harness that starts local processes and talks HTTP to 127.0.0.1 only.
# ruff: noqa: S603, S607, S310

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
HOST = "127.0.0.1"
BIN = Path(sys.executable).parent
PY = sys.executable


class HarnessError(Exception):
    pass


def env_number(name, default, kind=float):
    return kind(os.environ.get(name, default))


def port_open(port, host=HOST):
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def wait_for(predicate, timeout, what, interval=0.25):
    """Poll ``predicate`` until it is true; a HarnessError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise HarnessError(f"{what} not ready after {timeout:.0f} s")


def json_line(stdout, prefix):
    """The JSON payload of the first ``<prefix> {...}`` line, or None."""
    for line in stdout.splitlines():
        if line.startswith(prefix + " "):
            return json.loads(line[len(prefix) + 1 :])
    return None


def processes_now():
    """(pid, command name, stat fields after the name) of every process /proc shows now.

    The fields are numbered as in proc(5) minus three: [2] is the process group, [11] and [12]
    the user and system ticks, [13] and [14] those of reaped children.
    """
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                stat = f.read()
        except OSError:  # gone since the scan
            continue
        yield int(entry.name), stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()


def server_errors(path, start=0, limit=20):
    """The exception lines of the tracebacks gunicorn's workers logged (bench/gunicorn.conf.py), from ``start``."""
    path = Path(path)
    if not path.exists():
        return []
    with path.open("rb") as f:
        f.seek(start)
        lines = f.read().decode("utf-8", "replace").splitlines()
    found = []
    for i, line in enumerate(lines):
        if " django.request ERROR " in line:
            # The last line of the traceback that follows is the exception itself.
            j = i + 1
            while j < len(lines) and " django.request " not in lines[j] and not lines[j].startswith("["):
                j += 1
            if not any(text.startswith("Traceback") for text in lines[i + 1 : j]):
                # Django logs every 5xx answer at ERROR ("Service Unavailable: /path"); one with no
                # traceback is a 503 the site chose to answer (cms.outage), not a crash.
                continue
            found.append(f"{line.split(' ERROR ', 1)[1]} -> {lines[j - 1].strip()}")
            if len(found) >= limit:
                break
    return found


def site_env(*, base, esp, database_url, redis_url, var, extra=None):
    """The demo site's environment with production settings, against the given stores and fake ESP."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANYMAIL_", "CELERY_", "PETITIONS_", "FAULTS_"))}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(
        SECRET_KEY="bench-" + secrets.token_urlsafe(32),
        DEBUG="0",
        ALLOWED_HOSTS=HOST,
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        # Plain HTTP on 127.0.0.1: no redirect to https (everything else as in production).
        SECURE_SSL_REDIRECT="0",
        PETITIONS_VAR_DIR=str(Path(var) / "site"),
        STATIC_ROOT=str(Path(var) / "static"),
        MEDIA_ROOT=str(Path(var) / "media"),
        ANYMAIL_ESP="postmark",
        ANYMAIL_POSTMARK_SERVER_TOKEN="bench-token",
        ANYMAIL_POSTMARK_API_URL=f"{esp}/",
        PETITIONS_SITE_URL=base,
        WAGTAILADMIN_BASE_URL=base,
        # The load generators stand in for a proxy on 127.0.0.1: each request forwards a synthetic
        # client address (X-Forwarded-For), and the site trusts that one hop, as a site behind
        # nginx does. The rate limits stay as in production.
        PETITIONS_TRUSTED_PROXIES=HOST,
        PETITIONS_LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra or {})
    return env


class Harness:
    def __init__(self, *, var, env, base, tag):
        self.var = Path(var)
        self.env = env
        self.base = base
        self.tag = tag
        self.processes = []  # (name, Popen) of what this run started
        self.started = time.monotonic()

    def log(self, message):
        print(f"[{self.tag} {time.monotonic() - self.started:6.1f}s] {message}", file=sys.stderr, flush=True)

    # --- Django-side steps ---

    def manage(self, *args, timeout=600):
        out = subprocess.run(
            [PY, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if out.returncode:
            raise HarnessError(f"manage.py {' '.join(args)} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
        return out.stdout

    def djside(self, *args, timeout=600):
        """Run a bench/djside.py command in the site's environment; its JSON answer."""
        out = subprocess.run(
            [PY, str(BENCH / "djside.py"), *map(str, args)],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        payload = json_line(out.stdout, "BENCH_JSON")
        if payload is None:
            raise HarnessError(f"djside {' '.join(map(str, args))} failed:\n{out.stdout[-3000:]}\n{out.stderr[-4000:]}")
        return payload

    def celery_ping(self):
        out = subprocess.run(
            [str(BIN / "celery"), "-A", "petitions_site", "inspect", "ping", "--timeout", "2"],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return out.returncode == 0 and "pong" in out.stdout

    # --- processes ---

    def start(self, name, argv, env=None, append=False):
        logfile = open(self.var / f"{name}.log", "a" if append else "w")  # noqa: SIM115 (the child keeps writing)
        process = subprocess.Popen(
            argv, cwd=ROOT, env=env or self.env, stdout=logfile, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.processes.append((name, process))
        return process

    def process(self, name):
        return dict(self.processes)[name]

    def send_signal(self, name, signum):
        """Send ``signum`` to the process group this run created for ``name``."""
        try:
            os.killpg(self.process(name).pid, signum)
        except ProcessLookupError:
            pass

    def stop(self, name, signum=signal.SIGTERM):
        for entry in list(self.processes):
            if entry[0] == name:
                process = entry[1]
                if process.poll() is None:
                    try:
                        os.killpg(process.pid, signum)
                        os.killpg(process.pid, signal.SIGCONT)  # in case it was paused
                    except ProcessLookupError:
                        pass
                    try:
                        process.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        os.killpg(process.pid, signal.SIGKILL)
                        process.wait(timeout=5)
                self._reap_group(process.pid)
                self.processes.remove(entry)

    def _reap_group(self, pgid, timeout=10):
        """Wait until no process of the group is left (a prefork pool's children outlive their parent)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def stop_all(self):
        for _name, process in reversed(self.processes):
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)  # the group this run created for it
                    os.killpg(process.pid, signal.SIGCONT)  # in case it was paused
                except ProcessLookupError:
                    pass
        for name, process in reversed(self.processes):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.log(f"{name} did not stop in 15 s; killing it")
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait(timeout=5)
            self._reap_group(process.pid, timeout=5)
        self.processes.clear()

    def check_alive(self):
        for name, process in self.processes:
            if process.poll() is not None:
                raise HarnessError(f"{name} exited with {process.returncode}; see {self.var / (name + '.log')}")

    # --- HTTP ---

    def http_get(self, path, timeout=30, headers=None):
        request = urllib.request.Request(self.base + path, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.headers, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read().decode("utf-8", "replace")

    def displayed_count(self, petition_id, path, count_available=True):
        """The count the public sees: count.json's (if it exists) and the page's ``data-count``."""
        shown = {}
        if count_available:
            status, _, body = self.http_get(f"/api/petitions/{petition_id}/count.json")
            shown["count_json_status"] = status
            try:
                data = json.loads(body)
            except ValueError:
                data = None
            if isinstance(data, int):
                shown["count_json"] = data
            elif isinstance(data, dict):
                for key in ("count", "signature_count", "signatures", "total"):
                    if isinstance(data.get(key), int):
                        shown["count_json"] = data[key]
                        break
                shown["count_json_body"] = data
        status, _, body = self.http_get(path)
        match = re.search(r'data-count="(\d+)"', body)
        shown["page_status"] = status
        shown["page_count"] = int(match.group(1)) if match else None
        return shown
