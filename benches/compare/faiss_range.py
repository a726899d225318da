#!/usr/bin/env python3
"""Exact 256-bit Hamming range search: hashsweep's CPU matcher against FAISS
`IndexBinaryFlat.range_search` on the same random data, side by side, both on 2 threads.

    pip install faiss-cpu numpy
    cargo build --release
    python3 benches/compare/faiss_range.py [--refs 10000000] [--queries 1000] [--threads 2]

Radius 31 means distance <= 31 for both (FAISS's range_search keeps d < radius, so it is
given 32). Every tenth query is planted near an entry so that both report the same, non-zero,
number of pairs; the script checks that they agree.
"""
import argparse
import json
import os
import subprocess
import tempfile
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--refs", type=int, default=10_000_000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--radius", type=int, default=31)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bin", default="target/release/hashsweep")
    a = ap.parse_args()

    import faiss

    rng = np.random.default_rng(42)
    refs = rng.integers(0, 256, size=(a.refs, 32), dtype=np.uint8)
    queries = rng.integers(0, 256, size=(a.queries, 32), dtype=np.uint8)
    for i in range(0, a.queries, 10):  # planted: a copy of an entry with i % 40 bits flipped
        q = refs[(i * 7919) % a.refs].copy()
        bits = np.unpackbits(q)
        bits[: i % 40] ^= 1
        queries[i] = np.packbits(bits)

    faiss.omp_set_num_threads(a.threads)
    index = faiss.IndexBinaryFlat(256)
    index.add(refs)
    index.range_search(queries[:10], a.radius + 1)  # warm-up
    t = time.perf_counter()
    lims, _, _ = index.range_search(queries, a.radius + 1)
    faiss_s = time.perf_counter() - t
    faiss_pairs = int(lims[-1])
    comparisons = a.refs * a.queries

    with tempfile.TemporaryDirectory() as d:
        rp, qp, out = (os.path.join(d, n) for n in ("refs.bin", "queries.bin", "report.json"))
        refs.tofile(rp)
        queries.tofile(qp)
        env = dict(os.environ, RAYON_NUM_THREADS=str(a.threads))
        subprocess.run(
            [a.bin, "bench", "match", "--backend", "cpu", "--raw-refs", rp, "--raw-queries", qp,
             "--max-distance", str(a.radius), "--min-time", "3", "--json", out],
            check=True, env=env, stdout=subprocess.DEVNULL)
        fig = json.load(open(out))["figures"][0]

    ours = fig["rate"]
    ours_pairs = int(fig["note"].split()[0])
    print(f"data: {a.refs} refs x {a.queries} queries, 256 bits, radius {a.radius}, {a.threads} threads")
    print(f"faiss IndexBinaryFlat.range_search: {comparisons / faiss_s:.3e} comparisons/s ({faiss_s:.2f} s, {faiss_pairs} pairs)")
    print(f"hashsweep bench match (cpu):        {ours:.3e} comparisons/s ({fig['note']}; {fig['backend']})")
    print(f"ratio hashsweep / faiss: {ours / (comparisons / faiss_s):.2f}x")
    if ours_pairs != faiss_pairs:
        raise SystemExit(f"pair counts differ: hashsweep {ours_pairs}, faiss {faiss_pairs}")


if __name__ == "__main__":
    main()
