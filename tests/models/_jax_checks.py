"""Run under KERAS_BACKEND=jax by the ``jax_results`` fixture (tests/models/conftest.py): one
train step per GAN flavour and family, the calorimeter GANs included.

Prints one JSON line of results; keeps all JAX checks in a single process to save start-up time.
"""

import json
import os
import traceback

assert os.environ.get("KERAS_BACKEND") == "jax"

import keras  # noqa: E402
import numpy as np  # noqa: E402

from models import calo3d, calo_wgan, dimuon, hadronization  # noqa: E402
from models.gan import WGANGP  # noqa: E402

TINY = {"gen_layersize": 8, "disc_layersize": 8, "batch_size": 64, "noise_dim": 4}
DATA = {"events": 256, "validation": 64}


def step(trainer):
    before = [w.copy() for w in trainer.generator.get_weights()]
    losses = trainer.train_epoch()
    changed = any(not np.allclose(a, b) for a, b in zip(before, trainer.generator.get_weights()))
    bn = [w for w in trainer.generator.weights if "moving_mean" in w.path]
    return {"losses": losses, "changed": changed, "metric": trainer.evaluate()["metric"],
            "bn_updated": all(np.any(keras.ops.convert_to_numpy(w) != 0) for w in bn),
            "g_iterations": int(trainer.gan.g_optimizer.iterations)}


def wgan():
    from keras import layers

    n, c = keras.Input((3,)), keras.Input((4,))
    g = keras.Model([n, c], layers.Dense(2)(layers.Dense(8, "relu")(layers.Concatenate()([n, c]))))
    x, c2 = keras.Input((2,)), keras.Input((4,))
    d = keras.Model([x, c2], layers.Dense(1)(layers.Dense(8, "relu")(layers.Concatenate()([x, c2]))))
    model = WGANGP(g, d, noise_dim=3, seed=0, n_critic=3)
    model.compile(WGANGP.adam(1e-3), WGANGP.adam(1e-3))
    rng = np.random.default_rng(0)
    h = model.fit(rng.normal(size=(256, 2)), rng.normal(size=(256, 4)), batch_size=128, epochs=1, verbose=0)
    return {"losses": {k: v[0] for k, v in h.history.items()},
            "d_iterations": int(model.d_optimizer.iterations),
            "g_iterations": int(model.g_optimizer.iterations)}


def calo3d_step():
    small = {"batch_size": 8, "latent": 32, "gen_dense_filters": 4, "gen_filters": 4,
             "gen_filters2": 4, "disc_filters": 8, "disc_filters2": 4}
    t = calo3d.make_trainer(small, {"events": 120, "grid": [13, 13, 8], "val_events": 20,
                                    "steps_per_epoch": 1}, seed=0)
    before = [w.copy() for w in t.generator.get_weights()]
    losses = t.train_epoch()
    changed = any(not np.allclose(a, b) for a, b in zip(before, t.generator.get_weights()))
    img = np.zeros((1, 13, 13, 8, 1), "float32")
    img[0, 6, 6, :, 0] = 1.0  # a straight shower along z: incidence angle pi/2
    return {"losses": losses, "changed": changed,
            "metric": float(t.evaluate()["metric"]),
            "angle": float(keras.ops.convert_to_numpy(calo3d.measured_angle(img))[0, 0])}


def calo_wgan_step():
    w = calo_wgan.make_trainer({"batch_size": 32}, {"events": 300, "particle": "pion",
                                                    "steps_per_epoch": 1}, seed=0)
    losses = w.train_epoch()
    return {"losses": losses,
            "output_shape": list(w.generator.output.shape), "metric": float(w.evaluate()["metric"])}


def checked(check) -> dict:
    """``check()``, or its traceback: one failing family fails only its own test."""
    try:
        return check()
    except Exception:  # noqa: BLE001 - reported to the test that reads this entry
        return {"error": traceback.format_exc()}


results = {
    "backend": keras.backend.backend(),
    "hadronization": checked(lambda: step(hadronization.make_trainer(TINY, DATA, 1))),
    "dimuon_mlp": checked(lambda: step(dimuon.make_trainer(TINY, DATA, 1))),
    "dygan": checked(lambda: step(dimuon.make_trainer(
        {"variant": "dygan", "width_factor": 0.125, "batch_size": 64, "noise_dim": 4}, DATA, 1))),
    "wgan_gp": checked(wgan),
    "calo3d": checked(calo3d_step),
    "calo_wgan": checked(calo_wgan_step),
}
print("RESULTS " + json.dumps(results))
