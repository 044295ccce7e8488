"""Architecture scatter: mean metric vs trial std (variability), coloured by a chosen hyperparameter."""

from __future__ import annotations

import numpy as np
from bokeh.layouts import column
from bokeh.models import (
    ColorBar,
    ColumnDataSource,
    HoverTool,
    LinearColorMapper,
    LogColorMapper,
    Select,
)
from bokeh.palettes import Viridis256
from bokeh.plotting import figure

from orchestrator.monitor.base import Component, push
from orchestrator.monitor.data import StoreReader
from orchestrator.monitor.hyper import HyperParam, formatted, hyperparams
from orchestrator.store import DONE, FAILED, Snapshot

__all__ = ["ArchitectureScatter", "architecture_rows", "default_colour_param"]

BASE = ("arch", "mean", "std", "n_ok", "n_failed", "stage")


def default_colour_param(names: list[str]) -> str | None:
    """The generator learning rate when there is one (the paper's choice), else the first name."""
    for name in names:
        if "lr" in name.lower() and "gen" in name.lower():
            return name
    return names[0] if names else None


def architecture_rows(data: Snapshot, hps: list[HyperParam]) -> dict[str, np.ndarray]:
    """Finished architectures with a successful trial, in completion order, with their values."""
    if not data.n:
        return {}
    order = data.completion_order()
    mean, std = data.arch_mean_std()
    order = order[np.isfinite(mean[order])]
    status = data.status[order]
    out = {"arch": order.astype(float), "mean": mean[order], "std": std[order],
           "n_ok": (status == DONE).sum(axis=1).astype(float),
           "n_failed": (status == FAILED).sum(axis=1).astype(float), "stage": data.stage_names()[order]}
    params = data.params[order]
    for i, hp in enumerate(hps):
        out[hp.column] = params[:, i]
        out[f"{hp.column}_label"] = formatted(data.experiment, hp.name, params[:, i])
    return out


class ArchitectureScatter(Component):
    """Every finished architecture: mean vs std; colour and colour bar follow a Select widget."""

    def __init__(self, reader: StoreReader):
        super().__init__(reader)
        self.hps: list[HyperParam] = []
        self.source = ColumnDataSource({k: np.zeros(0) for k in (*BASE, "colour")})
        self.select = Select(title="colour by", options=[], value="", width=220)
        self.select.on_change("value", lambda attr, old, new: self._recolour())
        self.mappers = {False: LinearColorMapper(palette=Viridis256),
                        True: LogColorMapper(palette=Viridis256)}
        fig = figure(title="Architectures: mean metric vs variability", height=340,
                     sizing_mode="stretch_width", x_axis_label="mean metric over trials",
                     y_axis_label="std over trials (variability)",
                     tools="pan,wheel_zoom,box_zoom,reset,save,tap")
        self.dots = fig.scatter("mean", "std", source=self.source, size=7, alpha=0.8,
                                color={"field": "colour", "transform": self.mappers[False]})
        self.hover = HoverTool(renderers=[self.dots], tooltips=self._tooltips())
        fig.add_tools(self.hover)
        self.colour_bar = ColorBar(color_mapper=self.mappers[False], width=10, title="")
        fig.add_layout(self.colour_bar, "right")
        self.figure = fig
        self.root = column(self.select, fig, sizing_mode="stretch_width")
        self.last_push = ""

    def _tooltips(self) -> list[tuple[str, str]]:
        tips = [("architecture", "@arch{0}"), ("mean", "@mean{0.00000}"), ("std", "@std{0.0000}"),
                ("trials ok / failed", "@n_ok{0} / @n_failed{0}"), ("stage", "@stage")]
        for hp in self.hps:
            tips.append((hp.name, f"@{hp.column}_label"))
        return tips

    def _configure(self, data: Snapshot) -> None:
        self.hps = hyperparams(data.experiment, data.param_names)
        names = [hp.name for hp in self.hps]
        self.select.options = names
        self.select.value = default_colour_param(names) or ""
        self.hover.tooltips = self._tooltips()

    @property
    def colour_param(self) -> HyperParam | None:
        return next((hp for hp in self.hps if hp.name == self.select.value), None)

    def render(self, data: Snapshot) -> None:
        if data.param_names and not self.hps:
            self._configure(data)
        rows = architecture_rows(data, self.hps)
        if not rows:
            return
        hp = self.colour_param
        rows["colour"] = rows[hp.column] if hp else np.zeros(len(rows["arch"]))
        self.last_push = push(self.source, rows)
        self._style_colour()

    def _recolour(self) -> None:
        hp = self.colour_param
        if hp is None or hp.column not in self.source.data:
            return
        self.source.data["colour"] = np.asarray(self.source.data[hp.column])
        self._style_colour()

    def _style_colour(self) -> None:
        hp = self.colour_param
        if hp is None:
            return
        mapper = self.mappers[hp.log and hp.low > 0]
        mapper.low, mapper.high = hp.low, (hp.high if hp.high > hp.low else hp.low + 1)
        if self.colour_bar.color_mapper is not mapper:
            spec = {"field": "colour", "transform": mapper}
            self.dots.glyph.update(fill_color=spec, line_color=spec)
            self.colour_bar.color_mapper = mapper
        self.colour_bar.title = hp.name
