"""The asynchronous nested-parallel search on Dask: architectures x trials, never waiting for a batch.

``Search`` runs in the client process. Every trial is its own future; finished trials are
stored at once, an architecture is told to the optimiser as soon as its last trial finishes,
and a replacement is asked for immediately. Per-epoch metrics stream from the workers through
``Worker.log_event`` / ``Client.subscribe_topic``; worker totals come from ``SlotTracker``.
"""

from __future__ import annotations

import logging
import queue
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from functools import cached_property

import numpy as np
from distributed import Client, as_completed

from orchestrator.cluster.preflight import check_environment, release_environment_check
from orchestrator.experiment import STAGES, Experiment, effective_min_ok
from orchestrator.optimizers import Optimizer, SpaceExhausted
from orchestrator.search.asker import OptimizerThread
from orchestrator.search.attempts import TrialWatch
from orchestrator.search.failures import FailFast, TellRules, common_errors
from orchestrator.search.pruning import Pruning
from orchestrator.search.slots import SlotTracker
from orchestrator.search.stop import check_stop
from orchestrator.search.trial import execute_trial, trial_seed
from orchestrator.space import SearchSpace
from orchestrator.store import DONE, FAILED, PENDING, PRUNED, RUNNING, ResultsStore

__all__ = ["Search", "SearchFailed", "flush_due", "store_result"]

log = logging.getLogger("ganhpo")
FLUSH_SECONDS = 1.0  # the store is flushed at least this often
FLUSH_MIN_SECONDS = 0.2  # and at most this often: flush cost does not grow with completion rate
FLUSH_SPACING = 4.0  # and at least this many times the last flush's duration apart


class SearchFailed(RuntimeError):
    """The search stopped early because its first architectures all failed; the message says why."""


