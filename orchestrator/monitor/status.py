"""The status header: counts against the budget, best so far, elapsed and estimated remaining time."""

from __future__ import annotations

import html
import math

import numpy as np
from bokeh.models import ColumnDataSource, Div

from orchestrator.monitor.base import Component
from orchestrator.monitor.data import StoreReader
from orchestrator.store import Snapshot

__all__ = ["StatusHeader", "format_duration"]


def format_duration(seconds: float) -> str:
    """Seconds as 1h02m, 3m05s or 12s; a dash when unknown."""
    if not math.isfinite(seconds) or seconds < 0:
        return "-"
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def _failed(n: int) -> str:
    """The failed count, in red only when there are failures."""
    return f"<span style='color:#c0392b'>{n} failed</span>" if n else "0 failed"


def _pruned(v: dict) -> str:
    """', N pruned' (trials stopped by the pruner) when there are any."""
    n = v.get("trials_pruned", 0)
    return f", <span style='color:#7f8c8d'>{n} pruned</span>" if n else ""


def status_values(data: Snapshot) -> dict:
    """The header's numbers from one snapshot (also what the tests check)."""
    counts = data.counts() if data.exists else {}
    values = {"exists": data.exists, "budget": data.budget, **counts}
    mean, std = data.arch_mean_std() if data.n else (np.zeros(0), np.zeros(0))
    best = data.best() if data.n else None  # never a pruned architecture
    values["best_arch"] = best
    values["best_mean"] = float(mean[best]) if best is not None else math.nan
    values["best_std"] = float(std[best]) if best is not None else math.nan
    values.update(_timing(data, counts))
    return values


def _timing(data: Snapshot, counts: dict) -> dict:
    if not data.exists or not data.n:
        return {"elapsed": 0.0 if data.exists else math.nan, "remaining": math.nan,
                "finished": False}
    running = counts["trials_running"] + counts["trials_pending"] > 0
    left = max(0, data.budget - counts["archs_done"])
    last = np.nanmax(data.finished) if np.isfinite(data.finished).any() else data.now
    end = data.now if running else last
    elapsed = max(0.0, end - data.created)
    finished = not running and left == 0
    if finished:
        remaining = 0.0
    elif counts["archs_done"]:
        remaining = elapsed / counts["archs_done"] * left
    else:
        remaining = math.nan
    return {"elapsed": elapsed, "remaining": remaining, "finished": finished}


class StatusHeader(Component):
    """One line of numbers a user reads at a glance (a Div fed from a one-row source)."""

    def __init__(self, reader: StoreReader):
        super().__init__(reader)
        self.values: dict = {}
        self.source = ColumnDataSource({"text": [""]})
        self.root = Div(text="", sizing_mode="stretch_width", styles={"font-size": "15px"})

    def render(self, data: Snapshot) -> None:
        self.values = v = status_values(data)
        text = self._html(data, v)
        if text != self.root.text:
            self.root.text = text
            self.source.data = {"text": [text]}

    @staticmethod
    def _html(data: Snapshot, v: dict) -> str:
        name = html.escape(str(data.experiment.get("name", "")))
        head = f"<b>ganhpo monitor</b> &middot; {name} &middot; <code>{html.escape(str(data.path))}</code>"
        if not v["exists"]:
            return f"{head}<br>waiting for the store to appear (the run is starting)..."
        best = (f"best <b>{v['best_mean']:.5g}</b> &plusmn; {v['best_std']:.2g} (architecture "
                f"{v['best_arch']})" if v["best_arch"] is not None else "best: none yet")
        state = "finished" if v["finished"] else f"remaining ~{format_duration(v['remaining'])}"
        return (f"{head}<br>architectures <b>{v['archs_done']}</b> done / {v['archs_running']} "
                f"running / {v['budget']} budget &middot; trials {v['trials_done']} done, "
                f"{v['trials_running']} running, {_failed(v['trials_failed'])}{_pruned(v)} "
                f"&middot; {best} &middot; elapsed "
                f"{format_duration(v['elapsed'])}, {state}")
