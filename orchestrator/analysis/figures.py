"""Static figures of a search (matplotlib, Agg, mplhep's ROOT style), saved as PNG and PDF.

Each builder takes a store ``Snapshot`` and returns a ``matplotlib.figure.Figure`` drawn by an
Agg canvas, never through pyplot: no display is needed, no global backend is switched (a
notebook's inline backend keeps working, and shows the returned figures), and builders are safe
in threads. ``save`` writes ``name.png`` beside ``name.pdf``.
"""

from __future__ import annotations

import functools
import textwrap
from dataclasses import replace
from pathlib import Path

import matplotlib
import matplotlib.cm
import matplotlib.colors
import matplotlib.style
import mplhep
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from orchestrator.analysis.pareto import objectives, stage_codes, stage_front
from orchestrator.analysis.summary import stage_epochs
from orchestrator.space import Categorical, Lattice, Real, SearchSpace
from orchestrator.store import STAGES, Snapshot

__all__ = ["GOOD_QUANTILE", "convergence", "importance", "marginals", "mean_std", "pareto_plot",
           "save", "threshold_of"]

GOOD_QUANTILE = 0.2  # default "good" subset: means in the best 20 %, as on the monitor
STAGE_STYLE = {"broad": ("tab:blue", "o"), "focus": ("tab:orange", "D")}
HIGHLIGHT = "tab:red"
DPI = 100
# mplhep's ROOT style, with axis labels small enough for long, self-explaining labels
STYLE = [mplhep.style.ROOT, {"axes.labelsize": 20, "legend.fontsize": 14, "xtick.labelsize": 16,
                             "ytick.labelsize": 16}]


def hep_style(build):
    """Run a figure builder inside mplhep's ROOT style."""
    @functools.wraps(build)
    def wrapper(*args, **kwargs) -> Figure:
        with matplotlib.style.context(STYLE):
            return build(*args, **kwargs)
    return wrapper


def new_figure(width: float, height: float) -> Figure:
    """A figure on its own Agg canvas."""
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def save(fig: Figure, outdir: str | Path, name: str) -> list[Path]:
    """Write ``name.png`` and ``name.pdf`` into ``outdir``; returns both paths."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = [outdir / f"{name}.png", outdir / f"{name}.pdf"]
    with matplotlib.style.context(STYLE):
        # the tight box once for both files: bbox_inches="tight" would measure every text twice
        box = fig.get_tightbbox(fig.canvas.get_renderer()).padded(0.1)
        for p in paths:
            fig.savefig(p, dpi=DPI, bbox_inches=box)
    return paths


def threshold_of(snap: Snapshot, threshold: float | None = None) -> float:
    """The metric threshold for the 'good' subset: as given, else the 20 % quantile of means."""
    if threshold is not None:
        return float(threshold)
    _, mean, _ = snap.finished_means()
    return float(np.quantile(mean, GOOD_QUANTILE)) if len(mean) else np.nan


def _empty(fig: Figure, ax, text: str) -> Figure:
    ax.text(0.5, 0.5, textwrap.fill(text, 50), ha="center", va="center", transform=ax.transAxes,
            fontsize=16)
    ax.set_xticks([])
    ax.set_yticks([])
    return fig


def _stage_label(snap: Snapshot, code: int) -> str:
    """'broad stage (3 epochs)': a stage and how long its trials trained."""
    return f"{STAGES[code]} stage ({stage_epochs(snap.experiment, STAGES[code])} epochs)"


def _design_size(snap: Snapshot, stage: str) -> int:
    """The initial design of ``stage``'s optimiser (a stage's own optimiser replaces the run's)."""
    spec = next((s for s in snap.experiment.get("stages") or [] if s.get("name") == stage), {})
    return replace(snap, experiment={**snap.experiment,
                                     "optimizer": spec.get("optimizer") or snap.experiment.get(
                                         "optimizer") or {}}).n_initial


