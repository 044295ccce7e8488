"""One ensemble member: retrain an architecture with a new seed, keep its best epoch, generate.

Called on a worker by the orchestrator (``orchestrator/analysis/ensemble.py``) by import path::

    train_member(params, *, model, data, epochs, seed, out_dir) -> {
        "generated": (N, C) array, "truth": (N, C) array (physical units, validation events),
        "columns": [C names], "weights": path of the saved generator, "metric": best-epoch metric,
        "best_epoch": int, "seed": int, "test_metric": that epoch's metric on the test events
        (None without a test split)}
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from models.trial import load_family

# Output variable names per family (others: x0, x1, ...).
COLUMNS = {
    "hadronization": ["phi", "theta"],
    "dimuon": ["px1", "py1", "pz1", "E1", "px2", "py2", "pz2", "E2"],
    "dimuon_rotated": ["px1", "py1", "pz1", "E1", "px2", "pz2", "E2"],
}


def _output_scaler(trainer: Any):
    """The scaler mapping the generator's output back to physical units (None: already physical)."""
    if getattr(trainer, "scaler", None) is not None:
        return trainer.scaler
    scalers = getattr(trainer, "scalers", None)
    return scalers[-1] if scalers else None


def _columns(model: str, data: dict, n: int) -> list[str]:
    key = "dimuon_rotated" if model == "dimuon" and data.get("rotated") else model
    names = COLUMNS.get(key, [])
    return names if len(names) == n else [f"x{i}" for i in range(n)]


def train_member(params: dict, *, model: str, data: dict, epochs: int, seed: int,
                 out_dir: str) -> dict[str, Any]:
    """Train one GAN of family ``model`` (event-level families), save its best generator, generate."""
    import keras

    keras.utils.set_random_seed(int(seed) % 2**32)
    trainer = load_family(model).make_trainer(dict(params), dict(data or {}), int(seed))
    if not hasattr(trainer, "generate_validation"):
        raise ValueError(f"model {model!r}: its trainer has no generate_validation(); ensembles "
                         "support the event-level families (hadronization, dimuon)")
    window = getattr(trainer, "selection_window", None) or epochs
    best_metric, best_epoch, best_weights = math.inf, -1, None
    for epoch in range(int(epochs)):
        trainer.train_epoch()
        metric = float(trainer.evaluate()["metric"])
        if epoch >= int(epochs) - window and math.isfinite(metric) and metric < best_metric:
            best_metric, best_epoch = metric, epoch
            best_weights = trainer.generator.get_weights()
    if best_weights is None:
        raise RuntimeError(f"ensemble member seed {seed}: no finite metric in {epochs} epochs")
    trainer.generator.set_weights(best_weights)
    has_test = int(getattr(trainer, "n_test", 0) or 0) > 0 and hasattr(trainer, "evaluate_test")
    test_metric = float(trainer.evaluate_test()["metric"]) if has_test else None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    weights = out / f"generator-seed{int(seed)}.weights.h5"
    trainer.generator.save_weights(str(weights))
    generated, truth = trainer.generate_validation(), trainer.val_x
    scaler = _output_scaler(trainer)
    if scaler is not None:
        generated, truth = scaler.inverse(generated), scaler.inverse(truth)
    generated, truth = np.asarray(generated, np.float64), np.asarray(truth, np.float64)
    return {"generated": generated, "truth": truth,
            "columns": _columns(model, dict(data or {}), truth.shape[1]), "weights": str(weights),
            "metric": best_metric, "best_epoch": best_epoch, "seed": int(seed),
            "test_metric": test_metric}
