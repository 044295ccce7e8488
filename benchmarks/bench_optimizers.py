"""Compare the ask/tell optimisers on noisy Hartmann-6 (lattice k * 0.02), as in the paper's studies.

Each search asks in batches of 2-4 (asynchrony), evaluates every point with 3 trials (mean, std)
and reports, at budgets 20/50/100, the TRUE regret hartmann6(x) - min of the point that is best by
trial mean; median and IQR over seeds, plus the mean ask() latency per point.

    python benchmarks/bench_optimizers.py --seeds 20 --budget 100
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
           "rbf-variability": ("rbf", {"variability": True}), "gp": ("gp", {})}


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


def main() -> None:
    """Run every method over the seeds and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--methods", nargs="*", default=list(METHODS))
    args = parser.parse_args()
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
