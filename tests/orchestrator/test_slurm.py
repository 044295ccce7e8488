"""A real batch system: a search through `ganhpo run --cluster slurm` on a private single-node Slurm."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from distributed import Client

from orchestrator.cluster import make_cluster
from orchestrator.store import DONE, read_store
from tests.orchestrator.slurm_fixture import slurm  # noqa: F401 - the fixture

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

SPACE = ", ".join(f"x{i}: {{lower: 0, upper: 50, scale: 0.02}}" for i in range(6))
EXPERIMENT = f"""\
name: slurm-hartmann
trial: orchestrator.objectives:noisy_hartmann
space: {{{SPACE}}}
trials: 2
budget: 4
epochs: 3
optimizer: lhs
seed: 3
"""

JOB = ["--jobs", "1", "--gpus-per-job", "2", "--cores", "2", "--memory", "2GB",
       "--walltime", "00:10:00", "--dashboard-address", ":0"]


def test_search_through_slurm_fills_the_store(slurm, tmp_path):  # noqa: F811
    (tmp_path / "exp.yaml").write_text(EXPERIMENT)
    store = tmp_path / "runs" / "s.zarr"
    cmd = [sys.executable, "-m", "orchestrator.cli", "run", "exp.yaml", "--store", str(store),
           "--cluster", "slurm", "--quiet", *JOB]
    out = subprocess.run(cmd, cwd=tmp_path, env=slurm, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    snap = read_store(store)
    assert snap.n == 4
    assert np.all(snap.status == DONE), snap.status
    assert np.isfinite(snap.metric).all()
    assert "best architecture" in out.stdout


def test_slurm_job_runs_one_pinned_gpu_worker_per_gres_gpu(slurm, tmp_path, monkeypatch):  # noqa: F811
    for key, value in slurm.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    cluster = make_cluster("slurm", jobs=1, gpus_per_job=2, cores=2, memory="2GB",
                           walltime="00:10:00", dashboard_address=":0")
    try:
        assert "#SBATCH --gres=gpu:2" in cluster.job_script()
        with Client(cluster) as client:
            client.wait_for_workers(2, timeout=45)
            seen = client.run(lambda: os.environ["CUDA_VISIBLE_DEVICES"])
            info = client.scheduler_info(n_workers=-1)["workers"].values()
        assert sorted(seen.values()) == ["0", "1"]
        assert [w["resources"] for w in info] == [{"GPU": 1}, {"GPU": 1}]
        assert [w["nthreads"] for w in info] == [1, 1]
    finally:
        cluster.close()
