"""Compare the ask/tell optimisers on noisy Hartmann-6 (lattice k * 0.02), as in the paper's studies.

Each search asks in batches of 2-4 (asynchrony), evaluates every point with 3 trials (mean, std;
gp is told trials=3 as the driver does)
and reports, at budgets 20/50/100, the TRUE regret hartmann6(x) - min of the point that is best by
trial mean; median and IQR over seeds, plus the mean ask() latency per point.
``--cost`` instead times ask(1), ask(8) and the tell of those 8 after N told points (d = 6).

    python benchmarks/bench_optimizers.py --seeds 20 --budget 100
    python benchmarks/bench_optimizers.py --cost --sizes 100 500 2000 5000
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from orchestrator.objectives import HARTMANN6_MIN, hartmann6, noisy_hartmann
from orchestrator.optimizers import make_optimizer
from orchestrator.space import Lattice, SearchSpace

SPACE = SearchSpace({f"x{i}": Lattice(0, 50, 0.02) for i in range(6)})
METHODS = {"random": ("random", {}), "lhs": ("lhs", {}), "rbf": ("rbf", {}),
           "rbf-variability": ("rbf", {"variability": True}), "gp": ("gp", {"trials": 3}),
           "rbf-restart": ("rbf", {"restart": True}), "rbf-design14": ("rbf", {"n_initial": 14}),
           "gp-design14": ("gp", {"trials": 3, "n_initial": 14})}
DEFAULT_METHODS = ["random", "lhs", "rbf", "rbf-variability", "gp"]  # the others are experiments


def regret(point: dict) -> float:
    return float(hartmann6(np.array([point[f"x{i}"] for i in range(6)]))[0] - HARTMANN6_MIN)


def search(method: str, seed: int, budget: int, checkpoints: list[int]) -> tuple[list[float], float]:
    """One search; the regret of the best-by-mean point at each checkpoint, mean ask seconds/point."""
    name, options = METHODS[method]
    opt = make_optimizer(name, SPACE, seed=seed, budget=budget, **options) if name == "rbf" \
        else make_optimizer(name, SPACE, seed=seed, **options)
    rng = np.random.default_rng(10_000 + seed)
    done, asked_seconds, out = 0, 0.0, []
    while done < budget:
        n = int(min(rng.integers(2, 5), budget - done))
        start = time.perf_counter()
        batch = opt.ask(n)
        asked_seconds += time.perf_counter() - start
        runs = [[noisy_hartmann(p, epochs=1, seed=int(rng.integers(2**31)))["metric"]
                 for _ in range(3)] for p in batch]
        before = done
        opt.tell(batch, [np.mean(r) for r in runs], [np.std(r) for r in runs])
        done += len(batch)
        out += [regret(opt.best()[0]) for c in checkpoints if before < c <= done]
    return out, asked_seconds / budget


def cost(method: str, n_told: int, repeats: int = 3) -> tuple[float, float, float]:
    """Median seconds of ask(1), ask(8) and tell(8) after ``n_told`` points of noisy Hartmann-6."""
    name, options = METHODS[method]
    rng = np.random.default_rng(n_told)
    points = [dict(zip(SPACE.names, row)) for row in
              np.round(rng.integers(0, 51, size=(n_told, 6)) * 0.02, 2).tolist()]
    means = [float(hartmann6(np.array(list(p.values())))[0]) + 0.1 * rng.standard_normal() for p in points]
    stds = list(np.abs(0.1 * rng.standard_normal(n_told)))
    times = []
    for r in range(repeats):
        opt = make_optimizer(name, SPACE, seed=r, **({"budget": 100} if name == "rbf" else {}), **options)
        opt.tell(points, means, stds)
        t0 = time.perf_counter()
        opt.ask(1)
        t1 = time.perf_counter()
        batch = opt.ask(8)
        t2 = time.perf_counter()
        opt.tell(batch, [1.0] * 8, [0.1] * 8)
        times.append((t1 - t0, t2 - t1, time.perf_counter() - t2))
    return tuple(np.median(np.array(times), axis=0))


def cost_table(methods: list[str], sizes: list[int], repeats: int = 3) -> None:
    """Print the ask/tell cost table (ms) for each method and history size."""
    print("| method | told points | ask(1) ms | ask(8) ms | tell(8) ms |")
    print("|---|---|---|---|---|")
    for method in methods:
        for n in sizes:
            a1, a8, t8 = cost(method, n, repeats)
            print(f"| {method} | {n} | {1e3 * a1:.0f} | {1e3 * a8:.0f} | {1e3 * t8:.1f} |", flush=True)


def main() -> None:
    """Run every method over the seeds and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--methods", nargs="*", default=DEFAULT_METHODS, choices=list(METHODS))
    parser.add_argument("--cost", action="store_true", help="time ask/tell against history size")
    parser.add_argument("--sizes", nargs="*", type=int, default=[100, 500, 2000, 5000])
    parser.add_argument("--repeats", type=int, default=3, help="--cost: median over this many runs")
    args = parser.parse_args()
    if args.cost:
        cost_table(args.methods, args.sizes, args.repeats)
        return
    checkpoints = [c for c in (20, 50, 100) if c <= args.budget]
    header = " | ".join(f"regret @{c}: median [IQR]" for c in checkpoints)
    print(f"| method | {header} | ask ms/point | wall s |")
    print("|---" * (len(checkpoints) + 3) + "|")
    for method in args.methods:
        start = time.perf_counter()
        runs = [search(method, s, args.budget, checkpoints) for s in range(args.seeds)]
        values = np.array([r[0] for r in runs])
        cells = []
        for j in range(len(checkpoints)):
            q1, med, q3 = np.percentile(values[:, j], [25, 50, 75])
            cells.append(f"{med:.3f} [{q1:.3f}, {q3:.3f}]")
        latency = 1e3 * np.mean([r[1] for r in runs])
        print(f"| {method} | {' | '.join(cells)} | {latency:.1f} | {time.perf_counter() - start:.0f} |",
              flush=True)


if __name__ == "__main__":
    main()
