"""The writer's lock, every kind of store damage (one line, then repair), and a full disk."""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from orchestrator.cli import main
from orchestrator.store import DONE, PENDING, ResultsStore, StoreError, chunks, read_store
from orchestrator.store.integrity import StoreDamaged
from orchestrator.store.lock import LOCK_NAME, StoreLocked, WriterLock
from orchestrator.store.repair import repair_store
from orchestrator.store.writer import StoreWriteError

TRIALS, EPOCHS = 2, 3


def _store(path: Path, archs: int = 130) -> Path:
    """A closed store: ``archs`` architectures (two row chunks), every trial done."""
    store = ResultsStore.create(path, {"trials": TRIALS, "epochs": EPOCHS, "budget": archs},
                                ["x"], TRIALS, EPOCHS)
    for a in range(archs):
        store.add_architecture(np.array([a / archs]))
        for t in range(TRIALS):
            store.set("metric", (a, t), a + t / 10)
            store.set("status", (a, t), DONE)
    store.flush()
    store.close()
    return path


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_second_writer_is_refused_in_one_line_naming_the_holder(tmp_path):
    path = _store(tmp_path / "s.zarr")
    holder = {"host": socket.gethostname(), "pid": os.getppid(), "started": time.time(),
              "heartbeat": time.time(), "token": "other"}
    (path / LOCK_NAME).write_text(json.dumps(holder))
    with pytest.raises(StoreLocked) as err:
        ResultsStore.open(path)
    text = str(err.value)
    assert "\n" not in text and f"pid {os.getppid()}" in text and socket.gethostname() in text
    assert "delete" in text and LOCK_NAME in text
    assert read_store(path).n == 130  # readers are never blocked


def test_a_stale_lock_is_taken_over_and_released_on_close(tmp_path, caplog):
    path = _store(tmp_path / "s.zarr")
    for holder in ({"host": socket.gethostname(), "pid": _dead_pid()},  # same host, process gone
                   {"host": "elsewhere", "pid": 1, "heartbeat": time.time() - 3600}):  # old beat
        (path / LOCK_NAME).write_text(json.dumps({"started": 0, "token": "x", **holder}))
        with caplog.at_level("WARNING", logger="ganhpo"):
            store = ResultsStore.open(path)
        assert "took over the stale lock" in caplog.text
        assert json.loads((path / LOCK_NAME).read_text())["pid"] == os.getpid()
        store.close()
        assert not (path / LOCK_NAME).exists()


def test_a_live_lock_on_another_host_is_not_stale(tmp_path):
    path = _store(tmp_path / "s.zarr")
    (path / LOCK_NAME).write_text(json.dumps({"host": "elsewhere", "pid": 1, "started": 0,
                                              "heartbeat": time.time(), "token": "x"}))
    with pytest.raises(StoreLocked, match="host elsewhere"):
        WriterLock.acquire(path)


def test_two_drivers_creating_one_store_at_once_one_wins_and_no_staging_is_left(tmp_path):
    code = ("import sys; from orchestrator.store import ResultsStore\n"
            "try:\n  s = ResultsStore.create(sys.argv[1], {'trials': 1, 'epochs': 1}, ['x'], 1, 1)\n"
            "  import time; time.sleep(3); print('won')\n"
            "except Exception as e: print('lost', type(e).__name__, e)\n")
    target = tmp_path / "s.zarr"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[3])}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(target)], stdout=subprocess.PIPE,
                              text=True, env=env) for _ in range(3)]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert sum(o.startswith("won") for o in outs) == 1, outs
    # a loser is refused by the winner's lock, or (started after the rename) by the store itself
    assert all("StoreLocked" in o or "already exists" in o for o in outs if o.startswith("lost")), outs
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.zarr"]  # no staging directory


def _chunk(path: Path, name: str, i: int = 0) -> Path:
    nd = {"epoch_metric": 3, "params": 2, "stage": 1, "n_params": 1}.get(name, 2)
    return path.joinpath(name, "c", str(i), *["0"] * (nd - 1))


def _damage_metric_json(p): (p / "metric" / "zarr.json").unlink()
def _damage_status_chunk(p): _chunk(p, "status", 1).unlink()
def _damage_metric_chunk(p): _chunk(p, "metric", 0).unlink()
def _damage_truncated(p): _chunk(p, "metric", 1).write_bytes(_chunk(p, "metric", 1).read_bytes()[:9])
def _damage_flipped(p):
    data = bytearray(_chunk(p, "status", 0).read_bytes())
    data[-6] ^= 0xFF  # inside the compressed frame: the checksum catches it
    _chunk(p, "status", 0).write_bytes(bytes(data))


