"""Run under KERAS_BACKEND=jax by test_jax_backend.py: one train step per GAN flavour and family.

Prints one JSON line of results; keeps all JAX checks in a single process to save start-up time.
"""

import json
import os

assert os.environ.get("KERAS_BACKEND") == "jax"

import keras  # noqa: E402
import numpy as np  # noqa: E402

from models import dimuon, hadronization  # noqa: E402
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


results = {
    "backend": keras.backend.backend(),
    "hadronization": step(hadronization.make_trainer(TINY, DATA, 1)),
    "dimuon_mlp": step(dimuon.make_trainer(TINY, DATA, 1)),
    "dygan": step(dimuon.make_trainer({"variant": "dygan", "width_factor": 0.125, "batch_size": 64,
                                       "noise_dim": 4}, DATA, 1)),
    "wgan_gp": wgan(),
}
print("RESULTS " + json.dumps(results))
