"""Latin hypercube design: space-filling blocks of ``n_initial`` points, one after another."""

from __future__ import annotations

import numpy as np

from orchestrator.optimizers.base import Optimizer

__all__ = ["LatinHypercubeSearch"]


class LatinHypercubeSearch(Optimizer):
    """The first ``n_initial`` points form one Latin hypercube (scipy.stats.qmc), snapped.

    Once that design is used up, a fresh, independent LHS block of the same size follows, and
    so on: every block of ``n_initial`` consecutive asks is space-filling on its own. Block
    points that snap onto an evaluated or pending point are skipped.
    """

    name = "lhs"
    defaults = {"n_initial": 10}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._block = np.empty((0, self.dim))
        self._block_used = 0

    def _check_options(self) -> None:
        super()._check_options()
        if self.options["n_initial"] < 1:
            raise ValueError(f"option n_initial: `n_initial >= 1` must hold for 'lhs', "
                             f"got {self.options['n_initial']!r}")

    def _propose(self, n: int) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        taken = self._visited()
        for _ in range(20 * (n + self.options["n_initial"])):  # the base class fills a shortfall
            if len(out) >= n:
                break
            if self._block_used >= len(self._block):
                self._block = self._make_design(self.options["n_initial"])
                self._block_used = 0
            row = self._block[self._block_used]
            self._block_used += 1
            key = self._codec.keys(row)[0]
            if key not in taken:
                taken.add(key)
                out.append(row)
        return out
