"""3DGAN (Khattak et al. 2021): 3-D convolutional GAN for 51 x 51 x 25 calorimeter showers.

Generator input: [E_p / 100, theta] (the condition) and latent - 2 Gaussian noise values;
output x^0.85 images. The discriminator returns four outputs: real/fake (sigmoid), E_p / 100
regression, and two fixed physics outputs computed from image^(1/0.85): the measured
incidence angle and the total deposited energy. Losses [BCE, MAPE, MAE, MAPE] weighted
[3, 0.1, 25, 0.1] for both D and the generator through the frozen D. Per batch: fakes for the
same conditions as the real batch, D on reals then on fakes with 5 % label flipping, G twice.
Training goes through ``models.gan``'s backend helper, so TensorFlow and JAX both work.
"""

from __future__ import annotations

import functools
import math

import keras
import numpy as np
from keras import layers, ops

from models.calo_metrics import sampling_fraction_mre, shape_mre
from models.data.cache import cached
from models.data.split import family_split
from models.gan import AdversarialModel, minimize_step

__all__ = ["DEFAULTS", "build_generator", "build_discriminator", "measured_angle", "total_energy",
           "Calo3DGAN", "Calo3DTrainer", "make_trainer"]

GRID = (51, 51, 25)
POWER = 0.85
EMPTY_ANGLE = 100.0          # the reference's sentinel for events with no energy
DEFAULTS = {
    "latent": 256, "gen_dense_filters": 8, "gen_filters": 8, "gen_filters2": 6,
    "disc_filters": 16, "disc_filters2": 8, "dropout": 0.2, "lr": 1e-3, "batch_size": 64,
    "w_bce": 3.0, "w_energy": 0.1, "w_angle": 25.0, "w_ecal": 0.1, "flip_prob": 0.05,
    "g_steps": 2, "two_step": False, "first_step_epochs": 1,
}


# ---- physics outputs (fixed, differentiable) ---------------------------------------------

def _energy_image(image, power: float):
    """(N, X, Y, Z) cell energies from the x^power network image (N, X, Y, Z, 1)."""
    return ops.power(ops.relu(image[..., 0]), 1.0 / power)


def total_energy(image, power: float = POWER):
    """(N, 1) sum of image^(1/power): the deposited energy in stored units."""
    return ops.sum(_energy_image(image, power), axis=(1, 2, 3))[:, None]


def measured_angle(image, power: float = POWER):
    """(N, 1) incidence angle (radians) measured as in the 3DGAN reference code.

    Slope in y of the line from the event barycentre to each layer's barycentre, over the
    distance in the (x, z) plane, sign-flipped for layers before the barycentre; angle
    pi/2 - atan(slope), averaged over non-empty layers weighted by depth (z + 0.5).
    Empty events give ``EMPTY_ANGLE``.
    """
    e = _energy_image(image, power)
    nx, ny, nz = e.shape[1], e.shape[2], e.shape[3]
    xs, ys, zs = (ops.arange(n, dtype="float32") + 0.5 for n in (nx, ny, nz))
    tot = ops.sum(e, axis=(1, 2, 3))
    safe_tot = ops.where(tot > 0, tot, 1.0)
    x_ref = ops.sum(ops.sum(e, axis=(2, 3)) * xs, axis=1) / safe_tot
    y_ref = ops.sum(ops.sum(e, axis=(1, 3)) * ys, axis=1) / safe_tot
    z_ref = ops.sum(ops.sum(e, axis=(1, 2)) * zs, axis=1) / safe_tot
    sum_z = ops.sum(e, axis=(1, 2))                                   # (N, Z)
    safe_z = ops.where(sum_z > 0, sum_z, 1.0)
    x_mid = ops.sum(ops.sum(e, axis=2) * xs[:, None], axis=1) / safe_z
    y_mid = ops.sum(ops.sum(e, axis=1) * ys[:, None], axis=1) / safe_z
    dz = zs[None, :] - z_ref[:, None]
    proj = ops.sqrt(ops.maximum((x_mid - x_ref[:, None]) ** 2 + dz**2, 1e-7))
    slope = (y_mid - y_ref[:, None]) / proj
    slope = ops.where(dz < 0, -slope, slope)
    angle = math.pi / 2 - ops.arctan(slope)
    weight = ops.cast(sum_z > 0, "float32") * zs[None, :]
    mean = ops.sum(angle * weight, axis=1) / ops.maximum(ops.sum(weight, axis=1), 1e-7)
    return ops.where(tot > 0, mean, EMPTY_ANGLE)[:, None]


