"""The same training code on the JAX backend (Keras fixes its backend at import: a subprocess,
the ``jax_results`` fixture of tests/models/conftest.py)."""

import math

import pytest


def test_runs_on_jax(jax_results):
    assert jax_results["backend"] == "jax"


@pytest.mark.parametrize("family", ["hadronization", "dimuon_mlp", "dygan"])
def test_one_training_epoch_per_family_on_jax(jax_results, family):
    r = jax_results[family]
    assert "error" not in r, r.get("error")
    assert r["changed"] and r["g_iterations"] == 4   # 256 training events / batch 64
    assert all(math.isfinite(v) for v in r["losses"].values()) and math.isfinite(r["metric"])
    assert r["bn_updated"]


def test_wgan_gp_on_jax(jax_results):
    r = jax_results["wgan_gp"]
    assert "error" not in r, r.get("error")
    assert r["d_iterations"] == 6 and r["g_iterations"] == 2
    assert all(math.isfinite(v) for v in r["losses"].values()) and r["losses"]["gp"] >= 0
