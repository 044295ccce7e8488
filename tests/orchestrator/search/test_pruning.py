"""Pruning in the search loop on a real LocalCluster (threads): stops, store, tells, resume."""

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from distributed import Client, LocalCluster

from orchestrator.experiment import Experiment, ExperimentError
from orchestrator.search import execute_trial, run
from orchestrator.search.trial import STOPPED, mark_stopped, stop_key
from orchestrator.store import DONE, FAILED, PRUNED, read_store
from orchestrator.store.view import trial_epochs
from tests.orchestrator.search.killing import kill_driver_when

ROOT = Path(__file__).resolve().parents[3]
GRID = {"x0": {"lower": 0, "upper": 3, "scale": 0.25}, "x1": {"lower": 0, "upper": 3, "scale": 0.25}}


def experiment(**overrides) -> Experiment:
    spec = dict(space=GRID, trial="orchestrator.objectives:bowl_curve", epochs=9, trials=3,
                budget=16, max_pending=4, seed=3, optimizer={"name": "random"},
                data={"epoch_seconds": 0.01})
    spec.update(overrides)
    return Experiment(**spec)


@pytest.fixture(scope="module")
def client():
    with LocalCluster(n_workers=4, threads_per_worker=1, processes=False,
                      dashboard_address=":0") as cluster, Client(cluster) as c:
        yield c


def test_pruning_field_validated_stored_and_part_of_resume(tmp_path):
    exp = experiment(pruning={"rule": "asha", "reduction": 3})
    assert exp.pruning == {"rule": "asha", "reduction": 3}
    assert experiment().pruning == {"rule": "none"}
    with pytest.raises(ExperimentError, match=r"field 'pruning'.*reduction >= 1.5"):
        experiment(pruning={"rule": "asha", "reduction": 1})
    with pytest.raises(ExperimentError, match=r"field 'pruning'.*unknown rule 'hyperband'"):
        experiment(pruning="hyperband")
    stored = experiment().to_dict()
    del stored["pruning"]  # a store written before pruning existed resumes with none
    experiment().check_resumable(stored, "old.zarr")
    with pytest.raises(ExperimentError, match="field 'pruning'"):
        exp.check_resumable(stored, "old.zarr")


def test_stop_marks_are_local_and_per_architecture():
    kwargs = {"model": "bowl", "data": {}, "epochs": 5}
    STOPPED.discard(stop_key("t1", 7))
    mark_stopped([stop_key("t1", 7)])
    out = execute_trial("orchestrator.objectives:bowl_curve", {"x0": 0.5, "x1": 0.5}, kwargs, 1,
                        "topic", 7, 0, "t1")
    assert out["status"] == "pruned" and out["curve"] == {}
    other = execute_trial("orchestrator.objectives:bowl_curve", {"x0": 0.5, "x1": 0.5}, kwargs, 1,
                          "topic", 8, 0, "t1")
    assert other["status"] == "done" and len(other["curve"]) == 5
    mark_stopped([stop_key("t2", "*")])  # the global stop: every architecture of that search
    assert execute_trial("orchestrator.objectives:bowl_curve", {"x0": 0, "x1": 0}, kwargs, 1,
                         "topic", 8, 0, "t2")["status"] == "pruned"


def test_stop_reaches_a_running_trial_through_its_worker(client):
    """A stop mark sent to the trial's worker mid-run stops it at its next report()."""
    from orchestrator.search.trial import STOPPED as marks

    kwargs = {"model": "bowl", "data": {"epoch_seconds": 0.05}, "epochs": 40}
    fut = client.submit(execute_trial, "orchestrator.objectives:bowl_curve", {"x0": 0, "x1": 0},
                        kwargs, 1, "topic-x", 3, 0, "t3", pure=False)
    time.sleep(0.4)
    (worker,) = client.who_has([fut])[fut.key] or list(client.scheduler_info()["workers"])[:1]
    client.run(mark_stopped, [stop_key("t3", 3)], workers=[worker])
    out = fut.result()
    assert out["status"] == "pruned" and 2 <= len(out["curve"]) < 40
    assert stop_key("t3", 3) in marks


