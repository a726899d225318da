#!/usr/bin/env bash
# Sweep an evidence tree with N Slurm array tasks; each task scans its own deterministic
# shard (hashsweep reads SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT) and can be requeued:
# --resume keeps what its output already records.
#
#   sbatch --array=0-15 deploy/slurm-scan.sh /mnt/evidence /srv/refs/known.hsref /srv/out
#   # when all tasks are done:
#   hashsweep merge /srv/out/shard-*.jsonl -o /srv/out/all.jsonl
#
#SBATCH --job-name=hashsweep
#SBATCH --cpus-per-task=16
#SBATCH --gres=gpu:1
#SBATCH --mem=32G
#SBATCH --time=24:00:00
#SBATCH --requeue
#SBATCH --output=hashsweep-%A_%a.log
set -euo pipefail
evidence=$1
refs=$2
outdir=$3
mkdir -p "$outdir"
exec hashsweep scan "$evidence" --refs "$refs" --resume --stats \
  --threads "${SLURM_CPUS_PER_TASK:-$(nproc)}" \
  -o "$outdir/shard-${SLURM_ARRAY_TASK_ID}.jsonl"
