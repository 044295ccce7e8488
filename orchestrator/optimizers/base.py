"""The ask/tell contract shared by every optimiser: bookkeeping, dedup, exhaustion, validation."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist
from scipy.stats import qmc
from threadpoolctl import ThreadpoolController

from orchestrator.space import SearchSpace

__all__ = ["NearestKnown", "Optimizer", "SpaceExhausted", "initial_design"]

# Finite spaces up to this many points are enumerated when random search finds nothing new.
_ENUMERATE_LIMIT = 200_000
# Continuous coordinates count as equal when they agree to this many unit-cube digits.
_CONTINUOUS_RESOLUTION = 1e9
# Past max_fit evaluated points a surrogate fits this share nearest the search centre, the rest at random.
_LOCAL_SHARE = 0.7


_threadpools: ThreadpoolController | None = None


def _one_blas_thread():  # noqa: ANN202 - a context manager
    """Limit BLAS to one thread; the library scan (~17 ms) is done once per process, not per ask."""
    global _threadpools
    if _threadpools is None:
        _threadpools = ThreadpoolController()
    return _threadpools.limit(limits=1)


def initial_design(space: SearchSpace, n: int, rng: np.random.Generator | int | None) -> np.ndarray:
    """An n-point Latin hypercube (unit cube) snapped onto ``space``.

    Every optimiser draws its design first from ``default_rng(seed)``, so the same seed, space
    and ``n_initial`` give every method (random included) the same initial design: the method
    comparison (orchestrator/analysis/compare.py) relies on it.
    """
    if n <= 0:
        return np.empty((0, space.dim))
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    return _UnitCodec(space).snap(qmc.LatinHypercube(d=space.dim, rng=rng).random(n))


class NearestKnown:
    """Distances from candidate rows to the nearest known row (a KD-tree, built once per ask)
    or to a row picked since (``add``): a pick costs O(log known), not O(known + pending)."""

    def __init__(self, rows: np.ndarray):
        self.tree = cKDTree(rows) if len(rows) else None
        self.picked: list[np.ndarray] = []

    def add(self, row: np.ndarray) -> None:
        """Count ``row`` as known from now on."""
        self.picked.append(np.asarray(row, float).reshape(-1))

    def distance(self, candidates: np.ndarray) -> np.ndarray:
        """Euclidean distance of each candidate row to its nearest known or added row."""
        dist = np.full(len(candidates), np.inf)
        if self.tree is not None:
            dist = self.tree.query(candidates, k=1)[0]
        if self.picked:
            dist = np.minimum(dist, cdist(candidates, np.array(self.picked)).min(axis=1))
        return np.where(np.isfinite(dist), dist, 0.0)


class SpaceExhausted(RuntimeError):
    """Every point of a finite search space has been evaluated or is pending."""


class _UnitCodec:
    """Vectorised snapping and level keys in the unit cube (the space's own encode, for arrays)."""

    def __init__(self, space: SearchSpace):
        params = list(space.params.values())
        self.levels = np.array([p.n_levels or 0 for p in params], dtype=int)
        self.categorical = np.array([p.kind == "categorical" for p in params])
        self.continuous = self.levels == 0

    def level_index(self, u: np.ndarray) -> np.ndarray:
        """Integer level per discrete coordinate (continuous ones: quantised unit value)."""
        u = np.clip(np.atleast_2d(np.asarray(u, float)), 0.0, 1.0)
        span = np.maximum(self.levels - 1, 0)
        lattice = np.rint(u * span)
        cat = np.minimum(np.floor(u * self.levels), np.maximum(self.levels - 1, 0))
        cont = np.rint(u * _CONTINUOUS_RESOLUTION)
        out = np.where(self.categorical, cat, lattice)
        return np.where(self.continuous, cont, out).astype(np.int64)

    def from_levels(self, k: np.ndarray) -> np.ndarray:
        """Unit-cube coordinates of level indices (inverse of level_index)."""
        k = np.atleast_2d(k).astype(float)
        span = self.levels - 1
        lattice = np.where(span > 0, k / np.maximum(span, 1), 0.5)
        cat = (k + 0.5) / np.maximum(self.levels, 1)
        out = np.where(self.categorical, cat, lattice)
        return np.where(self.continuous, k / _CONTINUOUS_RESOLUTION, out)

    def snap(self, u: np.ndarray) -> np.ndarray:
        """Rows moved onto the nearest representable points."""
        return self.from_levels(self.level_index(u))

    def keys(self, u: np.ndarray) -> list[tuple]:
        return [tuple(row) for row in self.level_index(u).tolist()]


class Optimizer(ABC):
    """Ask/tell optimiser (minimisation) over a SearchSpace, working in the unit cube.

    Subclasses set ``name`` and ``defaults`` (their accepted options) and implement ``_propose``.
    ``ask`` first hands out the initial design (``n_initial`` points, LHS snapped to the space;
    ``n_initial: None`` means 2(d+1), the design size of DYCORS),
    then asks ``_propose`` once enough points are evaluated (``_ready``); whatever it cannot
    supply comes from unvisited random points, so a finite space is used up before
    ``SpaceExhausted`` is raised.
    """

    name: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, space: SearchSpace | Mapping[str, Any], seed: int | None = None,
                 **options: Any):
        self.space = space if isinstance(space, SearchSpace) else SearchSpace(space)
        unknown = sorted(set(options) - set(self.defaults))
        if unknown:
            accepted = ", ".join(sorted(self.defaults)) or "(none)"
            raise ValueError(f"unknown option '{unknown[0]}' for optimizer '{self.name}'; "
                             f"accepted options: {accepted}")
        self.options = {**self.defaults, **options}
        if "n_initial" in self.defaults and self.options["n_initial"] is None:
            self.options["n_initial"] = 2 * (self.space.dim + 1)  # None: DYCORS's 2(d+1)
        self._check_options()
        self.rng = np.random.default_rng(seed)
        self.dim = self.space.dim
        self._codec = _UnitCodec(self.space)
        self._X: list[np.ndarray] = []
        self._y: list[float] = []
        self._std: list[float] = []
        self._row_of: dict[tuple, int] = {}
        self._pending: dict[tuple, tuple[dict, np.ndarray]] = {}
        self._space_keys: set[tuple] = set()
        self._design = self._make_design(int(self.options.get("n_initial", 0)))
        self._design_used = 0

    # ----- public contract -------------------------------------------------------------------

    @property
    def pending(self) -> list[dict]:
        """Points handed out by ask and not yet told, oldest first."""
        return [dict(p) for p, _ in self._pending.values()]

    @property
    def n_evaluated(self) -> int:
        return len(self._y)

    def best(self) -> tuple[dict, float, float]:
        """The evaluated point with the lowest mean, with its mean and std."""
        if not self._y:
            raise RuntimeError(f"optimizer '{self.name}': nothing has been told yet")
        i = int(np.argmin(self._y))
        return self.space.decode(self._X[i]), self._y[i], self._std[i]

    def ask(self, n: int = 1) -> list[dict]:
        """n new points, none evaluated, pending or repeated (fewer if a finite space runs out)."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"ask(n): `n >= 1` must hold, but got n={n!r}")
        self._raise_if_exhausted()
        keys = self._next_design(int(n))
        if len(keys) < n:
            # Surrogates are small: BLAS threads only oversubscribe the driver's cores (8x slower).
            with _one_blas_thread():
                proposed = self._propose(n - len(keys)) if self._ready() else []
            keys += [k for k in map(self._claim, proposed) if k is not None]
        if len(keys) < n:
            keys += [k for k in map(self._claim, self._unvisited(n - len(keys))) if k is not None]
        if not keys:
            self._raise_if_exhausted(force=True)
        return [dict(self._pending[k][0]) for k in keys[:n]]

    def tell(self, points: Sequence[Mapping[str, Any]], means: Sequence[float],
             stds: Sequence[float] | None = None) -> None:
        """Record evaluated points (mean, and std over trials); they leave ``pending``."""
        if isinstance(points, Mapping):
            raise TypeError("tell(points, means, stds): points must be a list of dicts, "
                            "e.g. tell([point], [mean], [std])")
        points = list(points)
        means_arr = self._as_values("means", means, len(points))
        stds_arr = (np.zeros(len(points)) if stds is None
                    else self._as_values("stds", stds, len(points)))
        if np.any(stds_arr < 0):
            i = int(np.argmax(stds_arr < 0))
            raise ValueError(f"tell: stds[{i}] = {float(stds_arr[i])!r} is negative")
        for p in points:
            self.space.validate(p)
        self._tell(points, means_arr, stds_arr)

    def add_pending(self, points: Sequence[Mapping[str, Any]]) -> None:
        """Mark points as pending without asking (resume: architectures still training)."""
        for p in points:
            self.space.validate(p)
            self._claim(self.space.encode(p))

    # ----- subclass hooks --------------------------------------------------------------------

    def _check_options(self) -> None:
        """Validate option values (subclasses extend)."""
        n0 = self.options.get("n_initial")
        if n0 is not None and (isinstance(n0, bool) or not isinstance(n0, int) or n0 < 0):
            raise ValueError(f"option n_initial: `n_initial >= 0` (an int) must hold, got {n0!r}")

    def _ready(self) -> bool:
        """Whether ``_propose`` can run (e.g. the surrogate has enough evaluated points)."""
        return True

    @abstractmethod
    def _propose(self, n: int) -> list[np.ndarray]:
        """Up to n unit-cube rows, snapped, distinct, none evaluated or pending."""

    def _on_told(self, row: np.ndarray, mean: float, previous_best: float) -> None:
        """Hook after each told point (e.g. trust-region bookkeeping); nothing by default."""
        return None

    # ----- bookkeeping -----------------------------------------------------------------------

    def _tell(self, points: list[Mapping[str, Any]], means: np.ndarray, stds: np.ndarray) -> None:
        """Trusting tell: store each point (the latest tell of a point wins)."""
        for p, m, s in zip(points, means, stds, strict=True):
            row = self._codec.snap(self.space.encode(p))[0]
            key = self._codec.keys(row)[0]
            previous_best = min(self._y) if self._y else math.inf
            self._pending.pop(key, None)
            self._space_keys.add(self.space.key(p))
            if key in self._row_of:
                i = self._row_of[key]
                self._y[i], self._std[i] = float(m), float(s)
            else:
                self._row_of[key] = len(self._y)
                self._X.append(row)
                self._y.append(float(m))
                self._std.append(float(s))
            self._on_told(row, float(m), previous_best)

    def _as_values(self, what: str, values: Any, n: int) -> np.ndarray:
        arr = np.asarray(values, dtype=float).reshape(-1)
        if arr.size != n:
            raise ValueError(f"tell: got {n} points but {arr.size} {what}; give one per point")
        bad = ~np.isfinite(arr)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"tell: {what}[{i}] = {float(arr[i])!r} is not finite; replace failed "
                             "evaluations by a finite penalty before telling")
        return arr

    def _visited(self) -> set[tuple]:
        """Internal keys of evaluated and pending points."""
        return set(self._row_of) | set(self._pending)

    def _claim(self, row: np.ndarray) -> tuple | None:
        """Mark a row pending and return its key, unless it is already evaluated or pending."""
        row = self._codec.snap(row)[0]
        key = self._codec.keys(row)[0]
        point = self.space.decode(row)
        space_key = self.space.key(point)
        if key in self._row_of or key in self._pending or space_key in self._space_keys:
            return None
        self._pending[key] = (point, row)
        self._space_keys.add(space_key)
        return key

    def _fresh(self, candidates: np.ndarray, taken: set[tuple] | None = None) -> np.ndarray:
        """Snapped candidates, deduplicated, without visited points (or those in ``taken``)."""
        if len(candidates) == 0:
            return np.empty((0, self.dim))
        snapped = self._codec.snap(candidates)
        taken = taken or set()
        seen: set[tuple] = set()
        keep = []
        for i, k in enumerate(self._codec.keys(snapped)):
            # membership per key, not a union of every evaluated and pending key per call
            if k not in self._row_of and k not in self._pending and k not in taken and k not in seen:
                seen.add(k)
                keep.append(i)
        return snapped[keep]

    def _fit_indices(self, max_fit: int, centre: np.ndarray) -> np.ndarray:
        """Evaluated points a surrogate fits on: all up to ``max_fit``; past that the nearest
        ``_LOCAL_SHARE * max_fit`` to ``centre`` plus a random sample of the others (global shape)."""
        n = self.n_evaluated
        if n <= max_fit:
            return np.arange(n)
        n_local = int(round(_LOCAL_SHARE * max_fit))
        dist = np.linalg.norm(np.asarray(self._X) - centre, axis=1)
        order = np.argpartition(dist, n_local)
        rest = self.rng.choice(order[n_local:], size=max_fit - n_local, replace=False)
        best = int(np.argmin(self._y))  # the incumbent always stays in the fit
        return np.unique(np.concatenate([order[:n_local], rest, [best]]))

    def _nearest_known(self) -> NearestKnown:
        """Distance index over evaluated and pending rows, for candidate scoring."""
        return NearestKnown(self._known_rows())

    def _known_rows(self) -> np.ndarray:
        """Evaluated and pending rows (for distance terms)."""
        rows = self._X + [r for _, r in self._pending.values()]
        return np.array(rows) if rows else np.empty((0, self.dim))

    # ----- designs, fallback and exhaustion ---------------------------------------------------

    def _make_design(self, n: int) -> np.ndarray:
        """An n-point Latin hypercube snapped onto the space (see ``initial_design``)."""
        return initial_design(self.space, n, self.rng)

    def _next_design(self, n: int) -> list[tuple]:
        """Claim initial-design rows while evaluated + pending is below ``n_initial``."""
        n0 = int(self.options.get("n_initial", 0))
        out: list[tuple] = []
        while (len(out) < n and self._design_used < len(self._design)
               and self.n_evaluated + len(self._pending) < n0):
            row = self._design[self._design_used]
            self._design_used += 1
            key = self._claim(row)
            if key is not None:
                out.append(key)
        return out

    def _unvisited(self, n: int) -> list[np.ndarray]:
        """Up to n random points that are neither evaluated nor pending."""
        size = self.space.size
        if self.space.is_finite and size <= _ENUMERATE_LIMIT:
            grids = np.indices(tuple(int(v) for v in self._codec.levels)).reshape(self.dim, -1).T
            visited = self._visited()
            free = [i for i, k in enumerate(map(tuple, grids.tolist())) if k not in visited]
            pick = self.rng.permutation(len(free))[:n]
            return list(self._codec.from_levels(grids[[free[i] for i in pick]]))
        out: list[np.ndarray] = []
        taken: set[tuple] = set()
        for _ in range(20):
            rows = self._fresh(self.rng.random((max(100, 10 * n), self.dim)), taken)
            for r in rows[: n - len(out)]:
                out.append(r)
                taken.add(self._codec.keys(r)[0])
            if len(out) >= n:
                break
        return out

    def _raise_if_exhausted(self, force: bool = False) -> None:
        size = self.space.size
        visited = len(self._row_of) + len(self._pending)  # disjoint: a tell leaves pending
        if force or (self.space.is_finite and visited >= size):
            raise SpaceExhausted(
                f"search space exhausted: it has {size} points and all are evaluated "
                f"({self.n_evaluated}) or pending ({len(self._pending)}); tell pending points, "
                "widen the space or lower the budget")
