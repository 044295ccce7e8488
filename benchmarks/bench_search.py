"""The fair race: every optimiser on a suite of noisy, HYPPO-shaped problems (true regret).

Problems (d = 2 to 10; lattices of 441 to millions of points, mixed lattice + real + categorical;
Gaussian noise with sd a fraction, 2 % to 10 %, of the function's range over the space, 3 trials
per point). Each search is scored after every evaluation by the TRUE (noise-free) normalised
regret (f(x) - f*) / range of the point that is best by observed mean. Modes: ``seq`` (one
point in flight) and ``batch8`` (eight pending: tell the oldest, ask one replacement, as the
driver does). Results go to a JSON-lines cache (one line per search, so a run can be resumed
or extended method by method); ``--report`` turns the cache into the Markdown tables of
docs/benchmarks.md, ``--cost`` times one ask+tell after 100/500/2,000 told points.

    python benchmarks/bench_search.py --seeds 10 --jobs 2 --out runs/race.jsonl
    python benchmarks/bench_search.py --report --out runs/race.jsonl
    python benchmarks/bench_search.py --cost
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import multiprocessing as mp  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections import deque  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from scipy.stats import rankdata  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from orchestrator.objectives import HARTMANN6_MIN, hartmann6  # noqa: E402
from orchestrator.optimizers import OPTIMIZERS, SpaceExhausted, make_optimizer  # noqa: E402
from orchestrator.space import SearchSpace  # noqa: E402

# ----- problems ---------------------------------------------------------------------------------

_H3_A = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
_H3_P = 1e-4 * np.array([[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]])
_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def branin(x1: float, x2: float) -> float:
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def hartmann3(x: np.ndarray) -> float:
    return float(-(np.exp(-np.sum(_H3_A * (x - _H3_P) ** 2, axis=1)) @ _ALPHA))


def levy(x: np.ndarray) -> float:
    w = 1 + (x - 1) / 4
    body = np.sum((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(np.pi * w[:-1] + 1) ** 2))
    return float(np.sin(np.pi * w[0]) ** 2 + body + (w[-1] - 1) ** 2 * (1 + np.sin(2 * np.pi * w[-1]) ** 2))


def styblinski_tang(x: np.ndarray) -> float:
    return float(0.5 * np.sum(x**4 - 16 * x**2 + 5 * x))


@dataclass
class Problem:
    """A noisy test function over a HYPPO-like space; noise sd = noise * range."""

    space: dict
    f: Callable[[dict], float]
    f_min: float
    noise: float

    def __post_init__(self) -> None:
        self.space = SearchSpace(self.space)
        rng = np.random.default_rng(12345)
        values = [self.f(self.space.decode(u)) for u in rng.random((4000, self.space.dim))]
        self.range = float(np.percentile(values, 95) - self.f_min)  # robust range: 95th pct - f*

    def regret(self, point: dict) -> float:
        return (self.f(point) - self.f_min) / self.range


_CAT3 = {"relu": 0.0, "tanh": 0.4, "elu": 0.8}
_LEVY_CAT = {"sgd": -5.0, "adam": 1.0, "rmsprop": 6.0}
_ST_CAT = {"relu": 0.0, "tanh": -2.9035, "elu": 2.0, "selu": 5.0}
ST_MIN = -39.16616570377142

PROBLEMS: dict[str, Callable[[], Problem]] = {
    "branin-2d-441": lambda: Problem(
        {"x1": {"lower": 0, "upper": 20, "scale": 0.05}, "x2": {"lower": 0, "upper": 20, "scale": 0.05}},
        lambda p: branin(-5 + 15 * p["x1"], 15 * p["x2"]), 0.397887, 0.05),
    "hartmann3-cat-4d-398k": lambda: Problem(
        {**{f"x{i}": {"lower": 0, "upper": 50, "scale": 0.02} for i in range(3)}, "act": list(_CAT3)},
        lambda p: hartmann3(np.array([p["x0"], p["x1"], p["x2"]])) + _CAT3[p["act"]], -3.86278, 0.02),
    "hartmann6-6d-1.8M": lambda: Problem(
        {f"x{i}": {"lower": 0, "upper": 10, "scale": 0.1} for i in range(6)},
        lambda p: float(hartmann6(np.array([p[f"x{i}"] for i in range(6)]))[0]), HARTMANN6_MIN, 0.10),
    "levy-8d-mixed": lambda: Problem(
        {**{f"x{i}": {"lower": 0, "upper": 40, "scale": 0.5} for i in range(5)},
         "x5": {"low": -10.0, "high": 10.0}, "lr": {"low": 1e-4, "high": 1.0, "log": True},
         "opt": list(_LEVY_CAT)},
        lambda p: levy(np.array([p[f"x{i}"] - 10 for i in range(5)]
                                + [p["x5"], 5 * math.log10(p["lr"]) + 10, _LEVY_CAT[p["opt"]]])), 0.0, 0.05),
    "styblinski-10d-mixed": lambda: Problem(
        {**{f"x{i}": {"lower": 0, "upper": 30, "scale": 1} for i in range(8)},
         "x8": {"low": -5.0, "high": 5.0}, "act": list(_ST_CAT)},
        lambda p: styblinski_tang(np.array([-5 + p[f"x{i}"] / 3 for i in range(8)]
                                           + [p["x8"], _ST_CAT[p["act"]]])), 10 * ST_MIN, 0.03),
}


# ----- external optimisers behind the same ask/tell (benchmark-only adapters) -------------------

def _vector_to_point(space: SearchSpace, vec: np.ndarray) -> dict:
    """Level indices (discrete) or unit values (real) to a point of the space."""
    row = np.empty(space.dim)
    for i, p in enumerate(space.params.values()):
        if p.kind == "real":
            row[i] = float(vec[i])
        elif p.kind == "categorical":
            row[i] = (round(float(vec[i])) + 0.5) / p.n_levels
        else:
            row[i] = round(float(vec[i])) / max(1, p.n_levels - 1)
    return space.decode(row)


class DycorsAdapter:
    """pySOT's DYCORSStrategy (cubic RBF, symmetric LHS of 2(d+1) points, asynchronous)."""

    def __init__(self, space: SearchSpace, seed: int, budget: int):
        from poap.strategy import EvalRecord
        from pySOT.experimental_design import SymmetricLatinHypercube
        from pySOT.optimization_problems import OptimizationProblem
        from pySOT.strategy import DYCORSStrategy
        from pySOT.surrogate import CubicKernel, LinearTail, RBFInterpolant

        np.random.seed(seed)  # pySOT draws from the global generator
        self.space, self._record = space, EvalRecord
        d = space.dim
        prob = OptimizationProblem()
        prob.dim = d
        prob.lb = np.zeros(d)
        prob.ub = np.array([1.0 if p.kind == "real" else p.n_levels - 1 for p in space.params.values()])
        prob.int_var = np.array([i for i, p in enumerate(space.params.values()) if p.kind != "real"])
        prob.cont_var = np.array([i for i, p in enumerate(space.params.values()) if p.kind == "real"])
        rbf = RBFInterpolant(dim=d, lb=prob.lb, ub=prob.ub, kernel=CubicKernel(), tail=LinearTail(d))
        self.strategy = DYCORSStrategy(max_evals=budget, opt_prob=prob, asynchronous=True, surrogate=rbf,
                                       exp_design=SymmetricLatinHypercube(dim=d, num_pts=2 * (d + 1)))
        self.open: dict[tuple, deque] = {}

    def ask(self, n: int) -> list[dict]:
        out = []
        st = self.strategy
        for _ in range(n):
            if not st.batch_queue and len(st._X) < st.num_exp:
                break  # the surrogate needs the whole initial design back (pySOT's own rule)
            proposal = st.propose_action()
            if proposal is None or proposal.action != "eval":
                break
            proposal.record = self._record(proposal.args)
            proposal.accept()
            point = _vector_to_point(self.space, proposal.args[0])
            self.open.setdefault(self.space.key(point), deque()).append(proposal.record)
            out.append(point)
        return out

    def tell(self, points: list[dict], means: list[float], stds: list[float]) -> None:
        for p, m in zip(points, means):
            self.open[self.space.key(p)].popleft().complete(float(m))


