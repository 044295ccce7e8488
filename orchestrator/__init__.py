"""ganhpo's HPO engine: search spaces, ask/tell optimisers, the Dask driver and the results store.

Never imports Keras; trials are plain functions called by import path on Dask workers. ``run`` and
``Result`` (the driver, which imports Dask) load on first use.
"""

import importlib

from orchestrator.experiment import Experiment, ExperimentError, load_experiment
from orchestrator.optimizers import SpaceExhausted, make_optimizer
from orchestrator.space import Categorical, Integer, Lattice, Real, SearchSpace, SpaceError
from orchestrator.store import read_store

__all__ = ["Categorical", "Experiment", "ExperimentError", "Integer", "Lattice", "Real", "Result",
           "SearchSpace", "SpaceError", "SpaceExhausted", "load_experiment", "make_optimizer",
           "read_store", "run"]


def __getattr__(name: str):
    """``run`` and ``Result`` import the driver (and Dask) only when first asked for."""
    if name in ("Result", "run"):
        return getattr(importlib.import_module("orchestrator.driver"), name)
    raise AttributeError(f"module 'orchestrator' has no attribute {name!r}")
