"""Case study 1: the conditional MLP GAN for cluster hadronization (cluster 4-vector -> 2 angles).

Generator: concat[condition(4), noise] -> Dense(G) -> BN -> LeakyReLU -> Dense(G) -> BN ->
Dense(2) -> tanh (scaled space); discriminator: sample(2) -> Dense(D) -> BN -> LeakyReLU ->
Dense(D) -> BN -> LeakyReLU -> Dense(1, sigmoid); BCE, two Adams. The condition is fed to the
generator only. Inputs and outputs are min-max scaled to [-1, 1]; ``Trainer.scalers`` maps back.

``data`` keys: ``path`` (a converter npz or a .root file) or ``events`` (synthetic, default
100000 training events) with ``seed`` (dataset seed, default 0); ``validation`` (default 5000);
``test`` (held-out events never trained on nor used to pick the epoch; default: the validation
size where the data allow, see models.data.split); ``steps_per_epoch`` (cap); for ROOT files ``tree``, ``columns``, ``cut``, ``nonfinite`` (load_hadronization).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from models.data.cache import cached, file_options
from models.data.hadronization import generate_clusters, load_hadronization
from models.data.split import family_split
from models.event_gan import (
    EventTrainer,
    MinMaxScaler,
    adam_pair,
    dense_stack,
    merge_params,
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
    """Scaled train/validation/test arrays, the fitted scalers and the ``Split`` (cached per process)."""
    data = {**DATA_DEFAULTS, **dict(frozen)}
    if data.get("path"):
        arrays = load_hadronization(data["path"], **file_options(data))
        plan = family_split("hadronization", data, len(arrays["out_truth"]))
    else:
        plan = family_split("hadronization", data)
        arrays = generate_clusters(plan.events, int(data["seed"]))
    cond = plan.parts(np.asarray(arrays["input_4vec"], np.float64))
    out = plan.parts(np.asarray(arrays["out_truth"], np.float64))
    cond_scaler, out_scaler = MinMaxScaler.fit(cond[0]), MinMaxScaler.fit(out[0])  # training rows only
    scaled = [(out_scaler.transform(o), cond_scaler.transform(c)) for o, c in zip(out, cond, strict=True)]
    return {"train": scaled[0], "validation": scaled[1], "test": scaled[2],
            "scalers": (cond_scaler, out_scaler), "split": plan}


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
                           data.get("steps_per_epoch"), d["test"], seed)
    trainer.scalers = d["scalers"]
    return trainer
