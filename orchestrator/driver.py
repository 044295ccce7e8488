"""The asynchronous nested-parallel search on Dask: architectures x trials, never waiting for a batch.

The driver runs in the client process. Every trial is its own future; finished trials are
stored at once, an architecture is told to the optimiser as soon as its last trial finishes,
and a replacement is asked for immediately. Per-epoch metrics stream from the workers through
``Worker.log_event`` / ``Client.subscribe_topic``.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import math
import queue
import time
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from distributed import Client, Event, as_completed, get_worker

from orchestrator.asker import OptimizerThread
from orchestrator.experiment import Experiment, ExperimentError
from orchestrator.failures import FailFast, TellRules, common_errors, effective_min_ok
from orchestrator.optimizers import OPTIMIZERS, Optimizer, SpaceExhausted, make_optimizer
from orchestrator.slots import (
    SlotWatcher,
    adapt_maximum,
    architectures_to_ask,
    queue_margin,
    trial_slots,
)
from orchestrator.space import SearchSpace
from orchestrator.store import (
    DONE,
    FAILED,
    PENDING,
    RUNNING,
    STAGES,
    ResultsStore,
    check_store,
    read_store,
)

__all__ = ["Result", "SearchFailed", "execute_trial", "run", "trial_seed"]

log = logging.getLogger("ganhpo")
FLUSH_SECONDS = 1.0  # the store is flushed at least this often
FLUSH_MIN_SECONDS = 0.2  # and at most this often: flush cost does not grow with completion rate
SLOT_POLL_SECONDS = 5.0  # only when the scheduler plugin cannot be registered


@dataclass(frozen=True)
class Result:
    """What a search found: the best architecture by mean metric, with its spread over trials.

    The best is taken among architectures with at least ``min_ok`` successful trials, or, when
    none has that many, among those with any. ``n_ok_architectures`` counts finished
    architectures with at least one successful trial; ``common_errors`` holds the first lines
    of failed trials' errors with their counts, most common first (at most 3).
    """

    store: str
    best_params: dict | None
    best_mean: float
    best_std: float
    best_metrics: tuple[float, ...]
    n_architectures: int
    n_failed_trials: int
    tell_order: tuple[int, ...]
    seconds: float
    n_ok_architectures: int = 0
    common_errors: tuple[tuple[str, int], ...] = ()

    def summary(self) -> str:
        """A few human-readable lines for the end of a run."""
        errors = "".join(f"\n  {count} x {text}" for text, count in self.common_errors)
        if self.best_params is None:
            return f"no architecture finished successfully; see {self.store}{errors}"
        trials = ", ".join(f"{m:.4g}" for m in self.best_metrics)
        return (f"best architecture: {self.best_params}\n"
                f"  metric {self.best_mean:.5g} +- {self.best_std:.2g} over {len(self.best_metrics)} "
                f"trials [{trials}]\n"
                f"  {self.n_architectures} architectures, {self.n_failed_trials} failed trials, "
                f"{self.seconds:.1f} s; results in {self.store}{errors}")


def trial_seed(seed: int, arch: int, trial: int) -> int:
    """A deterministic, well-mixed seed for trial ``trial`` of architecture ``arch``."""
    return int(np.random.SeedSequence([int(seed) % 2**32, arch, trial]).generate_state(1)[0])


def _import(path: str) -> Callable:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


class TrialStopped(Exception):
    """Raised inside a trial's report() when the driver asked running trials to stop."""


class SearchFailed(RuntimeError):
    """The search stopped early because its first architectures all failed; the message says why."""


def execute_trial(trial: str, params: dict, kwargs: dict, seed: int, topic: str,
                  arch: int, index: int, stop: str | None = None) -> dict:
    """Run one trial on a worker; never raises: failures come back as ``status="failed"``."""
    try:
        worker = get_worker()
    except ValueError:  # called outside a worker (tests, debugging)
        worker = None
    name = worker.address if worker else "local"
    started = time.time()
    stop_event = Event(stop) if (stop and worker) else None
    curve: dict[int, float] = {}

    def report(epoch: int, metrics: dict) -> None:
        curve[int(epoch)] = float(metrics["metric"])
        if worker is not None:
            worker.log_event(topic, {"arch": arch, "trial": index, "epoch": int(epoch),
                                     "metric": float(metrics["metric"]), "worker": name,
                                     "started": started})
        if stop_event is not None and stop_event.is_set():
            raise TrialStopped("stopped by the driver")

    try:
        out = dict(_import(trial)(params, seed=seed, report=report, **kwargs))
    except Exception as err:  # noqa: BLE001 - a trial's failure is data, not a crash
        tail = "".join(traceback.format_exception(err)[-3:])
        out = {"status": "failed", "error": f"{type(err).__name__}: {err}\n{tail}"}
    if out.get("status", "done") != "failed":
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


