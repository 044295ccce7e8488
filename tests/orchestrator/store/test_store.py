"""The Zarr results store: round trip, commit marker, resume, and refusals that touch no data."""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import zarr

from orchestrator.store import (
    DONE,
    FAILED,
    PENDING,
    ROW_CHUNK,
    RUNNING,
    ResultsStore,
    StoreError,
    read_store,
)

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


FORMAT1 = Path(__file__).parents[1] / "data" / "format1.zarr"  # written by the format-1 store code


def test_format_1_store_is_read_as_before(tmp_path):
    snap = read_store(FORMAT1)
    assert snap.n == 3 and snap.workers == ["tcp://w:0", "tcp://w:1", "tcp://w:9"]
    assert snap.errors == {"1/1": "RuntimeError: lost in format 1\ntraceback"}
    assert snap.status[1].tolist() == [DONE, FAILED] and snap.worker[1].tolist() == [1, 2]
    assert (snap.diverged_at == -1).all()  # format 1 did not record divergence


def test_format_1_store_is_upgraded_when_resumed(tmp_path):
    path = tmp_path / "old.zarr"
    shutil.copytree(FORMAT1, path)
    before = read_store(path)
    store = ResultsStore.open(path)
    attrs = zarr.open_group(str(path), mode="r").attrs.asdict()
    assert attrs["ganhpo_format"] == 2 and "workers" not in attrs and "errors" not in attrs
    a = store.add_architecture(np.array([7.0, 7.0]))
    store.set("worker", (a, 0), store.worker_id("tcp://w:new"))
    store.set_error(a, 0, "ValueError: new")
    store.set("status", (a, 0), FAILED)
    store.flush()
    after = read_store(path)
    assert after.workers == [*before.workers, "tcp://w:new"]
    assert after.errors == {**before.errors, "3/0": "ValueError: new"}
    for name in ("params", "metric", "status", "worker", "epoch_metric"):
        np.testing.assert_array_equal(getattr(after, name)[:3], getattr(before, name))


def test_flush_writes_only_dirty_chunks_and_no_growing_attributes(tmp_path):
    store = make(tmp_path, trials=2, epochs=3)
    for k in range(3 * ROW_CHUNK):
        a = store.add_architecture(np.array([k, 0.0]))
        store.set("worker", (a, 0), store.worker_id(f"tcp://w:{k}"))
        store.set_error(a, 1, f"RuntimeError: {k} " + "x" * 500)
    store.flush()
    root = tmp_path / "s.zarr"
    meta = (root / "zarr.json").stat().st_size
    chunks = [p for p in root.rglob("*") if p.is_file() and "/c/" in p.as_posix()]
    for p in chunks:
        os.utime(p, ns=(0, 0))
    # a straggler in chunk 0 and a fresh result in chunk 2: chunk 1 is not rewritten
    store.set("metric", (3, 0), 0.5)
    store.set("metric", (2 * ROW_CHUNK + 5, 0), 0.25)
    store.set_error(2 * ROW_CHUNK + 5, 1, "KeyError: late")
    store.flush()
    after = [p for p in root.rglob("*") if p.is_file() and "/c/" in p.as_posix()]
    rewritten = {p.relative_to(root).as_posix() for p in after if p.stat().st_mtime_ns}
    assert rewritten == {"metric/c/0/0", "metric/c/2/0", "error/c/2/0"}
    # 384 worker names and error texts of 500 characters live outside the group attributes
    assert (root / "zarr.json").stat().st_size == meta < 2000
    snap = read_store(root)
    assert snap.metric[3, 0] == 0.5 and snap.metric[2 * ROW_CHUNK + 5, 0] == 0.25
    assert len(snap.workers) == 3 * ROW_CHUNK and snap.errors["261/1"] == "KeyError: late"


