"""Sensitivity: Sobol indices of a surrogate recover a known structure, interactions included."""

import numpy as np
import pytest

from orchestrator.analysis.sensitivity import sensitivity, top_interactions
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
