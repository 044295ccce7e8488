"""Monitor components without a browser: from a store of known content, update() gives exact data."""

from __future__ import annotations

import numpy as np
import pytest
import zarr

from orchestrator.monitor.convergence import Convergence
from orchestrator.monitor.curves import EpochCurves
from orchestrator.monitor.data import StoreReader
from orchestrator.monitor.marginals import Marginals
from orchestrator.monitor.page import Page
from orchestrator.monitor.scatter import ArchitectureScatter
from orchestrator.monitor.status import StatusHeader, format_duration, status_values
from orchestrator.monitor.tables import FailureTable, TopArchitectures
from orchestrator.monitor.timeline import WorkerTimeline, most_at_once, utilisation
from orchestrator.store import DONE, FAILED, PENDING, RUNNING, ResultsStore, store_ready

NOW = 50.0
SPACE = {"x0": {"type": "real", "low": 0.0, "high": 1.0, "log": False},
         "lr_gen": {"type": "lattice", "lower": 1, "upper": 4, "scale": 0.5},
         "act": {"type": "categorical", "choices": ["relu", "tanh"]}}
EXPERIMENT = {"name": "fixture", "space": SPACE, "trials": 2, "epochs": 3, "budget": 6,
              "optimizer": {"name": "rbf", "n_initial": 2}}
W0, W1 = "tcp://127.0.0.1:1000", "tcp://127.0.0.1:1001"

# arch: (params, stage, [(status, metric, started, finished, worker)] per trial)
ROWS = [
    ([0.1, 0.5, 0], "broad", [(DONE, 1.0, 10, 20, W0), (DONE, 3.0, 10, 21, W1)]),
    ([0.2, 1.0, 1], "focus", [(DONE, 0.5, 20, 30, W0), (FAILED, None, 21, 25, W1)]),
    ([0.3, 1.5, 0], "broad", [(FAILED, None, 30, 35, W0), (FAILED, None, 25, 33, W1)]),
    ([0.4, 2.0, 1], "broad", [(RUNNING, None, 40, None, W0), (PENDING, None, None, None, None)]),
]


def _write_trial(store: ResultsStore, a: int, t: int, trial: tuple) -> None:
    status, metric, started, finished, worker = trial
    if metric is not None:
        store.set("metric", (a, t), metric)
    if started is not None:
        store.set("started", (a, t), started)
    if finished is not None:
        store.set("finished", (a, t), finished)
    if worker is not None:
        store.set("worker", (a, t), store.worker_id(worker))
    if status == FAILED:
        store.set_error(a, t, f"ValueError: boom {a}/{t}\nTraceback line")
    store.set("status", (a, t), status)


@pytest.fixture
def store(tmp_path) -> ResultsStore:
    """Four committed architectures: two finished, one all-failed, one running."""
    names = list(SPACE)
    s = ResultsStore.create(tmp_path / "s.zarr", EXPERIMENT, names, trials=2, epochs=3)
    s.group.attrs["created"] = 5.0
    for a, (params, stage, trials) in enumerate(ROWS):
        s.add_architecture(np.array(params, float), stage)
        for t, trial in enumerate(trials):
            _write_trial(s, a, t, trial)
    s.set("epoch_metric", (3, 0, 0), 0.9)
    s.set("epoch_metric", (3, 0, 1), 0.8)
    s.set("diverged_at", (0, 1), 7)
    s.flush()
    return s


@pytest.fixture
def reader(store) -> StoreReader:
    return StoreReader(store.path, clock=lambda: NOW)


def _data(source) -> dict:
    return {k: list(v) for k, v in source.data.items()}


def _eq(got, want) -> None:
    np.testing.assert_array_equal(np.asarray(got, dtype=object), np.asarray(want, dtype=object))


def test_status_header_counts_best_and_times(reader):
    header = StatusHeader(reader)
    header.update()
    v = header.values
    assert (v["archs_done"], v["archs_running"], v["budget"]) == (3, 1, 6)
    assert (v["trials_done"], v["trials_running"], v["trials_failed"], v["trials_pending"]) == (3, 1, 3, 1)
    # architecture 1 has the lowest mean (0.5) from one successful trial: below min_ok (2), so
    # the best is architecture 0 (2.0 +- sample std of [1, 3]), as the driver and report say
    assert (v["best_arch"], v["best_mean"]) == (0, 2.0)
    assert v["best_std"] == pytest.approx(2**0.5)
    assert v["elapsed"] == NOW - 5.0
    assert v["remaining"] == pytest.approx(45.0 / 3 * 3)
    assert "3</b> done" in header.root.text and "3 failed" in header.root.text


