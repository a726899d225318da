#!/usr/bin/env bash
# Speed of pictures inside containers against the same pictures loose, side by side on
# this machine: N JPEGs (default 400, 1024x768) loose, in a stored ZIP, in a deflate ZIP
# and in a .tar.gz, each scanned on the CPU with 2 threads (the container's lister thread
# comes on top, on the same cores), R rounds (default 3) interleaved; prints the median
# seconds of each and its speed as a share of loose.
# Usage: scripts/container-speed.sh [N] [R]   (needs target/release/hashsweep and Pillow)
set -euo pipefail
n=${1:-400}
rounds=${2:-3}
bin=$(cd "$(dirname "$0")/.." && pwd)/target/release/hashsweep
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$work" "$n" <<'PY'
import io, os, random, sys, tarfile, zipfile
from PIL import Image, ImageDraw, ImageFilter
work, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(3)
os.makedirs(f"{work}/loose/pics")
for i in range(n):
    im = Image.effect_noise((1024, 768), 40).convert("RGB")
    d = ImageDraw.Draw(im)
    for _ in range(60):
        x, y = rng.randrange(1000), rng.randrange(740)
        d.rectangle([x, y, x + rng.randrange(300), y + rng.randrange(200)],
                    fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    im.filter(ImageFilter.GaussianBlur(1)).save(f"{work}/loose/pics/{i:05}.jpg", quality=85)
names = sorted(os.listdir(f"{work}/loose/pics"))
for kind, method in [("stored", zipfile.ZIP_STORED), ("deflate", zipfile.ZIP_DEFLATED)]:
    os.makedirs(f"{work}/{kind}")
    with zipfile.ZipFile(f"{work}/{kind}/pics.zip", "w", method) as z:
        for m in names:
            z.write(f"{work}/loose/pics/{m}", f"pics/{m}")
os.makedirs(f"{work}/targz")
with tarfile.open(f"{work}/targz/pics.tar.gz", "w:gz") as t:
    for m in names:
        t.add(f"{work}/loose/pics/{m}", f"pics/{m}")
PY
cat "$work"/loose/pics/* "$work"/*/pics.* > /dev/null  # all in the page cache
declare -A times cpu
for r in $(seq "$rounds"); do
  for kind in loose stored deflate targz; do
    /usr/bin/time -f "%e %U %S" -o "$work/time" \
      "$bin" scan --backend cpu --threads 2 --quiet --force -o "$work/$kind.jsonl" "$work/$kind" || true
    read -r wall user sys < "$work/time"
    times[$kind]+="$wall "
    cpu[$kind]+="$(echo "$user + $sys" | bc) "
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
base=$(echo "${times[loose]}" | median)
for kind in loose stored deflate targz; do
  m=$(echo "${times[$kind]}" | median)
  hashed=$(grep -c '"status":"ok"' "$work/$kind.jsonl")
  c=$(echo "${cpu[$kind]}" | median)
  printf '%-8s %7.2f s wall, %7.2f s CPU  %5d hashed  speed %5.1f%% of loose   (wall runs: %s)\n' "$kind" "$m" "$c" "$hashed" "$(echo "100 * $base / $m" | bc -l)" "${times[$kind]}"
done
