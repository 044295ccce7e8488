"""Live per-epoch metric curves of the trials running now (read only for those trials)."""

from __future__ import annotations

import numpy as np
from bokeh.models import ColumnDataSource, HoverTool
from bokeh.palettes import Category10_10
from bokeh.plotting import figure

from orchestrator.monitor.base import Component
from orchestrator.monitor.data import StoreReader
from orchestrator.store import Snapshot

__all__ = ["EpochCurves", "curve_data"]

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
        self.root = fig
        self.n_running = 0

    def render(self, data: Snapshot) -> None:
        new = curve_data(data)
        if not self._changed(new):
            return
        self.source.data = {k: list(v) for k, v in new.items()}
        self.n_running = len(new["arch"])
        if data.epochs:
            self.root.x_range.start, self.root.x_range.end = -0.5, data.epochs - 0.5
        self.root.title.text = (f"Running trials: metric per epoch ({self.n_running} running)"
                                if self.n_running else "Running trials: none running now")

    def _changed(self, new: dict) -> bool:
        old = self.source.data
        if len(old["arch"]) != len(new["arch"]) or list(old["arch"]) != list(new["arch"]):
            return True
        return any(not np.array_equal(o, n) for o, n in zip(old["ys"], new["ys"], strict=True)) or \
            list(old["trial"]) != list(new["trial"])
