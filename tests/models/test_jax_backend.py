"""The same training code on the JAX backend (Keras fixes its backend at import: a subprocess)."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("jax")


@pytest.fixture(scope="module")
def jax_results():
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    script = Path(__file__).with_name("_jax_checks.py")
    run = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True,
                         timeout=240, cwd=Path(__file__).parents[2])
    lines = [ln for ln in run.stdout.splitlines() if ln.startswith("RESULTS ")]
    assert run.returncode == 0 and lines, run.stderr[-3000:]
    return json.loads(lines[-1][len("RESULTS "):])


def test_runs_on_jax(jax_results):
    assert jax_results["backend"] == "jax"


@pytest.mark.parametrize("family", ["hadronization", "dimuon_mlp", "dygan"])
def test_one_training_epoch_per_family_on_jax(jax_results, family):
    r = jax_results[family]
    assert r["changed"] and r["g_iterations"] == 4   # 256 training events / batch 64
    assert all(math.isfinite(v) for v in r["losses"].values()) and math.isfinite(r["metric"])
    assert r["bn_updated"]


def test_wgan_gp_on_jax(jax_results):
    r = jax_results["wgan_gp"]
    assert r["d_iterations"] == 6 and r["g_iterations"] == 2
    assert all(math.isfinite(v) for v in r["losses"].values()) and r["losses"]["gp"] >= 0
