"""The whole test suite as CI runs it: a fresh clone of a commit, then `./dev test` (virtualenv,
packages, lint, pytest), timed from the clone to the end.

The machine's own speed is printed beside each run: a fixed single-core Python loop timed just
before and just after. On this shared 2-core machine it took 1.9–2.3 s one hour and 2.8–3.0 s
the next (December 2026), and the suite's time moves with it; a suite time means little
without it.

    .venv/bin/python benchmarks/fresh_clone_suite.py                 # HEAD, once
    .venv/bin/python benchmarks/fresh_clone_suite.py --runs 2 OLD NEW  # alternating A/B
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# 30 million additions in one Python process: CPU only, no I/O, about 2 s here.
LOOP = "s = 0\nfor i in range(30_000_000):\n    s += i\n"


def loop_seconds() -> float:
    """The reference loop's wall time in a fresh interpreter (this machine's speed now)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", LOOP], check=True)
    return time.perf_counter() - started


def run_suite(commit: str) -> str:
    """Clone `commit` into a temporary folder, run `./dev test` there; one line of figures."""
    folder = Path(tempfile.mkdtemp(prefix="fresh-clone-"))
    try:
        subprocess.run(["git", "clone", "-q", str(REPO), str(folder)], check=True)
        subprocess.run(["git", "-C", str(folder), "checkout", "-q", commit], check=True)
        before = loop_seconds()
        started = time.perf_counter()
        done = subprocess.run(["./dev", "test"], cwd=folder, capture_output=True, text=True)
        wall = time.perf_counter() - started
        after = loop_seconds()
        summary = re.findall(r"=+ (.*(?:passed|failed).*) =+", done.stdout)
        return (
            f"{commit}: {wall:6.1f} s ({int(wall // 60)} min {wall % 60:4.1f} s), exit "
            f"{done.returncode}, {summary[-1] if summary else 'no pytest summary'}; "
            f"reference loop {before:.2f} s before, {after:.2f} s after"
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("commits", nargs="*", default=["HEAD"], help="commits to time, in turn")
    parser.add_argument("--runs", type=int, default=1, help="rounds over the commits")
    args = parser.parse_args()
    commits = [
        subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", commit],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        for commit in args.commits
    ]
    for _ in range(args.runs):
        for commit in commits:
            print(run_suite(commit), flush=True)


if __name__ == "__main__":
    main()
