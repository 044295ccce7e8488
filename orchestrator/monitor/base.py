"""What every monitor component shares: a reader, a ColumnDataSource, a root model, update()."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
from bokeh.models import ColumnDataSource, LayoutDOM

from orchestrator.monitor.data import StoreReader
from orchestrator.store import Snapshot

__all__ = ["Component", "push", "to_ms"]


class Component(ABC):
    """A data source, a figure (``root``) and ``update()`` that refreshes the source from the store."""

    source: ColumnDataSource
    root: LayoutDOM

    def __init__(self, reader: StoreReader):
        self.reader = reader

    def update(self) -> None:
        """Read the store's committed rows (shared, rate-limited read) and refresh the sources."""
        self.render(self.reader.read())

    @abstractmethod
    def render(self, data: Snapshot) -> None:
        """Refresh this component's sources from one snapshot."""


def _same(old: object, new: np.ndarray) -> bool:
    old = np.asarray(old)
    if old.shape != new.shape:
        return False
    if new.dtype.kind == "f" and old.dtype.kind == "f":
        return bool(np.array_equal(old, new, equal_nan=True))
    return bool(np.array_equal(old, new))


def push(source: ColumnDataSource, new: dict[str, np.ndarray]) -> str:
    """Send ``new`` as the source's data, streaming only the tail when the old data is a prefix.

    Returns what was sent: "same" (nothing), "stream" (new rows only) or "replace" (everything).
    An empty source is always replaced, so that string columns never start out as numbers.
    """
    old = source.data
    n_new = len(next(iter(new.values()))) if new else 0
    n_old = len(next(iter(old.values()))) if old else 0
    if n_old and set(old) == set(new) and n_old <= n_new and all(
            _same(old[k], new[k][:n_old]) for k in new):
        if n_new == n_old:
            return "same"
        source.stream({k: v[n_old:] for k, v in new.items()})
        return "stream"
    source.data = dict(new)
    return "replace"


def to_ms(seconds: np.ndarray) -> np.ndarray:
    """Unix seconds to the milliseconds Bokeh's datetime axes expect."""
    return np.asarray(seconds, dtype=float) * 1000.0
