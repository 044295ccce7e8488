"""The Zarr v3 results store: one writer (the driver), any number of readers.

Layout (axis 0 = architectures, growing): ``params`` (A, P) values (categoricals: index);
``status`` (A, T) PENDING/RUNNING/DONE/FAILED; ``metric``, ``best_epoch``, ``started``,
``finished``, ``worker`` (A, T); ``epoch_metric`` (A, T, E); ``stage`` and ``n_params`` (A,).
The writer keeps an in-memory mirror and flushes dirty row ranges in batches; the attribute
``n_committed`` is written after the data, and readers only ever look at rows below it.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import zarr

FORMAT_VERSION = 1
PENDING, RUNNING, DONE, FAILED = 0, 1, 2, 3
STATUS_NAMES = {PENDING: "pending", RUNNING: "running", DONE: "done", FAILED: "failed"}
STAGES = ("broad", "focus")
ROW_CHUNK = 128

ARRAY_NAMES = ("params", "stage", "n_params", "metric", "best_epoch", "started", "finished",
               "worker", "epoch_metric", "status")

__all__ = ["DONE", "FAILED", "PENDING", "RUNNING", "ResultsStore", "Snapshot", "StoreError",
           "check_store", "read_store"]


class StoreError(ValueError):
    """A path that is not a usable results store; the message says what to do."""


def _layout(n_params: int, trials: int, epochs: int) -> dict[str, tuple[tuple, str, Any]]:
    """Per array: trailing shape, dtype, fill value. ``status`` is last so it is written last."""
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
        return np.all(self.arrays["status"] >= DONE, axis=1) if self.n else np.zeros(0, bool)

    def arch_mean_std(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std of the metric over each architecture's successful trials (NaN if none)."""
        metric = np.where(self.arrays["status"] == DONE, self.arrays["metric"], np.nan)
        with np.errstate(invalid="ignore"), _quiet():
            return np.nanmean(metric, axis=1), np.nanstd(metric, axis=1)


class _quiet:
    def __enter__(self):
        import warnings
        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._w.__exit__(*exc)


def check_store(path: str | Path) -> dict:
    """The attributes of a results store, after checking it is one this ganhpo can read."""
    return _open_group(path, "r").attrs.asdict()


def read_store(path: str | Path, arrays: tuple[str, ...] | None = None) -> Snapshot:
    """Read the committed rows (all arrays, or just ``arrays``) of a store; never writes."""
    group = _open_group(path, "r")
    attrs = group.attrs.asdict()
    n = int(attrs.get("n_committed", 0))
    names = arrays or ARRAY_NAMES
    data = {name: group[name][:n] for name in names}
    return Snapshot(str(path), attrs["experiment"], list(attrs["param_names"]),
                    list(attrs.get("workers", [])), dict(attrs.get("errors", {})),
                    float(attrs.get("created", 0.0)), data)


class ResultsStore:
    """The single writer: an in-memory mirror of every array, flushed in dirty row ranges."""

    def __init__(self, group: zarr.Group, mirror: dict[str, np.ndarray], n: int, path: str):
        self.group = group
        self.path = path
        attrs = group.attrs.asdict()
        self.experiment: dict = attrs["experiment"]
        self.param_names: list[str] = list(attrs["param_names"])
        self.workers: list[str] = list(attrs.get("workers", []))
        self.errors: dict[str, str] = dict(attrs.get("errors", {}))
        self._mirror = mirror
        self.n = n
        self._dirty: dict[str, list[int]] = {}
        self._attrs_dirty = False

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
            group.create_array(name, shape=(0, *tail), chunks=(ROW_CHUNK, *tail), dtype=dtype,
                               fill_value=fill)
        group.attrs.update({"experiment": json.loads(json.dumps(dict(experiment))),
                            "param_names": list(param_names), "workers": [], "errors": {},
                            "created": time.time(), "n_committed": 0,
                            "ganhpo_format": FORMAT_VERSION})
        if path.exists():
            path.rmdir()  # an empty directory, checked above
        os.replace(staging, path)
        return cls.open(path)

    @classmethod
    def open(cls, path: str | Path) -> ResultsStore:
        """Open an existing store for writing (resume), loading its committed rows."""
        group = _open_group(path, "r+")
        n = int(group.attrs.get("n_committed", 0))
        mirror = {name: np.asarray(group[name][:n]) for name in ARRAY_NAMES}
        return cls(group, mirror, n, str(path))

    @property
    def trials(self) -> int:
        return self._mirror["status"].shape[1]

    @property
    def epochs(self) -> int:
        return self._mirror["epoch_metric"].shape[2]

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
        lo_hi = self._dirty.setdefault(name, [row, row + 1])
        lo_hi[0], lo_hi[1] = min(lo_hi[0], row), max(lo_hi[1], row + 1)

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
        if address not in self.workers:
            self.workers.append(address)
            self._attrs_dirty = True
        return self.workers.index(address)

    def set_experiment(self, experiment: Mapping) -> None:
        """Record the experiment now driving the store (a resume may change budget or optimiser)."""
        self.experiment = json.loads(json.dumps(dict(experiment)))
        self.group.attrs["experiment"] = self.experiment

    def set_error(self, a: int, t: int, text: str) -> None:
        self.errors[f"{a}/{t}"] = text[-2000:]
        self._attrs_dirty = True

    def flush(self) -> None:
        """Write dirty rows (status last), then commit ``n_committed``: a crash loses at most
        the rows since the last flush, never half-commits one."""
        if not self._dirty and not self._attrs_dirty:
            return
        for name in ARRAY_NAMES:
            if name not in self._dirty:
                continue
            lo, hi = self._dirty.pop(name)
            target = self.group[name]
            if target.shape[0] < self.n:
                target.resize((self.n, *target.shape[1:]))
            target[lo:hi] = self._mirror[name][lo:hi]
        self.group.attrs.update({"n_committed": self.n, "workers": self.workers,
                                 "errors": self.errors})
        self._attrs_dirty = False