class Search:
    """One run of the loop over one store; see ``run``."""

    def __init__(self, experiment: Experiment, client: Client, store: ResultsStore,
                 optimizer: Optimizer,
                 progress: Callable[[int, int, float | None], None] | None = None,
                 row_space: SearchSpace | None = None):
        self.exp, self.client, self.store, self.progress = experiment, client, store, progress
        self.opt = OptimizerThread(optimizer)  # every optimiser call runs in its own thread
        # Stages (orchestrator/stages.py): rows are encoded in the store's own space, and this
        # search owns only the architectures of its stage (budget, resume).
        self.rows = row_space or experiment.space
        self.stage = STAGES.index(experiment.stage)
        self.tag = uuid.uuid4().hex[:8]
        self.topic = f"ganhpo-{self.tag}"
        self.slot_topic = f"ganhpo-slots-{self.tag}"
        self.stop_name = f"ganhpo-stop-{self.tag}"
        self.events: queue.SimpleQueue = queue.SimpleQueue()
        self.completed = as_completed(with_results=True, raise_errors=False)
        self.keys: dict[str, tuple[int, int]] = {}
        self.open: dict[int, set[int]] = {}
        self.tells: list[int] = []
        self.told_means: list[float] = []
        self.exhausted = False
        self.asking: Future | None = None
        self.totals: dict | None = None  # worker totals from the SlotWatcher
        self.totals_at = -math.inf  # the scheduler's timestamp of those totals
        self.watcher: str | None = None
        self.polled = 0.0
        self.trial_seconds = [0.0, 0]  # sum and count of finished trials' durations
        self.resources = experiment.resources or None
        self.kwargs = {"model": experiment.model, "data": experiment.data, "epochs": experiment.epochs}
        if experiment.deterministic:  # only then: trial functions without the keyword keep working
            self.kwargs["deterministic"] = True

    def _resources(self) -> dict | None:
        """The trials' resource request: the experiment's, else GPU=1 if any worker has a GPU."""
        if self.exp.resources is not None:
            return self.exp.resources or None
        return {"GPU": 1} if (self.totals or {}).get("resources", {}).get("GPU") else None

    def _watch_slots(self) -> None:
        """Follow worker totals through a scheduler plugin (or, failing that, by polling)."""
        self.client.subscribe_topic(self.slot_topic, lambda event: self.events.put(("slots", event)))
        name = f"ganhpo-slots-{self.tag}"
        try:
            self.client.register_plugin(SlotWatcher(self.slot_topic), name=name)
            self.watcher = name
            # the first totals may be published before the subscription reached the scheduler
            for event in self.client.get_events(self.slot_topic)[-1:]:
                self.events.put(("slots", event))
        except Exception as err:  # noqa: BLE001 - e.g. a scheduler that cannot import ganhpo
            log.warning("slot watcher not registered on the scheduler (%s: %s); polling worker "
                        "totals every %.0f s instead", type(err).__name__, err, SLOT_POLL_SECONDS)
            self._poll_slots()
        deadline = time.monotonic() + 5
        while self.totals is None and time.monotonic() < deadline:
            self._drain_events(wait=True)
        if self.totals is None:
            self._poll_slots()
        self.resources = self._resources()

    def _poll_slots(self) -> None:
        """Worker totals from one full scheduler_info (the fallback when no plugin runs)."""
        workers = self.client.scheduler_info(n_workers=-1).get("workers", {}).values()
        resources: dict[str, float] = {}
        for w in workers:
            for key, value in w.get("resources", {}).items():
                resources[key] = resources.get(key, 0) + value
        self.totals = {"workers": len(workers), "threads": sum(w.get("nthreads", 1) for w in workers),
                       "resources": resources}
        self.polled = time.monotonic()

    def _unwatch_slots(self) -> None:
        self.client.unsubscribe_topic(self.slot_topic)
        if self.watcher is not None:
            with contextlib.suppress(Exception):
                self.client.unregister_scheduler_plugin(self.watcher)

    @property
    def slots(self) -> int:
        """Trials the workers present can run at once (GPUs requested, or threads)."""
        return trial_slots(self.totals or {}, self.resources)

    def wanted(self) -> int:
        """Architectures to ask for now (see ``orchestrator.slots.architectures_to_ask``)."""
        slots, workers = self.slots, (self.totals or {}).get("workers", 0)
        adapt = adapt_maximum(self.client.cluster, slots / workers if workers else 1)
        total, count = self.trial_seconds
        margin = queue_margin(self.exp.trials, max(slots, adapt), total / count if count else None,
                              self.opt.ask_seconds)
        return architectures_to_ask(
            slots=slots, trials=self.exp.trials, open_trials=len(self.keys),
            open_architectures=len(self.open), remaining=self.exp.budget - self.stage_rows(),
            margin=margin, max_pending=self.exp.max_pending, adapt_slots=adapt)

    def stage_rows(self) -> int:
        """Architectures of this search's stage in the store (the stage's budget counts these)."""
        return int(np.sum(self.store.array("stage") == self.stage))

    def point(self, a: int) -> dict:
        return self.rows.from_row(self.store.array("params")[a])

    def submit(self, a: int, t: int) -> None:
        """Submit trial t of architecture a as its own future."""
        params = {**self.exp.fixed, **self.point(a)}
        future = self.client.submit(
            execute_trial, self.exp.trial, params, self.kwargs, trial_seed(self.exp.seed, a, t),
            self.topic, a, t, self.stop_name, key=f"trial-{self.tag}-{a}-{t}", pure=False,
            resources=self.resources)
        self.keys[future.key] = (a, t)
        self.open.setdefault(a, set()).add(t)
        self.completed.add(future)

    def resume(self) -> None:
        """Tell the optimiser every finished architecture; resubmit every unfinished trial."""
        status = self.store.array("status")
        for a in range(self.store.n):
            if self.store.array("stage")[a] != self.stage:
                continue
            if np.all(status[a] >= DONE):
                self._tell(a)
                continue
            self.opt.add_pending([self.point(a)])
            for t in np.flatnonzero(status[a] < DONE):
                self.store.set("status", (a, t), PENDING)
                self.store.set("epoch_metric", (a, t), np.nan)
                self.submit(a, int(t))
        self.store.flush()

    def propose(self) -> None:
        """Start an ask in the optimiser's thread when trials in flight fall below the target."""
        if self.asking is not None or self.exhausted:
            return
        n = self.wanted()
        if n > 0:
            self.asking = self.opt.ask_async(n)
            self.asking.add_done_callback(lambda _: self.events.put(("asked", None)))

    def collect(self) -> bool:
        """Submit the architectures of a finished ask; False while none has finished."""
        if self.asking is None or not self.asking.done():
            return False
        future, self.asking = self.asking, None
        try:
            points = future.result()
        except SpaceExhausted as err:
            log.warning("%s; finishing with what is running", err)
            self.exhausted = True
            return False
        for point in points:
            a = self.store.add_architecture(self.rows.to_row(point), self.exp.stage)
            for t in range(self.exp.trials):
                self.submit(a, t)
        return True

    def on_result(self, future, result) -> None:
        """Store a finished trial at once; tell the optimiser when its architecture is complete."""
        a, t = self.keys.pop(future.key)
        if future.status != "finished":
            exc = result[1] if isinstance(result, tuple) and len(result) == 3 else result
            # e.g. KilledWorker: the worker and start time streamed from the trial stay as they are
            result = {"status": "failed", "error": f"{type(exc).__name__}: {exc}",
                      "finished": time.time()}
        ok = result.get("status") == "done"
        for name in ("started", "finished"):
            if name in result:
                self.store.set(name, (a, t), result[name])
        if result.get("worker"):
            self.store.set("worker", (a, t), self.store.worker_id(result["worker"]))
        self.store.set("metric", (a, t), float(result["metric"]) if ok else np.nan)
        self.store.set("best_epoch", (a, t), int(result.get("best_epoch", -1)))
        for epoch, value in result.get("curve", {}).items():  # authoritative; the stream may lag
            if 0 <= epoch < self.store.epochs:
                self.store.set("epoch_metric", (a, t, epoch), value)
        if result.get("n_params") is not None:
            self.store.set("n_params", a, int(result["n_params"]))
        if result.get("diverged_at") is not None:
            self.store.set("diverged_at", (a, t), int(result["diverged_at"]))
        if not ok:
            self.store.set_error(a, t, str(result.get("error", "failed")))
        else:
            self.fail_fast.succeeded()
        self.store.set("status", (a, t), DONE if ok else FAILED)
        future.release()
        self.open[a].discard(t)
        if not self.open[a]:
            del self.open[a]
            self._tell(a)
            if self.fail_fast.finished(int(np.sum(self.store.array("status")[a] == DONE))):
                self._stop_failed()

    @cached_property
    def rules(self) -> TellRules:
        return TellRules(effective_min_ok(self.exp.to_dict()), self.exp.penalty)

    @cached_property
    def fail_fast(self) -> FailFast:
        return FailFast(self.exp.fail_fast)

    def _tell(self, a: int) -> None:
        """Tell the optimiser architecture a, by the failure rules (orchestrator.failures)."""
        status, metric = self.store.array("status")[a], self.store.array("metric")[a]
        good = metric[status == DONE]
        if len(good):
            self.fail_fast.succeeded()
        for b, mean, std in self.rules.judge(a, good):
            if b == a and len(good):  # a penalty is no "best so far"
                self.told_means.append(mean)
            self.opt.tell([self.point(b)], [mean], [std])
            self.tells.append(b)
        if self.progress:
            self.progress(len(self.tells), self.exp.budget, min(self.told_means, default=None))

    def _stop_failed(self) -> None:
        """Fail fast: stop every trial, keep the store consistent, raise SearchFailed."""
        from distributed import Future

        Event(self.stop_name, client=self.client).set()
        self.client.cancel([Future(key, self.client) for key in self.keys])
        self.store.flush()
        n = self.fail_fast.failed
        top = common_errors(self.store.errors, 1)
        error = f"; most common error ({top[0][1]} trials): {top[0][0]}" if top else ""
        raise SearchFailed(f"the first {n} architectures failed in every trial and none "
                           f"succeeded, so the search stopped{error}; fix the trial and resume "
                           f"(store {self.store.path}), or set fail_fast: 0 to run on")

    def on_epoch(self, msg: dict) -> None:
        a, t = int(msg["arch"]), int(msg["trial"])
        if a >= self.store.n or self.store.array("status")[a, t] >= DONE:
            return
        if 0 <= msg["epoch"] < self.store.epochs:
            self.store.set("epoch_metric", (a, t, int(msg["epoch"])), msg["metric"])
        if self.store.array("status")[a, t] == PENDING:
            self.store.set("status", (a, t), RUNNING)
            self.store.set("started", (a, t), msg["started"])
            self.store.set("worker", (a, t), self.store.worker_id(msg["worker"]))

    def loop(self) -> None:
        """React to finished trials, finished asks, epoch reports and worker arrivals until done."""
        self.client.subscribe_topic(self.topic, lambda event: self.events.put(("epoch", event[1])))
        try:
            self._watch_slots()
            self.resume()
            self.propose()
            self.store.flush()
            last_flush, dirty = time.monotonic(), False
            while self.open or self.asking is not None:
                self.opt.check()  # an optimiser error surfaces here, in the loop's thread
                batch = self.completed.next_batch(block=False)
                for future, result in batch:
                    self._count_duration(result)
                    self.on_result(future, result)
                submitted = self.collect()  # replacements go out first, then results are stored
                changed = self._drain_events(wait=not (batch or submitted))
                if batch or submitted or changed:
                    self.propose()
                if self.watcher is None and time.monotonic() - self.polled > SLOT_POLL_SECONDS:
                    self._poll_slots()
                    self.propose()
                dirty = dirty or bool(batch or submitted)
                if flush_due(dirty, time.monotonic() - last_flush):
                    self.store.flush()
                    last_flush, dirty = time.monotonic(), False
            self.opt.close(wait=True)  # the last tells are applied; their errors surface
        except BaseException:
            Event(self.stop_name, client=self.client).set()
            self.opt.close(wait=False)
            raise
        finally:
            self._drain_events(wait=False)
            self.store.flush()
            self.client.unsubscribe_topic(self.topic)
            self._unwatch_slots()

    def _count_duration(self, result) -> None:
        if isinstance(result, dict) and "started" in result and "finished" in result:
            self.trial_seconds[0] += result["finished"] - result["started"]
            self.trial_seconds[1] += 1

    def _drain_events(self, wait: bool) -> bool:
        """Handle queued epoch reports and worker totals; True if the worker totals changed."""
        changed = False
        try:
            kind, msg = self.events.get(timeout=0.05) if wait else self.events.get_nowait()
            while True:
                if kind == "epoch":
                    self.on_epoch(msg)
                elif kind == "slots" and msg[0] >= self.totals_at:  # (timestamp, totals)
                    changed = changed or msg[1] != self.totals
                    self.totals, self.totals_at = msg[1], msg[0]
                kind, msg = self.events.get_nowait()
        except queue.Empty:
            pass
        return changed


