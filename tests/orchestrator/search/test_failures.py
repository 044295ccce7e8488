"""The failure rules: what is told for (partly) failed architectures, who may be called best,
divergence, and fail fast; the mixed-failure architecture runs on a real LocalCluster."""

import math
import statistics

import dask
import numpy as np
import pytest
from distributed import Client, LocalCluster

from orchestrator.analysis import top_architectures
from orchestrator.experiment import Experiment, ExperimentError
from orchestrator.search import (
    Search,
    SearchFailed,
    build_optimizer,
    execute_trial,
    run,
    trial_seed,
)
from orchestrator.search.failures import FailFast, TellRules, common_errors
from orchestrator.search.result import best_of
from orchestrator.search.setup import open_store
from orchestrator.store import DONE, FAILED, PENDING, RUNNING, ResultsStore, read_store
from tests.orchestrator.search.test_loop import experiment

SQRT2 = math.sqrt(2.0)


def test_std_is_the_sample_std_and_zero_for_a_single_trial():
    rules = TellRules(min_ok=1)
    (_, mean, std), = rules.judge(0, np.array([0.3, 0.2, 0.7]))
    assert mean == pytest.approx(0.4) and std == pytest.approx(statistics.stdev([0.3, 0.2, 0.7]))
    assert rules.judge(1, np.array([0.5])) == [(1, 0.5, 0.0)]  # trials: 1 -> nothing to spread


def test_too_few_successes_are_told_the_noise_seen_so_far_never_zero():
    rules = TellRules(min_ok=2)
    assert rules.judge(0, np.array([0.4])) == [(0, 0.4, 0.4)]  # nothing seen yet: |mean|
    assert rules.judge(1, np.array([2.0, 4.0])) == [(1, 3.0, pytest.approx(SQRT2))]
    # one survivor of several: the pooled within-architecture std (sqrt(2)), not 0
    assert rules.judge(2, np.array([1.0])) == [(2, 1.0, pytest.approx(SQRT2))]
    # its own spread when larger: [10, 20] has std 7.07 but meets min_ok; with min_ok 3 it does not
    wide = TellRules(min_ok=3)
    wide.judge(0, np.array([1.0, 1.2, 1.4]))
    assert wide.judge(1, np.array([10.0, 20.0]))[0][2] == pytest.approx(statistics.stdev([10, 20]))


def test_all_failed_is_told_worst_mean_plus_a_margin():
    rules = TellRules(min_ok=2)
    rules.judge(0, np.array([2.0, 4.0]))  # mean 3, within-std sqrt(2)
    rules.judge(1, np.array([1.0, 1.0]))  # mean 1
    # pooled within std: sqrt((2 + 0) / 2) = 1; 10 % of the range of means: 0.2
    (_, mean, std), = rules.judge(2, np.array([]))
    assert (mean, std) == (pytest.approx(3.0 + 1.0), pytest.approx(1.0))
    assert TellRules(2, penalty=7.5).judge(0, np.array([])) == [(0, 7.5, 0.0)]  # explicit wins


def test_all_failed_waits_until_something_finite_is_seen():
    rules = TellRules(min_ok=2)
    assert rules.judge(0, np.array([])) == [] and rules.judge(1, np.array([])) == []
    assert rules.deferred == [0, 1]
    tells = rules.judge(2, np.array([1.0, 1.5, 2.0]))  # mean 1.5, std 0.5
    assert tells == [(2, 1.5, 0.5), (0, 2.0, 0.5), (1, 2.0, 0.5)] and rules.deferred == []


def test_fail_fast_counts_only_leading_all_failed_architectures():
    ff = FailFast(3)
    assert not ff.finished(0) and not ff.finished(0) and ff.finished(0)
    ff = FailFast(3)
    ff.finished(0)
    ff.succeeded()  # one trial of a still-running architecture worked
    assert not any(ff.finished(0) for _ in range(5))
    assert not any(FailFast(0).finished(0) for _ in range(5))
    errors = {"0/0": "ValueError: a\ntb", "0/1": "KeyError: b", "1/0": "ValueError: a\nother"}
    assert common_errors(errors) == (("ValueError: a", 2), ("KeyError: b", 1))


def _store(tmp_path, exp: Experiment, rows: list[list[float | None]]) -> str:
    """A store whose architecture k has trial metrics rows[k] (None: failed)."""
    store = ResultsStore.create(tmp_path / "r.zarr", exp.to_dict(), exp.space.names, exp.trials, 2)
    for k, metrics in enumerate(rows):
        store.add_architecture(exp.space.to_row({"x0": 10 * k + 1, **{f"x{i}": 1 for i in range(1, 6)}}))
        for t, m in enumerate(metrics):
            store.set("metric", (k, t), np.nan if m is None else m)
            store.set("status", (k, t), FAILED if m is None else DONE)
            if m is None:
                store.set_error(k, t, "RuntimeError: lost")
    store.flush()
    return store.path


def test_an_architecture_short_of_min_ok_is_never_best_while_one_meets_it(tmp_path):
    exp = experiment(trials=3)  # min_ok defaults to 2
    path = _store(tmp_path, exp, [[0.1, None, None], [0.5, 0.7, None], [0.3, 0.2, 0.4]])
    snap = read_store(path)
    mean, std = snap.arch_mean_std()
    assert std[2] == pytest.approx(statistics.stdev([0.3, 0.2, 0.4])) and std[0] == 0.0
    assert snap.ranked().tolist() == [2, 1, 0] and snap.ranked(min_ok=1).tolist() == [0, 2, 1]
    assert [r["arch"] for r in top_architectures(snap)] == [2, 1, 0]
    result = best_of(path, exp, 0.0, [])
    assert result.best_mean == pytest.approx(0.3) and result.best_params["x0"] == 21
    assert result.n_ok_architectures == 3 and result.common_errors == (("RuntimeError: lost", 3),)
    # when no architecture has min_ok successes, the best of the rest is still reported
    lone = _store(tmp_path / "b", exp, [[0.9, None, None], [0.2, None, None]])
    assert best_of(lone, exp, 0.0, []).best_mean == pytest.approx(0.2)