class SmacAdapter:
    """SMAC3's HyperparameterOptimizationFacade (random forest), deterministic=True (3-trial means)."""

    def __init__(self, space: SearchSpace, seed: int, budget: int):
        from ConfigSpace import Categorical, ConfigurationSpace, Float, Integer
        from smac import HyperparameterOptimizationFacade, Scenario

        self.space = space
        cs = ConfigurationSpace(seed=seed)
        for name, p in space.params.items():
            if p.kind == "real":
                cs.add(Float(name, (p.low, p.high), log=p.log))
            elif p.kind == "categorical":
                cs.add(Categorical(name, [str(i) for i in range(p.n_levels)]))
            else:
                cs.add(Integer(name, (0, p.n_levels - 1)))
        self._dir = tempfile.mkdtemp(prefix="smac-")
        scenario = Scenario(cs, deterministic=True, n_trials=budget, seed=seed,
                            output_directory=Path(self._dir) / "out")
        self.smac = HyperparameterOptimizationFacade(scenario, lambda config, seed=0: 0.0, overwrite=True,
                                                     logging_level=40)
        self.open: dict[tuple, deque] = {}

    def __del__(self) -> None:
        shutil.rmtree(getattr(self, "_dir", ""), ignore_errors=True)

    def ask(self, n: int) -> list[dict]:
        from smac.runhistory.dataclasses import TrialValue  # noqa: F401  (import check)

        out = []
        for _ in range(n):
            info = self.smac.ask()
            cfg = dict(info.config)
            vec = [float(cfg[name]) if p.kind != "real" else p.encode(cfg[name])
                   for name, p in self.space.params.items()]
            point = _vector_to_point(self.space, np.array(vec))
            self.open.setdefault(self.space.key(point), deque()).append(info)
            out.append(point)
        return out

    def tell(self, points: list[dict], means: list[float], stds: list[float]) -> None:
        from smac.runhistory.dataclasses import TrialValue

        for p, m in zip(points, means):
            self.smac.tell(self.open[self.space.key(p)].popleft(), TrialValue(cost=float(m)))


