"""Format 1 -> 2: worker names and error texts move from group attributes into arrays."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import zarr

from orchestrator.store.layout import FORMAT_VERSION, TEXT, create_array, create_names

__all__ = ["upgrade_format_1"]


def upgrade_format_1(group: zarr.Group, attrs: Mapping, n: int, workers: list[str],
                     errors: np.ndarray) -> None:
    """Rewrite a format-1 store as format 2: new arrays first, then the attributes in one write
    (a crash before that leaves a format-1 store, upgraded again on the next open)."""
    trials = int(group["status"].shape[1])
    diverged = create_array(group, "diverged_at", (trials,), "i4", -1, n)
    diverged[:n] = np.full((n, trials), -1, "i4")
    text = create_array(group, "error", (trials,), TEXT, "", n)
    text[:n] = errors
    create_names(group)
    names = group["worker_names"]
    names.resize((len(workers),))
    if workers:
        names[:] = np.array(workers, dtype=TEXT)
    new = {k: v for k, v in attrs.items() if k not in ("workers", "errors")}
    group.attrs.put({**new, "n_workers": len(workers), "ganhpo_format": FORMAT_VERSION})
