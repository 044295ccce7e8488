"""The driver on a simulated clock: where slot use stops scaling with the number of slots.

    python benchmarks/bench_driver_sim.py [--slots 80,1000,10000] [--mean 20] [--optimizer rbf]
    python benchmarks/bench_driver_sim.py --cost [--history 100,1000,5000]

Discrete-event simulation of ``Search.loop``: the optimiser's ask/tell and the store's
set/add/flush are the real calls, run for real, and their measured wall time advances the
simulated clock (the loop's timeline, or the optimiser thread's, as in the driver). Trial
durations (HYPPO broad shape as in bench_driver.py, 5 trials per architecture) and worker
arrivals (a batch system starting from 0 workers: one worker per slot, arriving uniformly over
``--arrival`` seconds) are simulated. The in-flight policy is the driver's own
(``orchestrator.search.slots``). Assumed, not measured: 5 ms from submission or a free slot to a
trial's start and from its end to the driver, 0.3 ms of ``client.submit`` per trial, the
loop's 50 ms wait when idle, and no GIL contention between the loop and the optimiser thread.

``--cost`` times one completion's driver work (store sets, tell, ask of one, flush) against
the number of architectures already in the store and the optimiser.
"""

from __future__ import annotations

import argparse
import heapq
import os
import platform
import tempfile
import time
from collections import deque

import numpy as np

from orchestrator.experiment import Experiment
from orchestrator.search.loop import flush_due
from orchestrator.search.setup import build_optimizer
from orchestrator.search.slots import ASK_PIECE, architectures_to_ask, queue_margin
from orchestrator.store import DONE, ResultsStore

TRIALS, EPOCHS = 5, 5
LATENCY, SUBMIT, POLL = 0.005, 0.0003, 0.05


def experiment(budget: int, optimizer: str) -> Experiment:
    return Experiment(space={f"x{i}": {"lower": 0, "upper": 50, "scale": 0.02} for i in range(6)},
                      trial="benchmarks.bench_driver:sleep_trial", epochs=EPOCHS, trials=TRIALS,
                      budget=budget, seed=3, optimizer={"name": optimizer})


def trial_outcome(point: dict, mean: float, rng: np.random.Generator) -> tuple[float, float]:
    """Duration and metric of one trial, as benchmarks/bench_driver.py:sleep_trial."""
    x = np.array([point[f"x{i}"] for i in range(6)])
    seconds = mean * 10 ** (x[0] - 0.5) / 1.2357 * rng.uniform(0.9, 1.1)
    return seconds, float(np.sum((x - 0.3) ** 2) + 0.01 * rng.normal())


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def store_result(store: ResultsStore, a: int, t: int, start: float, end: float, metric: float) -> None:
    """The store calls of Search.on_result for a successful trial."""
    store.set("started", (a, t), start)
    store.set("finished", (a, t), end)
    store.set("worker", (a, t), store.worker_id(f"tcp://10.0.0.{t}:1"))
    store.set("metric", (a, t), metric)
    store.set("best_epoch", (a, t), EPOCHS - 1)
    for epoch in range(EPOCHS):
        store.set("epoch_metric", (a, t, epoch), metric)
    store.set("status", (a, t), DONE)


