"""Synthetic results stores with a known structure, for the analysis tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from orchestrator.space import SearchSpace
from orchestrator.store import DONE, FAILED, ResultsStore

# Every kind of parameter: lattice, real, int, categorical, log real, another lattice.
SPACE = {"lr": {"type": "lattice", "lower": 0, "upper": 20, "scale": 0.05},
         "width": {"type": "real", "low": 0.0, "high": 1.0, "log": False},
         "depth": {"type": "int", "low": 0, "high": 10},
         "act": {"type": "categorical", "choices": ["relu", "tanh", "elu"]},
         "wd": {"type": "real", "low": 1e-5, "high": 1e-2, "log": True},
         "beta": {"type": "lattice", "lower": 1, "upper": 9, "scale": 0.1}}


def structured_metric(u: np.ndarray) -> float:
    """Mainly lr (a main effect), then width x depth (a pure interaction: no main effects),
    a trace of wd, nothing from act or beta. Variance shares: lr 0.76, width.depth 0.24."""
    return float(4 * u[0] ** 2 + 2 * (2 * u[1] - 1) * (2 * u[2] - 1) + 0.05 * u[4] + 3)


def make_store(path: str | Path, n: int = 80, trials: int = 3, seed: int = 0,
               fail_every: int = 0, n_params: bool = True, noise: float = 0.02,
               space: dict = SPACE, metric=structured_metric) -> ResultsStore:
    """n architectures sampled uniformly from ``space``, metric(unit-cube point) + noise.

    Every ``fail_every``-th architecture has its last trial failed (its error recorded);
    model size grows with depth. Finish times follow the architecture index.
    """
    spec, space = space, SearchSpace(space)
    rng = np.random.default_rng(seed)
    exp = {"name": "synthetic", "space": spec, "trials": trials, "epochs": 4, "budget": n,
           "optimizer": {"name": "rbf", "n_initial": 10}}
    store = ResultsStore.create(path, exp, space.names, trials=trials, epochs=4)
    for a in range(n):
        point = space.decode(rng.random(space.dim))
        f = metric(space.encode(point))
        store.add_architecture(space.to_row(point))
        if n_params:
            store.set("n_params", a, 1000 + 500 * point.get("depth", 0))
        for t in range(trials):
            store.set("started", (a, t), 10.0 * a + t)
            store.set("finished", (a, t), 10.0 * a + t + 5)
            if fail_every and a % fail_every == 0 and t == trials - 1:
                store.set_error(a, t, f"Traceback ...\nRuntimeError: diverged at epoch {a % 2}")
                store.set("status", (a, t), FAILED)
                continue
            store.set("metric", (a, t), f + noise * rng.standard_normal())
            store.set("epoch_metric", (a, t), f + np.array([3.0, 2.0, 1.0, 0.0]))
            store.set("status", (a, t), DONE)
    store.flush()
    return store
