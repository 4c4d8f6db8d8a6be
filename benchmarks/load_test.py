"""Load test of a company-wide photo campaign against two gunicorn instances on one Redis.

Brings up the HTTPS emulator with latency on every call (benchmarks/load/emulator.py), one
redis-server with AOF, two app instances started as in production (config/gunicorn.conf.py);
measures single-user latencies with one Locust user, then runs the campaign (Locust, headless,
benchmarks/load/locustfile.py) while it kills one instance and restarts Redis. Prints users,
requests/s, p50/p95/p99 per page, errors, the ratio of achieved throughput to the bound the
injected latency sets, and how many accepted uploads did not arrive on both sides.

    .venv/bin/python benchmarks/load_test.py --users 50
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the shared harness, tests/support

from tests.support.gunicorn import Instance, clean_environment  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402

BIN = Path(sys.executable).parent
PUBLIC_URL = "http://localhost:5000"  # registered with the emulator; the "load balancer"
# How far a JPEG-encoded solid colour may drift and still count as the uploaded one.
COLOUR_TOLERANCE = 12


class Stack:
    """The processes this run starts (tests/support's redis-server and gunicorn instances, the
    load emulator), each stopped by its own id at the end."""

    def __init__(self, directory: Path, latency_ms: int, users: int, workers: int) -> None:
        self.directory = directory
        self.latency_ms = latency_ms
        self.users = users
        self.workers = workers
        self.redis = RedisServer(directory / "redis")
        self.emulator: subprocess.Popen[str] | None = None
        self.settings: dict[str, Any] = {}
        self.instances: list[Instance] = []
        self.events: list[str] = []
        self.started = time.monotonic()

    def log(self, event: str) -> None:
        self.events.append(f"{time.monotonic() - self.started:6.1f} s  {event}")

    @property
    def urls(self) -> list[str]:
        return [instance.url for instance in self.instances]

    def start_redis(self) -> None:
        self.redis.start()

    def kill_redis(self) -> None:
        self.redis.kill()

    def start_emulator(self) -> None:
        self.emulator = subprocess.Popen(
            [
                str(BIN / "python"),
                str(REPO / "benchmarks" / "load" / "emulator.py"),
                "--latency-ms",
                str(self.latency_ms),
                "--users",
                str(self.users + 1),  # the last one is the calibration user
                "--state-dir",
                str(self.directory / "tls"),
                "--redirect-uri",
                f"{PUBLIC_URL}/auth/redirect",
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=(self.directory / "emulator.log").open("ab"),
            text=True,
        )
        assert self.emulator.stdout is not None
        self.settings = json.loads(self.emulator.stdout.readline())

    def start_instances(self) -> None:
        """Instances A and B as production runs them, on the emulator and this run's Redis."""
        env = clean_environment()
        env.update(
            {k: v for k, v in self.settings.items() if isinstance(v, str) and k.isupper()},
            SECRET_KEY="load-test-secret-key-0123456789abcdefghij",
            ORGANISATION_NAME="Contoso",
            REDIS_URL=self.redis.url,
            PUBLIC_URL=PUBLIC_URL,
            TRUSTED_PROXIES="1",  # the virtual users' addresses come in X-Forwarded-For
            PROFILEFIX_ENV_FILE=str(self.directory / "none.env"),
        )
        self.instances = [
            Instance(name, env, self.directory / f"instance-{name.lower()}", workers=self.workers)
            for name in ("A", "B")
        ]
        for instance in self.instances:
            instance.start()

    def start_instance(self, i: int) -> None:
        self.instances[i].start()

    def kill_instance(self, i: int) -> None:
        self.instances[i].kill()

    def stop(self) -> None:
        for instance in self.instances:
            instance.stop()
        if self.emulator is not None and self.emulator.poll() is None:
            self.emulator.terminate()
            self.emulator.wait(10)
        self.redis.stop()


