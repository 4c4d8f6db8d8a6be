"""How fast the photo pipeline refuses a small file that claims huge dimensions (security.md B2:
within 50 ms, from the header alone). tests/unit/test_pipeline.py checks that nothing is decoded;
this measures the time, which a test on a shared machine cannot hold to.

    .venv/bin/python benchmarks/refusal.py [--runs 25]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ (the image generator)

from tests import imagegen
from webapp.imaging.pipeline import PhotoRejectedError, PipelineLimits, normalise

TARGET_MS = 50.0
BOMBS = {
    "PNG 50,000 x 50,000": lambda: imagegen.png_bomb(50_000, 50_000),
    "PNG 12,000 x 12,000": lambda: imagegen.png_bomb(12_000, 12_000),
    "PNG 8,000 x 8,000": lambda: imagegen.png_bomb(8_000, 8_000),
    "JPEG SOF 65,000 x 65,000": lambda: imagegen.jpeg_with_sof_size(65_000, 65_000),
}


def refusal_ms(data: bytes, limits: PipelineLimits) -> float:
    started = time.perf_counter()
    try:
        normalise(data, None, limits)
    except PhotoRejectedError:
        return (time.perf_counter() - started) * 1000
    raise SystemExit("the pipeline accepted a decompression bomb")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=25, help="refusals timed per file")
    args = parser.parse_args()
    limits = PipelineLimits()
    worst = 0.0
    for name, make in BOMBS.items():
        data = make()
        refusal_ms(data, limits)  # warm-up: plugin registration and first-call costs
        times = [refusal_ms(data, limits) for _ in range(args.runs)]
        median, slowest = statistics.median(times), max(times)
        worst = max(worst, median)
        print(f"{name:26} {len(data):>8,} bytes  median {median:6.2f} ms  max {slowest:6.2f} ms")
    verdict = "within" if worst <= TARGET_MS else "OVER"
    print(f"slowest median {worst:.2f} ms: {verdict} the {TARGET_MS:.0f} ms of security.md B2")
    return 0 if worst <= TARGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
