#!/usr/bin/env python3
"""HEIC and AVIF images per second, side by side on this machine with the same files and
threads:
  (a) Pillow + pillow-heif (HEIC) or Pillow's own AVIF plugin, then PyPI `pdqhash` and
      `imagehash.phash` on the full image, N processes;
  (b) `hashsweep bench hash DIR --backend cpu` (its corpus_end_to_end figure: read, decode
      by heif-convert, PDQ + pHash), RAYON_NUM_THREADS=N;
  (c) `hashsweep hash DIR --backend cpu` wall clock, process start included.
The corpus is phone-sized pictures (12 MP down to 1 MP) made from the shared sample photos
by libheif's encoders at their default speed.

    apt-get install libheif-examples; pip install pillow pillow-heif pdqhash imagehash numpy
    cargo build --release
    python3 benches/compare/heif_vs_pillow.py [--dir /tmp/hs-heif] [--count 16] [--threads 2]
"""
import argparse
import json
import os
import subprocess
import tempfile
import time
from multiprocessing import Pool

import imagehash
import numpy as np
import pdqhash
import pillow_heif
from PIL import Image

pillow_heif.register_heif_opener()
SHARED = os.path.join(os.path.dirname(__file__), "../../../shared/testdata")
SOURCES = ["golden/g16_photo_3024x4032.png", "pdq/reg-test-input/exif-rotn/exif-rotn-1.jpg"]


def make_corpus(d, count, ext):
    out = os.path.join(d, ext)
    os.makedirs(out, exist_ok=True)
    srcs = [Image.open(os.path.join(SHARED, s)).convert("RGB") for s in SOURCES]
    for i, long_side in enumerate(np.geomspace(4032, 1200, count)):
        path = os.path.join(out, f"img{i:03d}.{ext}")
        if os.path.exists(path):
            continue
        src = srcs[i % len(srcs)]
        s = long_side / max(src.size)
        im = src.resize((int(src.width * s), int(src.height * s)), Image.BILINEAR)
        with tempfile.NamedTemporaryFile(suffix=".png") as png:
            im.save(png.name)
            speed = ["-p", "speed=6"] if ext == "avif" else []
            subprocess.run(["heif-enc", "-q", "80", *speed, "-o", path, png.name], check=True,
                           capture_output=True)
    return sorted(os.path.join(out, f) for f in os.listdir(out))


def reference(path):
    with Image.open(path) as im:
        rgb = im.convert("RGB")
    bits, q = pdqhash.compute(np.asarray(rgb))
    return path, imagehash.phash(rgb)


def pillow_rate(files, threads, repeat):
    with Pool(threads) as p:
        p.map(reference, files[:threads])  # workers started and libraries loaded
        best = None
        for _ in range(repeat):
            t = time.perf_counter()
            p.map(reference, files, chunksize=1)
            dt = time.perf_counter() - t
            best = dt if best is None else min(best, dt)
    return len(files) / best


def bench_rate(binary, folder, threads):
    with tempfile.NamedTemporaryFile(suffix=".json") as j:
        env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
        subprocess.run([binary, "bench", "hash", folder, "--backend", "cpu", "--batch-sizes", "1",
                        "--min-time", "0.5", "--json", j.name], check=True, env=env,
                       capture_output=True)
        report = json.load(open(j.name))
    return next(f for f in report["figures"] if f["name"] == "corpus_end_to_end")["rate"]


def hash_rate(binary, folder, threads, repeat):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    best = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = subprocess.run([binary, "hash", folder, "--backend", "cpu", "--format", "jsonl"],
                             check=True, env=env, capture_output=True, text=True).stdout
        dt = time.perf_counter() - t
        best = dt if best is None else min(best, dt)
    ok = sum(json.loads(l)["status"] == "ok" for l in out.splitlines())
    return ok / best, ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="/tmp/hs-heif")
    ap.add_argument("--count", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--bin", default="target/release/hashsweep")
    a = ap.parse_args()
    for ext in ["heic", "avif"]:
        files = make_corpus(a.dir, a.count, ext)
        mp = sum(Image.open(f).width * Image.open(f).height for f in files) / 1e6
        folder = os.path.dirname(files[0])
        peer = pillow_rate(files, a.threads, a.repeat)
        bench = bench_rate(a.bin, folder, a.threads)
        wall, ok = hash_rate(a.bin, folder, a.threads, a.repeat)
        assert ok == len(files), f"{ok} of {len(files)} hashed"
        print(f"{ext}: {len(files)} files, {mp:.0f} MP, {a.threads} threads")
        print(f"  (a) Pillow + {'pillow-heif' if ext == 'heic' else 'its AVIF plugin'} + pdqhash + imagehash: {peer:6.2f} images/s")
        print(f"  (b) hashsweep bench hash, corpus_end_to_end:  {bench:6.2f} images/s  ({bench / peer:.2f}x)")
        print(f"  (c) hashsweep hash, wall clock:               {wall:6.2f} images/s  ({wall / peer:.2f}x)")


if __name__ == "__main__":
    main()
