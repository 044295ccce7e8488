"""Incremental, read-only access to a results store for the monitor: committed rows only.

A finished architecture (every trial done or failed) never changes again, so the reader keeps
the rows before the first unfinished one and re-reads only from that row's chunk onwards.
Per-epoch curves are read only for running trials. A missing store (the run is just starting)
or one still being created reads as empty; anything else that is not a store raises StoreError.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import zarr
import zarr.api.asynchronous
from zarr.core.sync import sync

from orchestrator import store as _store
from orchestrator.experiment import effective_min_ok
from orchestrator.store import DONE, FAILED, ROW_CHUNK, RUNNING, STAGES
from orchestrator.store import check_store as validate_store

__all__ = ["MonitorData", "StoreReader", "check_store"]

# Arrays every refresh needs (small: (A,), (A,T) or (A,P)); epoch_metric is read in slices.
# ``status`` comes first: the writer writes it last, so a trial seen as finished here has its
# metric, times and worker already on disk when they are read next.
ROW_ARRAYS = ("status", "params", "stage", "metric", "started", "finished", "worker")
# Optimisers whose first n_initial points are an initial design before the surrogate takes over.
DESIGN_DEFAULTS = {"rbf": 10, "gp": 10}


@dataclass
class MonitorData:
    """One refresh's view of a store: committed rows as numpy arrays plus the store attributes."""

    path: str
    exists: bool = False
    experiment: dict = field(default_factory=dict)
    param_names: list[str] = field(default_factory=list)
    workers: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    created: float = float("nan")
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    curves: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)
    now: float = 0.0
    _memo: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def n(self) -> int:
        return len(self.arrays["status"]) if "status" in self.arrays else 0

    @property
    def trials(self) -> int:
        return int(self.experiment.get("trials", 0))

    @property
    def epochs(self) -> int:
        return int(self.experiment.get("epochs", 0))

    @property
    def budget(self) -> int:
        return int(self.experiment.get("budget", 0))

    @property
    def n_initial(self) -> int:
        """Size of the optimiser's initial design (0 when the optimiser has none)."""
        opt = self.experiment.get("optimizer") or {}
        name = str(opt.get("name", "")).lower()
        if name not in DESIGN_DEFAULTS:
            return 0
        return int(opt.get("n_initial", DESIGN_DEFAULTS[name]))

    def array(self, name: str) -> np.ndarray:
        return self.arrays[name]

    def arch_done(self) -> np.ndarray:
        """Architectures whose trials have all finished (done or failed)."""
        if not self.n:
            return np.zeros(0, bool)
        if "done" not in self._memo:
            self._memo["done"] = np.all(self.arrays["status"] >= DONE, axis=1)
        return self._memo["done"]

    def arch_mean_std(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std of the metric over successful trials (NaN where none succeeded)."""
        if "mean_std" not in self._memo:
            self._memo["mean_std"] = self._mean_std()
        return self._memo["mean_std"]

    def _mean_std(self) -> tuple[np.ndarray, np.ndarray]:
        """As the store's Snapshot.arch_mean_std: sample std (ddof 1), 0 for a single success."""
        return _store.mean_std(self.arrays["metric"], self.arrays["status"] == DONE)

    def ranked(self) -> np.ndarray:
        """Finished architectures best first, those short of the experiment's ``min_ok``
        successful trials after all others (the driver's and the report's rule)."""
        if not self.n:
            return np.zeros(0, int)
        if "ranked" not in self._memo:
            self._memo["ranked"] = _store.rank(self.arrays["status"], self.arch_mean_std()[0],
                                               effective_min_ok(self.experiment))
        return self._memo["ranked"]

    def arch_finished_at(self) -> np.ndarray:
        """When each architecture's last trial finished (NaN while any trial is unfinished)."""
        if not self.n:
            return np.zeros(0)
        fin = np.where(np.isnan(self.arrays["finished"]), -np.inf, self.arrays["finished"])
        return np.where(self.arch_done(), fin.max(axis=1), np.nan)

    def completion_order(self) -> np.ndarray:
        """Indices of finished architectures in the order they finished (ties: by index)."""
        done = np.flatnonzero(self.arch_done())
        return done[np.argsort(self.arch_finished_at()[done], kind="stable")]

    def stage_names(self) -> np.ndarray:
        return np.asarray(STAGES, dtype=object)[self.arrays["stage"].astype(int)] if self.n \
            else np.zeros(0, object)

    def error(self, a: int, t: int) -> str:
        return self.errors.get(f"{a}/{t}", "")

    def counts(self) -> dict[str, int]:
        """Trial counts by status and architecture counts (done = every trial finished)."""
        status = self.arrays.get("status", np.zeros((0, 0), np.int8))
        return {"trials_done": int(np.sum(status == DONE)),
                "trials_running": int(np.sum(status == RUNNING)),
                "trials_failed": int(np.sum(status == FAILED)),
                "trials_pending": int(np.sum(status < RUNNING)),
                "archs": self.n, "archs_done": int(self.arch_done().sum()),
                "archs_running": int(np.any(status == RUNNING, axis=1).sum()) if self.n else 0}


def check_store(path: str | Path) -> bool:
    """True if ``path`` is a readable store, False if it is not there yet.

    ResultsStore.create builds a store in a hidden sibling and renames it into place, so a
    store being created is simply not there yet.

    Raises StoreError (with the store module's message) for anything else: a file, a directory
    that is neither empty nor a Zarr group, a foreign Zarr group, a store of a newer format.
    """
    path = Path(path)
    if not path.exists():
        return False
    if path.is_dir() and not any(path.iterdir()):
        return False
    validate_store(path)  # raises StoreError with the store's own wording
    return True


class StoreReader:
    """Reads a store repeatedly, re-reading only rows that can still change; thread-safe."""

    def __init__(self, path: str | Path, min_interval: float = 0.0,
                 clock: Callable[[], float] = time.time):
        self.path = str(path)
        self.min_interval = min_interval
        self.clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, np.ndarray] = {}
        self._stable = 0  # rows [0, _stable) are finished architectures, cached for good
        self._created: float | None = None
        self._last: MonitorData | None = None
        self._last_time = -np.inf

    def read(self) -> MonitorData:
        """The current committed state; reuses the last read if it is younger than min_interval."""
        with self._lock:
            if self._last is not None and time.monotonic() - self._last_time < self.min_interval:
                return self._last
            data = self._read()
            self._last, self._last_time = data, time.monotonic()
            return data

    def _read(self) -> MonitorData:
        if (self._created is None and not check_store(self.path)) or not Path(self.path).exists():
            self._reset(None)
            return MonitorData(self.path, now=self.clock())
        group = zarr.open_group(self.path, mode="r", zarr_format=3, use_consolidated=False)
        attrs = group.attrs.asdict()
        created = float(attrs.get("created", 0.0))
        if created != self._created:
            self._reset(created)
        n = int(attrs.get("n_committed", 0))
        if n < self._stable:
            self._reset(created)
        arrays, workers = self._read_rows(group, attrs, n)
        data = MonitorData(self.path, True, attrs["experiment"], list(attrs["param_names"]),
                           workers, _store.errors_dict(arrays.pop("error")), created, arrays,
                           now=self.clock())
        data.curves = read_curves(group, arrays["status"])
        return data

    def _reset(self, created: float | None) -> None:
        self._cache, self._stable, self._created = {}, 0, created

    def _read_rows(self, group: zarr.Group, attrs: dict,
                   n: int) -> tuple[dict[str, np.ndarray], list[str]]:
        lo = (self._stable // ROW_CHUNK) * ROW_CHUNK
        status = group["status"][lo:n]  # first, alone: see ROW_ARRAYS
        rest = sync(_read_slices(self.path, ROW_ARRAYS[1:], lo, n))
        workers, error = _store.read_texts(group, attrs, lo, n, status.shape[1])
        diverged = (group["diverged_at"][lo:n] if "diverged_at" in group  # format 2 on
                    else np.full(status.shape, -1, "i4"))
        out = {}
        for name, fresh in zip((*ROW_ARRAYS, "diverged_at", "error"),
                               (status, *rest, diverged, error), strict=True):
            out[name] = np.concatenate([self._cache[name][:lo], fresh]) if lo else fresh
        finished = np.all(out["status"] >= DONE, axis=1)
        self._stable = int(np.argmin(finished)) if not finished.all() else n
        self._cache = out
        return dict(out), workers


async def _read_slices(path: str, names: tuple[str, ...], lo: int, hi: int) -> list[np.ndarray]:
    """Rows [lo, hi) of several arrays, read concurrently: on a high-latency (network) file system
    the chunk reads of all arrays overlap instead of queueing array by array."""
    group = await zarr.api.asynchronous.open_group(path, mode="r", zarr_format=3,
                                                   use_consolidated=False)

    async def one(name: str) -> np.ndarray:
        array = await group.getitem(name)
        return np.asarray(await array.getitem(slice(lo, hi)))

    return list(await asyncio.gather(*(one(name) for name in names)))


def read_curves(group: zarr.Group, status: np.ndarray) -> dict[tuple[int, int], np.ndarray]:
    """Per-epoch metric curves of running trials only, read in as few slices as possible."""
    running = np.argwhere(status == RUNNING)
    if not len(running):
        return {}
    em = group["epoch_metric"]
    archs = np.unique(running[:, 0])
    curves = {}
    for lo, hi in _spans(archs, gap=ROW_CHUNK):
        block = em[lo:hi + 1]
        for a, t in running[(running[:, 0] >= lo) & (running[:, 0] <= hi)]:
            curves[(int(a), int(t))] = np.asarray(block[a - lo, t], dtype=float)
    return curves


def _spans(sorted_idx: np.ndarray, gap: int) -> list[tuple[int, int]]:
    """Group sorted indices into [lo, hi] spans whose neighbours are closer than ``gap``."""
    spans: list[list[int]] = []
    for i in sorted_idx.tolist():
        if spans and i - spans[-1][1] < gap:
            spans[-1][1] = i
        else:
            spans.append([i, i])
    return [(lo, hi) for lo, hi in spans]
