"""Convergence: best-so-far mean metric against evaluation index, as in the paper's figure."""

from __future__ import annotations

import numpy as np
from bokeh.models import CDSView, ColumnDataSource, GroupFilter, HoverTool, Legend, Span
from bokeh.plotting import figure

from orchestrator.monitor.base import Component, push
from orchestrator.monitor.data import StoreReader
from orchestrator.store import STAGES, Snapshot

__all__ = ["Convergence", "convergence_data"]

STAGE_COLOURS = ("#1f77b4", "#ff7f0e")
COLUMNS = ("index", "arch", "mean", "best", "stage")


def convergence_data(data: Snapshot) -> dict[str, np.ndarray]:
    """Finished architectures in completion order: mean and best-so-far (NaN: all trials failed)."""
    if not data.n:
        return {k: np.zeros(0, object if k == "stage" else float) for k in COLUMNS}
    order = data.completion_order()
    mean = data.arch_mean_std()[0][order]
    with np.errstate(invalid="ignore"):
        best = np.fmin.accumulate(mean) if len(mean) else mean
    return {"index": np.arange(1, len(order) + 1, dtype=float), "arch": order.astype(float),
            "mean": mean, "best": best, "stage": data.stage_names()[order]}


class Convergence(Component):
    """Each finished architecture's mean (by stage) and the best-so-far step line."""

    def __init__(self, reader: StoreReader):
        super().__init__(reader)
        self.source = ColumnDataSource(convergence_data(Snapshot.empty()))
        fig = figure(title="Convergence: best mean metric so far", height=340,
                     sizing_mode="stretch_width", x_axis_label="evaluation (architectures finished)",
                     y_axis_label="mean metric over trials", tools="pan,wheel_zoom,box_zoom,reset,save")
        line = fig.step("index", "best", source=self.source, mode="after", line_width=2,
                        color="black")
        dots = [fig.scatter("index", "mean", source=self.source, size=7, alpha=0.75, color=colour,
                            marker=marker, view=CDSView(filter=GroupFilter(column_name="stage",
                                                                           group=stage)))
                for stage, colour, marker in zip(STAGES, STAGE_COLOURS, ("circle", "diamond"), strict=True)]
        fig.add_tools(HoverTool(renderers=dots, tooltips=[
            ("architecture", "@arch{0}"), ("mean", "@mean{0.0000}"), ("best so far", "@best{0.0000}"),
            ("stage", "@stage")]))
        self.design_end = Span(location=0, dimension="height", line_dash="dashed",
                               line_color="grey", visible=False)
        fig.add_layout(self.design_end)
        items = [("best so far", [line])] + [(f"{s} search: architecture mean", [d])
                                             for s, d in zip(STAGES, dots, strict=True)]
        self.legend = Legend(items=items, orientation="horizontal")
        fig.add_layout(self.legend, "below")
        self.root = fig
        self.last_push = ""

    def render(self, data: Snapshot) -> None:
        rows = convergence_data(data)
        self.last_push = push(self.source, rows)
        for item, stage in zip(self.legend.items[1:], STAGES, strict=True):  # no empty entries
            item.visible = bool(np.any(rows["stage"] == stage))
        n0 = data.n_initial
        self.design_end.visible = bool(n0)
        self.design_end.location = n0 + 0.5
        if n0:
            self.root.title.text = (f"Convergence: best mean metric so far (dashed: end of the "
                                    f"{n0}-point initial design)")
