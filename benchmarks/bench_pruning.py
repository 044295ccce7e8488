"""Replay searches on cached learning curves: none, median, asha, and Optuna (TPE/random + SHA).

The curves (benchmarks/pruning_curves.py: N architectures x T trials x E epochs of a real
training) are made once; each replay proposes architectures, runs their trials on S slots with a
simulated clock (one trial-epoch = one time unit, a trial's T seeds are separate jobs), streams
every epoch's metric to the rule and stops whole architectures when it says so. Reported per
method over seeds: trial-epochs spent (and the share of an unpruned search's), simulated wall
time, the full-length quality (cached mean over trials of each trial's best epoch) of the
architecture the search names best, its regret to the pool's best, and how often the pool's
full-length best was proposed and pruned.

    PYTHONPATH=$PWD python benchmarks/bench_pruning.py --family mlp --seeds 20
    PYTHONPATH=$PWD python benchmarks/bench_pruning.py --cost            # 250k reports: per-report cost
    PYTHONPATH=$PWD python benchmarks/bench_pruning.py --floor           # oracle floors per family
    PYTHONPATH=$PWD python benchmarks/bench_pruning.py --family mlp5 --pools 18 36 72   # pool sizes

Replay seeds: 0.. (``--seed-start 0``) are the reported ones; options were chosen on seeds
100-139 only. Where held-out curves exist (``curves_<family>_heldout.npz``: the same
architectures, independent trial seeds), the table also gives the named best's full-length
quality on those independent trials (the selection bias of a noisy pool removed).
"""

from __future__ import annotations

import argparse
import math
import time
from collections import deque
from pathlib import Path

import numpy as np

from orchestrator.pruners import make_pruner

RESULTS = Path(__file__).resolve().parent / "results"
OURS = {"none": "none", "median": "median", "asha": "asha",
        "asha-plain": {"rule": "asha", "k": 0.0, "startup": 0},
        "asha-k2": {"rule": "asha", "k": 2.0},
        # the cheapest of 162 variants that kept the GAN best (<= 1 in 20) on seeds 100-139
        "asha-late": {"rule": "asha", "min_epochs": 3, "reduction": 2, "k": 0.0}}
OPTUNA = {"optuna-TPE", "optuna-TPE+SHA", "optuna-random+SHA", "optuna-TPE+Hyperband"}


def load(family: str) -> tuple[np.ndarray, np.ndarray]:
    """The cached curves (N, T, E) and parameters (N, P) of a family."""
    z = np.load(RESULTS / f"curves_{family}.npz")
    return z["curves"], z["params"]


def independent(family: str) -> str | None:
    """The family whose curves hold the same architectures' independent trials, if recorded."""
    other = family.removesuffix("_heldout") if family.endswith("_heldout") else f"{family}_heldout"
    return other if (RESULTS / f"curves_{other}.npz").exists() else None


def oracle_floor(curves: np.ndarray, checks: list[int]) -> float:
    """Share of the unpruned trial-epochs an oracle threshold rule spends: at each epoch index in
    ``checks`` it stops every architecture whose trial median of best-so-far is worse than the
    full-length best's at that epoch (the cheapest a rung rule on that value can be while never
    pruning the best; no margin, no asynchrony, every arrival compared with the whole pool)."""
    n, t, e = curves.shape
    bsf = np.minimum.accumulate(np.where(np.isfinite(curves), curves, np.inf), axis=2)
    med = np.median(bsf, axis=1)
    b = int(np.argmin(full_length(curves)))
    spent = 0
    for a in range(n):
        stop = next((c + 1 for c in checks if c < e - 1 and med[a, c] > med[b, c]), e)
        spent += t * stop
    return spent / (n * t * e)


def floors(families: list[str]) -> str:
    """Oracle floors per family: ASHA's rungs (min_epochs 1, reduction 3) and every epoch."""
    lines = ["| curves | best's rank by trial median at rungs | floor, asha rungs | floor, every epoch |",
             "|---|---|---|---|"]
    for family in families:
        curves, _ = load(family)
        rungs = list(make_pruner("asha", epochs=curves.shape[2], trials=curves.shape[1]).rung_epochs)
        bsf = np.minimum.accumulate(np.where(np.isfinite(curves), curves, np.inf), axis=2)
        med = np.median(bsf, axis=1)
        b = int(np.argmin(full_length(curves)))
        ranks = ", ".join(f"{int((med[:, r] < med[b, r]).sum()) + 1}/{len(med)} at {r + 1}" for r in rungs)
        lines.append(f"| {family} | {ranks} | {oracle_floor(curves, rungs):.2f} | "
                     f"{oracle_floor(curves, list(range(curves.shape[2] - 1))):.2f} |")
    return "\n".join(lines)


