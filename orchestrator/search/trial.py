"""The trial contract, worker side: how a trial function is called, seeded, stopped and checked.

A trial is a plain function ``trial(params, *, seed, report, model, data, epochs, **kwargs)``
imported by its path ``"module:function"`` on a Dask worker. It calls ``report(epoch,
{"metric": m})`` after each epoch (streamed to the search) and returns a mapping with at least
``"metric"`` (lower is better); ``"n_params"``, ``"best_epoch"`` and ``"diverged_at"`` are
optional. An exception, or a metric that is not a real number (a string, a bool, None, no
``"metric"`` at all) or not finite, makes the trial failed; a non-finite metric after finite
reported epochs keeps the best of those (marked diverged).

Each run of a trial first streams a start report (epoch -1, with the worker's pid): the driver
counts attempts by them (``orchestrator.search.attempts``). With a ``timeout``, report() raises
``TrialStopped`` once it has passed, and a trial that returns after it is failed
"timed out after N s".

Stopping: the driver puts ``"<search>:<arch>"`` (a pruned architecture) or ``"<search>:*"``
(the whole search) into this worker process's ``STOPPED`` set with ``client.run(mark_stopped,
...)``; ``report()`` checks that set locally (no scheduler round trip per epoch) and raises
``TrialStopped``, which ends the trial with ``status="pruned"`` and its curve so far.
"""

from __future__ import annotations

import importlib
import math
import numbers
import os
import time
import traceback
from collections.abc import Callable, Mapping

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


def timed_out(seconds: float) -> str:
    """The error text of a trial stopped by the experiment's ``trial_timeout``."""
    return f"timed out after {seconds:g} s (trial_timeout); raise trial_timeout or make the trial faster"


def execute_trial(trial: str, params: dict, kwargs: dict, seed: int, topic: str,
                  arch: int, index: int, stop: str | None = None,
                  timeout: float | None = None) -> dict:
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

    def send(epoch: int, metric: float) -> None:
        if worker is not None:
            worker.log_event(topic, {"arch": arch, "trial": index, "epoch": epoch, "metric": metric,
                                     "worker": name, "started": started, "pid": os.getpid()})

    def report(epoch: int, metrics: dict) -> None:
        curve[int(epoch)] = float(metrics["metric"])
        send(int(epoch), curve[int(epoch)])
        if int(epoch) < last and _stopped(stop, arch):  # the last epoch: nothing left to save
            raise TrialStopped("stopped by the driver")
        if timeout is not None and time.time() - started > timeout:
            raise TrialStopped(timed_out(timeout))

    send(-1, math.nan)  # started: the driver counts this attempt
    try:
        if _stopped(stop, arch):
            raise TrialStopped("stopped before it started")
        out = import_trial(trial)(params, seed=seed, report=report, **kwargs)
        out = dict(out) if isinstance(out, Mapping) else {"status": "failed", "error": (
            f"trial returned {out!r} ({type(out).__name__}), not a mapping; return e.g. "
            "{'metric': 0.25}")}
    except TrialStopped:  # pruned, or past its timeout (failed just below)
        out = {"status": "pruned", "metric": math.nan}
    except Exception as err:  # noqa: BLE001 - a trial's failure is data, not a crash
        tail = "".join(traceback.format_exception(err)[-3:])
        out = {"status": "failed", "error": f"{type(err).__name__}: {err}\n{tail}"}
    if timeout is not None and time.time() - started > timeout:
        out = {"status": "failed", "error": timed_out(timeout)}
    if out.get("status", "done") not in ("failed", "pruned"):
        out.update(_checked_metric(out, curve))
    return {**out, "started": started, "finished": time.time(), "worker": name, "curve": curve}


def metric_problem(out: Mapping) -> str | None:
    """Why a returned mapping's ``"metric"`` is not a real number, or None if it is one."""
    if "metric" not in out:
        keys = ", ".join(map(repr, out)) or "none"
        return f"trial returned no 'metric' (keys: {keys}); return e.g. {{'metric': 0.25}}"
    metric = out["metric"]
    if isinstance(metric, bool) or not isinstance(metric, numbers.Real):
        return (f"trial returned metric={metric!r} ({type(metric).__name__}), not a real number; "
                "return a float, e.g. {'metric': 0.25}")
    return None


def _checked_metric(out: dict, curve: dict[int, float]) -> dict:
    """A returned metric made safe: not a real number -> failed; finite -> done; non-finite after
    finite reported epochs -> the best of those epochs before the first non-finite one, marked
    diverged; else failed."""
    problem = metric_problem(out)
    if problem:
        return {"status": "failed", "error": problem}
    metric = out["metric"]
    value = float(metric)
    if math.isfinite(value):
        return {"status": "done", "metric": value}
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
