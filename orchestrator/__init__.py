"""ganhpo's HPO engine: search spaces, ask/tell optimisers, the Dask driver and the results store.

Never imports Keras; trials are plain functions called by import path on Dask workers.
"""

__version__ = "0.1.0"  # the package version (pyproject.toml reads it from here)

from orchestrator.driver import Result, run
from orchestrator.experiment import Experiment, ExperimentError, load_experiment
from orchestrator.optimizers import SpaceExhausted, make_optimizer
from orchestrator.space import Categorical, Integer, Lattice, Real, SearchSpace, SpaceError
from orchestrator.store import read_store

__all__ = ["Categorical", "Experiment", "ExperimentError", "Integer", "Lattice", "Real", "Result",
           "SearchSpace", "SpaceError", "SpaceExhausted", "load_experiment", "make_optimizer",
           "read_store", "run"]
