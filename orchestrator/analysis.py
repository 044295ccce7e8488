"""Reading a finished (or running) search: best architectures, convergence, focus derivation."""

from __future__ import annotations

import numpy as np

from orchestrator.space import SearchSpace
from orchestrator.store import DONE, FAILED, Snapshot, read_store

__all__ = ["focus_experiment", "report", "top_architectures"]


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
                     "diverged": int(np.sum(snap.diverged_at[a] >= 0)),
                     "params": space.from_row(snap.params[a])})
    return rows


def report(path: str, top: int = 10) -> str:
    """A plain-text summary of a store: progress, failures and the best architectures."""
    snap = read_store(path)
    exp = snap.experiment
    lines = [f"{path}: {exp.get('name')} — {int(snap.arch_done().sum())}/{exp['budget']} architectures "
             f"finished, {int(np.sum(snap.status == FAILED))} failed trials"]
    for r in top_architectures(snap, top):
        lines.append(f"  #{r['arch']:<4d} {r['mean']:.5g} +- {r['std']:.2g} "
                     f"({r['done']} ok, {r['failed']} failed)  {r['params']}")
    return "\n".join(lines)


def focus_experiment(path: str, eps: float = 0.1, budget: int | None = None) -> dict:
    """A new experiment (as a dict for YAML) searching [best +- eps] of a finished store."""
    snap = read_store(path)
    best = top_architectures(snap, 1)
    if not best:
        raise ValueError(f"{path}: no finished architecture to focus on yet")
    space = SearchSpace(snap.experiment["space"])
    spec = {k: v for k, v in snap.experiment.items() if v is not None}
    spec.update(space=space.focus(best[0]["params"], eps).to_dict(), stage="focus",
                name=f"{spec.get('name', 'experiment')}_focus", store=None)
    spec.pop("store")
    if budget:
        spec["budget"] = budget
    return spec
