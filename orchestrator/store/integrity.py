"""Integrity of a store on open: every array and chunk it should have up to ``n_committed``.

Checked on open for writing (resume) and for reading (``read_store``): each array's
``zarr.json`` is there and its shape holds the committed rows; every row chunk below
``n_committed`` is a file (stores written since the ``chunk_files`` attribute: every chunk is
written, fill values included) and decodes (chunks carry a zstd checksum); a done trial has a
finite metric. A damaged store is one line: what is damaged, and ``ganhpo repair STORE``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import zarr

from orchestrator.store.layout import ADDED_ARRAYS, ARRAY_NAMES, DONE, ROW_CHUNK, StoreError

__all__ = ["StoreDamaged", "chunk_file", "chunk_rows", "find_damage", "read_checked",
           "require_intact", "store_arrays", "unfinite_done"]


class StoreDamaged(StoreError):
    """Part of a store is missing or unreadable; the message says what and how to repair it."""


def store_arrays(attrs: dict) -> tuple[str, ...]:
    """The row arrays a store of this format has (format 1 has no ``error``, ``diverged_at``)."""
    if int(attrs.get("ganhpo_format", 1)) < 2:
        return tuple(n for n in ARRAY_NAMES if n not in ("error", "diverged_at", *ADDED_ARRAYS))
    has = attrs.get("added_arrays", ())  # arrays added to format 2 that this store was given
    return tuple(n for n in ARRAY_NAMES if n not in ADDED_ARRAYS or n in has)


def chunk_file(path: str | Path, name: str, ndim: int, i: int) -> Path:
    """The file of row chunk ``i`` of array ``name`` (Zarr v3 default key encoding)."""
    return Path(path, name, "c", str(i), *(["0"] * (ndim - 1)))


def chunk_rows(i: int, n: int) -> str:
    """The committed rows of chunk ``i``, as text."""
    return f"rows {i * ROW_CHUNK}-{min(n, (i + 1) * ROW_CHUNK) - 1}"


def find_damage(path: str | Path, group: zarr.Group, attrs: dict, n: int,
                names: Iterable[str] | None = None) -> dict[str, str | list[int]]:
    """Per damaged array: "missing", a shape problem (text), or its missing chunk indices."""
    damage: dict[str, str | list[int]] = {}
    check_files = bool(attrs.get("chunk_files"))
    trials = None
    for name in names or store_arrays(attrs):
        if not Path(path, name, "zarr.json").is_file():
            damage[name] = "missing"
            continue
        try:
            arr = group[name]
        except Exception as err:  # noqa: BLE001 - unreadable metadata is damage, whatever zarr says
            damage[name] = f"unreadable metadata ({type(err).__name__})"
            continue
        if arr.shape[0] < n:
            damage[name] = f"{arr.shape[0]} rows, {n} committed"
            continue
        if arr.ndim > 1 and name not in ("params",):
            if trials is None:
                trials = arr.shape[1]
            elif arr.shape[1] != trials:
                damage[name] = f"{arr.shape[1]} trials, other arrays {trials}"
                continue
        if check_files:
            missing = [i for i in range(-(-n // ROW_CHUNK))
                       if not chunk_file(path, name, arr.ndim, i).is_file()]
            if missing:
                damage[name] = missing
    return damage


def describe(damage: dict[str, str | list[int]], n: int) -> str:
    """The damage as one clause: "metric/zarr.json missing; status chunk rows 0-127 missing"."""
    parts = []
    for name, what in damage.items():
        if what == "missing":
            parts.append(f"{name}/zarr.json missing")
        elif isinstance(what, str):
            parts.append(f"{name}: {what}")
        else:
            rows = ", ".join(chunk_rows(i, n) for i in what[:3]) + (" ..." if len(what) > 3 else "")
            parts.append(f"{name}: {len(what)} chunk{'s' * (len(what) > 1)} missing ({rows})")
    return "; ".join(parts)


def damaged(path: str | Path, what: str) -> StoreDamaged:
    """The one-line error for a damaged store."""
    return StoreDamaged(f"store {path} is damaged: {what}; run `ganhpo repair {path}` to keep "
                        "every intact row and re-queue the rest (then resume with ganhpo run)")


def require_intact(path: str | Path, group: zarr.Group, attrs: dict, n: int,
                   names: Iterable[str] | None = None) -> None:
    """Raise StoreDamaged unless every array in ``names`` (default: all) is whole up to ``n``."""
    damage = find_damage(path, group, attrs, n, names)
    if damage:
        raise damaged(path, describe(damage, n))


def read_checked(path: str | Path, group: zarr.Group, name: str, n: int) -> np.ndarray:
    """Rows [0, n) of array ``name``; StoreDamaged if a chunk does not decode."""
    try:
        return np.asarray(group[name][:n])
    except Exception as err:  # noqa: BLE001 - a chunk that does not decode, whatever the codec says
        bad = []
        for i in range(-(-n // ROW_CHUNK)):
            try:
                group[name][i * ROW_CHUNK:min(n, (i + 1) * ROW_CHUNK)]
            except Exception:  # noqa: BLE001
                bad.append(chunk_rows(i, n))
        where = ", ".join(bad[:3]) or "?"
        raise damaged(path, f"{name}: chunk {where} does not decode ({type(err).__name__})") from None


def unfinite_done(status: np.ndarray, metric: np.ndarray) -> np.ndarray:
    """Mask of done trials without a finite metric (never written by a sound store)."""
    return (np.asarray(status) == DONE) & ~np.isfinite(np.asarray(metric, float))


def require_finite(path: str | Path, status: np.ndarray, metric: np.ndarray) -> None:
    """Raise StoreDamaged if a done trial has no finite metric."""
    bad = unfinite_done(status, metric)
    if bad.any():
        a, t = (int(v[0]) for v in np.nonzero(bad))
        raise damaged(path, f"{int(bad.sum())} done trials have no finite metric (first: "
                            f"architecture {a}, trial {t})")
