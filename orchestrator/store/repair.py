"""``repair``: keep every row of a damaged store that can be proven intact, re-queue the rest.

A row chunk is intact when every array's chunk file is there and decodes. In a damaged chunk
of a per-trial array, every trial of its rows goes back to pending (resume retrains it, with
its params kept); a done trial without a finite metric likewise. Rows whose ``params`` or
``stage`` are lost cannot be retrained: their trials are marked failed with the reason.
Missing arrays are recreated. The writer's lock is held throughout.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from orchestrator.store.integrity import find_damage, store_arrays, unfinite_done
from orchestrator.store.layout import (
    FAILED,
    PENDING,
    ROW_CHUNK,
    array_layout,
    create_array,
    open_group,
)
from orchestrator.store.lock import WriterLock

__all__ = ["RepairReport", "repair_store"]

ROW_ARRAYS = ("params", "stage", "n_params")  # per architecture; the others are per trial


@dataclass(frozen=True)
class RepairReport:
    """What ``repair_store`` did: rows kept whole, trials re-queued and failed, arrays rebuilt."""

    rows: int
    kept_trials: int
    requeued: int
    lost: int
    rebuilt: tuple[str, ...]

    def lines(self, path: str) -> list[str]:
        """The report printed by ``ganhpo repair``."""
        if not (self.requeued or self.lost or self.rebuilt):
            return [f"store {path} is intact: {self.rows} architectures, nothing to repair"]
        out = [f"kept {self.kept_trials} finished or pending trials of {self.rows} architectures",
               f"re-queued {self.requeued} trials (pending: `ganhpo run` retrains them)"]
        if self.lost:
            out.append(f"marked failed {self.lost} trials whose hyperparameters were lost")
        if self.rebuilt:
            out.append(f"rebuilt: {', '.join(self.rebuilt)}")
        return out


def _read_chunks(group, name: str, n: int, shape: tuple, dtype, fill) -> tuple[np.ndarray, set[int]]:
    """Rows [0, n) of an array chunk by chunk; the indices of chunks that do not decode."""
    out = np.full((n, *shape), fill, dtype=dtype)
    bad = set()
    for i in range(-(-n // ROW_CHUNK)):
        lo, hi = i * ROW_CHUNK, min(n, (i + 1) * ROW_CHUNK)
        try:
            out[lo:hi] = group[name][lo:hi]
        except Exception:  # noqa: BLE001 - any decode failure: the chunk is not intact
            bad.add(i)
    return out, bad


def repair_store(path: str | Path) -> RepairReport:
    """Repair the store at ``path`` in place (see the module docstring); returns what it did."""
    path = Path(path)
    group = open_group(path, "r+")
    lock = WriterLock.acquire(path)
    try:
        attrs = group.attrs.asdict()
        n = int(attrs.get("n_committed", 0))
        damage = find_damage(path, group, attrs, n)
        trials = int(attrs["experiment"]["trials"])
        epochs = int(attrs["experiment"]["epochs"])
        layout = array_layout(len(attrs["param_names"]), trials, epochs)
        data, bad_rows = {}, {name: set() for name in layout}
        for name in store_arrays(attrs):
            tail, dtype, fill = layout[name]
            what = damage.get(name)
            if isinstance(what, str):  # no usable array: every row of it is lost
                data[name] = np.full((n, *tail), fill, dtype=dtype)
                bad_rows[name] = set(range(-(-n // ROW_CHUNK)))
                continue
            data[name], bad_rows[name] = _read_chunks(group, name, n, tail, dtype, fill)
            bad_rows[name] |= set(what or [])
        requeue = np.zeros((n, trials), bool)
        for name, chunks in bad_rows.items():
            if name in ROW_ARRAYS[2:] or not chunks:
                continue
            for i in chunks:
                requeue[i * ROW_CHUNK:(i + 1) * ROW_CHUNK] = True
        requeue |= unfinite_done(data["status"], data["metric"])
        lost = np.zeros(n, bool)
        for name in ROW_ARRAYS[:2]:
            for i in bad_rows[name]:
                lost[i * ROW_CHUNK:(i + 1) * ROW_CHUNK] = True
        for name, (_, _, fill) in layout.items():  # the re-queued trials start afresh
            if name in ROW_ARRAYS or name not in data:
                continue
            data[name][requeue if data[name].ndim > 1 else requeue.any(axis=1)] = fill
        data["status"][requeue] = PENDING
        data["status"][lost] = FAILED
        if "error" in data:
            data["error"][lost] = "repair: this architecture's hyperparameters were lost"
        rebuilt = tuple(name for name, chunks in bad_rows.items() if chunks and name in data)
        changed = bool(requeue.any() or lost.any())
        for name in data:  # rewritten whole, every chunk a file, status last (ARRAY_NAMES order)
            if name not in rebuilt and not (changed and name not in ROW_ARRAYS):
                continue
            tail, dtype, fill = layout[name]
            rows = -(-n // ROW_CHUNK) * ROW_CHUNK
            arr = create_array(group, name, tail, dtype, fill, rows).with_config(
                {"write_empty_chunks": True})
            block = np.full((rows, *tail), fill, dtype=dtype)
            block[:n] = data[name]
            arr[:] = block
        group.attrs.update({"chunk_files": True})
        kept = int(np.sum(~requeue[~lost])) if n else 0
        return RepairReport(n, kept, int(requeue[~lost].sum()), int(lost.sum()) * trials, rebuilt)
    finally:
        lock.release()
