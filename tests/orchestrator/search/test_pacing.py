"""The driver's pacing on real LocalClusters: slots filled as workers join, asks that never block."""

import threading
import time

import numpy as np
import pytest
from distributed import Client, LocalCluster

from orchestrator.experiment import Experiment
from orchestrator.optimizers import OPTIMIZERS, RandomSearch
from orchestrator.search import Search, build_optimizer, run
from orchestrator.store import DONE, ResultsStore, read_store

SPACE = {f"x{i}": {"lower": 0, "upper": 50, "scale": 0.02} for i in range(6)}


def experiment(**overrides) -> Experiment:
    spec = dict(space=SPACE, trial="orchestrator.objectives:noisy_hartmann", epochs=3, trials=2,
                budget=8, seed=11, optimizer={"name": "lhs"}, data={"epoch_seconds": 1.0})
    spec.update(overrides)
    return Experiment(**spec)


def concurrency_reached(started: np.ndarray, finished: np.ndarray, n: int) -> float:
    """The first time at which n trials ran at once (inf if never)."""
    for t in np.sort(started):
        if np.sum((started <= t) & (finished > t)) >= n:
            return float(t)
    return float("inf")


def arrivals(client: Client) -> list[float]:
    """Scheduler timestamps of worker registrations."""
    return sorted(t for t, msg in client.get_events("all") if msg.get("action") == "add-worker")


def run_in_thread(exp: Experiment, client: Client, store: str) -> tuple[threading.Thread, dict]:
    box: dict = {}

    def target() -> None:
        try:
            box["result"] = run(exp, client, store=store)
        except BaseException as err:  # noqa: BLE001 - handed to the test's thread
            box["error"] = err
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, box


@pytest.mark.parametrize("processes, workers, threads",
                         [(False, 1, 8), pytest.param(True, 4, 1, marks=pytest.mark.slow)],
                         ids=["1 worker x 8 threads", "4 worker processes"])
