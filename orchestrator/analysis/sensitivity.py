"""Which hyperparameters matter: Sobol indices (SALib) of a surrogate fitted to the search's results.

The surrogate is scikit-learn's ``GaussianProcessRegressor`` (constant x anisotropic Matern-5/2
plus a white-noise term, targets normalised) fitted to (unit-cube parameters, mean metric) of
every finished architecture. Categorical and lattice coordinates are treated as continuous in
[0, 1]: a categorical's k choices occupy k equal slices of its axis, so the uniform Sobol
sample weighs every choice equally. First-order (S1), total (ST) and pairwise (S2) indices with
bootstrap confidence intervals come from ``SALib.analyze.sobol`` on a Saltelli/Sobol sample
(``SALib.sample.sobol``). Ranking is by ST, which includes every interaction a parameter has.
"""

from __future__ import annotations

import warnings

import numpy as np

from orchestrator.analysis.summary import finished
from orchestrator.space import SearchSpace
from orchestrator.store import Snapshot

__all__ = ["SURROGATE", "fit_surrogate", "sensitivity", "unit_design"]

MAX_POINTS = 250  # the GP fit is O(n^3) per optimiser step: larger stores are subsampled
SURROGATE = ("Gaussian process (scikit-learn): constant x anisotropic Matern-5/2 + white noise, "
             "normalised targets, on unit-cube parameters (categoricals and lattices treated as "
             "continuous coordinates)")


def unit_design(snap: Snapshot) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Finished architectures as unit-cube rows, their mean metrics and the parameter names."""
    space = SearchSpace(snap.experiment["space"])
    idx, mean, _ = finished(snap)
    x = np.array([space.encode(space.from_row(snap.params[a])) for a in idx]).reshape(-1, space.dim)
    return x, mean, space.names


def fit_surrogate(x: np.ndarray, y: np.ndarray, seed: int = 0):
    """A GP regressor fitted to (x, y); its ``predict`` is the surrogate."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    d = x.shape[1]
    kernel = (ConstantKernel(1.0, (1e-3, 1e3)) * Matern(np.full(d, 0.3), (1e-2, 1e2), nu=2.5)
              + WhiteKernel(0.1, (1e-6, 1e1)))
    gp = GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=2,
                                  random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gp.fit(x, y)
    return gp


def sensitivity(snap: Snapshot, n_base: int = 512, resamples: int = 200, seed: int = 0) -> dict:
    """Sobol indices per hyperparameter, ranked by total index; ``skipped`` says why if not run.

    Needs at least d + 2 finished architectures and a metric that varies; otherwise returns
    ``{"skipped": reason}``. The GP is fitted on at most MAX_POINTS of them (a seeded subsample). ``n_base`` (a power of two) sets the Sobol sample size
    ``n_base * (2d + 2)`` evaluated on the surrogate.
    """
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import sobol as sobol_sample

    x, y, names = unit_design(snap)
    d = len(names)
    if len(y) < d + 2:
        return {"skipped": f"sensitivity needs at least d + 2 = {d + 2} finished architectures "
                           f"with a metric for {d} hyperparameters; the store has {len(y)}"}
    if np.ptp(y) == 0:
        return {"skipped": "sensitivity skipped: every finished architecture has the same mean"}
    if d == 1:
        return {"names": names, "ranking": names, "S1": [1.0], "S1_conf": [0.0], "ST": [1.0],
                "ST_conf": [0.0], "S2": [[None]], "S2_conf": [[None]], "n_points": len(y),
                "surrogate": "none needed: one hyperparameter carries all the variance"}
    n_total = len(y)
    if n_total > MAX_POINTS:  # a seeded uniform subsample keeps the design's coverage
        keep = np.sort(np.random.default_rng(seed).choice(n_total, MAX_POINTS, replace=False))
        x, y = x[keep], y[keep]
    gp = fit_surrogate(x, y, seed)
    problem = {"num_vars": d, "names": names, "bounds": [[0.0, 1.0]] * d}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SALib warns when n_base is not a power of two
        sample = sobol_sample.sample(problem, n_base, calc_second_order=True, seed=seed)
        out = sobol_analyze.analyze(problem, gp.predict(sample), calc_second_order=True,
                                    num_resamples=resamples, conf_level=0.95, seed=seed)
    order = np.argsort(-out["ST"], kind="stable")
    s2 = np.where(np.isfinite(out["S2"]), out["S2"], np.nan)
    return {"names": names, "ranking": [names[i] for i in order],
            "S1": out["S1"].tolist(), "S1_conf": out["S1_conf"].tolist(),
            "ST": out["ST"].tolist(), "ST_conf": out["ST_conf"].tolist(),
            "S2": _nan_to_none(s2), "S2_conf": _nan_to_none(out["S2_conf"]),
            "n_points": len(y), "n_finished": n_total, "n_sample": len(sample), "surrogate": SURROGATE,
            "kernel": str(gp.kernel_), "conf_level": 0.95}


def _nan_to_none(a: np.ndarray) -> list[list[float | None]]:
    return [[None if not np.isfinite(v) else float(v) for v in row] for row in np.asarray(a, float)]


def top_interactions(result: dict, n: int = 3) -> list[tuple[str, str, float]]:
    """The n largest second-order indices as (name, name, S2)."""
    names, s2 = result.get("names", []), result.get("S2", [])
    pairs = [(names[i], names[j], v) for i, row in enumerate(s2) for j, v in enumerate(row)
             if v is not None and j > i]
    return sorted(pairs, key=lambda p: -p[2])[:n]
