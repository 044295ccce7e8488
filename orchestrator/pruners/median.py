"""``pruning: median``: the median stopping rule, judged on all trials of an architecture.

From epoch count ``min_epochs`` on, at every epoch before the last, an architecture stops when
(within its noise) its value is worse than the median of the values the OTHER architectures had
at that epoch, once ``startup`` others have reached it (Optuna's MedianPruner, per architecture).
"""

from __future__ import annotations

from orchestrator.pruners.base import Pruner

__all__ = ["MedianPruner"]


class MedianPruner(Pruner):
    """Variability-aware median stopping (see docs/architecture.md, Pruning)."""

    name = "median"
    defaults = {"min_epochs": 1, "k": 1.0, "startup": 5, "window": None}
    include_self = False

    def _rung_epochs(self) -> list[int]:
        return list(range(int(self.options["min_epochs"]) - 1, self.epochs - 1))

    def _quantile(self) -> float:
        return 0.5
