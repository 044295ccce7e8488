"""Cheap stochastic objectives with the trial contract, to run and test the whole loop in seconds.

``noisy_hartmann`` is the 6-D Hartmann function on [0, 1]^6 (shifted so its minimum is 0),
with heteroscedastic training noise and a fake per-epoch learning curve, so a "trial" behaves
like a short, stochastic GAN training whose best epoch is reported.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping

import numpy as np

HARTMANN6_MIN = -3.32236801141551

_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
               [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                      [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])
_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def hartmann6(x: np.ndarray) -> np.ndarray:
    """The 6-D Hartmann function (global minimum -3.32237 at a known point in [0, 1]^6)."""
    x = np.atleast_2d(np.asarray(x, float))
    inner = np.einsum("ij,nij->ni", _A, (x[:, None, :] - _P[None]) ** 2)
    return -(np.exp(-inner) @ _ALPHA)


def _coordinates(params: Mapping[str, float]) -> np.ndarray:
    names = sorted(k for k in params if k.startswith("x"))
    if len(names) != 6:
        raise ValueError(f"noisy_hartmann: params need x0..x5 in [0, 1], got {sorted(params)}")
    return np.array([float(params[n]) for n in names])


def noisy_hartmann(params: Mapping[str, float], *, model: str = "hartmann6", data: Mapping | None = None,
                   epochs: int = 10, seed: int = 0,
                   report: Callable[[int, dict], None] | None = None) -> dict:
    """Trial-contract objective: shifted Hartmann-6 plus seed-dependent noise, curve over epochs.

    ``data`` options: ``noise`` (std of the trial-to-trial noise at the worst point, default 0.1),
    ``epoch_seconds`` (sleep per epoch, default 0), ``slow_param``/``slow_factor`` (epochs of
    points with that parameter above 0.5 sleep ``slow_factor`` times longer: uneven durations),
    ``hang`` (points with x0 above it sleep forever without reporting: a hung trial, for
    ``trial_timeout``), ``exit`` (points with x0 above it end their worker process with
    ``os._exit(1)``: a trial that kills its worker, for ``retries``).
    """
    data = dict(data or {})
    x = _coordinates(params)
    if data.get("hang") is not None and x[0] > float(data["hang"]):
        while True:
            time.sleep(60)
    if data.get("exit") is not None and x[0] > float(data["exit"]):
        time.sleep(0.5)  # its start report reaches the driver first, as a trial's mid-run death
        os._exit(1)
    value = float(hartmann6(x)[0] - HARTMANN6_MIN)
    rng = np.random.default_rng(int(seed))
    noise = float(data.get("noise", 0.1)) * (0.2 + x[0])  # heteroscedastic: spread grows with x0
    final = max(0.0, value + noise * rng.standard_normal())
    pause = float(data.get("epoch_seconds", 0.0))
    slow = data.get("slow_param")
    if slow is not None and float(params[slow]) > 0.5:
        pause *= float(data.get("slow_factor", 10.0))
    start = time.perf_counter()
    best, best_epoch = math.inf, -1
    for epoch in range(int(epochs)):
        if pause:
            time.sleep(pause)
        progress = math.exp(-3.0 * (epoch + 1) / max(1, int(epochs)))
        metric = final + 3.0 * progress + 0.02 * abs(rng.standard_normal()) * progress
        if report is not None:
            report(epoch, {"metric": metric})
        if metric < best:
            best, best_epoch = metric, epoch
    return {"metric": float(best), "best_epoch": best_epoch, "n_params": 6,
            "seconds": time.perf_counter() - start, "status": "done"}


def bowl_curve(params: Mapping[str, float], *, model: str = "bowl", data: Mapping | None = None,
               epochs: int = 10, seed: int = 0,
               report: Callable[[int, dict], None] | None = None) -> dict:
    """Trial-contract objective with a real learning curve whose ranking shows early (pruning tests).

    Final value ``(x0 - 0.25)^2 + (x1 - 0.25)^2`` (minimum 0) plus trial noise (``data["noise"]``,
    default 0.01); epoch e reports ``final + gap * exp(-3 (e + 1) / epochs)`` plus jitter, where
    ``gap = 0.5 + final``: bad points are bad from the first epoch. ``epoch_seconds`` (default 0)
    is slept per epoch.
    """
    data = dict(data or {})
    x0, x1 = float(params["x0"]), float(params["x1"])
    rng = np.random.default_rng(int(seed))
    final = (x0 - 0.25) ** 2 + (x1 - 0.25) ** 2 + float(data.get("noise", 0.01)) * abs(rng.standard_normal())
    pause = float(data.get("epoch_seconds", 0.0))
    best, best_epoch = math.inf, -1
    for epoch in range(int(epochs)):
        if pause:
            time.sleep(pause)
        progress = math.exp(-3.0 * (epoch + 1) / max(1, int(epochs)))
        metric = final + (0.5 + final) * progress * (1 + 0.05 * rng.standard_normal())
        if report is not None:
            report(epoch, {"metric": metric})
        if metric < best:
            best, best_epoch = metric, epoch
    return {"metric": float(best), "best_epoch": best_epoch, "n_params": 2, "status": "done"}