@pytest.mark.parametrize("damage, what, requeued", [
    (_damage_metric_json, "metric/zarr.json missing", 130 * TRIALS),
    (_damage_status_chunk, "status: 1 chunk missing (rows 128-129)", 2 * TRIALS),
    (_damage_metric_chunk, "metric: 1 chunk missing (rows 0-127)", 128 * TRIALS),
    (_damage_truncated, "metric: chunk rows 128-129 does not decode", 2 * TRIALS),
    (_damage_flipped, "status: chunk rows 0-127 does not decode", 128 * TRIALS),
])
def test_each_kind_of_damage_is_one_line_then_repair_requeues_just_those_rows(
        tmp_path, capsys, damage, what, requeued):
    path = _store(tmp_path / "s.zarr")
    damage(path)
    for opener in (read_store, ResultsStore.open):  # never read as valid, never resumed
        with pytest.raises(StoreDamaged) as err:
            opener(path)
        assert what in str(err.value) and f"ganhpo repair {path}" in str(err.value)
        assert "\n" not in str(err.value)
    assert main(["report", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is damaged" in err, err
    assert main(["repair", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"re-queued {requeued} trials" in out, out
    snap = read_store(path)  # readable again: the intact rows kept, the others pending
    assert int(np.sum(snap.status == PENDING)) == requeued
    assert int(np.sum(snap.status == DONE)) == 130 * TRIALS - requeued
    done = snap.status == DONE
    expect = np.arange(130)[:, None] + np.arange(TRIALS)[None] / 10
    assert np.allclose(snap.metric[done], expect[done])
    assert not (path / LOCK_NAME).exists()
    ResultsStore.open(path).close()  # and resumable


def test_a_done_trial_without_a_finite_metric_is_damage(tmp_path):
    path = tmp_path / "s.zarr"
    store = ResultsStore.create(path, {"trials": 1, "epochs": 1}, ["x"], 1, 1)
    store.add_architecture(np.array([0.5]))
    store.set("status", (0, 0), DONE)  # metric left NaN: what an interrupted old flush committed
    store.flush()
    store.close()
    with pytest.raises(StoreDamaged, match="1 done trials have no finite metric"):
        read_store(path)
    assert repair_store(path).requeued == 1
    assert read_store(path).status[0, 0] == PENDING


def test_an_interrupted_flush_writes_the_dropped_chunks_next_time(tmp_path, monkeypatch):
    path = tmp_path / "s.zarr"
    store = ResultsStore.create(path, {"trials": 1, "epochs": 1}, ["x"], 1, 1)
    store.add_architecture(np.array([0.5]))
    store.set("metric", (0, 0), 0.25)
    store.set("status", (0, 0), DONE)
    real = chunks.put_file

    def fail_once(file, data):
        if file.parts[-4] == "metric":
            monkeypatch.setattr(chunks, "put_file", real)
            raise KeyboardInterrupt  # e.g. a signal inside a flush, in library use
        real(file, data)

    monkeypatch.setattr(chunks, "put_file", fail_once)
    with pytest.raises(KeyboardInterrupt):
        store.flush()
    assert read_store(path).n == 0  # nothing committed: status and n_committed come after
    store.flush()  # the finally-flush of the loop
    store.close()
    snap = read_store(path)
    assert snap.status[0, 0] == DONE and snap.metric[0, 0] == 0.25


def test_a_full_disk_is_one_store_write_error_and_the_store_stays_readable(tmp_path, monkeypatch):
    import zarr.storage._local as local

    path = _store(tmp_path / "s.zarr", archs=3)
    store = ResultsStore.open(path)
    store.add_architecture(np.array([0.1]))

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(local, "_put", full)  # zarr's writes (metadata)
    monkeypatch.setattr(chunks, "put_file", full)  # the writer's own (chunks)
    with pytest.raises(StoreWriteError) as err:
        store.flush()
    assert "No space left on device" in str(err.value) and "resume" in str(err.value)
    assert read_store(path).n == 3  # what was flushed before is still there
    monkeypatch.undo()
    store.flush()  # space freed: the same writer carries on
    store.close()
    assert read_store(path).n == 4


def test_an_old_store_without_every_chunk_file_gets_them_on_resume(tmp_path):
    path = _store(tmp_path / "s.zarr", archs=3)
    meta = json.loads((path / "zarr.json").read_text())
    del meta["attributes"]["chunk_files"]
    (path / "zarr.json").write_text(json.dumps(meta))
    shutil.rmtree(path / "diverged_at" / "c")  # all fill: never written by older ganhpo
    assert read_store(path).n == 3  # not checked for chunk files: still read
    ResultsStore.open(path).flush()
    assert _chunk(path, "diverged_at").is_file() and read_store(path).n == 3


def test_store_error_hierarchy():
    assert issubclass(StoreDamaged, StoreError) and issubclass(StoreLocked, StoreError)
