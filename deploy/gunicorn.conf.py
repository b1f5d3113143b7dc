"""gunicorn settings for a web machine (deploy/systemd/petitions-web.service, deploy/Procfile).

The layout `make bench` measured (bench/gunicorn.conf.py): one gthread worker per core, four
threads each, so a sign or confirm request's wait on PostgreSQL's commit and on Redis overlaps
with another's Python. Every value can be overridden from the environment
(deploy/petitions.env.example), e.g. GUNICORN_WORKERS on a machine that also runs other things.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
worker_class = "gthread"
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count()))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# No keep-alive to the proxy, as measured: a few long-lived upstream connections can all land
# on one worker and leave a core idle (bench/gunicorn.conf.py). nginx opens one per request.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "0"))
# A request that takes longer is a stuck one (a sign takes milliseconds): restart its worker.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# On SIGTERM (systemctl stop/restart, a deploy) finish the requests in flight first;
# petitions-web.service waits a little longer than this (TimeoutStopSec).
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "25"))
# A slow leak cannot grow without bound; the jitter keeps workers from restarting together.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "20000"))
max_requests_jitter = max_requests // 10
backlog = 2048
# The proxy writes X-Forwarded-For and X-Forwarded-Proto; Django reads them (PETITIONS
# ["TRUSTED_PROXIES"], SECURE_PROXY_SSL_HEADER). gunicorn itself trusts them only from here.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None  # nginx keeps the access log
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "warning")
