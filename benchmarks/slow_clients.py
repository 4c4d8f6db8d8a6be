"""Slow request bodies against one app instance, with and without nginx in front.

Starts one instance as in production (gunicorn with config/gunicorn.conf.py: WEB_CONCURRENCY
processes of GUNICORN_THREADS threads; the demo tenant, so no other service is needed), then
twice: opens --clients connections that each POST an upload body a few bytes a second, and asks
/healthz every 0.25 s (each probe waits at most 2 s) for --seconds. First straight at gunicorn,
then through deploy/nginx.conf in Debian's nginx (tests/support/nginx.py). Prints how long
/healthz kept answering, how many probes it answered and their latency.

    .venv/bin/python benchmarks/slow_clients.py --clients 40 --seconds 20
"""

from __future__ import annotations

import argparse
import shutil
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.gunicorn import Instance, clean_environment  # noqa: E402
from tests.support.nginx import Nginx  # noqa: E402
from tests.support.slow_clients import Probes, SlowUploads, probe  # noqa: E402


def start_instance(directory: Path, workers: int, threads: int) -> Instance:
    """The demo app under gunicorn with production's config file (no settings: the demo
    tenant), `workers` processes of `threads` threads."""
    env = clean_environment()
    env.update(PROFILEFIX_ENV_FILE=str(directory / "none.env"))
    instance = Instance(
        "demo", env, directory / "instance", workers=workers, threads=threads, startup_timeout=30
    )
    instance.start()
    return instance


def wait_for_health(url: str, seconds: float, verify: str | bool) -> float:
    """Seconds until `url` answers 200."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        try:
            if requests.get(url, timeout=1, verify=verify).status_code == 200:
                return time.monotonic() - started
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not answer within {seconds} s")


def run(
    label: str, slow: SlowUploads, url: str, seconds: float, verify: str | bool
) -> tuple[str, Probes, float]:
    slow.start()
    try:
        probes = probe(url, seconds, verify=verify)
    finally:
        slow.stop()
    recovered = wait_for_health(url, 60, verify)
    return label, probes, recovered


def report(label: str, probes: Probes, recovered: float, seconds: float, clients: int) -> None:
    latencies = [latency for _, latency in probes.samples if latency is not None]
    median = f"{statistics.median(latencies) * 1000:.0f} ms" if latencies else "-"
    worst = f"{max(latencies) * 1000:.0f} ms" if latencies else "-"
    print(
        f"{label:<15} {clients:>7}  {probes.answering_for:>7.1f} s of {seconds:.0f} s"
        f"  {probes.answered:>4}/{len(probes.samples):<4}  {median:>8}  {worst:>8}"
        f"  {recovered:>8.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()

    directory = Path(tempfile.mkdtemp(prefix="profilefix-slow-"))
    instance = start_instance(directory, args.workers, args.threads)
    port = instance.port
    nginx = Nginx([f"127.0.0.1:{port}"], directory / "nginx")
    try:
        results = [
            run(
                "gunicorn alone",
                SlowUploads("127.0.0.1", port, args.clients),
                f"http://127.0.0.1:{port}/healthz",
                args.seconds,
                True,
            )
        ]
        nginx.start()
        tls = ssl.create_default_context(cafile=str(nginx.ca))
        results.append(
            run(
                "behind nginx",
                SlowUploads("127.0.0.1", nginx.https_port, args.clients, tls=tls),
                f"{nginx.url}/healthz",
                args.seconds,
                str(nginx.ca),
            )
        )
    finally:
        nginx.stop()
        instance.stop()
        shutil.rmtree(directory, ignore_errors=True)

    print(
        f"\n{args.workers} gunicorn processes x {args.threads} threads; each slow client "
        "POSTs a 1 MB body at 4 bytes/s; /healthz probed every 0.25 s, 2 s timeout each\n"
    )
    print(
        f"{'':<15} {'clients':>7}  {'/healthz answering':>18}  {'answered':>9}  {'median':>8}"
        f"  {'worst':>8}  {'recovered':>10}"
    )
    for label, probes, recovered in results:
        report(label, probes, recovered, args.seconds, args.clients)
    print("\n(recovered: time until /healthz answered again once the slow clients hung up)")


if __name__ == "__main__":
    main()
