"""ganhpo's HPO engine: search spaces, ask/tell optimisers, the Dask search and the results store.

Never imports Keras; trials are plain functions called by import path on Dask workers.
``run`` and ``Result`` (``orchestrator.search``, which needs Dask) load on first use, so that
``import orchestrator.space`` or ``orchestrator.optimizers`` stays light.
"""

__version__ = "0.1.0"  # the package version (pyproject.toml reads it from here)

import orchestrator._entry  # noqa: F401, I001 - first: a Ctrl-C during the imports below is one line
from typing import Any

from orchestrator.experiment import Experiment, ExperimentError, load_experiment
from orchestrator.optimizers import SpaceExhausted, make_optimizer
from orchestrator.space import Categorical, Integer, Lattice, Real, SearchSpace, SpaceError
from orchestrator.store import read_store

__all__ = ["Categorical", "Experiment", "ExperimentError", "Integer", "Lattice", "Real", "Result",
           "SearchSpace", "SpaceError", "SpaceExhausted", "load_experiment", "make_optimizer",
           "read_store", "run"]

_LAZY = ("Result", "run")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import orchestrator.search

        return getattr(orchestrator.search, name)
    raise AttributeError(f"module 'orchestrator' has no attribute {name!r}")
