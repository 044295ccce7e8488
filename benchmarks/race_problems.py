"""The optimiser race's suite: noisy test functions over HYPPO-shaped spaces (benchmarks only).

Eight problems, d = 2 to 10: lattices, reals (linear and log), categoricals; multimodal
(Hartmann, Levy, Styblinski-Tang, Rastrigin) and ill-conditioned (a rotated ellipsoid with
condition number 1e3, a GAN-shaped lattice whose learning rates interact); Gaussian noise with
sd 1 % to 10 % of the function's robust range. ``Problem.regret`` is the TRUE normalised regret.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from orchestrator.objectives import HARTMANN6_MIN, hartmann6
from orchestrator.space import SearchSpace

__all__ = ["PROBLEMS", "ST_MIN", "Problem", "branin", "ellipsoid", "gan_shaped", "hartmann3", "levy",
           "rastrigin", "styblinski_tang"]

_H3_A = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
_H3_P = 1e-4 * np.array([[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]])
_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def branin(x1: float, x2: float) -> float:
    """Branin-Hoo (minimum 0.397887 at three points)."""
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def hartmann3(x: np.ndarray) -> float:
    """Hartmann-3 on [0, 1]^3 (minimum -3.86278)."""
    return float(-(np.exp(-np.sum(_H3_A * (x - _H3_P) ** 2, axis=1)) @ _ALPHA))


def levy(x: np.ndarray) -> float:
    """Levy (minimum 0 at all ones)."""
    w = 1 + (x - 1) / 4
    body = np.sum((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(np.pi * w[:-1] + 1) ** 2))
    return float(np.sin(np.pi * w[0]) ** 2 + body + (w[-1] - 1) ** 2 * (1 + np.sin(2 * np.pi * w[-1]) ** 2))


def styblinski_tang(x: np.ndarray) -> float:
    """Styblinski-Tang (minimum -39.166 d at -2.9035 per coordinate)."""
    return float(0.5 * np.sum(x**4 - 16 * x**2 + 5 * x))


def rastrigin(x: np.ndarray) -> float:
    """Rastrigin (minimum 0 at the origin; a local minimum near every integer point)."""
    return float(10 * len(x) + np.sum(x**2 - 10 * np.cos(2 * np.pi * x)))


_ROT = np.linalg.qr(np.random.default_rng(7).standard_normal((5, 5)))[0]
_ELL_SCALE = 10.0 ** (3 * np.arange(5) / 4)  # eigenvalues 1 .. 1e3
_ELL_X0 = np.array([0.3, -0.2, 0.1, 0.4, -0.3])


def ellipsoid(x: np.ndarray) -> float:
    """A rotated ellipsoid, condition number 1e3 (minimum 0 at _ELL_X0)."""
    z = _ROT @ (x - _ELL_X0)
    return float(np.sum(_ELL_SCALE * z**2))


def gan_shaped(p: dict) -> float:
    """A GAN-shaped loss over the HYPPO broad-search table (minimum 0, on the lattice).

    The generator learning rate matters most and couples with the batch size (linear scaling
    rule); the discriminator's rate matters through its ratio to the generator's; the layer
    sizes through their ratio and size; the noise dimension least.
    """
    lr_eff = p["lr_gen"] * math.sqrt(256 / p["batch_size"])
    return (4 * math.log10(lr_eff / 2e-3) ** 2 + 2 * math.log10(p["lr_disc"] / (2 * p["lr_gen"])) ** 2
            + 0.5 * (math.log2(p["disc_layersize"] / p["gen_layersize"]) - 1) ** 2
            + 0.05 * math.log2(p["gen_layersize"] / 512) ** 2 + 0.05 * math.log2(p["batch_size"] / 256) ** 2
            + 0.02 * math.log(p["noise_dim"] / 20) ** 2)


@dataclass
class Problem:
    """A noisy test function over a HYPPO-like space; noise sd = noise * range."""

    space: dict
    f: Callable[[dict], float]
    f_min: float
    noise: float

    def __post_init__(self) -> None:
        self.space = SearchSpace(self.space)
        rng = np.random.default_rng(12345)
        values = [self.f(self.space.decode(u)) for u in rng.random((4000, self.space.dim))]
        self.range = float(np.percentile(values, 95) - self.f_min)  # robust range: 95th pct - f*

    def regret(self, point: dict) -> float:
        """(f(point) - f*) / range: 0 at the optimum."""
        return (self.f(point) - self.f_min) / self.range


_CAT3 = {"relu": 0.0, "tanh": 0.4, "elu": 0.8}
_LEVY_CAT = {"sgd": -5.0, "adam": 1.0, "rmsprop": 6.0}
_ST_CAT = {"relu": 0.0, "tanh": -2.9035, "elu": 2.0, "selu": 5.0}
ST_MIN = -39.16616570377142
_GAN_SPACE = {"noise_dim": {"lower": 1, "upper": 100, "scale": 1},
              "batch_size": {"lower": 1, "upper": 64, "scale": 32},
              "lr_gen": {"lower": 1, "upper": 200, "scale": 5e-5},
              "lr_disc": {"lower": 1, "upper": 200, "scale": 5e-5},
              "gen_layersize": {"lower": 1, "upper": 128, "scale": 8},
              "disc_layersize": {"lower": 1, "upper": 128, "scale": 8}}

PROBLEMS: dict[str, Callable[[], Problem]] = {
    "branin-2d-441": lambda: Problem(
        {"x1": {"lower": 0, "upper": 20, "scale": 0.05}, "x2": {"lower": 0, "upper": 20, "scale": 0.05}},
        lambda p: branin(-5 + 15 * p["x1"], 15 * p["x2"]), 0.397887, 0.05),
    "rastrigin-3d-lattice": lambda: Problem(
        {f"x{i}": {"lower": 0, "upper": 100, "scale": 0.1} for i in range(3)},
        lambda p: rastrigin(np.array([p[f"x{i}"] - 5.0 for i in range(3)])), 0.0, 0.03),
    "hartmann3-cat-4d-398k": lambda: Problem(
        {**{f"x{i}": {"lower": 0, "upper": 50, "scale": 0.02} for i in range(3)}, "act": list(_CAT3)},
        lambda p: hartmann3(np.array([p["x0"], p["x1"], p["x2"]])) + _CAT3[p["act"]], -3.86278, 0.02),
    "ellipsoid-5d-real": lambda: Problem(
        {f"x{i}": {"low": -1.0, "high": 1.0} for i in range(5)},
        lambda p: ellipsoid(np.array([p[f"x{i}"] for i in range(5)])), 0.0, 0.01),
    "hartmann6-6d-1.8M": lambda: Problem(
        {f"x{i}": {"lower": 0, "upper": 10, "scale": 0.1} for i in range(6)},
        lambda p: float(hartmann6(np.array([p[f"x{i}"] for i in range(6)]))[0]), HARTMANN6_MIN, 0.10),
    "gan-6d-lattice": lambda: Problem(_GAN_SPACE, gan_shaped, 0.0, 0.10),
    "levy-8d-mixed": lambda: Problem(
        {**{f"x{i}": {"lower": 0, "upper": 40, "scale": 0.5} for i in range(5)},
         "x5": {"low": -10.0, "high": 10.0}, "lr": {"low": 1e-4, "high": 1.0, "log": True},
         "opt": list(_LEVY_CAT)},
        lambda p: levy(np.array([p[f"x{i}"] - 10 for i in range(5)]
                                + [p["x5"], 5 * math.log10(p["lr"]) + 10, _LEVY_CAT[p["opt"]]])), 0.0, 0.05),
    "styblinski-10d-mixed": lambda: Problem(
        {**{f"x{i}": {"lower": 0, "upper": 30, "scale": 1} for i in range(8)},
         "x8": {"low": -5.0, "high": 5.0}, "act": list(_ST_CAT)},
        lambda p: styblinski_tang(np.array([-5 + p[f"x{i}"] / 3 for i in range(8)]
                                           + [p["x8"], _ST_CAT[p["act"]]])), 10 * ST_MIN, 0.03),
}
