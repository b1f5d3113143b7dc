"""The fault suite's own stack on 127.0.0.1: PostgreSQL, Redis, the fake ESP, gunicorn, Celery worker and beat.

The shared PostgreSQL (5432) and Redis (6379) serve other people's test runs,
so the suite never touches them: it runs a PostgreSQL instance of its own
(initdb under bench/var/faults-pg, as the ``postgres`` OS user) and a
redis-server of its own (no persistence), which the scenarios restart, kill
and flush. Ports: FAULTS_PORT (web, 8310), FAULTS_ESP_PORT (8311),
FAULTS_REDIS_PORT (8312), FAULTS_PG_PORT (8313).
"""

# A harness that starts local processes and talks HTTP to 127.0.0.1 only.
# ruff: noqa: S603, S607, S310

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import harness  # noqa: E402
from harness import BIN, HOST, PY, Harness, HarnessError, env_number, port_open, site_env, wait_for  # noqa: E402

from tests.redis_server import RedisServer  # noqa: E402

VAR = ROOT / "bench" / "var" / "faults"
PG_DIR = Path(os.environ.get("FAULTS_PG_DIR", ROOT / "bench" / "var" / "faults-pg"))
PORT = env_number("FAULTS_PORT", 8310, int)
ESP_PORT = env_number("FAULTS_ESP_PORT", 8311, int)
REDIS_PORT = env_number("FAULTS_REDIS_PORT", 8312, int)
PG_PORT = env_number("FAULTS_PG_PORT", 8313, int)
DB_NAME = "petitions_faults"
WEB_WORKERS = os.cpu_count() or 2
CELERY_PROCESSES = 2
BASE = f"http://{HOST}:{PORT}"
ESP = f"http://{HOST}:{ESP_PORT}"


def pg_bin(name):
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise HarnessError(f"{name} not found under /usr/lib/postgresql/*/bin (apt-get install postgresql)")
    return found[-1]


def as_postgres(*argv, check=True, timeout=120):
    """Run a PostgreSQL binary as the postgres OS user (initdb and the server refuse root)."""
    command = ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else list(argv)
    out = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if check and out.returncode:
        raise HarnessError(
            f"{' '.join(argv[:2])} failed ({out.returncode}):\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}"
        )
    return out


class PrivatePostgres:
    """A PostgreSQL instance of the suite's own: trust auth, 127.0.0.1 only, its own port."""

    def __init__(self, directory=PG_DIR, port=PG_PORT):
        self.dir, self.port = Path(directory), port
        self.data = self.dir / "data"
        self.logfile = self.dir / "postgres.log"

    def url(self, name):
        return f"postgres://postgres@{HOST}:{self.port}/{name}"

    def init(self):
        if (self.data / "PG_VERSION").exists():
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        as_postgres(pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def pg_ctl(self, action, *extra, check=True):
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses={HOST} -c max_connections=300 -c shared_buffers=128MB"
        )
        return as_postgres(
            pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.logfile), "-o", options, "-w", "-t", "60",
            action, *extra, check=check,
        )  # fmt: skip

    def start(self):
        if port_open(self.port):
            raise HarnessError(f"port {self.port} is already in use (set FAULTS_PG_PORT)")
        self.pg_ctl("start")
        wait_for(lambda: port_open(self.port), 30, f"PostgreSQL on {HOST}:{self.port}")

    def stop(self, mode="fast"):
        if (self.data / "postmaster.pid").exists():
            self.pg_ctl("stop", "-m", mode, check=False)

    def restart(self):
        self.pg_ctl("restart", "-m", "fast")

    def recreate(self, name):
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {name}")
            return conn.execute("SHOW server_version").fetchone()[0]


