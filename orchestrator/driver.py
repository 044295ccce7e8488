"""The asynchronous nested-parallel search on Dask: architectures x trials, never waiting for a batch.

The driver runs in the client process. Every trial is its own future; finished trials are
stored at once, an architecture is told to the optimiser as soon as its last trial finishes,
and a replacement is asked for immediately. Per-epoch metrics stream from the workers through
``Worker.log_event`` / ``Client.subscribe_topic``.
"""

from __future__ import annotations

import importlib
import logging
import math
import queue
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from distributed import Client, Event, as_completed, get_worker

from orchestrator.experiment import Experiment, ExperimentError
from orchestrator.optimizers import OPTIMIZERS, Optimizer, SpaceExhausted, make_optimizer
from orchestrator.store import DONE, FAILED, PENDING, RUNNING, ResultsStore, check_store, read_store

__all__ = ["Result", "execute_trial", "run", "trial_seed"]

log = logging.getLogger("ganhpo")
FLUSH_SECONDS = 1.0


@dataclass(frozen=True)
class Result:
    """What a search found: the best architecture by mean metric, with its spread over trials."""

    store: str
    best_params: dict | None
    best_mean: float
    best_std: float
    best_metrics: tuple[float, ...]
    n_architectures: int
    n_failed_trials: int
    tell_order: tuple[int, ...]
    seconds: float
    first_error: str = ""  # the first line of one failed trial's error, when none succeeded

    def summary(self) -> str:
        """A few human-readable lines for the end of a run."""
        if self.best_params is None:
            why = f"; first error: {self.first_error}" if self.first_error else ""
            return f"no architecture finished successfully{why}; see {self.store}"
        trials = ", ".join(f"{m:.4g}" for m in self.best_metrics)
        return (f"best architecture: {self.best_params}\n"
                f"  metric {self.best_mean:.5g} +- {self.best_std:.2g} over {len(self.best_metrics)} "
                f"trials [{trials}]\n"
                f"  {self.n_architectures} architectures, {self.n_failed_trials} failed trials, "
                f"{self.seconds:.1f} s; results in {self.store}")


def trial_seed(seed: int, arch: int, trial: int) -> int:
    """A deterministic, well-mixed seed for trial ``trial`` of architecture ``arch``."""
    return int(np.random.SeedSequence([int(seed) % 2**32, arch, trial]).generate_state(1)[0])


def _import(path: str) -> Callable:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


class TrialStopped(Exception):
    """Raised inside a trial's report() when the driver asked running trials to stop."""


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
    metric = out.get("metric")
    if out.get("status", "done") != "failed":
        if metric is None or not math.isfinite(float(metric)):
            out.update(status="failed", error=f"trial returned metric={metric!r} (not a finite number)")
        else:
            out["status"] = "done"
    return {**out, "started": started, "finished": time.time(), "worker": name, "curve": curve}


