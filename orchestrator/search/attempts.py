"""Attempts, timeouts and worker deaths: the driver's side of ``trial_timeout`` and ``retries``.

Every run of a trial starts with a start report (``execute_trial``, epoch -1). The driver
counts them in the store's ``attempts`` array; a new attempt (the worker of the last one died
and the scheduler reran the trial) clears the stale epochs of the dead one, and epoch reports
of a superseded attempt are dropped.

Retries: the scheduler reruns a task whose worker died until ``allowed_failures`` workers have
died with it; the driver sets that scheduler's ``allowed_failures`` to the experiment's
``retries`` (scheduler-wide: every client of a shared scheduler gets it), and turns the final
``KilledWorker`` into "the worker died N times while running this trial (exit code 3)", the
cause read from the log of the last dead worker's nanny (``KilledWorker.last_worker`` names the
process and its nanny: a trial that dies at once never sends its start report).

Timeouts: a trial's thread cannot be killed inside a worker. At ``trial_timeout`` seconds after
its start report arrived, the driver records the trial failed ("timed out after N s") and
cancels its future; the trial's next report() raises ``TrialStopped`` (its own deadline); and a
worker with a nanny is restarted at once so that a trial that never reports frees its slot (a
worker without a nanny, e.g. a threaded LocalCluster, stays busy until the trial returns; other
trials on a restarted worker are rerun by the scheduler).
"""

from __future__ import annotations

import logging
import math
import re
import signal
import threading
import time
from dataclasses import dataclass

from distributed import Client, Future

from orchestrator.search.trial import timed_out
from orchestrator.store import DONE, ResultsStore

__all__ = ["TrialWatch", "death_cause", "describe_death"]

log = logging.getLogger("ganhpo")
TIMES = {1: "once", 2: "twice"}
SIGNALS = {9: "out of memory?", 6: "abort", 11: "segmentation fault", 15: "terminated"}
DEATH = re.compile(r"Worker process (\d+) (was killed by signal|exited with status) (-?\d+)")


@dataclass
class Attempt:
    """The running attempt of one trial, from its start report."""

    started: float  # worker clock: identifies the attempt in its epoch reports
    worker: str
    pid: int | None
    deadline: float  # driver's monotonic clock; inf without a timeout


def _set_allowed_failures(n: int, dask_scheduler=None) -> None:
    dask_scheduler.allowed_failures = int(n)


async def _restart_worker(worker: str, dask_scheduler=None) -> str:
    """On the scheduler: remove ``worker`` as expected (its other tasks are rerun without
    counting a death against them), then have its nanny kill the process and start a new one."""
    from distributed.core import rpc

    ws = dask_scheduler.workers.get(worker)
    if ws is None:
        return "it is gone"
    if not ws.nanny:
        return "it has no nanny to restart it"
    nanny = ws.nanny
    await dask_scheduler.remove_worker(worker, expected=True, close=False,
                                       stimulus_id=f"ganhpo-trial-timeout-{time.time()}")
    async with rpc(nanny, connection_args=dask_scheduler.connection_args) as comm:
        await comm.kill(reason="ganhpo-trial-timeout")
    return "restarted"


