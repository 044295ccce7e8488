"""A per-process dataset cache, so the trials one worker runs share one loaded or generated dataset."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

# Keys of a trial's data dict that shape the training loop, not the dataset itself.
TRAINING_KEYS = frozenset({"steps_per_epoch"})


# Keys of a data dict that say how to read a file; passed on to the family's loader.
FILE_KEYS = ("tree", "columns", "cut", "nonfinite")


def _hashable(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_hashable(v) for v in value)
    return value


def freeze(data: dict) -> tuple:
    """A hashable key for the dataset part of a data dict (nested dicts become sorted pairs)."""
    return tuple(sorted((k, _hashable(v)) for k, v in data.items() if k not in TRAINING_KEYS))


def file_options(data: dict) -> dict:
    """The file-reading options of a (thawed) data dict, ``columns`` back as a dict."""
    out = {k: data[k] for k in FILE_KEYS if data.get(k) is not None}
    if "columns" in out:
        out["columns"] = dict(out["columns"])
    return out


def cached(fn: Callable[[tuple], Any]) -> Callable[[dict], Any]:
    """Wrap ``fn(frozen data dict)`` so calls with equal data dicts reuse one result."""
    inner = functools.lru_cache(maxsize=4)(fn)
    return lambda data: inner(freeze(data))