def full_length(curves: np.ndarray) -> np.ndarray:
    """Per architecture: mean over non-failed trials of each trial's best epoch (inf: all failed)."""
    with np.errstate(all="ignore"):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            best = np.nanmin(curves, axis=2)
            out = np.nanmean(best, axis=1)
    return np.where(np.isfinite(out), out, np.inf)


class Ours:
    """Architectures in a random order, each once; a rule from orchestrator.pruners."""

    def __init__(self, spec, curves: np.ndarray, seed: int):
        n, t, e = curves.shape
        self.pruner = make_pruner(spec, epochs=e, trials=t)
        self.order = deque(np.random.default_rng(seed).permutation(n).tolist())
        self.done: dict[int, int] = {}

    def propose(self) -> tuple[int, int] | None:
        return (a := self.order.popleft(), a) if self.order else None

    def report(self, job: int, trial: int, epoch: int, value: float) -> list[int]:
        return [d.arch for d in self.pruner.report(job, trial, epoch, value)]

    def trial_ended(self, job: int, trial: int) -> list[int]:
        return [d.arch for d in self.pruner.trial_ended(job, trial)]

    def finished(self, job: int, observed: float) -> None:
        self.pruner.finished(job)
        self.done[job] = job

    def named_best(self, observed: dict[int, float]) -> int | None:
        return min(observed, key=observed.get) if observed else None


class OptunaPolicy:
    """Optuna's sampler over the grid's levels (a sampled pool: each parameter's range, mapped to
    the nearest architecture) with its pruner; a trial = one architecture, told the mean over
    its T seeds at each epoch (step = epochs done), the full-length mean at the end."""

    def __init__(self, method: str, curves: np.ndarray, params: np.ndarray, seed: int):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        n, self.T, e = curves.shape
        sampler = (optuna.samplers.RandomSampler(seed=seed) if "random" in method
                   else optuna.samplers.TPESampler(seed=seed, constant_liar=True))
        pruner = optuna.pruners.NopPruner()
        if "SHA" in method:
            pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
        elif "Hyperband" in method:
            pruner = optuna.pruners.HyperbandPruner(min_resource=1, max_resource=e, reduction_factor=3)
        # a fixed name: HyperbandPruner picks brackets from a hash of it (random by default)
        self.study = optuna.create_study(sampler=sampler, pruner=pruner, study_name=f"{method}-{seed}")
        self.levels = [sorted(set(params[:, j].tolist())) for j in range(params.shape[1])]
        # a grid (possibly cut short): categorical levels; a sampled pool (gan_wide): floats
        self.grid = math.prod(len(lv) for lv in self.levels) < 4 * n
        self.coords = (np.array([[lv.index(v) for lv, v in zip(self.levels, row, strict=True)]
                                 for row in params.tolist()]) if self.grid else
                       (params - params.min(0)) / np.ptp(params, axis=0))
        self.lo, self.hi = params.min(0), params.max(0)
        self.budget, self.trials, self.steps, self.live = n, {}, {}, {}

    def propose(self) -> tuple[int, int] | None:
        if len(self.trials) >= self.budget:
            return None
        tr = self.study.ask()
        if self.grid:
            row = [tr.suggest_categorical(f"p{j}", lv) for j, lv in enumerate(self.levels)]
            want = np.array([lv.index(v) for lv, v in zip(self.levels, row, strict=True)])
        else:
            row = [tr.suggest_float(f"p{j}", lo, hi) for j, (lo, hi) in enumerate(zip(self.lo, self.hi))]
            want = (np.array(row) - self.lo) / (self.hi - self.lo)
        self.trials[tr.number] = tr
        self.steps[tr.number], self.live[tr.number] = {}, self.T
        # the nearest architecture of the pool (in level steps on a grid, scaled units otherwise)
        return tr.number, int(np.argmin(np.abs(self.coords - want).sum(axis=1)))

    def report(self, job: int, trial: int, epoch: int, value: float) -> list[int]:
        seen = self.steps[job].setdefault(epoch, [])
        seen.append(value)
        if len(seen) < self.live[job]:
            return []
        tr = self.trials[job]
        tr.report(float(np.mean(seen)), epoch + 1)
        if tr.should_prune():
            import optuna
            self.study.tell(tr, state=optuna.trial.TrialState.PRUNED)
            return [job]
        return []

    def trial_ended(self, job: int, trial: int) -> list[int]:
        self.live[job] -= 1  # a diverged seed: later steps average the seeds still running
        return []

    def finished(self, job: int, observed: float) -> None:
        import optuna
        tr = self.trials[job]
        if math.isfinite(observed):
            self.study.tell(tr, observed)
        else:
            self.study.tell(tr, state=optuna.trial.TrialState.FAIL)

    def named_best(self, observed: dict[int, float]) -> int | None:
        return min(observed, key=observed.get) if observed else None


