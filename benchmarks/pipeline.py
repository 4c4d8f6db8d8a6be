"""Times the photo pipeline on a noisy 24-megapixel phone JPEG against a naive Pillow path.

Issue 17's server target: the pipeline stays at least 3× faster than a naive Pillow
decode-resize-save of the same file, with a peak at most 60 MB above an idle interpreter.
Times are wall clock and CPU time: on a machine shared with other work the CPU time is the
fairer comparison (JPEG decoding and resizing run in one thread).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIPELINE = ROOT / "webapp" / "imaging" / "pipeline.py"

# Each measurement runs in a fresh interpreter, so ru_maxrss is that variant's own peak. The
# pipeline module is loaded from its file: importing `webapp.imaging.pipeline` would first run
# `webapp/__init__.py` (Flask and every extension), which is not the pipeline's memory.
CHILD = r"""
import io, json, resource, sys, time

variant, path = sys.argv[1], sys.argv[2]
from PIL import Image

def small_jpeg():
    buffer = io.BytesIO()
    Image.new("RGB", (200, 200), (90, 120, 150)).save(buffer, "JPEG")
    return buffer.getvalue()

if variant in ("pipeline", "imported"):
    import importlib.util
    spec = importlib.util.spec_from_file_location("pipeline", sys.argv[3])
    pipeline = sys.modules["pipeline"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pipeline)
    limits = pipeline.PipelineLimits()
    run = lambda data: pipeline.normalise(data, None, limits)
elif variant == "decode":
    run = lambda data: Image.open(io.BytesIO(data)).load()
elif variant == "naive":
    from PIL import ImageOps
    def run(data):
        image = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
        square = ImageOps.fit(image, (648, 648), Image.Resampling.LANCZOS)
        square.save(io.BytesIO(), "JPEG", quality=88)
else:
    run = lambda data: None

run(small_jpeg())  # warm-up: plugin registration and first-call costs, on a tiny picture
if variant == "imported":  # the pipeline's own baseline: imported and warmed up, nothing decoded
    run = lambda data: None
data = open(path, "rb").read()
started, cpu = time.perf_counter(), time.process_time()
run(data)
elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
print(json.dumps({"seconds": elapsed, "cpu": cpu, "peak_mb": peak_kb / 1024}))
"""


MAKE_PHOTO = r"""
import sys
from tests.imagegen import phone_photo
open(sys.argv[1], "wb").write(phone_photo((6000, 4000), orientation=6, quality=90))
"""


def measure(variant: str, path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, variant, str(path), str(PIPELINE)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    if out.returncode != 0:
        raise SystemExit(f"{variant} run failed:\n{out.stderr}")
    return json.loads(out.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9, help="fresh processes per variant")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "phone.jpg"
        # Built in a child too: generating 24 MP here would raise this process's RSS, which the
        # measuring children would inherit in ru_maxrss through fork.
        subprocess.run([sys.executable, "-c", MAKE_PHOTO, str(path)], check=True, cwd=ROOT)
        size_mb = path.stat().st_size / 1e6
        variants = ("idle", "imported", "decode", "naive", "pipeline")
        results: dict[str, list[dict[str, float]]] = {variant: [] for variant in variants}
        for _ in range(args.runs):
            for variant in results:  # interleaved, so drift in machine load hits all alike
                results[variant].append(measure(variant, path))

    def median(variant: str, key: str) -> float:
        return statistics.median(r[key] for r in results[variant])

    def ms(variant: str) -> str:
        wall, cpu = median(variant, "seconds") * 1000, median(variant, "cpu") * 1000
        return f"{wall:7.1f} ms, CPU {cpu:6.1f} ms"

    def ratio(variant: str) -> str:
        wall = median(variant, "seconds") / median("pipeline", "seconds")
        return f"{wall:5.2f}x, CPU {median(variant, 'cpu') / median('pipeline', 'cpu'):5.2f}x"

    peak = max(r["peak_mb"] for r in results["pipeline"])
    idle, imported = median("idle", "peak_mb"), median("imported", "peak_mb")
    print(f"input: 6000x4000 JPEG, quality 90, EXIF orientation 6, noisy, {size_mb:.1f} MB")
    print(f"runs: {args.runs} per variant, each in a fresh process; figures are medians")
    print(f"pipeline normalise() -> 648x648 JPEG:        {ms('pipeline')}")
    print(f"naive: full decode, exif_transpose, fit, save: {ms('naive')}")
    print(f"plain full decode (Image.open().load()):     {ms('decode')}")
    print(f"naive / pipeline:       {ratio('naive')}   (target >= 3x, issue 17)")
    print(f"full decode / pipeline: {ratio('decode')}")
    print(f"peak RSS, pipeline process (max of runs):   {peak:6.1f} MB")
    print(f"peak RSS, naive process (median):           {median('naive', 'peak_mb'):6.1f} MB")
    print(f"peak RSS, full-decode process (median):     {median('decode', 'peak_mb'):6.1f} MB")
    print(f"peak RSS, idle interpreter with Pillow:     {idle:6.1f} MB")
    print(f"peak RSS, idle with the pipeline imported:  {imported:6.1f} MB")
    print(f"pipeline above the idle interpreter:        {peak - idle:6.1f} MB  (target <= 60 MB)")
    print(f"of which the decode itself (above import):  {peak - imported:6.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