class Sim:
    """Event queue, scheduler (FIFO of trials onto free slots), driver loop and optimiser thread."""

    def __init__(self, slots: int, mean: float, budget: int, optimizer: str, arrival: float,
                 store_path: str, seed: int = 0, piece: int = ASK_PIECE):
        self.piece = piece
        self.exp = experiment(budget, optimizer)
        self.opt = build_optimizer(self.exp)
        self.store = ResultsStore.create(store_path, self.exp.to_dict(), self.exp.space.names,
                                         TRIALS, EPOCHS)
        self.rng = np.random.default_rng(seed)
        self.mean, self.budget, self.n_slots = mean, budget, slots
        self.events: list = []  # (time, seq, kind, data)
        self.seq = 0
        self.arrivals = np.sort(self.rng.uniform(0, arrival, slots))
        for t in self.arrivals:
            self.push(t, "arrive", None)
        self.present = 0  # slots of workers that joined
        self.free: deque = deque()  # (since, joined_at) of idle slots
        self.queue: deque = deque()  # submitted trials waiting for a slot
        self.seen_slots = 0  # what the driver knows (its SlotWatcher events)
        self.finished: list = []  # (noticed_at, a, t, start, end, metric) not yet handled
        self.open_trials: dict[int, int] = {}
        self.points: dict[int, dict] = {}
        self.asking: tuple[float, list] | None = None
        self.opt_free = 0.0
        self.ask_seconds: list[float] = []
        self.durations = [0.0, 0]
        self.starts: list[tuple[float, float]] = []
        self.fill_lags: list[float] = []
        self.loop_busy = self.opt_busy = self.flush_busy = 0.0
        self.flushed, self.dirty, self.flush_cost, self.flushes = -1e9, False, 0.0, 0
        self.timeline: list[tuple[float, int]] = [(0.0, 0)]  # (time, slots present)

    def push(self, t: float, kind: str, data) -> None:
        self.seq += 1
        heapq.heappush(self.events, (t, self.seq, kind, data))

    # ----- scheduler -------------------------------------------------------------------------

    def start(self, now: float, trial: tuple[int, int, float]) -> None:
        a, t, _ = trial
        duration, metric = trial_outcome(self.points[a], self.mean, self.rng)
        self.starts.append((now, now + duration))
        self.push(now + duration, "end", (a, t, now, now + duration, metric))

    def submit(self, now: float, a: int, t: int) -> None:
        if self.free:
            _, joined = self.free.popleft()
            if joined is not None:
                self.fill_lags.append(now + LATENCY - joined)
            self.start(now + LATENCY, (a, t, now))
        else:
            self.queue.append((a, t, now))

    def on_event(self, now: float, kind: str, data) -> None:
        if kind == "arrive":
            self.present += 1
            self.timeline.append((now, self.present))
            self.push(now + LATENCY, "slots", self.present)
            if self.queue:
                self.fill_lags.append(LATENCY)
                self.start(now + LATENCY, self.queue.popleft())
            else:
                self.free.append((now, now))
        elif kind == "end":
            a, t, start, end, metric = data
            self.finished.append((now + LATENCY, a, t, start, end, metric))
            if self.queue:
                self.start(now + LATENCY, self.queue.popleft())
            else:
                self.free.append((now, None))
        elif kind == "slots":
            self.seen_slots = data

    # ----- driver ----------------------------------------------------------------------------

    def propose(self, now: float) -> None:
        if self.asking is not None:
            return
        mean_trial = self.durations[0] / self.durations[1] if self.durations[1] else None
        margin = queue_margin(TRIALS, self.seen_slots, mean_trial,
                              self.ask_seconds[-1] if self.ask_seconds else None)
        n = architectures_to_ask(slots=self.seen_slots, trials=TRIALS,
                                 open_trials=sum(self.open_trials.values()),
                                 open_architectures=len(self.open_trials),
                                 remaining=self.budget - self.store.n, margin=margin,
                                 piece=self.piece)
        if n > 0:
            points, cost = timed(self.opt.ask, n)
            self.ask_seconds.append(cost)
            self.opt_free = max(self.opt_free, now) + cost
            self.opt_busy += cost
            self.asking = (self.opt_free, points)
            self.push(self.opt_free, "asked", None)

    def iteration(self, now: float) -> float:
        """One pass of Search.loop at ``now``; returns the loop's cost (simulated seconds)."""
        cost = 0.0
        batch = [f for f in self.finished if f[0] <= now]
        self.finished = [f for f in self.finished if f[0] > now]
        for _, a, t, start, end, metric in batch:
            self.durations[0] += end - start
            self.durations[1] += 1
            _, c = timed(store_result, self.store, a, t, start, end, metric)
            cost += c
            self.open_trials[a] -= 1
            if not self.open_trials[a]:
                del self.open_trials[a]
                metrics = self.store.array("metric")[a]
                _, c = timed(self.opt.tell, [self.points[a]], [float(metrics.mean())],
                             [float(metrics.std(ddof=1))])
                self.opt_free = max(self.opt_free, now + cost) + c
                self.opt_busy += c
        submitted = False
        if self.asking is not None and self.asking[0] <= now + cost:
            _, points = self.asking
            self.asking = None
            for point in points:
                a, c = timed(self.store.add_architecture, self.exp.space.to_row(point))
                cost += c + TRIALS * SUBMIT
                self.points[a] = point
                self.open_trials[a] = TRIALS
                for t in range(TRIALS):
                    self.submit(now + cost, a, t)
            submitted = True
        changed = self.seen_slots != getattr(self, "_last_slots", None)
        self._last_slots = self.seen_slots
        self.progressed = bool(batch or submitted or changed)
        if self.progressed:
            self.propose(now + cost)
        self.dirty = self.dirty or bool(batch or submitted)
        if flush_due(self.dirty, now + cost - self.flushed, self.flush_cost):
            _, c = timed(self.store.flush)
            cost += c
            self.flush_busy += c
            self.flushed, self.dirty, self.flush_cost = now + cost, False, c
            self.flushes += 1
        self.loop_busy += cost
        return cost

    def run(self) -> dict:
        now = 0.0
        wall = time.perf_counter()
        while self.store.n < self.budget or self.open_trials or self.asking:
            now += self.iteration(now)
            while self.events and self.events[0][0] <= now:  # what happened while the loop worked
                t, _, kind, data = heapq.heappop(self.events)
                self.on_event(t, kind, data)
            if not self.progressed and not any(f[0] <= now for f in self.finished) and not (
                    self.asking and self.asking[0] <= now):
                if not self.events:
                    break
                t, _, kind, data = heapq.heappop(self.events)  # idle: the loop waits
                self.on_event(t, kind, data)
                if kind == "end":  # noticed at the next 50 ms poll
                    now += POLL * np.ceil((t + LATENCY - now) / POLL)
                elif kind in ("asked", "slots"):  # these wake the loop's queue at once
                    now = max(now, t)
        return self.figures(time.perf_counter() - wall)

    def figures(self, wall: float) -> dict:
        starts = np.array(self.starts)
        started, finished = starts[:, 0], starts[:, 1]
        last_start, end = started.max(), finished.max()
        t0 = self.arrivals[0]
        times = np.array([t for t, _ in self.timeline] + [end])
        present = np.array([s for _, s in self.timeline])

        def capacity(until: float) -> float:
            lo, hi = times[:-1], np.minimum(times[1:], until)
            return float(np.sum(present * np.clip(hi - np.maximum(lo, t0), 0, None)))

        to_last = np.clip(np.minimum(finished, last_start) - started, 0, None).sum()
        full = self.arrivals[-1]
        return {"busy_to_last_start": to_last / capacity(last_start),
                "busy": (finished - started).sum() / capacity(end), "tail": end - last_start,
                "span": end - t0, "last_arrival": full, "fill_lag_max": max(self.fill_lags),
                "fill_lag_p95": float(np.percentile(self.fill_lags, 95)),
                "loop_util": self.loop_busy / (end - t0), "flush_util": self.flush_busy / (end - t0), "opt_util": self.opt_busy / (end - t0),
                "flushes": self.flushes, "flush_mean": self.flush_busy / max(self.flushes, 1),
                "asks": len(self.ask_seconds), "ask_max": max(self.ask_seconds),
                "ask_mean": float(np.mean(self.ask_seconds)), "wall": wall}


