"""Trial slots: how many trials the cluster can run at once, and how many to keep in flight.

``SlotWatcher`` is a scheduler plugin that keeps running totals of worker threads and resources
as workers join and leave (O(1) per event) and publishes them as an event on a topic the search
subscribes to; ``SlotTracker`` is the search's side of it (or, when the plugin cannot be
registered, polls). ``trial_slots`` turns those totals into slots for the trials' resource
request; ``queue_margin`` and ``architectures_to_ask`` are the pure in-flight policy that both
the search and the simulated-clock benchmark use.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Mapping

from distributed import Client
from distributed.diagnostics.plugin import SchedulerPlugin

__all__ = ["ASK_PIECE", "SlotTracker", "SlotWatcher", "adapt_maximum", "architectures_to_ask", "queue_margin",
           "trial_slots"]

log = logging.getLogger("ganhpo")
SLOT_POLL_SECONDS = 5.0  # only when the scheduler plugin cannot be registered
# At most this many architectures per ask: a large fill goes out in pieces, each submitted as
# soon as it is proposed, and no single ask's cost grows with the number of slots.
ASK_PIECE = 256


class SlotWatcher(SchedulerPlugin):
    """Publishes ``{"workers", "threads", "resources"}`` totals on ``topic`` at every join/leave."""

    def __init__(self, topic: str):
        self.topic = topic
        self.name = f"ganhpo-slots-{topic}"
        self.known: dict[str, tuple[int, dict]] = {}
        self.threads = 0
        self.resources: dict[str, float] = {}

    async def start(self, scheduler) -> None:
        self.scheduler = scheduler
        for address in list(scheduler.workers):
            self._add(address)
        self._publish()

    def _add(self, address: str) -> None:
        ws = self.scheduler.workers.get(address)
        if ws is None or address in self.known:
            return
        entry = (int(ws.nthreads), dict(ws.resources or {}))
        self.known[address] = entry
        self._count(entry, +1)

    def _count(self, entry: tuple[int, dict], sign: int) -> None:
        self.threads += sign * entry[0]
        for key, value in entry[1].items():
            self.resources[key] = self.resources.get(key, 0) + sign * value

    def _publish(self) -> None:
        self.scheduler.log_event(self.topic, {"workers": len(self.known), "threads": self.threads,
                                              "resources": dict(self.resources)})

    def add_worker(self, scheduler, worker: str) -> None:
        self._add(worker)
        self._publish()

    def remove_worker(self, scheduler, worker: str, **kwargs) -> None:
        entry = self.known.pop(worker, None)
        if entry is not None:
            self._count(entry, -1)
        self._publish()


def trial_slots(totals: Mapping, resources: Mapping | None) -> int:
    """Trials that fit at once: per requested resource total // request, else worker threads."""
    if not resources:
        return int(totals.get("threads", 0))
    have = totals.get("resources", {})
    return int(min(math.floor(have.get(k, 0) / v + 1e-9) for k, v in resources.items() if v > 0))


def queue_margin(trials: int, slots: int, mean_trial_s: float | None, ask_s: float | None) -> int:
    """Trials to keep queued beyond the slots: one architecture, or what finishes during an ask.

    A finishing trial is then replaced by a queued one on the scheduler, without waiting for
    the driver; the queue must last while the next ask runs (twice its measured time).
    """
    if not mean_trial_s or ask_s is None or slots <= 0:
        return trials
    return max(trials, math.ceil(2 * slots * ask_s / mean_trial_s))


def architectures_to_ask(*, slots: int, trials: int, open_trials: int, open_architectures: int,
                         remaining: int, margin: int, max_pending: int | None = None,
                         adapt_slots: int = 0, piece: int = ASK_PIECE) -> int:
    """New architectures to ask for so that trials in flight reach slots + margin (never below 0),
    at most ``piece`` at once (the next piece is asked when this one is submitted).

    ``adapt_slots`` is what an adaptive cluster could grow to: trials are queued for it, since
    the autoscaler only grows to the work it sees. ``max_pending`` (architectures) overrides.
    """
    if max_pending:
        want = max_pending - open_architectures
    else:
        target = max(slots, adapt_slots) + margin
        want = math.ceil((target - open_trials) / trials)
    return max(0, min(want, remaining, piece))


def adapt_maximum(cluster, slots_per_worker: float) -> int:
    """Slots an adaptive cluster may grow to (0 when it does not adapt or has no finite maximum)."""
    adaptive = getattr(cluster, "_adaptive", None)
    maximum = getattr(adaptive, "maximum", None)
    if adaptive is None or maximum is None or not math.isfinite(maximum):
        return 0
    return int(maximum * max(slots_per_worker, 1))


