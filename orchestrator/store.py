"""The Zarr v3 results store: one writer (the driver), any number of readers.

Layout (axis 0 = architectures, growing): ``params`` (A, P) values (categoricals: index);
``status`` (A, T) PENDING/RUNNING/DONE/FAILED; ``metric``, ``best_epoch``, ``started``,
``finished``, ``worker``, ``diverged_at``, ``error`` (text) (A, T); ``epoch_metric`` (A, T, E);
``stage`` and ``n_params`` (A,); ``worker_names`` (W,) the names ``worker`` indexes.
The writer keeps an in-memory mirror and flushes only the dirty row chunks (whole chunks, so
nothing is read back); the attributes ``n_committed`` and ``n_workers`` are written after the
data, and readers only ever look at rows below them. A flush costs what changed, not the history.
Format 1 (worker names and error texts in group attributes) is still read, and upgraded to
format 2 when opened for writing.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from orchestrator.experiment import STAGES, effective_min_ok

FORMAT_VERSION = 2


class TrialState(IntEnum):
    """A trial's state as stored in ``status``; DONE and above are finished."""

    PENDING = 0
    RUNNING = 1
    DONE = 2
    FAILED = 3
    PRUNED = 4  # reserved: stopped early by a pruner (kept epochs, not a failure)

    def is_finished(self) -> bool:
        """True for a trial that will not run again (done, failed or pruned)."""
        return self >= TrialState.DONE


def is_finished(status: np.ndarray) -> np.ndarray:
    """Element-wise ``TrialState.is_finished`` over a ``status`` array."""
    return np.asarray(status) >= TrialState.DONE


PENDING, RUNNING, DONE, FAILED = (TrialState.PENDING, TrialState.RUNNING, TrialState.DONE,
                                  TrialState.FAILED)
STATUS_NAMES = {state: state.name.lower() for state in TrialState}
ROW_CHUNK = 128
NAME_CHUNK = 256
TEXT = np.dtypes.StringDType()

# ``status`` is last: it is written last, so a reader that sees a trial finished sees its data.
ARRAY_NAMES = ("params", "stage", "n_params", "metric", "best_epoch", "started", "finished",
               "worker", "epoch_metric", "diverged_at", "error", "status")
V2_ARRAYS = ("diverged_at", "error")  # absent from format-1 stores

__all__ = ["DONE", "FAILED", "PENDING", "RUNNING", "ResultsStore", "Snapshot", "StoreError",
           "TrialState", "check_store", "is_finished", "read_store"]


class StoreError(ValueError):
    """A path that is not a usable results store; the message says what to do."""


def _layout(n_params: int, trials: int, epochs: int) -> dict[str, tuple[tuple, Any, Any]]:
    """Per array: trailing shape, dtype, fill value."""
    return {
        "params": ((n_params,), "f8", np.nan),
        "stage": ((), "i1", 0),
        "n_params": ((), "i8", -1),
        "metric": ((trials,), "f8", np.nan),
        "best_epoch": ((trials,), "i4", -1),
        "started": ((trials,), "f8", np.nan),
        "finished": ((trials,), "f8", np.nan),
        "worker": ((trials,), "i2", -1),
        "epoch_metric": ((trials, epochs), "f4", np.nan),
        "diverged_at": ((trials,), "i4", -1),
        "error": ((trials,), TEXT, ""),
        "status": ((trials,), "i1", PENDING),
    }


def _open_group(path: str | Path, mode: str) -> zarr.Group:
    path = Path(path)
    if not (path / "zarr.json").is_file():
        raise StoreError(f"{path} is not a ganhpo results store (no zarr.json there); "
                         "give the store path a run wrote, e.g. runs/quickstart.zarr")
    try:
        group = zarr.open_group(str(path), mode=mode, zarr_format=3, use_consolidated=False)
    except Exception as err:  # noqa: BLE001 - any zarr failure means "not our store"
        raise StoreError(f"{path} is not a readable Zarr v3 group ({err})") from None
    version = group.attrs.get("ganhpo_format")
    if version is None:
        raise StoreError(f"{path} is a Zarr group but not a ganhpo results store "
                         "(attribute 'ganhpo_format' missing)")
    if int(version) > FORMAT_VERSION:
        raise StoreError(f"{path} was written by store format {version}, newer than this ganhpo "
                         f"reads ({FORMAT_VERSION}); upgrade ganhpo: pip install -U ganhpo")
    return group


def errors_dict(text: np.ndarray) -> dict[str, str]:
    """The ``"arch/trial" -> text`` mapping of the non-empty entries of an ``error`` array."""
    return {f"{a}/{t}": str(text[a, t]) for a, t in zip(*np.nonzero(text != ""), strict=True)}


def _errors_array(errors: Mapping[str, str], n: int, trials: int) -> np.ndarray:
    """A format-1 ``errors`` attribute as an (n, trials) text array."""
    out = np.full((n, trials), "", dtype=TEXT)
    for key, text in errors.items():
        a, t = map(int, key.split("/"))
        if a < n:
            out[a, t] = text
    return out


def read_texts(group: zarr.Group, attrs: Mapping, lo: int, hi: int,
               trials: int) -> tuple[list[str], np.ndarray]:
    """Worker names (all committed) and the ``error`` rows [lo, hi), from either format."""
    if int(attrs.get("ganhpo_format", 1)) < 2:
        errors = _errors_array(attrs.get("errors", {}), hi, trials)[lo:hi]
        return list(attrs.get("workers", [])), errors
    names = group["worker_names"][: int(attrs.get("n_workers", 0))]
    return [str(s) for s in names], np.asarray(group["error"][lo:hi], dtype=TEXT)