# ---- builders ------------------------------------------------------------------------------

def build_generator(grid=GRID, latent: int = 256, gen_dense_filters: int = 8, gen_filters: int = 8,
                    gen_filters2: int = 6, upsample: int = 6) -> keras.Model:
    """The published generator layer list; other grids start larger and crop at the end."""
    nx, ny, nz = grid
    start = (math.ceil((nx + 3) / upsample), math.ceil((ny + 3) / upsample),
             math.ceil((nz + 23) / upsample))          # published: (9, 9, 8) -> 51, 51, 25
    noise = keras.Input((latent - 2,), name="noise")
    cond = keras.Input((2,), name="condition")           # [E_p / 100, theta]
    x = layers.Concatenate(name="latent")([cond, noise])
    x = layers.Dense(int(np.prod(start)) * gen_dense_filters, name="dense")(x)
    x = layers.Reshape((*start, gen_dense_filters), name="reshape")(x)
    x = layers.UpSampling3D((upsample,) * 3, name="upsample")(x)
    x = layers.Conv3D(gen_filters, (6, 6, 8), kernel_initializer="he_uniform", name="conv1")(x)
    x = layers.BatchNormalization(epsilon=1e-6, name="bn1")(layers.ReLU()(x))
    for i in (2, 3, 4):
        x = layers.ZeroPadding3D((2, 2, 1))(x)
        x = layers.Conv3D(gen_filters2, (4, 4, 6), kernel_initializer="he_uniform", name=f"conv{i}")(x)
        x = layers.BatchNormalization(epsilon=1e-6, name=f"bn{i}")(layers.ReLU()(x))
    x = layers.ZeroPadding3D((1, 1, 0))(x)
    x = layers.Conv3D(gen_filters2, (3, 3, 5), kernel_initializer="he_uniform", name="conv5")(x)
    x = layers.BatchNormalization(epsilon=1e-6, name="bn5")(layers.ReLU()(x))
    x = layers.ZeroPadding3D((1, 1, 0))(x)
    x = layers.ReLU()(layers.Conv3D(gen_filters2, (3, 3, 3), kernel_initializer="he_uniform",
                                    name="conv6")(x))
    x = layers.Conv3D(1, (2, 2, 2), kernel_initializer="glorot_normal", name="conv_out")(x)
    x = layers.ReLU(name="image")(x)
    extra = [int(s) - g for s, g in zip(x.shape[1:4], grid, strict=True)]
    if any(extra):
        x = layers.Cropping3D(tuple((e // 2, e - e // 2) for e in extra), name="crop")(x)
    return keras.Model([noise, cond], x, name="calo3d_generator")


def _disc_kernel(grid) -> tuple[int, int, int]:
    """Published (5, 6, 6); shrunk on small grids so three valid convs and the pooling fit."""
    pads = (0, 0, 4)
    return tuple(min(k, max(1, (d + p - 2) // 3 + 1)) for k, d, p in zip((5, 6, 6), grid, pads, strict=True))


def build_discriminator(grid=GRID, disc_filters: int = 16, disc_filters2: int = 8,
                        dropout: float = 0.2, power: float = POWER) -> keras.Model:
    """Published discriminator: [real/fake, E_p/100, measured angle, total energy]."""
    k = _disc_kernel(grid)
    image = keras.Input((*grid, 1), name="image")
    x = layers.Conv3D(disc_filters, k, padding="same", name="dconv1")(image)
    x = layers.Dropout(dropout)(layers.LeakyReLU()(x))
    for i in (2, 3):
        x = layers.ZeroPadding3D((0, 0, 1))(x)
        x = layers.Conv3D(disc_filters2, k, name=f"dconv{i}")(x)
        x = layers.Dropout(dropout)(layers.BatchNormalization(epsilon=1e-6)(layers.LeakyReLU()(x)))
    x = layers.Conv3D(disc_filters2, k, name="dconv4")(x)
    x = layers.Dropout(dropout)(layers.BatchNormalization(epsilon=1e-6)(layers.LeakyReLU()(x)))
    x = layers.Flatten(name="features")(layers.AveragePooling3D(2, name="pool")(x))
    real = layers.Dense(1, activation="sigmoid", name="real_fake")(x)
    energy = layers.Dense(1, name="energy")(x)
    angle = layers.Lambda(functools.partial(measured_angle, power=power), name="angle")(image)
    ecal = layers.Lambda(functools.partial(total_energy, power=power), name="ecal")(image)
    return keras.Model(image, [real, energy, angle, ecal], name="calo3d_discriminator")


# ---- adversarial training ------------------------------------------------------------------

class Calo3DGAN(AdversarialModel):
    """The 3DGAN training step; ``fit(x=images^0.85, y=[E_p/100, theta, sum ECAL])``."""

    tracker_names = ("d_loss", "g_loss")

    def __init__(self, generator, discriminator, seed=None, weights=(3.0, 0.1, 25.0, 0.1),
                 flip_prob: float = 0.05, g_steps: int = 2, **kwargs):
        noise_dim = int(generator.inputs[0].shape[-1])
        super().__init__(generator, discriminator, noise_dim, seed, **kwargs)
        self.loss_weights_ = tuple(float(w) for w in weights)
        self.flip_prob, self.g_steps = float(flip_prob), int(g_steps)

    def physics_loss(self, outputs, label, target) -> object:
        """Weighted [BCE, MAPE(E_p/100), MAE(angle), MAPE(total energy)]."""
        real_fake, energy, angle, ecal = outputs
        w = self.loss_weights_
        return (w[0] * ops.mean(keras.losses.binary_crossentropy(label, real_fake))
                + w[1] * ops.mean(keras.losses.mean_absolute_percentage_error(target[:, 0:1], energy))
                + w[2] * ops.mean(keras.losses.mean_absolute_error(target[:, 1:2], angle))
                + w[3] * ops.mean(keras.losses.mean_absolute_percentage_error(target[:, 2:3], ecal)))

    def _flipped(self, value: float, n):
        flip = keras.random.uniform((n, 1), seed=self.seed_generator) < self.flip_prob
        return ops.where(flip, 1.0 - value, value)

    def adversarial_step(self, data) -> dict:
        real, target = self._batch(data)
        n = ops.shape(real)[0]
        cond = target[:, :2]
        fake = ops.stop_gradient(self.generate_batch(n, cond, training=False))

        def d_loss(images, value):
            return lambda: (self.physics_loss(self.discriminator(images, training=True),
                                              self._flipped(value, n), target), ())

        ld_real, _ = minimize_step(self, d_loss(real, 1.0), self.discriminator, self.d_optimizer)
        ld_fake, _ = minimize_step(self, d_loss(fake, 0.0), self.discriminator, self.d_optimizer)

        def g_loss():
            outputs = self.discriminator(self.generate_batch(n, cond), training=False)
            return self.physics_loss(outputs, ops.ones((n, 1)), target), ()

        for _ in range(self.g_steps):
            lg, _ = minimize_step(self, g_loss, self.generator, self.g_optimizer)
        return self._log(d_loss=0.5 * (ld_real + ld_fake), g_loss=lg)


# ---- data and the trainer (models.trial contract) ------------------------------------------

@cached
def _dataset(frozen: tuple) -> dict[str, np.ndarray]:
    """Loaded or generated showers (raw GeV x 50), events with sum <= min_sum dropped."""
    from models.data.showers import Detector, generate_showers, load_3dgan, sample_conditions

    data = dict(frozen)
    grid = tuple(int(g) for g in data.get("grid", GRID))
    if "path" in data:
        d = load_3dgan(data["path"], grid=grid)
    else:
        rng = np.random.default_rng(int(data.get("seed", 0)))
        energy, theta = sample_conditions(int(data.get("events", 2000)), rng,
                                          tuple(data.get("energy_range", (2.0, 500.0))))
        ecal = generate_showers(energy, theta, int(data.get("seed", 0)) + 1, Detector(grid=grid))
        d = {"ECAL": ecal, "energy": energy.astype(np.float32), "theta": theta.astype(np.float32)}
    keep = d["ECAL"].reshape(len(d["ECAL"]), -1).sum(axis=1) > float(data.get("min_sum", 10.0))
    return {k: v[keep] for k, v in d.items()}


class Calo3DTrainer:
    """One 3DGAN training run: ``train_epoch``, ``evaluate`` (SF MRE), best of the last 10 epochs."""

    selection_window = 10

    def __init__(self, params: dict, data: dict, seed: int):
        unknown = set(params) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"calo3d: unknown hyperparameters {sorted(unknown)}; known: {sorted(DEFAULTS)}")
        p = {**DEFAULTS, **params}
        d = _dataset(data)
        self.grid = tuple(d["ECAL"].shape[1:])
        if len(d["ECAL"]) < 5:
            raise ValueError(f"calo3d: only {len(d['ECAL'])} usable events; set data.events >= 10")
        self.split = family_split("calo3d", data, len(d["ECAL"]))
        parts = {k: self.split.parts(v) for k, v in d.items()}
        train, self.val, self.test = ({k: v[i] for k, v in parts.items()} for i in range(3))
        self.n_test, self.seed = self.split.test, int(seed)
        self.x = np.power(train["ECAL"], POWER)[..., None].astype(np.float32)
        self.y = np.stack([train["energy"] / 100.0, train["theta"],
                           train["ECAL"].reshape(len(self.x), -1).sum(axis=1)], axis=1).astype(np.float32)
        self.params, self.epoch = p, 0
        self._rng = np.random.default_rng(seed)
        self.batch_size = int(p["batch_size"])
        self.steps = data.get("steps_per_epoch")
        self.generator = build_generator(self.grid, int(p["latent"]), int(p["gen_dense_filters"]),
                                         int(p["gen_filters"]), int(p["gen_filters2"]))
        self.discriminator = build_discriminator(self.grid, int(p["disc_filters"]),
                                                 int(p["disc_filters2"]), float(p["dropout"]))
        self.gan = Calo3DGAN(self.generator, self.discriminator, seed=seed,
                             weights=(p["w_bce"], p["w_energy"], p["w_angle"], p["w_ecal"]),
                             flip_prob=float(p["flip_prob"]), g_steps=int(p["g_steps"]))
        self.gan.compile(g_optimizer=keras.optimizers.RMSprop(float(p["lr"])),
                         d_optimizer=keras.optimizers.RMSprop(float(p["lr"])))
        self.n_params = self.generator.count_params() + self.discriminator.count_params()

    def _training_set(self) -> tuple[np.ndarray, np.ndarray]:
        """Two-step (transfer) training: E_p in 100-200 GeV for the first epochs, then all."""
        if self.params["two_step"] and self.epoch < int(self.params["first_step_epochs"]):
            sel = (self.y[:, 0] >= 1.0) & (self.y[:, 0] <= 2.0)
            if sel.sum() >= self.batch_size:
                return self.x[sel], self.y[sel]
        return self.x, self.y

    def train_epoch(self) -> dict[str, float]:
        x, y = self._training_set()
        steps = max(1, len(x) // self.batch_size)
        if self.steps:
            steps = min(steps, int(self.steps))
        order = self._rng.permutation(len(x))
        for step in range(steps):
            batch = order[step * self.batch_size:(step + 1) * self.batch_size]
            logs = self.gan.train_on_batch(x[batch], y[batch], return_dict=True)
        self.epoch += 1
        return {k: float(v) for k, v in logs.items()}

    def generate(self, energy: np.ndarray, theta: np.ndarray, batch_size: int = 32,
                 rng: np.random.Generator | None = None) -> np.ndarray:
        """Showers (N, X, Y, Z) in stored units (GeV x 50) for the given conditions."""
        cond = np.stack([np.asarray(energy) / 100.0, theta], axis=1).astype(np.float32)
        images = self.gan.generate(len(cond), cond, batch_size=batch_size, rng=rng)[..., 0]
        return np.power(np.maximum(images, 0.0), 1.0 / POWER)

    def _score(self, events: dict, rng=None) -> dict[str, float]:
        fake = self.generate(events["energy"], events["theta"], rng=rng)
        return {"metric": sampling_fraction_mre(events["ECAL"], fake, events["energy"]),
                **shape_mre(events["ECAL"], fake)}

    def evaluate(self) -> dict[str, float]:
        """Sampling-fraction MRE over energy bins (the metric) and shower-shape MREs."""
        return self._score(self.val)

    def evaluate_test(self) -> dict[str, float]:
        """The same scores on the held-out test showers, noise seeded by the trial seed."""
        return self._score(self.test, np.random.default_rng([self.seed, 7357]))


def make_trainer(params: dict, data: dict, seed: int) -> Calo3DTrainer:
    """The ``models.trial`` entry: a 3DGAN trainer for these hyperparameters and data."""
    return Calo3DTrainer(params, data, seed)