def flush_due(dirty: bool, since: float) -> bool:
    """Whether the loop flushes now: new results at most every 0.2 s, anything every 1 s."""
    return (dirty and since >= FLUSH_MIN_SECONDS) or since >= FLUSH_SECONDS


def build_optimizer(exp: Experiment) -> Optimizer:
    """The experiment's optimiser; budget (DYCORS) and trials per point (GP noise) go to those using them."""
    options = dict(exp.optimizer)
    name = options.pop("name")
    accepted = OPTIMIZERS.get(name, Optimizer).defaults
    for key, value in (("budget", exp.budget), ("trials", exp.trials)):
        if key in accepted:
            options.setdefault(key, value)
    return make_optimizer(name, exp.space, seed=exp.seed, **options)


def check_data(exp: Experiment) -> str | None:
    """Call the trial module's optional ``check_data(model, data)``; its ValueError names the file.
    Returns its optional ``describe_data(model, data)`` line (the data split), else None."""
    try:
        module = importlib.import_module(exp.trial.partition(":")[0])
    except ImportError:  # reported where the trial runs, as before
        return None
    check = getattr(module, "check_data", None)
    describe = getattr(module, "describe_data", None)  # issue 16: the split, printed by `ganhpo run`
    try:
        if callable(check):
            check(exp.model, exp.data)
        return describe(exp.model, exp.data) if callable(describe) else None  # issue 16
    except ValueError as err:
        raise ExperimentError(f"field 'data': {err}") from None


