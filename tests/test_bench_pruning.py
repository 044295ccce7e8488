"""The pruning benchmark's replay (benchmarks/bench_pruning.py) on synthetic curves with a clear answer."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_pruning  # noqa: E402


def _curves(n=30, trials=3, epochs=9):
    rng = np.random.default_rng(0)
    level = np.linspace(0, 1, n)[rng.permutation(n)]
    curves = level[:, None, None] + 0.05 * rng.standard_normal((n, trials, epochs)) \
        + np.exp(-np.arange(epochs) / 3)
    curves[3, 1, 4:] = np.nan  # one trial diverges at epoch 4
    return curves, np.array([[i % 6, i // 6] for i in range(n)], float)


def test_replay_spends_every_epoch_unpruned_and_far_fewer_with_asha_same_best():
    curves, params = _curves()
    quality = bench_pruning.full_length(curves)
    none = bench_pruning.simulate(bench_pruning.Ours("none", curves, seed=1), curves, slots=6)
    asha = bench_pruning.simulate(bench_pruning.Ours("asha", curves, seed=1), curves, slots=6)
    assert none["spent"] == curves.size - 5 + 1  # the diverged trial's NaN epoch is its last
    assert none["named"] == asha["named"] == int(np.argmin(quality))
    assert asha["spent"] < none["spent"] / 2 and asha["clock"] < none["clock"]
    opt = bench_pruning.simulate(bench_pruning.OptunaPolicy("optuna-random+SHA", curves, params, 0),
                                 curves, slots=6)
    assert 0 < opt["spent"] < none["spent"] and opt["pruned_archs"]


def test_oracle_floor_stops_only_what_is_worse_than_the_best_at_a_check():
    # one trial each; arch 0 is the full-length best (a late bloomer), arch 1 leads early and ties
    # it at epoch index 2 (never strictly worse: it runs full length), arch 2 is worse from the start
    curves = np.array([[[3.0, 2.0, 1.0, 0.0]], [[1.0, 1.0, 1.0, 1.0]], [[5.0, 5.0, 5.0, 5.0]]])
    assert bench_pruning.oracle_floor(curves, [0, 1, 2]) == (4 + 4 + 1) / 12
    assert bench_pruning.oracle_floor(curves, [3]) == 1.0  # the last epoch is never a check


def test_optuna_over_a_sampled_pool_maps_each_ask_to_the_nearest_architecture():
    # a pool that is not a grid (gan_wide: a Latin hypercube): Optuna samples each parameter's
    # range and runs the nearest architecture in scaled units
    curves, _ = _curves()
    params = np.random.default_rng(1).uniform([1, 1e-4], [50, 1e-2], size=(len(curves), 2))
    policy = bench_pruning.OptunaPolicy("optuna-random+SHA", curves, params, 0)
    assert not policy.grid
    job, arch = policy.propose()
    asked = np.array([policy.trials[job].params[f"p{j}"] for j in range(2)])
    scaled = (params - params.min(0)) / np.ptp(params, axis=0)
    want = (asked - params.min(0)) / np.ptp(params, axis=0)
    assert arch == int(np.argmin(np.abs(scaled - want).sum(axis=1)))
    out = bench_pruning.simulate(bench_pruning.OptunaPolicy("optuna-random+SHA", curves, params, 0),
                                 curves, slots=6)
    assert 0 < out["spent"] < curves.size and len(out["proposed"]) > 1


def test_pool_option_replays_a_random_subset_judged_against_its_own_best(monkeypatch):
    curves, params = _curves()
    monkeypatch.setattr(bench_pruning, "load", lambda family: (curves, params))
    monkeypatch.setattr(bench_pruning, "independent", lambda family: None)
    rows = bench_pruning.run("synthetic", ["none", "asha"], seeds=3, slots=6, pool=12)
    nones = [r for r in rows if r["method"] == "none"]
    assert [r["method"] for r in rows] == ["none"] * 3 + ["asha"] * 3
    assert all(r["regret"] == 0.0 and r["spent"] <= 12 * 3 * 9 for r in nones)
    assert len({r["quality"] for r in nones}) > 1  # different subsets, different bests
    assert all(r["spent"] < n["spent"] for r, n in zip(rows[3:], nones, strict=True))
