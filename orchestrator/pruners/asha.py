"""``pruning: asha``: asynchronous successive halving, judged on all trials of an architecture.

Rungs at ``min_epochs * reduction**k`` epochs (k = 0, 1, ...) below ``epochs``; an architecture
reaching a rung continues only if it is (within its noise) in the best ``1/reduction`` of the
architectures that reached that rung so far, itself included. Decided at arrival: no rung is
ever waited for, and an architecture promoted early is never demoted later.
"""

from __future__ import annotations

from orchestrator.pruners.base import Pruner

__all__ = ["ASHAPruner"]


class ASHAPruner(Pruner):
    """Variability-aware ASHA (see docs/architecture.md, Pruning for the exact rule)."""

    name = "asha"
    defaults = {"min_epochs": 1, "reduction": 3, "k": 1.0, "startup": 2, "window": None}
    include_self = True

    def _check_options(self) -> None:
        super()._check_options()
        eta = self.options["reduction"]
        if isinstance(eta, bool) or not isinstance(eta, (int, float)) or not eta >= 1.5:
            raise ValueError(f"pruning.reduction: `reduction >= 1.5` must hold, got {eta!r}; "
                             "e.g. {rule: asha, reduction: 3}")

    def _rung_epochs(self) -> list[int]:
        """0-based indices of the rungs: epoch counts min_epochs * reduction**k, minus one."""
        m, eta = int(self.options["min_epochs"]), float(self.options["reduction"])
        out: list[int] = []
        k = 0
        while (count := int(round(m * eta**k))) < self.epochs:
            if not out or count - 1 > out[-1]:
                out.append(count - 1)
            k += 1
        return out

    def _quantile(self) -> float:
        return 1.0 / float(self.options["reduction"])
