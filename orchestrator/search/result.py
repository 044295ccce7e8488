"""The end-of-run summary: the best architecture of a store, its spread, and what failed."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from orchestrator.experiment import Experiment, effective_min_ok
from orchestrator.search.failures import common_errors
from orchestrator.store import DONE, FAILED, read_store
from orchestrator.store.view import trial_epochs

__all__ = ["Result", "best_of"]


@dataclass(frozen=True)
class Result:
    """What a search found: the best architecture by mean metric, with its spread over trials.

    The best is taken among architectures with at least ``min_ok`` successful trials, or, when
    none has that many, among those with any. ``n_ok_architectures`` counts finished
    architectures with at least one successful trial; ``common_errors`` holds the first lines
    of failed trials' errors with their counts, most common first (at most 3).
    """

    store: str
    best_params: dict | None
    best_mean: float
    best_std: float
    best_metrics: tuple[float, ...]
    n_architectures: int
    n_failed_trials: int
    tell_order: tuple[int, ...]
    seconds: float
    n_ok_architectures: int = 0
    common_errors: tuple[tuple[str, int], ...] = ()
    n_pruned: int = 0  # architectures a pruner stopped (never named best)
    trial_epochs: int = 0  # trial-epochs trained
    full_epochs: int = 0  # what a full-length search of the same architectures would train

    def summary(self) -> str:
        """A few human-readable lines for the end of a run."""
        errors = "".join(f"\n  {count} x {text}" for text, count in self.common_errors)
        if self.n_pruned:
            errors = (f"\n  {self.n_pruned} architectures pruned; {self.trial_epochs} trial-epochs "
                      f"trained of {self.full_epochs} at full length "
                      f"({self.trial_epochs / max(self.full_epochs, 1):.0%}){errors}")
        if self.best_params is None:
            return f"no architecture finished successfully; see {self.store}{errors}"
        trials = ", ".join(f"{m:.4g}" for m in self.best_metrics)
        return (f"best architecture: {self.best_params}\n"
                f"  metric {self.best_mean:.5g} +- {self.best_std:.2g} over {len(self.best_metrics)} "
                f"trials [{trials}]\n"
                f"  {self.n_architectures} architectures, {self.n_failed_trials} failed trials, "
                f"{self.seconds:.1f} s; results in {self.store}{errors}")


def best_of(store_path: str, exp: Experiment, started: float, tells: list[int]) -> Result:
    """Summarise a store: the best architecture by mean over its successful trials, preferring
    those with at least ``min_ok`` of them; failure counts and the most common errors."""
    snap = read_store(store_path)
    mean, std = snap.arch_mean_std()
    ranked = snap.ranked(effective_min_ok(exp.to_dict()))
    ranked = ranked[~snap.arch_pruned()[ranked]]  # a pruned architecture is never the best
    n_failed = int(np.sum(snap.status == FAILED))
    spent, full = trial_epochs(snap.status, snap.epoch_metric)
    extra = {"n_ok_architectures": len(ranked), "common_errors": common_errors(snap.errors),
             "n_pruned": int(snap.arch_pruned().sum()), "trial_epochs": spent, "full_epochs": full}
    if not len(ranked):
        return Result(store_path, None, math.nan, math.nan, (), snap.n, n_failed, tuple(tells),
                      time.time() - started, **extra)
    a = int(ranked[0])
    metrics = tuple(float(m) for m in snap.metric[a][snap.status[a] == DONE])
    return Result(store_path, {**exp.fixed, **exp.space.from_row(snap.params[a])}, float(mean[a]),
                  float(std[a]), metrics, snap.n, n_failed, tuple(tells), time.time() - started,
                  **extra)
