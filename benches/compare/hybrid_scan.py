#!/usr/bin/env python3
"""`hashsweep scan` on the same files with the CPU alone, with the GPU and CPU workers
together (`--backend gpu`, what `auto` runs on a machine with a GPU) and with the device
alone (`--gpu-only`), run in turns on this machine. Reports files per second (median of
the repeats, process start included), each as a fraction of the CPU run, and the device
counters of the summary record (frames on each processor, bytes up and down).

The claim it checks: adding a GPU never makes a scan slower than `--backend cpu`. On
lavapipe (a software GPU on the same cores) the hybrid run must stay at or above 0.9 of the
CPU run, while the device alone is far slower.

    pip install pillow numpy
    cargo build --release
    python3 benches/compare/hybrid_scan.py [--dir /tmp/hs-hybrid] [--count 200] [--repeat 3]
        [--json benches/results/hybrid-scan-lavapipe.json]
"""
import argparse
import json
import os
import statistics
import subprocess
import time

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "../../../shared/testdata")
BIN = os.path.join(HERE, "../../target/release/hashsweep")


def make_corpus(d, count):
    """JPEGs from 12 MP down to thumbnails, from two of the shared golden images."""
    os.makedirs(d, exist_ok=True)
    if len([f for f in os.listdir(d) if f.endswith(".jpg")]) == count:
        return
    srcs = [Image.open(os.path.join(SHARED, "golden/g16_photo_3024x4032.png")).convert("RGB"),
            Image.open(os.path.join(SHARED, "golden/g12_bridge_1004x1600.png")).convert("RGB").resize((4032, 2520))]
    for i, long_side in enumerate(np.geomspace(4032, 160, count)):
        src = srcs[i % 2]
        s = long_side / max(src.size)
        im = src.resize((max(8, int(src.width * s)), max(8, int(src.height * s))), Image.BILINEAR)
        im.save(os.path.join(d, f"img{i:03d}.jpg"), quality=90)


def scan(corpus, out, args):
    cmd = [BIN, "scan", "--quiet", "-o", out, *args, corpus]
    env = dict(os.environ, XDG_RUNTIME_DIR=os.environ.get("XDG_RUNTIME_DIR", "/tmp"))
    t = time.perf_counter()
    subprocess.run(cmd, check=False, env=env, stdout=subprocess.DEVNULL)
    secs = time.perf_counter() - t
    with open(out) as f:
        summary = [json.loads(l) for l in f if '"type":"summary"' in l][-1]
    return secs, summary


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="/tmp/hs-hybrid")
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json")
    a = ap.parse_args()
    corpus = os.path.join(a.dir, "corpus")
    make_corpus(corpus, a.count)
    modes = {
        "cpu": ["--backend", "cpu"],
        "hybrid": ["--backend", "gpu"],
        "gpu-only": ["--backend", "gpu", "--gpu-only"],
    }
    times = {m: [] for m in modes}
    summaries = {}
    for _ in range(a.repeat):
        for m, args in modes.items():
            secs, summary = scan(corpus, os.path.join(a.dir, f"{m}.jsonl"), args)
            times[m].append(secs)
            summaries[m] = summary
    rows = []
    cpu_rate = a.count / statistics.median(times["cpu"])
    for m in modes:
        rate = a.count / statistics.median(times[m])
        gpu = summaries[m].get("gpu") or {}
        rows.append({
            "mode": m,
            "args": modes[m],
            "files_per_s": rate,
            "of_cpu": rate / cpu_rate,
            "seconds": times[m],
            "frames_on_gpu": gpu.get("frames_hashed_on_gpu"),
            "frames_on_cpu": gpu.get("frames_hashed_on_cpu"),
            "gpu": gpu,
        })
        print(f"{m:>9}: {rate:7.1f} files/s  {rate / cpu_rate:5.2f}x cpu  "
              f"(GPU {gpu.get('frames_hashed_on_gpu', '-')} frames, CPU {gpu.get('frames_hashed_on_cpu', '-')})")
    devices = subprocess.run([BIN, "devices", "--json"], capture_output=True, text=True).stdout
    report = {
        "command": "python3 benches/compare/hybrid_scan.py " + " ".join(
            f"--{k} {v}" for k, v in vars(a).items() if v is not None),
        "files": a.count,
        "cores": os.cpu_count(),
        "adapters": json.loads(devices or "[]"),
        "rows": rows,
    }
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
