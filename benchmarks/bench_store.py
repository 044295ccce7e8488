"""Store flush time against history size: 100, 10,000 and 100,000 architectures.

    python benchmarks/bench_store.py [--sizes 100 10000 100000] [--repeat 20] [--old COMMIT]

Builds a store of N finished architectures (5 trials x 20 epochs, 5 % failed trials with
400-character error texts, one worker name per 20 architectures: batch workers restarting),
then times steady-state flushes, each holding what one pass of the driver loop writes: one new
architecture, the five results of a recent one, one straggler result at row N/2, one error text
and one new worker name. ``--old COMMIT`` times the store of that commit beside it: its
``orchestrator/store.py`` (format 1: names and errors in group attributes, one dirty min-max row
span per array), or from the store package on, its ``orchestrator/store/writer.py`` over today's
layout and integrity modules.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TRIALS, EPOCHS = 5, 20
ROOT = Path(__file__).resolve().parents[1]


def load_store_module(commit: str | None):
    """orchestrator.store as it is now, or as it was at ``commit``."""
    if commit is None:
        from orchestrator import store
        return store
    # a one-file store (format 1), else that commit's writer over today's layout and integrity
    for name in ("orchestrator/store.py", "orchestrator/store/writer.py"):
        shown = subprocess.run(["git", "show", f"{commit}:{name}"], cwd=ROOT, capture_output=True,
                               text=True)
        if shown.returncode == 0:
            break
    else:
        raise SystemExit(f"--old {commit}: no orchestrator/store.py or store/writer.py there")
    path = Path(tempfile.mkdtemp()) / f"store_{commit[:8]}.py"
    path.write_text(shown.stdout)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    if not hasattr(module, "DONE"):
        from orchestrator import store
        module.DONE, module.FAILED = store.DONE, store.FAILED
    return module


def add(store, m, rng: np.random.Generator, a: int, fail: bool) -> None:
    """Architecture ``a``: finished trials with curves, worker ids, an error if ``fail``."""
    store.add_architecture(rng.random(6))
    for t in range(TRIALS):
        store.set("metric", (a, t), rng.random())
        store.set("started", (a, t), 1e9 + a)
        store.set("finished", (a, t), 1e9 + a + 1)
        store.set("epoch_metric", (a, t), rng.random(EPOCHS).astype("f4"))
        store.set("worker", (a, t), store.worker_id(f"tcp://10.0.{a // 20 // 250}.{a // 20 % 250}:4000"))
        store.set("status", (a, t), m.DONE)
    if fail:
        store.set_error(a, 0, "RuntimeError: " + "x" * 386)
        store.set("status", (a, 0), m.FAILED)


def bench(m, n: int, repeat: int, tmp: Path) -> tuple[float, float]:
    """(seconds to build and first-flush n architectures, median seconds per steady flush)."""
    rng = np.random.default_rng(0)
    exp = {"name": "bench", "trials": TRIALS, "epochs": EPOCHS, "space": {}}
    store = m.ResultsStore.create(tmp / f"{m.__name__}-{n}.zarr", exp, [f"x{i}" for i in range(6)],
                                  TRIALS, EPOCHS)
    start = time.perf_counter()
    for a in range(n):
        add(store, m, rng, a, rng.random() < 0.05)
    store.flush()
    build = time.perf_counter() - start
    times = []
    for k in range(repeat):
        a = store.n
        add(store, m, rng, a, fail=True)  # the new architecture, its error text
        for t in range(TRIALS):  # a recent architecture's results
            store.set("metric", (a - 3, t), rng.random())
        store.set("metric", (n // 2, 0), rng.random())  # a straggler far back
        store.worker_id(f"tcp://restarted:{k}")  # a new worker name
        start = time.perf_counter()
        store.flush()
        times.append(time.perf_counter() - start)
    return build, statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--old", help="also time the store module of this commit")
    args = parser.parse_args()
    modules = [("new", load_store_module(None))]
    if args.old:
        modules.append((f"old ({args.old[:7]})", load_store_module(args.old)))
    print(f"load average {os.getloadavg()[0]:.2f}; {TRIALS} trials x {EPOCHS} epochs; "
          f"median of {args.repeat} flushes")
    print("| architectures | store | build + first flush (s) | steady flush (ms) |")
    print("|---:|---|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            for label, m in modules:
                build, flush = bench(m, n, args.repeat, Path(tmp))
                print(f"| {n:,} | {label} | {build:.2f} | {1000 * flush:.1f} |", flush=True)


if __name__ == "__main__":
    main()
