"""Reading a store for people: finished architectures, the best ones, failures, the text report."""

from __future__ import annotations

from collections import Counter

import numpy as np

from orchestrator.space import SearchSpace
from orchestrator.store import DONE, FAILED, Snapshot, read_store

__all__ = ["failures", "finished", "report", "top_architectures"]


def finished(snap: Snapshot) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of finished architectures with a finite mean, their means and stds."""
    if not snap.n:
        return np.zeros(0, int), np.zeros(0), np.zeros(0)
    mean, std = snap.arch_mean_std()
    idx = np.flatnonzero(snap.arch_done() & np.isfinite(mean))
    return idx, mean[idx], std[idx]


def top_architectures(snap: Snapshot, n: int = 10) -> list[dict]:
    """The n best finished architectures by mean metric, with std and trial counts; those with
    fewer than the experiment's ``min_ok`` successful trials come after all that have enough."""
    space = SearchSpace(snap.experiment["space"])
    mean, std = snap.arch_mean_std()
    rows = []
    for a in snap.ranked()[:n].tolist():
        rows.append({"arch": a, "mean": float(mean[a]), "std": float(std[a]),
                     "done": int(np.sum(snap.status[a] == DONE)),
                     "failed": int(np.sum(snap.status[a] == FAILED)),
                     "diverged": int(np.sum(snap.diverged_at[a] >= 0)) if snap.diverged_at is not None else 0,
                     "n_params": int(snap.n_params[a]) if snap.n_params is not None else -1,
                     "params": space.from_row(snap.params[a])})
    return rows


def _first_line(text: str) -> str:
    """The line of an error text that says what went wrong (the last non-empty one)."""
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    return lines[-1] if lines else "(no error text)"


def failures(snap: Snapshot) -> dict:
    """Failed trials: their count, each one's error, and the most common error lines first."""
    if not snap.n:
        return {"n_failed": 0, "n_trials": 0, "trials": [], "common": []}
    where = np.argwhere(snap.status == FAILED)
    trials = [{"arch": int(a), "trial": int(t),
               "error": _first_line(snap.errors.get(f"{a}/{t}", ""))} for a, t in where]
    common = Counter(f["error"] for f in trials).most_common()
    return {"n_failed": len(trials), "n_trials": int(snap.status.size),
            "trials": trials, "common": [{"error": e, "count": c} for e, c in common]}


def report(path: str, top: int = 10, failures_shown: int = 5) -> str:
    """A plain-text summary of a store: progress, the best architectures, failures and errors."""
    snap = read_store(path)
    exp = snap.experiment
    idx, _, _ = finished(snap)
    rows = top_architectures(snap, top)
    lines = [f"{path}: {exp.get('name')}: {int(snap.arch_done().sum())}/{exp['budget']} "
             f"architectures finished, {len(idx)} with a metric; "
             f"{int(np.sum(snap.status == FAILED))} failed trials"]
    if rows:
        lines.append(f"top {len(rows)} of {len(idx)} by mean metric over trials "
                     "(lower is better):")
    for r in rows:
        lines.append(f"  #{r['arch']:<4d} {r['mean']:.5g} +- {r['std']:.2g} "
                     f"({r['done']} ok, {r['failed']} failed)  {r['params']}")
    fail = failures(snap)
    if fail["n_failed"]:
        lines.append(f"failures: {fail['n_failed']} of {fail['n_trials']} trials; "
                     "most common errors:")
        for c in fail["common"][:failures_shown]:
            lines.append(f"  {c['count']:>4d} x {c['error']}")
        shown = ", ".join(f"{f['arch']}/{f['trial']}" for f in fail["trials"][:10])
        more = " ..." if fail["n_failed"] > 10 else ""
        lines.append(f"  failed trials (arch/trial): {shown}{more}")
    return "\n".join(lines)
