"""The trial entry point the orchestrator calls on a worker: train one GAN once, report every epoch.

Contract (DESIGN.md): ``run_trial(params, *, model, data, epochs, seed, report) -> dict``.
Each model family is a module with ``make_trainer(params, data, seed) -> Trainer`` where a
Trainer has ``n_params`` (int), ``generator`` (keras.Model), ``train_epoch() -> dict`` of losses,
``evaluate() -> dict`` with at least ``"metric"`` (lower is better), and optionally
``selection_window`` (int: pick the best epoch among the last N only, as the 3DGAN paper does)
and ``n_test`` with ``evaluate_test() -> dict`` (the same scores on held-out test events; the
split is models.data.split's). ``check_data(model, data)`` and ``describe_data(model, data)`` are
the optional pre-flight check and the split's one-line description the driver uses before any
cluster starts (file metadata only).
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


def _split(model: str, data: dict):
    """(Split, what was read) for a family's data, from file metadata only; None for other models."""
    from models.data.counts import count_events
    from models.data.split import FAMILY_SPLITS, family_split

    if model not in FAMILY_SPLITS:
        return None
    if not data.get("path"):
        split = family_split(model, data)
        kind = "events" if model in DATA_CHECKS else "showers"
        empty = ", before dropping empty showers" if model == "calo3d" else ""
        return split, (f"synthetic {model} {kind} (seed {data.get('seed', 0)}): {split.events} "
                       f"generated{empty}")
    n, what = count_events(model, data)
    return family_split(model, data, n), f"{data['path']} ({what})"


def check_data(model: str, data: dict) -> None:
    """Fail fast on a bad data file of ``model`` (file, tree, columns, branches) or a bad split
    (a validation or test share over half the events, fewer training than held-out events);
    reads no events, only file metadata."""
    from models.data.cache import file_options

    data = dict(data or {})
    if model in DATA_CHECKS and data.get("path"):
        module, name = DATA_CHECKS[model].split(":")
        getattr(importlib.import_module(module), name)(data["path"], **file_options(data))
    _split(model, data)


def describe_data(model: str, data: dict) -> str | None:
    """One line: the file (or synthetic data), the events read and the train / validation / test
    counts, e.g. 'data: z.root (TTree 'events': 20000 entries): 16000 train / ...'; None for
    models this module does not know. Cheap: file metadata only."""
    planned = _split(model, dict(data or {}))
    if planned is None:
        return None
    split, source = planned
    return f"data: {source} -> {split.line()}"


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


def make_deterministic(seed: int) -> None:
    """Reproducible trials in a shared process: op determinism (TensorFlow: deterministic
    kernels, one thread per op) and a private source for Keras's unseeded initializer seeds.

    Keras draws the seed of every initializer created without one from Python's global
    ``random``; on a Dask worker the event-loop thread draws from it too (retry jitter, ...),
    so the weights a seeded trial starts from depended on timing.
    """
    import random

    import keras
    from keras.src.random import seed_generator

    if hasattr(seed_generator, "python_random"):
        seed_generator.python_random = random.Random(seed)

    if keras.config.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
        try:
            tf.config.threading.set_intra_op_parallelism_threads(1)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:  # already initialised in this worker: the first trial set it
            pass


