"""Gaussian-process surrogate with expected improvement; per-point trial noise; fantasised batches."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.linalg import cho_solve, cholesky, solve_triangular
from scipy.optimize import minimize
from scipy.stats import norm
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Kernel, Matern, WhiteKernel

from orchestrator.optimizers.base import Optimizer

__all__ = ["GPSearch"]

_LIARS = {"min": np.min, "mean": np.mean, "max": np.max, "believer": None}
_NOISE_FLOOR = 1e-6      # added to every point's noise variance (normalised units)
_HYPER_POINTS = 150      # hyperparameters are fitted on at most this many evaluated points
_RESTART_POINTS = 100    # random extra optimiser starts only on fits this small
_MAX_ITER = 100          # L-BFGS-B iterations per hyperparameter fit
_REFIT_GROWTH = 0.1      # refit hyperparameters once the history grew by 10 % since the last fit


class GPSearch(Optimizer):
    """Bayesian optimisation in the manner of scikit-optimize's ``gp_minimize``, on the unit cube.

    Kernel Constant x Matern(nu=2.5, one length scale per dimension) + White, normalised targets.
    Each point's trial variance is its own noise (heteroscedastic): ``std**2 / trials`` (the
    standard error squared; with ``trials`` unset the told std is taken as the standard error),
    plus a small floor; the White term takes the noise the trials do not explain.
    Hyperparameters are fitted by marginal likelihood times a prior on the length scales
    (``prior``: ``gamma``, Gamma(3, 6) on each unit-cube scale, the default; ``lognormal``;
    None: plain maximum likelihood, which on few noisy points puts scales on their bounds) on at most 150 points (starts: the
    default kernel, the last fit, and ``n_restarts`` random ones while <= 100 points; <= 100
    L-BFGS-B iterations each), and refitted only once the history has grown by 10 %. Each ask factorises the GP once; expected improvement (``xi``) over the posterior
    mean's best at evaluated points is maximised over ``n_candidates`` rows (default 300 d,
    at least 1000): a ``local`` share (half) Gaussian perturbations of the best point, each row
    at one of the ``sigma`` scales (0.2, 0.1, 0.05, 0.02, at least one step), the rest uniform,
    all snapped and unvisited. The initial design is ``n_initial`` points (default 2(d+1), as
    DYCORS); the GP models only once all of it is told, so a batch's first asks beyond the
    design are random points, not EI on a handful of told ones. Pending points and the batch's
    earlier picks are fantasised (``liar``) by exact rank-one updates of the posterior, without
    refitting: ``believer`` (the default, kriging believer) at the data's posterior mean there,
    so only the variance shrinks; ``min`` at EI's target, the best posterior mean (many pending
    points then all look like optima: gp stalled with 31 pending); ``mean`` or ``max`` of the
    observed means. Past ``max_fit`` evaluated points the GP uses
    the 70 % nearest the best point plus a random sample of the rest; of more than
    ``max_fit / 2`` pending points the nearest to the best are fantasised (all stay excluded).
    """

    name = "gp"
    defaults = {"n_initial": None, "n_candidates": None, "liar": "believer", "xi": 0.01, "n_restarts": 2,
                "trials": None, "max_fit": 1000, "prior": "gamma", "local": 0.5,
                "sigma": (0.2, 0.1, 0.05, 0.02)}

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._kernel_fitted: Kernel | None = None
        self._fitted_at = 0

    def _check_options(self) -> None:
        super()._check_options()
        o = self.options
        if o["prior"] not in _PRIORS:
            raise ValueError(f"option prior: must be one of {sorted(_PRIORS, key=str)}, got {o['prior']!r}")
        if o["liar"] not in _LIARS:
            raise ValueError(f"option liar: must be one of {sorted(_LIARS)}, got {o['liar']!r}")
        for opt, low in (("n_candidates", 1), ("n_restarts", 0), ("trials", 1), ("max_fit", 20)):
            if opt in ("n_candidates", "trials") and o[opt] is None:
                continue
            if isinstance(o[opt], bool) or not isinstance(o[opt], int) or o[opt] < low:
                raise ValueError(f"option {opt}: `{opt} >= {low}` (an int) must hold, got {o[opt]!r}")
        if not 0.0 <= float(o["local"]) <= 1.0:
            raise ValueError(f"option local: `0 <= local <= 1` must hold, got {o['local']!r}")
        scales = o["sigma"] if isinstance(o["sigma"], (list, tuple)) else [o["sigma"]]
        if not scales or not all(isinstance(v, (int, float)) and 0 < v <= 1 for v in scales):
            raise ValueError(f"option sigma: perturbation scales in (0, 1] (a number or a list), got {o['sigma']!r}")
        if not float(o["xi"]) >= 0:
            raise ValueError(f"option xi: `xi >= 0` must hold, got {o['xi']!r}")

    def _ready(self) -> bool:
        """The GP models once its whole design is told (until then a batch is filled at random)."""
        return self.n_evaluated >= max(2, int(self.options["n_initial"]))

    # ----- model -----------------------------------------------------------------------------

    def _kernel(self) -> Kernel:
        """Constant x anisotropic Matern 5/2 + white noise (targets are normalised)."""
        return (ConstantKernel(1.0, (1e-2, 1e3))
                * Matern(length_scale=np.ones(self.dim), length_scale_bounds=(1e-2, 1e2), nu=2.5)
                + WhiteKernel(1e-2, (1e-6, 1.0)))

    def _noise(self, rows: np.ndarray, scale: float) -> np.ndarray:
        """Per-point noise variance in normalised units: (std / scale)**2 / trials + floor."""
        trials = self.options["trials"] or 1
        return (np.asarray(self._std)[rows] / scale) ** 2 / trials + _NOISE_FLOOR

    def _hyperparameters(self) -> Kernel:
        """The fitted kernel, refitted when the history has grown by _REFIT_GROWTH since the last fit.

        Each refit starts from the default kernel (warm starts alone stall in a poor local
        optimum of the likelihood) and from the last fit, keeping the better; small fits add
        ``n_restarts`` random starts.
        """
        n = self.n_evaluated
        if self._kernel_fitted is not None and n < (1 + _REFIT_GROWTH) * self._fitted_at:
            return self._kernel_fitted
        rows = self._fit_indices(_HYPER_POINTS, self._X[int(np.argmin(self._y))])
        y = np.asarray(self._y)[rows]
        warm = [] if self._kernel_fitted is None else [self._kernel_fitted.theta]
        prior = _PRIORS[self.options["prior"]]
        penalty = None if prior is None else prior(self.dim)
        gp = GaussianProcessRegressor(
            kernel=self._kernel(), normalize_y=True, alpha=self._noise(rows, float(np.std(y)) or 1.0),
            optimizer=lambda f, theta, bounds: _lbfgs(f, theta, bounds, warm, penalty),
            n_restarts_optimizer=int(self.options["n_restarts"]) if len(rows) <= _RESTART_POINTS else 0,
            random_state=int(self.rng.integers(2**31)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gp.fit(np.asarray(self._X)[rows], y)
        self._kernel_fitted, self._fitted_at = gp.kernel_, n
        return gp.kernel_

    def predict(self, points: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and std of the latent objective at the points (evaluated data only)."""
        if self.n_evaluated < 2:
            raise RuntimeError(f"optimizer 'gp': need at least 2 evaluated points, have {self.n_evaluated}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            best = self._X[int(np.argmin(self._y))]
            post = _Posterior(self, self._fit_indices(int(self.options["max_fit"]), best),
                              np.empty((0, self.dim)), 0.0)
        mu, var, _ = post.at(np.array([self.space.encode(p) for p in points]))
        return post.mean + post.scale * mu, post.scale * np.sqrt(var)

    # ----- proposals -------------------------------------------------------------------------

    def _propose(self, n: int) -> list[np.ndarray]:
        best = self._X[int(np.argmin(self._y))]
        liar = self.options["liar"]
        lie = None if liar in ("min", "believer") else float(_LIARS[liar](np.asarray(self._y)))  # None: EI's target
        pending = np.array([r for _, r in self._pending.values()]).reshape(-1, self.dim)
        if len(pending) > int(self.options["max_fit"]) // 2:  # bounded: the nearest to the best
            near = np.argsort(np.linalg.norm(pending - best, axis=1))
            pending = pending[near[: int(self.options["max_fit"]) // 2]]
        try:
            post = _Posterior(self, self._fit_indices(int(self.options["max_fit"]), best), pending, lie,
                              believer=liar == "believer")
        except np.linalg.LinAlgError:  # numerically singular: the base falls back to random points
            return []
        cands = self._fresh(self._candidates(best))
        if len(cands) == 0:
            return []
        lie_n = post.lie
        mu, var, V = post.at(cands)  # V = L^-1 k(X, cands): one triangular solve for the batch
        xi = float(self.options["xi"]) / post.scale
        directions: list[np.ndarray] = []  # u_t(c) = cov_{t-1}(c, pick_t) / sqrt(s_t)
        chosen: list[np.ndarray] = []
        free = np.ones(len(cands), bool)
        for _ in range(n):
            if not free.any():
                break
            ei = _expected_improvement(mu, var, post.incumbent, xi)
            j = int(np.argmax(np.where(free, ei, -np.inf)))
            chosen.append(cands[j])
            free[j] = False
            # Fantasise the pick at the lie (fixed kernel): exact rank-one posterior update.
            cov = post.k(cands, cands[j:j + 1])[:, 0] - V.T @ V[:, j]
            for u in directions:
                cov -= u * u[j]
            mu, var, u = _condition(mu, var, cov, j, mu[j] if post.believer else lie_n, post.floor)
            directions.append(u)
        return chosen

    def _candidates(self, best: np.ndarray) -> np.ndarray:
        """Uniform rows plus Gaussian perturbations of the best row (a scale of ``sigma`` per row, >= one step)."""
        total = int(self.options["n_candidates"] or max(1000, 300 * self.dim))
        n_pert = int(round(float(self.options["local"]) * total))
        d = self.dim
        mask = self.rng.random((n_pert, d)) < min(1.0, 3.0 / d)
        none = ~mask.any(axis=1)
        mask[none, self.rng.integers(0, d, size=int(none.sum()))] = True
        scales = np.atleast_1d(np.asarray(self.options["sigma"], float))
        row_scale = scales[0] if len(scales) == 1 else self.rng.choice(scales, size=(n_pert, 1))
        sigma = np.maximum(row_scale, self.space.steps * (self._codec.levels > 1))
        pert = np.clip(best + mask * sigma * self.rng.standard_normal((n_pert, d)), 0.0, 1.0)
        return np.vstack([pert, self.rng.random((total - n_pert, d))])


class _Posterior:
    """The GP posterior of one ask: fixed kernel, evaluated rows with their noise, pending at a lie.

    ``lie`` None: the best posterior mean at the evaluated rows (``incumbent``, EI's target).
    """

    def __init__(self, opt: GPSearch, rows: np.ndarray, pending: np.ndarray, lie: float | None,
                 believer: bool = False):
        y = np.asarray(opt._y)[rows]
        self.mean, self.scale = float(np.mean(y)), float(np.std(y)) or 1.0
        kernel = opt._hyperparameters()
        self.k, white = kernel.k1, float(kernel.k2.noise_level)
        self.floor = white + _NOISE_FLOOR
        X_eval = np.asarray(opt._X)[rows]
        self.X = np.vstack([X_eval, pending])
        noise = np.concatenate([opt._noise(rows, self.scale) + white,
                                np.full(len(pending), self.floor)])
        y_n = (y - self.mean) / self.scale
        K = self.k(self.X)
        self.L = cholesky(K + np.diag(noise), lower=True)
        n = len(rows)  # the leading block of L factorises the evaluated points alone
        alpha_eval = cho_solve((self.L[:n, :n], True), y_n)
        self.incumbent = float(np.min(K[:n, :n] @ alpha_eval))  # best posterior mean, data only
        self.lie = self.incumbent if lie is None else (lie - self.mean) / self.scale
        self.believer = believer  # pending rows at the data's posterior mean (kriging believer)
        lies = K[n:, :n] @ alpha_eval if believer else np.full(len(pending), self.lie)
        self.alpha = cho_solve((self.L, True), np.concatenate([y_n, lies]))

    def at(self, U: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Normalised posterior mean, latent variance and L^-1 k(X, U) at unit-cube rows."""
        Ks = self.k(self.X, U)
        V = solve_triangular(self.L, Ks, lower=True)
        return Ks.T @ self.alpha, np.maximum(self.k.diag(U) - np.sum(V**2, axis=0), 1e-12), V


def _lognormal(d: int) -> Any:
    """Log length scales ~ N(sqrt(2) + log(d) / 2, 3) (BoTorch's default prior, Hvarfner et al. 2024)."""
    return _gaussian_log_prior(np.sqrt(2.0) + 0.5 * np.log(d), 3.0)


def _gaussian_log_prior(mu: float, var: float) -> Any:
    def penalty(theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Negative log prior of the length scales (theta[1:-1]) and its gradient."""
        grad = np.zeros_like(theta)
        z = theta[1:-1] - mu
        grad[1:-1] = z / var
        return float(0.5 * np.sum(z**2) / var), grad
    return penalty


def _gamma(d: int) -> Any:
    """Length scales ~ Gamma(3, 6) (BoTorch's earlier default prior; mode 1/3 of the cube)."""
    def penalty(theta: np.ndarray) -> tuple[float, np.ndarray]:
        grad = np.zeros_like(theta)
        ls = np.exp(theta[1:-1])
        grad[1:-1] = -(3.0 - 6.0 * ls)
        return float(-np.sum(3.0 * theta[1:-1] - 6.0 * ls)), grad
    return penalty


_PRIORS = {"lognormal": _lognormal, "gamma": _gamma, None: None}


def _lbfgs(objective: Any, theta: np.ndarray, bounds: np.ndarray, once: list[np.ndarray],
           penalty: Any = None) -> tuple[np.ndarray, float]:
    """sklearn's default hyperparameter optimiser with bounded iterations, from theta and ``once``.

    ``once`` holds extra starts (the last fit), used on the first call only, then emptied.
    ``penalty(theta)``: a negative log prior and its gradient, added (maximum a posteriori).
    """
    def target(t: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = objective(t)
        if penalty is None:
            return value, grad
        extra, extra_grad = penalty(t)
        return value + extra, grad + extra_grad

    best: tuple[np.ndarray, float] | None = None
    for start in [theta, *once]:
        result = minimize(target, start, method="L-BFGS-B", jac=True, bounds=bounds,
                          options={"maxiter": _MAX_ITER})
        if best is None or result.fun < best[1]:
            best = (result.x, float(result.fun))
    once.clear()
    return best


def _condition(mu: np.ndarray, var: np.ndarray, cov: np.ndarray, j: int, value: float,
               noise: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Posterior mean and variance after observing ``value`` (noise variance ``noise``) at row j.

    ``cov`` is the current posterior covariance of every row with row j; also returns
    ``u = cov / sqrt(var_j + noise)``, the update's direction.
    """
    u = cov / np.sqrt(var[j] + noise)
    mu = mu + u * (value - mu[j]) / np.sqrt(var[j] + noise)
    return mu, np.maximum(var - u**2, 1e-12), u


def _expected_improvement(mu: np.ndarray, var: np.ndarray, best: float, xi: float) -> np.ndarray:
    """EI (minimisation) of the latent function below ``best``."""
    sigma = np.sqrt(var)
    improve = best - mu - xi
    z = improve / sigma
    return improve * norm.cdf(z) + sigma * norm.pdf(z)
