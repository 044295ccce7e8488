"""The one read-only view: explicit fields, the same from read_store and the monitor's reader."""

import json
from dataclasses import fields

import numpy as np
import pytest
import zarr

from orchestrator.monitor.data import StoreReader
from orchestrator.store import (
    ARRAY_NAMES,
    DONE,
    FAILED,
    FINISHED,
    RUNNING,
    ResultsStore,
    Snapshot,
    StoreError,
    TrialState,
    read_attrs,
    read_store,
    store_ready,
)

EXP = {"name": "t", "budget": 5, "trials": 2, "epochs": 3, "min_ok": 1,
       "space": {"a": {"type": "int", "low": 0, "high": 9}}}


def small(tmp_path) -> ResultsStore:
    """Three architectures: one done (mean 2), one failed-and-done (1), one still running."""
    store = ResultsStore.create(tmp_path / "s.zarr", EXP, ["a"], trials=2, epochs=3)
    for a, (states, metrics) in enumerate([((DONE, DONE), (1.0, 3.0)), ((DONE, FAILED), (1.0, 0)),
                                           ((DONE, RUNNING), (0.1, 0))]):
        store.add_architecture(np.array([float(a)]), stage="focus" if a == 2 else "broad")
        for t, (state, metric) in enumerate(zip(states, metrics, strict=True)):
            store.set("metric", (a, t), metric)
            store.set("started", (a, t), 10.0 * a + t)
            store.set("finished", (a, t), 10.0 * a + t + 5 if state != RUNNING else np.nan)
            store.set("worker", (a, t), store.worker_id(f"tcp://w:{t}"))
            store.set("status", (a, t), state)
    store.set_error(1, 1, "ValueError: boom")
    store.flush()
    return store


def test_every_array_is_an_explicit_field():
    names = {f.name for f in fields(Snapshot)}
    assert set(ARRAY_NAMES) - {"error"} <= names and "arrays" not in names
    with pytest.raises(AttributeError):
        Snapshot.empty().no_such_array  # noqa: B018 - no __getattr__ hides the schema


def test_derived_methods(tmp_path):
    snap = read_store(small(tmp_path).path)
    assert snap.n == 3 and snap.arch_done().tolist() == [True, True, False]
    mean, std = snap.arch_mean_std()
    np.testing.assert_allclose(mean, [2.0, 1.0, 0.1])
    np.testing.assert_allclose(std, [np.sqrt(2.0), 0.0, 0.0])
    assert snap.ranked().tolist() == [1, 0] and snap.ranked(min_ok=2).tolist() == [0, 1]
    assert snap.completion_order().tolist() == [0, 1]
    assert snap.stage_names().tolist() == ["broad", "broad", "focus"]
    assert snap.error(1, 1) == "ValueError: boom" and snap.error(0, 0) == ""
    assert snap.counts() == {"trials_done": 4, "trials_running": 1, "trials_failed": 1,
                             "trials_pending": 0, "archs": 3, "archs_done": 2, "archs_running": 1,
                             "trials_pruned": 0, "archs_pruned": 0}


def test_monitor_reader_gives_the_same_view(tmp_path):
    store = small(tmp_path)
    full, live = read_store(store.path), StoreReader(store.path).read()
    assert isinstance(live, Snapshot) and live.exists
    for name in ("status", "params", "stage", "metric", "started", "finished", "worker",
                 "diverged_at"):
        np.testing.assert_array_equal(getattr(live, name), getattr(full, name))
    assert (live.workers, live.errors, live.experiment) == (full.workers, full.errors,
                                                           full.experiment)
    assert live.epoch_metric is None and set(live.curves) == {(2, 1)}
    assert live.ranked().tolist() == full.ranked().tolist()


def test_select_renumbers_and_recomputes(tmp_path):
    snap = read_store(small(tmp_path).path)
    assert snap.ranked().tolist() == [1, 0]
    part = snap.select(snap.stage == 0)
    assert part.n == 2 and part.params[:, 0].tolist() == [0.0, 1.0]
    assert part.ranked().tolist() == [1, 0] and part.arch_done().tolist() == [True, True]
    last = snap.select(np.array([False, False, True]))
    assert last.arch_done().tolist() == [False] and last.ranked().tolist() == []


def test_partial_read_leaves_the_other_arrays_out(tmp_path):
    snap = read_store(small(tmp_path).path, arrays=("metric",))
    assert snap.status.shape == (3, 2) and snap.metric.shape == (3, 2) and snap.params is None


def test_empty_view_has_zero_rows_of_every_array():
    empty = Snapshot.empty("nowhere", now=5.0)
    assert not empty.exists and empty.n == 0 and empty.now == 5.0
    assert empty.epoch_metric.shape == (0, 0, 0) and empty.ranked().tolist() == []
    assert empty.counts()["archs"] == 0 and empty.completion_order().tolist() == []


def test_finished_states_come_from_trial_state():
    assert FINISHED == tuple(s for s in TrialState if s.is_finished())
    assert TrialState.PRUNED in FINISHED and RUNNING not in FINISHED


def test_store_ready_waits_for_a_store_and_refuses_anything_else(tmp_path):
    assert store_ready(tmp_path / "new.zarr") is False
    (tmp_path / "empty").mkdir()
    assert store_ready(tmp_path / "empty") is False
    afile = tmp_path / "notes.txt"
    afile.write_text("hello")
    with pytest.raises(StoreError, match="not a ganhpo results store"):
        store_ready(afile)
    other = tmp_path / "other"
    other.mkdir()
    (other / "data.csv").write_text("1,2")
    with pytest.raises(StoreError, match="not a ganhpo results store"):
        store_ready(other)
    foreign = tmp_path / "foreign.zarr"
    zarr.open_group(str(foreign), mode="w-", zarr_format=3).attrs["title"] = "someone else's"
    with pytest.raises(StoreError, match="ganhpo_format"):
        store_ready(foreign)
    store = small(tmp_path)
    assert store_ready(store.path) is True and read_attrs(store.path)["n_committed"] == 3
    meta = json.loads((tmp_path / "s.zarr" / "zarr.json").read_text())
    meta["attributes"]["ganhpo_format"] = 99
    (tmp_path / "s.zarr" / "zarr.json").write_text(json.dumps(meta))
    with pytest.raises(StoreError, match="newer"):
        store_ready(store.path)
    with pytest.raises(StoreError, match="newer"):
        read_attrs(store.path)


def test_read_store_reads_status_first_so_a_live_flush_never_looks_like_damage(tmp_path,
                                                                                monkeypatch):
    """The writer writes status last; a reader of a live store must read it first (then a trial
    it sees done has its metric on disk). The old set-ordered read saw done beside a NaN metric."""
    import threading

    import orchestrator.store.view as view

    writer = small(tmp_path)
    order: list[str] = []
    real = view.read_checked
    monkeypatch.setattr(view, "read_checked",
                        lambda path, group, name, n: order.append(name) or real(path, group, name, n))
    read_store(tmp_path / "s.zarr")
    assert order[0] == "status" and "metric" in order

    done, errors = threading.Event(), []

    def write() -> None:
        for k in range(60):
            a = writer.add_architecture(np.array([float(k % 10)]))
            writer.flush()
            for t in range(2):
                writer.set("metric", (a, t), 0.5)
                writer.set("status", (a, t), DONE)
            writer.flush()
        done.set()

    thread = threading.Thread(target=write)
    thread.start()
    while not done.is_set():
        try:
            read_store(tmp_path / "s.zarr")
        except StoreError as err:  # StoreDamaged is a StoreError
            errors.append(str(err))
    thread.join()
    assert errors == []
