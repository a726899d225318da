#!/usr/bin/env bash
# Speed of pictures inside disk images against the same pictures in a folder, side by side
# on this machine: N JPEGs (default 400, 1024x768) in a folder, in an ext4, a FAT32 and an
# NTFS filesystem, each as a raw image and as an EWF image (ewfacquire, deflate "fast", the
# usual acquisition setting), each scanned on the CPU with 2 threads (the image's lister
# thread comes on top, on the same cores), R rounds (default 3) interleaved; prints the
# median seconds of each and its speed as a share of the folder's.
# Usage: scripts/disk-speed.sh [N] [R]
# Needs target/release/hashsweep, Pillow, e2fsprogs, dosfstools, mtools, ntfs-3g (mkntfs,
# ntfscp) and ewf-tools.
set -euo pipefail
n=${1:-400}
rounds=${2:-3}
bin=$(cd "$(dirname "$0")/.." && pwd)/target/release/hashsweep
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$work" "$n" <<'PY'
import os, random, sys
from PIL import Image, ImageDraw, ImageFilter
work, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(3)
os.makedirs(f"{work}/folder/pics")
for i in range(n):
    im = Image.effect_noise((1024, 768), 40).convert("RGB")
    d = ImageDraw.Draw(im)
    for _ in range(60):
        x, y = rng.randrange(1000), rng.randrange(740)
        d.rectangle([x, y, x + rng.randrange(300), y + rng.randrange(200)],
                    fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    im.filter(ImageFilter.GaussianBlur(1)).save(f"{work}/folder/pics/{i:05}.jpg", quality=85)
PY
mb=$(( $(du -sm "$work/folder" | cut -f1) * 13 / 10 + 40 ))
mkdir -p "$work"/{ext4,fat32,ntfs,ext4e01,fat32e01,ntfse01}
mke2fs -q -F -t ext4 -d "$work/folder" "$work/ext4/disk.img" "${mb}M"
mkfs.fat -F 32 -C "$work/fat32/disk.img" $(( mb * 1024 )) > /dev/null
mcopy -s -i "$work/fat32/disk.img" "$work/folder/pics" ::/
truncate -s "${mb}M" "$work/ntfs/disk.img"
mkntfs -q -F -f "$work/ntfs/disk.img" 2> /dev/null
for f in "$work"/folder/pics/*; do
  ntfscp -q "$work/ntfs/disk.img" "$f" "/$(basename "$f")"
done
ewfacquire -q -u -c fast -f encase6 -S 4GiB -t "$work/ntfse01/disk" "$work/ntfs/disk.img" > /dev/null
ewfacquire -q -u -c fast -f encase6 -S 4GiB -t "$work/ext4e01/disk" "$work/ext4/disk.img" > /dev/null
ewfacquire -q -u -c fast -f encase6 -S 4GiB -t "$work/fat32e01/disk" "$work/fat32/disk.img" > /dev/null
kinds="folder ext4 ext4e01 fat32 fat32e01 ntfs ntfse01"
cat "$work"/folder/pics/* "$work"/*/disk.* > /dev/null  # all in the page cache
declare -A times cpu
for r in $(seq "$rounds"); do
  for kind in $kinds; do
    /usr/bin/time -f "%e %U %S" -o "$work/time" \
      "$bin" scan --backend cpu --threads 2 --quiet --force -o "$work/$kind.jsonl" "$work/$kind" || true
    read -r wall user sys < "$work/time"
    times[$kind]+="$wall "
    cpu[$kind]+="$(echo "$user + $sys" | bc) "
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
base=$(echo "${times[folder]}" | median)
for kind in $kinds; do
  m=$(echo "${times[$kind]}" | median)
  hashed=$(grep -c '"status":"ok"' "$work/$kind.jsonl")
  c=$(echo "${cpu[$kind]}" | median)
  printf '%-9s %7.2f s wall, %7.2f s CPU  %5d hashed  speed %5.1f%% of the folder   (wall runs: %s)\n' "$kind" "$m" "$c" "$hashed" "$(echo "100 * $base / $m" | bc -l)" "${times[$kind]}"
done
