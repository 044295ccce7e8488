"""Hyperparameter metadata for plotting: value range, log scale, category labels, histogram bins."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orchestrator.space import Categorical, Lattice, Real, SearchSpace, SpaceError

__all__ = ["HyperParam", "formatted", "hyperparams"]

MAX_BINS = 20


@dataclass(frozen=True)
class HyperParam:
    """How one hyperparameter's stored values (floats; categoricals: index) are plotted."""

    name: str
    low: float
    high: float
    log: bool = False
    labels: tuple[str, ...] = ()
    levels: int | None = None

    @property
    def column(self) -> str:
        """The column holding this parameter's values in the monitor's sources."""
        return f"hp_{self.name}"

    def bins(self) -> np.ndarray:
        """Histogram edges: one bin per level for small grids, else MAX_BINS (log-spaced if log)."""
        if self.labels or (self.levels is not None and self.levels <= MAX_BINS):
            step = (self.high - self.low) / max(1, (self.levels or 1) - 1)
            step = step or 1.0
            return np.linspace(self.low - step / 2, self.high + step / 2, (self.levels or 1) + 1)
        if self.log and self.low > 0:
            return np.geomspace(self.low, self.high, MAX_BINS + 1)
        high = self.high if self.high > self.low else self.low + 1.0
        return np.linspace(self.low, high, MAX_BINS + 1)


def _describe(name: str, p: object) -> HyperParam:
    if isinstance(p, Categorical):
        n = len(p.choices)
        return HyperParam(name, 0.0, float(n - 1), labels=tuple(map(str, p.choices)), levels=n)
    if isinstance(p, Lattice):
        scale = 1.0 if p.kind == "int" else float(p.scale)
        return HyperParam(name, p.lower * scale, p.upper * scale, levels=p.n_levels)
    if isinstance(p, Real):
        return HyperParam(name, float(p.low), float(p.high), log=bool(p.log))
    raise TypeError(f"unknown parameter type {type(p).__name__}")


def hyperparams(experiment: dict, names: list[str]) -> list[HyperParam]:
    """Plot metadata for ``names`` from the experiment's space (unknown ones: plain floats)."""
    try:
        space = SearchSpace.from_dict(experiment.get("space") or {}).params
    except SpaceError:
        space = {}
    out = []
    for name in names:
        if name in space:
            out.append(_describe(name, space[name]))
        else:
            out.append(HyperParam(name, 0.0, 1.0))
    return out


def formatted(experiment: dict, name: str, values: np.ndarray) -> np.ndarray:
    """Stored values as text, the way ``Parameter.format_value`` shows them everywhere."""
    try:
        p = SearchSpace.from_dict(experiment.get("space") or {}).params.get(name)
    except SpaceError:
        p = None
    out = np.empty(len(values), object)
    for i, x in enumerate(np.asarray(values, float)):
        try:
            out[i] = p.format_value(p.from_row(x)) if p is not None and np.isfinite(x) \
                else format(x, ".4g")
        except (SpaceError, IndexError, ValueError):  # a value off the space: shown as stored
            out[i] = format(x, ".4g")
    return out