def completion_cost(history: int, optimizer: str, repeats: int = 3) -> dict:
    """Seconds of one completion's driver work with ``history`` architectures already told."""
    exp = experiment(history + 10 * repeats, optimizer)
    opt = build_optimizer(exp)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        store = ResultsStore.create(f"{tmp}/s.zarr", exp.to_dict(), exp.space.names, TRIALS, EPOCHS)
        points = []
        while len(points) < history:
            points += opt.ask(min(500, history - len(points)))
        for point in points:
            a = store.add_architecture(exp.space.to_row(point))
            for t in range(TRIALS):
                store_result(store, a, t, 0.0, 1.0, trial_outcome(point, 1.0, rng)[1])
        opt.tell(points, [float(store.array("metric")[a].mean()) for a in range(history)],
                 [float(store.array("metric")[a].std(ddof=1)) for a in range(history)])
        store.flush()
        costs = {"store": [], "tell": [], "ask": [], "flush": []}
        for _ in range(repeats):
            point = opt.ask(1)[0]
            a = store.add_architecture(exp.space.to_row(point))
            store.flush()
            _, c = timed(lambda a=a: [store_result(store, a, t, 0.0, 1.0, 0.5) for t in range(TRIALS)])
            costs["store"].append(c / TRIALS)  # per trial
            costs["tell"].append(timed(opt.tell, [point], [0.5], [0.01])[1])
            costs["ask"].append(timed(opt.ask, 1)[1])
            costs["flush"].append(timed(store.flush)[1])
    return {k: 1000 * float(np.median(v)) for k, v in costs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slots", default="80,1000,10000")
    parser.add_argument("--mean", type=float, default=20.0, help="mean trial seconds")
    parser.add_argument("--waves", type=float, default=3.0, help="budget = waves x slots / 5")
    parser.add_argument("--arrival", type=float, default=60.0, help="workers arrive over these seconds")
    parser.add_argument("--optimizer", default="rbf")
    parser.add_argument("--piece", type=int, default=ASK_PIECE, help="most architectures per ask")
    parser.add_argument("--cost", action="store_true", help="per-completion cost against history")
    parser.add_argument("--history", default="100,500,1000,2000,5000")
    args = parser.parse_args()
    load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} {platform.node()} {os.cpu_count()} cores, load {load}, "
          f"optimizer {args.optimizer}, at most {args.piece} architectures per ask")
    if args.cost:
        print("| architectures told | store sets per trial (ms) | tell (ms) | ask 1 (ms) | flush (ms) "
              "| per completion (ms) |\n|---|---|---|---|---|---|")
        for h in map(int, args.history.split(",")):
            c = completion_cost(h, args.optimizer)
            total = c["store"] + c["tell"] + c["ask"] + c["flush"]
            print(f"| {h} | {c['store']:.2f} | {c['tell']:.2f} | {c['ask']:.1f} | {c['flush']:.1f} "
                  f"| {total:.1f} |", flush=True)
        return
    print(f"trial mean {args.mean:g} s, workers arrive over {args.arrival:g} s, budget {args.waves:g} "
          "waves of architectures\n\n| slots | architectures | busy (to last start) | busy (whole run) "
          "| tail (s) | fill lag p95 / max (s) | loop busy (flushing) | flushes (mean ms) | optimiser busy "
          "| asks (mean / max s) | run wall (s) |\n|---|---|---|---|---|---|---|---|---|---|---|")
    for slots in map(int, args.slots.split(",")):
        budget = int(args.waves * slots / TRIALS)
        with tempfile.TemporaryDirectory() as tmp:
            f = Sim(slots, args.mean, budget, args.optimizer, args.arrival, f"{tmp}/s.zarr",
                    piece=args.piece).run()
        print(f"| {slots} | {budget} | {f['busy_to_last_start']:.3f} | {f['busy']:.3f} | {f['tail']:.0f} "
              f"| {f['fill_lag_p95']:.2f} / {f['fill_lag_max']:.2f} | {f['loop_util']:.3f} ({f['flush_util']:.3f}) "
              f"| {f['flushes']} ({1000 * f['flush_mean']:.0f}) | {f['opt_util']:.3f} | {f['asks']} ({f['ask_mean']:.3f} / {f['ask_max']:.2f}) "
              f"| {f['wall']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
