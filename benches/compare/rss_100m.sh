#!/usr/bin/env bash
# Anonymous memory of `hashsweep match` against a 100-million-entry PDQ set.
#   bash benches/compare/rss_100m.sh [COUNT] [QUERIES] [DIR]
# Writes a random set (about 4 GB for 100M entries) and a query file with some planted
# neighbours, runs the match on the CPU backend, and samples RssAnon / RssFile from
# /proc/PID/status every 0.2 s while it runs. Prints the peaks and the match count.
set -euo pipefail
count=${1:-100000000}
queries=${2:-1000}
dir=${3:-${TMPDIR:-/tmp}/hashsweep-rss}
bin=${HASHSWEEP:-target/release/hashsweep}
mkdir -p "$dir"
set_file="$dir/random-$count.hsref"
[ -f "$set_file" ] || /usr/bin/time -f "refs random: %e s, max RSS %M KiB" \
  "$bin" refs random --count "$count" --seed 7 -o "$set_file"
python3 - "$set_file" "$queries" "$dir/queries.txt" <<'PY'
import random, struct, sys
path, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rnd = random.Random(1)
with open(path, "rb") as f:
    head = f.read(256)
    count, hashes_at = struct.unpack_from("<QQ", head, 24)
    lines = []
    for i in range(n):
        if i % 100 == 0:  # planted: entry e with i % 30 bits flipped
            e = rnd.randrange(count)
            f.seek(hashes_at + 32 * e)
            words = list(struct.unpack("<4Q", f.read(32)))
            for b in rnd.sample(range(256), i % 30):
                words[b // 64] ^= 1 << (b % 64)
            lines.append("".join("%016x" % w for w in reversed(words)) + f" planted-{e}")
        else:
            lines.append("%064x random" % rnd.getrandbits(256))
open(out, "w").write("\n".join(lines) + "\n")
PY
"$bin" match "$dir/queries.txt" --refs "$set_file" --backend cpu --format jsonl -o "$dir/matches.jsonl" 2> "$dir/match.err" &
pid=$!
peak_anon=0; peak_file=0; samples=0
while kill -0 "$pid" 2>/dev/null; do
  if read -r anon file < <(awk '/^RssAnon/{a=$2} /^RssFile/{f=$2} END{print a, f}' "/proc/$pid/status" 2>/dev/null); then
    [ -n "$anon" ] && [ "$anon" -gt "$peak_anon" ] && peak_anon=$anon
    [ -n "$file" ] && [ "$file" -gt "$peak_file" ] && peak_file=$file
    samples=$((samples + 1))
  fi
  sleep 0.2
done
wait "$pid"
cat "$dir/match.err"
echo "set: $count entries, $(stat -c %s "$set_file") bytes; $queries queries"
echo "peak RssAnon: $peak_anon KiB; peak RssFile: $((peak_file / 1024)) MiB ($samples samples, every 0.2 s)"
echo "matches: $(wc -l < "$dir/matches.jsonl") (planted: $(grep -c planted "$dir/matches.jsonl" || true))"