def test_asha_spends_fewer_epochs_and_names_the_same_best(client, tmp_path):
    # epochs long beside a stop's latency (and a trial waiting for its architecture's slowest
    # trial to reach the rung), as GAN epochs are: 0.01-s epochs overshoot by up to 7 epochs
    data = {"epoch_seconds": 0.04}
    full = run(experiment(data=data), client, store=str(tmp_path / "none.zarr"))
    pruned = run(experiment(pruning="asha", data=data), client, store=str(tmp_path / "asha.zarr"))
    a, b = read_store(tmp_path / "none.zarr"), read_store(tmp_path / "asha.zarr")
    assert a.n == b.n == 16 and (a.status == DONE).all()
    assert full.best_params == pruned.best_params == {"x0": 0.25, "x1": 0.25}
    spent, unpruned = trial_epochs(b.status, b.epoch_metric)
    assert trial_epochs(a.status, a.epoch_metric) == (432, 432) and unpruned == 432
    assert spent < 0.8 * unpruned, spent
    gone = b.arch_pruned()
    assert gone.sum() >= 3 and not gone[b.best()]
    assert set(np.unique(b.status[gone])) <= {PRUNED, DONE} and not (b.status == FAILED).any()
    for arch in np.flatnonzero(gone):
        stop = int(b.pruned_at[arch])
        for t in np.flatnonzero(b.status[arch] == PRUNED):
            reported = np.flatnonzero(np.isfinite(b.epoch_metric[arch, t]))
            assert reported.min() == 0 and reported.max() < 8  # kept; the last epoch is never stopped
            assert reported.max() >= stop and np.isfinite(b.metric[arch, t])
    assert b.ranked()[-int(gone.sum()):].tolist() == sorted(
        b.ranked()[-int(gone.sum()):].tolist(), key=lambda i: b.ranked().tolist().index(i))
    assert gone[b.ranked()[-int(gone.sum()):]].all()  # pruned ones rank after every full-length one
    assert "pruned" in pruned.summary() and "trial-epochs" in pruned.summary()
    assert pruned.n_pruned == int(gone.sum()) and pruned.trial_epochs == spent
    from orchestrator.analysis.html import write_report
    from orchestrator.analysis.summary import report
    from orchestrator.monitor.status import status_values

    text = report(str(tmp_path / "asha.zarr"), top=16, importance={})
    assert "architectures pruned" in text and "pruned at epoch" in text
    page = write_report(str(tmp_path / "asha.zarr"), tmp_path / "html", top=16).read_text()
    assert "pruned at epoch" in page
    values = status_values(b)
    assert values["trials_pruned"] == int(np.sum(b.status == PRUNED)) and values["best_arch"] == b.best()


DRIVER = textwrap.dedent("""
    import sys
    from distributed import Client, LocalCluster
    from orchestrator.search import run
    from tests.orchestrator.search.test_pruning import experiment
    if __name__ == "__main__":
        exp = experiment(pruning="asha", trials=2, budget=14, max_pending=2,
                         data={"epoch_seconds": 0.04})
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                          dashboard_address=":0") as cl, Client(cl) as c:
            run(exp, c, store=sys.argv[1])
""")


def test_killed_driver_resumes_keeping_every_pruning_decision(tmp_path):
    store, script = str(tmp_path / "s.zarr"), tmp_path / "drive.py"
    script.write_text(DRIVER)
    seen = kill_driver_when(script, store,
                            lambda snap: snap.arch_pruned().sum() >= 2 and snap.n < 12)
    assert seen, "the first driver never pruned two architectures"
    before = read_store(store)
    gone = np.flatnonzero(before.arch_pruned())
    assert len(gone) >= 2 and before.n < 14

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(script), store], cwd=ROOT, env=env, timeout=120,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    after = read_store(store)
    assert after.n == 14 and np.all(after.status >= DONE) and not (after.status == FAILED).any()
    np.testing.assert_array_equal(after.params[: before.n], before.params)
    np.testing.assert_array_equal(after.pruned_at[gone], before.pruned_at[gone])  # decisions kept
    for a in gone:  # no pruned trial retrained: what it had reported is all it has
        assert (after.status[a] != DONE).all() or (before.status[a] == DONE).any()
        np.testing.assert_array_equal(after.epoch_metric[a][after.status[a] == PRUNED],
                                      before.epoch_metric[a][after.status[a] == PRUNED])
    assert len(set(map(tuple, after.params))) == 14


WIDE = {"x0": {"lower": 0, "upper": 20, "scale": 0.05}, "x1": {"lower": 0, "upper": 20, "scale": 0.05}}


def _bad_share(snap, skip: int) -> float:
    """Share of proposals after the first ``skip`` that lie in the clearly bad region x0 > 0.6."""
    x0 = snap.params[skip:, 0]
    return float(np.mean(x0 > 0.6 / 0.05))


def test_optimiser_stops_proposing_the_pruned_region(client, tmp_path):
    common = dict(space=WIDE, trials=2, epochs=6, budget=30, max_pending=2, data={"noise": 0.005})
    rbf = run(experiment(pruning="asha", optimizer={"name": "rbf", "n_initial": 8}, **common),
              client, store=str(tmp_path / "rbf.zarr"))
    rand = run(experiment(pruning="asha", optimizer={"name": "random"}, **common),
               client, store=str(tmp_path / "random.zarr"))
    a, b = read_store(tmp_path / "rbf.zarr"), read_store(tmp_path / "random.zarr")
    assert a.arch_pruned().sum() >= 3 and rbf.n_pruned >= 3 and rand.best_params is not None
    # told pruned_value (worse than most full-length results), the surrogate leaves x0 > 0.6
    assert _bad_share(a, 8) < 0.5 * max(_bad_share(b, 8), 0.2), (_bad_share(a, 8), _bad_share(b, 8))


@pytest.mark.parametrize("name", ["random", "lhs", "rbf", "gp", "skopt", "optuna"])
def test_every_optimiser_backend_runs_with_pruning(client, tmp_path, name):
    if name in ("skopt", "optuna"):
        pytest.importorskip(name if name == "optuna" else "skopt")
    exp = experiment(pruning={"rule": "median", "startup": 2}, optimizer={"name": name},
                     trials=2, epochs=5, budget=8, max_pending=2, data={})
    result = run(exp, client, store=str(tmp_path / "s.zarr"))
    snap = read_store(tmp_path / "s.zarr")
    assert snap.n == 8 and np.all(snap.status >= DONE) and sorted(result.tell_order) == list(range(8))
    assert result.best_params is not None and not snap.arch_pruned()[snap.best()]
