"""Both calorimeter GANs train one step on the JAX backend (one subprocess: Keras fixes its
backend at import)."""

import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import keras, numpy as np
    assert keras.backend.backend() == "jax"
    from models import calo3d, calo_wgan
    small = {"batch_size": 8, "latent": 32, "gen_dense_filters": 4, "gen_filters": 4,
             "gen_filters2": 4, "disc_filters": 8, "disc_filters2": 4}
    t = calo3d.make_trainer(small, {"events": 120, "grid": [13, 13, 8], "val_events": 20,
                                    "steps_per_epoch": 1}, seed=0)
    before = [w.copy() for w in t.generator.get_weights()]
    losses = t.train_epoch()
    assert all(np.isfinite(v) for v in losses.values()), losses
    assert any(not np.allclose(a, b) for a, b in zip(before, t.generator.get_weights()))
    assert np.isfinite(t.evaluate()["metric"])
    img = np.zeros((1, 13, 13, 8, 1), "float32"); img[0, 6, 6, :, 0] = 1.0
    assert abs(float(calo3d.measured_angle(img)[0, 0]) - np.pi / 2) < 1e-5
    w = calo_wgan.make_trainer({"batch_size": 32}, {"events": 300, "particle": "pion",
                                                    "steps_per_epoch": 1}, seed=0)
    assert w.generator.output.shape == (None, 533)
    losses = w.train_epoch()
    assert all(np.isfinite(v) for v in losses.values()), losses
    assert np.isfinite(w.evaluate()["metric"])
    print("JAX-OK")
""")


def test_one_training_step_each_on_jax():
    pytest.importorskip("jax")
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0 and "JAX-OK" in proc.stdout, proc.stderr[-3000:]
