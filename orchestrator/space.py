"""Search spaces: HYPPO lattices, integers, reals (linear or log), categoricals; unit-cube encoding."""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "Categorical",
    "Integer",
    "Lattice",
    "Parameter",
    "Real",
    "SearchSpace",
    "SpaceError",
]


class SpaceError(ValueError):
    """An invalid search-space definition or point; the message names the parameter and the rule."""


def _number(v: float, digits: int) -> str:
    """v to ``digits`` significant figures, without trailing zeros ("-" when not a number)."""
    return format(v, f".{digits}g") if math.isfinite(v) else "-"


def _fail(name: str, rule: str, got: str) -> SpaceError:
    return SpaceError(f"parameter '{name}': `{rule}` must hold, but got {got}")


class Parameter(ABC):
    """One dimension of a search space, mapped onto [0, 1]; subclasses encode, decode and describe."""

    kind: str = ""
    name: str = "?"

    @property
    def n_levels(self) -> int | None:
        """Number of distinct values, or None for a continuous parameter."""
        return None

    @abstractmethod
    def encode(self, value: Any) -> float:
        """The value's position in [0, 1]."""

    @abstractmethod
    def decode(self, u: float) -> Any:
        """The value at position ``u`` of [0, 1]."""

    def level(self, value: Any) -> int | float:
        """A hashable identity for a value: its level index on a finite grid, else the value."""
        return float(value)

    def to_row(self, value: Any) -> float:
        """The value as one float for the store (categoricals: their index)."""
        return float(value)

    def from_row(self, x: float) -> Any:
        return float(x)

    def format_value(self, value: Any) -> str:
        """The value for people: reals to 4 significant figures (lattices: see Lattice)."""
        return _number(float(value), 4)

    def focus(self, value: Any, eps: float) -> Parameter:
        """The sub-range [value - eps, value + eps] in unit-cube units, clipped to this range."""
        u = self.encode(value)
        return self._between(max(0.0, u - eps), min(1.0, u + eps))

    def _between(self, u_lo: float, u_hi: float) -> Parameter:
        """The sub-range between two unit-cube positions (ordered types; categoricals override focus)."""
        raise NotImplementedError(f"{type(self).__name__} has no sub-ranges")

    @abstractmethod
    def to_dict(self) -> dict:
        """The JSON-able description that ``parse_parameter`` reads back."""


@dataclass(eq=True)
class Lattice(Parameter):
    """HYPPO convention: an integer k in [lower, upper] times a scale; the value is k * scale."""

    lower: int
    upper: int
    scale: float = 1.0
    kind = "lattice"

    def __post_init__(self) -> None:
        for field in ("lower", "upper"):
            v = getattr(self, field)
            if not float(v).is_integer():
                raise _fail(self.name, f"{field} is an integer", f"{field}={v!r}")
            setattr(self, field, int(v))
        if self.lower > self.upper:
            raise _fail(self.name, "lower <= upper", f"(lower={self.lower}, upper={self.upper})")
        if not (isinstance(self.scale, (int, float)) and self.scale > 0):
            raise _fail(self.name, "scale > 0", f"scale={self.scale!r}")

    @property
    def n_levels(self) -> int:
        return self.upper - self.lower + 1

    def _k(self, value: Any) -> int:
        k = float(value) / self.scale
        if abs(k - round(k)) > 1e-6 * max(1.0, abs(k)):
            raise _fail(self.name, "value is a multiple of scale", f"value={value!r}, scale={self.scale}")
        return int(round(k))

    def _value(self, k: int) -> int | float:
        v = k * self.scale
        return int(round(v)) if float(self.scale).is_integer() else float(f"{v:.12g}")

    def encode(self, value: Any) -> float:
        if self.upper == self.lower:
            return 0.5
        return (self._k(value) - self.lower) / (self.upper - self.lower)

    def decode(self, u: float) -> int | float:
        k = self.lower + round(float(np.clip(u, 0.0, 1.0)) * (self.upper - self.lower))
        return self._value(int(k))

    def level(self, value: Any) -> int:
        return self._k(value) - self.lower

    def from_row(self, x: float) -> int | float:
        return self._value(self._k(x))

    def format_value(self, value: Any) -> str:
        """Enough significant figures to tell neighbouring levels apart (0.00155 vs 0.0016)."""
        v = float(value)
        if float(self.scale).is_integer() or not v or not math.isfinite(v):
            return str(int(round(v))) if math.isfinite(v) else "-"
        lead = math.floor(math.log10(self.scale))  # 5e-5: -5; a step's last digit sits here...
        places = next((d for d in range(-lead, 4 - lead)
                       if abs(round(self.scale, d) - self.scale) <= 1e-6 * self.scale), 1 - lead)
        return _number(v, max(1, math.floor(math.log10(abs(v))) + places + 1))  # ...or below

    def contains(self, value: Any) -> bool:
        try:
            return self.lower <= self._k(value) <= self.upper
        except SpaceError:
            return False

    def _between(self, u_lo: float, u_hi: float) -> Lattice:
        span = self.upper - self.lower
        lo = self.lower + math.ceil(u_lo * span - 1e-9)
        hi = self.lower + math.floor(u_hi * span + 1e-9)
        return self._with_bounds(lo, max(lo, hi))

    def _with_bounds(self, lower: int, upper: int) -> Lattice:
        return Lattice(lower, upper, self.scale)

    def to_dict(self) -> dict:
        return {"type": self.kind, "lower": self.lower, "upper": self.upper, "scale": self.scale}


