"""Shared pieces of the event-level GAN families: scaler, MLP builders, dataset cache, trainer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np
from keras import layers

from models.gan import GAN
from models.metrics import wasserstein_mean


@dataclass(frozen=True)
class MinMaxScaler:
    """Per-column affine map of the fitted [min, max] onto [-1, 1] (and back)."""

    low: np.ndarray
    high: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> MinMaxScaler:
        low, high = x.min(axis=0).astype(np.float64), x.max(axis=0).astype(np.float64)
        return cls(low, np.where(high > low, high, low + 1.0))

    def transform(self, x: np.ndarray) -> np.ndarray:
        return (2.0 * (x - self.low) / (self.high - self.low) - 1.0).astype(np.float32)

    def inverse(self, y):
        """Back to physical units; works on numpy arrays and on backend tensors."""
        half = ((self.high - self.low) / 2.0).astype(np.float32)
        return (y + 1.0) * half + self.low.astype(np.float32)


def merge_params(params: dict, defaults: dict, family: str) -> dict:
    """Defaults overlaid with params; unknown names fail with the list of known ones."""
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise ValueError(f"{family}: unknown hyperparameter(s) {unknown}; known: {sorted(defaults)}")
    return {**defaults, **params}


def dense_stack(x, sizes: Sequence[int], batch_norm: bool, negative_slope: float,
                activate_last: bool = True):
    """Dense(size) [-> BatchNorm] -> LeakyReLU for each size (the last LeakyReLU optional)."""
    for i, size in enumerate(sizes):
        x = layers.Dense(int(size))(x)
        if batch_norm:
            x = layers.BatchNormalization()(x)
        if activate_last or i < len(sizes) - 1:
            x = layers.LeakyReLU(negative_slope)(x)
    return x


def adam_pair(p: dict) -> tuple[keras.optimizers.Optimizer, keras.optimizers.Optimizer]:
    """Generator and discriminator optimizers from p['optimizer'] (adam|adadelta), lr_gen, lr_disc."""
    kinds = {"adam": keras.optimizers.Adam, "adadelta": keras.optimizers.Adadelta}
    name = str(p.get("optimizer", "adam")).lower()
    if name not in kinds:
        raise ValueError(f"optimizer {name!r}: unknown; use 'adam' or 'adadelta'")
    return kinds[name](float(p["lr_gen"])), kinds[name](float(p["lr_disc"]))


class EventTrainer:
    """The trial.py Trainer: one epoch of ``fit`` per ``train_epoch``; WD on validation per
    ``evaluate``, on the held-out test events per ``evaluate_test`` (``n_test`` of them)."""

    def __init__(self, gan: GAN, train: tuple, validation: tuple, batch_size: int,
                 steps_per_epoch: int | None = None, test: tuple | None = None, seed: int = 0):
        self.gan = gan
        self.generator = gan.generator
        self.x, self.cond = train
        self.val_x, self.val_cond = validation
        self.test_x, self.test_cond = test if test is not None else (self.val_x[:0], None)
        self.n_test, self.seed = len(self.test_x), int(seed)
        self.batch_size = max(1, min(int(batch_size), len(self.x)))
        full = -(-len(self.x) // self.batch_size)  # more steps than batches makes Keras warn
        self.steps_per_epoch = None if steps_per_epoch is None else min(int(steps_per_epoch), full)
        self.n_params = int(gan.generator.count_params() + gan.discriminator.count_params())

    def train_epoch(self) -> dict[str, float]:
        """One pass over the training set (or ``steps_per_epoch`` batches); mean losses."""
        history = self.gan.fit(self.x, self.cond, batch_size=self.batch_size, epochs=1,
                               steps_per_epoch=self.steps_per_epoch, shuffle=True, verbose=0)
        return {k: float(v[-1]) for k, v in history.history.items()}

    def generate_validation(self) -> np.ndarray:
        """Generated samples for every validation event (scaled space)."""
        return self.gan.generate(len(self.val_x), self.val_cond)

    def generate_test(self) -> np.ndarray:
        """Generated samples for every test event (scaled space), noise from ``test_rng()``."""
        return self.gan.generate(self.n_test, self.test_cond, rng=self.test_rng())

    def test_rng(self) -> np.random.Generator:
        """The test evaluation's own noise source, fixed by the trial seed (reproducible)."""
        return np.random.default_rng([self.seed, 7357])

    @staticmethod
    def _score(real: np.ndarray, fake: np.ndarray) -> dict[str, float]:
        if not np.all(np.isfinite(fake)):
            return {"metric": float("nan")}
        return {"metric": wasserstein_mean(real, fake)}

    def evaluate(self) -> dict[str, float]:
        """Mean per-column 1-D Wasserstein distance, validation vs generated (scaled space)."""
        return self._score(self.val_x, self.generate_validation())

    def evaluate_test(self) -> dict[str, float]:
        """The same metric on the test events (call with the chosen epoch's generator weights)."""
        return self._score(self.test_x, self.generate_test())
