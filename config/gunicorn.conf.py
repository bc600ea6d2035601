"""gunicorn settings for the web nodes (docs/operations.md): `gunicorn -c config/gunicorn.conf.py config.wsgi`.

Every value can be overridden on the command line or with GUNICORN_* variables below.
"""

import os
from pathlib import Path

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
# A request that takes longer is a stuck worker: gunicorn kills and replaces it.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
# Replace workers now and then (a guard against leaks), not all at once.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "10000"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "1000"))
# "-": to stdout; an empty value turns the access log off.
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None


def on_starting(server) -> None:
    # prometheus-client's multiprocess mode: every process (web and run_workers on the node)
    # writes its samples there. Only counters live there (gauges are read from the database
    # when scraped), so files of processes gone before are harmless: counters only grow.
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)


def child_exit(server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
