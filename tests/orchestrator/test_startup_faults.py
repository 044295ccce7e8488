"""Faults at the edges of a search: Ctrl-C at any instant of `ganhpo run`'s start-up, trials that
kill their worker process (the cause is recorded), and a second driver on a held store."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def _experiment(tmp_path: Path, **changes) -> Path:
    spec = yaml.safe_load((REPO / "examples" / "hartmann.yaml").read_text())
    spec.update({"budget": 4, "trials": 2, "epochs": 20, "max_pending": 2,
                 "data": {"epoch_seconds": 0.1}, "optimizer": {"name": "rbf", "n_initial": 4},
                 **changes})
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _start(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "orchestrator.cli", *args], cwd=REPO, env=env,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)  # its own group: a Ctrl-C reaches all of it


def _group_alive(pgid: int) -> list[int]:
    """Processes of the group that still run (zombies left to a non-reaping init do not)."""
    alive = []
    for proc in psutil.process_iter(["status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                alive.append(proc.pid)
        except (ProcessLookupError, psutil.Error):
            pass
    return alive


def _wait_for_children(proc: subprocess.Popen, n: int, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    parent = psutil.Process(proc.pid)
    while len(parent.children()) < n:
        assert proc.poll() is None and time.monotonic() < end, f"{n} children never appeared"
        time.sleep(0.01)


def _finish(proc: subprocess.Popen) -> tuple[str, float, list[int]]:
    """Output, seconds to exit, and the processes of its group still running 3 s later."""
    sent = time.monotonic()
    try:
        out = proc.communicate(timeout=60)[0]
    finally:
        elapsed = time.monotonic() - sent
        end = time.monotonic() + 3
        while _group_alive(proc.pid) and time.monotonic() < end:
            time.sleep(0.05)
        left = _group_alive(proc.pid)
        for pid in left:
            os.kill(pid, signal.SIGKILL)
    return out, elapsed, left


def _new_store(exp: Path, store: Path) -> None:
    """Create the store in this process (no cluster), so that a driver resumes it."""
    from orchestrator.experiment import load_experiment
    from orchestrator.search.setup import open_store

    open_store(load_experiment(exp), str(store)).close()


@pytest.mark.parametrize("moment", ["imports", "spawning", "resume-tracker"])
def test_ctrl_c_at_any_instant_of_start_up_ends_the_run_in_one_line(tmp_path, moment):
    """SIGINT to the whole group: during imports (a fixed early delay), while worker processes
    are spawning (both there, still importing), and on an existing store (which must stay as it
    was, its lock released) as the cluster start begins (its first child: the resource tracker)."""
    exp = _experiment(tmp_path)
    store = tmp_path / "s.zarr"
    before = None
    if moment.startswith("resume"):
        _new_store(exp, store)
        before = {p: p.read_bytes() for p in store.rglob("*") if p.is_file()}
    proc = _start(["run", str(exp), "--store", str(store), "--workers", "2", "--quiet"])
    if moment == "imports":
        time.sleep(0.3)
    else:
        _wait_for_children(proc, 1 if moment.endswith("tracker") else 3)
    os.killpg(proc.pid, signal.SIGINT)
    out, elapsed, left = _finish(proc)
    assert proc.returncode == 130, out
    assert len(out.strip().splitlines()) == 1 and "interrupted" in out, out
    assert "Traceback" not in out and "Warning" not in out, out
    assert elapsed < 5, (elapsed, out)
    assert left == [], left
    if before is None:
        assert not store.exists()
    else:
        assert "is as it was" in out, out
        assert {p: p.read_bytes() for p in store.rglob("*") if p.is_file()} == before


@pytest.mark.slow
def test_a_second_driver_on_a_held_store_prints_one_line_naming_the_holder(tmp_path):
    exp = _experiment(tmp_path, epochs=50, data={"epoch_seconds": 0.2})  # 10-s trials
    store = tmp_path / "s.zarr"
    _new_store(exp, store)
    args = ["run", str(exp), "--store", str(store), "--workers", "2"]  # with its progress bar
    first = _start(args)
    try:
        lock = store / "ganhpo.lock"
        end = time.monotonic() + 60
        while not (lock.exists() and f'"pid": {first.pid}' in lock.read_text()):
            assert first.poll() is None and time.monotonic() < end, first.poll()
            time.sleep(0.05)
        second = _start(args)
        out, _, left = _finish(second)
        assert first.poll() is None  # the first still holds the store
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # its shutdown is not what is tested here
        _finish(first)
    assert second.returncode == 2, out
    lines = out.strip().splitlines()
    assert len(lines) == 1, out
    assert f"pid {first.pid}" in lines[0] and f"host {socket.gethostname()}" in lines[0], out
    assert lines[0].startswith(f"ganhpo: error: store {store} is being written by another driver")
    assert left == []


def dies(params, *, model, data, epochs, seed, report=None):
    """A trial that ends its own worker process, as data['plan'][str(seed)] says."""
    if data["plan"][str(seed)] == "exit":
        os._exit(3)
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.slow
def test_a_trial_that_kills_its_worker_records_the_exit_code_or_signal(tmp_path):
    from distributed import Client, LocalCluster

    from orchestrator.experiment import Experiment
    from orchestrator.search import run
    from orchestrator.search.trial import trial_seed
    from orchestrator.store import FAILED, read_store

    plan = {str(trial_seed(5, 0, 0)): "exit", str(trial_seed(5, 0, 1)): "kill"}
    exp = Experiment.from_dict({
        "trial": f"{__name__}:dies", "space": {"x0": [0.0, 1.0]}, "budget": 1, "trials": 2,
        "epochs": 1, "seed": 5, "retries": 0, "fail_fast": 0, "data": {"plan": plan},
        "optimizer": {"name": "random"}})
    store = tmp_path / "s.zarr"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        run(exp, client, store=str(store))
    snap = read_store(store)
    assert (snap.status == FAILED).all()
    exited, killed = snap.errors["0/0"], snap.errors["0/1"]
    for error in (exited, killed):
        assert error.startswith("KilledWorker: the worker died once while running this trial ("), error
        assert "retried 0 times (retries: 0)" in error, error
    assert "(exit code 3)" in exited, exited
    assert "(killed by signal 9, SIGKILL: out of memory?)" in killed, killed
