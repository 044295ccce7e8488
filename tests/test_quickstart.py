"""The README's main command: the quickstart search on the embedded local cluster, end to end.

With ``--budget 7`` (the file says 12): its 6 initial architectures and one the RBF surrogate
proposes, 21 trials instead of 36 (the full run is about 2 minutes on 2 cores: too long here).
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from orchestrator.store import DONE, read_store

ROOT = Path(__file__).resolve().parents[1]
BUDGET = 7  # examples/quickstart.yaml: n_initial 6, then the surrogate's
QUIETING = ("TF_CPP_MIN_LOG_LEVEL", "GRPC_VERBOSITY", "PYTHONWARNINGS")  # tests/conftest.py's


@pytest.mark.slow
def test_quickstart_prints_the_best_architecture_with_mean_and_std(tmp_path):
    store = tmp_path / "q.zarr"
    env = {k: v for k, v in os.environ.items() if k not in QUIETING}  # as a user's shell has it
    proc = subprocess.run([sys.executable, "-m", "orchestrator.cli", "run", "examples/quickstart.yaml",
                           "--store", str(store), "--quiet", "--budget", str(BUDGET)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    match = re.search(r"metric (\S+) \+- (\S+) over 3 trials", proc.stdout)
    assert "best architecture: {'variant': 'mlp'" in proc.stdout and match, proc.stdout
    assert "lower metric is better" in proc.stdout and "ganhpo report" in proc.stdout
    noise = re.search(r".*(Traceback|WARNING|Warning|still alive|absl|oneDNN|cpu_feature_guard).*",
                      proc.stdout + proc.stderr)
    assert noise is None, noise.group(0)  # Dask's messages go to the log file, workers are quiet
    snap = read_store(store)
    assert snap.n == BUDGET and snap.n_initial == 6 and (snap.status == DONE).all()
    mean, std = snap.arch_mean_std()
    assert float(match.group(1)) == pytest.approx(mean.min(), rel=1e-4)
    assert float(match.group(2)) == pytest.approx(std[np.argmin(mean)], rel=0.05, abs=1e-3)
    # the per-epoch Wasserstein curves were recorded for every trial, and training helped
    curves = snap.epoch_metric
    assert np.isfinite(curves).all()
    assert np.median(curves[..., -1]) < np.median(curves[..., 0])
