"""Method comparison: R independent searches per optimiser, each repeat sharing its initial design.

Repeat r of every method runs the experiment with seed ``experiment.seed + r`` and the same
``n_initial``, so every method (random search included) starts from the same Latin-hypercube
design (``orchestrator.optimizers.base.initial_design``). One store per (method, repeat) under
the output folder, all on one Dask cluster; a rerun resumes or skips finished stores. The
convergence figure shows the best-so-far mean metric (mean +- std over repeats) against the
evaluation index (store order, i.e. the order the optimiser proposed), the end of the design
dashed; the table lists the final best (median, IQR) and the evaluations each method needed
to reach random search's median final best.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from orchestrator.analysis.figures import hep_style, new_figure, save
from orchestrator.experiment import Experiment, ExperimentError
from orchestrator.optimizers import OPTIMIZERS
from orchestrator.store import read_store

__all__ = ["best_so_far", "compare", "convergence_figure", "method_experiment", "summary_table"]

DEFAULT_N_INITIAL = 10


def method_experiment(exp: Experiment, method: str, repeat: int) -> Experiment:
    """The experiment for one (method, repeat): same design size, seed ``exp.seed + repeat``."""
    if method not in OPTIMIZERS:
        raise ExperimentError(f"compare: unknown method {method!r}; choose from {', '.join(sorted(OPTIMIZERS))}")
    options = dict(exp.optimizer)
    n_initial = int(options.get("n_initial", DEFAULT_N_INITIAL))
    own = {k: v for k, v in options.items() if k != "name"} if options["name"] == method else {}
    own["n_initial"] = n_initial
    return dataclasses.replace(exp, optimizer={"name": method, **own}, seed=exp.seed + repeat,
                               name=f"{exp.name}_{method}_{repeat}", store=None)


def best_so_far(path: str | Path) -> np.ndarray:
    """Best mean metric so far after each architecture of a store (store order; failures skipped)."""
    snap = read_store(path)
    mean, _ = snap.arch_mean_std()
    mean = np.where(snap.arch_done() & np.isfinite(mean), mean, np.inf)
    out = np.minimum.accumulate(mean) if len(mean) else mean
    return np.where(np.isfinite(out), out, np.nan)


def _curves(stores: dict[str, list[str]]) -> dict[str, np.ndarray]:
    """Per method, an (R, N) array of best-so-far curves, padded with their last value."""
    out = {}
    for method, paths in stores.items():
        curves = [best_so_far(p) for p in paths]
        n = max(len(c) for c in curves)
        out[method] = np.array([np.pad(c, (0, n - len(c)), mode="edge") if len(c) else np.full(n, np.nan)
                                for c in curves])
    return out


def convergence_figure(curves: dict[str, np.ndarray], n_initial: int, out: Path,
                       title: str = "") -> list[Path]:
    """Best-so-far mean +- std across repeats vs evaluation index; PNG and PDF."""
    return save(_convergence(curves, n_initial, title), out.parent, out.name)


@hep_style
def _convergence(curves: dict[str, np.ndarray], n_initial: int, title: str) -> Figure:
    fig = new_figure(10, 7)
    ax = fig.add_subplot()
    for method, c in curves.items():
        x = np.arange(1, c.shape[1] + 1)
        mean, std = np.nanmean(c, axis=0), np.nanstd(c, axis=0)
        line, = ax.plot(x, mean, label=f"{method} ({c.shape[0]} repeats)")
        ax.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.2, lw=0)
    ax.axvline(n_initial + 0.5, color="k", ls="--", lw=1, label="end of initial design")
    ax.set_xlabel("evaluation (architecture) index")
    ax.set_ylabel("best mean metric so far")
    ax.set_title(title)
    ax.legend()
    return fig


def summary_table(curves: dict[str, np.ndarray], reference: str = "random") -> list[dict]:
    """Per method: final best median, IQR, mean, std, and evaluations to reach the reference's median."""
    target = float(np.nanmedian(curves[reference][:, -1])) if reference in curves else None
    rows = []
    for method, c in curves.items():
        final = c[:, -1]
        q25, med, q75 = np.nanpercentile(final, [25, 50, 75])
        row: dict[str, Any] = {"method": method, "repeats": c.shape[0], "median": float(med),
                               "q25": float(q25), "q75": float(q75), "mean": float(np.nanmean(final)),
                               "std": float(np.nanstd(final)), "reached": "", "evals_to_target": ""}
        if target is not None:
            hits = [int(np.argmax(r <= target)) + 1 for r in c if np.any(r <= target)]
            row["reached"] = f"{len(hits)}/{c.shape[0]}"
            row["evals_to_target"] = float(np.median(hits)) if hits else ""
        rows.append(row)
    return rows


def _write_tables(rows: list[dict], out: Path, reference: str) -> list[Path]:
    csv_path, md_path = out.with_suffix(".csv"), out.with_suffix(".md")
    with csv_path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    lines = [f"| method | repeats | final best median | IQR | mean +- std | reached {reference}'s "
             "median final best | evaluations to reach it (median) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        evals = r["evals_to_target"]
        lines.append(f"| {r['method']} | {r['repeats']} | {r['median']:.4g} | {r['q25']:.4g} - "
                     f"{r['q75']:.4g} | {r['mean']:.4g} +- {r['std']:.2g} | {r['reached']} | "
                     f"{evals if evals == '' else f'{evals:g}'} |")
    md_path.write_text("\n".join(lines) + "\n")
    return [csv_path, md_path]


def compare(exp: Experiment, methods: Sequence[str], repeats: int, out_dir: str | Path,
            client: Any = None, *, workers: int | None = None,
            progress: Callable[[str], None] | None = None) -> dict:
    """Run every (method, repeat) search on one cluster, then write the figure and the tables."""
    from distributed import Client

    from orchestrator.search import run, validate

    if exp.stages:
        raise ExperimentError("compare: staged experiments are not supported; compare on a "
                              "single-stage experiment (drop 'stages', set epochs and budget)")
    if not isinstance(repeats, int) or repeats < 1:
        raise ExperimentError(f"compare: --repeats must be a positive integer, got {repeats!r}")
    out = Path(out_dir)
    plan = {m: [method_experiment(exp, m, r) for r in range(repeats)] for m in methods}
    stores = {m: [str(out / m / f"repeat-{r}.zarr") for r in range(repeats)] for m in methods}
    for m in methods:  # bad options or incompatible stores fail before anything runs
        for e, path in zip(plan[m], stores[m], strict=True):
            validate(e, path)
    out.mkdir(parents=True, exist_ok=True)
    own = client is None
    if own:
        from orchestrator.cluster import make_cluster

        client = Client(make_cluster("local", workers=workers))
    try:
        for r in range(repeats):  # repeat-major: a partial comparison covers every method
            for m in methods:
                result = run(plan[m][r], client, store=stores[m][r])
                if progress:
                    progress(f"{m} repeat {r}: best {result.best_mean:.5g}")
    finally:
        if own:
            cluster = client.cluster
            client.close()
            cluster.close()
    curves = _curves(stores)
    n_initial = int(plan[methods[0]][0].optimizer["n_initial"])
    reference = "random" if "random" in methods else methods[0]
    rows = summary_table(curves, reference)
    files = convergence_figure(curves, n_initial, out / "convergence", title=exp.name)
    files += _write_tables(rows, out / "summary", reference)
    return {"stores": stores, "curves": curves, "table": rows, "files": [str(f) for f in files]}
