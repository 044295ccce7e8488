"""Uniform random search: the baseline every surrogate method must beat."""

from __future__ import annotations

import numpy as np

from orchestrator.optimizers.base import Optimizer

__all__ = ["RandomSearch"]


class RandomSearch(Optimizer):
    """Independent uniform points of the unit cube, snapped onto the space, never repeated.

    ``n_initial`` (default 0) hands out the shared Latin-hypercube design first, as the
    surrogate methods do, so a method comparison starts every method from the same points.
    """

    name = "random"
    defaults: dict = {"n_initial": 0}

    def _propose(self, n: int) -> list[np.ndarray]:
        return list(self._fresh(self.rng.random((2 * n, self.dim)))[:n])
