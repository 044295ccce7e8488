"""Cubic-RBF surrogate with DYCORS candidate search, optionally variability-aware (HYPPO)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy.interpolate import RBFInterpolator
from scipy.spatial.distance import cdist

from orchestrator.optimizers.base import Optimizer

__all__ = ["RBFSearch"]

_SIGMA_INIT = 0.2
_SIGMA_MIN = 0.2 * 0.5**6
_SUCCESS_TOL = 3
_UNIFORM_FRACTION = 0.2  # share of uniform candidates next to the perturbations of the best


class RBFSearch(Optimizer):
    """Surrogate optimisation (Regis & Shoemaker DYCORS) on a cubic RBF with a linear tail.

    Each proposal perturbs the best point (per-coordinate probability decreasing with the
    number of evaluations towards ``budget``; step ``r``, at least one lattice step), adds
    uniform candidates, drops evaluated and pending points, and picks the candidate minimising
    ``w * scaled surrogate + (1 - w) * (1 - scaled distance to evaluated and pending points)``
    with ``w`` cycling through ``weights``. ``r`` starts at 0.2, halves after max(d, 5)
    consecutive failures down to 0.2 * 0.5**6, and doubles (up to 0.2) after 3 successes.
    With ``variability=True`` the surrogate is HYPPO's ensemble: ``n_ensemble`` RBFs, each
    fitted to one of (mean, mean - 2 std, mean + 2 std) per point at random, scored by
    ensemble mean + 2 * ensemble std, so reliable good points are preferred.
    """

    name = "rbf"
    defaults = {"n_initial": 10, "budget": 100, "n_candidates": None, "weights": (0.3, 0.5, 0.8, 0.95),
                "smoothing": 1e-6, "variability": False, "n_ensemble": 30}

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.radius = _SIGMA_INIT
        self._fail_tol = max(self.dim, 5)
        self._fails = 0
        self._successes = 0
        self._cycle = 0

    def _check_options(self) -> None:
        super()._check_options()
        o = self.options
        if not (isinstance(o["budget"], int) and o["budget"] >= 1):
            raise ValueError(f"option budget: `budget >= 1` (an int) must hold, got {o['budget']!r}")
        if o["n_candidates"] is not None and not (isinstance(o["n_candidates"], int)
                                                  and o["n_candidates"] >= 1):
            raise ValueError(f"option n_candidates: `n_candidates >= 1` must hold, got {o['n_candidates']!r}")
        if not o["weights"] or not all(0.0 <= float(w) <= 1.0 for w in o["weights"]):
            raise ValueError(f"option weights: each weight in [0, 1] must hold, got {o['weights']!r}")
        if not (isinstance(o["n_ensemble"], int) and o["n_ensemble"] >= 2):
            raise ValueError(f"option n_ensemble: `n_ensemble >= 2` must hold, got {o['n_ensemble']!r}")

    # ----- surrogate ---------------------------------------------------------------------------

    def _ready(self) -> bool:
        return self.n_evaluated >= self.dim + 1

    def score(self, points: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """The surrogate value candidate search minimises, at the given points (lower is better)."""
        model = self._fit()
        if model is None:
            raise RuntimeError(f"optimizer 'rbf': need at least {self.dim + 1} evaluated points "
                               f"to fit the surrogate, have {self.n_evaluated}")
        return model(np.array([self.space.encode(p) for p in points]))

    def _fit(self) -> Callable[[np.ndarray], np.ndarray] | None:
        """Fit the (ensemble) RBF on evaluated points; None if too few or degenerate."""
        X = np.array(self._X)
        y = np.array(self._y)
        active = np.ptp(X, axis=0) > 0  # a constant coordinate would make the linear tail singular
        if len(X) < int(active.sum()) + 1 or not active.any():
            return None
        if self.options["variability"]:
            targets = self._ensemble_targets(y, np.array(self._std))
        else:
            targets = y
        try:
            rbf = RBFInterpolator(X[:, active], targets, kernel="cubic", degree=1,
                                  smoothing=float(self.options["smoothing"]))
        except (np.linalg.LinAlgError, ValueError):
            return None
        if not self.options["variability"]:
            return lambda U: rbf(np.atleast_2d(U)[:, active])

        def ensemble(U: np.ndarray) -> np.ndarray:
            pred = rbf(np.atleast_2d(U)[:, active])
            return pred.mean(axis=1) + 2.0 * pred.std(axis=1)
        return ensemble

    def _ensemble_targets(self, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
        """(n, n_ensemble) targets: per point and member one of mean, mean - 2 std, mean + 2 std."""
        choices = np.stack([mean, mean - 2 * std, mean + 2 * std], axis=1)
        pick = self.rng.integers(0, 3, size=(len(mean), int(self.options["n_ensemble"])))
        return np.take_along_axis(choices, pick, axis=1)

    # ----- candidate search -------------------------------------------------------------------

    def _propose(self, n: int) -> list[np.ndarray]:
        model = self._fit()
        if model is None:
            return []
        best = self._X[int(np.argmin(self._y))]
        known = self._known_rows()
        chosen: list[np.ndarray] = []
        taken: set[tuple] = set()
        for _ in range(n):
            cands = self._fresh(self._candidates(best), taken)
            if len(cands) == 0:
                break
            weights = self.options["weights"]
            w = float(weights[self._cycle % len(weights)])
            self._cycle += 1
            ref = np.vstack([known] + [np.atleast_2d(c) for c in chosen])
            merit = w * _unit(model(cands)) + (1 - w) * (1 - _unit(cdist(cands, ref).min(axis=1)))
            pick = cands[int(np.argmin(merit))]
            chosen.append(pick)
            taken.add(self._codec.keys(pick)[0])
        return chosen

    def _candidates(self, best: np.ndarray) -> np.ndarray:
        """Perturbations of the best row (DYCORS) plus uniform rows, in the unit cube."""
        d = self.dim
        total = self.options["n_candidates"] or 100 * d
        n_unif = int(round(_UNIFORM_FRACTION * total))
        n_pert = max(1, total - n_unif)
        mask = self.rng.random((n_pert, d)) < self._perturb_probability()
        none = ~mask.any(axis=1)
        mask[none, self.rng.integers(0, d, size=int(none.sum()))] = True
        sigma = np.maximum(self.radius, self.space.steps * (self._codec.levels > 1))
        pert = best + mask * sigma * self.rng.standard_normal((n_pert, d))
        return np.vstack([np.clip(pert, 0.0, 1.0), self.rng.random((n_unif, d))])

    def _perturb_probability(self) -> float:
        """DYCORS: min(20/d, 1) * (1 - ln k / ln B), at least 1/d."""
        n0 = int(self.options["n_initial"])
        k = max(1, self.n_evaluated + len(self._pending) - n0 + 1)
        horizon = max(2, int(self.options["budget"]) - n0)
        p = min(20.0 / self.dim, 1.0) * (1.0 - math.log(k) / math.log(horizon))
        return max(p, 1.0 / self.dim)

    def _on_told(self, row: np.ndarray, mean: float, previous_best: float) -> None:
        """Radius adaptation: count successes (improvements of the best) and failures."""
        if self.n_evaluated <= int(self.options["n_initial"]):
            return
        if mean < previous_best - 1e-3 * abs(previous_best):
            self._successes, self._fails = self._successes + 1, 0
        else:
            self._successes, self._fails = 0, self._fails + 1
        if self._successes >= _SUCCESS_TOL:
            self.radius, self._successes = min(2 * self.radius, _SIGMA_INIT), 0
        elif self._fails >= self._fail_tol:
            self.radius, self._fails = max(self.radius / 2, _SIGMA_MIN), 0


def _unit(v: np.ndarray) -> np.ndarray:
    """Scale values to [0, 1] (all ones when they are all equal, as in DYCORS)."""
    lo, hi = float(np.min(v)), float(np.max(v))
    return np.ones_like(v) if hi - lo <= 0 else (v - lo) / (hi - lo)
