#!/usr/bin/env bash
# Sweep an evidence tree with N Slurm array tasks; each task scans its own deterministic
# shard (hashsweep reads SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT) and can be requeued:
# --resume keeps what its output already records.
#
#   job=$(sbatch --parsable --array=0-15 deploy/slurm-scan.sh /mnt/evidence /srv/refs/known.hsref /srv/out [SCAN OPTIONS...])
#   # when all tasks are done (afterok: a task that only met unreadable files still succeeds):
#   sbatch --dependency=afterok:${job%%;*} --wrap "hashsweep merge /srv/out/shard-*.jsonl -o /srv/out/all.jsonl"
#
# Options after the three arguments go to `hashsweep scan` (e.g. --digest md5,sha1); they
# must be the same for every task and every requeue, or --resume refuses. The #SBATCH
# lines below are defaults for a GPU node: sbatch options on the command line override
# them (a CPU-only partition: --gres=none --cpus-per-task=32).
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
shift 3
mkdir -p "$outdir"
# A requeued task (SLURM_RESTART_COUNT 1, 2, ...) resumes its own output: every file is
# still recorded exactly once.
echo "hashsweep task ${SLURM_ARRAY_TASK_ID}/${SLURM_ARRAY_TASK_COUNT:-?} run $((${SLURM_RESTART_COUNT:-0} + 1)) on $(hostname)" >&2
rc=0
hashsweep scan "$evidence" --refs "$refs" --resume --stats \
  --threads "${SLURM_CPUS_PER_TASK:-$(nproc)}" \
  -o "$outdir/shard-${SLURM_ARRAY_TASK_ID}.jsonl" "$@" || rc=$?
# Exit 1 says the scan finished and some files are error records (corrupt, unreadable):
# the task did all its work, and Slurm must not call it FAILED (which blocks afterok
# dependencies such as the merge). Anything else is passed on.
if [ "$rc" -eq 1 ]; then
  echo "hashsweep task ${SLURM_ARRAY_TASK_ID}: finished; some files are error records (see the output)" >&2
  rc=0
fi
exit "$rc"
