"""Sensitivity: Sobol indices of a surrogate recover a known structure, interactions included."""

import numpy as np
import pytest

from orchestrator.analysis.sensitivity import (
    caveats,
    clip_indices,
    describe,
    sensitivity,
    top_interactions,
)
from orchestrator.store import read_store
from tests.orchestrator.analysis_stores import make_store

# Analytic indices of structured_metric under uniform inputs (lattice levels ~ uniform):
# Var(4u^2) = 16 (1/5 - 1/9) = 64/45, Var(2(2u-1)(2v-1)) = 4/9; wd's 0.05 u is negligible.
V_LR, V_INT = 64 / 45, 4 / 9
ST_LR, ST_PAIR = V_LR / (V_LR + V_INT), V_INT / (V_LR + V_INT)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    path = tmp_path_factory.mktemp("sens") / "s.zarr"
    make_store(path, n=80, seed=3)
    return sensitivity(read_store(path), seed=0)


def test_main_effect_then_the_interacting_pair_rank_first(result):
    assert result["ranking"][0] == "lr"
    assert set(result["ranking"][1:3]) == {"width", "depth"}
    assert top_interactions(result, 1)[0][:2] == ("width", "depth")


def test_indices_match_the_analytic_values(result):
    st = dict(zip(result["names"], result["ST"]))
    s1 = dict(zip(result["names"], result["S1"]))
    assert st["lr"] == pytest.approx(ST_LR, abs=0.08) and s1["lr"] == pytest.approx(ST_LR, abs=0.08)
    for name in ("width", "depth"):  # a pure interaction: total index large, first order ~ 0
        assert st[name] == pytest.approx(ST_PAIR, abs=0.08)
        assert abs(s1[name]) < 0.08
    for name in ("act", "beta", "wd"):
        assert st[name] < 0.03
    assert all(c >= 0 for c in result["ST_conf"]) and result["conf_level"] == 0.95
    assert "Gaussian process" in result["surrogate"] and result["n_points"] == 80
    assert result["caveats"] == []  # 80 points in 6 dimensions, a good fit


def test_too_few_runs_are_skipped_with_the_reason(tmp_path):
    make_store(tmp_path / "s.zarr", n=7)
    out = sensitivity(read_store(tmp_path / "s.zarr"))
    assert set(out) == {"skipped"}
    assert "at least d + 2 = 8 finished architectures" in out["skipped"] and "has 7" in out["skipped"]
    assert np.isfinite(read_store(tmp_path / "s.zarr").arch_mean_std()[0]).all()


def test_large_stores_are_fitted_on_a_seeded_subsample(tmp_path, monkeypatch):
    import importlib

    sens = importlib.import_module("orchestrator.analysis.sensitivity")  # the package re-exports
    # a function of the same name, so `import ... as` would give the function

    make_store(tmp_path / "s.zarr", n=60, seed=3)
    monkeypatch.setattr(sens, "MAX_POINTS", 45)
    out = sens.sensitivity(read_store(tmp_path / "s.zarr"), n_base=256)
    assert out["n_points"] == 45 and out["n_finished"] == 60
    assert out["ranking"][0] == "lr"


REALS = {f"x{i}": {"type": "real", "low": 0.0, "high": 1.0} for i in range(4)}


def only_x0(u: np.ndarray) -> float:
    """Additive, and only x0 matters: analytic S1 = ST = 1 for x0, 0 for the others."""
    return float(np.sin(np.pi * u[0]))


def test_a_tiny_design_gets_the_caveat(tmp_path):
    make_store(tmp_path / "s.zarr", n=8, space=REALS, metric=only_x0, noise=0.01)
    out = sensitivity(read_store(tmp_path / "s.zarr"), n_base=256)
    assert any("8 architectures for 4 hyperparameters: fewer than 10 per" in c
               for c in out["caveats"])
    assert all(0 <= v <= 1 for v in out["S1"] + out["ST"])
    text = "\n".join(describe(out))
    assert "CAVEAT: 8 architectures for 4 hyperparameters" in text and "ST" in text


def test_a_large_well_fitted_design_matches_the_analytic_indices_without_caveat(tmp_path):
    make_store(tmp_path / "s.zarr", n=60, seed=1, space=REALS, metric=only_x0, noise=0.01)
    out = sensitivity(read_store(tmp_path / "s.zarr"), n_base=256)
    assert out["caveats"] == [] and out["loo_r2"] > 0.95
    assert out["ranking"][0] == "x0"
    for key in ("S1", "ST"):
        want = np.array([1.0, 0.0, 0.0, 0.0])
        raw, conf = np.array(out[f"{key}_raw"]), np.array(out[f"{key}_conf"])
        assert np.all(np.abs(raw - want) <= conf + 0.01), (key, raw, conf)
        assert np.all((0 <= np.array(out[key])) & (np.array(out[key]) <= 1))


def test_indices_outside_0_1_are_clipped_with_a_note():
    raw = {"S1": np.array([1.03, -0.002, -0.2]), "ST": np.array([1.001, 0.2, 0.5])}
    shown, notes = clip_indices(raw, ["a", "b", "c"])
    assert shown["S1"] == [1.0, 0.0, 0.0] and shown["S1_raw"] == [1.03, -0.002, -0.2]
    assert shown["ST"] == [1.0, 0.2, 0.5]
    assert notes == ["S1 outside [0, 1] (Monte Carlo error) clipped to it: a (1.03), c (-0.2)"]


def test_caveats_for_a_poor_fit_and_length_scales_at_their_bounds():
    names = ["a", "b"]
    assert caveats(names, 40, 0.9, np.array([0.5, 100.0])) == []
    poor = caveats(names, 40, 0.3, np.array([0.01, 100.0]))
    assert "leave-one-out R^2 = 0.30 < 0.5" in poor[0] and "lower bound 0.01 for a" in poor[1]
    assert "surrogate is flat" in caveats(names, 40, 0.9, np.array([100.0, 100.0]))[0]