def test_a_nan_metric_after_finite_epochs_keeps_the_best_epoch_before_it():
    kwargs = {"model": "", "epochs": 5}
    out = execute_trial("tests.orchestrator.trials:diverges", {}, {
        **kwargs, "data": {"curve": [3.0, 1.0, 2.0, None, 0.5]}}, 1, "topic", 0, 0)
    assert out["status"] == "done" and out["metric"] == 1.0 and out["best_epoch"] == 1
    assert out["diverged_at"] == 3  # the 0.5 after the divergence does not count
    out = execute_trial("tests.orchestrator.trials:diverges", {}, {
        **kwargs, "data": {"curve": [None, 1.0]}}, 1, "topic", 0, 0)
    assert out["status"] == "failed" and "not a finite number" in out["error"]


@pytest.fixture(scope="module")
def threads():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=":0") as cluster, Client(cluster) as c:
        yield c


def test_divergence_is_recorded_in_the_store(threads, tmp_path):
    exp = experiment(trial="tests.orchestrator.trials:diverges", epochs=4, trials=2, budget=2,
                     max_pending=2, data={"curve": [2.0, 0.5, None]}, optimizer={"name": "lhs"})
    result = run(exp, threads, store=str(tmp_path / "s.zarr"))
    snap = read_store(tmp_path / "s.zarr")
    assert (snap.status == DONE).all() and (snap.metric == 0.5).all()
    assert (snap.diverged_at == 2).all() and (snap.best_epoch == 1).all()
    assert result.best_mean == 0.5 and top_architectures(snap)[0]["diverged"] == 2


def test_always_failing_trial_stops_early_then_resumes(threads, tmp_path):
    path = str(tmp_path / "s.zarr")
    exp = experiment(trial="tests.orchestrator.trials:always_fails", trials=2, budget=10,
                     max_pending=2, optimizer={"name": "lhs"})
    with pytest.raises(SearchFailed, match=r"first 3 architectures failed .*"
                       r"ValueError: no such column 'energy' in the input file"):
        run(exp, threads, store=path)
    snap = read_store(path)
    assert 3 <= snap.arch_done().sum() and snap.n < 10
    # trials started (their start report came) but stopped stay running: a resume reruns them
    assert np.sum(snap.status == FAILED) < 10 * 2
    assert set(np.unique(snap.status)) <= {PENDING, RUNNING, FAILED}
    # resumable: the same experiment with fail fast off runs out the budget; nothing is told
    # (nothing finite was ever seen) and the run still ends
    result = run(experiment(trial="tests.orchestrator.trials:always_fails", trials=2, budget=10,
                            max_pending=2, optimizer={"name": "lhs"}, fail_fast=0), threads, store=path)
    snap = read_store(path)
    assert snap.n == 10 and (snap.status == FAILED).all() and result.tell_order == ()
    assert result.best_params is None and result.n_ok_architectures == 0
    assert result.common_errors == (("ValueError: no such column 'energy' in the input file", 20),)


def test_nan_oom_and_worker_death_in_one_architecture(tmp_path):
    exp = experiment(trial="tests.orchestrator.trials:planned", trials=4, budget=3, epochs=3,
                     max_pending=1, optimizer={"name": "lhs"}, seed=11)
    plan = dict(zip((str(trial_seed(exp.seed, 0, t)) for t in range(3)), ("nan", "oom", "kill"),
                    strict=True))
    exp.data = {"plan": plan}
    path = str(tmp_path / "s.zarr")
    # one worker death is final (no retry) and each worker holds only the trial it runs
    config = {"distributed.scheduler.allowed-failures": 0,
              "distributed.scheduler.worker-saturation": 1.0}
    with dask.config.set(config), LocalCluster(n_workers=2, threads_per_worker=1,
                                               dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        search = Search(exp, client, open_store(exp, path), build_optimizer(exp))
        search.loop()
    snap = read_store(path)
    assert snap.status[0].tolist() == [FAILED, FAILED, FAILED, DONE], snap.errors
    assert "not a finite number" in snap.errors["0/0"]
    assert "RESOURCE_EXHAUSTED" in snap.errors["0/1"]
    assert "KilledWorker" in snap.errors["0/2"]
    assert (snap.status[1:] == DONE).all()
    assert search.rules.told[0][1] > 0  # one survivor of four: told a spread, not 0
    result = best_of(path, exp, 0.0, search.tells)
    assert result.best_params != {**exp.fixed, **exp.space.from_row(snap.params[0])}
    assert top_architectures(snap)[-1]["arch"] == 0


@pytest.mark.parametrize("field, value, message", [
    ("min_ok", 0, "field 'min_ok' must be an integer from 1 to trials (3), got 0"),
    ("min_ok", 4, "field 'min_ok' must be an integer from 1 to trials (3), got 4"),
    ("fail_fast", -1, "field 'fail_fast' must be an integer >= 0 (0 disables), got -1"),
    ("penalty", "high", "field 'penalty' must be a finite number, got 'high'"),
])
def test_failure_fields_are_validated_in_one_line(field, value, message):
    spec = {"space": {"x": {"lower": 0, "upper": 4, "scale": 1}}, "trials": 3, field: value}
    with pytest.raises(ExperimentError, match=f"^exp.yaml: {message.replace('(', '[(]').replace(')', '[)]')}"):
        Experiment.from_dict(spec, source="exp.yaml")