def simulate(policy, curves: np.ndarray, slots: int) -> dict:
    """One replay: a simulated clock, S slots, trial-epochs as unit jobs; what it spent and named."""
    n, trials, epochs = curves.shape
    queue: deque = deque()
    running: list[list[int]] = []  # [job, arch, trial, next epoch]
    arch_of, left, stopped, best_so = {}, {}, set(), {}
    observed: dict[int, float] = {}
    spent = clock = 0
    exhausted = False
    while True:
        while len(running) < slots:
            if not queue and not exhausted:
                got = policy.propose()
                if got is None:
                    exhausted = True
                else:
                    job, a = got
                    arch_of[job], left[job] = a, trials
                    queue.extend((job, t) for t in range(trials))
            if not queue:
                break
            job, t = queue.popleft()
            running.append([job, arch_of[job], t, 0])
        if not running:
            break
        clock += 1
        stop: set[int] = set()
        for r in running:
            job, a, t, e = r
            if job in stop:
                continue
            v = curves[a, t, e]
            spent += 1
            r[3] += 1
            if math.isfinite(v):
                best_so[job, t] = min(best_so.get((job, t), math.inf), v)
                stop.update(policy.report(job, t, e, float(v)))
            else:
                r[3] = epochs  # diverged: the trial ends here
                stop.update(policy.trial_ended(job, t))
        for r in [r for r in running if r[0] in stop or r[3] >= epochs]:
            running.remove(r)
            job = r[0]
            if job in stop:
                continue
            left[job] -= 1
            if left[job] == 0 and job not in stopped:
                vals = [best_so.get((job, t), math.nan) for t in range(trials)]
                fin = [x for x in vals if math.isfinite(x)]
                observed[job] = float(np.mean(fin)) if fin else math.inf
                policy.finished(job, observed[job])
        for job in stop:
            stopped.add(job)
            queue = deque(q for q in queue if q[0] != job)
            running = [r for r in running if r[0] != job]
    best_job = policy.named_best({j: v for j, v in observed.items() if math.isfinite(v)})
    return {"spent": spent, "clock": clock, "named": None if best_job is None else arch_of[best_job],
            "pruned_archs": {arch_of[j] for j in stopped}, "proposed": set(arch_of.values())}


def run(family: str, methods: list[str], seeds: int, slots: int, seed_start: int = 0,
        pool: int | None = None) -> list[dict]:
    """Every method x seed on one family's curves (``pool``: each seed replays a random subset
    of that many architectures, the same subset for every method; its best is the subset's)."""
    all_curves, all_params = load(family)
    other = independent(family)
    all_fresh = full_length(load(other)[0]) if other else None
    rows = []
    for seed in range(seed_start, seed_start + seeds):
        keep = (np.random.default_rng(seed + 1000).permutation(len(all_curves))[:pool]
                if pool and pool < len(all_curves)
                else np.arange(len(all_curves)))
        curves, params = all_curves[keep], all_params[keep]
        quality = full_length(curves)
        fresh = all_fresh[keep] if all_fresh is not None else None
        pool_best = int(np.argmin(quality))
        for method in methods:
            policy = (Ours(OURS[method], curves, seed) if method in OURS
                      else OptunaPolicy(method, curves, params, seed))
            out = simulate(policy, curves, slots)
            named = out["named"]
            q = quality[named] if named is not None else math.inf
            rows.append({"method": method, "seed": seed, "spent": out["spent"], "clock": out["clock"],
                         "quality": float(q), "regret": float(q - quality[pool_best]),
                         "fresh": float(fresh[named]) if fresh is not None and named is not None
                         else math.nan,
                         "best_proposed": pool_best in out["proposed"],
                         "best_pruned": pool_best in out["pruned_archs"]})
    return sorted(rows, key=lambda r: methods.index(r["method"]))


