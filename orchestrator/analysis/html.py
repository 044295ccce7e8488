"""`ganhpo report STORE -o DIR`: every figure (PNG beside PDF), a JSON summary and an HTML page."""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

import numpy as np

from orchestrator.analysis import figures
from orchestrator.analysis.pareto import pareto, select_best
from orchestrator.analysis.sensitivity import sensitivity, top_interactions
from orchestrator.analysis.summary import (
    SPLITS,
    data_file,
    failures,
    metric_name,
    stage_tops,
    test_mean_std,
)
from orchestrator.space import SearchSpace
from orchestrator.store import read_store

__all__ = ["summarise", "write_report"]

CAPTIONS = {
    "convergence": "Convergence: each architecture's mean metric in the order the optimiser was "
                   "told it, and the best so far (dashed: end of the initial design){conv_stages}.",
    "sensitivity": "Importance: first-order and total Sobol indices of a surrogate of the mean "
                   "metric (total minus first order = interactions), clipped to [0, 1]; bars: "
                   "95 % intervals of the Monte Carlo estimate, not of the surrogate's error.",
    "mean_std": "Mean against trial-to-trial std per architecture, coloured by {colour}.",
    "marginals": "Marginals: mean metric against each hyperparameter (red: mean <= {cut:.4g}), "
                 "with histograms of where the optimiser sampled.",
    "pareto": "Pareto front over {objectives}{pareto_stages}; the star is the best by rule '{rule}'.",
}


def _clean(value):
    """JSON-safe: NaN/inf become None, numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def summarise(path: str, *, best_rule: str = "mean", threshold: float | None = None,
              top: int = 10) -> dict:
    """The report's content as a JSON-able dict: best, top list, failures, importance, Pareto set."""
    snap = read_store(path)
    idx, _, _ = snap.finished_means()
    tops = stage_tops(snap, top)
    best = _final_best(snap, best_rule, tops[-1]["stage"] if len(tops) > 1 else None) \
        if len(idx) else None
    return _clean({
        "store": str(path), "experiment": snap.experiment.get("name"),
        "data": data_file(snap.experiment), "metric": metric_name(snap.experiment),
        "lower_is_better": True, "architectures": snap.n, "finished_with_metric": len(idx),
        "budget": snap.experiment.get("budget"), "best": best,
        "top": tops[-1]["top"], "stages": tops, "ranking": _ranking(tops),
        "splits": SPLITS, "failures": failures(snap),
        "threshold": figures.threshold_of(snap, threshold) if len(idx) else None,
        "importance": sensitivity(snap), "pareto": pareto(snap)})


def _ranking(tops: list[dict]) -> str:
    """How the top lists compare architectures, in one sentence."""
    if len(tops) == 1:
        return "one stage: all architectures ranked together"
    return ("ranked within stage; " + ", ".join(f"{t['stage']}: {t['epochs']} epochs" for t in tops)
            + f"; the best is the best of the final stage ({tops[-1]['stage']})")


def _final_best(snap, rule: str, stage: str | None) -> dict:
    """``select_best`` among the architectures of ``stage`` (None: all), with its test metric."""
    idx = np.arange(snap.n) if stage is None else np.flatnonzero(snap.stage_names() == stage)
    best = select_best(snap.select(idx), rule)
    a = int(idx[best["arch"]])
    t_mean, t_std, t_n = test_mean_std(snap)
    return {**best, "arch": a, "stage": str(snap.stage_names()[a]) if snap.stage is not None else None,
            "test_mean": float(t_mean[a]), "test_std": float(t_std[a]), "n_test_trials": int(t_n[a]),
            "params": SearchSpace(snap.experiment["space"]).from_row(snap.params[a])}


def write_report(path: str, outdir: str | Path, *, best_rule: str = "mean",
                 threshold: float | None = None, colour_by: str | None = None,
                 top: int = 10) -> Path:
    """Write figures, summary.json and index.html for a store into outdir; returns the page."""
    space = read_store(path, arrays=("status",)).experiment["space"]
    if colour_by is not None and colour_by not in space:
        raise ValueError(f"--colour-by {colour_by!r} is not a hyperparameter; use one of {list(space)}")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    summary = summarise(path, best_rule=best_rule, threshold=threshold, top=top)
    snap = read_store(path)
    imp = summary["importance"]
    colour = colour_by or (imp["ranking"][0] if "ranking" in imp else None)
    cut = summary["threshold"]
    figs = {"convergence": figures.convergence(snap), "sensitivity": figures.importance(imp),
            "mean_std": figures.mean_std(snap, colour),
            "marginals": figures.marginals(snap, cut),
            "pareto": figures.pareto_plot(snap, summary["best"])}
    for name, fig in figs.items():
        figures.save(fig, outdir, name)
    summary["figures"] = {n: {"png": f"{n}.png", "pdf": f"{n}.pdf"} for n in figs}
    (outdir / "summary.json").write_text(json.dumps(summary, indent=1))
    caption = {"colour": colour or "the first hyperparameter", "cut": cut or float("nan"),
               "objectives": "(" + ", ".join(summary["pareto"]["objectives"]) + ")",
               "rule": best_rule,
               **_stage_captions(summary["pareto"].get("within_stage", False))}
    page = outdir / "index.html"
    page.write_text(_page(summary, {n: CAPTIONS[n].format(**caption) for n in figs},
                          SearchSpace(space).format_point))
    return page


def _stage_captions(staged: bool) -> dict[str, str]:
    """What the staged figures add to their captions: stages trained for different epochs."""
    why = " (stages train for different epochs, so they are never compared)"
    return {"conv_stages": f"; colour and marker per stage, the best so far within each{why}" if staged
            else "", "pareto_stages": f", one panel and one front per stage{why}" if staged else ""}


