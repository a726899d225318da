"""Images per second of the Ray Data backfill (hashsweep.backfill, local mode) against
`hashsweep scan` on the same files with the same threads, side by side.

    PYTHONPATH=<site with the hashsweep package> python3 benches/compare/backfill_vs_scan.py \
        --bin target/release/hashsweep --files 2000 --threads 2 --repeat 3

Both hash PDQ on the CPU backend and match against the same 100k-entry reference set.
The scan uses --threads N; the backfill N workers of one CPU each (one hashing thread each).
Ray's start-up is timed apart: a cluster pays it once per job, not per file.
"""

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def corpus(folder: Path, n: int) -> None:
    rng = np.random.default_rng(1)
    for i in range(n):
        d = folder / f"d{i % 20}"
        d.mkdir(parents=True, exist_ok=True)
        small = (rng.random((15, 20, 3)) * 255).astype(np.uint8)
        Image.fromarray(small).resize((640, 480), Image.BILINEAR).save(
            d / f"{i:05}.jpg", quality=90
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/hashsweep")
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()

    import ray

    from hashsweep.backfill import backfill

    tmp = Path(tempfile.mkdtemp(prefix="hashsweep-backfill-bench-"))
    images = tmp / "images"
    corpus(images, a.files)
    refs = tmp / "refs.hsref"
    subprocess.run([a.bin, "refs", "random", "--count", "100000", "-o", refs], check=True)

    scan_s, backfill_s = [], []
    t = time.perf_counter()
    ray.init(num_cpus=a.threads + 1, include_dashboard=False)
    start_s = time.perf_counter() - t
    for r in range(a.repeat):
        t = time.perf_counter()
        subprocess.run(
            [
                a.bin,
                "scan",
                "--backend",
                "cpu",
                "--threads",
                str(a.threads),
                "--quiet",
                "--refs",
                refs,
                images,
                "-o",
                tmp / f"scan{r}.jsonl",
            ],
            check=True,
        )
        scan_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        rows = backfill(
            [str(images)],
            str(tmp / f"out{r}"),
            refs=str(refs),
            backend="cpu",
            concurrency=a.threads,
            cpus_per_worker=1,
            batch_size=256,
        )
        backfill_s.append(time.perf_counter() - t)
        assert rows == a.files
    ray.shutdown()
    s, b = statistics.median(scan_s), statistics.median(backfill_s)
    print(f"files {a.files}, threads {a.threads}, repeats {a.repeat} (medians)")
    print(f"hashsweep scan: {s:.2f} s, {a.files / s:.0f} images/s")
    print(
        f"Ray Data backfill: {b:.2f} s, {a.files / b:.0f} images/s (Ray start {start_s:.1f} s apart)"
    )
    print(f"backfill / scan throughput: {s / b:.2f}")


if __name__ == "__main__":
    main()
