#!/usr/bin/env python3
"""End to end on a mixed JPEG folder (camera size down to thumbnails), side by side on
this machine, 2 workers each:
  (a) Pillow decode + PyPI `pdqhash` on the full image, 2 processes: the faithful pipeline;
  (b) the same with Pillow's draft mode (JPEG decoded at reduced scale, >= 512 px);
  (c) `hashsweep scan --backend cpu --threads 2 --algo pdq`.
Reports images per second (wall clock, process start included) and the PDQ fidelity of
(b) and (c) against (a), over images with quality >= 80.

    pip install pdqhash pillow numpy
    cargo build --release
    python3 benches/compare/scan_vs_pillow.py [--dir /tmp/hs-mixed] [--count 80]
"""
import argparse
import json
import os
import subprocess
import time
from multiprocessing import Pool

import numpy as np
import pdqhash
from PIL import Image

SHARED = os.path.join(os.path.dirname(__file__), "../../../shared/testdata")


def make_corpus(d, count):
    os.makedirs(d, exist_ok=True)
    srcs = [Image.open(os.path.join(SHARED, "golden/g16_photo_3024x4032.png")).convert("RGB"),
            Image.open(os.path.join(SHARED, "golden/g12_bridge_1004x1600.png")).convert("RGB").resize((4032, 2520))]
    sides = np.geomspace(4032, 160, count)  # 12 MP down to thumbnails
    for i, long_side in enumerate(sides):
        src = srcs[i % 2]
        s = long_side / max(src.size)
        im = src.resize((max(8, int(src.width * s)), max(8, int(src.height * s))), Image.BILINEAR)
        im.save(os.path.join(d, f"img{i:03d}.jpg"), quality=90)
    return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".jpg"))


def faithful(path):
    im = Image.open(path)
    h, q = pdqhash.compute(np.ascontiguousarray(np.asarray(im.convert("RGB"))))
    return path, h, q


def draft(path):
    im = Image.open(path)
    im.draft("RGB", (512, 512))
    h, q = pdqhash.compute(np.ascontiguousarray(np.asarray(im.convert("RGB"))))
    return path, h, q


def hexbits(bits):
    return "%064x" % int("".join(str(int(b)) for b in bits), 2)


def run_pool(fn, files):
    t = time.perf_counter()
    with Pool(2) as p:
        out = p.map(fn, files, chunksize=1)
    return time.perf_counter() - t, {path: (hexbits(h), q) for path, h, q in out}


def distances(ref, other):
    d = [bin(int(ref[p][0], 16) ^ int(other[p][0], 16)).count("1") for p in ref if ref[p][1] >= 80 and p in other]
    return np.mean(d), max(d), sum(x <= 10 for x in d) / len(d), len(d)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="/tmp/hs-mixed")
    ap.add_argument("--count", type=int, default=80)
    ap.add_argument("--bin", default="target/release/hashsweep")
    a = ap.parse_args()
    files = make_corpus(a.dir, a.count)
    mp = sum(Image.open(f).width * Image.open(f).height for f in files) / 1e6
    print(f"corpus: {len(files)} JPEGs, {mp:.0f} MP in all, {a.dir}")
    tf, ref = run_pool(faithful, files)
    td, dr = run_pool(draft, files)
    out = os.path.join(a.dir, "..", "hs-mixed-scan.jsonl")
    t = time.perf_counter()
    subprocess.run([a.bin, "scan", a.dir, "--backend", "cpu", "--threads", "2", "--algo", "pdq",
                    "--quiet", "--stats", "-o", out], check=True)
    th = time.perf_counter() - t
    recs = [json.loads(l) for l in open(out)]
    ours = {r["path"]: (r["pdq"], r["quality"]) for r in recs if r.get("type") == "file" and r["status"] == "ok"}
    n = len(files)
    print(f"(a) Pillow + pdqhash, full image, 2 procs: {n / tf:6.2f} images/s")
    m, x, w, k = distances(ref, dr)
    print(f"(b) Pillow draft + pdqhash, 2 procs:       {n / td:6.2f} images/s; vs (a): mean {m:.2f} bits, max {x}, within 10: {w:.1%} ({k} images q>=80)")
    m, x, w, k = distances(ref, ours)
    print(f"(c) hashsweep scan, cpu, 2 threads:        {n / th:6.2f} images/s; vs (a): mean {m:.2f} bits, max {x}, within 10: {w:.1%} ({k} images q>=80)")
    print(f"ratios: (c)/(a) {tf / th:.2f}x, (c)/(b) {td / th:.2f}x")


if __name__ == "__main__":
    main()
