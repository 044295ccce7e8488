"""The single writer of a results store: an in-memory mirror of every array.

The writer flushes only the dirty row chunks (whole chunks, so nothing is read back), then the
attributes ``n_committed`` and ``n_workers``: a flush costs what changed, not the history.
A format-1 store is upgraded to format 2 when opened for writing.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from orchestrator.store.layout import (
    ARRAY_NAMES,
    FORMAT_VERSION,
    NAME_CHUNK,
    ROW_CHUNK,
    STAGES,
    TEXT,
    StoreError,
    add_pruned_at,
    array_layout,
    create_array,
    create_names,
    errors_dict,
    open_group,
    read_texts,
)
from orchestrator.store.upgrade import upgrade_format_1

__all__ = ["ResultsStore"]


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
                 workers: list[str]):
        self.group = group
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
        self._arrays = {name: group[name] for name in (*ARRAY_NAMES, "worker_names")}

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
                            "n_committed": 0, "n_workers": 0, "ganhpo_format": FORMAT_VERSION})
        if path.exists():
            path.rmdir()  # an empty directory, checked above
        os.replace(staging, path)
        return cls.open(path)

    @classmethod
    def open(cls, path: str | Path) -> ResultsStore:
        """Open an existing store for writing (resume), loading its committed rows."""
        group = open_group(path, "r+")
        attrs = group.attrs.asdict()
        n = int(attrs.get("n_committed", 0))
        trials = int(group["status"].shape[1])
        workers, errors = read_texts(group, attrs, 0, n, trials)
        if int(attrs["ganhpo_format"]) < 2:
            upgrade_format_1(group, attrs, n, workers, errors)
        add_pruned_at(group, int(group["status"].shape[0]))
        mirror = {name: np.asarray(group[name][:n]) for name in ARRAY_NAMES if name != "error"}
        mirror["error"] = errors
        return cls(group, mirror, n, str(path), workers)

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
        for name in self._mirror:
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
        the rows since the last flush, never half-commits one."""
        if not self._dirty and self._workers_written == len(self.workers):
            return
        rows = -(-self.n // ROW_CHUNK) * ROW_CHUNK  # arrays grow in whole chunks
        self._grow(rows)
        self._write_names()
        for name in ARRAY_NAMES:
            chunks = self._dirty.pop(name, None)
            if not chunks:
                continue
            target = self._arrays[name]
            if target.shape[0] < rows:
                target.resize((rows, *target.shape[1:]))
            for lo, hi in _chunk_runs(chunks):
                target[lo * ROW_CHUNK:hi * ROW_CHUNK] = self._mirror[name][lo * ROW_CHUNK:hi * ROW_CHUNK]
        self.group.attrs.update({"n_committed": self.n, "n_workers": len(self.workers)})

    def _write_names(self) -> None:
        """Append the worker names first seen since the last flush (their chunks only)."""
        lo, hi = self._workers_written, len(self.workers)
        if lo == hi:
            return
        target = self._arrays["worker_names"]
        size = -(-hi // NAME_CHUNK) * NAME_CHUNK
        if target.shape[0] < size:
            target.resize((size,))
        start = (lo // NAME_CHUNK) * NAME_CHUNK
        block = np.full(min(size, target.shape[0]) - start, "", dtype=TEXT)
        block[: hi - start] = self.workers[start:hi]
        target[start:start + len(block)] = block
        self._workers_written = hi