def test_convergence_best_so_far_in_completion_order(reader):
    conv = Convergence(reader)
    conv.update()
    d = _data(conv.source)
    _eq(d["index"], [1, 2, 3])
    _eq(d["arch"], [0, 1, 2])
    np.testing.assert_array_equal(d["mean"], [2.0, 0.5, np.nan])
    np.testing.assert_array_equal(d["best"], [2.0, 0.5, 0.5])
    _eq(d["stage"], ["broad", "focus", "broad"])
    assert conv.design_end.visible and conv.design_end.location == 2.5


def test_scatter_rows_colour_and_selection(reader):
    scatter = ArchitectureScatter(reader)
    scatter.update()
    d = _data(scatter.source)
    _eq(d["arch"], [0, 1])
    _eq(d["mean"], [2.0, 0.5])
    _eq(d["std"], [np.sqrt(2.0), 0.0])  # sample std (ddof 1) of 1.0 and 3.0; one success: 0
    _eq(d["n_failed"], [0, 1])
    assert scatter.select.value == "lr_gen"
    _eq(d["colour"], [0.5, 1.0])
    _eq(d["hp_act_label"], ["relu", "tanh"])
    tips = dict(scatter.hover.tooltips)
    assert {"x0", "lr_gen", "act"} <= set(tips)
    scatter.select.value = "x0"
    _eq(scatter.source.data["colour"], [0.1, 0.2])
    assert (scatter.colour_bar.color_mapper.low, scatter.colour_bar.color_mapper.high) == (0.0, 1.0)


def test_marginals_scatter_and_histograms(reader):
    marg = Marginals(reader)
    marg.update()
    _eq(marg.source.data["hp_lr_gen"], [0.5, 1.0])
    hist = _data(marg.histograms["lr_gen"])
    np.testing.assert_allclose(hist["left"], [0.25, 0.75, 1.25, 1.75])
    _eq(hist["sampled"], [1, 1, 1, 1])  # every committed architecture, running ones too
    _eq(hist["good"], [0, 1, 0, 0])  # best 20 % of finished means: architecture 1
    _eq(_data(marg.histograms["act"])["sampled"], [2, 2])


def test_epoch_curves_only_running_trials(reader):
    curves = EpochCurves(reader)
    curves.update()
    d = curves.source.data
    _eq(d["arch"], [3])
    _eq(d["trial"], [0])
    _eq(d["xs"][0], [0, 1])
    np.testing.assert_allclose(d["ys"][0], [0.9, 0.8], rtol=1e-6)
    _eq(d["worker"], [W0])
    _eq(d["last_epoch"], [1])
    assert (curves.root.x_range.start, curves.root.x_range.end) == (-0.5, 2.5)
    assert curves.idle.text == ""  # a trial runs: its curve, no message


def test_worker_timeline_intervals_failures_and_utilisation(reader):
    tl = WorkerTimeline(reader)
    tl.update()
    d = _data(tl.source)
    _eq(list(zip(d["arch"], d["trial"], strict=True)), [(0, 0), (0, 1), (1, 1), (1, 0), (2, 1), (2, 0)])
    _eq(d["left"], [10, 10, 21, 20, 25, 30])
    _eq(d["right"], [20, 21, 25, 30, 33, 35])
    _eq(d["status"], ["done", "done", "failed", "done", "failed", "failed"])
    _eq(d["worker"], ["127.0.0.1:1000", "127.0.0.1:1001", "127.0.0.1:1001", "127.0.0.1:1000",
                      "127.0.0.1:1001", "127.0.0.1:1000"])
    assert d["error"][2] == "ValueError: boom 1/1"
    assert d["error"][1] == "diverged at epoch 7; kept its best epoch before" and d["error"][0] == ""
    run = _data(tl.running)
    _eq(run["left"], [40])
    _eq(run["right"], [NOW])
    _eq(run["left_ms"], [40_000])
    assert list(tl.y_range.factors) == ["127.0.0.1:1000", "127.0.0.1:1001"]
    # busy: worker 0 10+10+5+10, worker 1 11+4+8 seconds; lifetimes: worker 0 10..50 (running
    # now), worker 1 10..33 (its last trial's end)
    assert tl.utilisation[0] == pytest.approx(58 / (40 + 23))


def test_with_min_ok_1_the_single_success_ranks_first(store):
    store.set_experiment({**EXPERIMENT, "min_ok": 1})
    data = StoreReader(store.path, clock=lambda: NOW).read()
    assert list(data.ranked()) == [1, 0]
    assert status_values(data)["best_arch"] == 1