@dataclass
class Snapshot:
    """A read-only view of the committed rows of a store (numpy arrays, axis 0 = architectures)."""

    path: str
    experiment: dict
    param_names: list[str]
    workers: list[str]
    errors: dict[str, str]
    created: float
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.arrays["status"]) if self.arrays else 0

    def __getattr__(self, name: str) -> np.ndarray:
        arrays = self.__dict__.get("arrays", {})
        if name in arrays:
            return arrays[name]
        raise AttributeError(name)

    def arch_done(self) -> np.ndarray:
        """Mask of architectures whose trials have all finished (done or failed)."""
        return np.all(is_finished(self.arrays["status"]), axis=1) if self.n else np.zeros(0, bool)

    def arch_mean_std(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and sample std (ddof 1) of each architecture's successful trials.

        NaN where none succeeded; std 0 where exactly one did (one trial shows no spread).
        """
        return mean_std(self.arrays["metric"], self.arrays["status"] == DONE)

    def arch_ok(self) -> np.ndarray:
        """Number of successful trials per architecture."""
        return np.sum(self.arrays["status"] == DONE, axis=1)

    def ranked(self, min_ok: int | None = None) -> np.ndarray:
        """Finished architectures with a successful trial, best first: those with at least
        ``min_ok`` successes (default: the experiment's) by mean, then the others by mean."""
        if not self.n:
            return np.zeros(0, int)
        return rank(self.arrays["status"], self.arch_mean_std()[0],
                    min_ok or effective_min_ok(self.experiment))


def rank(status: np.ndarray, mean: np.ndarray, min_ok: int) -> np.ndarray:
    """Finished architectures with a finite mean, best first: those with at least ``min_ok``
    successful trials by mean, then the others by mean (ties: lower index first)."""
    idx = np.flatnonzero(np.all(is_finished(status), axis=1) & np.isfinite(mean))
    short = np.sum(status[idx] == DONE, axis=1) < min_ok
    return idx[np.lexsort((idx, mean[idx], short))]


def mean_std(metric: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise mean and sample std (ddof 1; 0 for one value; NaN for none) of ``metric[ok]``."""
    count = ok.sum(axis=1)
    values = np.where(ok, metric, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = values.sum(axis=1) / count
        dev = np.where(ok, metric - mean[:, None], 0.0)
        std = np.sqrt((dev**2).sum(axis=1) / np.maximum(count - 1, 1))
    return mean, np.where(count > 0, std, np.nan)


def check_store(path: str | Path) -> dict:
    """The attributes of a results store, after checking it is one this ganhpo can read."""
    return _open_group(path, "r").attrs.asdict()


def read_store(path: str | Path, arrays: tuple[str, ...] | None = None) -> Snapshot:
    """Read the committed rows (all arrays, or just ``arrays``) of a store; never writes."""
    group = _open_group(path, "r")
    attrs = group.attrs.asdict()
    n = int(attrs.get("n_committed", 0))
    trials = int(group["status"].shape[1])
    workers, errors = read_texts(group, attrs, 0, n, trials)
    data = {}
    for name in arrays or ARRAY_NAMES:
        if name == "error":
            data[name] = errors
        elif name in group:
            data[name] = group[name][:n]
        else:  # a format-1 store has no diverged_at: nothing diverged there
            data[name] = np.full((n, trials), -1, "i4")
    return Snapshot(str(path), attrs["experiment"], list(attrs["param_names"]), workers,
                    errors_dict(errors), float(attrs.get("created", 0.0)), data)


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
        for name, (tail, dtype, fill) in _layout(len(param_names), trials, epochs).items():
            _create_array(group, name, tail, dtype, fill)
        _create_names(group)
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
        group = _open_group(path, "r+")
        attrs = group.attrs.asdict()
        n = int(attrs.get("n_committed", 0))
        trials = int(group["status"].shape[1])
        workers, errors = read_texts(group, attrs, 0, n, trials)
        if int(attrs["ganhpo_format"]) < 2:
            _upgrade(group, attrs, n, workers, errors)
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
                fill = _layout(1, 1, 1)[name][2]
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


def _create_array(group: zarr.Group, name: str, tail: tuple, dtype: Any, fill: Any,
                  rows: int = 0) -> zarr.Array:
    return group.create_array(name, shape=(rows, *tail), chunks=(ROW_CHUNK, *tail), dtype=dtype,
                              fill_value=fill, overwrite=True)


def _create_names(group: zarr.Group) -> None:
    group.create_array("worker_names", shape=(0,), chunks=(NAME_CHUNK,), dtype=TEXT,
                       fill_value="", overwrite=True)


def _upgrade(group: zarr.Group, attrs: Mapping, n: int, workers: list[str],
             errors: np.ndarray) -> None:
    """Rewrite a format-1 store as format 2: new arrays first, then the attributes in one write
    (a crash before that leaves a format-1 store, upgraded again on the next open)."""
    trials = int(group["status"].shape[1])
    diverged = _create_array(group, "diverged_at", (trials,), "i4", -1, n)
    diverged[:n] = np.full((n, trials), -1, "i4")
    text = _create_array(group, "error", (trials,), TEXT, "", n)
    text[:n] = errors
    _create_names(group)
    names = group["worker_names"]
    names.resize((len(workers),))
    if workers:
        names[:] = np.array(workers, dtype=TEXT)
    new = {k: v for k, v in attrs.items() if k not in ("workers", "errors")}
    group.attrs.put({**new, "n_workers": len(workers), "ganhpo_format": FORMAT_VERSION})