class Search:
    """One run of the loop over one store; see ``orchestrator.search.run``."""

    def __init__(self, experiment: Experiment, client: Client, store: ResultsStore,
                 optimizer: Optimizer,
                 progress: Callable[[int, int, float | None], None] | None = None,
                 row_space: SearchSpace | None = None):
        self.exp, self.client, self.store, self.progress = experiment, client, store, progress
        self.opt = OptimizerThread(optimizer)  # every optimiser call runs in its own thread
        # Stages (orchestrator.search.stages): rows are encoded in the store's own space, and
        # this search owns only the architectures of its stage (budget, resume).
        self.row_space = row_space or experiment.space
        self.stage = STAGES.index(experiment.stage)
        self.tag = uuid.uuid4().hex[:8]
        self.topic = f"ganhpo-{self.tag}"
        self.pruning = Pruning(experiment, client, store, self.tag, self.stage)
        self.events: queue.SimpleQueue = queue.SimpleQueue()
        self.slots = SlotTracker(client, self.tag, experiment.resources,
                                 lambda event: self.events.put(("slots", event)))
        self.completed = as_completed(with_results=True, raise_errors=False)
        self.keys: dict[str, tuple[int, int]] = {}
        self.open: dict[int, set[int]] = {}
        self.tells: list[int] = []
        self.told_means: list[float] = []
        self.exhausted = False
        self.asking: Future | None = None
        self.trial_seconds = [0.0, 0]  # sum and count of finished trials' durations
        self.kwargs = {"model": experiment.model, "data": experiment.data, "epochs": experiment.epochs}
        if experiment.deterministic:  # only then: trial functions without the keyword keep working
            self.kwargs["deterministic"] = True

    def watch_slots(self) -> None:
        """Start following worker totals; waits (at most 5 s) for the first."""
        self.slots.watch(lambda: self._drain_events(wait=True))

    def wanted(self) -> int:
        """Architectures to ask for now (see ``orchestrator.search.slots.architectures_to_ask``)."""
        total, count = self.trial_seconds
        return self.slots.wanted(
            trials=self.exp.trials, open_trials=len(self.keys), open_architectures=len(self.open),
            remaining=self.exp.budget - self.stage_rows(), max_pending=self.exp.max_pending,
            mean_trial_s=total / count if count else None, ask_s=self.opt.ask_seconds)

    def stage_rows(self) -> int:
        """Architectures of this search's stage in the store (the stage's budget counts these)."""
        return int(np.sum(self.store.array("stage") == self.stage))

    def point(self, a: int) -> dict:
        """The hyperparameters of architecture a."""
        return self.row_space.from_row(self.store.array("params")[a])

    def submit(self, a: int, t: int) -> None:
        """Submit trial t of architecture a as its own future."""
        params = {**self.exp.fixed, **self.point(a)}
        future = self.client.submit(
            execute_trial, self.exp.trial, params, self.kwargs, trial_seed(self.exp.seed, a, t),
            self.topic, a, t, self.tag, self.exp.trial_timeout, key=f"trial-{self.tag}-{a}-{t}",
            pure=False,
            resources=self.slots.resources)
        self.keys[future.key] = (a, t)
        self.open.setdefault(a, set()).add(t)
        self.completed.add(future)

    def resume(self) -> None:
        """Tell the optimiser every finished architecture; resubmit every unfinished trial."""
        self.pruning.restore()
        status = self.store.array("status")
        for a in range(self.store.n):
            if self.store.array("stage")[a] != self.stage:
                continue
            if np.all(status[a] >= DONE) or self.pruning.resumed(a):
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
            a = self.store.add_architecture(self.row_space.to_row(point), self.exp.stage)
            for t in range(self.exp.trials):
                self.submit(a, t)
        return True

    def on_result(self, future, result) -> None:
        """Store a finished trial at once; tell the optimiser when its architecture is complete."""
        a, t = self.keys.pop(future.key)
        if future.status != "finished":  # stopped (timeout), KilledWorker (retries spent), lost
            exc = result[1] if isinstance(result, tuple) and len(result) == 3 else result
            result = self.watch.failure(a, t, exc)
        if store_result(self.store, a, t, result):
            self.fail_fast.succeeded()
        future.release()
        self.open[a].discard(t)
        self.pruning.trial_ended(a, t, result, complete=not self.open[a])
        if not self.open[a]:
            del self.open[a]
            self._tell(a)
            if self.fail_fast.finished(int(np.sum(np.isin(self.store.array("status")[a], (DONE, PRUNED))))):
                self._stop_failed()

    @cached_property
    def rules(self) -> TellRules:
        """What the optimiser is told for partly or wholly failed architectures."""
        return TellRules(effective_min_ok(self.exp.to_dict()), self.exp.penalty)

    @cached_property
    def watch(self) -> TrialWatch:
        """Attempts, trial timeouts and worker deaths (orchestrator.search.attempts)."""
        return TrialWatch(self.client, self.store, self.exp.trial_timeout, self.exp.retries)

    @cached_property
    def fail_fast(self) -> FailFast:
        """When a search whose first architectures all fail stops."""
        return FailFast(self.exp.fail_fast)

    def _tell(self, a: int) -> None:
        """Tell the optimiser architecture a, by the failure rules (orchestrator.search.failures)."""
        status, metric = self.store.array("status")[a], self.store.array("metric")[a]
        good = metric[status == DONE]
        pruned = self.pruning.told(a, self.told_means)  # orchestrator.search.pruning says what
        if len(good) or pruned:
            self.fail_fast.succeeded()
        for b, mean, std in [(a, *pruned)] if pruned else self.rules.judge(a, good):
            if b == a and len(good) and not pruned:  # a penalty is no "best so far"
                self.told_means.append(mean)
            self.opt.tell([self.point(b)], [mean], [std])
            self.tells.append(b)
        if self.progress:
            self.progress(len(self.tells), self.exp.budget, min(self.told_means, default=None))

    def _stop_failed(self) -> None:
        """Fail fast: stop every trial, keep the store consistent, raise SearchFailed."""
        from distributed import Future

        self.pruning.stop_all()
        self.client.cancel([Future(key, self.client) for key in self.keys])
        self.store.flush()
        n = self.fail_fast.failed
        top = common_errors(self.store.errors, 1)
        error = f"; most common error ({top[0][1]} trials): {top[0][0]}" if top else ""
        raise SearchFailed(f"the first {n} architectures failed in every trial and none "
                           f"succeeded, so the search stopped{error}; fix the trial and resume "
                           f"(store {self.store.path}), or set fail_fast: 0 to run on")

    def on_epoch(self, msg: dict) -> None:
        """Store one streamed epoch report; its first marks the trial running."""
        a, t = int(msg["arch"]), int(msg["trial"])
        if a >= self.store.n:
            return
        if msg["epoch"] < 0:  # the start report of an attempt (counted even if it comes late)
            self.watch.started(self.store, a, t, msg)
        if self.store.array("status")[a, t] >= DONE or self.watch.stale(a, t, msg):
            return
        if 0 <= msg["epoch"] < self.store.epochs:
            self.store.set("epoch_metric", (a, t, int(msg["epoch"])), msg["metric"])
            self.pruning.on_epoch(a, t, int(msg["epoch"]), float(msg["metric"]))
        if self.store.array("status")[a, t] == PENDING:
            self.store.set("status", (a, t), RUNNING)
            self.store.set("started", (a, t), msg["started"])
            self.store.set("worker", (a, t), self.store.worker_id(msg["worker"]))

    def loop(self) -> None:
        """React to finished trials, finished asks, epoch reports and worker arrivals until done."""
        check_environment(self.client, self.exp.trial)  # before any trial (issue 18)
        self.watch.configure()
        self.client.subscribe_topic(self.topic, lambda event: self.events.put(("epoch", event[1])))
        try:
            self.watch_slots()
            self.resume()
            self.propose()
            self.store.flush()
            last_flush, dirty, flush_cost = time.monotonic(), False, 0.0
            while self.open or self.asking is not None:
                check_stop()  # a signal stops the search here, between flushes (issue 18)
                self.opt.check()  # an optimiser error surfaces here, in the loop's thread
                self.watch.expire(self.keys)
                batch = self.completed.next_batch(block=False)
                for future, result in batch:
                    self._count_duration(result)
                    self.on_result(future, result)
                submitted = self.collect()  # replacements go out first, then results are stored
                changed = self._drain_events(wait=not (batch or submitted))
                if batch or submitted or changed:
                    self.propose()
                if self.slots.poll_due():
                    self.slots.poll()
                    self.propose()
                dirty = dirty or bool(batch or submitted)
                if flush_due(dirty, time.monotonic() - last_flush, flush_cost):
                    start = time.monotonic()
                    self.store.flush()
                    last_flush, dirty = time.monotonic(), False
                    flush_cost = last_flush - start
            self.opt.close(wait=True)  # the last tells are applied; their errors surface
        except BaseException:
            self.pruning.stop_all()
            self.opt.close(wait=False)
            raise
        finally:
            self._drain_events(wait=False)
            self.store.flush()
            self.client.unsubscribe_topic(self.topic)
            self.slots.unwatch()
            release_environment_check(self.client)

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
                elif kind == "slots":  # (timestamp, totals)
                    changed = self.slots.update(msg) or changed
                kind, msg = self.events.get_nowait()
        except queue.Empty:
            pass
        return changed