def test_top_architectures_and_failures(reader):
    top = TopArchitectures(reader)
    top.update()
    d = _data(top.source)
    _eq(d["arch"], [1, 0])  # ranked within stage: focus (1) first, then broad (0)
    _eq(d["rank"], [1, 1])
    _eq(d["stage"], ["focus", "broad"])
    _eq(d["mean"], [0.5, 2.0])
    _eq(d["hp_act"], ["tanh", "relu"])
    _eq(d["hp_lr_gen"], ["1", "0.5"])  # as Parameter.format_value shows them everywhere
    _eq(d["hp_x0"], ["0.2", "0.1"])
    columns = top.root.columns
    assert [c.title for c in columns][-3:] == ["x0", "lr_gen", "act"]
    assert all(c.width >= 8 * len(c.title) + 16 for c in columns)  # no header is cut
    fail = FailureTable(reader)
    fail.update()
    f = _data(fail.source)
    _eq(list(zip(f["arch"], f["trial"], strict=True)), [(2, 0), (2, 1), (1, 1)])
    _eq(f["error"], ["ValueError: boom 2/0", "ValueError: boom 2/1", "ValueError: boom 1/1"])


def test_top_architectures_show_the_test_metric_beside_validation(store):
    """Test mean +- std over the successful trials' stored test metric; NaN (a blank cell) where
    the store has none: architecture 1's one success has no test metric, its failure has one."""
    store.set("test_metric", 0, [1.5, 2.5])
    store.set("test_metric", (1, 1), 9.0)  # a failed trial's value is not counted
    store.flush()
    top = TopArchitectures(StoreReader(store.path, clock=lambda: NOW))
    top.update()
    d = _data(top.source)
    _eq(d["arch"], [1, 0])
    _eq(d["mean"], [0.5, 2.0])
    np.testing.assert_allclose(d["test_mean"], [np.nan, 2.0])
    np.testing.assert_allclose(d["test_std"], [np.nan, np.sqrt(0.5)])
    titles = {c.field: c for c in top.root.columns}
    assert [titles[f].title for f in ("mean", "std", "test_mean", "test_std")] == \
        ["validation", "val. std", "test", "test std"]
    assert titles["test_mean"].formatter.nan_format == ""  # blank, not "NaN"


def test_a_store_without_test_metric_shows_blank_test_columns(reader):
    top = TopArchitectures(reader)
    top.update()
    d = _data(top.source)
    assert len(d["test_mean"]) == 2 and np.isnan(d["test_mean"]).all() and np.isnan(d["test_std"]).all()


def test_only_committed_rows_while_writer_is_mid_append(store, reader):
    group = zarr.open_group(store.path, mode="r+", zarr_format=3, use_consolidated=False)
    for name in ("params", "status", "metric", "started", "finished", "worker", "stage"):
        arr = group[name]
        arr.resize((6, *arr.shape[1:]))  # the shape is written first, the commit marker last
    group["status"][4:6] = DONE
    group["metric"][4:6] = -100.0
    page = Page(reader)
    page.refresh()
    assert page.header.values["archs"] == 4 and page.header.values["trials_done"] == 3
    _eq(page.scatter.source.data["arch"], [0, 1])
    assert min(page.convergence.source.data["mean"][:2]) == 0.5


def test_finished_rows_stream_and_store_only_read(store, reader):
    conv, scatter, tl = Convergence(reader), ArchitectureScatter(reader), WorkerTimeline(reader)
    for comp in (conv, scatter, tl):
        comp.update()
    store.set("metric", (3, 0), 0.25)
    store.set("finished", (3, 0), 45.0)
    store.set("status", (3, 0), DONE)
    _write_trial(store, 3, 1, (DONE, 0.75, 41, 46, W1))
    store.flush()
    for comp in (conv, scatter, tl):
        comp.update()
    assert (conv.last_push, scatter.last_push, tl.last_push) == ("stream",) * 3
    _eq(conv.source.data["best"], [2.0, 0.5, 0.5, 0.5])
    _eq(scatter.source.data["arch"], [0, 1, 3])
    assert len(tl.running.data["arch"]) == 0 and len(tl.source.data["arch"]) == 8
    assert reader._stable == 4  # every row finished: nothing re-read next time


def test_missing_store_gives_empty_page_then_picks_it_up(tmp_path):
    path = tmp_path / "later.zarr"
    reader = StoreReader(path, clock=lambda: NOW)
    page = Page(reader)
    page.refresh()
    assert page.problem.text == ""
    assert "waiting for the store" in page.header.root.text
    assert len(page.scatter.source.data["arch"]) == 0
    s = ResultsStore.create(path, EXPERIMENT, list(SPACE), trials=2, epochs=3)
    s.add_architecture(np.array([0.1, 0.5, 0.0]))
    _write_trial(s, 0, 0, (DONE, 1.0, 10, 20, W0))
    _write_trial(s, 0, 1, (DONE, 2.0, 10, 20, W0))
    s.flush()
    page.refresh()
    assert page.problem.text == ""
    assert page.header.values["archs_done"] == 1
    _eq(page.scatter.source.data["mean"], [1.5])
    assert len(page.marginals.histograms) == 3


