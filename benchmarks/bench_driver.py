"""Slot use of the driver on a real LocalCluster vs synchronous batches, HYPPO's broad-search shape.

    python benchmarks/bench_driver.py [--runs 8:2:100,80:20:100] [--sync 8:2:100] [--optimizer rbf]

Each run is SLOTS:MEAN_SECONDS:ARCHITECTURES, 5 trials per architecture, on one in-process
worker with SLOTS threads. A trial sleeps MEAN x f(x0) x (1 +- 10 %), f spanning 10x over the
space (mean 1 over uniform x0), in 5 epochs that each report to the driver. "ganhpo" is
``orchestrator.search.run``; "synchronous" is HYPPO's one-level baseline: ask SLOTS/5
architectures, wait for every trial, tell, repeat. Serial time is the sum of trial durations
(computed, not run). Busy fraction = trial time / (slots x span); "to last start" counts only
[first start, last start], the tail (last start to last end) is reported separately.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time

import numpy as np
from distributed import Client, LocalCluster, wait

from orchestrator.experiment import Experiment
from orchestrator.search import build_optimizer, execute_trial, run, trial_seed
from orchestrator.store import read_store

TRIALS = 5
TRIAL = "benchmarks.bench_driver:sleep_trial"


def sleep_trial(params, *, model, data, epochs, seed, report=None):
    """Sleep mean x 10**(x0 - 0.5) / 1.2357 (x 1 +- 10 %), in epochs; metric: a smooth bowl."""
    rng = np.random.default_rng(seed)
    x = np.array([params[f"x{i}"] for i in range(6)])
    seconds = data["mean"] * 10 ** (x[0] - 0.5) / 1.2357 * rng.uniform(0.9, 1.1)
    metric = float(np.sum((x - 0.3) ** 2) + 0.01 * rng.normal())
    for epoch in range(epochs):
        time.sleep(seconds / epochs)
        if report:
            report(epoch, {"metric": metric})
    return {"metric": metric, "best_epoch": epochs - 1}


def experiment(mean: float, budget: int, optimizer: str) -> Experiment:
    return Experiment(space={f"x{i}": {"lower": 0, "upper": 50, "scale": 0.02} for i in range(6)},
                      trial=TRIAL, epochs=5, trials=TRIALS, budget=budget, seed=3,
                      optimizer={"name": optimizer}, data={"mean": mean})


def figures(started: np.ndarray, finished: np.ndarray, slots: int) -> dict:
    """Speed-up over serial, busy fractions (whole run, up to the last start) and the tail."""
    t0, last_start, end = started.min(), started.max(), finished.max()
    serial = float((finished - started).sum())
    to_last = float(np.clip(np.minimum(finished, last_start) - started, 0, None).sum())
    return {"serial": serial, "wall": end - t0, "speedup": serial / (end - t0),
            "busy": serial / (slots * (end - t0)),
            "busy_to_last_start": to_last / (slots * (last_start - t0)), "tail": end - last_start}


def ours(client: Client, exp: Experiment, slots: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        run(exp, client, store=f"{tmp}/s.zarr")
        snap = read_store(f"{tmp}/s.zarr")
    return figures(snap.started.ravel(), snap.finished.ravel(), slots)


def synchronous(client: Client, exp: Experiment, slots: int) -> dict:
    """HYPPO's one-level baseline: ask slots/trials architectures, wait for all trials, tell."""
    opt = build_optimizer(exp)
    kwargs = {"model": "", "data": exp.data, "epochs": exp.epochs}
    started, finished, a = [], [], 0
    while a < exp.budget:
        points = opt.ask(min(max(1, slots // exp.trials), exp.budget - a))
        futures = [[client.submit(execute_trial, exp.trial, p, kwargs, trial_seed(exp.seed, a + i, t),
                                  "bench", a + i, t, pure=False) for t in range(exp.trials)]
                   for i, p in enumerate(points)]
        wait([f for fs in futures for f in fs])
        results = [[f.result() for f in fs] for fs in futures]
        for rs in results:
            started += [r["started"] for r in rs]
            finished += [r["finished"] for r in rs]
        opt.tell(points, [np.mean([r["metric"] for r in rs]) for rs in results],
                 [np.std([r["metric"] for r in rs], ddof=1) for rs in results])
        a += len(points)
    return figures(np.array(started), np.array(finished), slots)


def parse(runs: str) -> list[tuple[int, float, int]]:
    out = []
    for item in filter(None, runs.split(",")):
        slots, mean, budget = item.split(":")
        out.append((int(slots), float(mean), int(budget)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", default="8:2:100,40:2:100,80:2:100,80:20:100,40:20:50,8:20:10")
    parser.add_argument("--sync", default="8:2:100,40:2:100,80:2:100,80:20:100")
    parser.add_argument("--optimizer", default="rbf")
    parser.add_argument("--processes", action="store_true",
                        help="the worker in its own process (default: in the driver's process)")
    args = parser.parse_args()
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} {platform.node()} {os.cpu_count()} cores, "
          f"load average {' '.join(f'{v:.1f}' for v in os.getloadavg())}, optimizer {args.optimizer}, "
          f"worker {'in its own process' if args.processes else 'threads in the driver process'}")
    print("| slots | trial mean (s) | architectures | loop | speed-up vs serial | busy (whole run) "
          "| busy (to last start) | tail (s) | wall (s) |\n|---|---|---|---|---|---|---|---|---|")
    jobs = [(cfg, "ganhpo", ours) for cfg in parse(args.runs)]
    jobs += [(cfg, "synchronous", synchronous) for cfg in parse(args.sync)]
    for (slots, mean, budget), name, fn in sorted(jobs, key=lambda j: (j[0][1], j[0][0], j[1])):
        exp = experiment(mean, budget, args.optimizer)
        with LocalCluster(n_workers=1, threads_per_worker=slots, processes=args.processes,
                          dashboard_address=":0") as cluster, Client(cluster) as client:
            f = fn(client, exp, slots)
        print(f"| {slots} | {mean:g} | {budget} | {name} | {f['speedup']:.1f} | {f['busy']:.3f} | "
              f"{f['busy_to_last_start']:.3f} | {f['tail']:.1f} | {f['wall']:.1f} |", flush=True)
    print(f"# load average at the end {' '.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