@hep_style
def convergence(snap: Snapshot) -> Figure:
    """Each architecture's mean in tell order and, per stage (colour and marker: stages train for
    different epochs), the best so far within the stage and the end of its initial design."""
    fig = new_figure(10, 7)
    ax = fig.subplots()
    order = snap.completion_order()
    mean = snap.arch_mean_std()[0][order] if len(order) else np.zeros(0)
    x = np.arange(1, len(order) + 1)
    ax.set_xlabel("evaluation (architectures in the order they finished)")
    ax.set_ylabel("mean metric over trials (lower is better)")
    if not np.isfinite(mean).any():
        return _empty(fig, ax, "no finished architecture with a metric yet")
    codes = stage_codes(snap, order)
    staged = len(np.unique(codes)) > 1
    for code in np.unique(codes):
        colour, marker = STAGE_STYLE.get(STAGES[code], ("tab:green", "s"))
        sel = codes == code
        name = _stage_label(snap, code) if staged else "architecture"
        ax.scatter(x[sel], mean[sel], s=30, alpha=0.6, color=colour, marker=marker,
                   label=f"{name}: mean")
        with np.errstate(invalid="ignore"):
            best = np.fmin.accumulate(mean[sel])
        ax.step(x[sel], best, where="post", color=colour if staged else "black", lw=2,
                label=f"{STAGES[code]}: best so far in the stage" if staged else "best so far")
        n0 = _design_size(snap, STAGES[code])
        if 0 < n0 < sel.sum():
            whose = f"{STAGES[code]}'s " if staged else ""
            ax.axvline(x[sel][n0 - 1] + 0.5, color=colour if staged else "grey", ls="--", lw=1.5,
                       label=f"end of {whose}{n0}-point initial design")
    _robust_ylim(ax, mean)
    if staged:  # six entries: below the axes, where they hide no point
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, fontsize=13)
    else:
        ax.legend(loc="best")
    return fig


def _robust_ylim(ax, values: np.ndarray) -> None:
    """Zoom on the bulk: outliers far above the 90 % quantile would flatten the interesting part."""
    v = values[np.isfinite(values)]
    if len(v) < 5:
        return
    lo, q90 = v.min(), np.quantile(v, 0.9)
    if v.max() > lo + 3 * (q90 - lo) > lo:
        pad = 0.05 * (q90 - lo)
        ax.set_ylim(lo - pad, lo + 2 * (q90 - lo))


def _log_scaled(p) -> bool:
    """Log reals, and lattices spanning two decades or more (learning rates k x 5e-5)."""
    if isinstance(p, Real):
        return bool(p.log)
    return isinstance(p, Lattice) and p.lower > 0 and p.upper >= 100 * p.lower


def _axis_values(p, values: np.ndarray, ax, axis: str = "x") -> None:
    """Label an axis for a parameter: category names, or a log scale (``_log_scaled``)."""
    if isinstance(p, Categorical):
        getattr(ax, f"set_{axis}ticks")(range(len(p.choices)), [str(c) for c in p.choices])
    elif _log_scaled(p):
        getattr(ax, f"set_{axis}scale")("log")


def _values(space: SearchSpace, snap: Snapshot, name: str, idx: np.ndarray) -> np.ndarray:
    """Stored values of one parameter (categoricals: their index) for architectures idx."""
    return snap.params[idx, space.names.index(name)].astype(float)


@hep_style
def mean_std(snap: Snapshot, colour_by: str | None = None) -> Figure:
    """Mean against trial std per architecture, coloured by one hyperparameter's value."""
    space = SearchSpace(snap.experiment["space"])
    colour_by = colour_by or space.names[0]
    if colour_by not in space.names:
        raise ValueError(f"colour_by {colour_by!r} is not a hyperparameter; use one of {space.names}")
    fig = new_figure(10, 8)
    ax = fig.subplots()
    idx, mean, std = snap.finished_means()
    ax.set_xlabel("mean metric over trials (lower is better)")
    ax.set_ylabel("std of the metric over trials")
    if not len(idx):
        return _empty(fig, ax, "no finished architecture with a metric yet")
    p = space.params[colour_by]
    c = _values(space, snap, colour_by, idx)
    norm = matplotlib.colors.LogNorm(c.min(), c.max()) if _log_scaled(p) else \
        matplotlib.colors.Normalize(c.min(), c.max())
    cmap = matplotlib.colormaps["viridis"]
    if isinstance(p, Categorical):
        cmap = cmap.resampled(len(p.choices))
        norm = matplotlib.colors.BoundaryNorm(np.arange(len(p.choices) + 1) - 0.5, len(p.choices))
    codes = stage_codes(snap, idx)
    staged = len(np.unique(codes)) > 1
    for code in np.unique(codes):  # a marker per stage: stages train for different epochs
        sel = codes == code
        marker = STAGE_STYLE.get(STAGES[code], ("", "s"))[1] if staged else "o"
        sc = ax.scatter(mean[sel], std[sel], c=c[sel], cmap=cmap, norm=norm, s=45, alpha=0.85,
                        marker=marker, edgecolors="none")
        if staged:
            ax.scatter([], [], marker=marker, color="grey", label=_stage_label(snap, code))
    bar = fig.colorbar(sc, ax=ax, label=colour_by)
    if isinstance(p, Categorical):
        bar.set_ticks(range(len(p.choices)), labels=[str(x) for x in p.choices])
    k = int(np.argmin(mean))
    ax.scatter([mean[k]], [std[k]], marker="*", s=400, facecolors="none", edgecolors=HIGHLIGHT,
               lw=2, label=f"best mean (#{idx[k]})")
    ax.legend(loc="best")
    return fig


