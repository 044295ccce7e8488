"""Parameter kinds: HYPPO lattices, integers, reals (linear or log), categoricals on [0, 1]."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Categorical", "Integer", "Lattice", "Parameter", "Real", "SpaceError"]


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
