"""Cubic-RBF surrogate with DYCORS candidate search, optionally variability-aware (HYPPO)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy.interpolate import RBFInterpolator
from scipy.special import ndtr, ndtri

from orchestrator.optimizers.base import NearestKnown, Optimizer

__all__ = ["RBFSearch"]

_SIGMA_INIT = 0.2
_SIGMA_MIN = 0.2 * 0.5**6
_SUCCESS_TOL = 3
_RESTART_FAILS = 4  # restart after this many times the failure tolerance of failures in a row
POOL_FROM = 32  # asks of more points than this pick PICKS_PER_SET points from each candidate set
PICKS_PER_SET = 8


class RBFSearch(Optimizer):
    """Surrogate optimisation (Regis & Shoemaker DYCORS, as in pySOT) on a cubic RBF with a linear tail.

    The initial design is a Latin hypercube of ``n_initial`` points (default 2(d+1)). Each
    proposal perturbs the best point of the current phase (each coordinate with a probability
    decreasing with the number of evaluations towards ``budget``; truncated-normal steps of
    ``r``, at least one lattice step), mixes in a ``uniform_share`` of uniform candidates, drops
    evaluated and pending points, and picks the candidate minimising ``w * scaled surrogate +
    (1 - w) * (1 - scaled distance to evaluated and pending points)`` with ``w`` cycling through
    ``weights``. ``r`` starts at 0.2, halves after max(d, 4) consecutive failures down to
    0.2 * 0.5**6, and doubles (up to 0.2) after 3 successes. With ``restart`` (the default), a
    collapsed search (the radius at its floor, or 4 max(d, 4) failures in a row, pySOT's rule)
    starts a new phase: a fresh design, the radius back at 0.2, the search centred on the new
    phase's best; with ``restart_keep`` the surrogate still fits every evaluated point, without
    it (pySOT) only the phase's. With ``variability=True`` the surrogate is HYPPO's ensemble:
    ``n_ensemble`` RBFs, each fitted to one of (mean, mean - 2 std, mean + 2 std) per point at
    random, scored by ensemble mean + 2 * ensemble std, so reliable good points are preferred;
    one factorisation serves all members (only the right-hand side differs). Cost: one fit per
    ask batch; past ``max_fit`` evaluated points the fit uses the 70 % of ``max_fit`` nearest
    the best point plus a random sample of the rest, so an ask stays bounded.
    """

    name = "rbf"
    defaults = {"n_initial": None, "budget": 100, "n_candidates": None, "weights": (0.3, 0.5, 0.8, 0.95),
                "smoothing": 1e-6, "variability": False, "n_ensemble": 30, "max_fit": 1000,
                "restart": True, "restart_keep": True, "uniform_share": 0.0}

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.radius = _SIGMA_INIT
        self._fail_tol = max(self.dim, 4)
        self._fails = 0
        self._fails_in_a_row = 0  # not reset by halving: pySOT's restart rule
        self.restarts = 0
        self._successes = 0
        self._cycle = 0
        self._phase_start = 0  # index of the first point of the current phase (restarts)
        self._restart_design = np.empty((0, self.dim))

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
        if isinstance(o["max_fit"], bool) or not (isinstance(o["max_fit"], int) and o["max_fit"] >= 20):
            raise ValueError(f"option max_fit: `max_fit >= 20` (an int) must hold, got {o['max_fit']!r}")
        for flag in ("restart", "restart_keep", "variability"):
            if not isinstance(o[flag], bool):
                raise ValueError(f"option {flag}: must be true or false, got {o[flag]!r}")
        if not (isinstance(o["uniform_share"], (int, float)) and 0.0 <= o["uniform_share"] < 1.0):
            raise ValueError(f"option uniform_share: `0 <= uniform_share < 1` must hold, "
                             f"got {o['uniform_share']!r}")

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
        """Fit the (ensemble) RBF on evaluated points (a bounded subset); None if too few or degenerate."""
        rows = self._fit_indices(int(self.options["max_fit"]), self._centre())
        if not self.options["restart_keep"] and self._phase_start:
            rows = rows[rows >= self._phase_start]
        X = np.asarray(self._X)[rows]
        y = np.asarray(self._y)[rows]
        active = np.ptp(X, axis=0) > 0  # a constant coordinate would make the linear tail singular
        if len(X) < int(active.sum()) + 1 or not active.any():
            return None
        if self.options["variability"]:
            targets = self._ensemble_targets(y, np.asarray(self._std)[rows])
        else:
            targets = y
        try:  # a (n, n_ensemble) target is one factorisation with n_ensemble right-hand sides
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

    def _centre(self) -> np.ndarray:
        """The row candidates perturb: the best point of the current phase (all points without restarts)."""
        start = self._phase_start if len(self._y) > self._phase_start else 0
        return self._X[start + int(np.argmin(self._y[start:]))]

    def _ensemble_targets(self, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
        """(n, n_ensemble) targets: per point and member one of mean, mean - 2 std, mean + 2 std."""
        choices = np.stack([mean, mean - 2 * std, mean + 2 * std], axis=1)
        pick = self.rng.integers(0, 3, size=(len(mean), int(self.options["n_ensemble"])))
        return np.take_along_axis(choices, pick, axis=1)

    # ----- candidate search -------------------------------------------------------------------

    def _propose(self, n: int) -> list[np.ndarray]:
        chosen = self._restart_picks(n)
        if len(chosen) == n:
            return chosen
        model = self._fit()
        if model is None:
            return chosen
        best = self._centre()
        near = self._nearest_known()  # evaluated and pending rows, and this ask's picks
        for c in chosen:
            near.add(c)
        taken: set[tuple] = {self._codec.keys(c)[0] for c in chosen}
        # An ask larger than the race's batches (a cluster's fill) picks several points from each
        # candidate set, as pySOT does for a batch: its cost per point no longer carries a
        # surrogate evaluation of 100 d candidates. Asks of up to POOL_FROM points pick one each.
        per_set = 1 if n <= POOL_FROM else PICKS_PER_SET
        while len(chosen) < n:
            cands = self._fresh(self._candidates(best), taken)
            if len(cands) == 0:
                break
            self._pick(cands, _unit(model(cands)), near, min(per_set, n - len(chosen)), chosen, taken)
        return chosen

    def _pick(self, cands: np.ndarray, value: np.ndarray, near: NearestKnown, k: int,
              chosen: list, taken: set) -> None:
        """Pick up to ``k`` of ``cands`` one after the other by weighted merit (scaled surrogate
        ``value`` against distance to known rows and to the picks so far)."""
        weights = self.options["weights"]
        dist = near.distance(cands)
        used = np.zeros(len(cands), bool)
        for _ in range(min(k, len(cands))):
            w = float(weights[self._cycle % len(weights)])
            self._cycle += 1
            merit = w * value + (1 - w) * (1 - _unit(dist))
            merit[used] = np.inf
            i = int(np.argmin(merit))
            pick = cands[i]
            chosen.append(pick)
            near.add(pick)
            taken.add(self._codec.keys(pick)[0])
            used[i] = True
            if k > 1:
                dist = np.minimum(dist, np.linalg.norm(cands - pick, axis=1))

    def _restart_picks(self, n: int) -> list[np.ndarray]:
        """Rows of a restart's fresh design still to hand out (unvisited ones only)."""
        fresh = self._fresh(self._restart_design)
        self._restart_design = fresh[n:]
        return list(fresh[:n])

    def _candidates(self, best: np.ndarray) -> np.ndarray:
        """Truncated-normal perturbations of the best row (DYCORS), plus uniform rows, in the unit cube."""
        d = self.dim
        total = self.options["n_candidates"] or 100 * d
        n_unif = int(round(float(self.options["uniform_share"]) * total))
        n_pert = max(1, total - n_unif)
        mask = self.rng.random((n_pert, d)) < self._perturb_probability()
        none = ~mask.any(axis=1)
        mask[none, self.rng.integers(0, d, size=int(none.sum()))] = True
        sigma = np.maximum(self.radius, self.space.steps * (self._codec.levels > 1))
        lo, hi = ndtr(-best / sigma), ndtr((1.0 - best) / sigma)  # normal CDF at the cube's faces
        step = sigma * ndtri(lo + (hi - lo) * self.rng.random((n_pert, d)))
        pert = np.clip(best + mask * step, 0.0, 1.0)
        return np.vstack([pert, self.rng.random((n_unif, d))])

    def _perturb_probability(self) -> float:
        """DYCORS: min(20/d, 1) * (1 - ln k / ln B), at least 1/d (k counts every phase, as pySOT)."""
        n0 = int(self.options["n_initial"])
        k = max(1, self.n_evaluated + len(self._pending) - n0 + 1)
        horizon = max(2, int(self.options["budget"]) - n0)
        p = min(20.0 / self.dim, 1.0) * (1.0 - math.log(k) / math.log(horizon))
        return max(p, 1.0 / self.dim)

    def _on_told(self, row: np.ndarray, mean: float, previous_best: float) -> None:
        """Radius adaptation: count successes (improvements of the phase's best) and failures."""
        phase = self._y[self._phase_start:]
        if len(phase) <= int(self.options["n_initial"]):
            return
        if self._phase_start:  # after a restart, successes count against the phase's own best
            previous_best = min(phase[:-1])
        if mean < previous_best - 1e-3 * abs(previous_best):
            self._successes, self._fails, self._fails_in_a_row = self._successes + 1, 0, 0
        else:
            self._successes, self._fails = 0, self._fails + 1
            self._fails_in_a_row += 1
        if self._successes >= _SUCCESS_TOL:
            self.radius, self._successes = min(2 * self.radius, _SIGMA_INIT), 0
        elif self._fails >= self._fail_tol:
            self.radius, self._fails = max(self.radius / 2, _SIGMA_MIN), 0
        collapsed = (self.radius <= _SIGMA_MIN and self._fails == 0 and self._successes == 0) or \
            self._fails_in_a_row >= _RESTART_FAILS * self._fail_tol
        if collapsed and self.options["restart"]:
            self._restart()

    def _restart(self) -> None:
        """The search has collapsed: a new phase with a fresh design and the initial radius."""
        self._phase_start = self.n_evaluated
        self._restart_design = self._make_design(int(self.options["n_initial"]))
        self.radius = _SIGMA_INIT
        self._successes = self._fails = self._fails_in_a_row = 0
        self.restarts += 1


def _unit(v: np.ndarray) -> np.ndarray:
    """Scale values to [0, 1] (all ones when they are all equal, as in DYCORS)."""
    lo, hi = float(np.min(v)), float(np.max(v))
    return np.ones_like(v) if hi - lo <= 0 else (v - lo) / (hi - lo)
