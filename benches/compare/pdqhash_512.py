#!/usr/bin/env python3
"""Time the reference PDQ C++ core as packaged on PyPI (`pdqhash`) on an already decoded
512x512 RGB array, single thread, for comparison with `hashsweep bench hash`
(figure cpu_pdq_512x512_1thread) run on the same machine.

    pip install pdqhash numpy
    python3 benches/compare/pdqhash_512.py [--seconds 3]

Both sides hash the same kind of input: a 512x512 RGB8 frame already in memory, with all
8 dihedral hashes (pdqhash.compute_dihedral; pdqhash.compute for the original alone).
"""
import argparse
import time

import numpy as np
import pdqhash


def frame(seed):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:512, 0:512]
    base = ((x * 255 // 512) + (y * 255 // 512)) // 2
    noise = rng.integers(0, 64, size=(512, 512))
    rgb = np.stack([np.minimum(base + noise, 255), (x ^ y) & 255, np.minimum(255 - base + noise // 2, 255)], -1)
    return np.ascontiguousarray(rgb.astype(np.uint8))


def rate(fn, img, seconds):
    fn(img)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn(img)
        n += 1
    return n / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3.0)
    a = ap.parse_args()
    img = frame(7)
    for name, fn in [("pdqhash.compute", pdqhash.compute), ("pdqhash.compute_dihedral", pdqhash.compute_dihedral)]:
        r = rate(fn, img, a.seconds)
        print(f"{name:28s} {r:8.1f} frames/s  {1e3 / r:7.3f} ms/frame  (512x512, 1 thread)")


if __name__ == "__main__":
    main()
