"""Method comparison: R independent searches per optimiser, each repeat sharing its initial design.

Repeat r of every method runs the experiment with seed ``experiment.seed + r`` and the same
``n_initial``, so every method (random search included) starts from the same Latin-hypercube
design (``orchestrator.optimizers.base.initial_design``). One store per (method, repeat) under
the output folder, all on one Dask cluster; a rerun resumes or skips finished stores. The
convergence figure shows the best-so-far mean metric (mean +- std over repeats) against the
evaluation index (store order, i.e. the order the optimiser proposed), the end of the design
dashed; the table lists the final best (median, IQR) and the evaluations each method needed
to reach random search's median final best.

``pruning=["none", "asha"]`` compares pruning rules instead (or as well): every (method, rule)
pair runs the same repeats (same seeds, same designs) and a second table lists, per pair, the
trial-epochs trained (and their share of a full-length search of the same architectures), the
architectures pruned, the best full-length mean metric and the wall time (first trial start to
last trial end, from the store's timestamps, so a resumed comparison reports the searches'
own time).
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
from orchestrator.pruners import pruner_spec
from orchestrator.store import read_store
from orchestrator.store.view import trial_epochs

__all__ = ["best_so_far", "compare", "convergence_figure", "method_experiment", "pruning_table",
           "summary_table", "variant_experiment"]

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


def variant_experiment(exp: Experiment, method: str, rule: str | None, repeat: int) -> Experiment:
    """The experiment for one (method, pruning rule, repeat); ``rule`` None keeps the experiment's.

    A rule named like the experiment's own ``pruning`` keeps its options (e.g. min_epochs).
    """
    e = method_experiment(exp, method, repeat)
    if rule is None:
        return e
    try:
        spec = pruner_spec(rule)
    except ValueError as err:
        raise ExperimentError(f"compare: --pruning: {err}") from None
    if spec["rule"] == exp.pruning.get("rule"):
        spec = dict(exp.pruning)
    return dataclasses.replace(e, pruning=spec, name=f"{exp.name}_{method}_{spec['rule']}_{repeat}")


def best_so_far(path: str | Path) -> np.ndarray:
    """Best mean metric so far after each architecture of a store (store order; failures and
    pruned architectures skipped: only full-length ones compete)."""
    snap = read_store(path)
    mean, _ = snap.arch_mean_std()
    mean = np.where(snap.arch_done() & ~snap.arch_pruned() & np.isfinite(mean), mean, np.inf)
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


def pruning_table(stores: dict[str, list[str]]) -> list[dict]:
    """Per variant, medians over repeats: trial-epochs, their share of full length, architectures
    pruned, best full-length mean metric, wall time (s)."""
    rows = []
    for label, paths in stores.items():
        spent, share, pruned, best, wall = [], [], [], [], []
        for p in paths:
            snap = read_store(p)
            used, full = trial_epochs(snap.status, snap.epoch_metric)
            spent.append(used)
            share.append(used / max(full, 1))
            pruned.append(int(snap.arch_pruned().sum()))
            finite = np.isfinite(snap.started) & np.isfinite(snap.finished)
            wall.append(float(snap.finished[finite].max() - snap.started[finite].min())
                        if finite.any() else np.nan)
            b = best_so_far(p)
            best.append(float(b[-1]) if len(b) else np.nan)
        rows.append({"variant": label, "repeats": len(paths), "trial_epochs": float(np.median(spent)),
                     "share_of_full": float(np.median(share)), "pruned": float(np.median(pruned)),
                     "best_median": float(np.nanmedian(best)), "best_max": float(np.nanmax(best)),
                     "wall_s": float(np.nanmedian(wall))})
    return rows


def _pruning_markdown(rows: list[dict]) -> list[str]:
    lines = ["", "| variant | repeats | trial-epochs (median) | share of full length | "
             "architectures pruned (median) | best mean metric median [worst] | wall time s (median) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['variant']} | {r['repeats']} | {r['trial_epochs']:.0f} | "
                     f"{r['share_of_full']:.2f} | {r['pruned']:g} | {r['best_median']:.4g} "
                     f"[{r['best_max']:.4g}] | {r['wall_s']:.1f} |")
    return lines


def _write_csv(rows: list[dict], path: Path) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _write_tables(rows: list[dict], out: Path, reference: str,
                  pruning_rows: list[dict] | None = None) -> list[Path]:
    csv_path, md_path = _write_csv(rows, out.with_suffix(".csv")), out.with_suffix(".md")
    lines = [f"| method | repeats | final best median | IQR | mean +- std | reached {reference}'s "
             "median final best | evaluations to reach it (median) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        evals = r["evals_to_target"]
        lines.append(f"| {r['method']} | {r['repeats']} | {r['median']:.4g} | {r['q25']:.4g} - "
                     f"{r['q75']:.4g} | {r['mean']:.4g} +- {r['std']:.2g} | {r['reached']} | "
                     f"{evals if evals == '' else f'{evals:g}'} |")
    files = [csv_path, md_path]
    if pruning_rows:
        lines += _pruning_markdown(pruning_rows)
        files.append(_write_csv(pruning_rows, out.with_name("pruning.csv")))
    md_path.write_text("\n".join(lines) + "\n")
    return files


def compare(exp: Experiment, methods: Sequence[str], repeats: int, out_dir: str | Path,
            client: Any = None, *, workers: int | None = None,
            progress: Callable[[str], None] | None = None,
            pruning: Sequence[str] | None = None) -> dict:
    """Run every (method, repeat) search on one cluster, then write the figure and the tables.

    ``pruning``: rule names to compare (each with every method); labels are the rule names with
    one method, ``method+rule`` with several.
    """
    from distributed import Client

    from orchestrator.search import run, validate

    if exp.stages:
        raise ExperimentError("compare: staged experiments are not supported; compare on a "
                              "single-stage experiment (drop 'stages', set epochs and budget)")
    if not isinstance(repeats, int) or repeats < 1:
        raise ExperimentError(f"compare: --repeats must be a positive integer, got {repeats!r}")
    out = Path(out_dir)
    variants = _variants(methods, pruning)
    plan = {label: [variant_experiment(exp, m, rule, r) for r in range(repeats)]
            for label, (m, rule) in variants.items()}
    stores = {label: [str(out / label / f"repeat-{r}.zarr") for r in range(repeats)]
              for label in variants}
    for m in variants:  # bad options or incompatible stores fail before anything runs
        for e, path in zip(plan[m], stores[m], strict=True):
            validate(e, path)
    out.mkdir(parents=True, exist_ok=True)
    own = client is None
    if own:
        from orchestrator.cluster import make_cluster

        client = Client(make_cluster("local", workers=workers))
    try:
        for r in range(repeats):  # repeat-major: a partial comparison covers every method
            for m in variants:
                result = run(plan[m][r], client, store=stores[m][r])
                if progress:
                    progress(f"{m} repeat {r}: best {result.best_mean:.5g}")
    finally:
        if own:
            cluster = client.cluster
            client.close()
            cluster.close()
    curves = _curves(stores)
    labels = list(variants)
    n_initial = int(plan[labels[0]][0].optimizer["n_initial"])
    reference = "random" if "random" in labels else "none" if "none" in labels else labels[0]
    rows = summary_table(curves, reference)
    pruning_rows = pruning_table(stores) if pruning else None
    files = convergence_figure(curves, n_initial, out / "convergence", title=exp.name)
    files += _write_tables(rows, out / "summary", reference, pruning_rows)
    return {"stores": stores, "curves": curves, "table": rows, "pruning": pruning_rows,
            "files": [str(f) for f in files]}


def _variants(methods: Sequence[str], pruning: Sequence[str] | None) -> dict[str, tuple[str, str | None]]:
    """label -> (method, pruning rule or None)."""
    if not methods:
        raise ExperimentError("compare: no method to compare; give e.g. --methods random,rbf")
    if not pruning:
        return {m: (m, None) for m in methods}
    rules = [str(r).strip().lower() for r in pruning]  # checked by variant_experiment
    if len(set(rules)) < len(rules):
        raise ExperimentError(f"compare: --pruning lists a rule twice: {','.join(rules)}")
    if len(methods) == 1:
        return {rule: (methods[0], rule) for rule in rules}
    return {f"{m}+{rule}": (m, rule) for m in methods for rule in rules}
