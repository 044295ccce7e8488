"""Trial slots: how many trials the cluster can run at once, and how many to keep in flight.

``SlotWatcher`` is a scheduler plugin that keeps running totals of worker threads and resources
as workers join and leave (O(1) per event) and publishes them as an event on a topic the driver
subscribes to. ``trial_slots`` turns those totals into slots for the trials' resource request;
``queue_margin`` and ``architectures_to_ask`` are the pure in-flight policy that both the driver
and the simulated-clock benchmark use.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from distributed.diagnostics.plugin import SchedulerPlugin

__all__ = ["SlotWatcher", "adapt_maximum", "architectures_to_ask", "queue_margin", "trial_slots"]


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
                         adapt_slots: int = 0) -> int:
    """New architectures to ask for so that trials in flight reach slots + margin (never below 0).

    ``adapt_slots`` is what an adaptive cluster could grow to: trials are queued for it, since
    the autoscaler only grows to the work it sees. ``max_pending`` (architectures) overrides.
    """
    if max_pending:
        want = max_pending - open_architectures
    else:
        target = max(slots, adapt_slots) + margin
        want = math.ceil((target - open_trials) / trials)
    return max(0, min(want, remaining))


def adapt_maximum(cluster, slots_per_worker: float) -> int:
    """Slots an adaptive cluster may grow to (0 when it does not adapt or has no finite maximum)."""
    adaptive = getattr(cluster, "_adaptive", None)
    maximum = getattr(adaptive, "maximum", None)
    if adaptive is None or maximum is None or not math.isfinite(maximum):
        return 0
    return int(maximum * max(slots_per_worker, 1))
