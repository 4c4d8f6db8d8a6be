"""A `redis-server` of our own on a free port, with AOF on (as production must run it)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.support.ports import PortServer, free_port, wait_until


class RedisServer(PortServer):
    """One redis-server process; `kill()` is the crash, `start()` brings it back on its port."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_connect_timeout=0.5, socket_timeout=2)

    def start(self, directory: Path | None = None) -> None:
        """Start (again: on the same port); a new `directory` means an empty Redis. A first
        start whose port another process took in the meantime moves to a free one."""
        if directory is not None:
            self.directory = directory
        self._start_on_a_free_port("redis-server")

    def _start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # One short try per poll: redis-py would otherwise retry a silent port for seconds.
        probe = redis.Redis(port=self.port, socket_timeout=0.5, retry=Retry(NoBackoff(), 0))
        with probe:
            wait_until(probe.ping, 10, "redis-server", self.process)

    def kill(self) -> None:
        """SIGKILL: the crash case, no chance to save anything beyond what AOF already has."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None
