"""Reading a store for people: finished architectures, the best ones, failures, the text report."""

from __future__ import annotations

from collections import Counter

import numpy as np

from orchestrator.space import SearchSpace
from orchestrator.store import DONE, FAILED, PRUNED, Snapshot, mean_std, read_store
from orchestrator.store.view import trial_epochs

__all__ = ["data_file", "failures", "metric_name", "report", "top_architectures"]

# What each model family's trial returns as "metric" (models/ is not imported here).
METRICS = {
    "hadronization": "mean per-column 1-D Wasserstein distance, generated vs validation events "
                     "(scaled features)",
    "dimuon": "mean per-column 1-D Wasserstein distance, generated vs validation events "
              "(scaled features)",
    "calo3d": "sampling-fraction mean relative error over primary-energy bins (validation showers)",
    "calo_wgan": "mean chi^2/ndf of the total-energy histograms over incident energies "
                 "(validation showers)",
}


def top_architectures(snap: Snapshot, n: int = 10) -> list[dict]:
    """The n best finished architectures by mean metric, with std and trial counts; those with
    fewer than the experiment's ``min_ok`` successful trials come after all that have enough."""
    space = SearchSpace(snap.experiment["space"])
    mean, std = snap.arch_mean_std()
    pruned = snap.arch_pruned()
    if pruned.any():  # a pruned architecture shows the mean of its trials' best reported epochs
        early, spread = mean_std(snap.metric, (snap.status == DONE) | (snap.status == PRUNED))
        mean, std = np.where(pruned, early, mean), np.where(pruned, spread, std)
    rows = []
    for a in snap.ranked()[:n].tolist():
        rows.append({"arch": a, "mean": float(mean[a]), "std": float(std[a]),
                     "done": int(np.sum(snap.status[a] == DONE)),
                     "failed": int(np.sum(snap.status[a] == FAILED)),
                     "pruned_at": int(snap.pruned_at[a]) if pruned[a] else -1,
                     "diverged": int(np.sum(snap.diverged_at[a] >= 0)) if snap.diverged_at is not None else 0,
                     "n_params": int(snap.n_params[a]) if snap.n_params is not None else -1,
                     "params": space.from_row(snap.params[a])})
    return rows


def metric_name(experiment: dict) -> str:
    """What the stored metric is: the model family's, else the trial function's ``metric``."""
    model = str(experiment.get("model") or "")
    where = f"best epoch of each trial, model {model}" if model else "per trial"
    what = METRICS.get(model, f"the 'metric' returned by {experiment.get('trial', 'the trial')}")
    return f"{what}; {where}; lower is better"


def data_file(experiment: dict) -> str:
    """The data file the search trained on, or what it used instead."""
    data = experiment.get("data") or {}
    if data.get("path"):
        tree = f" (tree {data['tree']})" if data.get("tree") else ""
        return f"{data['path']}{tree}"
    return "none (the trial generates or loads its own data)"


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


def report(path: str, top: int = 10, failures_shown: int = 5,
           importance: dict | None = None) -> str:
    """A plain-text summary of a store: progress, the best architectures, importance, failures.

    ``importance`` is a ``sensitivity`` result to show (computed here when None; ``{}``: none).
    """
    snap = read_store(path)
    exp = snap.experiment
    space = SearchSpace(exp["space"])
    idx, _, _ = snap.finished_means()
    rows = top_architectures(snap, top)
    lines = [f"{path}: {exp.get('name')}: {int(snap.arch_done().sum())}/{exp['budget']} "
             f"architectures finished, {len(idx)} with a metric; "
             f"{int(np.sum(snap.status == FAILED))} failed trials{_pruned_text(snap)}",
             f"data: {data_file(exp)}", f"metric: {metric_name(exp)}"]
    if rows:
        lines.append(f"top {len(rows)} of {len(idx)} by mean metric over trials "
                     "(lower is better):")
    for r in rows:
        lines.append(f"  #{r['arch']:<4d} {r['mean']:.5g} +- {r['std']:.2g} "
                     f"({r['done']} ok, {r['failed']} failed{_pruned_at(r)})  "
                     f"{space.format_point(r['params'])}")
    if importance is None:
        from orchestrator.analysis.sensitivity import sensitivity

        importance = sensitivity(snap)
    if importance:
        from orchestrator.analysis.sensitivity import describe

        lines += describe(importance)
    lines += _failure_lines(snap, failures_shown)
    return "\n".join(lines)


def _pruned_text(snap: Snapshot) -> str:
    """'; N architectures pruned, X of Y trial-epochs' when a pruner stopped any."""
    n = int(snap.arch_pruned().sum())
    if not n:
        return ""
    spent, full = trial_epochs(snap.status, snap.epoch_metric)
    return f"; {n} architectures pruned, {spent} of {full} trial-epochs at full length"


def _pruned_at(row: dict) -> str:
    return f", pruned at epoch {row['pruned_at'] + 1}" if row.get("pruned_at", -1) >= 0 else ""


def _failure_lines(snap: Snapshot, shown: int) -> list[str]:
    fail = failures(snap)
    if not fail["n_failed"]:
        return []
    lines = [f"failures: {fail['n_failed']} of {fail['n_trials']} trials; most common errors:"]
    lines += [f"  {c['count']:>4d} x {c['error']}" for c in fail["common"][:shown]]
    more = " ..." if fail["n_failed"] > 10 else ""
    lines.append("  failed trials (arch/trial): "
                 + ", ".join(f"{f['arch']}/{f['trial']}" for f in fail["trials"][:10]) + more)
    return lines
