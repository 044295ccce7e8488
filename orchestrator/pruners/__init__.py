"""Early-stopping rules for whole architectures (lower metric is better): none, asha, median.

    pruner = make_pruner({"rule": "asha", "min_epochs": 1, "reduction": 3}, epochs=27, trials=3)
    for decision in pruner.report(arch, trial, epoch, value):   # epoch counts from 0
        stop_all_trials_of(decision.arch)                      # and tell pruned_value(...)
    pruner.trial_ended(arch, trial)   # a trial failed or diverged: judge on the others
    pruner.finished(arch)             # every trial ended
    pruner.restore(curves, pruned)    # on resume, from the store

Pure Python + numpy + sortedcontainers: no Dask, no Keras; O(log n) per report at most.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.pruners.asha import ASHAPruner
from orchestrator.pruners.base import Decision, Pruner, RungStats
from orchestrator.pruners.median import MedianPruner
from orchestrator.pruners.none import NoPruner
from orchestrator.pruners.value import pruned_value

__all__ = ["PRUNERS", "ASHAPruner", "Decision", "MedianPruner", "NoPruner", "Pruner", "RungStats",
           "make_pruner", "pruned_value", "pruner_spec"]

PRUNERS: dict[str, type[Pruner]] = {cls.name: cls for cls in (NoPruner, ASHAPruner, MedianPruner)}


def pruner_spec(spec: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """The canonical mapping form of a ``pruning:`` value ({'rule': name, **options})."""
    if spec is None:
        return {"rule": "none"}
    if isinstance(spec, str):
        spec = {"rule": spec}
    if not isinstance(spec, Mapping):
        raise ValueError(f"pruning: {spec!r} is not a rule name or a mapping; "
                         "use none, asha, median or e.g. {rule: asha, min_epochs: 1, reduction: 3}")
    if "rule" not in spec:
        raise ValueError(f"pruning: the mapping {dict(spec)!r} has no 'rule'; "
                         "e.g. {rule: asha, min_epochs: 1, reduction: 3}")
    rule = str(spec["rule"]).lower()
    if rule not in PRUNERS:
        raise ValueError(f"pruning.rule: unknown rule {spec['rule']!r}; "
                         f"choose one of: {', '.join(sorted(PRUNERS))}")
    return {**dict(spec), "rule": rule}


def make_pruner(spec: str | Mapping[str, Any] | None, epochs: int, trials: int,
                window: int | None = None) -> Pruner:
    """Build the rule ``spec`` names for ``epochs`` epochs and ``trials`` trials per architecture.

    ``window``: the model's selection window (only the last ``window`` epochs are eligible for
    the metric, as the 3DGAN's); a ``window`` in ``spec`` wins over it.
    """
    options = pruner_spec(spec)
    cls = PRUNERS[options.pop("rule")]
    if window is not None and "window" in cls.defaults:
        options.setdefault("window", window)
    return cls(epochs, trials, **options)
