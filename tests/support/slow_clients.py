"""The slow-body attack and its measure: many clients that each send an upload body a few bytes a
second, and a prober that asks /healthz over and over and notes how long each answer took.

Used by tests/production/test_nginx.py and benchmarks/slow_clients.py.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field

import requests


class SlowUploads:
    """`count` connections, each a POST of `body_bytes` sent `bytes_per_second` at a time."""

    def __init__(
        self,
        host: str,
        port: int,
        count: int,
        *,
        tls: ssl.SSLContext | None = None,
        server_name: str = "localhost",
        path: str = "/photo",
        body_bytes: int = 1_000_000,
        bytes_per_second: int = 4,
    ) -> None:
        self.address = (host, port)
        self.count = count
        self.tls = tls
        self.server_name = server_name
        self.path = path
        self.body_bytes = body_bytes
        self.bytes_per_second = bytes_per_second
        self.sockets: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._trickle, name="slow-uploads", daemon=True)

    def start(self) -> None:
        head = (
            f"POST {self.path} HTTP/1.1\r\nHost: {self.server_name}\r\n"
            "Content-Type: multipart/form-data; boundary=slow\r\n"
            f"Content-Length: {self.body_bytes}\r\n\r\n"
        ).encode()
        for _ in range(self.count):
            # One at a time, as clients arrive: every gunicorn process gets its share (all at
            # once, the first process to wake would accept them all).
            time.sleep(0.02)
            raw = socket.create_connection(self.address, timeout=10)
            sock = self.tls.wrap_socket(raw, server_hostname=self.server_name) if self.tls else raw
            sock.sendall(head + b"--slow\r\n")
            self.sockets.append(sock)
        self._thread.start()

    def _trickle(self) -> None:
        chunk = b"x" * self.bytes_per_second
        while not self._stop.wait(1.0):
            for sock in list(self.sockets):
                try:
                    sock.sendall(chunk)
                except OSError:
                    self.sockets.remove(sock)  # the server gave up on this one

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.close()
        self.sockets.clear()


@dataclass
class Probes:
    """What /healthz answered while the slow clients were sending."""

    started: float
    # (seconds since start, latency in seconds or None when no answer came within the timeout)
    samples: list[tuple[float, float | None]] = field(default_factory=list)

    @property
    def answered(self) -> int:
        return sum(1 for _, latency in self.samples if latency is not None)

    @property
    def max_latency(self) -> float | None:
        latencies = [latency for _, latency in self.samples if latency is not None]
        return max(latencies) if latencies else None

    @property
    def answering_for(self) -> float:
        """Seconds from the start until the first probe that got no answer (all: the window)."""
        for at, latency in self.samples:
            if latency is None:
                return at
        return self.samples[-1][0] if self.samples else 0.0


def probe(
    url: str, seconds: float, *, interval: float = 0.25, timeout: float = 2.0, verify: str | bool
) -> Probes:
    """Ask `url` every `interval` for `seconds`; each probe waits at most `timeout`. Each probe
    is a new connection, as a load balancer's health check is (a kept-alive one would stay with
    one gunicorn process)."""
    result = Probes(started=time.monotonic())
    while (elapsed := time.monotonic() - result.started) < seconds:
        began = time.monotonic()
        with requests.Session() as http:
            http.trust_env = False
            try:
                ok = http.get(url, timeout=timeout, verify=verify).status_code == 200
                latency = time.monotonic() - began if ok else None
            except requests.RequestException:
                latency = None
        result.samples.append((elapsed, latency))
        time.sleep(max(0.0, interval - (time.monotonic() - began)))
    return result
