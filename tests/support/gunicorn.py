"""App instances as production runs them: gunicorn with config/gunicorn.conf.py, one process
group each, on a free port."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import requests

from tests.support.ports import PortServer, free_port, wait_until

REPO = Path(__file__).resolve().parents[2]
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))

# Settings an outer environment might carry into an instance.
SETTING_NAMES = (
    "CLIENT_ID",
    "CLIENT_SECRET",
    "TENANT_ID",
    "AUTHORITY",
    "GRAPH_ENDPOINT",
    "SHAREPOINT_URL",
    "SECRET_KEY",
    "ORGANISATION_NAME",
    "SHAREPOINT_SCOPES",
    "REDIS_URL",
    "PUBLIC_URL",
    "TRUSTED_PROXIES",
    "METRICS_ALLOWED_FROM",
    "PROMETHEUS_MULTIPROC_DIR",
    "REQUESTS_CA_BUNDLE",
)


def clean_environment() -> dict[str, str]:
    """This process's environment without any ProfileFix setting."""
    return {k: v for k, v in os.environ.items() if k not in SETTING_NAMES}


class Instance(PortServer):
    """One app instance: `gunicorn -c config/gunicorn.conf.py "webapp:create_app()"`.

    `env` holds its settings. `workers`/`threads` given here override the config file
    (None: the file's, i.e. production's, values); the process gets its own process group so
    that `kill()` takes its workers down with it.
    """

    def __init__(
        self,
        name: str,
        env: dict[str, str],
        directory: Path,
        *,
        workers: int | None = None,
        threads: int | None = None,
        startup_timeout: float = 20.0,
    ) -> None:
        self.name = name
        self.port = free_port()
        self.env = env
        self.directory = directory
        self.workers = workers
        self.threads = threads
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.directory / "stdout.log"

    def start(self) -> None:
        """Start (again: on the same port) and wait until /healthz answers. A first start
        whose port another process took in the meantime moves to a free one."""
        self._start_on_a_free_port(f"instance {self.name}")

    def _start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        env = {**self.env, "PROMETHEUS_MULTIPROC_DIR": str(self.directory / "metrics")}
        command = [
            GUNICORN,
            "-c",
            str(REPO / "config" / "gunicorn.conf.py"),
            # Command-line options override the file.
            "--bind",
            f"127.0.0.1:{self.port}",
        ]
        if self.workers is not None:
            command += ["--workers", str(self.workers)]
        if self.threads is not None:
            command += ["--threads", str(self.threads)]
        self.process = subprocess.Popen(
            [*command, "webapp:create_app()"],
            cwd=REPO,
            env=env,
            stdout=self.log_path.open("ab"),
            stderr=(self.directory / "stderr.log").open("ab"),
            start_new_session=True,
        )
        wait_until(
            lambda: requests.get(f"{self.url}/healthz", timeout=1).status_code == 200,
            self.startup_timeout,
            f"instance {self.name}",
            self.process,
        )

    def stop(self) -> None:
        """SIGTERM to the whole group (graceful), SIGKILL if it does not end in time."""
        if self.process is None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
        self.process = None

    def kill(self) -> None:
        """SIGKILL to the whole group: the crash case."""
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
            self.process = None

    def json_log(self) -> list[dict[str, Any]]:
        """Every JSON line this instance wrote to stdout so far."""
        lines = []
        for line in self.log_path.read_text().splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
        return lines

    def request_log(self) -> list[dict[str, Any]]:
        """The request lines (one per request) among them."""
        return [line for line in self.json_log() if "event" not in line]

    def security_log(self) -> list[dict[str, Any]]:
        """The security events among them (webapp/audit.py)."""
        return [line for line in self.json_log() if "event" in line]
