"""The pruning contract: per-epoch reports in, stop decisions for whole architectures out.

A rule is a small pure object. The search loop feeds it every per-epoch metric of every trial
(``report``), tells it when a trial ends early (``trial_ended``: failed or diverged) and when an
architecture completes (``finished``); ``report`` and ``trial_ended`` return the decisions to act
on now (every trial of a returned architecture stops). Nothing here waits, imports Dask or
touches the store: state is rebuilt on resume from the stored curves and decisions (``restore``).

Epochs are 0-based indices, as ``report(epoch, ...)`` in models/trial.py counts them; a rung at
"m epochs" is reached when a trial reports epoch index ``m - 1``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from sortedcontainers import SortedList

__all__ = ["Decision", "Pruner", "RungStats"]

# 1.4826 * MAD estimates a normal standard deviation.
_MAD_SCALE = 1.4826


@dataclass(frozen=True)
class Decision:
    """Stop every trial of ``arch``: judged at rung epoch ``epoch`` (0-based) and found worse."""

    arch: Hashable
    epoch: int  # the rung's epoch index: the last epoch whose values the decision used
    value: float  # the architecture's rung value: median over trials of best-so-far up to epoch
    spread: float  # the spread used: max(own 1.4826 * MAD, the rung's noise floor)
    threshold: float  # the promotion threshold at the rung when decided
    lower: float  # value - k * spread / sqrt(n_trials): still above (worse than) threshold
    n_trials: int  # trials with a finite value at the rung


class RungStats:
    """Architectures that reached one rung: sorted values and sorted spreads (O(log n) updates)."""

    __slots__ = ("spreads", "values")

    def __init__(self) -> None:
        self.values = SortedList()
        self.spreads = SortedList()

    def __len__(self) -> int:
        return len(self.values)

    def add(self, value: float, spread: float | None) -> None:
        """Record one architecture's rung value (and its trial spread, None with one trial)."""
        self.values.add(value)
        if spread is not None:
            self.spreads.add(spread)

    def quantile(self, q: float) -> float:
        """The q-quantile of the values (numpy's default linear interpolation); inf if empty."""
        n = len(self.values)
        if n == 0:
            return math.inf
        pos = (n - 1) * q
        lo = int(math.floor(pos))
        hi = min(lo + 1, n - 1)
        a, b = self.values[lo], self.values[hi]
        return a + (b - a) * (pos - lo) if b != a else a

    def noise_floor(self) -> float:
        """The median over architectures (with 2+ trials) of their trials' standard deviation."""
        n = len(self.spreads)
        if n == 0:
            return 0.0
        return 0.5 * (self.spreads[(n - 1) // 2] + self.spreads[n // 2])


class _ArchState:
    """One architecture's live bookkeeping (freed when it finishes or is pruned)."""

    __slots__ = ("best_all", "best_window", "last", "live", "next_rung", "trial_rung", "values")

    def __init__(self, trials: int, n_rungs: int) -> None:
        self.best_all = [math.inf] * trials
        self.best_window = [math.inf] * trials
        self.last = [-1] * trials
        self.trial_rung = [0] * trials  # next rung each trial has to record
        self.live = set(range(trials))
        self.next_rung = 0  # next rung the architecture is judged at
        self.values: list[list[float | None]] = [[None] * trials for _ in range(n_rungs)]


class Pruner(ABC):
    """Variability-aware early stopping of whole architectures at rungs (lower metric is better).

    Subclasses set ``name``, ``defaults`` (accepted options), ``include_self`` and implement
    ``_rung_epochs`` (0-based epoch indices where decisions are taken) and ``_quantile`` (the
    share of a rung that continues). The decision at a rung is documented in
    docs/architecture.md (Pruning): value = median over trials of each trial's best-so-far; stop only if
    ``value - k * max(own spread, noise floor) / sqrt(n)`` is worse than the rung's threshold.
    """

    name: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}
    include_self: ClassVar[bool] = True  # whether the threshold counts the judged architecture

    def __init__(self, epochs: int, trials: int, **options: Any):
        self.epochs, self.trials = _positive("epochs", epochs), _positive("trials", trials)
        unknown = sorted(set(options) - set(self.defaults))
        if unknown:
            raise ValueError(f"pruning: unknown option {unknown[0]!r} for rule {self.name!r}; "
                             f"accepted options: {', '.join(sorted(self.defaults)) or '(none)'}")
        self.options = {**self.defaults, **{k: v for k, v in options.items() if v is not None}}
        self._check_options()
        window = self.options.get("window")
        self.window_start = self.epochs - int(window) if window else 0
        self.rung_epochs: tuple[int, ...] = tuple(self._rung_epochs())
        self._rung_of = {e: r for r, e in enumerate(self.rung_epochs)}
        self._rungs = [RungStats() for _ in self.rung_epochs]
        self._arch: dict[Hashable, _ArchState] = {}
        self._pruned: dict[Hashable, int] = {}
        self._done: set[Hashable] = set()
        self._restoring = False

    # ----- the contract ----------------------------------------------------------------------

    def report(self, arch: Hashable, trial: int, epoch: int, value: float) -> list[Decision]:
        """Feed one per-epoch metric; the architectures to stop now (empty: all continue)."""
        if arch in self._pruned or arch in self._done or not self.rung_epochs:
            return []
        self._check_index("trial", trial, self.trials)
        self._check_index("epoch", epoch, self.epochs)
        st = self._arch.get(arch)
        if st is None:
            st = self._arch[arch] = _ArchState(self.trials, len(self.rung_epochs))
        if trial not in st.live:
            return []
        if epoch <= st.last[trial]:
            self._restart(st, trial)
        self._record_before(st, trial, epoch)
        v = float(value)
        if math.isfinite(v):
            st.best_all[trial] = min(st.best_all[trial], v)
            if epoch >= self.window_start:
                st.best_window[trial] = min(st.best_window[trial], v)
        st.last[trial] = epoch
        if st.trial_rung[trial] < len(self.rung_epochs) and self.rung_epochs[st.trial_rung[trial]] == epoch:
            self._record(st, trial, st.trial_rung[trial])
        return self._judge(arch, st)

    def trial_ended(self, arch: Hashable, trial: int) -> list[Decision]:
        """A trial of ``arch`` stopped before the last epoch (failed, diverged): judge on the rest."""
        if arch in self._pruned or arch in self._done or not self.rung_epochs:
            return []
        self._check_index("trial", trial, self.trials)
        st = self._arch.get(arch)
        if st is None:
            st = self._arch[arch] = _ArchState(self.trials, len(self.rung_epochs))
        st.live.discard(trial)
        return self._judge(arch, st)

    def finished(self, arch: Hashable) -> None:
        """``arch`` completed (every trial ended): free its state; later reports are ignored."""
        self._arch.pop(arch, None)
        if arch not in self._pruned:
            self._done.add(arch)

    def is_pruned(self, arch: Hashable) -> bool:
        """Whether ``arch`` has been stopped."""
        return arch in self._pruned

    @property
    def pruned(self) -> dict[Hashable, int]:
        """Every stopped architecture with the rung epoch (0-based) it was stopped at."""
        return dict(self._pruned)

    def threshold(self, epoch: int) -> float:
        """The current promotion threshold at the rung of ``epoch`` (inf when nobody reached it)."""
        return self._rungs[self._rung_of[epoch]].quantile(self._quantile())

    def restore(self, curves: Mapping[Hashable, Any], pruned: Mapping[Hashable, int],
                ended: Mapping[Hashable, Iterable[int]] | None = None) -> None:
        """Rebuild the state of a resumed search from its stored curves and pruning decisions.

        ``curves[arch]``: (trials, epochs) per-epoch metric, NaN where not reported (trailing
        NaNs count as not reported); ``pruned[arch]``: the epoch it was stopped at (its values
        after that are ignored); ``ended[arch]``: trials that ended early (failed, diverged).
        Rung membership does not depend on arrival order, so later decisions equal those of
        the search that was never interrupted; stored decisions are kept, never re-taken.
        """
        ended = ended or {}
        self._restoring = True
        try:
            for arch, curve in curves.items():
                self._replay(arch, np.asarray(curve, float), pruned.get(arch), ended.get(arch, ()))
        finally:
            self._restoring = False
        for arch, epoch in pruned.items():
            self._arch.pop(arch, None)
            self._pruned[arch] = int(epoch)

    # ----- subclass hooks --------------------------------------------------------------------

    @abstractmethod
    def _rung_epochs(self) -> list[int]:
        """The 0-based epoch indices where architectures are judged (ascending, < epochs)."""

    @abstractmethod
    def _quantile(self) -> float:
        """The share of a rung's architectures (best first) that continues, e.g. 1/reduction."""

    def _check_options(self) -> None:
        """Validate the shared options (subclasses extend)."""
        o = self.options
        _check_int("min_epochs", o.get("min_epochs", 1), 1, f"e.g. {{rule: {self.name}, min_epochs: 1}}")
        _check_int("startup", o.get("startup", 0), 0, f"e.g. {{rule: {self.name}, startup: 3}}")
        k = o.get("k", 0.0)
        if isinstance(k, bool) or not isinstance(k, (int, float)) or not 0 <= k < 10:
            raise ValueError(f"pruning.k: `0 <= k < 10` must hold, got {k!r}; e.g. {{rule: {self.name}, k: 1}}")
        w = o.get("window")
        if w is not None:
            _check_int("window", w, 1, "give the number of last epochs eligible for the metric, e.g. 10")

    # ----- bookkeeping -----------------------------------------------------------------------

    def _restart(self, st: _ArchState, trial: int) -> None:
        """A trial reports an epoch again: it was rerun, so its undecided rung values start over."""
        st.best_all[trial] = st.best_window[trial] = math.inf
        st.last[trial] = -1
        for r in range(st.next_rung, len(self.rung_epochs)):
            st.values[r][trial] = None
        st.trial_rung[trial] = st.next_rung

    def _record_before(self, st: _ArchState, trial: int, epoch: int) -> None:
        """Rungs the trial skipped (epochs never reported) get its best-so-far before ``epoch``."""
        while st.trial_rung[trial] < len(self.rung_epochs) and self.rung_epochs[st.trial_rung[trial]] < epoch:
            self._record(st, trial, st.trial_rung[trial])

    def _record(self, st: _ArchState, trial: int, r: int) -> None:
        in_window = self.rung_epochs[r] >= self.window_start
        best = st.best_window[trial] if in_window else st.best_all[trial]
        st.values[r][trial] = best if math.isfinite(best) else math.nan
        st.trial_rung[trial] = r + 1

    def _judge(self, arch: Hashable, st: _ArchState) -> list[Decision]:
        """Judge ``arch`` at each rung all its live trials have reached, in order."""
        while st.live and st.next_rung < len(self.rung_epochs):
            r = st.next_rung
            vals = [st.values[r][t] for t in st.live]
            if any(v is None for v in vals):
                return []
            st.next_rung += 1
            finite = [v for v in vals if v is not None and math.isfinite(v)]
            if not finite:
                continue  # nothing measured at this rung: no information, no decision
            decision = self._decide(arch, r, finite)
            if decision is not None:
                self._arch.pop(arch, None)
                self._pruned[arch] = decision.epoch
                return [decision]
        return []

    def _decide(self, arch: Hashable, r: int, values: list[float]) -> Decision | None:
        """Add ``arch`` to rung ``r``; a Decision if it is confidently outside the promotion set."""
        rung = self._rungs[r]
        n = len(values)
        centre = _median(values)
        own = _MAD_SCALE * _median([abs(v - centre) for v in values]) if n > 1 else 0.0
        others = len(rung)
        floor = rung.noise_floor()
        if not self.include_self:
            threshold = rung.quantile(self._quantile())
        if n > 1:
            mean = sum(values) / n
            rung.add(centre, math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)))
        else:
            rung.add(centre, None)
        if self.include_self:
            threshold = rung.quantile(self._quantile())
        if self._restoring or others < int(self.options.get("startup", 0)) or others == 0:
            return None
        spread = max(own, floor)
        lower = centre - float(self.options.get("k", 0.0)) * spread / math.sqrt(len(values))
        if lower <= threshold:
            return None
        return Decision(arch, self.rung_epochs[r], centre, spread, threshold, lower, len(values))

    def _replay(self, arch: Hashable, curve: np.ndarray, pruned_at: int | None,
                ended: Iterable[int]) -> None:
        """Feed one architecture's stored curve (restore): rung membership, no decisions."""
        if curve.shape != (self.trials, self.epochs):
            raise ValueError(f"restore: curves[{arch!r}] has shape {curve.shape}; expected "
                             f"(trials, epochs) = ({self.trials}, {self.epochs})")
        stop = self.epochs if pruned_at is None else int(pruned_at) + 1
        complete = True
        for t in range(self.trials):
            reported = np.flatnonzero(np.isfinite(curve[t, :stop]))
            last = int(reported[-1]) if reported.size else -1
            complete &= last == self.epochs - 1 or t in set(ended)
            for e in range(last + 1):
                self.report(arch, t, e, curve[t, e])
        for t in ended:
            self.trial_ended(arch, int(t))
        if complete and pruned_at is None:
            self.finished(arch)

    @staticmethod
    def _check_index(what: str, value: Any, n: int) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < n:
            raise ValueError(f"pruner.report: {what}={value!r} must be an int in [0, {n}); "
                             f"{what}s count from 0")


def _median(values: list[float]) -> float:
    """The median of a short list (pure Python: numpy's call overhead dominates for T values)."""
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def _positive(what: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"pruning: {what}={value!r} must be an int >= 1 (the experiment's {what})")
    return int(value)


def _check_int(what: str, value: Any, low: int, fix: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"pruning.{what}: `{what} >= {low}` (an int) must hold, got {value!r}; {fix}")