class Stack:
    """Everything one suite run starts; ``close()`` stops all of it, also after a failure."""

    def __init__(self):
        VAR.mkdir(parents=True, exist_ok=True)
        self.pg = PrivatePostgres()
        self.redis = RedisServer(port=REDIS_PORT)
        self.env = site_env(
            base=BASE,
            esp=ESP,
            database_url=self.pg.url(DB_NAME),
            redis_url=f"redis://{HOST}:{REDIS_PORT}/0",
            var=VAR,
            extra={"DJANGO_SETTINGS_MODULE": "faults.settings"},
        )
        for name in ("FAULTS_EMAIL_OVERDUE_AFTER", "FAULTS_SWEEP_SECONDS", "PETITIONS_RECONCILE_SECONDS"):
            if name in os.environ:
                self.env[name] = os.environ[name]
        self.h = Harness(var=VAR, env=self.env, base=BASE, tag="faults")
        self.log = self.h.log
        self.queues = None
        self.beats = 0
        self.app_env = self.env  # the site processes' environment (scenario 9 adds to it)
        self.esp_url = ESP

    # --- setup and teardown ---

    def open(self):
        for port, knob in ((PORT, "FAULTS_PORT"), (ESP_PORT, "FAULTS_ESP_PORT"), (REDIS_PORT, "FAULTS_REDIS_PORT")):
            if port_open(port):
                raise HarnessError(f"port {port} is already in use (set {knob})")
        self.log(f"private PostgreSQL on {HOST}:{PG_PORT} ({self.pg.data}) and Redis on {HOST}:{REDIS_PORT}")
        self.pg.init()
        self.pg.start()
        self.server_version = self.pg.recreate(DB_NAME)
        self.redis.start()
        self.h.manage("migrate", "--noinput")
        self.h.manage("collectstatic", "--noinput")
        self.queues = self.h.djside("queues")["queues"]
        (VAR / "tokens.txt").write_text("")
        self.h.start("fake_esp", [PY, str(ROOT / "bench" / "fake_esp.py"), "--port", str(ESP_PORT),
                                  "--tokens", str(VAR / "tokens.txt")])  # fmt: skip
        wait_for(lambda: port_open(ESP_PORT), 20, "fake ESP")
        self.start_apps()

    def close(self):
        self.h.stop_all()
        try:
            self.redis.stop()
        except Exception as exc:  # noqa: BLE001 (teardown goes on)
            self.log(f"could not stop Redis: {exc}")
        self.pg.stop()

    # --- the site's processes ---

    def start_apps(self, extra_env=None, beats=1):
        env = self.app_env = {**self.env, **(extra_env or {})}
        self.h.start(
            "gunicorn",
            [
                str(BIN / "gunicorn"), "petitions_site.wsgi:application",
                "--config", str(ROOT / "bench" / "gunicorn.conf.py"),
                "--workers", str(WEB_WORKERS), "--bind", f"{HOST}:{PORT}",
            ],
            env=env,
            append=True,
        )  # fmt: skip
        self.start_worker(env)
        self.beats = beats
        for n in range(beats):
            for stale in VAR.glob(f"celerybeat-schedule-{n}*"):
                stale.unlink()
            self.start_beat(n, env)
        wait_for(lambda: port_open(PORT), 60, "gunicorn")
        self.wait_worker()

    def start_worker(self, env=None):
        # Production runs workers on other machines; on this box they get a lower CPU priority.
        self.h.start(
            "celery",
            [
                "nice", "-n", os.environ.get("FAULTS_WORKER_NICE", "10"),
                str(BIN / "celery"), "-A", "petitions_site", "worker",
                "--concurrency", str(CELERY_PROCESSES), "--pool", "prefork",
                "-Q", ",".join(self.queues), "--hostname", f"faults-{os.getpid()}@%h",
                "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
            ],
            env=env or self.env,
            append=True,
        )  # fmt: skip

    def start_beat(self, n, env=None):
        """Beat number ``n``, with a schedule file of its own (scenario 9 runs two)."""
        self.h.start(
            f"beat{n}",
            [str(BIN / "celery"), "-A", "petitions_site", "beat", "--schedule",
             str(VAR / f"celerybeat-schedule-{n}"), "--loglevel", "WARNING"],
            env=env or self.env,
            append=True,
        )  # fmt: skip

    def wait_worker(self, timeout=90):
        wait_for(self.h.celery_ping, timeout, "Celery worker", interval=1)

    def stop_apps(self):
        for name in ["gunicorn", "celery", *(f"beat{n}" for n in range(self.beats))]:
            self.h.stop(name)

    def revive(self, notes):
        """Restart any site process that died during a fault (systemd would): say so in ``notes``."""
        for name, process in list(self.h.processes):
            if process.poll() is not None:
                notes.append(f"{name} exited with {process.returncode} during the fault; restarted")
                self.log(f"{name} exited with {process.returncode}; restarting it")
                self.h.processes.remove((name, process))
                if name == "celery":
                    self.start_worker(self.app_env)
                elif name.startswith("beat"):
                    self.start_beat(int(name[4:]), self.app_env)
                elif name == "gunicorn":
                    raise HarnessError("gunicorn exited during a fault; see bench/var/faults/gunicorn.log")
                elif name == "fake_esp":
                    raise HarnessError("the fake ESP exited; see bench/var/faults/fake_esp.log")

    # --- the fake ESP ---

    def esp(self, path, payload=None):
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(ESP + path, data=data, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def esp_mode(self, mode, delay=0.0):
        return self.esp("/control", {"mode": mode, "delay": delay})

    # --- memory ---

    def rss_mb(self, name):
        """Resident memory of a process group this run started (a prefork pool counts whole)."""
        pgid = self.h.process(name).pid
        page = os.sysconf("SC_PAGE_SIZE")
        total = 0
        for pid, _, fields in harness.processes_now():
            if int(fields[2]) != pgid:
                continue
            try:
                with open(f"/proc/{pid}/statm") as f:
                    total += int(f.read().split()[1]) * page
            except (OSError, ValueError, IndexError):  # gone since the scan
                continue
        return round(total / 2**20, 1)

    def gunicorn_log_offset(self):
        path = VAR / "gunicorn.log"
        return path.stat().st_size if path.exists() else 0

    def pause_worker(self):
        self.h.send_signal("celery", signal.SIGSTOP)

    def resume_worker(self):
        self.h.send_signal("celery", signal.SIGCONT)

    def kill_worker(self):
        self.h.send_signal("celery", signal.SIGKILL)
        deadline = time.monotonic() + 10
        while self.h.process("celery").poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        self.h.stop("celery")
