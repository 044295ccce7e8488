"""What a results store holds: the format version, the trial states, the arrays and their layout.

Layout (axis 0 = architectures, growing): ``params`` (A, P) values (categoricals: index);
``status`` (A, T) a ``TrialState``; ``metric``, ``best_epoch``, ``started``, ``finished``,
``worker``, ``diverged_at``, ``attempts`` (times started), ``error`` (text) (A, T);
``epoch_metric`` (A, T, E); ``stage``, ``n_params`` and ``pruned_at`` (A,: the rung epoch a
pruner stopped the architecture at, -1 none); ``worker_names`` (W,) the names ``worker`` indexes. The attributes
``n_committed`` and ``n_workers`` are written after the data, and readers only ever look at rows
below them. Format 1 (worker names and error texts in group attributes) is still read.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from orchestrator.experiment import STAGES

__all__ = ["ARRAY_NAMES", "DONE", "FAILED", "FINISHED", "FORMAT_VERSION", "NAME_CHUNK", "PENDING",
           "PRUNED", "ROW_CHUNK", "RUNNING", "STAGES", "STATUS_NAMES", "TEXT", "StoreError", "TrialState",
           "ADDED_ARRAYS", "added_rows", "array_layout", "create_array", "create_names",
           "diverged_rows", "errors_dict", "is_finished", "open_group", "read_texts"]

FORMAT_VERSION = 2


class TrialState(IntEnum):
    """A trial's state as stored in ``status``; DONE and above are finished."""

    PENDING = 0
    RUNNING = 1
    DONE = 2
    FAILED = 3
    PRUNED = 4  # stopped early by a pruner (its reported epochs kept; not a failure)

    def is_finished(self) -> bool:
        """True for a trial that will not run again (done, failed or pruned)."""
        return self >= TrialState.DONE


def is_finished(status: np.ndarray) -> np.ndarray:
    """Element-wise ``TrialState.is_finished`` over a ``status`` array."""
    return np.asarray(status) >= TrialState.DONE


PENDING, RUNNING, DONE, FAILED, PRUNED = (TrialState.PENDING, TrialState.RUNNING, TrialState.DONE,
                                          TrialState.FAILED, TrialState.PRUNED)
FINISHED = tuple(state for state in TrialState if state.is_finished())
STATUS_NAMES = {state: state.name.lower() for state in TrialState}
ROW_CHUNK = 128
NAME_CHUNK = 256
TEXT = np.dtypes.StringDType()
CHECKSUMMED = zarr.codecs.ZstdCodec(level=0, checksum=True)  # a damaged chunk fails to decode

# ``status`` is last: it is written last, so a reader that sees a trial finished sees its data.
ARRAY_NAMES = ("params", "stage", "n_params", "metric", "test_metric", "best_epoch", "started",
               "finished", "worker", "epoch_metric", "diverged_at", "attempts", "pruned_at",
               "error", "status")
# Arrays added to format 2 after its first stores: absent means every row holds the fill value
# (readers fill them in; opening for writing creates them, fill written, before any flush).
ADDED_ARRAYS = ("test_metric", "attempts", "pruned_at")


class StoreError(ValueError):
    """A path that is not a usable results store; the message says what to do."""


def array_layout(n_params: int, trials: int, epochs: int) -> dict[str, tuple[tuple, Any, Any]]:
    """Per array: trailing shape, dtype, fill value."""
    return {
        "params": ((n_params,), "f8", np.nan),
        "stage": ((), "i1", 0),
        "n_params": ((), "i8", -1),
        "metric": ((trials,), "f8", np.nan),
        "test_metric": ((trials,), "f8", np.nan),  # the selected epoch on the test split
        "best_epoch": ((trials,), "i4", -1),
        "started": ((trials,), "f8", np.nan),
        "finished": ((trials,), "f8", np.nan),
        "worker": ((trials,), "i2", -1),
        "epoch_metric": ((trials, epochs), "f4", np.nan),
        "diverged_at": ((trials,), "i4", -1),
        "attempts": ((trials,), "i2", 0),
        "pruned_at": ((), "i4", -1),
        "error": ((trials,), TEXT, ""),
        "status": ((trials,), "i1", PENDING),
    }


def create_array(group: zarr.Group, name: str, tail: tuple, dtype: Any, fill: Any,
                 rows: int = 0) -> zarr.Array:
    """Create (or replace) one row-chunked array of the layout with ``rows`` rows."""
    return group.create_array(name, shape=(rows, *tail), chunks=(ROW_CHUNK, *tail), dtype=dtype,
                              fill_value=fill, overwrite=True, compressors=CHECKSUMMED)


def create_names(group: zarr.Group) -> None:
    """Create the empty ``worker_names`` text array."""
    group.create_array("worker_names", shape=(0,), chunks=(NAME_CHUNK,), dtype=TEXT,
                       fill_value="", overwrite=True, compressors=CHECKSUMMED)


def open_group(path: str | Path, mode: str) -> zarr.Group:
    """The Zarr group of a store this ganhpo can read; StoreError (with the fix) otherwise."""
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


def added_rows(group: zarr.Group, name: str, lo: int, hi: int) -> np.ndarray:
    """Rows [lo, hi) of an array of ``ADDED_ARRAYS``; its fill value where the store has none."""
    if name in group:
        return np.asarray(group[name][lo:hi])
    trials = int(group["status"].shape[1])
    tail, dtype, fill = array_layout(0, trials, 1)[name]
    return np.full((max(hi - lo, 0), *tail), fill, dtype)


def diverged_rows(group: zarr.Group, lo: int, hi: int, trials: int) -> np.ndarray:
    """Rows [lo, hi) of ``diverged_at``; a format-1 store has none: nothing diverged there."""
    if "diverged_at" in group:
        return np.asarray(group["diverged_at"][lo:hi])
    return np.full((max(hi - lo, 0), trials), -1, "i4")
