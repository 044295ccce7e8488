"""Per-hyperparameter marginals: mean metric against each value, over where samples were taken."""

from __future__ import annotations

import numpy as np
from bokeh.layouts import column, gridplot
from bokeh.models import ColumnDataSource, Div, HoverTool
from bokeh.plotting import figure

from orchestrator.monitor.base import Component, push
from orchestrator.monitor.data import StoreReader
from orchestrator.monitor.hyper import HyperParam, hyperparams
from orchestrator.monitor.scatter import architecture_rows
from orchestrator.store import Snapshot

__all__ = ["GOOD_QUANTILE", "Marginals", "histogram_data"]

GOOD_QUANTILE = 0.2  # "good" architectures: mean in the best 20 %, the paper's focus subset
PER_ROW = 3


def histogram_data(data: Snapshot, hp: HyperParam, index: int) -> dict[str, np.ndarray]:
    """Counts of sampled values (every committed architecture) and of the good ones, per bin."""
    edges = hp.bins()
    values = data.params[:, index] if data.n else np.zeros(0)
    sampled = np.histogram(values, edges)[0]
    mean = data.arch_mean_std()[0] if data.n else np.zeros(0)
    finite = np.isfinite(mean)
    good = np.zeros(len(edges) - 1, int)
    if finite.any():
        cut = np.quantile(mean[finite], GOOD_QUANTILE)
        good = np.histogram(values[finite & (mean <= cut)], edges)[0]
    return {"left": edges[:-1], "right": edges[1:], "sampled": sampled.astype(float),
            "good": good.astype(float)}


class Marginals(Component):
    """A grid of (metric vs value scatter, sampling histogram) pairs, one per hyperparameter."""

    def __init__(self, reader: StoreReader):
        super().__init__(reader)
        self.hps: list[HyperParam] = []
        self.source = ColumnDataSource({"arch": np.zeros(0), "mean": np.zeros(0)})
        self.histograms: dict[str, ColumnDataSource] = {}
        self.root = column(Div(text="<i>Marginals appear once the store has its parameters.</i>"),
                           sizing_mode="stretch_width")
        self.last_push = ""

    def _build(self, data: Snapshot) -> None:
        self.hps = hyperparams(data.experiment, data.param_names)
        self.source.data = {"arch": np.zeros(0), "mean": np.zeros(0),
                            **{hp.column: np.zeros(0) for hp in self.hps}}
        cells = []
        for hp in self.hps:
            self.histograms[hp.name] = ColumnDataSource(
                {k: np.zeros(0) for k in ("left", "right", "sampled", "good")})
            cells.append(self._cell(hp))
        grid = gridplot(cells, ncols=PER_ROW, sizing_mode="stretch_width", toolbar_location=None)
        title = Div(text=f"<b>Hyperparameter marginals</b>: mean metric per architecture (top) and "
                         f"where samples were taken (bottom; orange: best {GOOD_QUANTILE:.0%})")
        self.root.children = [title, grid]

    def _cell(self, hp: HyperParam):
        axis = "log" if hp.log and hp.low > 0 else "linear"
        top = figure(height=180, sizing_mode="stretch_width", x_axis_type=axis, title=hp.name,
                     y_axis_label="mean metric", tools="pan,wheel_zoom,reset")
        dots = top.scatter(hp.column, "mean", source=self.source, size=4, alpha=0.6)
        top.add_tools(HoverTool(renderers=[dots], tooltips=[("architecture", "@arch{0}"),
                                                            ("mean", "@mean{0.0000}")]))
        bottom = figure(height=110, sizing_mode="stretch_width", x_axis_type=axis,
                        x_range=top.x_range, y_axis_label="samples", tools="")
        hist = self.histograms[hp.name]
        bottom.quad(left="left", right="right", bottom=0, top="sampled", source=hist,
                    color="#9ecae1", line_color="white")
        bottom.quad(left="left", right="right", bottom=0, top="good", source=hist,
                    color="#ff7f0e", alpha=0.8, line_color="white")
        if hp.labels:
            labels = {i: label for i, label in enumerate(hp.labels)}
            for fig in (top, bottom):
                fig.xaxis.ticker = list(labels)
                fig.xaxis.major_label_overrides = labels
        return column(top, bottom, sizing_mode="stretch_width")

    def render(self, data: Snapshot) -> None:
        if data.param_names and not self.hps:
            self._build(data)
        if not self.hps or not data.n:
            return
        rows = architecture_rows(data, self.hps)
        keep = ("arch", "mean", *(hp.column for hp in self.hps))
        self.last_push = push(self.source, {k: rows[k] for k in keep})
        for i, hp in enumerate(self.hps):
            push(self.histograms[hp.name], histogram_data(data, hp, i))
