"""The trial contract, worker side: how a trial function is called, seeded, stopped and checked.

A trial is a plain function ``trial(params, *, seed, report, model, data, epochs, **kwargs)``
imported by its path ``"module:function"`` on a Dask worker. It calls ``report(epoch,
{"metric": m})`` after each epoch (streamed to the search) and returns a mapping with at least
``"metric"`` (lower is better); ``"n_params"``, ``"best_epoch"`` and ``"diverged_at"`` are
optional. An exception, or a metric that is not a finite number, makes the trial failed; a
non-finite metric after finite reported epochs keeps the best of those (marked diverged).

Stopping: the driver puts ``"<search>:<arch>"`` (a pruned architecture) or ``"<search>:*"``
(the whole search) into this worker process's ``STOPPED`` set with ``client.run(mark_stopped,
...)``; ``report()`` checks that set locally (no scheduler round trip per epoch) and raises
``TrialStopped``, which ends the trial with ``status="pruned"`` and its curve so far.
"""

from __future__ import annotations

import importlib
import math
import time
import traceback
from collections.abc import Callable

import numpy as np
from distributed import get_worker

__all__ = ["STOPPED", "TrialStopped", "execute_trial", "import_trial", "mark_stopped", "stop_key",
           "trial_seed"]

STOPPED: set[str] = set()  # this worker process's stop marks (see the module docstring)


class TrialStopped(Exception):
    """Raised inside a trial's report() when the search asked running trials to stop."""


def stop_key(search: str, arch: int | str) -> str:
    """The stop mark of architecture ``arch`` of search ``search`` (``"*"``: every trial of it)."""
    return f"{search}:{arch}"


def mark_stopped(keys: list[str]) -> None:
    """Run on a worker by the driver (``client.run``): trials with these stop marks stop."""
    STOPPED.update(keys)


def _stopped(search: str | None, arch: int) -> bool:
    return search is not None and (stop_key(search, arch) in STOPPED or stop_key(search, "*") in STOPPED)


def trial_seed(seed: int, arch: int, trial: int) -> int:
    """A deterministic, well-mixed seed for trial ``trial`` of architecture ``arch``."""
    return int(np.random.SeedSequence([int(seed) % 2**32, arch, trial]).generate_state(1)[0])


def import_trial(path: str) -> Callable:
    """The function at ``"module:function"``."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def execute_trial(trial: str, params: dict, kwargs: dict, seed: int, topic: str,
                  arch: int, index: int, stop: str | None = None) -> dict:
    """Run one trial on a worker; never raises: failures come back as ``status="failed"``,
    a trial stopped by the driver (``stop``: the search's stop prefix) as ``status="pruned"``."""
    try:
        worker = get_worker()
    except ValueError:  # called outside a worker (tests, debugging)
        worker = None
    name = worker.address if worker else "local"
    started = time.time()
    curve: dict[int, float] = {}
    last = int(kwargs.get("epochs", 0)) - 1

    def report(epoch: int, metrics: dict) -> None:
        curve[int(epoch)] = float(metrics["metric"])
        if worker is not None:
            worker.log_event(topic, {"arch": arch, "trial": index, "epoch": int(epoch),
                                     "metric": float(metrics["metric"]), "worker": name,
                                     "started": started})
        if int(epoch) < last and _stopped(stop, arch):  # the last epoch: nothing left to save
            raise TrialStopped("stopped by the driver")

    try:
        if _stopped(stop, arch):
            raise TrialStopped("stopped before it started")
        out = dict(import_trial(trial)(params, seed=seed, report=report, **kwargs))
    except TrialStopped:
        out = {"status": "pruned", "metric": math.nan}
    except Exception as err:  # noqa: BLE001 - a trial's failure is data, not a crash
        tail = "".join(traceback.format_exception(err)[-3:])
        out = {"status": "failed", "error": f"{type(err).__name__}: {err}\n{tail}"}
    if out.get("status", "done") not in ("failed", "pruned"):
        out.update(_checked_metric(out, curve))
    return {**out, "started": started, "finished": time.time(), "worker": name, "curve": curve}


def _checked_metric(out: dict, curve: dict[int, float]) -> dict:
    """A returned metric made safe: finite -> done; non-finite after finite reported epochs ->
    the best of those epochs before the first non-finite one, marked diverged; else failed."""
    metric = out.get("metric")
    try:
        value = float(metric)
    except (TypeError, ValueError):
        value = math.nan
    if math.isfinite(value):
        return {"status": "done"}
    before: dict[int, float] = {}
    for epoch in sorted(curve):
        if not math.isfinite(curve[epoch]):
            break
        before[epoch] = curve[epoch]
    if not before:
        return {"status": "failed", "error": f"trial returned metric={metric!r} (not a finite number)"}
    best = min(before, key=before.get)
    diverged = out.get("diverged_at", max(before) + 1)
    return {"status": "done", "metric": before[best], "best_epoch": best, "diverged_at": diverged}
