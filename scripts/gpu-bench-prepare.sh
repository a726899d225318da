#!/usr/bin/env bash
# The GPU bench's prepare step, here (where the Rust toolchain and the registries are):
# build the release binary and the GPU test binaries, strip them, and gather them with the
# run step and the Vulkan loader packages into one folder that git ignores, small enough to
# travel to the GPU machine (64 MiB in all). Then, on that machine:
#
#   bash .gpu-bench/run.sh "$OUT"       (carry: .gpu-bench)
#
#   bash scripts/gpu-bench-prepare.sh [FOLDER]     (default: .gpu-bench)
#
# GPU_BENCH_PROFILE_DIR=target/debug GPU_BENCH_NO_BUILD=1 takes binaries already built
# (CI's run on lavapipe, inside `cargo test`); GPU_BENCH_NO_LOADER=1 skips the packages.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-.gpu-bench}
profile=${GPU_BENCH_PROFILE_DIR:-target/release}
limit_mib=64

if [ -z "${GPU_BENCH_NO_BUILD:-}" ]; then
  cargo build --release --bin hashsweep
  cargo test --release --no-run --test gpu --test matching
fi

rm -rf "$dir"
mkdir -p "$dir/tests" "$dir/debs"
cp scripts/gpu-bench-run.sh "$dir/run.sh"
strip -o "$dir/hashsweep" "$profile/hashsweep"
# The newest build of each test binary (older hashes of the same test may lie beside it).
for t in gpu matching; do
  newest=$(find "$profile/deps" -maxdepth 1 -type f -executable -name "$t-*" -printf '%T@ %p\n' \
    | sort -n | tail -1 | cut -d' ' -f2-)
  [ -n "$newest" ] || { echo "no $t test binary under $profile/deps" >&2; exit 1; }
  strip -o "$dir/tests/$t" "$newest"
done

if [ -z "${GPU_BENCH_NO_LOADER:-}" ]; then
  # The loader as the device tool's README says: amd64 packages, downloaded, not installed.
  lists=$(mktemp -d)
  mkdir -p "$lists/partial"
  o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$lists")
  apt-get "${o[@]}" update -qq
  (cd "$dir/debs" && apt-get "${o[@]}" download libvulkan1)
  rm -rf "$lists"
fi

size=$(du -sm "$dir" | cut -f1)
ls -l "$dir" "$dir/tests" "$dir/debs"
if [ "$size" -gt "$limit_mib" ]; then
  echo "$dir holds $size MiB; at most $limit_mib MiB travel" >&2
  exit 1
fi
echo "$dir: $size MiB, ready (run there: bash $dir/run.sh \"\$OUT\")"
