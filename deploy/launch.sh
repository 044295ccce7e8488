#!/usr/bin/env bash
# Start a search from a login node: the Dask scheduler and the driver run here, the workers run
# as batch jobs (one worker per GPU). Survives logout when started inside tmux/screen, or with
#   nohup deploy/launch.sh slurm deploy/sites/slurm-gpu-partition.yaml exp.yaml --jobs 20 > run.log 2>&1 &
#
# usage: deploy/launch.sh KIND SITE.yaml EXPERIMENT.yaml [ganhpo run options...]
#   KIND        slurm | pbs | htcondor | lsf
#   SITE.yaml   a jobqueue.yaml (deploy/jobqueue.yaml or one of deploy/sites/)
# Extra options win over the site file and the experiment's cluster: section, e.g.
#   --jobs 20 --gpus-per-job 4 --walltime 06:00:00 --account m1234 --store $SCRATCH/runs/x.zarr
# TLS between scheduler and workers: add --tls-ca-file ca.pem --tls-cert cert.pem --tls-key key.pem
# (files on a shared file system; see deploy/README.md).
set -euo pipefail
if [ $# -lt 3 ]; then
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
kind=$1 site=$2 experiment=$3
shift 3
mkdir -p logs/dask
exec ganhpo run "$experiment" --cluster "$kind" --jobqueue-config "$site" "$@"