def test_store_being_created_reads_empty(tmp_path):
    path = tmp_path / "new.zarr"
    staging = tmp_path / ".new.zarr.0123abcd.tmp"  # where ResultsStore.create builds it
    group = zarr.open_group(str(staging), mode="w-", zarr_format=3)
    group.create_array("params", shape=(0, 3), chunks=(128, 3), dtype="f8")
    assert store_ready(path) is False
    page = Page(StoreReader(path))
    page.refresh()
    assert page.problem.text == "" and "waiting" in page.header.root.text


def test_format_duration():
    assert [format_duration(s) for s in (5, 65, 3725, float("nan"))] == ["5s", "1m05s", "1h02m", "-"]


def test_utilisation_counts_each_worker_over_its_own_lifetime(tmp_path):
    # a batch worker restarted under a new address (a -> b) and a worker running two at a time (c)
    trials = [("tcp://a:1", 0, 10), ("tcp://a:1", 10, 18), ("tcp://b:2", 20, 30),
              ("tcp://b:2", 35, 40), ("tcp://c:3", 0, 40), ("tcp://c:3", 5, 25),
              ("tcp://c:3", 25, 35)]
    s = ResultsStore.create(tmp_path / "u.zarr", {**EXPERIMENT, "trials": 1}, list(SPACE),
                            trials=1, epochs=3)
    for a, (worker, start, end) in enumerate(trials):
        s.add_architecture(np.array([0.5, 1.0, 0.0]))
        _write_trial(s, a, 0, (DONE, 1.0, start, end, worker))
    s.flush()
    data = StoreReader(s.path, clock=lambda: 100.0).read()
    # busy 18 + 15 + 70 s; capacity: a 0..18 x 1, b 20..40 x 1, c 0..40 x 2 slots
    assert utilisation(data) == pytest.approx(103 / (18 + 20 + 80))
    # from t = 20: a is gone, b 20..40 busy 15 of 20, c 20..40 busy 20 + 5 + 10 of 2 x 20
    assert utilisation(data, since=20.0) == pytest.approx(50 / 60)
    assert most_at_once(np.array([0.0, 5, 25]), np.array([40.0, 25, 35])) == 2
    assert most_at_once(np.array([0.0, 10]), np.array([10.0, 18])) == 1  # back to back: one slot


def test_monitor_reads_a_format_1_store():
    from pathlib import Path

    data = StoreReader(Path(__file__).parent / "data" / "format1.zarr", clock=lambda: NOW).read()
    assert data.n == 3 and data.workers == ["tcp://w:0", "tcp://w:1", "tcp://w:9"]
    assert data.error(1, 1).startswith("RuntimeError: lost in format 1")
    assert (data.diverged_at == -1).all()

def test_every_document_gets_its_own_models_and_reads_off_the_event_loop(store, reader):
    import asyncio
    import threading

    from bokeh.document import Document

    from orchestrator.monitor.page import make_document

    docs = [Document() for _ in range(3)]  # tabs, reloads and sessions share one reader
    pages = [make_document(doc, reader=reader) for doc in docs]
    ids = [{m.id for m in doc.models} for doc in docs]
    assert not (ids[0] & ids[1]) and not (ids[1] & ids[2])
    threads = []
    read = reader.read
    reader.read = lambda: (threads.append(threading.get_ident()), read())[1]
    for page in pages:
        asyncio.run(page.refresh_async())
        assert page.header.values["archs"] == 4 and page.problem.text == ""
    assert threads and threading.get_ident() not in threads


def test_idle_curves_say_the_search_finished_and_empty_stages_leave_the_legend(store, tmp_path):
    store.set("status", (3, 0), DONE)
    store.set("metric", (3, 0), 0.7)
    store.set("status", (3, 1), DONE)
    store.set("metric", (3, 1), 0.9)
    store.set_experiment({**EXPERIMENT, "budget": 4})
    store.flush()
    reader = StoreReader(store.path, clock=lambda: NOW)
    curves = EpochCurves(reader)
    curves.update()
    assert curves.idle.text == "no trials running: search finished"
    assert "search finished" in curves.root.title.text
    conv = Convergence(reader)
    conv.update()
    assert [i.visible for i in conv.legend.items] == [True, True, True]  # broad and focus
    store.set_experiment({**EXPERIMENT, "budget": 9})
    store.flush()
    curves.update()
    assert curves.idle.text == "no trials running now"
    broad = ResultsStore.create(tmp_path / "b.zarr", EXPERIMENT, list(SPACE), trials=2, epochs=3)
    broad.add_architecture(np.array([0.1, 0.5, 0]), "broad")
    for t in range(2):
        _write_trial(broad, 0, t, (DONE, 1.0 + t, 10, 20, W0))
    broad.flush()
    conv = Convergence(StoreReader(broad.path, clock=lambda: NOW))
    conv.update()
    assert [i.visible for i in conv.legend.items] == [True, True, False]  # no focus stage
