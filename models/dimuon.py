"""Case study 2: Z/gamma* -> mu mu event GANs (unconditional), two variants.

``variant="mlp"`` (HPO paper): noise -> Dense(G) -> BN -> LeakyReLU -> Dense(G) -> BN ->
Dense(n) -> tanh; discriminator as in hadronization; BCE, Adam. Defaults: the paper's best
dimuon architecture (noise 96, batch 512, lr_gen 9.5e-5, lr_disc 5e-6, G 960, D 104).

``variant="dygan"`` (Hashemi et al.): generator Dense 64,128,256,512,256,128 -> n (LeakyReLU 0.2,
linear output), discriminator Dense 128,128,256,256,128,64,32,16,8 -> 1 sigmoid, Adadelta,
batch 512, plus c1 (mean(M_ll) - M)^2 + c2 (std(M_ll) - sigma)^2 on the generator, with M and
sigma the training set's dimuon mass mean and RMS, c1 = c2 = 1e-4. ``width_factor`` scales
every layer (tunable).

Features: (px, py, pz, E) of both muons ordered by pT (8), or 7 with ``data: {rotated: true}``,
min-max scaled to [-1, 1]. ``data`` keys: ``path`` (text, .npy or .root) or ``events`` (default
100000 training events) with ``seed`` (default 0); ``validation`` (5000); ``test`` (held out from
training and epoch selection; default as models.data.split says); ``rotated``; ``steps_per_epoch``;
for ROOT files ``tree``, ``columns``, ``cut``, ``nonfinite`` (models.data.dimuon.load_dimuon).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from models.data.cache import cached, file_options
from models.data.dimuon import features, generate_events, load_dimuon
from models.data.split import family_split
from models.event_gan import (
    EventTrainer,
    MinMaxScaler,
    adam_pair,
    dense_stack,
    merge_params,
)
from models.gan import GAN

COMMON = {"variant": "mlp", "noise_dim": 96, "batch_size": 512, "lr_gen": 9.5e-5, "lr_disc": 5e-6,
          "optimizer": "adam", "negative_slope": 0.3}
MLP_DEFAULTS = {**COMMON, "gen_layersize": 960, "disc_layersize": 104}
DYGAN_DEFAULTS = {**COMMON, "noise_dim": 100, "lr_gen": 1.0, "lr_disc": 1.0, "optimizer": "adadelta",
                  "negative_slope": 0.2, "gen_layers": (64, 128, 256, 512, 256, 128),
                  "disc_layers": (128, 128, 256, 256, 128, 64, 32, 16, 8), "width_factor": 1.0,
                  "c1": 1e-4, "c2": 1e-4}
DATA_DEFAULTS = {"events": 100_000, "validation": 5000, "seed": 0, "rotated": False}


def defaults(variant: str) -> dict:
    """The published defaults of a variant ('mlp' or 'dygan')."""
    table = {"mlp": MLP_DEFAULTS, "dygan": DYGAN_DEFAULTS}
    if variant not in table:
        raise ValueError(f"dimuon variant {variant!r}: unknown; use 'mlp' or 'dygan'")
    return table[variant]


def build_mlp(noise_dim: int, n_features: int, gen_layersize: int, disc_layersize: int,
              negative_slope: float = 0.3) -> tuple[keras.Model, keras.Model]:
    """The HPO paper's two-layer generator and discriminator."""
    z = keras.Input((int(noise_dim),), name="noise")
    g = dense_stack(z, [gen_layersize] * 2, True, negative_slope, activate_last=False)
    generator = keras.Model(z, layers.Dense(n_features, activation="tanh")(g), name="generator")
    x_in = keras.Input((n_features,), name="event")
    d = dense_stack(x_in, [disc_layersize] * 2, True, negative_slope)
    return generator, keras.Model(x_in, layers.Dense(1, activation="sigmoid")(d), name="discriminator")


