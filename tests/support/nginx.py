"""deploy/nginx.conf, run for real: Debian's nginx on free loopback ports in front of given
app instances, with only addresses, ports, host name and certificate paths changed.

Used by tests/production/test_nginx.py and benchmarks/slow_clients.py. Each substitution must
find its line, so a change to the shape of the deploy file fails loudly here instead of
silently testing something else.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

from m365_emulator import tls
from tests.support.ports import free_port

REPO = Path(__file__).resolve().parents[2]
DEPLOY_CONFIG = REPO / "deploy" / "nginx.conf"


def nginx_binary() -> str:
    """Debian's nginx (in /usr/sbin, which is not on every user's PATH)."""
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None
    )
    if found is None:
        raise RuntimeError(
            "nginx is not installed: `./dev test` installs it (Debian package nginx)"
        )
    return found


def _replace(text: str, pattern: str, replacement: str, count: int) -> str:
    result, found = re.subn(pattern, replacement, text, flags=re.MULTILINE)
    if found != count:
        raise AssertionError(f"deploy/nginx.conf: expected {count} line(s) matching {pattern!r}")
    return result


def render(
    upstreams: list[str], http_port: int, https_port: int, cert: Path, key: Path, source: str
) -> str:
    """The deploy file with the test's addresses: `upstreams` are "host:port" of instances."""
    servers = "".join(
        f"    server {address} max_fails=3 fail_timeout=10s;\n" for address in upstreams
    )
    text = _replace(source, r"^(?:    server \S+:\d+ .*;\n)+", servers, 1)
    text = _replace(text, r"^    listen 80;$", f"    listen 127.0.0.1:{http_port};", 1)
    text = _replace(text, r"^    listen \[::\]:80;\n", "", 1)
    text = _replace(
        text, r"^    listen 443 ssl http2;$", f"    listen 127.0.0.1:{https_port} ssl http2;", 1
    )
    text = _replace(text, r"^    listen \[::\]:443 ssl http2;\n", "", 1)
    text = _replace(
        text, r"^    server_name profile\.contoso\.com;$", "    server_name localhost;", 2
    )
    text = _replace(text, r"^    ssl_certificate .*;$", f"    ssl_certificate {cert};", 1)
    return _replace(text, r"^    ssl_certificate_key .*;$", f"    ssl_certificate_key {key};", 1)


class Nginx:
    """nginx with the deploy config in front of `upstreams`, its files under `directory`."""

    def __init__(self, upstreams: list[str], directory: Path) -> None:
        self.upstreams = upstreams
        self.directory = directory
        self.http_port = free_port()
        self.https_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.certs = tls.generate(directory / "tls", hosts=("localhost", "127.0.0.1"))

    @property
    def url(self) -> str:
        return f"https://localhost:{self.https_port}"

    @property
    def ca(self) -> Path:
        return self.certs.ca

    def write_config(self) -> Path:
        site = self.directory / "profilefix.conf"
        site.write_text(
            render(
                self.upstreams,
                self.http_port,
                self.https_port,
                self.certs.cert,
                self.certs.key,
                DEPLOY_CONFIG.read_text(),
            )
        )
        temp = self.directory / "temp"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (temp / name).mkdir(parents=True, exist_ok=True)
        main = self.directory / "nginx.conf"
        # Run as root (the tests' container), the workers would become "nobody", who cannot
        # write the temporary files buffered bodies go to; as anyone else the line is omitted.
        user = "user root;\n" if os.geteuid() == 0 else ""
        main.write_text(
            f"{user}daemon off;\nworker_processes 1;\npid {self.directory / 'nginx.pid'};\n"
            f"error_log {self.directory / 'error.log'} warn;\n"
            "events { worker_connections 1024; }\n"
            "http {\n"
            f"    access_log {self.directory / 'access.log'};\n"
            f"    client_body_temp_path {temp / 'client_body'};\n"
            f"    proxy_temp_path {temp / 'proxy'};\n"
            f"    fastcgi_temp_path {temp / 'fastcgi'};\n"
            f"    uwsgi_temp_path {temp / 'uwsgi'};\n"
            f"    scgi_temp_path {temp / 'scgi'};\n"
            f"    include {site};\n"
            "}\n"
        )
        return main

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        main = self.write_config()
        command = [nginx_binary(), "-p", str(self.directory), "-e", "stderr", "-c", str(main)]
        checked = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
        if checked.returncode != 0:
            raise AssertionError(f"nginx -t refused the deploy config:\n{checked.stderr}")
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=(self.directory / "stderr.log").open("ab")
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError((self.directory / "stderr.log").read_text())
            try:
                socket.create_connection(("127.0.0.1", self.https_port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("nginx did not come up within 10 s")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()  # nginx's fast shutdown
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
            self.process = None