def _ours(name: str, **options):
    """A registered optimiser; budget and trials per point go to those that accept them (as in
    the driver's build_optimizer)."""
    def build(space: SearchSpace, seed: int, budget: int):
        accepted = OPTIMIZERS[name].defaults
        extra = {k: v for k, v in (("budget", budget), ("trials", TRIALS)) if k in accepted}
        return make_optimizer(name, space, seed=seed, **extra, **options)
    return build


METHODS: dict[str, Callable] = {
    "random": _ours("random"), "lhs": _ours("lhs"), "rbf": _ours("rbf"),
    "rbf-variability": _ours("rbf", variability=True), "gp": _ours("gp"),
    # skopt scores 2,000 random candidates (its default: 10,000 and L-BFGS polishing for a GP), the
    # candidate count of our gp, so that the race fits the shared machine; see docs/benchmarks.md
    "skopt-GP": _ours("skopt", base_estimator="GP", n_points=2000, acq_optimizer="sampling"),
    "skopt-ET": _ours("skopt", base_estimator="ET", n_points=2000, acq_optimizer="sampling"),
    "optuna-TPE": _ours("optuna", sampler="tpe"), "optuna-GP": _ours("optuna", sampler="gp"),
    "pySOT-DYCORS": DycorsAdapter, "SMAC3-HPO": SmacAdapter,
}
OURS = ("rbf", "rbf-variability", "gp")
TRIALS = 3  # trainings per point: their mean and std are told


