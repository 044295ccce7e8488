"""The failure rules: what the optimiser is told for partly or wholly failed architectures, and
when a search whose first architectures all fail stops early (fail fast).

- An architecture with at least ``min_ok`` successful trials (``experiment.effective_min_ok``) is told their mean and sample std.
- One with fewer (but some) is told their mean with a std that reflects the losses: the larger
  of its own std and the noise seen so far (the pooled within-architecture std of the
  architectures told so far, else the spread of all successful trials); never 0.
- One with none is told a penalty derived from what was seen: the worst finite mean so far
  plus a margin (the noise, or 10 % of the range of means, whichever is larger), with that
  margin as its std. Until something finite has been seen it is not told (deferred); deferred
  architectures are told as soon as a finite mean arrives. An explicit ``penalty`` overrides.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping

import numpy as np

__all__ = ["FailFast", "TellRules", "common_errors", "first_line"]


class TellRules:
    """Turns each finished architecture's successful trial metrics into (mean, std) tells."""

    def __init__(self, min_ok: int, penalty: float | None = None):
        self.min_ok, self.penalty = int(min_ok), penalty
        self.worst, self.best = -math.inf, math.inf  # over finite told means
        self._within, self._dof = 0.0, 0            # pooled within-architecture sum of squares
        self._n, self._sum, self._sq = 0, 0.0, 0.0  # every successful trial metric
        self.deferred: list[int] = []
        self.told: dict[int, tuple[float, float]] = {}

    def noise(self) -> float:
        """The trial-to-trial spread seen so far (NaN before two successful trials)."""
        if self._dof:
            return math.sqrt(self._within / self._dof)
        if self._n >= 2:
            return math.sqrt(max(self._sq - self._sum**2 / self._n, 0.0) / (self._n - 1))
        return math.nan

    def margin(self) -> float:
        """How far above the worst mean an all-failed architecture is told (> 0)."""
        noise = self.noise()
        spread = 0.1 * (self.worst - self.best)
        margin = max(noise if math.isfinite(noise) else 0.0, spread)
        return margin if margin > 0 else max(0.1 * abs(self.worst), 1e-12)

    def judge(self, a: int, good: np.ndarray) -> list[tuple[int, float, float]]:
        """The tells (arch, mean, std) that architecture ``a`` finishing with metrics ``good``
        makes possible now: none (deferred), its own, or its own and every deferred one."""
        good = np.asarray(good, float)
        if not len(good):
            if self.penalty is not None:
                return [self._record(a, float(self.penalty), _finite_or(self.noise(), 0.0))]
            if not math.isfinite(self.worst):
                self.deferred.append(a)
                return []
            return [self._record(a, self.worst + self.margin(), self.margin())]
        mean = float(good.mean())
        own = float(good.std(ddof=1)) if len(good) > 1 else 0.0
        self._observe(good, mean)
        std = own
        if len(good) < self.min_ok:
            std = max(own, _finite_or(self.noise(), 0.0)) or (abs(mean) or 1.0)
        tells = [self._record(a, mean, std)]
        if self.deferred and self.penalty is None:
            tells += [self._record(d, self.worst + self.margin(), self.margin())
                      for d in self.deferred]
            self.deferred = []
        return tells

    def _observe(self, good: np.ndarray, mean: float) -> None:
        self.worst, self.best = max(self.worst, mean), min(self.best, mean)
        if len(good) > 1:
            self._within += float(((good - mean) ** 2).sum())
            self._dof += len(good) - 1
        self._n += len(good)
        self._sum += float(good.sum())
        self._sq += float((good**2).sum())

    def _record(self, a: int, mean: float, std: float) -> tuple[int, float, float]:
        self.told[a] = (mean, std)
        return a, mean, std


def _finite_or(value: float, default: float) -> float:
    return value if math.isfinite(value) else default


class FailFast:
    """Says when the first ``limit`` architectures finished in this run all failed every trial
    while nothing has succeeded (0 disables)."""

    def __init__(self, limit: int):
        self.limit, self.failed, self.armed = int(limit), 0, int(limit) > 0

    def succeeded(self) -> None:
        """A trial succeeded somewhere: the search works, never stop it early."""
        self.armed = False

    def finished(self, n_ok: int) -> bool:
        """Count one finished architecture with ``n_ok`` successful trials; True: stop now."""
        if n_ok:
            self.armed = False
        elif self.armed:
            self.failed += 1
        return self.armed and self.failed >= self.limit


def first_line(text: str, limit: int = 200) -> str:
    """The first non-empty line of an error text, cut to ``limit`` characters."""
    lines = [line for line in str(text).strip().splitlines() if line.strip()]
    return lines[0][:limit] if lines else ""


def common_errors(errors: Mapping[str, str], n: int = 3) -> tuple[tuple[str, int], ...]:
    """The ``n`` most common first lines of error texts, with counts (ties: first seen first)."""
    return tuple(Counter(first_line(t) for t in errors.values() if t).most_common(n))
