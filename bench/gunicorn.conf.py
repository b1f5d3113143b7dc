"""gunicorn settings for `make bench` (the command line sets bind and workers).

Only one addition to a plain production start: with DEBUG off Django logs a
500's traceback nowhere by default, so each worker sends ``django.request``
errors to its stderr (bench/var/gunicorn.log) for the report to quote.
"""

import logging
import os
import sys

# One worker per core, each with a few threads: a sign or confirm request spends part of
# its time waiting on PostgreSQL's commit and Redis, which threads overlap (BENCH_THREADS=1
# and BENCH_WORKER_CLASS=sync give plain sync workers).
worker_class = os.environ.get("BENCH_WORKER_CLASS", "gthread")
threads = int(os.environ.get("BENCH_THREADS", "4"))
# A connection per request, as behind a proxy that does not keep upstream connections alive:
# with keep-alive, wrk's few long-lived connections can all land on one worker and leave a
# core idle (seen at 4 and 16 connections). BENCH_KEEPALIVE=2 turns it back on.
keepalive = int(os.environ.get("BENCH_KEEPALIVE", "0"))
timeout = 60
backlog = 2048
loglevel = "warning"
accesslog = None


def post_worker_init(worker):
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.ERROR)
    handler.setFormatter(logging.Formatter("%(asctime)s [pid %(process)d] %(name)s %(levelname)s %(message)s"))
    logging.getLogger("django.request").addHandler(handler)
