"""ganhpo's HPO engine: search spaces, ask/tell optimisers, the Dask driver and the results store.

Never imports Keras; trials are plain functions called by import path on Dask workers.
"""

from orchestrator.space import Categorical, Integer, Lattice, Real, SearchSpace, SpaceError

__all__ = ["Categorical", "Integer", "Lattice", "Real", "SearchSpace", "SpaceError"]
