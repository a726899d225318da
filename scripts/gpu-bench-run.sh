#!/usr/bin/env bash
# The GPU bench's run step, on the machine with the GPU. It needs only the folder that
# scripts/gpu-bench-prepare.sh made (this script, the stripped binaries, the GPU test
# binaries and the Vulkan loader packages): no Rust toolchain, no registry, no
# ../shared/testdata (the benches make their own frames and hashes).
#
#   bash FOLDER/run.sh [OUT]        (default: $OUT, else FOLDER/results)
#
# GPU_BENCH_SIZE=full (default) measures 10M-entry sets and batches up to 1024; GPU_BENCH_SIZE=small is CI's run on lavapipe, to prove every step works.
# Each step has its own time limit (450 s in all: 15 devices, 90 for each of the two test
# binaries, 120 bench hash, 75 and 60 bench match), so the run ends within 8 minutes; a
# failed step is recorded and the next still runs.
# Writes STEP.log, the bench JSON reports, steps.tsv and summary.txt under OUT, and exits
# non-zero when any step failed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-${OUT:-$here/results}}
mkdir -p "$out"
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}

# The GPU machine may have the driver but not the loader; unpack the carried one.
if ! ldconfig -p | grep -q 'libvulkan\.so\.1'; then
  for f in "$here"/debs/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$nvidia_icd" ]; then
  export VK_DRIVER_FILES=$nvidia_icd
fi

case ${GPU_BENCH_SIZE:-full} in
  full) batches=1,16,64,256,1024 min_time=1 refs=10000000 queries=1000 ;;
  small) batches=1,16 min_time=0.05 refs=20000 queries=20 ;;
  *) echo "GPU_BENCH_SIZE is full or small" >&2; exit 2 ;;
esac

failed=0
printf 'step\texit\tseconds\n' > "$out/steps.tsv"
# step NAME LIMIT_S COMMAND...: run with a deadline, output to NAME.log, outcome to steps.tsv.
step() {
  local name=$1 limit=$2 start rc
  shift 2
  start=$(date +%s)
  timeout "$limit" "$@" > "$out/$name.log" 2>&1
  rc=$?
  printf '%s\t%s\t%s\n' "$name" "$rc" "$(( $(date +%s) - start ))" >> "$out/steps.tsv"
  [ "$rc" -eq 0 ] || failed=1
}

bin=$here/hashsweep
step devices 15 "$bin" devices --json
cp "$out/devices.log" "$out/devices.json"
# The GPU tests compare the device's hashes and matches with the CPU path on frames they
# make; those that need ../shared/testdata say so and are counted as skipped.
# GPU_BENCH_TEST_ARGS: libtest arguments, e.g. test-name filters for a shorter run.
read -r -a test_args <<< "${GPU_BENCH_TEST_ARGS:-}"
for t in "$here"/tests/*; do
  step "test-$(basename "$t")" 90 "$t" --nocapture "${test_args[@]}"
done
step bench-hash 120 "$bin" bench hash --backend gpu --batch-sizes "$batches" \
  --min-time "$min_time" --json "$out/bench-hash.json"
step bench-match-pdq 75 "$bin" bench match --backend gpu --refs-count "$refs" \
  --queries "$queries" --json "$out/bench-match-pdq.json"
step bench-match-phash 60 "$bin" bench match --backend gpu --algo phash \
  --refs-count "$refs" --queries "$queries" --json "$out/bench-match-phash.json"

{
  echo "GPU bench (${GPU_BENCH_SIZE:-full}) on $(hostname), $(date -u +%FT%TZ)"
  echo
  column -t -s $'\t' "$out/steps.tsv" 2>/dev/null || cat "$out/steps.tsv"
  echo
  grep -h '"name"' "$out/devices.json" 2>/dev/null | head -4
  grep -h -E '^(FIGURE|test result|SKIPPED)' "$out"/test-*.log 2>/dev/null
  for b in bench-hash bench-match-pdq bench-match-phash; do
    echo
    echo "== $b"
    cat "$out/$b.log"
  done
} > "$out/summary.txt"
cat "$out/summary.txt"
exit "$failed"