def available(method: str) -> str | None:
    """Why a method cannot run here, or None."""
    import importlib.util as iu

    needs = {"optuna-GP": ("optuna", "torch"), "pySOT-DYCORS": ("pySOT", "poap"), "SMAC3-HPO": ("smac",),
             "skopt-GP": ("skopt",), "skopt-ET": ("skopt",), "optuna-TPE": ("optuna",)}.get(method, ())
    missing = [m for m in needs if iu.find_spec(m) is None]
    return f"needs {', '.join(missing)} (not installed)" if missing else None


# ----- one search -------------------------------------------------------------------------------

def run_search(task: dict) -> dict:
    """One search; the regret trajectory (after each evaluation) and the ask+tell seconds."""
    method, pname, mode, seed, budget = (task[k] for k in ("method", "problem", "mode", "seed", "budget"))
    prob = _problem(pname)
    rng = np.random.default_rng([seed, list(PROBLEMS).index(pname), 99])  # same noise for all methods
    sd = prob.noise * prob.range
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opt = METHODS[method](prob.space, seed, budget)
        inflight = 1 if mode == "seq" else 8
        pending: deque = deque()
        means: dict[tuple, list] = {}
        points: dict[tuple, dict] = {}
        traj: list[float] = []
        asked, seconds = 0, 0.0
        while len(traj) < budget:
            want = min(inflight - len(pending), budget - asked)
            if want > 0:
                start = time.perf_counter()
                try:
                    batch = opt.ask(want)
                except SpaceExhausted:
                    batch = []
                seconds += time.perf_counter() - start
                pending.extend(batch)
                asked += len(batch)
            if not pending:
                break
            p = pending.popleft()
            y = prob.f(p) + sd * rng.standard_normal(TRIALS)
            start = time.perf_counter()
            opt.tell([p], [float(y.mean())], [float(y.std())])
            seconds += time.perf_counter() - start
            key = prob.space.key(p)
            means.setdefault(key, []).append(float(y.mean()))
            points[key] = p
            best = min(means, key=lambda k: np.mean(means[k]))
            traj.append(prob.regret(points[best]))
    return {**task, "regret": traj, "seconds": seconds}


_CACHE: dict[str, Problem] = {}


def _problem(name: str) -> Problem:
    if name not in _CACHE:
        _CACHE[name] = PROBLEMS[name]()
    return _CACHE[name]


def race(methods: list[str], problems: list[str], modes: list[str], seeds: int, budget: int,
         jobs: int, out: Path) -> None:
    """Run every missing (method, problem, mode, seed) search, appending results to ``out``."""
    done = {(r["method"], r["problem"], r["mode"], r["seed"], r["budget"]) for r in _read(out)}
    tasks = [{"method": m, "problem": p, "mode": mo, "seed": s, "budget": budget}
             for m in methods for p in problems for mo in modes for s in range(seeds)
             if (m, p, mo, s, budget) not in done]
    out.parent.mkdir(parents=True, exist_ok=True)
    start = time.time()
    pool = mp.get_context("spawn").Pool(jobs) if jobs > 1 else None
    results = pool.imap_unordered(run_search, tasks) if pool else map(run_search, tasks)
    with out.open("a") as fh:
        for i, res in enumerate(results):
            fh.write(json.dumps(res) + "\n")
            fh.flush()
            print(f"[{i + 1}/{len(tasks)} {time.time() - start:.0f}s] {res['method']} {res['problem']} "
                  f"{res['mode']} seed {res['seed']}: regret {res['regret'][-1]:.4f}, "
                  f"{res['seconds']:.1f}s", file=sys.stderr, flush=True)
    if pool:
        pool.close()
        pool.join()


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


# ----- the report -------------------------------------------------------------------------------

