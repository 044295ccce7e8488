"""Incremental, read-only access to a results store for the monitor: committed rows only.

A finished architecture (every trial done or failed) never changes again, so the reader keeps
the rows before the first unfinished one and re-reads only from that row's chunk onwards; each
read gives the store's one view (``Snapshot``), with the per-epoch ``curves`` of running trials
in place of ``epoch_metric``. A missing store (the run is just starting) or one still being
created reads as an empty view; anything else that is not a store raises StoreError.

A damaged store raises ``StoreDamaged`` (one line: what is damaged, and ``ganhpo repair``), as
``read_store`` does, and is never read as data: the arrays the page shows are checked at every
read, at a bounded cost. ``ChunkWatch`` stats each array's ``zarr.json`` and every committed
chunk file (mtime and size; nothing is decoded): a missing file is damage, and a changed one
below the cached rows sends the reader back to re-read (and so decode, checksum included) from
that chunk. Every chunk is therefore decoded once, and again whenever it changes; a done trial
without a finite metric is damage too.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import zarr
import zarr.api.asynchronous
from zarr.core.sync import sync

from orchestrator.store import ROW_CHUNK, RUNNING, Snapshot, is_finished, store_ready
from orchestrator.store.integrity import (
    StoreDamaged,
    chunk_file,
    damaged,
    describe,
    read_checked,
    require_finite,
    store_arrays,
)
from orchestrator.store.layout import added_rows, diverged_rows, errors_dict, read_texts

__all__ = ["StoreReader"]

# Arrays every refresh needs (small: (A,), (A,T) or (A,P)); epoch_metric is read in slices.
# ``status`` comes first: the writer writes it last, so a trial seen as finished here has its
# metric, times and worker already on disk when they are read next.
ROW_ARRAYS = ("status", "params", "stage", "metric", "started", "finished", "worker")
# Every array the page shows something of, checked at each read (those this store has).
SHOWN = (*ROW_ARRAYS, "diverged_at", "pruned_at", "error", "epoch_metric")


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
        self._watch = ChunkWatch(self.path)

    def read(self) -> Snapshot:
        """The current committed state; reuses the last read if it is younger than min_interval."""
        with self._lock:
            if self._last is not None and time.monotonic() - self._last_time < self.min_interval:
                return self._last
            try:
                data = self._read()
            except StoreDamaged:
                self._reset(self._created)  # nothing cached is trusted: after a repair, read all
                raise
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
        names = [name for name in SHOWN if name in store_arrays(attrs)]
        changed = self._watch.check(group, attrs, n, names)  # StoreDamaged for a missing file
        self._stable = min(self._stable, changed * ROW_CHUNK)
        try:
            arrays, workers = self._read_rows(group, attrs, n)
            curves = read_curves(group, arrays["status"])
        except StoreDamaged:
            raise
        except Exception:
            for name in names:  # which chunk does not decode (checksums): one line naming it
                read_checked(self.path, group, name, n)
            raise  # none: not damage (e.g. a file system hiccup), the next read tries again
        errors = errors_dict(arrays.pop("error"))
        return Snapshot(self.path, attrs["experiment"], list(attrs["param_names"]),
                        workers=workers, errors=errors, created=created, now=self.clock(),
                        curves=curves, **arrays)

    def _reset(self, created: float | None) -> None:
        self._cache, self._stable, self._created = {}, 0, created
        self._watch = ChunkWatch(self.path)

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
        require_finite(self.path, out["status"][lo:], out["metric"][lo:])  # rows below: checked
        finished = np.all(is_finished(out["status"]), axis=1)
        self._stable = int(np.argmin(finished)) if not finished.all() else n
        self._cache = out
        return dict(out), workers


class ChunkWatch:
    """Stats every committed chunk file and ``zarr.json`` of a store's arrays (nothing decoded):
    raises StoreDamaged for what is missing and says from which chunk on something changed."""

    def __init__(self, path: str):
        self.path = path
        self._meta: dict[str, tuple[tuple[int, int], int, int]] = {}  # name: (stat, rows, ndim)
        self._chunks: dict[str, list[tuple[int, int] | None]] = {}
        self._files: dict[str, list[str]] = {}  # chunk file names, made once

    def check(self, group: zarr.Group, attrs: dict, n: int, names: list[str]) -> int:
        """The first row chunk of ``names`` whose file changed since the last check (the
        number of chunks when none did); StoreDamaged if one below ``n`` is missing."""
        damage: dict[str, str | list[int]] = {}
        first = total = -(-n // ROW_CHUNK)
        for name in names:
            meta = self._array(group, name, n, damage)
            if meta is None:
                continue
            seen, missing = self._stat_chunks(name, meta[2], total, bool(attrs.get("chunk_files")))
            if missing:
                damage[name] = missing
                continue
            old = self._chunks.get(name, [])
            changed = [i for i, (a, b) in enumerate(zip(old, seen)) if a != b]
            first = min([first, *changed])
            self._chunks[name] = seen
        if damage:
            raise damaged(self.path, describe(damage, n))
        return first

    def _array(self, group: zarr.Group, name: str, n: int,
               damage: dict) -> tuple[tuple[int, int], int, int] | None:
        """(stat of zarr.json, rows, ndim) of one array, its metadata re-read only when changed."""
        sig = _stat(os.path.join(self.path, name, "zarr.json"))
        if sig is None:
            damage[name] = "missing"
            return None
        meta = self._meta.get(name)
        if meta is None or meta[0] != sig:
            try:
                array = group[name]
            except Exception as err:  # noqa: BLE001 - unreadable metadata is damage
                damage[name] = f"unreadable metadata ({type(err).__name__})"
                return None
            meta = self._meta[name] = (sig, int(array.shape[0]), array.ndim)
        if meta[1] < n:
            damage[name] = f"{meta[1]} rows, {n} committed"
            return None
        return meta

    def _stat_chunks(self, name: str, ndim: int, total: int,
                     every: bool) -> tuple[list[tuple[int, int] | None], list[int]]:
        """(mtime, size) of chunk files 0..total-1 (None: absent); the absent ones that stores
        writing every chunk file (``every``) must have."""
        files = self._files.setdefault(name, [])
        files += [str(chunk_file(self.path, name, ndim, i)) for i in range(len(files), total)]
        seen = [_stat(f) for f in files[:total]]
        return seen, [i for i, sig in enumerate(seen) if sig is None] if every else []


def _stat(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_mtime_ns, st.st_size


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