def validate(exp: Experiment, path: str) -> str | None:
    """Fail on a bad optimiser, data file or incompatible store before any cluster starts;
    returns the data split's description (``check_data``)."""
    build_optimizer(exp)
    described = check_data(exp)  # issue 16
    if Path(path).exists():
        exp.check_resumable(check_store(path)["experiment"], path)
    return described  # issue 16


def _open_store(exp: Experiment, path: str) -> ResultsStore:
    if Path(path).exists():
        store = ResultsStore.open(path)
        exp.check_resumable(store.experiment, path)
        store.set_experiment(exp.to_dict())
        return store
    return ResultsStore.create(path, exp.to_dict(), exp.space.names, exp.trials, exp.epochs)


def best_of(store_path: str, exp: Experiment, started: float, tells: list[int]) -> Result:
    """Summarise a store: the best architecture by mean over its successful trials, preferring
    those with at least ``min_ok`` of them; failure counts and the most common errors."""
    snap = read_store(store_path)
    mean, std = snap.arch_mean_std()
    ranked = snap.ranked(effective_min_ok(exp.to_dict()))
    n_failed = int(np.sum(snap.status == FAILED))
    extra = {"n_ok_architectures": len(ranked), "common_errors": common_errors(snap.errors)}
    if not len(ranked):
        return Result(store_path, None, math.nan, math.nan, (), snap.n, n_failed, tuple(tells),
                      time.time() - started, **extra)
    a = int(ranked[0])
    metrics = tuple(float(m) for m in snap.metric[a][snap.status[a] == DONE])
    return Result(store_path, {**exp.fixed, **exp.space.from_row(snap.params[a])}, float(mean[a]),
                  float(std[a]), metrics, snap.n, n_failed, tuple(tells), time.time() - started,
                  **extra)


def run(experiment: Experiment, client: Client | None = None, *, store: str | None = None,
        workers: int | None = None,
        progress: Callable[[int, int, float | None], None] | None = None) -> Result:
    """Run (or resume) a search; without a client, on an embedded local Dask cluster."""
    if experiment.stages:  # broad, then focus, into one store
        from orchestrator.stages import run_stages

        return run_stages(experiment, client, store=store, workers=workers, progress=progress)
    started = time.time()
    path = store or experiment.store or f"runs/{experiment.name}.zarr"
    optimizer = build_optimizer(experiment)  # bad optimiser settings fail before any store exists
    results = _open_store(experiment, path)
    own = client is None
    if own:
        from orchestrator.cluster import make_cluster

        client = Client(make_cluster("local", workers=workers))
    try:
        search = Search(experiment, client, results, optimizer, progress)
        search.loop()
    finally:
        if own:
            cluster = client.cluster
            client.close()
            cluster.close()
    return best_of(path, experiment, started, search.tells)
