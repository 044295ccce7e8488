"""Case study 1: the conditional MLP GAN for cluster hadronization (cluster 4-vector -> 2 angles).

Generator: concat[condition(4), noise] -> Dense(G) -> BN -> LeakyReLU -> Dense(G) -> BN ->
Dense(2) -> tanh (scaled space); discriminator: sample(2) -> Dense(D) -> BN -> LeakyReLU ->
Dense(D) -> BN -> LeakyReLU -> Dense(1, sigmoid); BCE, two Adams. The condition is fed to the
generator only. Inputs and outputs are min-max scaled to [-1, 1]; ``Trainer.scalers`` maps back.

``data`` keys: ``path`` (a converter npz or a .root file) or ``events`` (synthetic, default
100000) with ``seed`` (dataset seed, default 0); ``validation`` (default 5000); ``steps_per_epoch``
(cap); for ROOT files ``tree``, ``columns``, ``cut``, ``nonfinite`` (load_hadronization).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from models.data.cache import cached, file_options
from models.data.hadronization import generate_clusters, load_hadronization
from models.event_gan import (
    EventTrainer,
    MinMaxScaler,
    adam_pair,
    dense_stack,
    merge_params,
    split,
)
from models.gan import GAN

DEFAULTS = {
    "noise_dim": 4,
    "batch_size": 512,
    "lr_gen": 1e-4,
    "lr_disc": 1e-4,
    "gen_layersize": 256,
    "disc_layersize": 256,
    "negative_slope": 0.3,  # Keras' LeakyReLU default, as in the reference code
}
DATA_DEFAULTS = {"events": 100_000, "validation": 5000, "seed": 0}
N_COND, N_OUT = 4, 2


def build_generator(noise_dim: int, layersize: int, negative_slope: float = 0.3) -> keras.Model:
    """The hadronization generator: [noise, condition] -> two tanh angles in the scaled space."""
    noise, cond = keras.Input((int(noise_dim),), name="noise"), keras.Input((N_COND,), name="cluster")
    x = dense_stack(layers.Concatenate()([cond, noise]), [layersize, layersize], True,
                    negative_slope, activate_last=False)
    return keras.Model([noise, cond], layers.Dense(N_OUT, activation="tanh")(x), name="generator")


def build_discriminator(layersize: int, negative_slope: float = 0.3) -> keras.Model:
    """The hadronization discriminator: two angles -> probability of being real."""
    x_in = keras.Input((N_OUT,), name="angles")
    x = dense_stack(x_in, [layersize, layersize], True, negative_slope)
    return keras.Model(x_in, layers.Dense(1, activation="sigmoid")(x), name="discriminator")


@cached
def load_data(frozen: tuple) -> dict:
    """Scaled train/validation arrays and the fitted scalers for a data dict (cached per process)."""
    data = {**DATA_DEFAULTS, **dict(frozen)}
    n_val = int(data["validation"])
    if data.get("path"):
        arrays = load_hadronization(data["path"], **file_options(data))
    else:
        arrays = generate_clusters(int(data["events"]) + n_val, int(data["seed"]))
    cond_train, cond_val = split(np.asarray(arrays["input_4vec"], np.float64), n_val, "hadronization data")
    out_train, out_val = split(np.asarray(arrays["out_truth"], np.float64), n_val, "hadronization data")
    cond_scaler, out_scaler = MinMaxScaler.fit(cond_train), MinMaxScaler.fit(out_train)
    return {"train": (out_scaler.transform(out_train), cond_scaler.transform(cond_train)),
            "validation": (out_scaler.transform(out_val), cond_scaler.transform(cond_val)),
            "scalers": (cond_scaler, out_scaler)}


def make_gan(params: dict, seed: int) -> GAN:
    """A compiled hadronization GAN from (partial) hyperparameters."""
    p = merge_params(params, DEFAULTS, "hadronization")
    gan = GAN(build_generator(int(p["noise_dim"]), int(p["gen_layersize"]), p["negative_slope"]),
              build_discriminator(int(p["disc_layersize"]), p["negative_slope"]),
              noise_dim=int(p["noise_dim"]), seed=seed)
    g_opt, d_opt = adam_pair(p)
    gan.compile(g_optimizer=g_opt, d_optimizer=d_opt)
    return gan


def make_trainer(params: dict, data: dict, seed: int) -> EventTrainer:
    """The trial contract's trainer for one hadronization training run."""
    p = merge_params(params, DEFAULTS, "hadronization")
    d = load_data(data)  # the cache key ignores training-only keys such as steps_per_epoch
    trainer = EventTrainer(make_gan(p, seed), d["train"], d["validation"], int(p["batch_size"]),
                           data.get("steps_per_epoch"))
    trainer.scalers = d["scalers"]
    return trainer
