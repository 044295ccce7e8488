"""Optuna behind our ask/tell contract: TPE (multivariate, constant liar) or its GP sampler.

Our space maps onto Optuna distributions: a lattice (or integer) becomes an
``IntDistribution`` over its level index, a real a ``FloatDistribution`` (``log=True`` where
ours is log), a categorical a ``CategoricalDistribution`` over its choice indices.

Design: one in-memory study lives as long as the optimiser. Before each ask the study is
brought up to date with our bookkeeping: told points complete their trial (or are added as
complete trials when they never came from the study: resumed architectures, the initial design,
random fill-ins), pending points that the study does not know are added as RUNNING trials, so
TPE's constant liar treats every pending point alike. Tells themselves only touch our
bookkeeping (the driver tells one architecture at a time on resume). A sampled point that is
already evaluated or pending is failed in the study and sampled again (a few times), then the
base class fills the gap with unvisited random points. Optuna is imported only when this
optimiser is built; without it the error names the extra to install.
"""

from __future__ import annotations

import importlib
import importlib.util
import warnings
from typing import Any

import numpy as np

from orchestrator.optimizers.base import Optimizer

__all__ = ["OptunaSearch"]

_SAMPLERS = ("tpe", "gp")
_RETRIES = 5  # resamples per wanted point when the sampler repeats a visited point


def _import_optuna() -> Any:
    try:
        optuna = importlib.import_module("optuna")
    except ImportError:
        raise ImportError("optimizer 'optuna' needs optuna: pip install 'ganhpo[optuna]'") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


class OptunaSearch(Optimizer):
    """Optuna's TPE (``sampler: tpe``, multivariate, constant liar) or GP sampler (``gp``).

    ``n_startup_trials`` random trials come first (the sampler's own start); ``n_initial``
    (default 0) puts our Latin hypercube before them instead. The GP sampler needs torch.
    """

    name = "optuna"
    defaults = {"n_initial": 0, "sampler": "tpe", "n_startup_trials": 10}

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        optuna = self._optuna = _import_optuna()
        if self.options["sampler"] == "gp" and importlib.util.find_spec("torch") is None:
            raise ImportError("optimizer 'optuna' with sampler: gp needs torch (Optuna's GP sampler "
                              "is written in it): pip install torch, or use sampler: tpe")
        dist = optuna.distributions
        self._dists: dict[str, Any] = {}
        for name, p in self.space.params.items():
            if p.kind == "real":
                self._dists[name] = dist.FloatDistribution(p.low, p.high, log=p.log)
            elif p.kind == "categorical":
                self._dists[name] = dist.CategoricalDistribution(list(range(p.n_levels)))
            else:
                self._dists[name] = dist.IntDistribution(0, p.n_levels - 1)
        seed = int(self.rng.integers(2**31))
        start = int(self.options["n_startup_trials"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # multivariate and constant_liar are "experimental"
            if self.options["sampler"] == "gp":
                sampler = optuna.samplers.GPSampler(seed=seed, n_startup_trials=start)
            else:
                sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=start,
                                                     multivariate=True, constant_liar=True)
        self._study = optuna.create_study(direction="minimize", sampler=sampler)
        self._trial_of: dict[tuple, int] = {}  # our key -> study trial number
        self._complete: set[tuple] = set()

    def _check_options(self) -> None:
        super()._check_options()
        o = self.options
        if o["sampler"] not in _SAMPLERS:
            raise ValueError(f"option sampler: must be one of {', '.join(_SAMPLERS)}, got {o['sampler']!r}")
        n = o["n_startup_trials"]
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"option n_startup_trials: `n_startup_trials >= 0` (an int) must hold, got {n!r}")

    # ----- conversions ---------------------------------------------------------------------------

    def _params(self, row: np.ndarray) -> dict:
        """A unit-cube row as Optuna parameters (level indices, choice indices, real values)."""
        levels = self._codec.level_index(row)[0]
        return {name: (p.decode(row[i]) if p.kind == "real" else int(levels[i]))
                for i, (name, p) in enumerate(self.space.params.items())}

    def _row(self, params: dict) -> np.ndarray:
        """Optuna parameters as a snapped unit-cube row."""
        row = np.empty(self.dim)
        for i, (name, p) in enumerate(self.space.params.items()):
            v = params[name]
            if p.kind == "real":
                row[i] = p.encode(float(v))
            elif p.kind == "categorical":
                row[i] = (int(v) + 0.5) / p.n_levels
            else:
                row[i] = int(v) / (p.n_levels - 1) if p.n_levels > 1 else 0.5
        return self._codec.snap(row)[0]

    # ----- study bookkeeping and proposals -------------------------------------------------------

    def _sync(self) -> None:
        """Complete told points in the study and add pending points it does not know as RUNNING."""
        optuna = self._optuna
        state = optuna.trial.TrialState
        for key, i in self._row_of.items():
            if key in self._complete:
                continue
            if key in self._trial_of:
                self._study.tell(self._trial_of[key], float(self._y[i]))
            else:
                self._study.add_trial(optuna.trial.create_trial(
                    params=self._params(self._X[i]), distributions=self._dists, value=float(self._y[i])))
            self._complete.add(key)
        for key, (_, row) in self._pending.items():
            if key not in self._trial_of:
                self._trial_of[key] = len(self._study.get_trials(deepcopy=False))
                self._study.add_trial(optuna.trial.create_trial(
                    params=self._params(row), distributions=self._dists, state=state.RUNNING))

    def _propose(self, n: int) -> list[np.ndarray]:
        self._sync()
        failed = self._optuna.trial.TrialState.FAIL
        visited = self._visited()
        out: list[np.ndarray] = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(_RETRIES * n):
                if len(out) >= n:
                    break
                trial = self._study.ask(self._dists)
                row = self._row(trial.params)
                key = self._codec.keys(row)[0]
                if key in visited:
                    self._study.tell(trial, state=failed)
                    continue
                visited.add(key)
                self._trial_of[key] = trial.number
                out.append(row)
        return out
