"""Incremental, read-only access to a results store for the monitor: committed rows only.

A finished architecture (every trial done or failed) never changes again, so the reader keeps
the rows before the first unfinished one and re-reads only from that row's chunk onwards; each
read gives the store's one view (``Snapshot``), with the per-epoch ``curves`` of running trials
in place of ``epoch_metric``. A missing store (the run is just starting) or one still being
created reads as an empty view; anything else that is not a store raises StoreError.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import zarr
import zarr.api.asynchronous
from zarr.core.sync import sync

from orchestrator.store import ROW_CHUNK, RUNNING, Snapshot, is_finished, store_ready
from orchestrator.store.layout import added_rows, diverged_rows, errors_dict, read_texts

__all__ = ["StoreReader"]

# Arrays every refresh needs (small: (A,), (A,T) or (A,P)); epoch_metric is read in slices.
# ``status`` comes first: the writer writes it last, so a trial seen as finished here has its
# metric, times and worker already on disk when they are read next.
ROW_ARRAYS = ("status", "params", "stage", "metric", "started", "finished", "worker")


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
        self._last: Snapshot | None = None
        self._last_time = -np.inf

    def read(self) -> Snapshot:
        """The current committed state; reuses the last read if it is younger than min_interval."""
        with self._lock:
            if self._last is not None and time.monotonic() - self._last_time < self.min_interval:
                return self._last
            data = self._read()
            self._last, self._last_time = data, time.monotonic()
            return data

    def _read(self) -> Snapshot:
        if (self._created is None and not store_ready(self.path)) or not Path(self.path).exists():
            self._reset(None)
            return Snapshot.empty(self.path, now=self.clock())
        group = zarr.open_group(self.path, mode="r", zarr_format=3, use_consolidated=False)
        attrs = group.attrs.asdict()
        created = float(attrs.get("created", 0.0))
        if created != self._created:
            self._reset(created)
        n = int(attrs.get("n_committed", 0))
        if n < self._stable:
            self._reset(created)
        arrays, workers = self._read_rows(group, attrs, n)
        errors = errors_dict(arrays.pop("error"))
        return Snapshot(self.path, attrs["experiment"], list(attrs["param_names"]),
                        workers=workers, errors=errors, created=created, now=self.clock(),
                        curves=read_curves(group, arrays["status"]), **arrays)

    def _reset(self, created: float | None) -> None:
        self._cache, self._stable, self._created = {}, 0, created

    def _read_rows(self, group: zarr.Group, attrs: dict,
                   n: int) -> tuple[dict[str, np.ndarray], list[str]]:
        lo = (self._stable // ROW_CHUNK) * ROW_CHUNK
        status = group["status"][lo:n]  # first, alone: see ROW_ARRAYS
        rest = sync(_read_slices(self.path, ROW_ARRAYS[1:], lo, n))
        workers, error = read_texts(group, attrs, lo, n, status.shape[1])
        diverged = diverged_rows(group, lo, n, status.shape[1])
        pruned = added_rows(group, "pruned_at", lo, n)
        test = added_rows(group, "test_metric", lo, n)
        out = {}
        for name, fresh in zip((*ROW_ARRAYS, "diverged_at", "pruned_at", "test_metric", "error"),
                               (status, *rest, diverged, pruned, test, error), strict=True):
            out[name] = np.concatenate([self._cache[name][:lo], fresh]) if lo else fresh
        finished = np.all(is_finished(out["status"]), axis=1)
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
