#!/usr/bin/env python3
"""The multi-index against the sweep and against FAISS's IndexBinaryMultiHash (HMA's index:
256 bits in 16 substrings of 16 bits, nflip=1, exact at distance 31), side by side on one
set and the same queries, all on the same threads.

    pip install faiss-cpu numpy
    cargo build --release
    python3 benches/compare/mih_vs_faiss.py --count 10000000 [--queries 1000] [--threads 2]

The set is `refs random --series 8` (near-duplicate series of 8, each entry its predecessor
with 1-8 bits flipped), written with its index; half the queries are planted near entries at
0-31 bits (`bench index` writes them for FAISS too). Times are medians of 3; FAISS's pair
count must equal ours.
"""
import argparse
import json
import os
import re
import statistics
import struct
import subprocess
import tempfile
import time

import numpy as np


def hashes_of(path):
    """The hash array of a set file, as FAISS's bytes (the header says where it lies)."""
    with open(path, "rb") as f:
        head = f.read(256)
    count, offset = struct.unpack_from("<QQ", head, 24)
    return np.memmap(path, dtype=np.uint8, mode="r", offset=offset, shape=(count, 32))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=10_000_000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--radius", type=int, default=31)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bin", default="target/release/hashsweep")
    ap.add_argument("--dir", default=None, help="keep the set here (default: a temporary folder)")
    ap.add_argument("--no-faiss", action="store_true")
    a = ap.parse_args()
    env = dict(os.environ, RAYON_NUM_THREADS=str(a.threads))
    with tempfile.TemporaryDirectory(dir=a.dir) as d:
        s, q, out = (os.path.join(d, n) for n in ("set.hsref", "q.bin", "bench.json"))
        t = time.perf_counter()
        subprocess.run([a.bin, "refs", "random", "--count", str(a.count), "--series", "8", "-o", s],
                       check=True, env=env)
        print(f"refs random + index: {time.perf_counter() - t:.1f} s, {os.path.getsize(s)} bytes")
        subprocess.run([a.bin, "bench", "index", s, "--queries", str(a.queries),
                        "--max-distance", str(a.radius), "--json", out, "--write-queries", q],
                       check=True, env=env)
        figs = {f["backend"].split(" (")[0]: f for f in json.load(open(out))["figures"]}
        mih_s = float(figs["mih"]["note"].split(" s ")[0])
        sweep_s = float(figs["cpu sweep"]["note"].split(" s ")[0])
        pairs = int(re.search(r"(\d+) pairs", figs["mih"]["note"]).group(1))
        print(f"hashsweep mih: {mih_s:.3f} s, sweep {sweep_s:.3f} s ({sweep_s / mih_s:.1f}x), {pairs} pairs")
        if a.no_faiss:
            return
        import faiss
        faiss.omp_set_num_threads(a.threads)
        refs = np.ascontiguousarray(hashes_of(s))
        queries = np.fromfile(q, dtype=np.uint8).reshape(-1, 32)
        t = time.perf_counter()
        index = faiss.IndexBinaryMultiHash(256, 16, 16)
        index.nflip = 1
        index.add(refs)
        build = time.perf_counter() - t
        times = []
        for _ in range(3):
            t = time.perf_counter()
            lims, _, _ = index.range_search(queries, a.radius + 1)
            times.append(time.perf_counter() - t)
        faiss_s = statistics.median(times)
        faiss_pairs = int(lims[-1])
        print(f"faiss IndexBinaryMultiHash(256,16,16) nflip=1: build {build:.1f} s, search {faiss_s:.3f} s, {faiss_pairs} pairs")
        print(f"ratio faiss / hashsweep mih: {faiss_s / mih_s:.1f}x")
        if faiss_pairs != pairs:
            raise SystemExit(f"pair counts differ: hashsweep {pairs}, faiss {faiss_pairs}")


if __name__ == "__main__":
    main()
