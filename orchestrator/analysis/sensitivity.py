"""Which hyperparameters matter: Sobol indices (SALib) of a surrogate fitted to the search's results.

The surrogate is scikit-learn's ``GaussianProcessRegressor`` (constant x anisotropic Matern-5/2
plus a white-noise term, targets normalised) fitted to (unit-cube parameters, mean metric) of
every finished architecture. Categorical and lattice coordinates are treated as continuous in
[0, 1]: a categorical's k choices occupy k equal slices of its axis, so the uniform Sobol
sample weighs every choice equally. First-order (S1), total (ST) and pairwise (S2) indices with
bootstrap confidence intervals come from ``SALib.analyze.sobol`` on a Saltelli/Sobol sample
(``SALib.sample.sobol``). Ranking is by ST, which includes every interaction a parameter has.

The intervals are those of the Monte Carlo estimate on the surrogate: they do not contain the
surrogate's own error, which dominates for small designs. So a result carries ``caveats`` (shown
on the figure, the HTML page and the text report) when the design is too small for its indices:

- fewer than ``MIN_PER_DIM`` (10) finished architectures per hyperparameter;
- a leave-one-out R^2 of the surrogate below ``MIN_LOO_R2`` (0.5): the GP predicts an
  architecture it was not fitted on worse than half the variance of the means (closed-form LOO
  of the GP with its fitted kernel, Rasmussen & Williams eq. 5.12);
- a length scale at its lower bound (the GP follows noise along that axis), or every length
  scale at its upper bound (a flat surrogate: the indices describe noise).

Indices outside [0, 1] (Monte Carlo error) are clipped to it, the raw values kept as
``S1_raw``/``ST_raw`` and the clipping said in ``notes`` (unless it is below 0.005, invisible
at two decimals).
"""

from __future__ import annotations

import warnings

import numpy as np

from orchestrator.space import SearchSpace
from orchestrator.store import Snapshot

__all__ = ["MIN_LOO_R2", "MIN_PER_DIM", "SURROGATE", "caveats", "clip_indices", "describe",
           "fit_surrogate", "loo_r2", "sensitivity", "unit_design"]

MIN_PER_DIM = 10  # finished architectures per hyperparameter below which indices get a caveat
MIN_LOO_R2 = 0.5  # leave-one-out R^2 of the surrogate below which indices get a caveat
LENGTH_BOUNDS = (1e-2, 1e2)
CLIP_SILENT = 0.005  # clipped without a note: invisible at the two decimals indices are shown to
MAX_POINTS = 250  # the GP fit is O(n^3) per optimiser step: larger stores are subsampled
SURROGATE = ("Gaussian process (scikit-learn): constant x anisotropic Matern-5/2 + white noise, "
             "normalised targets, on unit-cube parameters (categoricals and lattices treated as "
             "continuous coordinates)")


def unit_design(snap: Snapshot) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Finished architectures as unit-cube rows, their mean metrics and the parameter names."""
    space = SearchSpace(snap.experiment["space"])
    idx, mean, _ = snap.finished_means()
    x = np.array([space.encode(space.from_row(snap.params[a])) for a in idx]).reshape(-1, space.dim)
    return x, mean, space.names


def fit_surrogate(x: np.ndarray, y: np.ndarray, seed: int = 0):
    """A GP regressor fitted to (x, y); its ``predict`` is the surrogate."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    d = x.shape[1]
    kernel = (ConstantKernel(1.0, (1e-3, 1e3)) * Matern(np.full(d, 0.3), LENGTH_BOUNDS, nu=2.5)
              + WhiteKernel(0.1, (1e-6, 1e1)))
    gp = GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=2,
                                  random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gp.fit(x, y)
    return gp


def loo_r2(gp) -> float:
    """Leave-one-out R^2 of a fitted GP, its kernel held fixed (closed form, no refits)."""
    from scipy.linalg import cho_solve

    n = gp.L_.shape[0]
    k_inv = cho_solve((gp.L_, True), np.eye(n))
    alpha = np.asarray(gp.alpha_).reshape(n)
    residual = alpha / np.diag(k_inv)  # in the normalised target units the GP was fitted in
    y = np.asarray(gp.y_train_).reshape(n)
    total = float(np.sum((y - y.mean()) ** 2))
    return float(1 - np.sum(residual ** 2) / total) if total > 0 else float("nan")


