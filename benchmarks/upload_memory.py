"""Peak memory of one app process through hostile uploads: small files that declare 50 MP.

Issue 16 item 2: a 0.2 MB PNG declaring 50 MP of RGBA took 800 MB to decode, and four of them
took one app process to 0.9–2.1 GB. Target: at most 350 MB per process across four such uploads,
each answered within seconds. Every file below goes through `normalise()` four times in a row in
a fresh interpreter that has imported the app (as a worker has), and four times at once (threads,
as a threaded worker serves them) in another; ru_maxrss is that process's own peak.

`--costs` prints, for photo-like pictures of each format and mode, the measured peak of opening
and decoding one against `pipeline.decode_bytes()`, the estimate the budget is checked with.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# Builds the files in a child, so that their pixels never count in a measuring process; prints
# [name, group] per file i.bin it wrote.
MAKE = r"""
import io, json, sys
from pathlib import Path
import pillow_heif
from PIL import Image
from tests import imagegen

def heic(image, **params):
    buffer = io.BytesIO()
    pillow_heif.from_pillow(image).save(buffer, quality=50, **params)
    return buffer.getvalue()

def flat_jpeg(**params):
    return imagegen.encode(Image.new("RGB", (8000, 6250), (90, 120, 150)), "JPEG", **params)

HOSTILE = {
    "PNG 50 MP RGBA": lambda: imagegen.png_bomb(8000, 6250, "RGBA"),
    "PNG 50 MP RGBA 16-bit": lambda: imagegen.png_bomb(8000, 6250, "RGBA;16"),
    "PNG 50 MP RGB": lambda: imagegen.png_bomb(8000, 6250, "RGB"),
    "PNG 50 MP grey 16-bit": lambda: imagegen.png_bomb(8000, 6250, "I;16"),
    "PNG 50 MP palette, transparent": lambda: imagegen.png_bomb(8000, 6250, "P"),
    "PNG 50 MP 1-bit": lambda: imagegen.png_bomb(8000, 6250, "1"),
    "WebP 50 MP RGBA": lambda: imagegen.encode(
        Image.new("RGBA", (8000, 6250)), "WEBP", lossless=True
    ),
    "HEIC 50 MP": lambda: heic(Image.new("RGB", (8000, 6250), (200, 30, 30))),
    "JPEG 50 MP progressive": lambda: flat_jpeg(progressive=True),
    "JPEG 50 MP baseline": flat_jpeg,
}
# The most each format may cost and still be decoded: what a worker must survive two of at once.
AT_THE_BUDGET = {
    "PNG 25 MP RGBA": lambda: imagegen.png_bomb(5000, 5000, "RGBA"),
    "HEIC 12 MP tiled as an iPhone's": lambda: heic(imagegen.card((4032, 3024)), tile_size=512),
    # iPhone 15 and later by default; over the shared budget, so it decodes alone (solo budget).
    "HEIC 24 MP tiled as an iPhone's": lambda: heic(imagegen.card((5712, 4284)), tile_size=512),
    "WebP 5.8 MP RGBA": lambda: imagegen.encode(
        imagegen.card((2800, 2080)).convert("RGBA"), "WEBP"
    ),
    "JPEG 24 MP phone photo": imagegen.phone_photo,
}

out, files = Path(sys.argv[1]), []
for group, builders in (("hostile", HOSTILE), ("budget", AT_THE_BUDGET)):
    for name, build in builders.items():
        (out / f"{len(files)}.bin").write_bytes(build())
        files.append([name, group])
print(json.dumps(files))
"""

# A threaded worker (four threads, as gunicorn's gthread) serving every file twice per round.
WORKER = r"""
import json, re, resource, sys
from concurrent.futures import ThreadPoolExecutor
from webapp.imaging import pipeline

files = [open(path, "rb").read() for path in sys.argv[2:]]
rounds, rss_after = int(sys.argv[1]), []

def upload(data):
    try:
        pipeline.normalise(data, None, pipeline.PipelineLimits())
    except pipeline.PhotoRejectedError:
        pass

