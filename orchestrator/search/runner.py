"""``run``: one search, or every stage of a staged experiment, on a given or embedded cluster."""

from __future__ import annotations

import time
from collections.abc import Callable

from distributed import Client

from orchestrator.experiment import Experiment
from orchestrator.search.loop import Search
from orchestrator.search.result import Result, best_of
from orchestrator.search.setup import build_optimizer, client_for, open_store, store_path
from orchestrator.search.stages import StagedResult, run_stages

__all__ = ["run"]


def run(experiment: Experiment, client: Client | None = None, *, store: str | None = None,
        workers: int | None = None,
        progress: Callable[[int, int, float | None], None] | None = None) -> Result | StagedResult:
    """Run (or resume) a search; without a client, on an embedded local Dask cluster."""
    if experiment.stages:  # broad, then focus, into one store
        return run_stages(experiment, client, store=store, workers=workers, progress=progress)
    started = time.time()
    path = store_path(experiment, store)
    optimizer = build_optimizer(experiment)  # bad optimiser settings fail before any store exists
    results = open_store(experiment, path)
    try:
        with client_for(client, workers) as client:
            search = Search(experiment, client, results, optimizer, progress)
            search.loop()
    finally:
        results.close()  # the store's lock (orchestrator.store.lock)
    return best_of(path, experiment, started, search.tells)
