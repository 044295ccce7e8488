"""Both calorimeter GANs train one step on the JAX backend (in the one JAX subprocess of the
``jax_results`` fixture: Keras fixes its backend at import)."""

import math

import pytest


def test_3dgan_step_on_jax(jax_results):
    r = jax_results["calo3d"]
    assert "error" not in r, r.get("error")
    assert all(math.isfinite(v) for v in r["losses"].values()) and r["changed"], r
    assert math.isfinite(r["metric"])
    assert r["angle"] == pytest.approx(math.pi / 2, abs=1e-5)  # the physics output, in JAX ops


def test_calo_wgan_step_on_jax(jax_results):
    r = jax_results["calo_wgan"]
    assert "error" not in r, r.get("error")
    assert r["output_shape"] == [None, 533]  # CaloChallenge dataset-1 pions
    assert all(math.isfinite(v) for v in r["losses"].values()) and math.isfinite(r["metric"]), r
