"""Search spaces: HYPPO lattices, integers, reals (linear or log), categoricals; unit-cube encoding.

``params`` holds the parameter kinds, ``parse`` reads them from YAML-shaped specs, ``searchspace``
the named space. Light: numpy only (no Dask, no Keras).
"""

from orchestrator.space.params import Categorical, Integer, Lattice, Parameter, Real, SpaceError
from orchestrator.space.parse import parse_parameter
from orchestrator.space.searchspace import SearchSpace

__all__ = [
    "Categorical",
    "Integer",
    "Lattice",
    "Parameter",
    "Real",
    "SearchSpace",
    "SpaceError",
    "parse_parameter",
]