def table(rows: list[dict], family: str, curves_shape: tuple, slots: int,
          pool: int | None = None) -> str:
    """Markdown table: medians over seeds, share of the unpruned search's trial-epochs."""
    n, t, e = curves_shape
    n = min(n, pool or n)
    full = n * t * e
    drawn = f" (drawn at random per seed from {curves_shape[0]})" if n < curves_shape[0] else ""
    lines = [f"**{family}**: {n} architectures{drawn} x {t} trials x {e} epochs, {slots} slots; "
             f"unpruned budget {full} trial-epochs; {len({r['seed'] for r in rows})} seeds",
             "", "| method | trial-epochs (median) | share of unpruned | sim. wall time | "
             "named best: full-length quality (median [max]) | regret median / mean | "
             "pool best proposed | pool best pruned | named best on independent trials (median [max]) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for m in dict.fromkeys(r["method"] for r in rows):
        rs = [r for r in rows if r["method"] == m]
        sp = np.array([r["spent"] for r in rs])
        cl = np.array([r["clock"] for r in rs])
        q = np.array([r["quality"] for r in rs])
        rg = np.array([r["regret"] for r in rs])
        lines.append(f"| {m} | {np.median(sp):.0f} | {np.median(sp) / full:.2f} | {np.median(cl):.0f} | "
                     f"{np.median(q):.4f} [{q.max():.4f}] | {np.median(rg):.4f} / {rg.mean():.4f} | "
                     f"{sum(r['best_proposed'] for r in rs)}/{len(rs)} | "
                     f"{sum(r['best_pruned'] for r in rs)}/{len(rs)} | {_fresh(rs)} |")
    return "\n".join(lines)


def pool_table(families: list[str], methods: list[str], pools: list[int], seeds: int,
               seed_start: int = 0) -> str:
    """Compact table per family and pool size: each method's median share of the unpruned
    trial-epochs and how often the (subset's) full-length best was pruned."""
    lines = ["| curves | pool | " + " | ".join(methods) + " |", "|---|---|" + "---|" * len(methods)]
    for family in families:
        curves, _ = load(family)
        for pool in pools:
            rows = run(family, methods, seeds, 4 * curves.shape[1], seed_start, pool)
            full = min(pool, len(curves)) * curves.shape[1] * curves.shape[2]
            cells = []
            for m in methods:
                rs = [r for r in rows if r["method"] == m]
                cells.append(f"{np.median([r['spent'] for r in rs]) / full:.2f}, "
                             f"{sum(r['best_pruned'] for r in rs)}/{len(rs)}")
            lines.append(f"| {family} | {min(pool, len(curves))} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _fresh(rs: list[dict]) -> str:
    f = np.array([r["fresh"] for r in rs])
    return "-" if np.isnan(f).all() else f"{np.nanmedian(f):.4f} [{np.nanmax(f):.4f}]"


def cost(n_arch: int = 5000, trials: int = 5, epochs: int = 10) -> str:
    """CPU seconds per report for n_arch x trials x epochs reports, first vs last tenth of the run
    (process time: the shared box's load does not count)."""
    rng = np.random.default_rng(0)
    lines = [f"{n_arch} architectures x {trials} trials x {epochs} epochs = "
             f"{n_arch * trials * epochs} reports", "", "| rule | total CPU s | us/report (first 10%) | "
             "us/report (last 10%) |", "|---|---|---|---|"]
    for rule in ("none", "median", "asha"):
        p = make_pruner(rule, epochs=epochs, trials=trials)
        level = rng.uniform(0, 2, n_arch)
        noise = rng.standard_normal((n_arch, trials, epochs)) * 0.2
        tenth = n_arch // 10
        times = []
        start = time.process_time()
        for a in range(n_arch):
            t0 = time.process_time()
            for e in range(epochs):
                for t in range(trials):
                    p.report(a, t, e, level[a] + noise[a, t, e])
            p.finished(a)
            times.append(time.process_time() - t0)
        total = time.process_time() - start
        per = trials * epochs * 1e-6
        lines.append(f"| {rule} | {total:.2f} | {sum(times[:tenth]) / tenth / per:.1f} | "
                     f"{sum(times[-tenth:]) / tenth / per:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    """Command line: replay tables per family, or the per-report cost."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--family", nargs="+", default=["mlp", "gan"])
    ap.add_argument("--methods", nargs="+", default=[*OURS, "optuna-TPE", "optuna-TPE+SHA",
                                                     "optuna-random+SHA", "optuna-TPE+Hyperband"])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--slots", type=int, default=None, help="default: 4 architectures' trials")
    ap.add_argument("--seed-start", type=int, default=0,
                    help="first replay seed (reported: 0; options were chosen on 100-139)")
    ap.add_argument("--pool", type=int, default=None,
                    help="replay a random subset of this many architectures per seed")
    ap.add_argument("--pools", type=int, nargs="+", default=None,
                    help="compact table over these pool sizes (share, best pruned per method)")
    ap.add_argument("--cost", action="store_true")
    ap.add_argument("--floor", action="store_true", help="oracle floors of the families")
    args = ap.parse_args(argv)
    if args.cost:
        text = cost()
    elif args.floor:
        text = floors(args.family)
    elif args.pools:
        text = pool_table(args.family, args.methods, args.pools, args.seeds, args.seed_start)
    else:
        parts = []
        for family in args.family:
            curves, _ = load(family)
            slots = args.slots or 4 * curves.shape[1]
            rows = run(family, args.methods, args.seeds, slots, args.seed_start, args.pool)
            parts.append(table(rows, family, curves.shape, slots, args.pool))
        text = "\n\n".join(parts)
    print(text)
    return text


if __name__ == "__main__":
    main()
