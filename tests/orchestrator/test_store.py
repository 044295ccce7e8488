"""The Zarr results store: round trip, commit marker, resume, and refusals that touch no data."""

import numpy as np
import pytest
import zarr

from orchestrator.store import DONE, FAILED, PENDING, RUNNING, ResultsStore, StoreError, read_store

EXP = {"name": "t", "budget": 5, "space": {"a": {"type": "int", "low": 0, "high": 9}}}


def make(tmp_path, trials=2, epochs=3) -> ResultsStore:
    return ResultsStore.create(tmp_path / "s.zarr", EXP, ["a", "b"], trials, epochs)


def test_round_trip_of_every_array(tmp_path):
    store = make(tmp_path)
    a = store.add_architecture(np.array([3.0, 0.5]), stage="focus")
    store.set("metric", (a, 0), 0.25)
    store.set("metric", (a, 1), 0.75)
    store.set("epoch_metric", (a, 1, 2), 0.5)
    store.set("worker", (a, 0), store.worker_id("tcp://w:1"))
    store.set_error(a, 1, "ValueError: bad")
    store.set("status", (a, 0), DONE)
    store.set("status", (a, 1), FAILED)
    store.flush()
    snap = read_store(tmp_path / "s.zarr")
    assert snap.n == 1 and snap.param_names == ["a", "b"] and snap.experiment == EXP
    np.testing.assert_array_equal(snap.params, [[3.0, 0.5]])
    np.testing.assert_array_equal(snap.status, [[DONE, FAILED]])
    assert snap.stage[0] == 1 and snap.workers == ["tcp://w:1"] and snap.worker[0, 0] == 0
    assert snap.errors == {"0/1": "ValueError: bad"}
    assert np.isnan(snap.epoch_metric[0, 0]).all() and snap.epoch_metric[0, 1, 2] == 0.5
    mean, std = snap.arch_mean_std()
    assert mean[0] == 0.25 and std[0] == 0.0  # failed trials do not enter the mean


def test_readers_see_only_committed_rows_while_a_writer_is_mid_append(tmp_path):
    store = make(tmp_path)
    for k in range(3):
        store.add_architecture(np.array([k, 0.0]))
    store.flush()
    store.add_architecture(np.array([9.0, 9.0]))  # buffered, not flushed
    assert read_store(tmp_path / "s.zarr").n == 3
    # a crash after the resize and the data but before the commit marker
    group = zarr.open_group(str(tmp_path / "s.zarr"), mode="r+")
    group["params"].resize((4, 2))
    group["params"][3] = [9.0, 9.0]
    snap = read_store(tmp_path / "s.zarr")
    assert snap.n == 3 and snap.params.shape == (3, 2) and snap.status.shape == (3, 2)
    reopened = ResultsStore.open(tmp_path / "s.zarr")
    assert reopened.n == 3  # resume ignores the uncommitted row and will overwrite it
    a = reopened.add_architecture(np.array([5.0, 5.0]))
    reopened.flush()
    assert a == 3 and read_store(tmp_path / "s.zarr").params[3].tolist() == [5.0, 5.0]


def test_many_buffered_writes_land_in_one_flush(tmp_path):
    store = make(tmp_path, trials=3, epochs=4)
    for k in range(300):  # crosses the 128-row chunk boundary twice
        a = store.add_architecture(np.array([k, -k]))
        store.set("status", (a, slice(None)), RUNNING)
        store.set("epoch_metric", (a, 2, 3), k)
    store.flush()
    snap = read_store(tmp_path / "s.zarr")
    assert snap.n == 300
    np.testing.assert_array_equal(snap.params[:, 0], np.arange(300))
    np.testing.assert_array_equal(snap.epoch_metric[:, 2, 3], np.arange(300))
    assert (snap.status == RUNNING).all()
    assert (read_store(tmp_path / "s.zarr", arrays=("status",)).status == RUNNING).all()


def test_open_for_resume_restores_the_mirror(tmp_path):
    store = make(tmp_path)
    a = store.add_architecture(np.array([1.0, 2.0]))
    store.set("metric", (a, 0), 0.5)
    store.set("status", (a, 0), DONE)
    store.flush()
    again = ResultsStore.open(tmp_path / "s.zarr")
    assert again.n == 1 and again.trials == 2 and again.epochs == 3
    assert again.array("metric")[0, 0] == 0.5 and again.array("status")[0, 1] == PENDING
    with pytest.raises(ValueError):
        again.array("metric")[0, 0] = 1.0  # read-only view


def test_not_a_store_gives_a_clear_message(tmp_path):
    (tmp_path / "plain").mkdir()
    with pytest.raises(StoreError, match="not a ganhpo results store"):
        read_store(tmp_path / "plain")
    zarr.open_group(str(tmp_path / "other.zarr"), mode="w")
    with pytest.raises(StoreError, match="attribute 'ganhpo_format' missing"):
        read_store(tmp_path / "other.zarr")


def test_newer_format_is_refused_without_touching_it(tmp_path):
    store = make(tmp_path)
    store.add_architecture(np.array([1.0, 2.0]))
    store.flush()
    zarr.open_group(str(tmp_path / "s.zarr"), mode="r+").attrs["ganhpo_format"] = 99
    before = {p: p.read_bytes() for p in (tmp_path / "s.zarr").rglob("*") if p.is_file()}
    for opener in (read_store, ResultsStore.open):
        with pytest.raises(StoreError, match="format 99, newer .* upgrade ganhpo"):
            opener(tmp_path / "s.zarr")
    after = {p: p.read_bytes() for p in (tmp_path / "s.zarr").rglob("*") if p.is_file()}
    assert before == after


def test_create_refuses_to_overwrite(tmp_path):
    make(tmp_path)
    with pytest.raises(StoreError, match="already exists"):
        make(tmp_path)
