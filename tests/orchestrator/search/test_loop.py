"""The search loop on a real LocalCluster: completion, ordering, failures, worker and driver deaths."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from distributed import Client, LocalCluster

from orchestrator.experiment import Experiment
from orchestrator.search import execute_trial, run, trial_seed
from orchestrator.store import DONE, FAILED, RUNNING, read_store

SPACE = {f"x{i}": {"lower": 0, "upper": 50, "scale": 0.02} for i in range(6)}
ROOT = Path(__file__).resolve().parents[3]


def experiment(**overrides) -> Experiment:
    spec = dict(space=SPACE, trial="orchestrator.objectives:noisy_hartmann", epochs=4, trials=3,
                budget=8, max_pending=3, seed=7, optimizer={"name": "rbf", "n_initial": 4})
    spec.update(overrides)
    return Experiment(**spec)


def test_search_fills_budget_and_names_the_best(client, tmp_path):
    exp = experiment(data={"epoch_seconds": 0.01})
    result = run(exp, client, store=str(tmp_path / "s.zarr"))
    snap = read_store(tmp_path / "s.zarr")
    assert snap.n == exp.budget == result.n_architectures
    assert (snap.status == DONE).all()
    assert sorted(result.tell_order) == list(range(exp.budget))
    mean = np.nanmean(snap.metric, axis=1)
    best = int(np.argmin(mean))
    assert result.best_mean == pytest.approx(mean[best])
    assert result.best_std == pytest.approx(np.std(snap.metric[best], ddof=1))  # sample std
    assert result.best_params == exp.space.from_row(snap.params[best])
    # every epoch of every trial was streamed into the store, and the best epoch matches
    assert np.isfinite(snap.epoch_metric).all()
    assert np.allclose(np.nanmin(snap.epoch_metric, axis=2), snap.metric, rtol=1e-6)
    # seeds are per (experiment seed, arch, trial): trials of one architecture differ
    assert len({trial_seed(7, 0, t) for t in range(3)}) == 3
    assert len(set(map(tuple, snap.params))) == exp.budget


def test_tells_follow_completion_order_not_submission(client, tmp_path):
    # one trial per architecture on two workers: a slow architecture lets later fast ones overtake
    exp = experiment(trial="tests.orchestrator.trials:slow_by_x0", data={"seconds": 0.08},
                     epochs=2, trials=1, budget=8, max_pending=4, optimizer={"name": "lhs"})
    result = run(exp, client, store=str(tmp_path / "s.zarr"))
    snap = read_store(tmp_path / "s.zarr")
    finished = snap.finished.max(axis=1)
    assert list(result.tell_order) == list(np.argsort(finished, kind="stable"))
    assert list(result.tell_order) != sorted(result.tell_order), "durations should reorder tells"


def test_failing_trials_are_recorded_and_the_search_goes_on(client, tmp_path):
    exp = experiment(trial="tests.orchestrator.trials:flaky", budget=10, max_pending=3,
                     optimizer={"name": "random"}, seed=3)
    result = run(exp, client, store=str(tmp_path / "s.zarr"))
    snap = read_store(tmp_path / "s.zarr")
    x0, x1 = snap.params[:, 0], snap.params[:, 1]
    should_fail = (x0 > 0.7) | (x1 > 0.7)
    assert should_fail.any() and (~should_fail).any(), "seed must give both kinds of points"
    assert (snap.status[should_fail] == FAILED).all()
    assert (snap.status[~should_fail] == DONE).all()
    for a in np.flatnonzero(x0 > 0.7):
        assert "RuntimeError: boom" in snap.errors[f"{a}/0"]
    for a in np.flatnonzero((x1 > 0.7) & (x0 <= 0.7)):
        assert "not a finite number" in snap.errors[f"{a}/0"]
    assert snap.n == 10 and len(result.tell_order) == 10  # failures were told (as a penalty)
    assert result.n_failed_trials == int(should_fail.sum()) * exp.trials


def test_epoch_metrics_stream_into_the_store_while_trials_run(client, tmp_path):
    exp = experiment(epochs=8, trials=1, budget=2, max_pending=2, data={"epoch_seconds": 0.25},
                     optimizer={"name": "lhs"})
    runner = threading.Thread(target=run, args=(exp, client), kwargs={"store": str(tmp_path / "s.zarr")})
    runner.start()
    seen_live = False
    while runner.is_alive() and not seen_live:
        time.sleep(0.1)
        if (tmp_path / "s.zarr").exists():
            snap = read_store(tmp_path / "s.zarr")
            running = snap.status == RUNNING
            partial = np.isfinite(snap.epoch_metric).sum(axis=2)
            seen_live = bool(((partial > 0) & (partial < 8) & running).any())
    runner.join()
    assert seen_live, "no partial curve of a running trial was ever visible"


def test_execute_trial_never_raises():
    out = execute_trial("tests.orchestrator.trials:flaky", {"x0": 0.9, "x1": 0}, {
        "model": "", "data": {}, "epochs": 1}, 1, "topic", 0, 0)
    assert out["status"] == "failed" and "boom" in out["error"]
    assert out["finished"] >= out["started"]


def test_worker_killed_mid_trial_is_retried(tmp_path):
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    exp = experiment(trial="tests.orchestrator.trials:pid_then_sleep", epochs=5, trials=2, budget=4,
                     max_pending=2, data={"pid_dir": str(pid_dir), "epoch_seconds": 0.2},
                     optimizer={"name": "lhs"})
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        box = {}
        runner = threading.Thread(target=lambda: box.update(
            result=run(exp, client, store=str(tmp_path / "s.zarr"))))
        runner.start()
        deadline = time.time() + 60
        while not list(pid_dir.glob("*-*[0-9]")) and time.time() < deadline:
            time.sleep(0.05)
        victim = int(next(pid_dir.glob("*-*[0-9]")).read_text())
        os.kill(victim, signal.SIGKILL)
        runner.join(timeout=120)
    assert not runner.is_alive()
    snap = read_store(tmp_path / "s.zarr")
    assert snap.n == 4
    assert (snap.status == DONE).all(), snap.errors  # the killed trial was rerun elsewhere
    assert len(box["result"].tell_order) == 4
    started_pids = {int(p.name.split("-")[0]) for p in pid_dir.glob("*-*[0-9]")}
    assert victim in started_pids and len(started_pids) >= 2


DRIVER_SCRIPT = textwrap.dedent("""
    import sys
    from distributed import Client, LocalCluster
    from orchestrator.search import run
    from tests.orchestrator.search.test_loop import experiment
    if __name__ == "__main__":
        exp = experiment(epochs=3, trials=2, budget={budget}, max_pending=2,
                         data={{"epoch_seconds": 0.1}}, optimizer={{"name": "rbf", "n_initial": 4}})
        with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cl, Client(cl) as c:
            run(exp, c, store=sys.argv[1])
""")


def test_driver_killed_then_resumed_finishes_the_budget(tmp_path):
    store = str(tmp_path / "s.zarr")
    script = tmp_path / "drive.py"
    script.write_text(DRIVER_SCRIPT.format(budget=10))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(script), store], cwd=ROOT, env=env,
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 90
    before = None
    while time.time() < deadline:
        time.sleep(0.2)
        if (Path(store) / "zarr.json").exists():
            snap = read_store(store)
            if snap.arch_done().sum() >= 3 and snap.n < 10:
                before = snap
                break
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert before is not None, "the first driver never got three architectures done"
    before = read_store(store)  # what the dead driver left committed
    done_before = before.status == DONE
    assert before.n < 10 and (~done_before).any()

    proc = subprocess.run([sys.executable, str(script), store], cwd=ROOT, env=env, timeout=180,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    after = read_store(store)
    assert after.n == 10 and (after.status == DONE).all()
    np.testing.assert_array_equal(after.params[: before.n], before.params)
    np.testing.assert_array_equal(after.metric[: before.n][done_before], before.metric[done_before])
    assert len(set(map(tuple, after.params))) == 10  # no architecture evaluated twice