@hep_style
def marginals(snap: Snapshot, threshold: float | None = None, per_row: int = 3) -> Figure:
    """Per hyperparameter: mean metric against value, and histograms of sampled and good values."""
    space = SearchSpace(snap.experiment["space"])
    cut = threshold_of(snap, threshold)
    rows = -(-space.dim // per_row)
    cols = min(per_row, space.dim)
    fig = new_figure(6 * cols, 7 * rows)
    grid = fig.add_gridspec(2 * rows, cols, height_ratios=[2, 1] * rows, hspace=0.35, wspace=0.3)
    idx, mean, _ = snap.finished_means()
    every = np.arange(snap.n)
    good = mean <= cut
    for i, name in enumerate(space.names):
        r, c = divmod(i, per_row)
        top = fig.add_subplot(grid[2 * r, c])
        hist = fig.add_subplot(grid[2 * r + 1, c], sharex=top)
        p = space.params[name]
        v = _values(space, snap, name, idx)
        if not len(idx):
            top.text(0.5, 0.5, "no finished architecture\nwith a metric yet", ha="center",
                     va="center", transform=top.transAxes, fontsize=12)
        top.scatter(v[~good], mean[~good], s=15, alpha=0.5, color="tab:blue", label="finished")
        top.scatter(v[good], mean[good], s=20, alpha=0.9, color=HIGHLIGHT,
                    label=f"mean <= {cut:.4g}")
        _robust_ylim(top, mean)
        top.set_ylabel("mean metric", fontsize=14)
        top.tick_params(labelbottom=False, labelsize=12)
        edges = _bins(p)
        hist.hist(_values(space, snap, name, every), bins=edges, color="tab:blue", alpha=0.4,
                  label="sampled")
        hist.hist(v[good], bins=edges, color=HIGHLIGHT, histtype="step", lw=2,
                  label="good")
        hist.set_xlabel(name, fontsize=16)
        hist.set_ylabel("count", fontsize=14)
        hist.tick_params(labelsize=12)
        _axis_values(p, v, hist)
        if i == 0:
            top.legend(fontsize=11, loc="best")
            hist.legend(fontsize=11, loc="best")
    return fig


def _bins(p, n: int = 20) -> np.ndarray:
    if isinstance(p, Categorical):
        return np.arange(len(p.choices) + 1) - 0.5
    if isinstance(p, Lattice) and _log_scaled(p):
        return np.geomspace(p.lower * p.scale, p.upper * p.scale, n + 1) * np.array(
            [1 - 1e-9] + [1.0] * (n - 1) + [1 + 1e-9])  # both ends inside
    if isinstance(p, Lattice):
        step = p.scale * max(1, int(np.ceil(p.n_levels / n)))
        lo, hi = p.lower * p.scale, p.upper * p.scale
        return np.arange(lo - step / 2, hi + step, step)
    if p.log:
        return np.geomspace(p.low, p.high, n + 1)
    return np.linspace(p.low, p.high, n + 1)


@hep_style
def pareto_plot(snap: Snapshot, best: dict | None = None) -> Figure:
    """Mean against std, model size as colour, the non-dominated architectures outlined; one
    panel per stage, each with its own front (stages train for different epochs)."""
    idx, f, names = objectives(snap)
    codes = stage_codes(snap, idx)
    present = np.unique(codes) if len(idx) else np.zeros(1, int)
    fig = new_figure(10 if len(present) == 1 else 8.5 * len(present), 8)
    axes = fig.subplots(1, len(present), squeeze=False)[0]
    for ax in axes:
        ax.set_xlabel("mean metric over trials (lower is better)")
    axes[0].set_ylabel("std of the metric over trials")
    if not len(idx):
        return _empty(fig, axes[0], "no finished architecture with a metric yet")
    front = stage_front(codes, f)
    sizes = "n_params" in names
    norm = (matplotlib.colors.LogNorm(f[:, 2].min(), f[:, 2].max()) if f[:, 2].min() > 0
            else matplotlib.colors.Normalize(f[:, 2].min(), f[:, 2].max())) if sizes else None
    best_code = int(stage_codes(snap, np.array([best["arch"]]))[0]) if best is not None else None
    for ax, code in zip(axes, present, strict=True):
        sel = codes == code
        _pareto_panel(ax, f[sel], front[sel], names, norm)
        if len(present) > 1:
            ax.set_title(f"{_stage_label(snap, code)}: its own front", fontsize=16)
        if best is not None and code == best_code:
            ax.scatter([best["mean"]], [best["std"]], marker="*", s=450, color="gold",
                       edgecolors="black", zorder=5, label=f"best ({best['rule']}): #{best['arch']}")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), fontsize=13)  # hides no point
    if sizes:
        fig.colorbar(matplotlib.cm.ScalarMappable(norm, "viridis"), ax=list(axes),
                     label="model size (parameters)")
    return fig


