"""Start a search on a batch system from Python (a login-node session or notebook).

    python deploy/launch.py slurm deploy/sites/slurm-gpu-partition.yaml exp.yaml 20

The same as ``deploy/launch.sh``, written out: build the dask-jobqueue cluster, look at the job
script it will submit, connect, run the search, cancel the jobs at the end.
"""

from __future__ import annotations

import sys

from distributed import Client

from orchestrator.cluster import make_cluster, wants_gpu_resources
from orchestrator.experiment import load_experiment
from orchestrator.search import run


def main(kind: str, site: str, experiment: str, jobs: str = "1") -> None:
    """Run ``experiment`` on ``jobs`` batch jobs of the given kind, with site defaults from ``site``."""
    exp = load_experiment(experiment)
    cluster = make_cluster(kind, jobqueue_config=site, jobs=int(jobs))
    print(cluster.job_script())
    if exp.resources is None and wants_gpu_resources(None, {"kind": kind, "jobqueue_config": site}):
        exp.resources = {"GPU": 1}  # say so: an adaptive cluster starts with no workers to ask
    with Client(cluster) as client:
        print(f"dashboard: {client.dashboard_link}")
        result = run(exp, client)
    cluster.close()
    print(result.summary())


if __name__ == "__main__":
    main(*sys.argv[1:])