def caveats(names: list[str], n_points: int, r2: float, length_scales: np.ndarray) -> list[str]:
    """Why a design is too small for its indices (empty when it is not); see the module text."""
    d, out = len(names), []
    if n_points < MIN_PER_DIM * d:
        out.append(f"{n_points} architectures for {d} hyperparameters: fewer than {MIN_PER_DIM} "
                   f"per hyperparameter ({MIN_PER_DIM * d} needed)")
    if not r2 >= MIN_LOO_R2:
        out.append(f"the surrogate predicts left-out architectures poorly: leave-one-out "
                   f"R^2 = {r2:.2f} < {MIN_LOO_R2}")
    lo, hi = LENGTH_BOUNDS
    low = [n for n, ls in zip(names, length_scales, strict=True) if ls <= lo * 1.01]
    if low:
        out.append(f"surrogate length scale at its lower bound {lo:g} for {', '.join(low)}: "
                   "it follows noise there")
    if len(length_scales) and np.all(length_scales >= hi * 0.99):
        out.append(f"every surrogate length scale at its upper bound {hi:g}: the surrogate is "
                   "flat and the indices describe noise")
    return out


def clip_indices(out: dict, names: list[str]) -> tuple[dict, list[str]]:
    """S1 and ST clipped to [0, 1] (raw values kept), and one note naming what was clipped."""
    clipped, notes = {}, []
    for key in ("S1", "ST"):
        raw = np.asarray(out[key], float)
        clipped[key], clipped[f"{key}_raw"] = np.clip(raw, 0, 1).tolist(), raw.tolist()
        bad = [f"{n} ({v:.3g})" for n, v in zip(names, raw, strict=True)
               if not -CLIP_SILENT <= v <= 1 + CLIP_SILENT]
        if bad:
            notes.append(f"{key} outside [0, 1] (Monte Carlo error) clipped to it: {', '.join(bad)}")
    return clipped, notes


def sensitivity(snap: Snapshot, n_base: int = 512, resamples: int = 200, seed: int = 0) -> dict:
    """Sobol indices per hyperparameter, ranked by total index; ``skipped`` says why if not run.

    Needs at least d + 2 finished architectures and a metric that varies; otherwise returns
    ``{"skipped": reason}``. The GP is fitted on at most MAX_POINTS of them (a seeded
    subsample). ``n_base`` (a power of two) sets the Sobol sample size ``n_base * (2d + 2)``
    evaluated on the surrogate. ``caveats`` lists why the design is too small for the indices.
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
                "caveats": [], "notes": [],
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
                                    num_resamples=resamples, conf_level=0.95,
                                    seed=seed + 1)  # SALib ignores a falsy seed: 0 was unseeded
    order = np.argsort(-out["ST"], kind="stable")
    s2 = np.where(np.isfinite(out["S2"]), out["S2"], np.nan)
    r2, scales = loo_r2(gp), np.atleast_1d(gp.kernel_.k1.k2.length_scale).astype(float)
    clipped, notes = clip_indices(out, names)
    return {"names": names, "ranking": [names[i] for i in order], **clipped,
            "S1_conf": out["S1_conf"].tolist(), "ST_conf": out["ST_conf"].tolist(),
            "S2": _nan_to_none(s2), "S2_conf": _nan_to_none(out["S2_conf"]),
            "n_points": len(y), "n_finished": n_total, "n_sample": len(sample), "surrogate": SURROGATE,
            "kernel": str(gp.kernel_), "conf_level": 0.95, "loo_r2": r2,
            "length_scales": scales.tolist(), "caveats": caveats(names, len(y), r2, scales),
            "notes": notes}


def describe(result: dict) -> list[str]:
    """The indices as text lines: ST and S1 with their intervals, then caveats and notes."""
    if "skipped" in result:
        return [f"importance: {result['skipped']}"]
    lines = [f"importance: Sobol indices of a surrogate fitted to {result['n_points']} "
             f"architectures (+- 95 % interval of the Monte Carlo estimate; "
             f"leave-one-out R^2 {result.get('loo_r2', float('nan')):.2f}):"]
    width = max(len(n) for n in result["names"])
    for name in result["ranking"]:
        i = result["names"].index(name)
        lines.append(f"  {name:<{width}}  ST {result['ST'][i]:.2f} +- {result['ST_conf'][i]:.2f}"
                     f"  S1 {result['S1'][i]:.2f} +- {result['S1_conf'][i]:.2f}")
    lines += [f"  CAVEAT: {c}; read the indices as rough" for c in result.get("caveats", [])]
    lines += [f"  note: {n}" for n in result.get("notes", [])]
    return lines


def _nan_to_none(a: np.ndarray) -> list[list[float | None]]:
    return [[None if not np.isfinite(v) else float(v) for v in row] for row in np.asarray(a, float)]


def top_interactions(result: dict, n: int = 3) -> list[tuple[str, str, float]]:
    """The n largest second-order indices as (name, name, S2)."""
    names, s2 = result.get("names", []), result.get("S2", [])
    pairs = [(names[i], names[j], v) for i, row in enumerate(s2) for j, v in enumerate(row)
             if v is not None and j > i]
    return sorted(pairs, key=lambda p: -p[2])[:n]