with ThreadPoolExecutor(4) as pool:
    for _ in range(rounds):
        list(pool.map(upload, files * 2))
        status = open("/proc/self/status").read()
        rss_after.append(int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024)
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"peak_mb": peak_kb / 1024, "rss_after_mb": rss_after}))
"""

RUN = r"""
import json, resource, sys, threading, time
from webapp.imaging import pipeline

mode, path = sys.argv[1], sys.argv[2]
data = open(path, "rb").read()
limits = pipeline.PipelineLimits()
idle_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
seconds, cpu, outcomes = [], [], []

def upload():
    started, cpu_started = time.perf_counter(), time.process_time()
    try:
        pipeline.normalise(data, None, limits)
        outcomes.append("saved")
    except pipeline.PhotoRejectedError as refused:
        outcomes.append(refused.reason.value)
    seconds.append(time.perf_counter() - started)
    cpu.append(time.process_time() - cpu_started)  # all threads' CPU: meaningful in a row only

if mode == "row":
    for _ in range(4):
        upload()
else:
    threads = [threading.Thread(target=upload) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
print(json.dumps({"idle_mb": idle_kb / 1024, "peak_mb": peak_kb / 1024, "seconds": seconds,
                  "cpu": cpu, "outcomes": sorted(set(outcomes))}))
"""

# Photo-like pictures per format and mode; prints [name, draft scale] per file i.bin it wrote.
MAKE_COSTS = r"""
import io, json, sys
from pathlib import Path
import pillow_heif
from PIL import Image
from tests import imagegen

SIZE = (3000, 2000)
photo = imagegen.noise_photo(SIZE, seed=3, noise=0.1)
alpha = photo.convert("RGBA")
alpha.putalpha(Image.linear_gradient("L").resize(SIZE))

def heic(image, **params):
    buffer = io.BytesIO()
    pillow_heif.from_pillow(image).save(buffer, quality=60, **params)
    return buffer.getvalue()

def heic10(image):
    sixteen = bytearray(2 * image.width * image.height * 3)
    sixteen[1::2] = image.tobytes()
    buffer = io.BytesIO()
    pillow_heif.from_bytes("RGB;16", image.size, bytes(sixteen)).save(buffer, quality=60)
    return buffer.getvalue()

def jpeg(image, **params):
    return imagegen.encode(image, "JPEG", quality=90, **params)

VARIANTS = [  # name, builder, the JPEG draft scale the decode is measured at
    ("PNG RGB", lambda: imagegen.encode(photo, "PNG"), 1),
    ("PNG RGBA", lambda: imagegen.encode(alpha, "PNG"), 1),
    ("PNG grey", lambda: imagegen.encode(photo.convert("L"), "PNG"), 1),
    ("PNG palette", lambda: imagegen.encode(photo.quantize(256), "PNG"), 1),
    ("PNG grey 16-bit", lambda: imagegen.png16_gradient(SIZE), 1),
    ("WebP RGB lossy", lambda: imagegen.encode(photo, "WEBP", quality=80), 1),
    ("WebP RGBA lossy", lambda: imagegen.encode(alpha, "WEBP", quality=80), 1),
    ("WebP RGB lossless", lambda: imagegen.encode(photo, "WEBP", lossless=True), 1),
    ("HEIC 4:2:0", lambda: heic(photo), 1),
    ("HEIC 4:2:0 tiled", lambda: heic(photo, tile_size=512), 1),
    ("HEIC 4:4:4", lambda: heic(photo, chroma=444), 1),
    ("HEIC RGBA", lambda: heic(alpha), 1),
    ("HEIC 10-bit", lambda: heic10(photo), 1),
    ("HEIC grey", lambda: heic(photo.convert("L")), 1),
    ("JPEG baseline, full size", lambda: jpeg(photo), 1),
    ("JPEG baseline at 1/4", lambda: jpeg(photo), 4),
    ("JPEG progressive at 1/8", lambda: jpeg(photo, progressive=True), 8),
    ("JPEG progressive 4:4:4 at 1/8", lambda: jpeg(photo, progressive=True, subsampling=0), 8),
    ("JPEG CMYK progressive at 1/8", lambda: jpeg(photo.convert("CMYK"), progressive=True), 8),
]

out = Path(sys.argv[1])
for i, (name, build, scale) in enumerate(VARIANTS):
    (out / f"{i}.bin").write_bytes(build())
print(json.dumps([[name, scale] for name, _, scale in VARIANTS]))
"""

COST = r"""
import io, json, resource, sys
from PIL import Image
from webapp.imaging import pipeline

data, scale = open(sys.argv[1], "rb").read(), int(sys.argv[2])

def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

def decode(blob):
    im = Image.open(io.BytesIO(blob), formats=pipeline.ACCEPTED_FORMATS)
    if scale > 1:
        im.draft("RGB", (im.width // scale, im.height // scale))
    im.load()
    return im

probe = Image.open(io.BytesIO(data))
warm = io.BytesIO()  # first use of a decoder allocates its own state: not the picture's cost
if probe.format == "HEIF":
    import pillow_heif
    pillow_heif.from_pillow(Image.new("RGB", (64, 64))).save(warm, quality=50)
else:
    Image.new("RGB", (64, 64)).save(warm, probe.format)
decode(warm.getvalue())
estimate = pipeline.decode_bytes(probe, data, scale)
before = peak()
im = decode(data)
pixels = probe.width * probe.height
print(json.dumps({"mode": probe.mode, "pixels": pixels, "measured": (peak() - before) / pixels,
                  "estimate": estimate / pixels}))
"""


def child(script: str, *args: str) -> Any:
    out = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    if out.returncode != 0:
        raise SystemExit(f"child failed:\n{out.stderr}")
    return json.loads(out.stdout)


def uploads(tmp: Path) -> None:
    print("building the files (the 50 MP HEIC takes ≈ 10 s to encode) ...", flush=True)
    files = child(MAKE, str(tmp))
    print("\nfour uploads of each file in one process: in a row, and at once (threads)")
    print("(s: wall-clock seconds of the slowest upload; cpu: its CPU seconds, in a row)")
    header = f"{'file':32} {'size':>9}  {'outcome':21} {'in a row: peak':>14} {'s':>6} {'cpu':>5}"
    print(f"{header} {'at once: peak':>14} {'s':>6}")
    idle, worst = float("inf"), 0.0
    for i, (name, group) in enumerate(files):
        if group == "budget" and files[i - 1][1] != "budget":
            print("the largest file of each format that is still decoded:")
        path = tmp / f"{i}.bin"
        row, together = child(RUN, "row", str(path)), child(RUN, "together", str(path))
        idle = min(idle, row["idle_mb"], together["idle_mb"])
        worst = max(worst, row["peak_mb"], together["peak_mb"])
        size = path.stat().st_size
        shown = f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.1f} KB"
        print(
            f"{name:32} {shown:>9}  {','.join(row['outcomes']):21}"
            f" {row['peak_mb']:11.1f} MB {max(row['seconds']):6.2f} {max(row['cpu']):5.2f}"
            f" {together['peak_mb']:11.1f} MB {max(together['seconds']):6.2f}"
        )
    rounds = 5
    paths = [str(tmp / f"{i}.bin") for i in range(len(files))]
    worker = child(WORKER, str(rounds), *paths)
    worst = max(worst, worker["peak_mb"])
    after = ", ".join(f"{mb:.0f}" for mb in worker["rss_after_mb"])
    print(f"\na worker with 4 threads, {rounds} rounds of every file twice each:")
    print(f"peak {worker['peak_mb']:.1f} MB; resident after each round: {after} MB")
    print(f"\nidle process with the app imported: {idle:.1f} MB")
    print(f"highest peak of any process:        {worst:.1f} MB  (target <= 350 MB)")


def costs(tmp: Path) -> None:
    print("building photo-like 3000x2000 pictures (HEIC takes a while) ...", flush=True)
    variants = child(MAKE_COSTS, str(tmp))
    print("\npeak of open + decode, bytes per pixel of the full picture, over a warmed interpreter")
    print(f"{'picture':32} {'mode':6} {'measured':>9} {'estimate':>9}")
    for i, (name, scale) in enumerate(variants):
        cost = child(COST, str(tmp / f"{i}.bin"), str(scale))
        print(f"{name:32} {cost['mode']:6} {cost['measured']:9.2f} {cost['estimate']:9.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--costs", action="store_true", help="measure decode cost per format")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        (costs if args.costs else uploads)(Path(tmp))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