class Integer(Lattice):
    """An integer in [low, high] (a lattice with scale 1)."""

    def __init__(self, low: int, high: int):
        super().__init__(low, high, 1)

    kind = "int"

    @property
    def low(self) -> int:
        return self.lower

    @property
    def high(self) -> int:
        return self.upper

    def _with_bounds(self, lower: int, upper: int) -> Integer:
        return Integer(lower, upper)

    def to_dict(self) -> dict:
        return {"type": self.kind, "low": self.lower, "high": self.upper}


@dataclass(eq=True)
class Real(Parameter):
    """A continuous value in [low, high], uniform or log-uniform."""

    low: float
    high: float
    log: bool = False
    kind = "real"

    def __post_init__(self) -> None:
        self.low, self.high = float(self.low), float(self.high)
        if not self.low < self.high:
            raise _fail(self.name, "low < high", f"(low={self.low}, high={self.high})")
        if self.log and self.low <= 0:
            raise _fail(self.name, "low > 0 for a log scale", f"low={self.low}")

    def _t(self, v: float) -> float:
        return math.log(v) if self.log else v

    def encode(self, value: Any) -> float:
        return (self._t(float(value)) - self._t(self.low)) / (self._t(self.high) - self._t(self.low))

    def decode(self, u: float) -> float:
        t = self._t(self.low) + float(np.clip(u, 0.0, 1.0)) * (self._t(self.high) - self._t(self.low))
        return float(min(self.high, max(self.low, math.exp(t) if self.log else t)))

    def contains(self, value: Any) -> bool:
        return self.low <= float(value) <= self.high

    def _between(self, u_lo: float, u_hi: float) -> Real:
        lo, hi = self.decode(u_lo), self.decode(u_hi)
        if hi <= lo:  # a zero-width focus: keep a sliver around lo, inside [low, high]
            width = (self.high - self.low) * 1e-9
            lo, hi = max(self.low, lo - width), min(self.high, lo + width)
        return Real(lo, hi, self.log)

    def to_dict(self) -> dict:
        return {"type": self.kind, "low": self.low, "high": self.high, "log": self.log}


