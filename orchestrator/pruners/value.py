"""What the optimiser is told for a pruned architecture (it is not just missing)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

__all__ = ["pruned_value"]


def pruned_value(rung_value: float, threshold: float, full_length_values: Iterable[float] = (),
                 quantile: float = 0.9) -> float:
    """The value told for a pruned architecture: its rung value made worse by its gap to the
    promotion threshold, or the ``quantile`` of the full-length results so far, whichever is worse.

    Both terms are pessimistic on purpose: a rung value is measured earlier than the full-length
    metric (curves fall, so it already reads worse), the gap says how far outside the promotion
    set it was, and the full-length quantile keeps a pruned point among the worse ones even when
    early values are on a smaller scale than final ones. It never reads better than a typical
    finished architecture, so the surrogate stops proposing the pruned region, and it stays on
    the metric's scale (no huge penalty that would flatten the surrogate elsewhere).
    """
    rung_value, threshold = float(rung_value), float(threshold)
    if not math.isfinite(rung_value):
        raise ValueError(f"pruned_value: rung_value={rung_value!r} must be finite")
    if not 0.0 <= quantile <= 1.0:
        raise ValueError(f"pruned_value: quantile={quantile!r} must be in [0, 1], e.g. 0.9")
    gap = rung_value - threshold if math.isfinite(threshold) else 0.0
    told = rung_value + max(gap, 0.0)
    full = np.asarray([v for v in full_length_values if math.isfinite(float(v))], float)
    if full.size:
        told = max(told, float(np.quantile(full, quantile)))
    return told