def test_slots_fill_within_two_seconds_of_workers_joining(tmp_path, processes, workers, threads):
    exp = experiment(budget=workers * threads // 2 + 2, data={"epoch_seconds": 0.8})
    store = str(tmp_path / "s.zarr")
    # worker processes import the trial's modules before they register, as a warm batch job would
    preload = {"preload": ["orchestrator.search.trial", "orchestrator.objectives"]} if processes else {}
    with LocalCluster(n_workers=0, threads_per_worker=threads, processes=processes,
                      dashboard_address=":0", **preload) as cluster, Client(cluster) as client:
        thread, box = run_in_thread(exp, client, store)
        time.sleep(2.0)  # the driver is waiting on an empty cluster
        snap = read_store(store)
        assert snap.n <= 2, "with no worker the driver should only queue a margin"
        cluster.scale(workers)
        thread.join(timeout=120)
        joined = arrivals(client)
    assert not thread.is_alive() and "error" not in box, box.get("error")
    snap = read_store(store)
    assert snap.n == exp.budget and (snap.status == DONE).all()
    slots = workers * threads
    full = concurrency_reached(snap.started.ravel(), snap.finished.ravel(), slots)
    assert len(joined) == workers
    late = full - max(joined)
    assert late < 2.0, f"{slots} trials in flight only {late:.2f} s after the last worker joined " \
        f"(joined {np.array(joined) - joined[0]}, started {np.sort(snap.started.ravel()) - joined[0]})"


def test_an_adaptive_cluster_is_given_work_for_its_maximum(tmp_path):
    exp = experiment(budget=8, data={"epoch_seconds": 0.7})
    with LocalCluster(n_workers=0, threads_per_worker=1, processes=False,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        search = Search(exp, client, ResultsStore.create(tmp_path / "s.zarr", exp.to_dict(),
                                                         exp.space.names, exp.trials, exp.epochs),
                        build_optimizer(exp))
        search.watch_slots()
        assert search.slots.available == 0 and search.wanted() == 1  # a fixed empty cluster: one queued
        # as orchestrator.cluster.batch adapts: a worker per queued trial, up to the maximum
        cluster.adapt(minimum=0, maximum=6, interval="100ms", target_duration="10ms")
        assert search.wanted() == 4  # (6 slots + a margin of 2 trials) / 2 trials, before any worker
        search.slots.unwatch()
        search.opt.close()
        run(exp, client, store=str(tmp_path / "t.zarr"))
    snap = read_store(tmp_path / "t.zarr")
    assert concurrency_reached(snap.started.ravel(), snap.finished.ravel(), 6) < np.inf


class SleepyAsk(RandomSearch):
    """Random search whose every ask after the first sleeps 3 s, noting what the store held."""

    name = "sleepy"
    store = ""
    seen: list[tuple[int, int]] = []  # (trials done when the sleep began, when it ended)

    def ask(self, n: int = 1) -> list[dict]:
        if self.n_evaluated:
            before = int((read_store(self.store).status == DONE).sum())
            time.sleep(3.0)
            SleepyAsk.seen.append((before, int((read_store(self.store).status == DONE).sum())))
        return super().ask(n)


def test_a_slow_ask_does_not_delay_storing_results(tmp_path, monkeypatch):
    monkeypatch.setitem(OPTIMIZERS, "sleepy", SleepyAsk)
    monkeypatch.setattr(SleepyAsk, "store", str(tmp_path / "s.zarr"))
    monkeypatch.setattr(SleepyAsk, "seen", [])
    # trials of 0.2-2 s on 3 threads; the first completion starts a 3 s ask while others finish
    exp = experiment(trial="tests.orchestrator.trials:slow_by_x0", trials=1, budget=5, max_pending=3,
                     optimizer={"name": "sleepy"}, data={"seconds": 0.2}, epochs=1)
    with LocalCluster(n_workers=1, threads_per_worker=3, processes=False,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        result = run(exp, client, store=str(tmp_path / "s.zarr"))
    assert len(result.tell_order) == 5
    assert SleepyAsk.seen, "the slow ask never ran"
    before, after = SleepyAsk.seen[0]
    assert after >= before + 2, f"during a 3 s ask only {after - before} finished trials were stored"


class FailingAsk(RandomSearch):
    """Random search whose second ask raises."""

    name = "failing"

    def ask(self, n: int = 1) -> list[dict]:
        if self.n_evaluated:
            raise RuntimeError("surrogate fit failed")
        return super().ask(n)


def test_an_optimiser_error_stops_the_search_and_surfaces(tmp_path, monkeypatch):
    monkeypatch.setitem(OPTIMIZERS, "failing", FailingAsk)
    exp = experiment(trials=1, budget=6, max_pending=2, optimizer={"name": "failing"},
                     data={"epoch_seconds": 0.05})
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        with pytest.raises(RuntimeError, match="surrogate fit failed"):
            run(exp, client, store=str(tmp_path / "s.zarr"))
    snap = read_store(tmp_path / "s.zarr")
    assert snap.n == 2  # what ran before the failure is stored


def test_without_the_scheduler_plugin_the_driver_polls_worker_totals(tmp_path, monkeypatch, caplog):
    def refuse(*args, **kwargs):
        raise RuntimeError("this scheduler cannot import ganhpo")
    monkeypatch.setattr(Client, "register_plugin", refuse)
    exp = experiment(trials=2, budget=4, data={"epoch_seconds": 0.3})
    with LocalCluster(n_workers=1, threads_per_worker=4, processes=False,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        run(exp, client, store=str(tmp_path / "s.zarr"))
    snap = read_store(tmp_path / "s.zarr")
    assert (snap.status == DONE).all()
    assert concurrency_reached(snap.started.ravel(), snap.finished.ravel(), 4) < np.inf
    assert "polling worker totals" in caplog.text
