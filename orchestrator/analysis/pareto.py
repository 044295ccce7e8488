"""Multi-objective view: the Pareto front over (mean metric, trial std, model size), and `best` rules.

All objectives are minimised. Architectures of different stages trained for different numbers
of epochs, so the front is computed within each stage (``stage_front``), never across. Model size (``n_params``) is used only when every finished
architecture reports one (the store's fill value -1 means unknown).

Rules for choosing the best architecture (``select_best``):

- ``mean``: lowest mean metric over trials (the default, as in the paper).
- ``mean+Kstd`` (e.g. ``mean+2std``): lowest mean + K * std, a pessimistic bound.
- ``pareto-knee``: on the Pareto front, objectives rescaled to [0, 1] over the front, the
  architecture closest (Euclidean) to the ideal point (the front's per-objective minima).
- ``smallest-within:X%`` / ``smallest-within:X``: the smallest model whose mean is within X %
  of the best mean (|best| * X / 100) or within X in metric units; needs model sizes.
"""

from __future__ import annotations

import re

import numpy as np

from orchestrator.experiment import effective_min_ok
from orchestrator.store import STAGES, Snapshot

__all__ = ["RULES", "RuleError", "non_dominated", "pareto", "select_best", "stage_codes", "stage_front"]

RULES = "mean | mean+Kstd (e.g. mean+2std) | pareto-knee | smallest-within:X% | smallest-within:X"


class RuleError(ValueError):
    """A `best` rule that cannot be read or applied; the message shows the accepted forms."""


def non_dominated(points: np.ndarray, chunk: int = 512) -> np.ndarray:
    """Mask of rows no other row dominates (<= in every column, < in one); all minimised."""
    f = np.asarray(points, float)
    keep = np.ones(len(f), bool)
    for lo in range(0, len(f), chunk):
        block = f[lo:lo + chunk, None, :]  # (b, 1, k) against every row (1, n, k)
        le = np.all(f[None] <= block, axis=2)
        lt = np.any(f[None] < block, axis=2)
        keep[lo:lo + chunk] = ~np.any(le & lt, axis=1)
    return keep


def objectives(snap: Snapshot) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Finished architectures and their objective columns: mean, std and (if known) n_params.

    Only architectures with at least ``min_ok`` successful trials take part while any has them:
    a single surviving trial has std 0 and would look perfectly reliable.
    """
    idx, mean, std = snap.finished_means()
    reliable = snap.arch_ok()[idx] >= effective_min_ok(snap.experiment) if len(idx) else idx > 0
    if reliable.any():
        idx, mean, std = idx[reliable], mean[reliable], std[reliable]
    cols, names = [mean, std], ["mean", "std"]
    if len(idx) and snap.n_params is not None and np.all(snap.n_params[idx] >= 0):
        cols.append(snap.n_params[idx].astype(float))
        names.append("n_params")
    return idx, np.column_stack(cols) if len(idx) else np.zeros((0, len(names))), names


def stage_codes(snap: Snapshot, idx: np.ndarray) -> np.ndarray:
    """The stage (index into STAGES) of architectures idx; 0 for a store without stages."""
    return snap.stage[idx].astype(int) if snap.stage is not None else np.zeros(len(idx), int)


def stage_front(codes: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Mask of rows no row of the same stage dominates: stages are never compared."""
    mask = np.zeros(len(f), bool)
    for code in np.unique(codes):
        sel = codes == code
        mask[sel] = non_dominated(f[sel])
    return mask


def pareto(snap: Snapshot) -> dict:
    """Each stage's non-dominated architectures (by stage, then mean), with their objectives."""
    idx, f, names = objectives(snap)
    codes = stage_codes(snap, idx)
    mask = stage_front(codes, f)
    order = np.lexsort((f[mask, 0], codes[mask])) if mask.any() else np.zeros(0, int)
    stages = [STAGES[c] for c in np.unique(codes)]
    return {"objectives": names, "n_finished": len(idx), "stages": stages,
            "within_stage": len(stages) > 1,
            "front": [{"arch": int(idx[mask][k]), "stage": STAGES[codes[mask][k]],
                       **dict(zip(names, map(float, f[mask][k])))} for k in order]}


def _knee(f: np.ndarray) -> int:
    span = np.ptp(f, axis=0)
    z = (f - f.min(axis=0)) / np.where(span > 0, span, 1.0)
    return int(np.argmin(np.linalg.norm(z, axis=1)))


def select_best(snap: Snapshot, rule: str = "mean") -> dict:
    """The architecture a rule picks, as {arch, rule, mean, std, n_params, why}; see module doc."""
    idx, f, names = objectives(snap)
    if not len(idx):
        raise RuleError(f"best rule {rule!r}: no finished architecture with a metric yet")
    text = rule.strip().lower().replace(" ", "")
    k_std = re.fullmatch(r"mean\+(\d+(?:\.\d*)?)\*?std", text)
    within = re.fullmatch(r"smallest-within:(\d+(?:\.\d*)?)(%?)", text)
    if text == "mean":
        k, why = int(np.argmin(f[:, 0])), "lowest mean metric"
    elif k_std:
        score = f[:, 0] + float(k_std.group(1)) * f[:, 1]
        k, why = int(np.argmin(score)), f"lowest mean + {k_std.group(1)} std"
    elif text == "pareto-knee":
        front = np.flatnonzero(non_dominated(f))
        k = int(front[_knee(f[front])])
        why = f"Pareto front over ({', '.join(names)}), closest to the ideal point"
    elif within:
        if "n_params" not in names:
            raise RuleError(f"best rule {rule!r} needs model sizes (n_params), which this "
                            "store's trials did not report; use mean or pareto-knee")
        best = f[:, 0].min()
        tol = abs(best) * float(within.group(1)) / 100 if within.group(2) else float(within.group(1))
        near = np.flatnonzero(f[:, 0] <= best + tol)
        k = int(near[np.lexsort((f[near, 0], f[near, 2]))[0]])
        why = f"smallest model with mean <= {best + tol:.5g} (best {best:.5g} + {tol:.3g})"
    else:
        raise RuleError(f"best rule {rule!r} is not known; use one of: {RULES}")
    row = dict(zip(names, map(float, f[k])))
    return {"arch": int(idx[k]), "rule": rule, "why": why, **row}
