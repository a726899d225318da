#!/usr/bin/env python3
"""vPDQ end to end on the sample clips, side by side on this machine, 2 threads each:
  (a) PyPI `vpdq` (the reference C++ through Cython): computeHash(..., thread_count=2);
  (b) `hashsweep scan --backend cpu --threads 2 --algo pdq` on the same files.
For each interval (seconds per hash; 0 = every frame) it reports frames hashed per second
(wall clock; process start included for hashsweep, interpreter start excluded for vpdq),
the median of --repeat runs, and the distance between the two tools' frame hashes.

    apt install ffmpeg libavcodec-dev libavformat-dev libavdevice-dev libavfilter-dev \
        libswscale-dev libswresample-dev   # the -dev packages only to build PyPI vpdq
    pip install vpdq
    cargo build --release
    python3 benches/compare/vpdq_vs_pypi.py [--repeat 3] [--json FILE]
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import tempfile
import time

import vpdq

HERE = os.path.dirname(os.path.abspath(__file__))
VIDEOS = os.path.join(HERE, "../../../shared/testdata/video")
BIN = os.path.join(HERE, "../../target/release/hashsweep")


def pypi(files, interval):
    t = time.perf_counter()
    out = {}
    for f in files:
        h = vpdq.computeHash(f, seconds_per_hash=interval, downsample_width=0,
                             downsample_height=0, thread_count=2)
        out[os.path.basename(f)] = [(x.frame_number, x.quality, x.hex) for x in h]
    return time.perf_counter() - t, out


def ours(files, interval, tmp):
    o = os.path.join(tmp, "scan.jsonl")
    cmd = [BIN, "scan", "--backend", "cpu", "--threads", "2", "--algo", "pdq", "--quiet",
           "--video-interval", str(interval), "-o", o] + files
    t = time.perf_counter()
    subprocess.run(cmd, check=True)
    secs = time.perf_counter() - t
    out = {}
    for line in open(o):
        r = json.loads(line)
        if r.get("type") == "file" and r.get("vpdq_file"):
            rows = [l.split(",") for l in open(r["vpdq_file"]).read().split()]
            out[os.path.basename(r["path"])] = [(int(a), int(b), c) for a, b, c, _ in rows]
    return secs, out, " ".join(cmd)


def bits(a, b):
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--intervals", default="1,0")
    ap.add_argument("--json")
    args = ap.parse_args()
    files = sorted(os.path.join(VIDEOS, f) for f in os.listdir(VIDEOS) if f.endswith(".mp4"))
    report = {"machine": platform.processor() or platform.machine(), "cores": os.cpu_count(),
              "videos": [os.path.basename(f) for f in files], "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        for interval in [float(x) for x in args.intervals.split(",")]:
            a_times, b_times = [], []
            for _ in range(args.repeat):
                ta, ha = pypi(files, interval)
                tb, hb, cmd = ours(files, interval, tmp)
                a_times.append(ta)
                b_times.append(tb)
            frames = sum(len(v) for v in ha.values())
            assert frames == sum(len(v) for v in hb.values()), "frame counts differ"
            d = [bits(x[2], y[2]) for k in ha for x, y in zip(ha[k], hb[k]) if x[1] >= 80]
            same = sum(x == y for k in ha for x, y in zip(ha[k], hb[k]))
            ta, tb = statistics.median(a_times), statistics.median(b_times)
            run = {"interval_s": interval, "frames": frames,
                   "pypi_vpdq_frames_per_s": frames / ta, "hashsweep_frames_per_s": frames / tb,
                   "ratio": ta / tb, "pypi_s": a_times, "hashsweep_s": b_times,
                   "frames_identical": same, "q80_mean_bits": statistics.mean(d) if d else 0,
                   "q80_max_bits": max(d) if d else 0, "hashsweep_command": cmd}
            report["runs"].append(run)
            print(f"interval {interval:>4}: {frames} frames | PyPI vpdq {frames / ta:8.1f} frames/s | "
                  f"hashsweep {frames / tb:8.1f} frames/s | ratio {ta / tb:.2f}x | "
                  f"identical {same}/{frames}, q>=80 mean {run['q80_mean_bits']:.3f} max {run['q80_max_bits']} bits")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
