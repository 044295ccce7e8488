"""The text report (failures and their errors, lower is better, top N of M) and the Python session."""

import os
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from orchestrator.analysis import failures, report, top_architectures
from orchestrator.cli import main
from orchestrator.space import SearchSpace
from orchestrator.store import Snapshot, read_store
from tests.orchestrator.analysis_stores import SPACE, make_store

ROOT = Path(__file__).resolve().parents[2]


def design(optimizer: dict) -> int:
    """The initial-design size a view reports for an experiment with this optimiser."""
    return Snapshot("mem", {"optimizer": optimizer}, [], np.zeros((0, 0), np.int8)).n_initial


def test_text_report_lists_best_first_with_failures_and_their_errors(tmp_path, capsys):
    make_store(tmp_path / "s.zarr", n=12, fail_every=5)  # architectures 0, 5, 10 lose a trial
    text = report(str(tmp_path / "s.zarr"), top=4)
    lines = text.splitlines()
    assert lines[0].endswith("12/12 architectures finished, 12 with a metric; 3 failed trials")
    assert lines[1] == "data: none (the trial generates or loads its own data)"
    assert lines[2] == "metric: the 'metric' returned by the trial; per trial; lower is better"
    assert lines[3] == "top 4 of 12 by mean metric over trials (lower is better):"
    space = SearchSpace(SPACE)
    best = top_architectures(read_store(tmp_path / "s.zarr"), 1)[0]
    assert lines[4].split() == ["arch", "validation", "test", "trials", "parameters"]
    assert lines[5].endswith(space.format_point(best["params"]))  # 4 figures, lattices exact
    assert lines[5].split()[:5] == [f"#{best['arch']}", f"{best['mean']:.5g}", "+-",
                                    f"{best['std']:.2g}", "-"]  # no test metric in this store
    assert "importance: Sobol indices of a surrogate fitted to 12 architectures" in text
    assert "CAVEAT: 12 architectures for 6 hyperparameters: fewer than 10 per" in text
    snap = read_store(tmp_path / "s.zarr")
    mean = snap.arch_mean_std()[0]
    assert [r["arch"] for r in top_architectures(snap, 4)] == list(np.argsort(mean)[:4])
    assert "failures: 3 of 36 trials; most common errors:" in text
    assert "   2 x RuntimeError: diverged at epoch 0" in text  # archs 0 and 10
    assert "   1 x RuntimeError: diverged at epoch 1" in text
    assert "failed trials (arch/trial): 0/2, 5/2, 10/2" in text
    assert main(["report", str(tmp_path / "s.zarr"), "--top", "4"]) == 0
    assert capsys.readouterr().out.strip() == text


def test_failures_and_completion_order_from_the_store(tmp_path):
    make_store(tmp_path / "s.zarr", n=6, fail_every=4)
    snap = read_store(tmp_path / "s.zarr")
    fail = failures(snap)
    assert fail["n_failed"] == 2 and fail["n_trials"] == 18
    assert [(f["arch"], f["trial"]) for f in fail["trials"]] == [(0, 2), (4, 2)]
    assert fail["trials"][0]["error"] == "RuntimeError: diverged at epoch 0"
    np.testing.assert_array_equal(snap.completion_order(), np.arange(6))
    assert snap.n_initial == 10 and design({"name": "random"}) == 0
    assert design({"name": "gp"}) == 10 and design({"name": "lhs", "n_initial": 8}) == 8


@pytest.mark.slow
def test_the_notebook_style_session_runs_and_draws_two_figures(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "session.py"), str(tmp_path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "16/16 architectures finished" in done.stdout and "lower is better" in done.stdout
    assert "importance (total Sobol index): ['x" in done.stdout
    assert read_store(tmp_path / "session.zarr").n == 16
    for name in ("convergence", "mean_std"):
        assert matplotlib.image.imread(tmp_path / f"{name}.png").std() > 0.05
        assert (tmp_path / f"{name}.pdf").read_bytes()[:5] == b"%PDF-"
    text = (ROOT / "examples" / "session.py").read_text()
    assert text.count("# %%") >= 5
