"""Ask/tell optimisers (minimisation): random, lhs, rbf (DYCORS, variability-aware), gp (EI),
and the backends skopt (scikit-optimize) and optuna (TPE or GP; imported only when built).

    opt = make_optimizer("rbf", space, seed=0, variability=True)
    points = opt.ask(4)               # new points, also listed in opt.pending
    opt.tell(points, means, stds)     # trial mean and std per point; lower is better
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.optimizers.base import Optimizer, SpaceExhausted
from orchestrator.optimizers.gp import GPSearch
from orchestrator.optimizers.lhs import LatinHypercubeSearch
from orchestrator.optimizers.optuna_backend import OptunaSearch
from orchestrator.optimizers.random import RandomSearch
from orchestrator.optimizers.rbf import RBFSearch
from orchestrator.optimizers.skopt_backend import SkoptSearch
from orchestrator.space import SearchSpace

__all__ = ["OPTIMIZERS", "GPSearch", "LatinHypercubeSearch", "Optimizer", "OptunaSearch", "RBFSearch",
           "RandomSearch", "SkoptSearch", "SpaceExhausted", "make_optimizer"]

OPTIMIZERS: dict[str, type[Optimizer]] = {
    cls.name: cls for cls in (RandomSearch, LatinHypercubeSearch, RBFSearch, GPSearch, SkoptSearch,
                              OptunaSearch)
}


def make_optimizer(name: str, space: SearchSpace | Mapping[str, Any], seed: int | None = None,
                   **options: Any) -> Optimizer:
    """Build the optimiser called ``name`` over ``space``; options are checked by the optimiser."""
    cls = OPTIMIZERS.get(str(name).lower())
    if cls is None:
        raise ValueError(f"unknown optimizer {name!r}; choose one of: {', '.join(sorted(OPTIMIZERS))}")
    return cls(space, seed=seed, **options)
