"""Live per-epoch metric curves of the trials running now (read only for those trials)."""

from __future__ import annotations

import numpy as np
from bokeh.models import ColumnDataSource, HoverTool, Label
from bokeh.palettes import Category10_10
from bokeh.plotting import figure

from orchestrator.monitor.base import Component
from orchestrator.monitor.data import StoreReader
from orchestrator.store import Snapshot

__all__ = ["EpochCurves", "curve_data", "idle_text"]

COLUMNS = ("xs", "ys", "arch", "trial", "worker", "epochs", "last", "last_epoch", "colour")


def curve_data(data: Snapshot) -> dict[str, np.ndarray]:
    """One row per running trial: epochs reported so far and their metric values."""
    keys = sorted(data.curves)
    worker = data.worker if data.n else None
    xs, ys, names, last = [], [], [], []
    for a, t in keys:
        curve = data.curves[(a, t)]
        seen = np.flatnonzero(np.isfinite(curve))
        xs.append(seen.astype(float))
        ys.append(curve[seen])
        w = int(worker[a, t])
        names.append(data.workers[w] if 0 <= w < len(data.workers) else "?")
        last.append(float(curve[seen[-1]]) if len(seen) else np.nan)
    colours = [Category10_10[i % 10] for i in range(len(keys))]
    return {"xs": _objects(xs), "ys": _objects(ys),
            "arch": np.array([a for a, _ in keys], float), "trial": np.array([t for _, t in keys], float),
            "worker": np.array(names, object), "epochs": np.array([len(x) for x in xs], float),
            "last": np.array(last, float),
            "last_epoch": np.array([x[-1] if len(x) else np.nan for x in xs], float),
            "colour": np.array(colours, object)}


def idle_text(data: Snapshot) -> str:
    """What the panel says when no trial runs: the search finished, or it is between trials."""
    if not data.exists:
        return "no trials running: the store is not there yet"
    c = data.counts()
    if c["trials_pending"] == 0 and c["archs_done"] >= data.budget:
        return "no trials running: search finished"
    return "no trials running now"


def _objects(items: list) -> np.ndarray:
    out = np.empty(len(items), object)
    out[:] = items
    return out


class EpochCurves(Component):
    """Multi-line plot of the running trials' learning curves; replaced on every change."""

    def __init__(self, reader: StoreReader):
        super().__init__(reader)
        self.source = ColumnDataSource({k: [] for k in COLUMNS})
        fig = figure(title="Running trials: metric per epoch", height=320,
                     sizing_mode="stretch_width", x_axis_label="epoch", y_axis_label="metric",
                     tools="pan,wheel_zoom,box_zoom,reset,save")
        lines = fig.multi_line("xs", "ys", source=self.source, line_width=2, color="colour")
        latest = fig.scatter("last_epoch", "last", source=self.source, size=8, color="colour")
        fig.add_tools(HoverTool(renderers=[lines, latest], tooltips=[
            ("architecture / trial", "@arch{0} / @trial{0}"), ("worker", "@worker"),
            ("epochs", "@epochs{0}"), ("latest", "@last{0.0000}")]))
        self.idle = Label(x=30, y=120, x_units="screen", y_units="screen", text="",
                          text_font_size="16px", text_color="grey")  # the plot's width varies
        fig.add_layout(self.idle)
        self.root = fig
        self.n_running = 0

    def render(self, data: Snapshot) -> None:
        new = curve_data(data)
        self.n_running = len(new["arch"])
        idle = "" if self.n_running else idle_text(data)
        if idle != self.idle.text:  # inside the empty plot, where the curves would be
            self.idle.text = idle
            self.root.title.text = ("Running trials: metric per epoch" + (f" ({idle})" if idle else ""))
        if not self._changed(new):
            return
        self.source.data = {k: list(v) for k, v in new.items()}
        if data.epochs:
            self.root.x_range.start, self.root.x_range.end = -0.5, data.epochs - 0.5
        if self.n_running:
            self.root.title.text = f"Running trials: metric per epoch ({self.n_running} running)"

    def _changed(self, new: dict) -> bool:
        old = self.source.data
        if len(old["arch"]) != len(new["arch"]) or list(old["arch"]) != list(new["arch"]):
            return True
        return any(not np.array_equal(o, n) for o, n in zip(old["ys"], new["ys"], strict=True)) or \
            list(old["trial"]) != list(new["trial"])
