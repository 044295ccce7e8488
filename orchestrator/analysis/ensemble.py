"""Ensembles: retrain one architecture of a store K times on the cluster; truth vs ensemble band.

Each member is a Dask future calling a models-side function by import path (default
``models.ensemble:train_member``; the orchestrator never imports Keras) with its own seed. Every
member generates the validation sample; per output variable the figure shows the truth
histogram and the mean +- std (over members, ddof=1) of the K generated histograms, all on the
same bins (the truth's 0.5-99.5 % quantile range) and normalised to unit area. The members'
generator weights are saved in ``OUT/generators/`` (on a shared file system for remote workers).
The figure and each member's ``metric`` are on the validation events (which chose its epoch);
``test_metric`` is that epoch's generator on the test events, as in the search.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from orchestrator.analysis.figures import hep_style, new_figure, save
from orchestrator.store import DONE, STAGES, read_store

__all__ = ["choose_architecture", "ensemble_figure", "ensemble_histograms", "member_seeds",
           "run_ensemble"]

MEMBER = "models.ensemble:train_member"


def _call(path: str, params: dict, kwargs: dict) -> dict:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)(params, **kwargs)


def choose_architecture(snap, arch: int | str = "best") -> int:
    """The architecture index: ``best`` (lowest mean over successful trials, among the last
    stage's architectures: stages trained for other epochs are not compared) or a given one."""
    mean, _ = snap.arch_mean_std()
    ok = snap.arch_done() & np.isfinite(mean) if snap.n else np.zeros(0, bool)
    if snap.n and snap.stage is not None:
        ok &= snap.stage == snap.stage.max()
    if arch == "best":
        if not ok.any():
            raise ValueError(f"{snap.path}: no finished architecture to retrain yet")
        return int(np.flatnonzero(ok)[np.argmin(mean[ok])])
    a = int(arch)
    if not 0 <= a < snap.n or not np.any(snap.status[a] == DONE):
        raise ValueError(f"--arch {a}: not a finished architecture of {snap.path} "
                         f"(it has {snap.n}); pick one from `ganhpo report`, or best")
    return a


def member_seeds(seed: int, arch: int, k: int) -> list[int]:
    """K seeds for the members, distinct from every trial seed of the search."""
    ss = np.random.SeedSequence([int(seed) % 2**32, 0x656E73, int(arch)])  # 'ens'
    return [int(s) for s in ss.generate_state(k)]


def _stage_epochs(experiment: dict, stage: int) -> int:
    for s in experiment.get("stages") or []:
        if s["name"] == STAGES[stage]:
            return int(s["epochs"])
    return int(experiment["epochs"])


def ensemble_histograms(generated: Sequence[np.ndarray], truth: np.ndarray,
                        bins: int = 40) -> list[dict]:
    """Per column: bin edges, truth density, the members' densities, their mean and std (ddof=1)."""
    out = []
    for c in range(truth.shape[1]):
        lo, hi = np.quantile(truth[:, c], [0.005, 0.995])
        edges = np.linspace(lo, hi, bins + 1) if hi > lo else np.linspace(lo - 0.5, hi + 0.5, bins + 1)
        t, _ = np.histogram(truth[:, c], edges, density=True)
        members = np.array([np.histogram(g[:, c], edges, density=True)[0] for g in generated])
        out.append({"edges": edges, "truth": t, "members": members, "mean": members.mean(axis=0),
                    "std": members.std(axis=0, ddof=1) if len(members) > 1 else np.zeros(bins)})
    return out


def ensemble_figure(hists: list[dict], columns: Sequence[str], out: Path, title: str = "") -> list[Path]:
    """Truth histogram vs ensemble mean +- std per output variable; PNG and PDF."""
    return save(_ensemble(hists, columns, title), out.parent, out.name)


@hep_style
def _ensemble(hists: list[dict], columns: Sequence[str], title: str) -> Figure:
    ncol = min(len(hists), 4)
    nrow = -(-len(hists) // ncol)
    fig = new_figure(6 * ncol, 5 * nrow)
    axes = fig.subplots(nrow, ncol, squeeze=False)
    for ax, h, name in zip(axes.flat, hists, columns, strict=False):
        e = h["edges"]
        ax.stairs(h["truth"], e, color="k", lw=1.2, label="truth")
        ax.stairs(h["mean"], e, color="C0", lw=1.2, label=f"ensemble mean (K={len(h['members'])})")
        ax.stairs(h["mean"] + h["std"], e, baseline=h["mean"] - h["std"], fill=True, color="C0",
                  alpha=0.3, label="+- 1 std")
        ax.set_xlabel(name)
        ax.set_ylabel("density")
    for ax in list(axes.flat)[len(hists):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize="small")
    fig.suptitle(title)
    return fig


def _test_summary(snap, a: int, members: list[dict]) -> dict:
    """The members' and the search's test metric (the selected epoch on the test events)."""
    test = [m["test_metric"] for m in members if m.get("test_metric") is not None]
    stored = snap.test_metric[a][(snap.status[a] == DONE) & np.isfinite(snap.test_metric[a])] \
        if snap.test_metric is not None else np.zeros(0)
    return {"search_test_metric": [float(t) for t in stored],
            "member_test_mean": float(np.mean(test)) if test else None,
            "member_test_std": float(np.std(test, ddof=1)) if len(test) > 1 else None,
            "test_note": "metric: the best epoch on the validation events, which chose it; "
                         "test_metric: that epoch's generator on the test events (neither trained "
                         "on nor used to choose)" if test else
                         "no test split (data: test: 0): every number here is on the validation "
                         "events, which also chose each member's epoch"}


def run_ensemble(store: str, *, k: int = 8, arch: int | str = "best", out_dir: str,
                 epochs: int | None = None, client: Any = None, workers: int | None = None,
                 member: str = MEMBER, bins: int = 40) -> dict:
    """Retrain one architecture of ``store`` k times on the cluster; write figure, weights, summary."""
    from distributed import Client

    if k < 2:
        raise ValueError(f"--k {k}: an ensemble needs at least 2 members for a spread")
    snap = read_store(store)
    exp = snap.experiment
    a = choose_architecture(snap, arch)
    from orchestrator.space import SearchSpace

    params = {**exp.get("fixed", {}), **SearchSpace(exp["space"]).from_row(snap.params[a])}
    epochs = int(epochs or _stage_epochs(exp, int(snap.stage[a])))
    out = Path(out_dir)
    gen_dir = (out / "generators").resolve()
    gen_dir.mkdir(parents=True, exist_ok=True)
    seeds = member_seeds(exp.get("seed", 0), a, k)
    own = client is None
    if own:
        from orchestrator.cluster import make_cluster

        client = Client(make_cluster("local", workers=workers))
    try:
        resources = exp.get("resources")
        if resources is None:  # as the driver: one GPU per member when the workers declare GPUs
            info = client.scheduler_info(n_workers=-1).get("workers", {}).values()
            resources = {"GPU": 1} if any("GPU" in w.get("resources", {}) for w in info) else None
        futures = [client.submit(_call, member, params,
                                 {"model": exp.get("model", ""), "data": exp.get("data", {}),
                                  "epochs": epochs, "seed": s, "out_dir": str(gen_dir)},
                                 pure=False, key=f"ensemble-{a}-{i}-{s}",
                                 resources=resources or None)
                   for i, s in enumerate(seeds)]
        members = client.gather(futures)
    finally:
        if own:
            cluster = client.cluster
            client.close()
            cluster.close()
    truth, columns = members[0]["truth"], list(members[0]["columns"])
    hists = ensemble_histograms([m["generated"] for m in members], truth, bins)
    files = ensemble_figure(hists, columns, out / "ensemble",
                            title=f"{exp.get('name', '')} #{a}: truth vs {k} retrainings")
    np.savez(out / "ensemble_histograms.npz",
             **{f"{name}_{key}": h[key] for name, h in zip(columns, hists, strict=True)
                for key in ("edges", "truth", "members", "mean", "std")})
    summary = {"store": str(store), "arch": a, "params": params, "epochs": epochs, "k": k,
               "stage": STAGES[int(snap.stage[a])],
               "search_metric": [float(m) for m in snap.metric[a][snap.status[a] == DONE]],
               "members": [{"seed": m["seed"], "metric": m["metric"], "best_epoch": m["best_epoch"],
                            "test_metric": m.get("test_metric"),
                            "weights": os.path.relpath(m["weights"], out.resolve())}
                           for m in members],
               "member_metric_mean": float(np.mean([m["metric"] for m in members])),
               "member_metric_std": float(np.std([m["metric"] for m in members], ddof=1)),
               **_test_summary(snap, a, members)}
    (out / "ensemble.json").write_text(json.dumps(summary, indent=1))
    files += [out / "ensemble_histograms.npz", out / "ensemble.json"]
    return {**summary, "files": [str(f) for f in files], "histograms": hists, "columns": columns}
