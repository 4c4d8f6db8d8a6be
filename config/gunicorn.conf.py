"""gunicorn settings for production: `gunicorn -c config/gunicorn.conf.py 'webapp:create_app()'`.

Options given on the command line override these. The environment variables read here are
gunicorn's own knobs (PORT, WEB_CONCURRENCY, GUNICORN_THREADS, FORWARDED_ALLOW_IPS,
PROMETHEUS_MULTIPROC_DIR); the app's settings come from the environment as config/README.md says.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

# App Service and most PaaS tell the app its port in PORT; 8000 is gunicorn's habit.
bind = [f"0.0.0.0:{os.environ.get('PORT', '8000')}"]

# Almost all of a request's time is spent waiting for Microsoft (150-500 ms per Graph or
# SharePoint call, several per page), not on the CPU. Threads wait cheaply, so: one process
# per core (the photo pipeline is the only CPU-heavy part, and Pillow releases the GIL while
# decoding), each with 16 threads. 2 cores -> 32 requests in flight per instance; memory stays
# at two processes (a photo upload peaks at ~120 MB, security.md B11).
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", os.cpu_count() or 2))
threads = int(os.environ.get("GUNICORN_THREADS", "16"))

# One Graph/SharePoint call may spend at most 10 s including Retry-After waits (the clients'
# RetryPolicy.budget, security.md §0 item 7); the heaviest page (a photo upload: read the old
# photo, Graph PUT, SharePoint, verify) makes up to four in a row. A worker killed mid-write
# leaves half-done work, so the limit sits well above 4 x 10 s. (A gthread worker checks in from
# its own loop, so this catches a wedged process; with `-k sync` it would bound each request.)
timeout = 60
# On a deploy or scale-in, let running uploads finish before the worker goes.
graceful_timeout = 45
# Longer than the proxy's upstream keep-alive (nginx: 60 s), so the proxy closes idle
# connections first and never sends a request into one we are closing.
keepalive = 75

# Which peers may set X-Forwarded-Proto for gunicorn's own wsgi.url_scheme. The app itself
# trusts X-Forwarded-* only through TRUSTED_PROXIES (ProxyFix); keep this at the proxy's
# address (default: a proxy on the same host). App Service: set FORWARDED_ALLOW_IPS=*.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# The app writes one JSON line per request (webapp/observability.py) with the user's pseudonym
# and each call to Microsoft; gunicorn's access log would only repeat it, with query strings.
accesslog = None
errorlog = "-"
# gunicorn's control socket has one default path per user: a second instance on the same host
# would take it over. Nothing here uses it; deploys restart processes through their supervisor.
control_socket_disable = True
# Heartbeat files in memory: a slow or full disk must not make gunicorn kill healthy workers.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# Prometheus metrics must add up over all workers: prometheus_client keeps each worker's values
# in files under PROMETHEUS_MULTIPROC_DIR and /metrics sums them. It reads the variable when it
# is first imported, so it is set here, in the master, before any worker imports the app. Each
# instance needs its own directory; without one we make a fresh one.
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(
    prefix="profilefix-metrics-"
)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir


def on_starting(server: Any) -> None:
    """Check the settings once, here, and start the metrics from zero.

    Wrong settings stop gunicorn with the app's one line: otherwise each worker would fail to
    boot with a traceback. Metrics files left by an earlier run would be counted again.
    """
    from webapp.settings import from_environment

    from_environment()
    os.makedirs(_metrics_dir, exist_ok=True)
    for name in os.listdir(_metrics_dir):
        path = os.path.join(_metrics_dir, name)
        if os.path.isdir(path):
            shutil.rmtree(path)
        else:
            os.remove(path)


def child_exit(server: Any, worker: Any) -> None:
    """A dead worker's live values (e.g. gauges) must stop counting; its totals stay."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