def report(path: Path, budgets: tuple[int, ...] = (50, 100), methods: list[str] | None = None,
           problems: list[str] | None = None, modes: list[str] | None = None) -> str:
    """Markdown: median [IQR] per problem, average ranks, goal counts, evaluations to random's best."""
    rows = [r for r in _read(path) if (methods is None or r["method"] in methods)
            and (problems is None or r["problem"] in problems) and (modes is None or r["mode"] in modes)]
    methods = [m for m in METHODS if any(r["method"] == m for r in rows)]
    problems = [p for p in PROBLEMS if any(r["problem"] == p for r in rows)]
    modes = [m for m in ("seq", "batch8") if any(r["mode"] == m for r in rows)]
    full = max(r["budget"] for r in rows)
    at = {}  # (method, problem, mode, budget) -> array of regrets over seeds
    for r in rows:
        for b in budgets:
            if len(r["regret"]) >= b or (b == full and r["regret"]):
                at.setdefault((r["method"], r["problem"], r["mode"], b), []).append(r["regret"][min(b, len(r["regret"])) - 1])
    out = []
    for mode in modes:
        for b in budgets:
            out += [f"\n**{mode}, budget {b}**: normalised true regret, median [IQR] over seeds\n",
                    "| method | " + " | ".join(problems) + " | avg rank |",
                    "|---" * (len(problems) + 2) + "|"]
            med = np.array([[np.median(at.get((m, p, mode, b), [np.nan])) for p in problems] for m in methods])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a method missing everywhere ranks nan
                ranks = np.nanmean(np.array([rankdata(med[:, j], nan_policy="omit")
                                             for j in range(len(problems))]).T, axis=1)
            for i, m in enumerate(methods):
                cells = []
                for p in problems:
                    v = at.get((m, p, mode, b))
                    cells.append("-" if v is None else "{1:.3f} [{0:.3f}, {2:.3f}]".format(*np.percentile(v, [25, 50, 75])))
                out.append(f"| {m} | " + " | ".join(cells) + f" | {ranks[i]:.2f} |")
    out += ["", _goals(at, methods, problems, modes, full), _to_random(rows, methods, problems, modes, full),
            _seconds(rows, methods)]
    return "\n".join(out)


def _goals(at: dict, methods: list, problems: list, modes: list, b: int) -> str:
    """Per method of ours: on how many (problem, mode) cells it beats optuna-TPE and skopt-GP."""
    lines = [f"\n**Goal check at budget {b}** (median regret strictly lower than both rivals)\n",
             "| ours | beats optuna-TPE and skopt-GP on | of |", "|---|---|---|"]
    for m in (x for x in OURS if x in methods):
        wins = total = 0
        for p in problems:
            for mode in modes:
                rivals = [at.get((r, p, mode, b)) for r in ("optuna-TPE", "skopt-GP")]
                if at.get((m, p, mode, b)) is None or any(v is None for v in rivals):
                    continue
                total += 1
                wins += all(np.median(at[(m, p, mode, b)]) < np.median(v) for v in rivals)
        lines.append(f"| {m} | {wins} | {total} |")
    return "\n".join(lines)


