"""Reading a store for people: finished architectures, the best ones, failures, the text report."""

from __future__ import annotations

from collections import Counter

import numpy as np

from orchestrator.space import SearchSpace
from orchestrator.store import DONE, FAILED, PRUNED, STAGES, Snapshot, mean_std, read_store
from orchestrator.store.view import trial_epochs

__all__ = ["data_file", "failures", "metric_name", "report", "stage_epochs", "stage_tops",
           "test_mean_std", "top_architectures"]

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


SPLITS = ("validation: the metric on the validation events, which chose each trial's best epoch; "
          "test: the same metric of that epoch's generator on the test events, which took part "
          "in neither training nor selection ('-': no test metric stored)")


def test_mean_std(snap: Snapshot) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per architecture: mean and std (ddof 1) of the stored test metric over successful trials
    that have one, and their count (mean NaN where none)."""
    test = snap.test_metric if snap.test_metric is not None else np.full(snap.status.shape, np.nan)
    ok = (snap.status == DONE) & np.isfinite(test)
    mean, std = mean_std(np.where(ok, test, 0.0), ok)
    return mean, std, ok.sum(axis=1)


def stage_epochs(experiment: dict, stage: str) -> int:
    """The epochs each trial of ``stage`` trained for (the experiment's epochs without stages)."""
    for s in experiment.get("stages") or []:
        if s["name"] == stage:
            return int(s["epochs"])
    return int(experiment.get("epochs", 0))


def stage_tops(snap: Snapshot, n: int = 10) -> list[dict]:
    """Rankings that compare like with like: per stage present (in order) its name, epochs,
    number ranked and top n (``top_architectures``); one entry, ranked as ``Snapshot.ranked``,
    for a store of one stage. The last entry's first row is the final stage's best."""
    stages = snap.stage.astype(int) if snap.stage is not None and snap.n else np.zeros(snap.n, int)
    present = sorted(set(stages.tolist())) or [0]
    out = []
    for i in present:
        ranked = snap.ranked()  # the global order restricted to the stage ranks within it
        order = ranked if len(present) == 1 else ranked[stages[ranked] == i]
        out.append({"stage": STAGES[i], "epochs": stage_epochs(snap.experiment, STAGES[i]),
                    "n_ranked": len(order), "top": top_architectures(snap, n, order)})
    return out


def top_architectures(snap: Snapshot, n: int = 10, order: np.ndarray | None = None) -> list[dict]:
    """The n best finished architectures by mean metric, with std, test metric and trial counts;
    those with fewer than the experiment's ``min_ok`` successful trials come after all that have
    enough. ``order``: rank these architectures instead (``stage_tops``)."""
    space = SearchSpace(snap.experiment["space"])
    mean, std = snap.arch_mean_std()
    pruned = snap.arch_pruned()
    if pruned.any():  # a pruned architecture shows the mean of its trials' best reported epochs
        early, spread = mean_std(snap.metric, (snap.status == DONE) | (snap.status == PRUNED))
        mean, std = np.where(pruned, early, mean), np.where(pruned, spread, std)
    t_mean, t_std, t_n = test_mean_std(snap) if snap.n else (mean, std, np.zeros(0, int))
    stages = snap.stage_names() if snap.stage is not None else np.full(snap.n, STAGES[0], object)
    rows = []
    for a in (snap.ranked() if order is None else np.asarray(order))[:n].tolist():
        rows.append({"arch": a, "mean": float(mean[a]), "std": float(std[a]),
                     "done": int(np.sum(snap.status[a] == DONE)),
                     "failed": int(np.sum(snap.status[a] == FAILED)),
                     "pruned_at": int(snap.pruned_at[a]) if pruned[a] else -1,
                     "diverged": int(np.sum(snap.diverged_at[a] >= 0)) if snap.diverged_at is not None else 0,
                     "n_params": int(snap.n_params[a]) if snap.n_params is not None else -1,
                     "params": space.from_row(snap.params[a]), "stage": str(stages[a]),
                     "test_mean": float(t_mean[a]), "test_std": float(t_std[a]),
                     "n_test_trials": int(t_n[a])})
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
    if data:  # e.g. synthetic events: what the trial was told to make
        shown = ", ".join(f"{k}: {v}" for k, v in data.items())
        return f"no file: the trial generates or loads its own data (data: {{{shown}}})"
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
    lines = [f"{path}: {exp.get('name')}: {int(snap.arch_done().sum())}/{exp['budget']} "
             f"architectures finished, {len(idx)} with a metric; "
             f"{int(np.sum(snap.status == FAILED))} failed trials{_pruned_text(snap)}",
             f"data: {data_file(exp)}", f"metric: {metric_name(exp)}"]
    lines += _top_lines(stage_tops(snap, top), space)
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


def _pm(mean: float, std: float) -> str:
    return "-" if not np.isfinite(mean) else f"{mean:.5g} +- {std:.2g}"


def _top_lines(tops: list[dict], space: SearchSpace) -> list[str]:
    """The top tables, one per stage, each row validation and test mean +- std over trials."""
    if not any(t["top"] for t in tops):
        return []
    lines = []
    staged = len(tops) > 1
    if staged:
        lines.append("ranked within stage; " + ", ".join(f"{t['stage']}: {t['epochs']} epochs"
                                                          for t in tops))
    for t in tops:
        rows = t["top"]
        where = f"stage {t['stage']} ({t['epochs']} epochs): " if staged else ""
        lines.append(f"{where}top {len(rows)} of {t['n_ranked']} by mean metric over trials "
                     "(lower is better):")
        lines.append(f"  {'arch':<5s} {'validation':<20s} {'test':<20s} trials  parameters")
        lines += [f"  #{r['arch']:<4d} {_pm(r['mean'], r['std']):<20s} "
                  f"{_pm(r['test_mean'], r['test_std']):<20s} "
                  f"({r['done']} ok, {r['failed']} failed{_pruned_at(r)})  {space.format_point(r['params'])}"
                  for r in rows]
    lines.append(f"  (mean +- std over trials; {SPLITS})")
    final = tops[-1]["top"]
    if staged and final:
        b = final[0]
        lines.append(f"best of the final stage ({tops[-1]['stage']}, {tops[-1]['epochs']} epochs): "
                     f"#{b['arch']}, validation {_pm(b['mean'], b['std'])}, test "
                     f"{_pm(b['test_mean'], b['test_std'])} (the overall best; the other stage trained for "
                     "other epochs and is ranked apart)")
    return lines


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
