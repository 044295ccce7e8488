"""The trial entry point the orchestrator calls on a worker: train one GAN once, report every epoch.

Contract (DESIGN.md): ``run_trial(params, *, model, data, epochs, seed, report) -> dict``.
Each model family is a module with ``make_trainer(params, data, seed) -> Trainer`` where a
Trainer has ``n_params`` (int), ``generator`` (keras.Model), ``train_epoch() -> dict`` of losses,
``evaluate() -> dict`` with at least ``"metric"`` (lower is better), and optionally
``selection_window`` (int: pick the best epoch among the last N only, as the 3DGAN paper does).
``check_data(model, data)`` is the optional pre-flight the driver calls before any cluster starts.
"""

from __future__ import annotations

import importlib
import math
import time
from collections.abc import Callable
from typing import Any

FAMILIES = {
    "hadronization": "models.hadronization",
    "dimuon": "models.dimuon",
    "calo3d": "models.calo3d",
    "calo_wgan": "models.calo_wgan",
}


# Families whose data files can be checked in the driver before a cluster starts (no Keras).
DATA_CHECKS = {
    "hadronization": "models.data.hadronization:check_data",
    "dimuon": "models.data.dimuon:check_data",
}


def check_data(model: str, data: dict) -> None:
    """Fail fast on a bad data file of ``model`` (file, tree, columns, branches); reads no events."""
    from models.data.cache import file_options

    data = dict(data or {})
    if model not in DATA_CHECKS or not data.get("path"):
        return
    module, name = DATA_CHECKS[model].split(":")
    getattr(importlib.import_module(module), name)(data["path"], **file_options(data))


def load_family(model: str):
    """The family module for a short name (see FAMILIES) or a dotted module path."""
    path = FAMILIES.get(model, model)
    try:
        module = importlib.import_module(path)
    except ModuleNotFoundError as err:
        raise ValueError(f"model {model!r}: no such family ({err}); use one of {sorted(FAMILIES)} "
                         "or a module path with make_trainer()") from None
    if not hasattr(module, "make_trainer"):
        raise ValueError(f"model {model!r}: module {path} has no make_trainer(params, data, seed)")
    return module


def _finite(values: dict) -> bool:
    return all(math.isfinite(float(v)) for v in values.values())


def run_trial(params: dict, *, model: str, data: dict, epochs: int, seed: int,
              report: Callable[[int, dict], None] | None = None,
              save_weights: str | None = None) -> dict[str, Any]:
    """Train one GAN of family ``model`` once; return its best-epoch metric (lower is better).

    A diverging run (NaN/inf loss or metric) stops early and returns ``status="failed"`` with
    the reason instead of raising, so the orchestrator records it and the worker lives on.
    """
    import keras

    start = time.perf_counter()
    keras.utils.set_random_seed(int(seed) % 2**32)
    trainer = load_family(model).make_trainer(dict(params), dict(data or {}), int(seed))
    window = getattr(trainer, "selection_window", None) or epochs
    best: dict[str, Any] = {"metric": math.inf, "best_epoch": -1}
    best_weights = None
    for epoch in range(int(epochs)):
        losses = trainer.train_epoch()
        scores = trainer.evaluate() if _finite(losses) else {"metric": math.nan}
        if not (_finite(losses) and _finite({"metric": scores["metric"]})):
            return {"status": "failed", "metric": math.nan, "best_epoch": best["best_epoch"],
                    "n_params": int(trainer.n_params), "seconds": time.perf_counter() - start,
                    "error": f"diverged at epoch {epoch}: losses={losses}, metric={scores['metric']}"}
        if report is not None:
            report(epoch, {**{k: float(v) for k, v in scores.items()},
                           **{f"loss_{k}": float(v) for k, v in losses.items()}})
        eligible = epoch >= int(epochs) - window
        if eligible and scores["metric"] < best["metric"]:
            best = {**{k: float(v) for k, v in scores.items()}, "best_epoch": epoch}
            if save_weights:
                best_weights = trainer.generator.get_weights()
    if save_weights and best_weights is not None:
        trainer.generator.set_weights(best_weights)
        trainer.generator.save_weights(save_weights)
    return {**best, "status": "done", "n_params": int(trainer.n_params),
            "seconds": time.perf_counter() - start}
