"""Worker timeline: each trial a bar on its worker's row (failures marked) and utilisation."""

from __future__ import annotations

import numpy as np
from bokeh.models import CDSView, ColumnDataSource, FactorRange, GroupFilter, HoverTool
from bokeh.plotting import figure

from orchestrator.monitor.base import Component, push, to_ms
from orchestrator.monitor.data import StoreReader
from orchestrator.store import (
    DONE,
    FAILED,
    FINISHED,
    PENDING,
    RUNNING,
    STATUS_NAMES,
    Snapshot,
    TrialState,
)

__all__ = ["RECENT_SECONDS", "WorkerTimeline", "timeline_data", "utilisation"]

COLUMNS = ("worker", "left", "right", "arch", "trial", "status", "metric", "error", "colour")
COLOURS = {PENDING: "#7f7f7f", RUNNING: "#1f77b4", DONE: "#2ca02c", FAILED: "#d62728"}
RECENT_SECONDS = 300.0
_NAMES = np.array([STATUS_NAMES[state] for state in TrialState], object)  # indexed by code
_COLOURS = np.array([COLOURS.get(state, COLOURS[PENDING]) for state in TrialState], object)


def short_worker(name: str) -> str:
    """A worker address without its protocol, as a row label."""
    return name.split("://", 1)[-1]


def timeline_data(data: Snapshot, statuses: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Trials with the given statuses as intervals (seconds); running ones end at ``data.now``.

    Finished trials come ordered by end time so that new ones stream onto the end.
    """
    if not data.n:
        return {k: np.zeros(0, object if k in ("worker", "status", "error", "colour") else float)
                for k in COLUMNS}
    status = data.status
    a, t = np.nonzero(np.isin(status, statuses) & np.isfinite(data.started))
    left = data.started[a, t]
    right = np.where(status[a, t] == RUNNING, data.now, data.finished[a, t])
    order = np.lexsort((t, a, right)) if RUNNING not in statuses else np.lexsort((t, a))
    a, t, left, right = a[order], t[order], left[order], right[order]
    names = np.array([short_worker(w) for w in data.workers] + ["?"], object)
    widx = data.worker[a, t].astype(int)
    codes = status[a, t].astype(int)
    errors = np.full(len(a), "", object)
    for k in np.flatnonzero(codes == FAILED):
        errors[k] = first_line(data.error(int(a[k]), int(t[k])))
    diverged = data.diverged_at
    for k in np.flatnonzero((codes == DONE) & (diverged[a, t] >= 0)):
        errors[k] = f"diverged at epoch {int(diverged[a[k], t[k]])}; kept its best epoch before"
    return {"worker": names[np.where(widx >= 0, widx, -1)], "left": left, "right": right,
            "arch": a.astype(float), "trial": t.astype(float), "status": _NAMES[codes],
            "metric": data.metric[a, t], "error": errors, "colour": _COLOURS[codes]}


def first_line(text: str, limit: int = 200) -> str:
    """The first non-empty line of an error text, cut to ``limit`` characters."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[0][:limit] if lines else ""


def utilisation(data: Snapshot, since: float | None = None) -> float:
    """Busy trial-seconds over the capacity of each worker's own lifetime, from ``since`` on.

    A worker's lifetime runs from its first trial's start to its last trial's end (now while it
    runs one); its slots are the most trials it ran at once. Batch workers that restart under
    new addresses (``--lifetime``) thus count only while they existed. Idle time before a
    worker's first trial or after its last is not seen (the store records trials, not joins).
    """
    if not data.n or not data.workers:
        return float("nan")
    status, started, worker = data.status, data.started, data.worker
    ends = np.where(status == RUNNING, data.now, data.finished)
    ok = np.isfinite(started) & np.isfinite(ends) & (status != PENDING) & (worker >= 0)
    if not ok.any():
        return float("nan")
    start_each, end_each, who = started[ok], ends[ok], worker[ok].astype(int)
    end = data.now if (status == RUNNING).any() else float(end_each.max())
    begin = float(start_each.min()) if since is None else max(since, float(start_each.min()))
    if end <= begin:
        return float("nan")
    busy = np.clip(np.minimum(end_each, end) - np.maximum(start_each, begin), 0, None).sum()
    capacity = 0.0
    for w in np.unique(who):
        lo, hi = start_each[who == w], end_each[who == w]
        alive = min(float(hi.max()), end) - max(float(lo.min()), begin)
        capacity += max(alive, 0.0) * most_at_once(lo, hi)
    return float(busy / capacity) if capacity > 0 else float("nan")


def most_at_once(starts: np.ndarray, ends: np.ndarray) -> int:
    """The largest number of [start, end) intervals that overlap at one time (at least 1)."""
    times = np.concatenate([starts, ends])
    steps = np.concatenate([np.ones(len(starts)), -np.ones(len(ends))])
    order = np.lexsort((steps, times))  # at equal times an end (-1) comes before a start
    return max(1, int(np.cumsum(steps[order]).max()))


class WorkerTimeline(Component):
    """Bars per worker: finished trials stream in, running ones are redrawn up to now."""

    def __init__(self, reader: StoreReader):
        super().__init__(reader)
        empty = _with_ms(timeline_data(Snapshot.empty(), ()))
        self.source = ColumnDataSource(dict(empty))  # finished trials
        self.running = ColumnDataSource(dict(empty))
        self.y_range = FactorRange(factors=[])
        fig = figure(title="Workers", height=320, sizing_mode="stretch_width", y_range=self.y_range,
                     x_axis_type="datetime", tools="xpan,xwheel_zoom,reset,save")
        done = fig.hbar(y="worker", left="left_ms", right="right_ms", height=0.7, source=self.source,
                        color="colour", line_color="white", line_width=0.5)
        live = fig.hbar(y="worker", left="left_ms", right="right_ms", height=0.7,
                        source=self.running, color="colour", alpha=0.6, hatch_pattern="/")
        failed = fig.scatter(x="right_ms", y="worker", marker="x", size=12, line_width=2,
                             color="#d62728", source=self.source,
                             view=CDSView(filter=GroupFilter(column_name="status", group="failed")))
        fig.add_tools(HoverTool(renderers=[done, live, failed], tooltips=[
            ("architecture / trial", "@arch{0} / @trial{0}"), ("status", "@status"),
            ("metric", "@metric{0.0000}"), ("worker", "@worker"), ("error", "@error")]))
        self.root = fig
        self.utilisation = (float("nan"), float("nan"))
        self.last_push = ""

    def render(self, data: Snapshot) -> None:
        finished = timeline_data(data, FINISHED)
        running = timeline_data(data, (RUNNING,))
        names = [short_worker(w) for w in data.workers]
        if "?" in set(finished["worker"]) | set(running["worker"]):
            names.append("?")
        if list(self.y_range.factors) != names and names:
            self.y_range.factors = names
        self.last_push = push(self.source, _with_ms(finished))
        push(self.running, _with_ms(running))
        self.utilisation = (utilisation(data), utilisation(data, data.now - RECENT_SECONDS))
        overall, recent = (f"{u:.0%}" if np.isfinite(u) else "-" for u in self.utilisation)
        self.root.title.text = (f"Workers ({len(names)}): utilisation {overall} overall, "
                                f"{recent} over the last {RECENT_SECONDS / 60:.0f} min; "
                                "red x: failed trial")


def _with_ms(rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {**rows, "left_ms": to_ms(rows["left"]), "right_ms": to_ms(rows["right"])}
