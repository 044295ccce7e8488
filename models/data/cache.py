"""A per-process dataset cache, so the trials one worker runs share one loaded or generated dataset."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

# Keys of a trial's data dict that shape the training loop, not the dataset itself.
TRAINING_KEYS = frozenset({"steps_per_epoch"})


def freeze(data: dict) -> tuple:
    """A hashable key for the dataset part of a data dict."""
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in data.items()
                        if k not in TRAINING_KEYS))


def cached(fn: Callable[[tuple], Any]) -> Callable[[dict], Any]:
    """Wrap ``fn(frozen data dict)`` so calls with equal data dicts reuse one result."""
    inner = functools.lru_cache(maxsize=4)(fn)
    return lambda data: inner(freeze(data))
