"""Slots and the in-flight policy: pure functions, and the scheduler plugin on a real cluster."""

import time

import pytest
from distributed import Client, LocalCluster

from orchestrator.search.loop import flush_due
from orchestrator.search.slots import (
    ASK_PIECE,
    SlotWatcher,
    adapt_maximum,
    architectures_to_ask,
    queue_margin,
    trial_slots,
)


def ask(**kw) -> int:
    spec = dict(slots=80, trials=5, open_trials=0, open_architectures=0, remaining=100, margin=5)
    return architectures_to_ask(**{**spec, **kw})


def test_trials_in_flight_reach_slots_plus_margin():
    assert ask() == 17  # ceil((80 + 5) / 5)
    assert ask(open_trials=83, open_architectures=20) == 1  # two trials short of 85
    assert ask(open_trials=85, open_architectures=20) == 0
    assert ask(remaining=3) == 3  # never beyond the budget
    assert ask(slots=0) == 1  # no worker yet: one architecture queued
    assert ask(slots=0, adapt_slots=40) == 9  # an adaptive cluster sees work for its maximum
    assert ask(max_pending=4, open_architectures=1) == 3  # the explicit override counts architectures


def test_a_large_fill_is_asked_in_pieces():
    assert ask(slots=10_000, remaining=6_000) == ASK_PIECE  # not 2,001 in one ask: the next piece follows
    assert ask(slots=10_000, remaining=6_000, piece=500) == 500
    assert ask(max_pending=1_000, remaining=6_000) == ASK_PIECE
    assert ask(slots=10_000, remaining=7) == 7


def test_flushes_are_paced_by_their_own_cost():
    assert not flush_due(True, 0.1) and flush_due(True, 0.2) and not flush_due(False, 0.9)
    assert flush_due(False, 1.0)  # anything at least every second
    assert not flush_due(True, 0.3, cost=0.1) and flush_due(True, 0.4, cost=0.1)  # 4x its cost apart
    assert flush_due(True, 1.0, cost=2.0)  # but new results at least every second


def test_slots_count_requested_resources_else_threads():
    totals = {"workers": 3, "threads": 24, "resources": {"GPU": 3}}
    assert trial_slots(totals, None) == 24
    assert trial_slots(totals, {"GPU": 1}) == 3
    assert trial_slots(totals, {"GPU": 0.5}) == 6
    assert trial_slots(totals, {"GPU": 1, "MEM": 1}) == 0  # a resource no worker has
    assert trial_slots({}, None) == 0


def test_queue_margin_covers_completions_during_an_ask():
    assert queue_margin(5, 80, None, None) == 5  # nothing measured yet: one architecture
    assert queue_margin(5, 80, 20.0, 0.01) == 5
    # 1000 slots of 20 s trials finish 50 per second; a 1 s ask needs 100 queued (twice 50)
    assert queue_margin(5, 1000, 20.0, 1.0) == 100


def test_adapt_maximum_reads_the_clusters_adaptive():
    with LocalCluster(n_workers=0, threads_per_worker=2, processes=False,
                      dashboard_address=":0") as cluster:
        assert adapt_maximum(cluster, 2) == 0
        cluster.adapt(minimum=0, maximum=3)
        assert adapt_maximum(cluster, 2) == 6
    assert adapt_maximum(None, 1) == 0


def test_slot_watcher_publishes_totals_as_workers_join_and_leave():
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, resources={"GPU": 1},
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        client.register_plugin(SlotWatcher("slots-test"), name="w")

        def wait_for(threads: int) -> dict:
            deadline = time.time() + 30
            while time.time() < deadline:
                seen = [msg for _, msg in client.get_events("slots-test")]
                if seen and seen[-1]["threads"] == threads:
                    return seen[-1]
                time.sleep(0.05)
            pytest.fail(f"never saw {threads} threads; saw {seen}")

        assert wait_for(2) == {"workers": 1, "threads": 2, "resources": {"GPU": 1}}
        cluster.scale(3)
        assert wait_for(6)["resources"] == {"GPU": 3}
        cluster.scale(1)
        assert wait_for(2)["workers"] == 1
