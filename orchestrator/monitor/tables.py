"""Tables: the top architectures by mean metric, and the most recent failed trials."""

from __future__ import annotations

import html

import numpy as np
from bokeh.models import ColumnDataSource, DataTable, NumberFormatter, TableColumn

from orchestrator.monitor.base import Component, push
from orchestrator.monitor.data import StoreReader
from orchestrator.monitor.hyper import HyperParam, formatted, hyperparams
from orchestrator.monitor.timeline import first_line, short_worker
from orchestrator.store import DONE, FAILED, Snapshot, mean_std

__all__ = ["FailureTable", "TopArchitectures", "failure_rows", "test_mean_std", "top_rows", "within_stage"]

TOP = 20
RECENT_FAILURES = 20
NUM = "0.00000"  # formats, not models: a Bokeh model belongs to one document only
METRIC_FIELDS = ("mean", "std", "test_mean", "test_std")  # mean +- std over trials; NaN: blank
CHAR_PX = 8  # a header character's width: columns as wide as their titles, never cut


def test_mean_std(data: Snapshot) -> tuple[np.ndarray, np.ndarray]:
    """Per architecture: mean and std over its successful trials of the stored test metric
    (NaN where none has one: no test split, or a store written before there was one)."""
    if not data.n or data.test_metric is None:
        return np.full(data.n, np.nan), np.full(data.n, np.nan)
    return mean_std(data.test_metric, (data.status == DONE) & np.isfinite(data.test_metric))


def within_stage(data: Snapshot) -> tuple[np.ndarray, np.ndarray]:
    """The ranked architectures, the latest stage first, and each one's rank within its stage:
    stages train for different epochs, so their metrics are never ranked together."""
    idx = data.ranked()
    if not len(idx) or data.stage is None:
        return idx, np.arange(1, len(idx) + 1)
    stage = data.stage[idx].astype(int)
    order = np.argsort(-stage, kind="stable")
    idx, stage = idx[order], stage[order]
    first = np.searchsorted(-stage, -stage, side="left")  # where each one's stage starts
    return idx, np.arange(len(idx)) - first + 1


def top_rows(data: Snapshot, hps: list[HyperParam], k: int = TOP) -> dict[str, np.ndarray]:
    """The k best finished architectures, ranked within stage (``within_stage``; lowest mean,
    those short of min_ok successes last), validation and test metric as mean and std over trials."""
    mean, std = data.arch_mean_std() if data.n else (np.zeros(0), np.zeros(0))
    t_mean, t_std = test_mean_std(data)
    idx, rank = within_stage(data)
    idx, rank = idx[:k], rank[:k]
    status = data.status[idx] if data.n else np.zeros((0, 0))
    out = {"rank": rank.astype(float), "arch": idx.astype(float),
           "mean": mean[idx], "std": std[idx], "test_mean": t_mean[idx], "test_std": t_std[idx],
           "n_ok": (status == DONE).sum(axis=1).astype(float),
           "n_failed": (status == FAILED).sum(axis=1).astype(float),
           "stage": data.stage_names()[idx] if data.n else np.zeros(0, object)}
    for i, hp in enumerate(hps):
        out[hp.column] = formatted(data.experiment, hp.name, data.params[idx, i])
    return out


def _width(title: str, least: int) -> int:
    return max(least, CHAR_PX * len(title) + 16)


def failure_rows(data: Snapshot, k: int = RECENT_FAILURES) -> dict[str, np.ndarray]:
    """The k most recently finished failed trials, newest first, with their error's first line."""
    if not data.n:
        return {c: np.zeros(0) for c in ("arch", "trial", "worker", "error")}
    a, t = np.nonzero(data.status == FAILED)
    order = np.lexsort((t, a, -np.nan_to_num(data.finished[a, t], nan=-np.inf)))[:k]
    a, t = a[order], t[order]
    widx = data.worker[a, t]
    return {"arch": a.astype(float), "trial": t.astype(float),
            "worker": np.array([short_worker(data.workers[w]) if 0 <= w < len(data.workers)
                                else "?" for w in widx], object),
            "error": np.array([first_line(data.error(int(i), int(j))) for i, j in zip(a, t, strict=True)],
                              object)}


class TopArchitectures(Component):
    """A table of the best architectures with every hyperparameter value."""

    def __init__(self, reader: StoreReader):
        super().__init__(reader)
        self.hps: list[HyperParam] = []
        self.source = ColumnDataSource(top_rows(Snapshot.empty(), []))
        self.root = DataTable(source=self.source, columns=self._columns(), height=300,
                              sizing_mode="stretch_width", index_position=None,
                              autosize_mode="none")  # too wide: a scroll bar, not cut headers

    def _columns(self) -> list[TableColumn]:
        cols = [TableColumn(field=f, title=t, width=_width(t, w),
                            **({"formatter": NumberFormatter(format=NUM, nan_format="")}
                               if f in METRIC_FIELDS else {}))
                for f, t, w in (("rank", "# in stage", 25), ("arch", "arch", 40), ("mean", "validation", 70),
                                ("std", "val. std", 70), ("test_mean", "test", 70),
                                ("test_std", "test std", 70), ("n_ok", "ok", 25),
                                ("n_failed", "failed", 40), ("stage", "stage", 50))]
        # column titles are HTML in the table's header (cells are text): escape parameter names
        return cols + [TableColumn(field=hp.column, title=html.escape(hp.name),
                                   width=_width(hp.name, 70)) for hp in self.hps]

    def render(self, data: Snapshot) -> None:
        if data.param_names and not self.hps:
            self.hps = hyperparams(data.experiment, data.param_names)
            self.source.data = top_rows(data, self.hps)
            self.root.columns = self._columns()
            return
        push(self.source, top_rows(data, self.hps))


class FailureTable(Component):
    """The most recent failed trials and why they failed."""

    def __init__(self, reader: StoreReader):
        super().__init__(reader)
        self.source = ColumnDataSource(failure_rows(Snapshot.empty()))
        self.root = DataTable(source=self.source, height=200, sizing_mode="stretch_width",
                              index_position=None, columns=[
                                  TableColumn(field="arch", title="architecture",
                                              width=_width("architecture", 70)),
                                  TableColumn(field="trial", title="trial", width=50),
                                  TableColumn(field="worker", title="worker", width=150),
                                  TableColumn(field="error", title="error", width=900)])

    def render(self, data: Snapshot) -> None:
        push(self.source, failure_rows(data))