def store_result(store: ResultsStore, a: int, t: int, result: dict) -> bool:
    """Write trial t of architecture a's outcome into the store; True if it succeeded."""
    ok = result.get("status") == "done"
    if result.get("status") == "pruned":  # stopped by the pruner: its best reported epoch
        return _store_pruned(store, a, t, result)
    for name in ("started", "finished"):
        if name in result:
            store.set(name, (a, t), result[name])
    if result.get("worker"):
        store.set("worker", (a, t), store.worker_id(result["worker"]))
    store.set("metric", (a, t), float(result["metric"]) if ok else np.nan)
    test = result.get("test_metric")  # the trial's selected epoch on its test split, if any
    store.set("test_metric", (a, t), float(test) if ok and isinstance(test, (int, float)) else np.nan)
    store.set("best_epoch", (a, t), int(result.get("best_epoch", -1)))
    for epoch, value in result.get("curve", {}).items():  # authoritative; the stream may lag
        if 0 <= epoch < store.epochs:
            store.set("epoch_metric", (a, t, epoch), value)
    if result.get("n_params") is not None:
        store.set("n_params", a, int(result["n_params"]))
    if result.get("diverged_at") is not None:
        store.set("diverged_at", (a, t), int(result["diverged_at"]))
    if not ok:
        store.set_error(a, t, str(result.get("error", "failed")))
    store.set("status", (a, t), DONE if ok else FAILED)
    return ok


def _store_pruned(store: ResultsStore, a: int, t: int, result: dict) -> bool:
    """A pruned trial: its reported epochs and the best of them; nothing after, never failed."""
    curve = {e: v for e, v in result.get("curve", {}).items() if 0 <= e < store.epochs}
    finite = {e: v for e, v in curve.items() if np.isfinite(v)}
    best = min(finite, key=finite.get) if finite else -1
    store.set("metric", (a, t), finite[best] if finite else np.nan)
    store.set("best_epoch", (a, t), best)
    for name in ("started", "finished"):
        if name in result:
            store.set(name, (a, t), result[name])
    if result.get("worker"):
        store.set("worker", (a, t), store.worker_id(result["worker"]))
    store.set("epoch_metric", (a, t), np.nan)
    for epoch, value in curve.items():
        store.set("epoch_metric", (a, t, epoch), value)
    store.set("status", (a, t), PRUNED)
    return False


def flush_due(dirty: bool, since: float, cost: float = 0.0) -> bool:
    """Whether the loop flushes now: new results at most every 0.2 s, or every 4x the last
    flush's ``cost`` (at most 1 s: flushing stays under a fifth of the loop), anything every 1 s."""
    spacing = min(max(FLUSH_MIN_SECONDS, FLUSH_SPACING * cost), FLUSH_SECONDS)
    return (dirty and since >= spacing) or since >= FLUSH_SECONDS
