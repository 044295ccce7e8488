"""SearchSpace: named parameters with a unit-cube encoding, focus and JSON round trips."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from orchestrator.space.params import Parameter, SpaceError, _fail
from orchestrator.space.parse import parse_parameter

__all__ = ["SearchSpace"]


class SearchSpace:
    """Named parameters with a unit-cube encoding; finite when every parameter is discrete."""

    def __init__(self, params: Mapping[str, Any]):
        if not params:
            raise SpaceError("search space: at least one parameter is needed")
        self.params: dict[str, Parameter] = {str(n): parse_parameter(str(n), p) for n, p in params.items()}

    @property
    def names(self) -> list[str]:
        return list(self.params)

    @property
    def dim(self) -> int:
        return len(self.params)

    def __len__(self) -> int:
        return self.dim

    def __repr__(self) -> str:
        return f"SearchSpace({self.to_dict()})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SearchSpace) and self.to_dict() == other.to_dict()

    @property
    def is_finite(self) -> bool:
        return all(p.n_levels is not None for p in self.params.values())

    @property
    def size(self) -> int | float:
        """How many distinct points the space holds (inf if any parameter is continuous)."""
        if not self.is_finite:
            return math.inf
        return math.prod(p.n_levels for p in self.params.values())

    @property
    def steps(self) -> np.ndarray:
        """Unit-cube distance between neighbouring levels per dimension (0 for continuous)."""
        return np.array([1.0 / (p.n_levels - 1) if p.n_levels and p.n_levels > 1 and p.kind != "categorical"
                         else (1.0 / p.n_levels if p.n_levels else 0.0) for p in self.params.values()])

    def validate(self, point: Mapping[str, Any]) -> None:
        """Raise SpaceError unless the point has every parameter with an allowed value."""
        missing = [n for n in self.names if n not in point]
        if missing:
            raise SpaceError(f"point {dict(point)}: missing parameter(s) {missing}")
        for n, p in self.params.items():
            if not p.contains(point[n]):
                raise SpaceError(f"parameter '{n}': value {point[n]!r} is outside {p.to_dict()}")

    def encode(self, point: Mapping[str, Any]) -> np.ndarray:
        return np.array([p.encode(point[n]) for n, p in self.params.items()], dtype=float)

    def decode(self, u: np.ndarray) -> dict:
        return {n: p.decode(x) for (n, p), x in zip(self.params.items(), np.asarray(u, float), strict=True)}

    def snap(self, u: np.ndarray) -> np.ndarray:
        """Move unit-cube rows onto the nearest representable points."""
        u = np.atleast_2d(u)
        return np.array([self.encode(self.decode(row)) for row in u])

    def key(self, point: Mapping[str, Any]) -> tuple:
        """A hashable identity of a point: level indices on lattices, values elsewhere."""
        return tuple(p.level(point[n]) for n, p in self.params.items())

    def to_row(self, point: Mapping[str, Any]) -> np.ndarray:
        return np.array([p.to_row(point[n]) for n, p in self.params.items()], dtype=float)

    def from_row(self, row: np.ndarray) -> dict:
        return {n: p.from_row(x) for (n, p), x in zip(self.params.items(), row, strict=True)}

    def format_point(self, point: Mapping[str, Any]) -> str:
        """``name=value, ...`` with each value as ``Parameter.format_value`` shows it."""
        return ", ".join(f"{n}={p.format_value(point[n])}" for n, p in self.params.items()
                         if n in point)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """n uniform unit-cube points, snapped onto the space."""
        return self.snap(rng.random((n, self.dim)))

    def focus(self, center: Mapping[str, Any], eps: float | Mapping[str, float]) -> SearchSpace:
        """The sub-space [center +- eps] (unit-cube units, per parameter if a mapping) within this space."""
        self.validate(center)
        widths = eps if isinstance(eps, Mapping) else {n: eps for n in self.names}
        for n, e in widths.items():
            if n not in self.params:
                raise SpaceError(f"focus: unknown parameter '{n}'; the space has {self.names}")
            if not 0 <= float(e):
                raise _fail(n, "eps >= 0", f"eps={e}")
        out = {}
        for n, p in self.params.items():
            sub = p.focus(center[n], float(widths.get(n, 0.0)))
            sub.name = n
            out[n] = sub
        return SearchSpace(out)

    def to_dict(self) -> dict:
        return {n: p.to_dict() for n, p in self.params.items()}

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> SearchSpace:
        return cls(spec)

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> SearchSpace:
        return cls(json.loads(text))
