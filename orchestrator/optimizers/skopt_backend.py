"""scikit-optimize behind our ask/tell contract: skopt.Optimizer with constant-liar batches.

Our space maps onto skopt dimensions one to one: a lattice (or integer) becomes
``Integer(0, n_levels - 1)`` over its level index, a real ``Real(low, high)`` with a
``log-uniform`` prior where ours is log, a categorical ``Categorical`` over its choice indices;
single-level parameters are left out of skopt's space and filled in on the way back.

Design (pending points): every ask rebuilds one ``skopt.Optimizer`` from our bookkeeping,
tells it the evaluated points with their means and every pending point with a lie (the min,
mean or max of the observed means, ``strategy`` cl_min/cl_mean/cl_max, as skopt's own
constant liar), so a single fit sees all of them, then calls ``ask(n_points=n,
strategy=...)``, which lies about each new pick before the next. Because the optimiser is
rebuilt, lies about pending points vanish once they are told, and no skopt state outlives an
ask; the price is that ``gp_hedge`` cannot carry its portfolio gains from ask to ask (it is
accepted, but ``EI`` is the default). Picks that skopt repeats (it replaces an exact repeat by
a random point) are dropped and the base class fills the gap with unvisited random points.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

import numpy as np

from orchestrator.optimizers.base import Optimizer

__all__ = ["SkoptSearch"]

_ESTIMATORS = ("GP", "RF", "ET")
_ACQ_FUNCS = ("EI", "PI", "LCB", "gp_hedge")
_STRATEGIES = {"cl_min": np.min, "cl_mean": np.mean, "cl_max": np.max}


def _import_skopt() -> Any:
    try:
        return importlib.import_module("skopt")
    except ImportError:
        raise ImportError("optimizer 'skopt' needs scikit-optimize: pip install 'ganhpo[skopt]'") from None


class SkoptSearch(Optimizer):
    """Bayesian optimisation by scikit-optimize (``base_estimator`` GP, RF or ET).

    The first ``n_initial`` points are our Latin hypercube (skopt's own default is random);
    after that every ask goes to ``skopt.Optimizer`` as described in the module docstring.
    ``acq_func`` (EI, PI, LCB, gp_hedge), ``acq_optimizer`` (auto, sampling, lbfgs),
    ``n_points`` (acquisition candidates), ``xi`` and ``kappa`` are skopt's own.
    """

    name = "skopt"
    defaults = {"n_initial": 10, "base_estimator": "GP", "acq_func": "EI", "acq_optimizer": "auto",
                "n_points": 10000, "strategy": "cl_min", "xi": 0.01, "kappa": 1.96}

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._skopt = _import_skopt()
        space = self._skopt.space
        self._free: list[int] = []
        self._dims = []
        for i, p in enumerate(self.space.params.values()):
            if p.n_levels == 1:
                continue
            self._free.append(i)
            if p.kind == "real":
                prior = "log-uniform" if p.log else "uniform"
                self._dims.append(space.Real(p.low, p.high, prior=prior, transform="normalize"))
            elif p.kind == "categorical":
                self._dims.append(space.Categorical(list(range(p.n_levels))))
            else:
                self._dims.append(space.Integer(0, p.n_levels - 1, transform="normalize"))

    def _check_options(self) -> None:
        super()._check_options()
        o = self.options
        if str(o["base_estimator"]).upper() == "GBRT":
            raise ValueError("option base_estimator: GBRT does not work with scikit-optimize 0.10 on "
                             "scikit-learn >= 1.6 (skopt rejects its own quantile regressor); use RF or ET")
        if str(o["base_estimator"]).upper() not in _ESTIMATORS:
            raise ValueError(f"option base_estimator: must be one of {', '.join(_ESTIMATORS)}, "
                             f"got {o['base_estimator']!r}")
        o["base_estimator"] = str(o["base_estimator"]).upper()
        if o["acq_func"] not in _ACQ_FUNCS:
            raise ValueError(f"option acq_func: must be one of {', '.join(_ACQ_FUNCS)}, got {o['acq_func']!r}")
        if o["acq_optimizer"] not in ("auto", "sampling", "lbfgs"):
            raise ValueError("option acq_optimizer: must be one of auto, sampling, lbfgs, "
                             f"got {o['acq_optimizer']!r}")
        if o["strategy"] not in _STRATEGIES:
            raise ValueError(f"option strategy: must be one of {', '.join(_STRATEGIES)}, got {o['strategy']!r}")
        n = o["n_points"]
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"option n_points: `n_points >= 1` (an int) must hold, got {n!r}")

    def _ready(self) -> bool:
        return self.n_evaluated >= 2 and bool(self._free)

    # ----- conversions between our unit cube and skopt's points ---------------------------------

    def _to_skopt(self, rows: np.ndarray) -> list[list]:
        """Unit-cube rows as skopt points (level indices, choice indices, real values)."""
        levels = self._codec.level_index(rows)
        params = list(self.space.params.values())
        out = []
        for row, lev in zip(np.atleast_2d(rows), levels):
            out.append([params[i].decode(row[i]) if params[i].kind == "real" else int(lev[i])
                        for i in self._free])
        return out

    def _from_skopt(self, points: list[list]) -> np.ndarray:
        """skopt points as unit-cube rows (single-level parameters at their only value)."""
        params = list(self.space.params.values())
        rows = np.full((len(points), self.dim), 0.5)
        for r, x in enumerate(points):
            for i, v in zip(self._free, x):
                p = params[i]
                if p.kind == "real":
                    rows[r, i] = p.encode(float(v))
                elif p.kind == "categorical":
                    rows[r, i] = (int(v) + 0.5) / p.n_levels
                else:
                    rows[r, i] = int(v) / (p.n_levels - 1)
        return rows

    # ----- proposals -----------------------------------------------------------------------------

    def _propose(self, n: int) -> list[np.ndarray]:
        o = self.options
        y_obs = np.array(self._y)
        known = self._known_rows()  # evaluated rows first, then pending ones
        lie = float(_STRATEGIES[o["strategy"]](y_obs))
        y = np.concatenate([y_obs, np.full(len(known) - len(y_obs), lie)])
        sk = self._skopt.Optimizer(
            self._dims, base_estimator=o["base_estimator"], n_initial_points=0,
            acq_func=o["acq_func"], acq_optimizer=o["acq_optimizer"],
            acq_optimizer_kwargs={"n_points": int(o["n_points"])},
            acq_func_kwargs={"xi": float(o["xi"]), "kappa": float(o["kappa"])},
            random_state=int(self.rng.integers(2**31)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # skopt warns when it swaps a repeat for a random point
            sk.tell(self._to_skopt(known), [float(v) for v in y])
            picks = [sk.ask()] if n == 1 else sk.ask(n_points=n, strategy=o["strategy"])
        return list(self._fresh(self._from_skopt(picks)))
