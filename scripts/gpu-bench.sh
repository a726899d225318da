#!/usr/bin/env bash
# One short run on a GPU machine: build the release binary, run the GPU tests, then
# `bench hash` (CPU, hybrid and GPU-only side by side, host time per frame), `bench match`
# (resident and streamed sets) and (when ffmpeg and the sample clips are there) `bench
# video`, leaving the JSON reports in one folder.
#
#   bash scripts/gpu-bench.sh [OUT_DIR]        (default benches/results/<date>-<host>)
#
# Needs a Vulkan driver and loader (libvulkan1) on the machine; if `ldconfig -p | grep
# libvulkan` prints nothing, install or unpack the loader first. The shared test data
# (../shared/testdata) is optional: without it the GPU tests print a notice.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-benches/results/$(date +%Y%m%d)-$(hostname -s)}
mkdir -p "$out"
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
cargo build --release 2>&1 | tail -1
./target/release/hashsweep devices --json > "$out/devices.json"
cat "$out/devices.json"
# The GPU tests compare the device's hashes and matches with the CPU path.
cargo test --release --test gpu --test matching -- --nocapture 2>&1 | grep -E "FIGURE|GPU tests on|test result" | tee "$out/gpu-tests.txt"
./target/release/hashsweep bench hash --backend gpu --batch-sizes 1,16,64,256,1024 --min-time 2 --json "$out/bench-hash.json"
./target/release/hashsweep bench match --backend gpu --refs-count 10000000 --queries 1000 --min-time 2 --json "$out/bench-match-pdq.json"
./target/release/hashsweep bench match --backend gpu --algo phash --refs-count 10000000 --queries 1000 --min-time 2 --json "$out/bench-match-phash.json"
if command -v ffmpeg >/dev/null && [ -d ../shared/testdata/video ]; then
  ./target/release/hashsweep bench video --backend gpu --json "$out/bench-video.json"
fi
if python3 -c "import PIL, numpy" 2>/dev/null && [ -d ../shared/testdata/golden ]; then
  python3 benches/compare/hybrid_scan.py --count 200 --repeat 2 --json "$out/hybrid-scan.json"
fi
echo "reports in $out"
