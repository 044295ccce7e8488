"""Deriving a focused search space from a (broad) search's results.

Two ways, both intersected with the original space so the result always lies inside it:

- around the best architecture: +- ``eps`` lattice steps for lattice and integer parameters,
  +- ``real_eps`` (default: ``eps``) unit-cube units for reals; categoricals keep the best choice;
- from the architectures whose mean metric is at or below ``threshold`` (a number, or a
  quantile written ``"20%"``): each parameter's range is the one they span (categoricals: the
  choices they use).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from orchestrator.analysis.pareto import select_best
from orchestrator.space import Categorical, Lattice, Real, SearchSpace
from orchestrator.store import Snapshot, read_store

__all__ = ["derive_focus_space", "focus_experiment", "focus_method", "focus_store",
           "parse_threshold"]


def _snapshot(snap_or_path: Snapshot | str | Path) -> Snapshot:
    return snap_or_path if isinstance(snap_or_path, Snapshot) else read_store(snap_or_path)


def parse_threshold(snap: Snapshot, threshold: float | str) -> float:
    """A metric threshold: a number as given, or ``"Q%"`` as that quantile of finished means."""
    _, mean, _ = snap.finished_means()
    text = str(threshold).strip()
    if text.endswith("%"):
        q = float(text[:-1])
        if not 0 < q <= 100:
            raise ValueError(f"threshold {threshold!r}: a quantile must be in (0%, 100%], e.g. 20%")
        if not len(mean):
            raise ValueError(f"threshold {threshold!r}: no finished architecture with a metric yet")
        return float(np.quantile(mean, q / 100))
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"threshold {threshold!r}: give a metric value (e.g. 0.05) or a "
                         "quantile of the finished means (e.g. 20%)") from None


def _real_within(p: Real, lo: float, hi: float) -> Real:
    """Real(lo, hi) clipped to p; a zero-width range is widened by a hair, staying inside p."""
    lo, hi = max(p.low, lo), min(p.high, hi)
    if hi <= lo:
        hair = 1e-9 * (p.high - p.low)
        lo, hi = (lo, min(p.high, lo + hair)) if lo < p.high else (max(p.low, hi - hair), hi)
    return Real(lo, hi, p.log)


def _around_best(space: SearchSpace, center: dict, eps: float, real_eps: float) -> SearchSpace:
    """Lattices and categoricals through SearchSpace.focus; reals here, so that a zero or tiny
    width stays a valid range inside the original one (Real.focus does not guarantee that)."""
    grid = {n: p for n, p in space.params.items() if not isinstance(p, Real)}
    widths = {n: float(eps) / (p.n_levels - 1) if isinstance(p, Lattice) and p.n_levels > 1
              else 0.0 for n, p in grid.items()}
    focused = SearchSpace(grid).focus({n: center[n] for n in grid}, widths).params if grid else {}
    out = {}
    for n, p in space.params.items():
        if isinstance(p, Real):
            u = p.encode(center[n])
            out[n] = _real_within(p, min(center[n], p.decode(u - real_eps)),
                                  max(center[n], p.decode(u + real_eps)))
        else:
            out[n] = focused[n]
    return SearchSpace(out)


def _spanned(space: SearchSpace, rows: np.ndarray) -> SearchSpace:
    points = [space.from_row(r) for r in rows]
    out = {}
    for n, p in space.params.items():
        values = [pt[n] for pt in points]
        if isinstance(p, Categorical):
            used = {p.index(v) for v in values}
            out[n] = {"type": "categorical", "choices": [c for i, c in enumerate(p.choices) if i in used]}
        elif isinstance(p, Lattice):
            levels = [p.level(v) + p.lower for v in values]
            spec = p.to_dict()
            lo_key, hi_key = ("low", "high") if "low" in spec else ("lower", "upper")
            out[n] = {**spec, lo_key: min(levels), hi_key: max(levels)}
        else:
            out[n] = _real_within(p, min(values), max(values)).to_dict()
    return SearchSpace(out)


def derive_focus_space(snap_or_path: Snapshot | str | Path, *, eps: float | None = None,
                       threshold: float | str | None = None,
                       real_eps: float | None = None) -> SearchSpace:
    """The focus space from a store: around the best point (``eps``) or below ``threshold``."""
    if (eps is None) == (threshold is None):
        raise ValueError("focus: give exactly one of eps (lattice steps around the best point) "
                         "or threshold (the range of architectures at or below a metric value)")
    snap = _snapshot(snap_or_path)
    space = SearchSpace(snap.experiment["space"])
    if eps is not None:
        if not float(eps) >= 0 or (real_eps is not None and not float(real_eps) >= 0):
            raise ValueError(f"focus: eps must be >= 0, got eps={eps!r}, real_eps={real_eps!r}")
        best = select_best(snap, "mean")["arch"]
        return _around_best(space, space.from_row(snap.params[best]), eps,
                            eps if real_eps is None else real_eps)
    cut = parse_threshold(snap, threshold)
    idx, mean, _ = snap.finished_means()
    below = idx[mean <= cut]
    if not len(below):
        best = f"the best mean is {mean.min():.5g}" if len(mean) else "none has finished"
        raise ValueError(f"focus: threshold {threshold!r}: no finished architecture has a mean "
                         f"<= {cut:.5g} ({best}); raise the threshold")
    return _spanned(space, snap.params[below])


def focus_experiment(path: str | Path, eps: float | None = None, budget: int | None = None, *,
                     threshold: float | str | None = None,
                     real_eps: float | None = None) -> dict:
    """A new experiment (a dict for YAML) searching the focus space derived from a store."""
    snap = _snapshot(path)
    if eps is None and threshold is None:
        eps = 2
    space = derive_focus_space(snap, eps=eps, threshold=threshold, real_eps=real_eps)
    # the stage plan belongs to the run that made the store; the focus run gets its own store
    spec = {k: v for k, v in snap.experiment.items()
            if v is not None and k not in ("store", "stages")}
    spec.update(space=space.to_dict(), stage="focus",
                name=f"{spec.get('name', 'experiment')}_focus",
                store=focus_store(path if not isinstance(path, Snapshot) else snap.path))
    if budget:
        spec["budget"] = int(budget)
    return spec


def focus_store(path: str | Path) -> str:
    """Where the focus run writes: the source store's sibling ``NAME-focus.zarr``."""
    p = Path(str(path).rstrip("/"))
    return str(p.with_name(f"{p.stem}-focus{p.suffix or '.zarr'}"))


