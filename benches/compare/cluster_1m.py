"""`hashsweep cluster` over one million PDQ hashes: time, comparisons per second, and
whether every planted near-duplicate series came back as one group.

    python3 benches/compare/cluster_1m.py --bin target/release/hashsweep --threads 2

The list: 10,000 series of 5 hashes (a random centre and 4 copies with up to 12 bits
flipped) among 950,000 random hashes, shuffled. Random PDQ hashes lie about 128 bits apart,
so at distance 31 the planted series are the groups to find.
"""

import argparse
import json
import random
import subprocess
import tempfile
import time
from pathlib import Path


def planted(n_random: int, series: int, per: int, seed: int = 1):
    rng = random.Random(seed)
    rows = []
    for s in range(series):
        centre = rng.getrandbits(256)
        rows.append((f"series{s}/0", centre))
        for m in range(1, per):
            h = centre
            for b in rng.sample(range(256), rng.randint(0, 12)):
                h ^= 1 << b
            rows.append((f"series{s}/{m}", h))
    rows += [(f"random{i}", rng.getrandbits(256)) for i in range(n_random)]
    rng.shuffle(rows)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/hashsweep")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--random", type=int, default=950_000)
    ap.add_argument("--series", type=int, default=10_000)
    ap.add_argument("--backend", default="cpu")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hashsweep-cluster-1m-"))
    rows = planted(a.random, a.series, 5)
    listing = tmp / "hashes.csv"
    with open(listing, "w") as f:
        f.write("pdq,label\n")
        f.writelines(f"{h:064x},{label}\n" for label, h in rows)
    out = tmp / "groups.jsonl"
    t = time.perf_counter()
    subprocess.run(
        [a.bin, "cluster", listing, "--threads", str(a.threads), "--backend", a.backend,
         "-o", out],
        check=True,
    )
    wall = time.perf_counter() - t
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    summary = lines[-1]
    whole = 0
    for g in lines[:-1]:
        origins = {m["label"].split("/")[0] for m in g["members"]}
        if g["size"] == 5 and len(origins) == 1 and next(iter(origins)).startswith("series"):
            whole += 1
    print(f"hashes {len(rows)}, threads {a.threads}, backend {summary['backend']}")
    print(f"wall {wall:.1f} s, join {summary['seconds']:.1f} s, "
          f"{summary['comparisons']:.3e} comparisons, "
          f"{summary['comparisons_per_second']:.3e}/s")
    print(f"groups {summary['groups']}, pairs {summary['pairs']}, "
          f"planted series found whole: {whole} of {a.series}")


if __name__ == "__main__":
    main()
