"""Pareto front: exactly the non-dominated set (property test against brute force); best rules."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from orchestrator.analysis.pareto import RuleError, non_dominated, pareto, select_best
from orchestrator.store import DONE, FAILED, Snapshot, read_store
from tests.orchestrator.analysis_stores import make_store


def brute_force(points) -> set[int]:
    """Indices i such that no j is <= in every objective and < in at least one."""
    rows = [tuple(p) for p in points]
    return {i for i, p in enumerate(rows)
            if not any(all(q[k] <= p[k] for k in range(len(p))) and q != p for q in rows)}


# Small integers force ties and duplicate rows, where dominance is easiest to get wrong.
matrices = st.integers(1, 3).flatmap(lambda k: arrays(
    float, st.tuples(st.integers(0, 40), st.just(k)), elements=st.integers(0, 5).map(float)))


@settings(max_examples=200, deadline=None)
@given(matrices, st.integers(1, 7))
def test_non_dominated_equals_brute_force(points, chunk):
    assert set(np.flatnonzero(non_dominated(points, chunk=chunk))) == brute_force(points)


def snapshot(means, stds, sizes) -> Snapshot:
    """A two-trial snapshot whose architectures have exactly these means, stds and sizes."""
    means, stds = np.asarray(means, float), np.asarray(stds, float)
    n = len(means)
    metric = np.column_stack([means - stds, means + stds])
    status = np.full((n, 2), DONE, np.int8)
    status[np.isnan(means)] = FAILED
    arrays = {"params": np.zeros((n, 1)), "status": status, "metric": metric,
              "n_params": np.asarray(sizes, np.int64), "stage": np.zeros(n, np.int8),
              "finished": np.ones((n, 2))}
    return Snapshot("mem", {"space": {"x": [0, 1]}}, ["x"], **arrays)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 3), st.integers(-1, 4)),
                min_size=1, max_size=25))
def test_pareto_of_a_store_is_the_non_dominated_set_of_its_finished_architectures(rows):
    means, stds, sizes = (np.array(c, float) for c in zip(*rows))
    snap = snapshot(means, stds, sizes)
    out = pareto(snap)
    with_size = (sizes >= 0).all()
    assert out["objectives"] == (["mean", "std", "n_params"] if with_size else ["mean", "std"])
    cols = np.column_stack([means, stds] + ([sizes] if with_size else []))
    assert {r["arch"] for r in out["front"]} == brute_force(cols)
    assert [r["mean"] for r in out["front"]] == sorted(r["mean"] for r in out["front"])


def test_best_rules_pick_what_they_say():
    #              0     1     2     3     4
    snap = snapshot([1.0, 1.1, 1.04, 3.0, 5.0], [0.5, 0.05, 0.3, 0.0, 0.0],
                    [900, 500, 100, 50, 10])
    assert select_best(snap, "mean")["arch"] == 0
    assert select_best(snap, "mean+2std")["arch"] == 1  # 1.2 beats 2.0, 1.64, 3.0
    assert select_best(snap, "mean + 1 std")["arch"] == 1
    assert select_best(snap, "smallest-within:5%")["arch"] == 2  # 1.04 <= 1.05, size 100
    assert select_best(snap, "smallest-within:2.5")["arch"] == 3
    knee = select_best(snap, "pareto-knee")
    assert knee["arch"] in {r["arch"] for r in pareto(snap)["front"]}
    assert set(knee) >= {"arch", "rule", "why", "mean", "std", "n_params"}


def test_pareto_knee_is_closest_to_the_ideal_point():
    # front (mean, std): (0, 10), (1, 1), (10, 0): rescaled, (1, 1) is nearest to (0, 0)
    snap = snapshot([0.0, 1.0, 10.0, 11.0], [10.0, 1.0, 0.0, 11.0], [-1, -1, -1, -1])
    assert select_best(snap, "pareto-knee")["arch"] == 1


def test_bad_rules_and_missing_sizes_say_what_to_write(tmp_path):
    snap = snapshot([1.0, 2.0], [0.1, 0.1], [-1, 10])
    with pytest.raises(RuleError, match="needs model sizes"):
        select_best(snap, "smallest-within:5%")
    with pytest.raises(RuleError, match=r"not known; use one of: mean \| mean\+Kstd"):
        select_best(snap, "median")
    make_store(tmp_path / "s.zarr", n=6, n_params=False)
    assert pareto(read_store(tmp_path / "s.zarr"))["objectives"] == ["mean", "std"]


def test_a_single_surviving_trial_is_neither_best_nor_on_the_front_while_others_meet_min_ok():
    status = np.array([[DONE, DONE], [DONE, FAILED]], np.int8)
    metric = np.array([[1.0, 3.0], [0.5, np.nan]])  # arch 1: lowest mean, std 0 from one trial
    arrays = {"params": np.zeros((2, 1)), "status": status, "metric": metric,
              "n_params": np.array([10, 10]), "stage": np.zeros(2, np.int8),
              "finished": np.ones((2, 2))}
    exp = {"space": {"x": [0, 1]}, "trials": 2}
    snap = Snapshot("mem", exp, ["x"], **arrays)
    assert select_best(snap, "mean")["arch"] == 0
    assert [r["arch"] for r in pareto(snap)["front"]] == [0]
    lenient = Snapshot("mem", {**exp, "min_ok": 1}, ["x"], **arrays)
    assert select_best(lenient, "mean")["arch"] == 1
