"""Worker busy fraction of the asynchronous driver vs synchronous batches, trials differing 10x.

    python benchmarks/bench_driver.py [--workers 4] [--budget 24]

Both runs use the same cluster, optimiser, space and trial function (noisy Hartmann-6 whose
epochs sleep 10x longer when x0 > 0.5). Busy fraction = total trial time / (workers x span
from the first trial start to the last trial end).
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time

import numpy as np
from distributed import Client, LocalCluster, wait

from orchestrator.driver import build_optimizer, execute_trial, run, trial_seed
from orchestrator.experiment import Experiment
from orchestrator.store import read_store


def experiment(budget: int, trials: int, pending: int) -> Experiment:
    return Experiment(space={f"x{i}": {"lower": 0, "upper": 50, "scale": 0.02} for i in range(6)},
                      trial="orchestrator.objectives:noisy_hartmann", epochs=5, trials=trials,
                      budget=budget, max_pending=pending, seed=3, optimizer={"name": "lhs"},
                      data={"epoch_seconds": 0.04, "slow_param": "x0", "slow_factor": 10})


def busy_fraction(started: np.ndarray, finished: np.ndarray, workers: int) -> tuple[float, float]:
    span = float(finished.max() - started.min())
    return float((finished - started).sum() / (workers * span)), span


def asynchronous(client: Client, exp: Experiment, workers: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        run(exp, client, store=f"{tmp}/s.zarr")
        snap = read_store(f"{tmp}/s.zarr")
        return busy_fraction(snap.started.ravel(), snap.finished.ravel(), workers)


def synchronous(client: Client, exp: Experiment, workers: int) -> tuple[float, float]:
    """The baseline: ask a batch, wait for every trial of it, tell, repeat."""
    opt = build_optimizer(exp)
    kwargs = {"model": "", "data": exp.data, "epochs": exp.epochs}
    started, finished, a = [], [], 0
    while a < exp.budget:
        points = opt.ask(min(exp.max_pending, exp.budget - a))
        futures = [[client.submit(execute_trial, exp.trial, p, kwargs, trial_seed(exp.seed, a + i, t),
                                  "bench", a + i, t, pure=False) for t in range(exp.trials)]
                   for i, p in enumerate(points)]
        wait([f for fs in futures for f in fs])
        results = [[f.result() for f in fs] for fs in futures]
        for rs in results:
            started += [r["started"] for r in rs]
            finished += [r["finished"] for r in rs]
        opt.tell(points, [np.mean([r["metric"] for r in rs]) for rs in results],
                 [np.std([r["metric"] for r in rs]) for rs in results])
        a += len(points)
    return busy_fraction(np.array(started), np.array(finished), workers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--budget", type=int, default=24)
    parser.add_argument("--trials", type=int, default=2)
    args = parser.parse_args()
    pending = max(2, args.workers // args.trials + 1)
    exp = experiment(args.budget, args.trials, pending)
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, dashboard_address=":0") as cl, \
            Client(cl) as client:
        client.submit(time.sleep, 0).result()
        rows = {"asynchronous (ganhpo)": asynchronous(client, exp, args.workers),
                "synchronous batches": synchronous(client, exp, args.workers)}
    print(f"# {time.strftime('%Y-%m-%d')} {platform.node()} {platform.processor() or platform.machine()}, "
          f"{args.workers} workers, {args.budget} architectures x {args.trials} trials, "
          f"max_pending {pending}, trial 0.2 s or 2 s")
    print("| loop | busy fraction | wall time (s) |\n|---|---|---|")
    for name, (busy, span) in rows.items():
        print(f"| {name} | {busy:.2f} | {span:.1f} |")
    (a_busy, a_span), (s_busy, s_span) = rows.values()
    print(f"\nasynchronous / synchronous: busy x{a_busy / s_busy:.2f}, wall time x{a_span / s_span:.2f}")


if __name__ == "__main__":
    main()