def _table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(_cell(c) for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(value) -> str:
    """A table cell; a 'mean ± std' stays on one line."""
    text = str(value)
    return f"<td{' class=pm' if ' ± ' in text else ''}>{html.escape(text)}</td>"


def _g(x, fmt: str = ".5g") -> str:
    return "-" if x is None else format(x, fmt)


def _pm(mean, std) -> str:
    return "-" if mean is None else f"{mean:.5g} ± {_g(std, '.2g')}"


def _page(s: dict, captions: dict[str, str], fmt) -> str:
    """The HTML page; ``fmt`` shows a point (SearchSpace.format_point)."""
    esc = html.escape
    parts = [f"<h1>ganhpo report: {esc(str(s['experiment']))}</h1>",
             f"<p>Store <code>{esc(s['store'])}</code>: {s['finished_with_metric']} of "
             f"{s['architectures']} architectures finished with a metric (budget {s['budget']}).<br>"
             f"Data: <code>{esc(s['data'])}</code><br>Metric (minimised: <b>lower is "
             f"better</b>): {esc(s['metric'])}.</p>"]
    if s["best"]:
        b = s["best"]
        where = f" of the final stage ({esc(b['stage'])})" if len(s["stages"]) > 1 else ""
        parts.append(f"<h2>Best architecture{where} (rule: {esc(b['rule'])})</h2><p>#{b['arch']}: "
                     f"validation {_pm(b['mean'], b['std'])}, test {_pm(b['test_mean'], b['test_std'])}"
                     f" ({esc(b['why'])})<br><code>{esc(fmt(b['params']))}</code></p>")
    parts.append(f"<p>{esc(s['ranking'][:1].upper() + s['ranking'][1:])}. Columns: mean ± std over trials; {esc(s['splits'])}.</p>")
    for t in s["stages"]:
        where = f", stage {t['stage']} ({t['epochs']} epochs)" if len(s["stages"]) > 1 else ""
        parts.append(f"<h2>Top {len(t['top'])} of {t['n_ranked']}{where}</h2>" + _table(
            ["arch", "validation", "test", "ok", "failed", "pruned at epoch", "n_params", "parameters"],
            [[r["arch"], _pm(r["mean"], r["std"]), _pm(r["test_mean"], r["test_std"]), r["done"],
              r["failed"], r["pruned_at"] + 1 if r.get("pruned_at", -1) >= 0 else "-", r["n_params"],
              fmt(r["params"])] for r in t["top"]]))
    imp = s["importance"]
    parts.append("<h2>Importance</h2>")
    if "skipped" in imp:
        parts.append(f"<p>{esc(imp['skipped'])}</p>")
    else:
        order = [imp["names"].index(n) for n in imp["ranking"]]
        parts.append(f"<p>Surrogate: {esc(imp['surrogate'])}; fitted kernel "
                     f"<code>{esc(imp.get('kernel', ''))}</code>; fitted on {imp['n_points']} of "
                     f"{imp.get('n_finished', imp['n_points'])} finished architectures.</p>")
        parts += [f'<p class="caveat"><b>Caveat:</b> {esc(c)}; read the indices as rough.</p>'
                  for c in imp.get("caveats", [])]
        parts += [f"<p><i>Note: {esc(n)}.</i></p>" for n in imp.get("notes", [])]
        parts.append(_table(["hyperparameter", "ST (total)", "S1 (first order)"],
                            [[imp["names"][i], f"{_g(imp['ST'][i], '.2f')} ± {_g(imp['ST_conf'][i], '.2f')}",
                              f"{_g(imp['S1'][i], '.2f')} ± {_g(imp['S1_conf'][i], '.2f')}"]
                             for i in order]))
        parts.append(f"<p>± : 95 % interval of the Monte Carlo estimate on the surrogate (not of "
                     f"the surrogate's own error); leave-one-out R<sup>2</sup> of the surrogate "
                     f"{_g(imp.get('loo_r2'), '.2f')}.</p>")
        pairs = ", ".join(f"{a} x {b}: {v:.3f}" for a, b, v in top_interactions(imp))
        parts.append(f"<p>Largest pairwise interactions (S2): {esc(pairs)}</p>")
    for name, caption in captions.items():
        parts.append(f'<figure id="{name}"><img src="{name}.png" alt="{name}" style="max-width:100%">'
                     f'<figcaption>{esc(caption)} <a href="{name}.pdf">PDF</a></figcaption></figure>')
    p = s["pareto"]
    staged = p.get("within_stage", False)
    parts.append(f"<h2>Pareto front over ({esc(', '.join(p['objectives']))})"
                 f"{', within each stage' if staged else ''}</h2>" + _table(
                     ["arch"] + (["stage"] if staged else []) + p["objectives"],
                     [[r["arch"]] + ([r["stage"]] if staged else []) + [_g(r[o]) for o in p["objectives"]]
                      for r in p["front"]]))
    f = s["failures"]
    parts.append(f"<h2>Failures: {f['n_failed']} of {f['n_trials']} trials</h2>")
    if f["n_failed"]:
        parts.append(_table(["count", "error"], [[c["count"], c["error"]] for c in f["common"]]))
        parts.append(_table(["arch", "trial", "error"],
                            [[t["arch"], t["trial"], t["error"]] for t in f["trials"][:200]]))
    style = ("body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:"
             "collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:2px 6px;font-size:90%}"
             "td.pm{white-space:nowrap}figure{margin:2em 0}.caveat{color:#b03a2e;border-left:4px solid #b03a2e;padding-left:8px}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>ganhpo report</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>\n")