def test_uncommitted_worker_names_and_errors_stay_invisible(tmp_path):
    store = make(tmp_path)
    a = store.add_architecture(np.array([1.0, 2.0]))
    store.set("worker", (a, 0), store.worker_id("tcp://w:1"))
    store.flush()
    b = store.add_architecture(np.array([3.0, 4.0]))
    store.set("worker", (b, 0), store.worker_id("tcp://w:2"))
    store.set_error(b, 0, "RuntimeError: not yet")
    store._write_names()  # a crash after the names and the rows, before the commit marker
    store._arrays["error"][:ROW_CHUNK] = store._mirror["error"][:ROW_CHUNK]
    snap = read_store(tmp_path / "s.zarr")
    assert snap.n == 1 and snap.workers == ["tcp://w:1"] and snap.errors == {}
    again = ResultsStore.open(tmp_path / "s.zarr")  # resume overwrites what was not committed
    assert again.workers == ["tcp://w:1"] and again.worker_id("tcp://w:3") == 1


def test_a_new_row_rewrites_only_the_arrays_it_changed(tmp_path):
    store = make(tmp_path)
    store.add_architecture(np.array([1.0, 2.0]))
    store.flush()
    root = tmp_path / "s.zarr"
    for p in root.rglob("*"):
        if p.is_file() and "/c/" in p.as_posix():
            os.utime(p, ns=(0, 0))
    a = store.add_architecture(np.array([3.0, 4.0]))  # mid-chunk: the others' rows stay fill
    store.set("metric", (a, 1), 0.5)
    store.flush()
    rewritten = {p.relative_to(root).as_posix().split("/")[0] for p in root.rglob("*")
                 if p.is_file() and "/c/" in p.as_posix() and p.stat().st_mtime_ns}
    assert rewritten == {"params", "stage", "metric"}
    snap = read_store(root)
    assert snap.n == 2 and snap.metric[1, 1] == 0.5 and np.isnan(snap.metric[1, 0])
    assert (snap.status == PENDING).all() and (snap.diverged_at == -1).all()


def test_resume_overwrites_uncommitted_rows_a_crash_left_in_the_last_chunk(tmp_path):
    store = make(tmp_path)
    store.add_architecture(np.array([1.0, 2.0]))
    store.flush()
    store.set("metric", (0, 0), 0.1)
    store._mirror["metric"][1, 0] = 9.0  # as a crashed run's row 1, written but not committed
    store._dirty["metric"] = {0}
    store._write_rows("metric", 0, store._mirror["metric"][:ROW_CHUNK])
    store.close()
    again = ResultsStore.open(tmp_path / "s.zarr")
    a = again.add_architecture(np.array([3.0, 4.0]))  # row 1 again, its metric not yet set
    again.flush()
    again.close()
    snap = read_store(tmp_path / "s.zarr")
    assert a == 1 and snap.n == 2 and np.isnan(snap.metric[1, 0])


def test_chunks_written_in_the_callers_thread_are_zarrs_own_bytes(tmp_path):
    store = make(tmp_path)
    assert store._chunks is not None  # the fast path is the one in use
    for k in range(5):
        a = store.add_architecture(np.array([k, 0.5]))
        store.set("metric", (a, 0), k / 3)
        store.set("epoch_metric", (a, 0), np.arange(3, dtype="f4"))
        store.set("worker", (a, 0), store.worker_id(f"tcp://w:{k}"))
        store.set_error(a, 1, f"RuntimeError: {k}")
        store.set("status", (a, 0), DONE)
    store.flush()
    store.close()
    root = tmp_path / "s.zarr"
    copy = tmp_path / "copy.zarr"
    shutil.copytree(root, copy)
    group = zarr.open_group(str(copy), mode="r+")
    for name in ("params", "metric", "epoch_metric", "error", "status", "worker_names"):
        arr = group[name].with_config({"write_empty_chunks": True})
        size = arr.chunks[0]
        arr[:size] = arr[:size]  # zarr's own encode and write of chunk 0
        key = "/".join(["c", "0"] + ["0"] * (arr.ndim - 1))
        assert (copy / name / key).read_bytes() == (root / name / key).read_bytes(), name
