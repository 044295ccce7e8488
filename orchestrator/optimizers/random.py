"""Uniform random search: the baseline every surrogate method must beat."""

from __future__ import annotations

import numpy as np

from orchestrator.optimizers.base import Optimizer

__all__ = ["RandomSearch"]


class RandomSearch(Optimizer):
    """Independent uniform points of the unit cube, snapped onto the space, never repeated."""

    name = "random"
    defaults: dict = {}

    def _propose(self, n: int) -> list[np.ndarray]:
        return list(self._fresh(self.rng.random((2 * n, self.dim)))[:n])
