"""The single writer of a results store: an in-memory mirror of every array.

The writer flushes only the dirty row chunks (whole chunks, so nothing is read back; encoded and
written atomically in the caller's thread, ``orchestrator.store.chunks``), ``status`` last, then
the attributes ``n_committed`` and ``n_workers`` in one write of the group metadata, only when
they changed: a flush costs what changed, not the history.
A format-1 store is upgraded to format 2 when opened for writing. The writer holds the store's
lock (``orchestrator.store.lock``) until ``close``; a store is checked whole before it is resumed
(``orchestrator.store.integrity``). A chunk is marked clean only once it is written, and an
``OSError`` while writing (disk full, permission lost) is one ``StoreWriteError``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from zarr.core.sync import sync

from orchestrator.store.chunks import ChunkWriter, write_group_metadata
from orchestrator.store.integrity import read_checked, require_finite, require_intact, store_arrays
from orchestrator.store.layout import (
    ADDED_ARRAYS,
    ARRAY_NAMES,
    FORMAT_VERSION,
    NAME_CHUNK,
    ROW_CHUNK,
    STAGES,
    TEXT,
    StoreError,
    array_layout,
    create_array,
    create_names,
    errors_dict,
    open_group,
    read_texts,
)
from orchestrator.store.lock import WriterLock
from orchestrator.store.upgrade import upgrade_format_1

__all__ = ["ResultsStore", "StoreWriteError"]

# Tests only (tests/orchestrator/test_faults.py): seconds slept after each array a flush writes,
# so that signals sent at random moments land inside flushes.
FAULT_DELAY = float(os.environ.get("GANHPO_FAULT_DELAY_FLUSH", "0") or 0)
FULL_CHUNKS = {"write_empty_chunks": True}  # every chunk is a file: a missing one is damage


async def _resize_all(grow: list[tuple[Any, int]]) -> None:
    await asyncio.gather(*(a.resize((size, *a.shape[1:])) for a, size in grow))


class StoreWriteError(StoreError):
    """Writing the store failed (disk full, permission lost, NFS error); what was flushed before stays."""


def _chunk_runs(chunks: set[int]) -> list[tuple[int, int]]:
    """Sorted chunk indices as [first, last + 1) runs of consecutive chunks."""
    runs: list[list[int]] = []
    for c in sorted(chunks):
        if runs and runs[-1][1] == c:
            runs[-1][1] = c + 1
        else:
            runs.append([c, c + 1])
    return [(lo, hi) for lo, hi in runs]


class ResultsStore:
    """The single writer: an in-memory mirror of every array, flushed in dirty row chunks."""

    def __init__(self, group: zarr.Group, mirror: dict[str, np.ndarray], n: int, path: str,
                 workers: list[str], lock: WriterLock | None = None):
        self.group = group
        self.lock = lock
        self.path = path
        attrs = group.attrs.asdict()
        self.experiment: dict = attrs["experiment"]
        self.param_names: list[str] = list(attrs["param_names"])
        self.workers: list[str] = workers
        self._worker_index = {w: i for i, w in enumerate(workers)}
        self._workers_written = len(workers)
        self._mirror = mirror
        self.n = n
        self._dirty: dict[str, set[int]] = {}
        self._arrays = {name: group[name].with_config(FULL_CHUNKS)
                        for name in (*ARRAY_NAMES, "worker_names")}
        chunks = {name: ChunkWriter.of(path, arr) for name, arr in self._arrays.items()}
        # Chunks encoded and written in this thread (no event-loop hops); else through zarr.
        self._chunks = chunks if all(chunks.values()) else None
        if not group.attrs.get("chunk_files"):  # written before every chunk was a file: once more
            self._dirty = {name: set(range(-(-n // ROW_CHUNK))) for name in ARRAY_NAMES}
            self._workers_written = 0
        elif n % ROW_CHUNK:  # rows past n there may hold what a crash left uncommitted: fill them
            self._dirty = {name: {n // ROW_CHUNK} for name in ARRAY_NAMES}

    @classmethod
    def create(cls, path: str | Path, experiment: Mapping, param_names: list[str],
               trials: int, epochs: int) -> ResultsStore:
        """Create an empty store; refuses to overwrite anything already at ``path``."""
        path = Path(path)
        if path.exists() and any(path.iterdir()):
            raise StoreError(f"{path} already exists and is not empty; pass another --store or "
                             "open it to resume")
        # Built beside the target and renamed into place, so no reader ever sees half a store.
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        group = zarr.open_group(str(staging), mode="w-", zarr_format=3)
        for name, (tail, dtype, fill) in array_layout(len(param_names), trials, epochs).items():
            create_array(group, name, tail, dtype, fill)
        create_names(group)
        group.attrs.update({"experiment": json.loads(json.dumps(dict(experiment))),
                            "param_names": list(param_names), "created": time.time(),
                            "n_committed": 0, "n_workers": 0, "ganhpo_format": FORMAT_VERSION,
                            "chunk_files": True, "added_arrays": list(ADDED_ARRAYS)})
        lock = WriterLock.acquire(staging)  # the store appears with its lock already held
        try:
            if path.exists():
                path.rmdir()  # an empty directory, checked above
            os.replace(staging, path)
        except OSError:  # another driver created it first: its lock decides
            lock.release()
            shutil.rmtree(staging, ignore_errors=True)
            return cls.open(path)
        lock.path = path
        return cls.open(path, lock)

    @classmethod
    def open(cls, path: str | Path, lock: WriterLock | None = None) -> ResultsStore:
        """Open an existing store for writing (resume): take its lock, check it whole, load its
        committed rows. StoreLocked if another driver writes it, StoreDamaged if it is damaged."""
        group = open_group(path, "r+")
        lock = lock or WriterLock.acquire(path)
        try:
            return cls._load(group, str(path), lock)
        except BaseException:
            lock.release()
            raise

    @classmethod
    def _load(cls, group: zarr.Group, path: str, lock: WriterLock) -> ResultsStore:
        attrs = group.attrs.asdict()
        n = int(attrs.get("n_committed", 0))
        require_intact(path, group, attrs, n)
        trials = int(group["status"].shape[1])
        workers, errors = read_texts(group, attrs, 0, n, trials)
        if int(attrs["ganhpo_format"]) < 2:
            upgrade_format_1(group, attrs, n, workers, errors)
        missing = [name for name in ADDED_ARRAYS if name not in store_arrays(attrs)]
        for name in missing:  # a store from before the array existed: all fill
            tail, dtype, fill = array_layout(0, trials, 1)[name]
            create_array(group, name, tail, dtype, fill, n)[:n] = np.full((n, *tail), fill, dtype)
        if missing:
            group.attrs.update({"added_arrays": [*attrs.get("added_arrays", ()), *missing]})
        mirror = {name: read_checked(path, group, name, n) for name in ARRAY_NAMES if name != "error"}
        require_finite(path, mirror["status"], mirror["metric"])
        mirror["error"] = errors
        return cls(group, mirror, n, path, workers, lock)

    def close(self) -> None:
        """Release the store's lock (the last flush is the caller's); idempotent."""
        if self.lock is not None:
            self.lock.release()

    @property
    def trials(self) -> int:
        return self._mirror["status"].shape[1]

    @property
    def epochs(self) -> int:
        return self._mirror["epoch_metric"].shape[2]

    @property
    def errors(self) -> dict[str, str]:
        """Error texts of failed trials, keyed ``"arch/trial"`` (built on demand)."""
        return errors_dict(self._mirror["error"][: self.n])

    def array(self, name: str) -> np.ndarray:
        """A read-only view of the mirror's first ``n`` rows."""
        view = self._mirror[name][: self.n].view()
        view.flags.writeable = False
        return view

    def _grow(self, rows: int) -> None:
        for name, arr in self._mirror.items():
            if arr.shape[0] < rows:
                fill = array_layout(1, 1, 1)[name][2]
                extra = np.full((max(rows, 2 * arr.shape[0]) - arr.shape[0], *arr.shape[1:]),
                                fill, dtype=arr.dtype)
                self._mirror[name] = np.concatenate([arr, extra])

    def _touch(self, name: str, row: int) -> None:
        self._dirty.setdefault(name, set()).add(row // ROW_CHUNK)

    def add_architecture(self, row: np.ndarray, stage: str = "broad") -> int:
        """Append one architecture (all trials pending); returns its index."""
        a = self.n
        self._grow(a + 1)
        self.n += 1
        self._mirror["params"][a] = row
        self._mirror["stage"][a] = STAGES.index(stage)
        # The other arrays' new row holds their fill value, and so does their chunk file from the
        # last time it was written (rows past n are fill in the mirror): a chunk is written for a
        # new row only when the row starts it (its file must exist once the row is committed).
        for name in (self._mirror if a % ROW_CHUNK == 0 else ("params", "stage")):
            self._touch(name, a)
        return a

    def set(self, name: str, index: tuple | int, value: Any) -> None:
        """Set one element or slice of an array (e.g. ``set("metric", (a, t), 0.3)``)."""
        a = index[0] if isinstance(index, tuple) else index
        if not 0 <= a < self.n:
            raise IndexError(f"architecture {a} not in store (has {self.n})")
        self._mirror[name][index] = value
        self._touch(name, a)

    def worker_id(self, address: str | None) -> int:
        """A small integer for a worker name, added to the store's list on first sight."""
        if not address:
            return -1
        if address not in self._worker_index:
            self._worker_index[address] = len(self.workers)
            self.workers.append(address)
        return self._worker_index[address]

    def set_experiment(self, experiment: Mapping) -> None:
        """Record the experiment now driving the store (a resume may change budget or optimiser)."""
        self.experiment = json.loads(json.dumps(dict(experiment)))
        self.group.attrs["experiment"] = self.experiment

    def set_error(self, a: int, t: int, text: str) -> None:
        """Record the error text of trial t of architecture a (its last 2,000 characters)."""
        self.set("error", (a, t), text[-2000:])

    def flush(self) -> None:
        """Write dirty chunks (status last), then commit ``n_committed``: a crash loses at most
        the rows since the last flush, never half-commits one. A chunk stays dirty until it is
        written (an interrupted flush is redone whole); StoreWriteError if the disk refuses."""
        if self.lock is not None:
            self.lock.beat()
        if not self._dirty and self._workers_written == len(self.workers):
            return
        try:
            self._write_dirty()
        except OSError as err:
            reason = err.strerror or str(err)
            raise StoreWriteError(f"writing the store {self.path} failed ({reason}); it keeps "
                                  "every row flushed before; fix the cause (e.g. free disk space) "
                                  "and resume") from None

    def _write_dirty(self) -> None:
        rows = -(-self.n // ROW_CHUNK) * ROW_CHUNK  # arrays grow in whole chunks
        self._grow(rows)
        self._resize({name: rows for name in ARRAY_NAMES if self._dirty.get(name)})
        self._write_names()
        for name in ARRAY_NAMES:
            chunks = self._dirty.get(name)
            if not chunks:
                continue
            for lo, hi in _chunk_runs(chunks):
                self._write_rows(name, lo * ROW_CHUNK, self._mirror[name][lo * ROW_CHUNK:hi * ROW_CHUNK])
            del self._dirty[name]  # only now: an interrupted write is written again
            if FAULT_DELAY:
                time.sleep(FAULT_DELAY)
        attrs = self.group.attrs  # in memory: no I/O
        commit = {key: value for key, value in (("n_committed", self.n), ("n_workers", len(self.workers)),
                                                 ("chunk_files", True)) if attrs.get(key) != value}
        if commit:  # one write of the group's zarr.json, the commit point
            if self._chunks:
                write_group_metadata(self.path, self.group, commit)
            else:
                self.group.update_attributes(commit)

    def _resize(self, sizes: dict[str, int]) -> None:
        """Grow the arrays that need it to their sizes, all in one call to zarr's event loop."""
        grow = [(self._arrays[name]._async_array, size) for name, size in sizes.items()
                if self._arrays[name].shape[0] < size]
        if grow:
            sync(_resize_all(grow))

    def _write_rows(self, name: str, first: int, block: np.ndarray) -> None:
        """Write whole chunks of one array from row ``first`` (a chunk start)."""
        if self._chunks:
            self._chunks[name].write(first, block)
        else:
            self._arrays[name][first:first + len(block)] = block

    def _write_names(self) -> None:
        """Append the worker names first seen since the last flush (their chunks only)."""
        lo, hi = self._workers_written, len(self.workers)
        if lo == hi:
            return
        size = -(-hi // NAME_CHUNK) * NAME_CHUNK
        self._resize({"worker_names": size})
        start = (lo // NAME_CHUNK) * NAME_CHUNK
        block = np.full(size - start, "", dtype=TEXT)
        block[: hi - start] = self.workers[start:hi]
        self._write_rows("worker_names", start, block)
        self._workers_written = hi