def _pareto_panel(ax, f: np.ndarray, front: np.ndarray, names: list[str], norm) -> None:
    """One stage's architectures on (mean, std), its non-dominated ones outlined."""
    if norm is not None:  # a grey legend entry: the colour is the model size
        ax.scatter(f[:, 0], f[:, 1], c=f[:, 2], cmap="viridis", norm=norm, s=35, alpha=0.8)
        ax.scatter([], [], color="grey", s=35, label="architecture (colour: model size)")
    else:
        ax.scatter(f[:, 0], f[:, 1], color="tab:blue", s=35, alpha=0.6, label="architecture")
    ax.scatter(f[front, 0], f[front, 1], s=120, facecolors="none", edgecolors=HIGHLIGHT, lw=2,
               label=f"Pareto front over ({', '.join(names)}): {int(front.sum())}")
    if len(names) == 2:
        o = np.argsort(f[front, 0])
        ax.step(f[front, 0][o], f[front, 1][o], where="post", color=HIGHLIGHT, lw=1, alpha=0.6)
    _robust_ylim(ax, f[:, 1])


@hep_style
def importance(result: dict) -> Figure:
    """First-order and total Sobol indices in [0, 1], their 95 % intervals, caveats under them."""
    warnings = ([f"CAVEAT: {c}" for c in result.get("caveats", [])]
                + [f"Note: {n}" for n in result.get("notes", [])])
    lines = sum(len(textwrap.wrap(w, 85)) for w in warnings)
    fig = new_figure(10, max(4.0, 1.5 + 0.8 * len(result.get("names", []))) + 0.3 * lines)
    ax = fig.subplots()
    if "skipped" in result:
        return _empty(fig, ax, result["skipped"])
    names = result["ranking"][::-1]
    pos = [result["names"].index(n) for n in names]
    y = np.arange(len(names))
    for shift, key, colour in ((0.2, "ST", "tab:blue"), (-0.2, "S1", "tab:orange")):
        vals = np.clip(np.asarray(result[key], float)[pos], 0, 1)
        conf = np.asarray(result[f"{key}_conf"], float)[pos]
        err = np.array([np.minimum(conf, vals), np.minimum(conf, 1 - vals)])  # bars inside [0, 1]
        label = "total (with interactions)" if key == "ST" else "first order"
        ax.barh(y + shift, vals, height=0.38, xerr=err, color=colour, label=f"{key}: {label}",
                capsize=4, error_kw={"elinewidth": 1.5})
        for yi, v, c in zip(y + shift, vals, conf, strict=True):  # a column right of the axes
            ax.text(1.02, yi, f"{key} {v:.2f} $\\pm$ {c:.2f}", va="center", fontsize=12,
                    color=colour, transform=ax.get_yaxis_transform())
    ax.set_yticks(y, names)
    ax.set_xlabel("Sobol index (bars: 95 % interval of the Monte Carlo estimate)", fontsize=16)
    ax.set_xlim(0, 1)
    ax.legend(loc="lower right")
    if warnings:
        ax.set_title(f"{len(result.get('caveats', []))} caveat(s): read these indices as rough"
                     if result.get("caveats") else "", color=HIGHLIGHT, fontsize=16, loc="left")
        fig.text(0.02, 0.0, "\n".join(textwrap.fill(w, 85) for w in warnings), fontsize=13,
                 va="top", ha="left", color=HIGHLIGHT if result.get("caveats") else "black")
    return fig