class SlotTracker:
    """The search's view of the workers: their totals, the trials' resource request and the slots.

    Totals arrive as ``(timestamp, totals)`` events from a ``SlotWatcher`` registered on the
    scheduler, handed back by the search's event loop to ``update``; without the plugin they
    are polled from ``scheduler_info`` every ``SLOT_POLL_SECONDS``.
    """

    def __init__(self, client: Client, tag: str, requested: dict | None,
                 on_event: Callable[[tuple], None]):
        self.client, self.requested, self.on_event = client, requested, on_event
        self.topic = f"ganhpo-slots-{tag}"
        self.totals: dict | None = None
        self.totals_at = -math.inf  # the scheduler's timestamp of those totals
        self.watcher: str | None = None
        self.polled = 0.0
        self.resources = requested or None  # what each trial asks the scheduler for

    def watch(self, wait: Callable[[], object]) -> None:
        """Follow worker totals through a scheduler plugin (or, failing that, by polling).

        ``wait`` handles queued events for a moment; it is called until the first totals came.
        """
        self.client.subscribe_topic(self.topic, self.on_event)
        name = self.topic
        try:
            self.client.register_plugin(SlotWatcher(self.topic), name=name)
            self.watcher = name
            # the first totals may be published before the subscription reached the scheduler
            for event in self.client.get_events(self.topic)[-1:]:
                self.on_event(event)
        except Exception as err:  # noqa: BLE001 - e.g. a scheduler that cannot import ganhpo
            log.warning("slot watcher not registered on the scheduler (%s: %s); polling worker "
                        "totals every %.0f s instead", type(err).__name__, err, SLOT_POLL_SECONDS)
            self.poll()
        deadline = time.monotonic() + 5
        while self.totals is None and time.monotonic() < deadline:
            wait()
        if self.totals is None:
            self.poll()
        self.resources = self._request()

    def _request(self) -> dict | None:
        """The trials' resource request: the experiment's, else GPU=1 if any worker has a GPU."""
        if self.requested is not None:
            return self.requested or None
        return {"GPU": 1} if (self.totals or {}).get("resources", {}).get("GPU") else None

    def update(self, event: tuple) -> bool:
        """Take ``(timestamp, totals)`` unless older than what is known; True if totals changed."""
        if event[0] < self.totals_at:
            return False
        changed = event[1] != self.totals
        self.totals, self.totals_at = event[1], event[0]
        return changed

    def poll(self) -> None:
        """Worker totals from one full scheduler_info (the fallback when no plugin runs)."""
        workers = self.client.scheduler_info(n_workers=-1).get("workers", {}).values()
        resources: dict[str, float] = {}
        for w in workers:
            for key, value in w.get("resources", {}).items():
                resources[key] = resources.get(key, 0) + value
        self.totals = {"workers": len(workers), "threads": sum(w.get("nthreads", 1) for w in workers),
                       "resources": resources}
        self.polled = time.monotonic()

    def poll_due(self) -> bool:
        """True when no plugin runs and the last poll is older than ``SLOT_POLL_SECONDS``."""
        return self.watcher is None and time.monotonic() - self.polled > SLOT_POLL_SECONDS

    def unwatch(self) -> None:
        """Stop following: unsubscribe and remove the plugin (errors ignored)."""
        self.client.unsubscribe_topic(self.topic)
        if self.watcher is not None:
            with contextlib.suppress(Exception):
                self.client.unregister_scheduler_plugin(self.watcher)

    @property
    def available(self) -> int:
        """Trials the workers present can run at once (GPUs requested, or threads)."""
        return trial_slots(self.totals or {}, self.resources)

    def wanted(self, *, trials: int, open_trials: int, open_architectures: int, remaining: int,
               max_pending: int | None, mean_trial_s: float | None, ask_s: float | None) -> int:
        """Architectures to ask for now (see ``architectures_to_ask``)."""
        slots, workers = self.available, (self.totals or {}).get("workers", 0)
        adapt = adapt_maximum(self.client.cluster, slots / workers if workers else 1)
        margin = queue_margin(trials, max(slots, adapt), mean_trial_s, ask_s)
        return architectures_to_ask(
            slots=slots, trials=trials, open_trials=open_trials,
            open_architectures=open_architectures, remaining=remaining, margin=margin,
            max_pending=max_pending, adapt_slots=adapt)