def run_trial(params: dict, *, model: str, data: dict, epochs: int, seed: int,
              report: Callable[[int, dict], None] | None = None,
              save_weights: str | None = None, deterministic: bool = False) -> dict[str, Any]:
    """Train one GAN of family ``model`` once; return its best-epoch metric (lower is better).

    The validation events choose the best epoch; when the trainer holds test events
    (``n_test`` > 0, ``evaluate_test()``), the generator weights of that epoch (kept in memory at
    each improvement) are evaluated once on them: ``test_metric`` (the same metric) and
    ``test_<name>`` for the family's other scores. ``test: 0`` returns no ``test_metric``.
    A diverging run (NaN/inf loss or metric) stops there and keeps its best epoch before the
    divergence (the selection window then ends at the divergence): ``status="done"`` with
    ``diverged_at`` (the epoch that diverged), or ``status="failed"`` with the reason when no
    epoch before it is eligible. Nothing raises for divergence, so the worker lives on; with
    ``save_weights`` only a run that did not diverge saves its (best-epoch) weights.
    ``deterministic``: identical metrics for identical seeds, at a cost (docs/architecture.md).
    """
    import keras

    if deterministic:
        make_deterministic(int(seed))
    start = time.perf_counter()
    keras.utils.set_random_seed(int(seed) % 2**32)
    trainer = load_family(model).make_trainer(dict(params), dict(data or {}), int(seed))
    window = getattr(trainer, "selection_window", None) or epochs
    keep = bool(save_weights) or _has_test(trainer)
    history: list[dict[str, float]] = []
    kept = _Kept()
    for epoch in range(int(epochs)):
        losses = trainer.train_epoch()
        scores = trainer.evaluate() if _finite(losses) else {"metric": math.nan}
        if not (_finite(losses) and _finite({"metric": scores["metric"]})):
            out = _diverged(history, epoch, window, trainer.n_params, start,
                            f"diverged at epoch {epoch}: losses={losses}, metric={scores['metric']}")
            return {**out, **_test_scores(trainer, kept, out["best_epoch"])}
        history.append({k: float(v) for k, v in scores.items()})
        if report is not None:
            report(epoch, {**history[-1], **{f"loss_{k}": float(v) for k, v in losses.items()}})
        if keep and epoch >= int(epochs) - window and history[-1]["metric"] < kept.metric:
            kept = _Kept(history[-1]["metric"], epoch, trainer.generator.get_weights())
    best = _best_epoch(history, window)
    if best < 0:
        return {"status": "failed", "metric": math.nan, "best_epoch": -1, "error": "no epoch ran",
                "n_params": int(trainer.n_params), "seconds": time.perf_counter() - start}
    if save_weights and kept.weights is not None:
        trainer.generator.set_weights(kept.weights)
        trainer.generator.save_weights(save_weights)
    tested = _test_scores(trainer, kept, best)
    return {**history[best], "best_epoch": best, "status": "done", **tested,
            "n_params": int(trainer.n_params), "seconds": time.perf_counter() - start}


class _Kept:
    """The generator weights of the best eligible epoch so far (in memory)."""

    def __init__(self, metric: float = math.inf, epoch: int = -1, weights: list | None = None):
        self.metric, self.epoch, self.weights = metric, epoch, weights


def _has_test(trainer) -> bool:
    return int(getattr(trainer, "n_test", 0) or 0) > 0 and hasattr(trainer, "evaluate_test")


def _test_scores(trainer, kept: _Kept, best: int) -> dict[str, Any]:
    """``test_metric`` (and ``test_<score>``) of the kept weights of epoch ``best`` on the test events."""
    if not _has_test(trainer) or best < 0:
        return {}
    if kept.epoch != best or kept.weights is None:  # a divergence moved the window off the kept epoch
        return {"test_note": f"no test metric: the weights of epoch {best} were not kept"}
    trainer.generator.set_weights(kept.weights)
    scores = {k: float(v) for k, v in trainer.evaluate_test().items()}
    return {"test_metric": scores.pop("metric"), **{f"test_{k}": v for k, v in scores.items()},
            "n_test": int(trainer.n_test)}


def _best_epoch(history: list[dict[str, float]], window: int) -> int:
    """The epoch with the lowest metric among the last ``window`` of ``history`` (-1 if empty)."""
    first = max(0, len(history) - int(window))
    if first >= len(history):
        return -1
    return min(range(first, len(history)), key=lambda e: history[e]["metric"])


def _diverged(history: list[dict[str, float]], epoch: int, window: int, n_params: int,
              start: float, reason: str) -> dict[str, Any]:
    """The result of a run that diverged at ``epoch``: its best epoch before, or a failure."""
    out = {"n_params": int(n_params), "seconds": time.perf_counter() - start, "diverged_at": epoch}
    best = _best_epoch(history, window)
    if best < 0:
        return {**out, "status": "failed", "metric": math.nan, "best_epoch": -1, "error": reason}
    return {**out, **history[best], "best_epoch": best, "status": "done", "note": reason}