class TrialWatch:
    """Counts attempts, stops trials past their deadline and explains worker deaths."""

    def __init__(self, client: Client, store: ResultsStore, timeout: float | None, retries: int):
        self.client, self.store, self.timeout, self.retries = client, store, timeout, int(retries)
        self.running: dict[tuple[int, int], Attempt] = {}
        self.stopped: dict[tuple[int, int], str] = {}  # trial -> why the driver stopped it

    def configure(self) -> None:
        """Let the scheduler rerun a trial whose worker died at most ``retries`` times."""
        try:
            self.client.run_on_scheduler(_set_allowed_failures, self.retries)
        except Exception as err:  # noqa: BLE001 - a foreign scheduler keeps its own setting
            log.warning("could not set the scheduler's allowed-failures to retries=%d (%s); it "
                        "keeps distributed.scheduler.allowed-failures", self.retries, err)

    def started(self, store: ResultsStore, a: int, t: int, msg: dict) -> None:
        """A start report: one more attempt, its epochs start empty, it runs where it says (a
        late report of a finished trial only counts)."""
        store.set("attempts", (a, t), int(store.array("attempts")[a, t]) + 1)
        if store.array("status")[a, t] >= DONE:
            return
        store.set("epoch_metric", (a, t), math.nan)
        store.set("started", (a, t), msg["started"])
        store.set("worker", (a, t), store.worker_id(msg["worker"]))
        deadline = time.monotonic() + self.timeout if self.timeout else math.inf
        self.running[a, t] = Attempt(msg["started"], msg["worker"], msg.get("pid"), deadline)

    def stale(self, a: int, t: int, msg: dict) -> bool:
        """An epoch report of an attempt that is no longer the running one."""
        now = self.running.get((a, t))
        return now is not None and msg.get("started") != now.started

    def expire(self, keys: dict[str, tuple[int, int]]) -> None:
        """Cancel every open trial (``keys``: future key -> trial) past its deadline."""
        if self.timeout is None:
            return
        now = time.monotonic()
        for key, trial in list(keys.items()):
            attempt = self.running.get(trial)
            if attempt is None or attempt.deadline > now or trial in self.stopped:
                continue
            self.stopped[trial] = timed_out(self.timeout)
            self.client.cancel([Future(key, self.client)])
            threading.Thread(target=self._free, args=(attempt.worker,), daemon=True).start()

    def _free(self, worker: str) -> None:
        """Restart a worker with a nanny, so a trial that never returns frees its slot."""
        try:
            done = self.client.run_on_scheduler(_restart_worker, worker)
        except Exception as err:  # noqa: BLE001 - the worker may be gone already
            done = f"could not restart it ({err})"
        if done != "restarted":
            log.warning("a timed-out trial keeps worker %s busy until it returns: %s", worker, done)

    def failure(self, a: int, t: int, exc: object) -> dict:
        """The stored outcome of a trial whose future did not finish (stopped, died, lost)."""
        attempt = self.running.pop((a, t), None)
        if (a, t) in self.stopped:
            error = self.stopped.pop((a, t))
        elif type(exc).__name__ == "KilledWorker":
            deaths = int(getattr(exc, "allowed_failures", self.retries)) + 1
            last = getattr(exc, "last_worker", None)  # the scheduler's record of the last one
            pid = getattr(last, "pid", None) or (attempt.pid if attempt else None)
            cause = death_cause(self.client, pid, getattr(last, "nanny", None))
            # a worker that dies at once may never send its start report: count the deaths
            self.store.set("attempts", (a, t), max(deaths, int(self.store.array("attempts")[a, t])))
            error = (f"KilledWorker: the worker died {TIMES.get(deaths, f'{deaths} times')} while "
                     f"running this trial ({cause}); retried {deaths - 1} "
                     f"time{'s' * (deaths != 2)} (retries: {deaths - 1}); fix the trial or, if "
                     "the machine was at fault, raise retries:")
        else:
            error = f"{type(exc).__name__}: {exc}"
        return {"status": "failed", "error": error, "finished": time.time()}


async def _nanny_logs(nanny: str, dask_scheduler=None) -> list:
    """On the scheduler: the log of the nanny at ``nanny`` (its worker may be gone)."""
    from distributed.core import rpc

    async with rpc(nanny, connection_args=dask_scheduler.connection_args) as comm:
        return await comm.get_logs()


def _logs(client: Client, nanny: str | None) -> list:
    """Log lines of the dead worker's nanny, else of every live worker's nanny."""
    if nanny:
        try:
            return [client.run_on_scheduler(_nanny_logs, nanny)]
        except Exception:  # noqa: BLE001 - e.g. a scheduler without ganhpo: ask them all
            pass
    try:
        return list(client.get_worker_logs(nanny=True).values())
    except Exception:  # noqa: BLE001 - the cause is a hint, never a failure
        return []


def describe_death(kind: str, code: int) -> str:
    """A nanny's death line in words: "killed by signal 9 (SIGKILL: out of memory?)"."""
    if not kind.startswith("was killed"):
        return f"exit code {code}"
    try:
        name = signal.Signals(code).name
    except ValueError:
        name = "unknown signal"
    hint = SIGNALS.get(code)
    return f"killed by signal {code}, {name}{': ' + hint if hint else ''}"


def death_cause(client: Client, pid: int | None, nanny: str | None = None,
                wait: float = 2.0) -> str:
    """How worker process ``pid`` ended, from its nanny's log: "exit code 3", "killed by signal
    9 (SIGKILL: out of memory?)". The nanny logs it as it notices the exit, which can come just
    after the scheduler's KilledWorker: looked for up to ``wait`` s."""
    generic = "killed or exited: out of memory, a segfault or os._exit in the trial?"
    if pid is None:
        return generic
    end = time.monotonic() + wait
    while True:
        for lines in _logs(client, nanny):
            for entry in lines if isinstance(lines, (list, tuple)) else ():
                match = DEATH.search(str(entry[-1] if isinstance(entry, (list, tuple)) else entry))
                if match and int(match.group(1)) == pid:
                    return describe_death(match.group(2), int(match.group(3)))
        if time.monotonic() > end:
            return generic
        time.sleep(0.2)