@dataclass(eq=True)
class Categorical(Parameter):
    """One of a fixed list of choices (strings, numbers or booleans)."""

    choices: tuple
    kind = "categorical"

    def __post_init__(self) -> None:
        self.choices = tuple(self.choices)
        if len(self.choices) == 0:
            raise _fail(self.name, "at least one choice", "choices=[]")
        if len(set(map(repr, self.choices))) != len(self.choices):
            raise _fail(self.name, "choices are distinct", f"choices={list(self.choices)}")

    @property
    def n_levels(self) -> int:
        return len(self.choices)

    def index(self, value: Any) -> int:
        for i, c in enumerate(self.choices):
            if c == value and type(c) is type(value) or repr(c) == repr(value):
                return i
        raise _fail(self.name, "value is one of the choices", f"value={value!r}, choices={list(self.choices)}")

    def contains(self, value: Any) -> bool:
        return any(repr(c) == repr(value) or c == value for c in self.choices)

    def encode(self, value: Any) -> float:
        return (self.index(value) + 0.5) / len(self.choices)

    def decode(self, u: float) -> Any:
        i = min(len(self.choices) - 1, int(float(np.clip(u, 0.0, 1.0)) * len(self.choices)))
        return self.choices[i]

    def level(self, value: Any) -> int:
        return self.index(value)

    def to_row(self, value: Any) -> float:
        return float(self.index(value))

    def format_value(self, value: Any) -> str:
        """A choice by its name."""
        return str(value)

    def from_row(self, x: float) -> Any:
        return self.choices[int(x)]

    def focus(self, value: Any, eps: float) -> Categorical:
        """A categorical focus keeps only the centre's choice."""
        return Categorical((self.choices[self.index(value)],))

    def to_dict(self) -> dict:
        return {"type": self.kind, "choices": list(self.choices)}


_TYPES = {"lattice": Lattice, "int": Integer, "integer": Integer, "real": Real, "float": Real,
          "categorical": Categorical}


def parse_parameter(name: str, spec: Any) -> Parameter:
    """Turn a parameter object, a dict or a shorthand list into a Parameter (names it for errors)."""
    try:
        param = _parse(name, spec)
    except SpaceError:
        raise
    except (TypeError, ValueError) as err:
        raise SpaceError(f"parameter '{name}': cannot read {spec!r} ({err}); write e.g. "
                         "{lower: 1, upper: 100, scale: 5e-5}, {low: 1e-5, high: 1e-2, log: true}, "
                         "{low: 1, high: 8, type: int} or [relu, tanh]") from None
    param.name = name
    return param


def _parse(name: str, spec: Any) -> Parameter:
    if isinstance(spec, Parameter):
        return spec
    if isinstance(spec, Mapping):
        spec = dict(spec)
        kind = str(spec.pop("type", "")).lower()
        if not kind:
            kind = ("lattice" if "lower" in spec else "categorical" if "choices" in spec
                    else "int" if all(isinstance(spec.get(k), int) for k in ("low", "high")) and not spec.get("log")
                    else "real")
        if kind not in _TYPES:
            raise SpaceError(f"parameter '{name}': unknown type {kind!r}; use one of {sorted(set(_TYPES))}")
        cls = _TYPES[kind]
        return _construct(name, cls, spec)
    if isinstance(spec, (list, tuple)):
        items = list(spec)
        numeric = len(items) in (2, 3) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in items[:2])
        if numeric and (len(items) == 2 or items[2] in ("log", "log-uniform", "linear", "uniform")):
            log = len(items) == 3 and str(items[2]).startswith("log")
            if all(isinstance(v, int) for v in items[:2]) and not log:
                return _construct(name, Integer, {"low": items[0], "high": items[1]})
            return _construct(name, Real, {"low": items[0], "high": items[1], "log": log})
        return _construct(name, Categorical, {"choices": items})
    raise SpaceError(f"parameter '{name}': cannot read {spec!r}; write a mapping such as "
                     "{lower: 1, upper: 100, scale: 1} or a list of choices")


_REQUIRED = {"lattice": ("lower", "upper"), "int": ("low", "high"), "real": ("low", "high"),
             "categorical": ("choices",)}


def _construct(name: str, cls: type, fields: dict) -> Parameter:
    missing = [f for f in _REQUIRED[cls.kind] if f not in fields]
    if missing:
        raise SpaceError(f"parameter '{name}': missing field '{missing[0]}' for type {cls.kind!r}; "
                         f"give {', '.join(_REQUIRED[cls.kind])}")
    try:
        if cls is Integer:
            return Integer(fields.pop("low"), fields.pop("high"), **fields)
        return cls(**fields)
    except KeyError as err:
        raise SpaceError(f"parameter '{name}': missing field {err} for type {cls.kind!r}") from None
    except TypeError as err:
        raise SpaceError(f"parameter '{name}': {err}") from None
    except SpaceError as err:  # raised before the parameter knew its name
        raise SpaceError(str(err).replace("parameter '?'", f"parameter '{name}'", 1)) from None


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