def _to_random(rows: list, methods: list, problems: list, modes: list, b: int) -> str:
    """Median evaluations to reach random search's final median regret (per problem, seq mode)."""
    lines = [f"\n**Evaluations to reach random search's median regret at {b}** (median over seeds; "
             f"'>{b}' when most seeds never do)\n",
             "| method | " + " | ".join(f"{p} {m}" for p in problems for m in modes) + " |",
             "|---" * (len(problems) * len(modes) + 1) + "|"]
    for meth in methods:
        cells = []
        for p in problems:
            for mode in modes:
                target = [r["regret"][-1] for r in rows if r["method"] == "random" and r["problem"] == p
                          and r["mode"] == mode]
                mine = [r["regret"] for r in rows if r["method"] == meth and r["problem"] == p and r["mode"] == mode]
                if not target or not mine:
                    cells.append("-")
                    continue
                goal = np.median(target)
                hits = [next((i + 1 for i, v in enumerate(t) if v <= goal), math.inf) for t in mine]
                med = np.median(hits)
                cells.append(f">{b}" if not np.isfinite(med) else f"{med:.0f}")
        lines.append(f"| {meth} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _seconds(rows: list, methods: list) -> str:
    lines = ["\n**Optimiser time per search** (ask + tell, seconds, median over all searches)\n",
             "| method | seq | batch8 |", "|---|---|---|"]
    for m in methods:
        cell = [np.median([r["seconds"] for r in rows if r["method"] == m and r["mode"] == mode] or [np.nan])
                for mode in ("seq", "batch8")]
        lines.append(f"| {m} | {cell[0]:.1f} | {cell[1]:.1f} |")
    return "\n".join(lines)


# ----- ask+tell cost against the number of told points --------------------------------------

def _cost_cell(method: str, n: int, queue: mp.Queue) -> None:
    prob = _problem("levy-8d-mixed")
    rng = np.random.default_rng(n)
    opt = METHODS[method](prob.space, 0, 2 * n)
    pts = [prob.space.decode(u) for u in rng.random((n, prob.space.dim))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opt.tell(pts, [prob.f(p) for p in pts], [0.1] * n)
        start = time.perf_counter()
        p = opt.ask(1)
        opt.tell(p, [prob.f(p[0])], [0.1])
    queue.put(time.perf_counter() - start)


def cost(methods: list[str], sizes: tuple[int, ...], timeout: float) -> str:
    """Seconds for one ask(1) + tell after ``n`` told points (levy-8d-mixed), one process per cell."""
    lines = [f"\n**ask(1) + tell cost after n told points** (levy-8d-mixed, seconds; '>{timeout:.0f}' "
             "= stopped)\n", "| method | " + " | ".join(f"n = {n}" for n in sizes) + " |",
             "|---" * (len(sizes) + 1) + "|"]
    ctx = mp.get_context("spawn")
    for m in methods:
        cells, slow = [], False
        for n in sizes:
            if slow:
                cells.append("-")
                continue
            q = ctx.Queue()
            proc = ctx.Process(target=_cost_cell, args=(m, n, q))
            proc.start()
            proc.join(timeout)
            if proc.is_alive():
                proc.kill()
                proc.join()
                cells.append(f">{timeout:.0f}")
                slow = True
            else:
                cells.append(f"{q.get():.3f}" if proc.exitcode == 0 else "error")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
        print(lines[-1], file=sys.stderr, flush=True)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    """Run the race (or the report, or the cost table) and print Markdown; returns it too."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="*", default=list(METHODS))
    parser.add_argument("--problems", nargs="*", default=list(PROBLEMS))
    parser.add_argument("--modes", nargs="*", default=["seq", "batch8"], choices=["seq", "batch8"])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2, help="processes (at most 2 on a shared box)")
    parser.add_argument("--out", type=Path, default=Path("runs/race.jsonl"))
    parser.add_argument("--report", action="store_true", help="only print the tables of --out")
    parser.add_argument("--cost", action="store_true", help="only time ask+tell at 100/500/2000 points")
    parser.add_argument("--sizes", type=int, nargs="*", default=[100, 500, 2000])
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    skipped = {m: why for m in args.methods if (why := available(m))}
    for m, why in skipped.items():
        print(f"skipping {m}: {why}", file=sys.stderr)
    methods = [m for m in args.methods if m not in skipped]
    if args.cost:
        text = cost([m for m in methods if not isinstance(METHODS[m], type)],  # ours and backends
                    tuple(args.sizes), args.timeout)
    else:
        if not args.report:
            race(methods, args.problems, args.modes, args.seeds, args.budget, min(args.jobs, 2), args.out)
        budgets = tuple(b for b in (50, 100) if b < args.budget) + (args.budget,)
        text = report(args.out, budgets, args.methods, args.problems, args.modes)
    print(text)
    return text


if __name__ == "__main__":
    main()