def cpu_seconds(pid: int, whole_group: bool = False) -> float:
    """CPU time (user + system) of a process, or of every live process in its group."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After "(comm)": state ppid pgrp ... utime is field 14, stime 15 (proc(5)).
        if int(entry.name) == pid or (whole_group and int(fields[2]) == pid):
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def run_locust(
    stack: Stack, name: str, users: int, seconds: int, oids: list[str]
) -> tuple[dict[str, dict[str, str]], dict[str, Any]]:
    """One headless Locust run; returns its per-page stats rows and the locustfile's results."""
    prefix = stack.directory / name
    results = stack.directory / f"{name}.json"
    env = {
        **os.environ,
        "LOAD_INSTANCES": ",".join(stack.urls),
        "LOAD_CA": stack.settings["REQUESTS_CA_BUNDLE"],
        "LOAD_USER_OIDS": ",".join(oids),
        "LOAD_RESULTS": str(results),
    }
    subprocess.run(
        [
            str(BIN / "locust"),
            "-f",
            str(REPO / "benchmarks" / "load" / "locustfile.py"),
            "--headless",
            "--only-summary",
            "--users",
            str(users),
            # People arrive over the first 60 % of the run, so sign-ins and uploads overlap
            # the faults instead of all happening before them.
            "--spawn-rate",
            f"{max(users / (0.6 * seconds), 1.0):.2f}",
            "--run-time",
            f"{seconds}s",
            # Let each person finish following their photo change (locustfile FOLLOW_SECONDS).
            "--stop-timeout",
            "180",
            "--csv",
            str(prefix),
            "--loglevel",
            "WARNING",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(stack.directory / f"{name}-locust.log").open("ab"),
        check=False,  # Locust exits 1 when any request failed; the figures say which
    )
    with open(f"{prefix}_stats.csv") as stats:
        rows = {row["Name"]: row for row in csv.DictReader(stats)}
    return rows, json.loads(results.read_text())


def faults(stack: Stack, seconds: int) -> threading.Thread:
    """Mid-run: kill instance B, restart Redis (SIGKILL, AOF replay), bring B back."""

    def script() -> None:
        time.sleep(0.3 * seconds)
        stack.kill_instance(1)
        stack.log("instance B killed (SIGKILL, whole process group)")
        time.sleep(0.15 * seconds)
        stack.kill_redis()
        stack.log("redis-server killed (SIGKILL)")
        stack.start_redis()
        stack.log("redis-server restarted (AOF replayed)")
        time.sleep(0.2 * seconds)
        stack.start_instance(1)
        stack.log("instance B started again")

    thread = threading.Thread(target=script, daemon=True)
    thread.start()
    return thread


def _ms(row: dict[str, str], column: str) -> float:
    value = row.get(column) or "0"
    return float(value) if value not in ("N/A", "") else 0.0


def _lost_uploads(stack: Stack, uploads: list[dict[str, Any]]) -> tuple[int, int]:
    """(accepted uploads, those whose colour is not on both Graph and SharePoint now)."""
    report = requests.get(
        f"{stack.settings['EMULATOR_URL']}/_load/report",
        verify=stack.settings["REQUESTS_CA_BUNDLE"],
        timeout=30,
    ).json()
    accepted = [u for u in uploads if u.get("accepted")]

    def shows(colour: list[int] | None, expected: list[int]) -> bool:
        return colour is not None and all(
            abs(a - b) <= COLOUR_TOLERANCE for a, b in zip(colour, expected, strict=True)
        )

    lost = sum(
        1
        for u in accepted
        if not (
            shows(report[u["oid"]]["graph"], u["colour"])
            and shows(report[u["oid"]]["sharepoint"], u["colour"])
        )
    )
    return len(accepted), lost


def _logged_statuses(stack: Stack) -> Counter[int]:
    """Statuses the instances themselves logged (their JSON request lines)."""
    seen: Counter[int] = Counter()
    for i in range(2):
        for line in stack.instances[i].log_path.read_text().splitlines():
            if line.startswith("{"):
                seen[json.loads(line)["status"]] += 1
    return seen


def report(
    args: argparse.Namespace,
    stack: Stack,
    single: dict[str, dict[str, str]],
    rows: dict[str, dict[str, str]],
    results: dict[str, Any],
) -> None:
    total = rows.pop("Aggregated")
    pages = {name: row for name, row in rows.items() if not name.startswith("(")}
    unreachable = rows.get("(instance unreachable: failed over)")
    print(
        f"\nProfileFix load test: {args.users} users, {args.duration} s, emulator latency "
        f"{args.latency_ms} ms per call, 2 instances x {args.workers} gunicorn workers x 16 "
        "threads, one Redis (AOF)"
    )
    print("\nFaults during the run:")
    for event in stack.events:
        print(f"  {event}")
    print(
        f"\n{'page':<28}{'requests':>9}{'failed':>8}{'req/s':>8}{'p50 ms':>8}{'p95 ms':>8}"
        f"{'p99 ms':>8}{'1 user p50':>11}"
    )
    for name, row in sorted(pages.items()):
        alone = _ms(single.get(name, {}), "50%")
        print(
            f"{name:<28}{row['Request Count']:>9}{row['Failure Count']:>8}"
            f"{float(row['Requests/s']):>8.1f}{_ms(row, '50%'):>8.0f}{_ms(row, '95%'):>8.0f}"
            f"{_ms(row, '99%'):>8.0f}{alone:>11.0f}"
        )
    achieved = float(total["Requests/s"]) - (float(unreachable["Requests/s"]) if unreachable else 0)
    statuses = Counter({int(k): v for k, v in results["statuses"].items()})
    # The latency bound: what the same users would do if every request were as fast as it is
    # for one user alone (there, time is the injected latency on the chain of upstream calls).
    count = sum(int(r["Request Count"]) for r in pages.values())
    single_mean = (
        sum(
            int(r["Request Count"]) * _ms(single.get(n, r), "Average Response Time")
            for n, r in pages.items()
        )
        / count
        / 1000
        if count
        else 0.0
    )
    busy = max(0.0, results["active_seconds"] - results["slept_seconds"])
    ratio = count / (busy / single_mean) if single_mean and busy else 0.0
    print(
        f"\nthroughput: {achieved:.1f} requests/s; latency bound {achieved / ratio:.1f} "
        f"requests/s; ratio {ratio:.2f}\n  (bound: the users' time not spent waiting on "
        "purpose, divided by each page's single-user time, i.e. the injected latency on its "
        "chain of upstream calls)"
        if ratio
        else f"\nthroughput: {achieved:.1f} requests/s"
    )
    overview, alone = pages.get("overview"), single.get("overview")
    if overview and alone and _ms(alone, "50%"):
        print(
            f"overview p95 / single-user p50: {_ms(overview, '95%') / _ms(alone, '50%'):.1f}x "
            "(target <= 3x)"
        )
    errors = {s: n for s, n in sorted(statuses.items()) if s >= 400}
    print(f"responses by status (as the users saw them): {dict(sorted(statuses.items()))}")
    print(
        f"errors seen by users: {sum(errors.values())} {errors}; "
        f"responses 500: {statuses.get(500, 0)}"
    )
    logged = _logged_statuses(stack)
    print(f"responses 500 in the instances' own request logs: {logged.get(500, 0)}")
    print(
        f"connections to a dead instance, failed over by the balancer: "
        f"{sum(results['failovers'].values())}"
    )
    with open(stack.directory / "campaign_failures.csv") as failures:
        for row in csv.DictReader(failures):
            print(f"  failed: {row['Occurrences']} x {row['Method']} {row['Name']}: {row['Error']}")
    accepted, lost = _lost_uploads(stack, results["uploads"])
    outcomes = Counter(u.get("outcome", "unknown") for u in results["uploads"] if u.get("accepted"))
    retried = sum(1 for u in results["uploads"] if u.get("retries"))
    print(
        f"uploads accepted: {accepted}; final outcomes {dict(outcomes)}; "
        f"{retried} needed the status page's Try again"
    )
    print(f"uploads that did not arrive on both sides: {lost}")
    cpu = results["cpu"]
    print(
        "CPU seconds used during the campaign (2 cores): "
        + ", ".join(f"{name} {seconds:.0f}" for name, seconds in sorted(cpu.items()))
        + f"; load average {results['load'][0]:.1f} before, {results['load'][1]:.1f} after"
    )
    if args.keep:
        print(f"\nlogs and CSVs: {stack.directory}")


def _cpu(stack: Stack) -> dict[str, float]:
    """CPU seconds so far of the emulator, instance A (master and workers) and Locust (with
    the other children that ended: the killed Redis and instance B's master)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures = {"locust": children.ru_utime + children.ru_stime}
    if stack.emulator is not None:
        figures["emulator"] = cpu_seconds(stack.emulator.pid)
    process = stack.instances[0].process if stack.instances else None
    if process is not None:
        figures["instance A"] = cpu_seconds(process.pid, whole_group=True)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--duration", type=int, default=90, help="seconds of the main run")
    parser.add_argument("--calibration", type=int, default=30, help="seconds with one user")
    parser.add_argument("--latency-ms", type=int, default=150)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per instance")
    parser.add_argument("--keep", action="store_true", help="keep logs and CSVs")
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="profilefix-load-"))
    stack = Stack(directory, args.latency_ms, args.users, args.workers)
    try:
        stack.start_redis()
        stack.start_emulator()
        stack.start_instances()
        oids = stack.settings["LOAD_USER_OIDS"]
        single, _ = run_locust(stack, "single", 1, args.calibration, oids[-1:])
        stack.started = time.monotonic()
        script = faults(stack, args.duration)
        cpu_before = _cpu(stack)
        load_before = os.getloadavg()[0]
        rows, results = run_locust(stack, "campaign", args.users, args.duration, oids[:-1])
        script.join(60)
        results["cpu"] = {k: v - cpu_before.get(k, 0.0) for k, v in _cpu(stack).items()}
        results["load"] = (load_before, os.getloadavg()[0])
        report(args, stack, single, rows, results)
    finally:
        stack.stop()
        if not args.keep:
            shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
