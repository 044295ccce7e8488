"""The search's side of pruning: feeds the rule (orchestrator.pruners), stops trials, tells the optimiser.

``Pruning`` is what ``Search`` calls: ``restore`` on resume, ``on_epoch`` for every streamed
epoch, ``trial_ended`` for every stored trial, ``told`` for what the optimiser learns of a pruned
architecture. A decision is recorded in the store (``pruned_at``) at once and reaches the
decided architecture's trials through ``mark_stopped`` run on the workers that hold them (one
message per decision, none per epoch); ``stop_all`` marks every trial of the search the same way.

What the optimiser is told for a pruned architecture: ``pruned_value(rung value, threshold,
full-length means told so far)`` as its mean (the rung value made worse by its gap to the
promotion threshold, at least the 0.9 quantile of the full-length results), with the decision's
spread as its std. On resume the decision is rebuilt from the stored curve: the rung value is
the median over trials of their best epoch up to ``pruned_at``, its spread 1.4826 x their MAD,
the threshold the restored rung's.
"""

from __future__ import annotations

import logging
import math

import numpy as np
from distributed import Client

from orchestrator.experiment import Experiment
from orchestrator.pruners import Decision, make_pruner, pruned_value
from orchestrator.search.trial import mark_stopped, stop_key
from orchestrator.store import DONE, FAILED, PRUNED, ResultsStore, is_finished

__all__ = ["Pruning"]

log = logging.getLogger("ganhpo")


class Pruning:
    """One search's pruning: the rule, its decisions, and the stop marks sent to workers."""

    def __init__(self, exp: Experiment, client: Client, store: ResultsStore, tag: str, stage: int):
        self.exp, self.client, self.store, self.tag, self.stage = exp, client, store, tag, stage
        self.pruner = make_pruner(exp.pruning, exp.epochs, exp.trials)
        self.active = bool(self.pruner.rung_epochs)
        self.decisions: dict[int, Decision] = {}

    def restore(self) -> None:
        """Rebuild the rule from the store's curves and decisions (before any trial is resubmitted)."""
        if not self.active:
            return
        status, stage = self.store.array("status"), self.store.array("stage")
        curves, pruned, ended = {}, {}, {}
        pruned_at, diverged = self.store.array("pruned_at"), self.store.array("diverged_at")
        metric = self.store.array("epoch_metric")[:, :, : self.exp.epochs]
        for a in np.flatnonzero(stage == self.stage).tolist():
            curves[a] = metric[a]
            if pruned_at[a] >= 0:
                pruned[a] = int(pruned_at[a])
            gone = np.flatnonzero((status[a] == FAILED) | ((status[a] == DONE) & (diverged[a] >= 0)))
            if len(gone):
                ended[a] = gone.tolist()
        self.pruner.restore(curves, pruned, ended)
        for a, epoch in pruned.items():
            self.decisions[a] = self._rebuilt(a, epoch)

    def resumed(self, a: int) -> bool:
        """For an unfinished architecture on resume: True if it was pruned (its open trials are
        marked pruned, with what they reported; nothing is retrained)."""
        if a not in self.decisions:
            return False
        status = self.store.array("status")[a]
        for t in np.flatnonzero(~is_finished(status)).tolist():
            self.store.set("status", (a, t), PRUNED)
        return True

    def on_epoch(self, a: int, t: int, epoch: int, value: float) -> None:
        """Feed one epoch report; a decision stops every trial of its architecture."""
        if not self.active or not 0 <= epoch < self.exp.epochs:
            return
        for decision in self.pruner.report(a, t, epoch, value):
            self._stop(decision)

    def trial_ended(self, a: int, t: int, result: dict, complete: bool) -> None:
        """A trial's outcome was stored; ``complete``: every trial of ``a`` has ended."""
        if not self.active:
            return
        if result.get("status") == "failed" or result.get("diverged_at") is not None:
            for decision in self.pruner.trial_ended(a, t):
                self._stop(decision)
        if complete:
            self.pruner.finished(a)

    def told(self, a: int, full_length: list[float]) -> tuple[float, float] | None:
        """(mean, std) to tell the optimiser for a pruned ``a``; None if it was not pruned."""
        d = self.decisions.get(a)
        if d is None:
            return None
        spread = d.spread if math.isfinite(d.spread) else 0.0
        return pruned_value(d.value, d.threshold, full_length), spread

    def stop_all(self) -> None:
        """Mark every trial of this search stopped, on every worker (Ctrl-C, errors, fail fast)."""
        self._send([stop_key(self.tag, "*")], None)

    def _stop(self, d: Decision) -> None:
        a = int(d.arch)
        self.decisions[a] = d
        self.store.set("pruned_at", a, int(d.epoch))
        log.info("pruned architecture %d at epoch %d: %.4g (threshold %.4g, spread %.2g, %d trials)",
                 a, d.epoch + 1, d.value, d.threshold, d.spread, d.n_trials)
        status, worker = self.store.array("status")[a], self.store.array("worker")[a]
        open_ = ~is_finished(status)
        known = worker[open_]
        # Only the workers running its trials; all of them while one has not reported yet.
        targets = None if (known < 0).any() else sorted({self.store.workers[w] for w in known})
        if targets != []:
            self._send([stop_key(self.tag, a)], targets)

    def _send(self, keys: list[str], workers: list[str] | None) -> None:
        try:
            self.client.run(mark_stopped, keys, workers=workers, on_error="ignore")
        except Exception as err:  # noqa: BLE001 - a gone worker must not end the search
            log.warning("could not send stop marks %s to %s: %s", keys, workers or "all workers", err)

    def _rebuilt(self, a: int, epoch: int) -> Decision:
        """The decision of a stored ``pruned_at``, recomputed from the stored curve."""
        curve = self.store.array("epoch_metric")[a, :, : epoch + 1]
        with np.errstate(all="ignore"):
            best = np.nanmin(np.where(np.isfinite(curve), curve, np.nan), axis=1) \
                if curve.size else np.zeros(0)
        best = best[np.isfinite(best)]
        value = float(np.median(best)) if len(best) else math.nan
        spread = float(1.4826 * np.median(np.abs(best - value))) if len(best) > 1 else 0.0
        threshold = self.pruner.threshold(epoch) if epoch in self.pruner.rung_epochs else math.inf
        if not math.isfinite(value):
            value = threshold if math.isfinite(threshold) else 0.0
        return Decision(a, epoch, value, spread, threshold, value, len(best))

