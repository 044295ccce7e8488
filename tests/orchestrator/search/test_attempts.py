"""Trial timeouts, worker deaths with retries, and the metric check, on real LocalClusters."""

import math

import numpy as np
import pytest

from orchestrator.search import execute_trial, run
from orchestrator.store import DONE, FAILED, read_store
from tests.orchestrator.search.test_loop import experiment


def test_a_hung_trial_times_out_its_slot_is_freed_and_the_search_ends(client, tmp_path):
    exp = experiment(trials=2, budget=2, max_pending=2, epochs=2, trial_timeout=2,
                     optimizer={"name": "lhs"}, data={"hang": 0.5}, fail_fast=0)
    run(exp, client, store=str(tmp_path / "s.zarr"))
    snap = read_store(tmp_path / "s.zarr")
    hung = snap.params[:, snap.param_names.index("x0")] > 0.5
    assert hung.any() and (~hung).any()  # lhs over 2 points: one of each
    assert (snap.status[hung] == FAILED).all() and (snap.status[~hung] == DONE).all()
    for a, t in zip(*np.nonzero(snap.status == FAILED), strict=True):
        assert snap.errors[f"{a}/{t}"].startswith("timed out after 2 s")
    assert (snap.attempts == 1).all()


def test_a_trial_that_kills_its_worker_runs_retries_plus_one_times(client, tmp_path):
    exp = experiment(trials=2, budget=2, max_pending=2, epochs=2, retries=1,
                     optimizer={"name": "lhs"}, data={"exit": 0.5}, fail_fast=0)
    run(exp, client, store=str(tmp_path / "s.zarr"))
    snap = read_store(tmp_path / "s.zarr")
    dies = snap.params[:, snap.param_names.index("x0")] > 0.5
    assert dies.any() and (~dies).any()
    assert (snap.status[dies] == FAILED).all() and (snap.status[~dies] == DONE).all()
    assert (snap.attempts[dies] == 2).all() and (snap.attempts[~dies] == 1).all()
    for a, t in zip(*np.nonzero(snap.status == FAILED), strict=True):
        assert "KilledWorker: the worker died twice while running this trial (" in snap.errors[f"{a}/{t}"]
        assert np.isnan(snap.epoch_metric[a, t]).all()  # no stale epoch of a dead attempt


@pytest.mark.parametrize("returned, message", [
    ({"metric": "0.25"}, "trial returned metric='0.25' (str), not a real number"),
    ({"metric": True}, "trial returned metric=True (bool), not a real number"),
    ({"metric": None}, "trial returned metric=None (NoneType), not a real number"),
    ({"loss": 0.3}, "trial returned no 'metric' (keys: 'loss')"),
    ({}, "trial returned no 'metric' (keys: none)"),
    (None, "trial returned None (NoneType), not a mapping"),
])

def test_a_metric_must_be_a_real_number(returned, message):
    out = execute_trial("tests.orchestrator.trials:returns", {}, {
        "model": "", "epochs": 1, "data": {"value": returned}}, 1, "topic", 0, 0)
    assert out["status"] == "failed" and out["error"].startswith(message), out["error"]


def test_real_numbers_of_any_kind_are_accepted():
    for value in (1, 0.25, np.float32(0.5), np.int64(2)):
        out = execute_trial("tests.orchestrator.trials:returns", {}, {
            "model": "", "epochs": 1, "data": {"value": {"metric": value}}}, 1, "topic", 0, 0)
        assert out["status"] == "done" and out["metric"] == float(value)
    out = execute_trial("tests.orchestrator.trials:returns", {}, {
        "model": "", "epochs": 1, "data": {"value": {"metric": math.inf}}}, 1, "topic", 0, 0)
    assert out["status"] == "failed" and "not a finite number" in out["error"]