def focus_method(space: Mapping, eps: float | None, real_eps: float | None,
                 threshold: float | str | None) -> str:
    """How the focus space was derived, in words (reals mentioned only if the space has any)."""
    if eps is None:
        if str(threshold).strip().endswith("%"):
            return f"the span of the best {threshold} of the architectures"
        return f"the span of the architectures with mean <= {threshold}"
    reals = any(isinstance(p, Real) for p in SearchSpace(space).params.values())
    width = eps if real_eps is None else real_eps
    return (f"the best architecture +- {eps:g} lattice steps"
            + (f" (reals +- {width:g} unit cube)" if reals else ""))


def describe(original: Mapping, focused: SearchSpace) -> list[str]:
    """One line per parameter: its original range and its focused one."""
    space = SearchSpace(original)
    return [f"  {n}: {_range(space.params[n])} -> {_range(focused.params[n])}" for n in space.names]


def _range(p) -> str:
    if isinstance(p, Categorical):
        return "{" + ", ".join(map(str, p.choices)) + "}"
    if isinstance(p, Lattice):
        lo, hi = p.from_row(p.lower * p.scale), p.from_row(p.upper * p.scale)
        return f"[{p.format_value(lo)}, {p.format_value(hi)}] ({p.n_levels} levels)"
    return f"[{p.format_value(p.low)}, {p.format_value(p.high)}]" + (" log" if p.log else "")
