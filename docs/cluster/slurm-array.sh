#!/bin/bash
# A zoo spread over a Slurm job array: each array task runs one shard of the manifest.
# Submit from the folder holding zoo.toml (out_dir must be on a file system every node sees):
#   jid=$(sbatch --parsable docs/cluster/slurm-array.sh)
#   sbatch --dependency=afterany:$jid --wrap \
#     'quantize batch-report out/report-shard-*-of-8 --out out/report'
# A task that is preempted or requeued (--requeue) picks up where it stopped: --resume skips
# the jobs its earlier attempt finished. No coordinator is needed: shard I takes the jobs whose
# manifest position is I modulo N.
#SBATCH --job-name=sinkquant-zoo
#SBATCH --array=0-7
#SBATCH --cpus-per-task=8
#SBATCH --mem=24G
#SBATCH --time=06:00:00
#SBATCH --requeue
#SBATCH --output=logs/%x-%A_%a.out
set -euo pipefail
# Memory: each job needs 2-3.5x its model's BF16 size with an eval text (see docs/batch.md);
# --jobs 2 on a 24 GiB node fits models up to about 1.5B parameters, --jobs 1 up to about 3B.
quantize batch zoo.toml --jobs 2 --resume \
  --shard "${SLURM_ARRAY_TASK_ID}/${SLURM_ARRAY_TASK_COUNT}"
