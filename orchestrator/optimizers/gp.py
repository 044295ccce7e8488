"""Gaussian-process surrogate with expected improvement; constant liar for batches and pending."""

from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import norm
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Kernel, Matern, WhiteKernel

from orchestrator.optimizers.base import Optimizer

__all__ = ["GPSearch"]

_LIARS = {"min": np.min, "mean": np.mean, "max": np.max}


class GPSearch(Optimizer):
    """Bayesian optimisation as in scikit-optimize's ``gp_minimize``, on the unit cube.

    Kernel Constant x Matern(nu=2.5, one length scale per dimension) + White, normalised
    targets, hyperparameters fitted by marginal likelihood (``n_restarts`` extra starts).
    Expected improvement (``xi``) is maximised over ``n_candidates`` rows: half uniform, half
    Gaussian perturbations of the best point, all snapped and unvisited. Pending points and
    earlier picks of the same batch enter the fit with a lie, the min, mean or max of the
    observed means (``liar``; ``min`` is skopt's ``cl_min``).
    """

    name = "gp"
    defaults = {"n_initial": 10, "n_candidates": 2000, "liar": "min", "xi": 0.01, "n_restarts": 2}

    def _check_options(self) -> None:
        super()._check_options()
        o = self.options
        if o["liar"] not in _LIARS:
            raise ValueError(f"option liar: must be one of {sorted(_LIARS)}, got {o['liar']!r}")
        for opt, low in (("n_candidates", 1), ("n_restarts", 0)):
            if isinstance(o[opt], bool) or not isinstance(o[opt], int) or o[opt] < low:
                raise ValueError(f"option {opt}: `{opt} >= {low}` (an int) must hold, got {o[opt]!r}")
        if not float(o["xi"]) >= 0:
            raise ValueError(f"option xi: `xi >= 0` must hold, got {o['xi']!r}")

    def _ready(self) -> bool:
        return self.n_evaluated >= 2

    def _kernel(self) -> Kernel:
        """Constant x anisotropic Matern 5/2 + white noise (targets are normalised)."""
        return (ConstantKernel(1.0, (1e-2, 1e3))
                * Matern(length_scale=np.ones(self.dim), length_scale_bounds=(1e-2, 1e2), nu=2.5)
                + WhiteKernel(1e-2, (1e-6, 1.0)))

    def _fit(self, X: np.ndarray, y: np.ndarray, kernel: Kernel | None) -> GaussianProcessRegressor:
        """Fit a GP; with a given (fitted) kernel its hyperparameters are kept fixed."""
        gp = GaussianProcessRegressor(
            kernel=kernel if kernel is not None else self._kernel(), normalize_y=True,
            optimizer=None if kernel is not None else "fmin_l_bfgs_b",
            n_restarts_optimizer=int(self.options["n_restarts"]),
            random_state=int(self.rng.integers(2**31)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gp.fit(X, y)
        return gp

    def _propose(self, n: int) -> list[np.ndarray]:
        y_obs = np.array(self._y)
        lie = float(_LIARS[self.options["liar"]](y_obs))
        X = self._known_rows()
        y = np.concatenate([y_obs, np.full(len(X) - len(y_obs), lie)])
        best = self._X[int(np.argmin(y_obs))]
        kernel = None
        chosen: list[np.ndarray] = []
        taken: set[tuple] = set()
        for _ in range(n):
            gp = self._fit(X, y, kernel)
            kernel = gp.kernel_
            cands = self._fresh(self._candidates(best), taken)
            if len(cands) == 0:
                break
            pick = cands[int(np.argmax(self._expected_improvement(gp, cands, y)))]
            chosen.append(pick)
            taken.add(self._codec.keys(pick)[0])
            X, y = np.vstack([X, pick]), np.append(y, lie)
        return chosen

    def _expected_improvement(self, gp: GaussianProcessRegressor, U: np.ndarray,
                              y: np.ndarray) -> np.ndarray:
        """EI of the latent function (white noise removed) below the best target in ``y``."""
        mu, sd = gp.predict(U, return_std=True)
        scale = float(np.std(y)) or 1.0
        noise = float(gp.kernel_.k2.noise_level) * scale**2
        sigma = np.sqrt(np.maximum(sd**2 - noise, 1e-12))
        improve = float(np.min(y)) - mu - float(self.options["xi"])
        z = improve / sigma
        return improve * norm.cdf(z) + sigma * norm.pdf(z)

    def _candidates(self, best: np.ndarray) -> np.ndarray:
        """Uniform rows plus Gaussian perturbations of the best row (sigma >= one step)."""
        total = int(self.options["n_candidates"])
        n_pert = total // 2
        d = self.dim
        mask = self.rng.random((n_pert, d)) < min(1.0, 3.0 / d)
        none = ~mask.any(axis=1)
        mask[none, self.rng.integers(0, d, size=int(none.sum()))] = True
        sigma = np.maximum(0.1, self.space.steps * (self._codec.levels > 1))
        pert = np.clip(best + mask * sigma * self.rng.standard_normal((n_pert, d)), 0.0, 1.0)
        return np.vstack([pert, self.rng.random((total - n_pert, d))])
