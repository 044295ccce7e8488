"""Monitor refresh time on a large store: 10,000 architectures x 5 trials x 100 epochs.

    python benchmarks/bench_monitor.py [--archs 10000] [--trials 5] [--epochs 100] [--repeat 10]

Builds a synthetic store (4 architectures still running, ~2 % failed trials, 8 workers), then
times, for one page: building it, its first refresh, a cold refresh (full read + every
component's data), a steady refresh (nothing changed) and one after a new architecture.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from orchestrator.monitor.data import StoreReader
from orchestrator.monitor.page import Page
from orchestrator.store import DONE, FAILED, RUNNING, ResultsStore, is_finished

WORKERS = 8


def build_store(path: Path, archs: int, trials: int, epochs: int, running: int = 4) -> ResultsStore:
    """A store shaped like a long search: finished rows, a few running at the end, some failures."""
    names = [f"x{i}" for i in range(5)] + ["lr_gen"]
    space = {n: {"type": "real", "low": 0.0, "high": 1.0, "log": False} for n in names[:-1]}
    space["lr_gen"] = {"type": "lattice", "lower": 1, "upper": 200, "scale": 5e-5}
    exp = {"name": "bench", "space": space, "budget": archs + 100, "trials": trials,
           "epochs": epochs, "optimizer": {"name": "rbf", "n_initial": 10}}
    store = ResultsStore.create(path, exp, names, trials, epochs)
    rng = np.random.default_rng(0)
    t0 = time.time() - archs * trials * 2.0 / WORKERS
    for a in range(archs):
        add_row(store, rng, a, t0, trials, epochs, RUNNING if a >= archs - running else DONE)
    store.flush()
    return store


def add_row(store: ResultsStore, rng: np.random.Generator, a: int, t0: float, trials: int,
            epochs: int, state: int) -> None:
    """One architecture with all trials in ``state`` (DONE: some fail at random)."""
    params = np.append(rng.random(5), 5e-5 * rng.integers(1, 201))
    store.add_architecture(params, "broad" if a < 8000 else "focus")
    status = np.full(trials, state, np.int8)
    if state == DONE:
        status[rng.random(trials) < 0.02] = FAILED
    slot = t0 + a * trials * 2.0 / WORKERS
    started = slot + np.arange(trials) * 0.1
    store.set("started", a, started)
    store.set("finished", a, np.where(is_finished(status), started + 2.0, np.nan))
    store.set("metric", a, np.where(status == DONE, rng.random(trials), np.nan))
    store.set("worker", a, [store.worker_id(f"tcp://10.0.0.{(a * trials + t) % WORKERS}:4000")
                            for t in range(trials)])
    curves = rng.random((trials, epochs)).astype("f4")
    if state == RUNNING:
        curves[:, epochs // 2:] = np.nan
    store.set("epoch_metric", a, curves)
    for t in np.flatnonzero(status == FAILED):
        store.set_error(a, int(t), "RuntimeError: CUDA out of memory")
    store.set("status", a, status)


CPU: list[float] = []


def timed(fn) -> float:
    """Wall seconds of fn(); its CPU seconds (all threads of this process) go to CPU."""
    start, cpu = time.perf_counter(), time.process_time()
    fn()
    CPU.append(time.process_time() - cpu)
    return time.perf_counter() - start


def load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=10_000)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.zarr"
        built = timed(lambda: build_store(path, args.archs, args.trials, args.epochs))
        print(f"store: {args.archs} x {args.trials} x {args.epochs}, built in {built:.1f} s")
        reader = StoreReader(path)
        build = timed(lambda: Page(reader))  # figures only; no data yet
        page = Page(reader)
        first = timed(page.refresh)
        steady = [timed(page.refresh) for _ in range(args.repeat)]
        store = ResultsStore.open(path)
        rng = np.random.default_rng(1)
        grown = []
        for _ in range(args.repeat):
            add_row(store, rng, store.n, time.time(), args.trials, args.epochs, DONE)
            store.flush()
            grown.append(timed(page.refresh))
        cold = []
        CPU.clear()
        for _ in range(3):  # a fresh reader (nothing cached) on a page whose figures exist
            page.reader = StoreReader(path)
            cold.append(timed(page.refresh))
        cold_cpu = list(CPU)
    print(f"page figures built (per browser session): {build:.3f} s")
    print(f"first refresh of a new page (also builds the marginal figures): {first:.3f} s")
    print(f"cold refresh (full read + all components' data), median of 3: "
          f"{statistics.median(cold):.3f} s wall, {statistics.median(cold_cpu):.3f} s CPU")
    print(f"steady refresh, median of {args.repeat}: {statistics.median(steady):.3f} s "
          f"(max {max(steady):.3f})")
    print(f"refresh after one more architecture, median of {args.repeat}: "
          f"{statistics.median(grown):.3f} s (max {max(grown):.3f})")
    print(f"load average (1 min) at the end: {load()} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