def build_dygan(noise_dim: int, n_features: int, gen_layers=DYGAN_DEFAULTS["gen_layers"],
                disc_layers=DYGAN_DEFAULTS["disc_layers"], width_factor: float = 1.0,
                negative_slope: float = 0.2) -> tuple[keras.Model, keras.Model]:
    """DY-GAN: deep LeakyReLU MLPs, linear generator output, sigmoid discriminator."""
    def widths(sizes):
        return [max(1, round(s * width_factor)) for s in sizes]

    z = keras.Input((int(noise_dim),), name="noise")
    g = dense_stack(z, widths(gen_layers), False, negative_slope)
    generator = keras.Model(z, layers.Dense(n_features)(g), name="generator")
    x_in = keras.Input((n_features,), name="event")
    d = dense_stack(x_in, widths(disc_layers), False, negative_slope)
    return generator, keras.Model(x_in, layers.Dense(1, activation="sigmoid")(d), name="discriminator")


def dimuon_mass(p):
    """Invariant mass of the muon pair from (N, 8) or rotated (N, 7) physical features (any backend)."""
    if p.shape[-1] == 7:
        px1, py1, pz1, e1, px2, pz2, e2 = (p[:, i] for i in range(7))
        py2 = ops.zeros_like(px2)
    else:
        px1, py1, pz1, e1, px2, py2, pz2, e2 = (p[:, i] for i in range(8))
    m2 = (e1 + e2) ** 2 - (px1 + px2) ** 2 - (py1 + py2) ** 2 - (pz1 + pz2) ** 2
    return ops.sqrt(ops.maximum(m2, 1e-6))


def mass_loss(scaler: MinMaxScaler, target_mean: float, target_std: float, c1: float, c2: float):
    """The DY-GAN generator term c1 (mean M - target)^2 + c2 (std M - sigma)^2 (M in GeV)."""
    def loss(fake, _condition=None):
        m = dimuon_mass(scaler.inverse(fake))
        return c1 * (ops.mean(m) - target_mean) ** 2 + c2 * (ops.std(m) - target_std) ** 2
    return loss


@cached
def load_data(frozen: tuple) -> dict:
    """Scaled train/validation/test features, the scaler, the training mass moments, the ``Split``."""
    data = {**DATA_DEFAULTS, **dict(frozen)}
    if data.get("path"):
        table = load_dimuon(data["path"], **file_options(data))
        plan = family_split("dimuon", data, len(table))
    else:
        plan = family_split("dimuon", data)
        table = generate_events(plan.events, int(data["seed"]))
    train, val, test = plan.parts(features(table, rotated=bool(data["rotated"])))
    scaler = MinMaxScaler.fit(train)
    m = ops.convert_to_numpy(dimuon_mass(train))
    return {"train": (scaler.transform(train), None), "validation": (scaler.transform(val), None),
            "test": (scaler.transform(test), None), "scaler": scaler,
            "mass": (float(np.mean(m)), float(np.std(m))), "split": plan}


def make_gan(params: dict, seed: int, n_features: int = 8, mass_term=None) -> GAN:
    """A compiled dimuon GAN of ``params['variant']`` (mass_term: the DY-GAN extra loss)."""
    p = merge_params(params, defaults(params.get("variant", "mlp")), "dimuon")
    if p["variant"] == "mlp":
        g, d = build_mlp(int(p["noise_dim"]), n_features, int(p["gen_layersize"]),
                         int(p["disc_layersize"]), p["negative_slope"])
    else:
        g, d = build_dygan(int(p["noise_dim"]), n_features, p["gen_layers"], p["disc_layers"],
                           float(p["width_factor"]), p["negative_slope"])
    gan = GAN(g, d, noise_dim=int(p["noise_dim"]), seed=seed,
              extra_losses=[mass_term] if mass_term is not None else [])
    g_opt, d_opt = adam_pair(p)
    gan.compile(g_optimizer=g_opt, d_optimizer=d_opt)
    return gan


def make_trainer(params: dict, data: dict, seed: int) -> EventTrainer:
    """The trial contract's trainer for one dimuon training run."""
    p = merge_params(params, defaults(params.get("variant", "mlp")), "dimuon")
    d = load_data(data)  # the cache key ignores training-only keys such as steps_per_epoch
    n_features = d["train"][0].shape[1]
    term = (mass_loss(d["scaler"], *d["mass"], float(p["c1"]), float(p["c2"]))
            if p["variant"] == "dygan" else None)
    trainer = EventTrainer(make_gan(p, seed, n_features, term), d["train"], d["validation"],
                           int(p["batch_size"]), data.get("steps_per_epoch"), d["test"], seed)
    trainer.scaler = d["scaler"]
    return trainer
