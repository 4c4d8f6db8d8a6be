"""Free loopback ports and waiting for a server to come up."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable

import redis


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ExitedError(AssertionError):
    """The process that was to serve exited while it was being waited for."""


class PortServer:
    """A server process on a loopback port picked with `free_port()`. Its first start moves to
    another free port when some process took that one in the meantime; a restart keeps the
    port, which its clients know."""

    port: int
    started_once = False

    def _start(self) -> None:
        """Start the process on `self.port` and wait for it; ExitedError when it exits."""
        raise NotImplementedError

    def _start_on_a_free_port(self, what: str) -> None:
        for _ in range(3):
            try:
                self._start()
                self.started_once = True
                return
            except ExitedError:
                if self.started_once:
                    raise
                self.port = free_port()
        raise AssertionError(f"{what} found no free port")


def wait_until(
    check: Callable[[], object],
    timeout: float,
    what: str,
    process: subprocess.Popen[bytes] | None = None,
) -> None:
    """Poll `check` until it returns something true; connection errors count as "not yet".

    Raises AssertionError naming `what` when `timeout` seconds pass first, ExitedError at once
    when `process` (the server being waited for) exits, e.g. because its port was taken.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ExitedError(f"{what} exited with status {process.returncode}")
        try:
            if check():
                return
        except (OSError, redis.RedisError):  # requests' errors are OSErrors too
            pass
        time.sleep(0.05)
    raise AssertionError(f"{what} did not come up within {timeout} s")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on `host:port`."""
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def wait_for_port(port: int, timeout: float, what: str, host: str = "127.0.0.1") -> None:
    """Wait until `host:port` accepts connections."""
    wait_until(lambda: port_open(port, host), timeout, what)