class Search:
    """One run of the loop over one store; see ``run``."""

    def __init__(self, experiment: Experiment, client: Client, store: ResultsStore,
                 optimizer: Optimizer,
                 progress: Callable[[int, int, float | None], None] | None = None):
        self.exp, self.client, self.store, self.progress = experiment, client, store, progress
        self.opt = optimizer
        self.tag = uuid.uuid4().hex[:8]
        self.topic = f"ganhpo-{self.tag}"
        self.stop_name = f"ganhpo-stop-{self.tag}"
        self.events: queue.SimpleQueue = queue.SimpleQueue()
        self.completed = as_completed(with_results=True, raise_errors=False)
        self.keys: dict[str, tuple[int, int]] = {}
        self.open: dict[int, set[int]] = {}
        self.tells: list[int] = []
        self.told_means: list[float] = []
        self.exhausted = False
        self.resources = self._resources()
        self.kwargs = {"model": experiment.model, "data": experiment.data, "epochs": experiment.epochs}

    def _resources(self) -> dict | None:
        if self.exp.resources is not None:
            return self.exp.resources or None
        workers = self.client.scheduler_info(n_workers=-1).get("workers", {}).values()
        return {"GPU": 1} if any("GPU" in w.get("resources", {}) for w in workers) else None

    @property
    def max_pending(self) -> int:
        if self.exp.max_pending:
            return self.exp.max_pending
        n = len(self.client.scheduler_info(n_workers=-1).get("workers", {})) or 1
        return max(2, math.ceil(n / self.exp.trials) + 1)

    def point(self, a: int) -> dict:
        return self.exp.space.from_row(self.store.array("params")[a])

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
        """Ask for enough architectures to keep max_pending in flight, within the budget."""
        want = min(self.max_pending - len(self.open), self.exp.budget - self.store.n)
        if want <= 0 or self.exhausted:
            return
        try:
            points = self.opt.ask(want)
        except SpaceExhausted as err:
            log.warning("%s; finishing with what is running", err)
            self.exhausted = True
            return
        for point in points:
            a = self.store.add_architecture(self.exp.space.to_row(point), self.exp.stage)
            for t in range(self.exp.trials):
                self.submit(a, t)

    def on_result(self, future, result) -> None:
        """Store a finished trial at once; tell the optimiser when its architecture is complete."""
        a, t = self.keys.pop(future.key)
        if future.status != "finished":
            exc = result[1] if isinstance(result, tuple) and len(result) == 3 else result
            result = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
        ok = result.get("status") == "done"
        for name in ("started", "finished"):
            if name in result:
                self.store.set(name, (a, t), result[name])
        self.store.set("worker", (a, t), self.store.worker_id(result.get("worker")))
        self.store.set("metric", (a, t), float(result["metric"]) if ok else np.nan)
        self.store.set("best_epoch", (a, t), int(result.get("best_epoch", -1)))
        for epoch, value in result.get("curve", {}).items():  # authoritative; the stream may lag
            if 0 <= epoch < self.store.epochs:
                self.store.set("epoch_metric", (a, t, epoch), value)
        if result.get("n_params") is not None:
            self.store.set("n_params", a, int(result["n_params"]))
        if not ok:
            self.store.set_error(a, t, str(result.get("error", "failed")))
        self.store.set("status", (a, t), DONE if ok else FAILED)
        future.release()
        self.open[a].discard(t)
        if not self.open[a]:
            del self.open[a]
            self._tell(a)

    def _tell(self, a: int) -> None:
        status, metric = self.store.array("status")[a], self.store.array("metric")[a]
        good = metric[status == DONE]
        if len(good):
            mean, std = float(good.mean()), float(good.std())
            self.told_means.append(mean)
        else:
            mean = self.exp.penalty if self.exp.penalty is not None else (
                max(self.told_means) if self.told_means else 1.0)
            std = 0.0
        self.opt.tell([self.point(a)], [mean], [std])
        self.tells.append(a)
        if self.progress:
            self.progress(len(self.tells), self.exp.budget, min(self.told_means, default=None))

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
        """React to each finished trial and each epoch report until the budget is spent."""
        self.client.subscribe_topic(self.topic, lambda event: self.events.put(event[1]))
        try:
            self.resume()
            self.propose()
            self.store.flush()
            last_flush = time.monotonic()
            while self.open:
                batch = self.completed.next_batch(block=False)
                for future, result in batch:
                    self.on_result(future, result)
                if batch:  # replacements go out first, then the results are made durable
                    self.propose()
                self._drain_events(wait=not batch)
                if batch or time.monotonic() - last_flush > FLUSH_SECONDS:
                    self.store.flush()
                    last_flush = time.monotonic()
        except BaseException:
            Event(self.stop_name, client=self.client).set()
            raise
        finally:
            self._drain_events(wait=False)
            self.store.flush()
            self.client.unsubscribe_topic(self.topic)

    def _drain_events(self, wait: bool) -> None:
        try:
            msg = self.events.get(timeout=0.05) if wait else self.events.get_nowait()
            while True:
                self.on_epoch(msg)
                msg = self.events.get_nowait()
        except queue.Empty:
            pass


def build_optimizer(exp: Experiment) -> Optimizer:
    """The experiment's optimiser; the search budget is passed to those that use it (DYCORS)."""
    options = dict(exp.optimizer)
    name = options.pop("name")
    if "budget" in OPTIMIZERS.get(name, Optimizer).defaults:
        options.setdefault("budget", exp.budget)
    return make_optimizer(name, exp.space, seed=exp.seed, **options)


def check_data(exp: Experiment) -> None:
    """Call the trial module's optional ``check_data(model, data)``; its ValueError names the file."""
    try:
        module = importlib.import_module(exp.trial.partition(":")[0])
    except ImportError:  # reported where the trial runs, as before
        return
    check = getattr(module, "check_data", None)
    if callable(check):
        try:
            check(exp.model, exp.data)
        except ValueError as err:
            raise ExperimentError(f"field 'data': {err}") from None


def validate(exp: Experiment, path: str) -> None:
    """Fail on a bad optimiser, data file or incompatible store before any cluster starts."""
    build_optimizer(exp)
    check_data(exp)
    if Path(path).exists():
        exp.check_resumable(check_store(path)["experiment"], path)


def _open_store(exp: Experiment, path: str) -> ResultsStore:
    if Path(path).exists():
        store = ResultsStore.open(path)
        exp.check_resumable(store.experiment, path)
        store.set_experiment(exp.to_dict())
        return store
    return ResultsStore.create(path, exp.to_dict(), exp.space.names, exp.trials, exp.epochs)


def best_of(store_path: str, exp: Experiment, started: float, tells: list[int]) -> Result:
    """Summarise a store: best architecture by mean over its successful trials."""
    snap = read_store(store_path)
    mean, std = snap.arch_mean_std()
    done = snap.arch_done() & np.isfinite(mean)
    n_failed = int(np.sum(snap.status == FAILED))
    if not done.any():
        first = next((e.strip().splitlines()[0] for e in snap.errors.values() if e.strip()), "")
        return Result(store_path, None, math.nan, math.nan, (), snap.n, n_failed, tuple(tells),
                      time.time() - started, first)
    a = int(np.flatnonzero(done)[np.argmin(mean[done])])
    metrics = tuple(float(m) for m in snap.metric[a][snap.status[a] == DONE])
    return Result(store_path, {**exp.fixed, **exp.space.from_row(snap.params[a])}, float(mean[a]),
                  float(std[a]), metrics, snap.n, n_failed, tuple(tells), time.time() - started)


def run(experiment: Experiment, client: Client | None = None, *, store: str | None = None,
        workers: int | None = None,
        progress: Callable[[int, int, float | None], None] | None = None) -> Result:
    """Run (or resume) a search; without a client, on an embedded local Dask cluster."""
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
