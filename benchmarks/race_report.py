"""The optimiser race's tables (Markdown) from its cached searches (benchmarks/bench_search.py)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable

import numpy as np
from scipy.stats import rankdata

__all__ = ["at_budget", "report"]

_ORDER = ["random", "lhs", "rbf", "rbf-variability", "gp", "skopt-GP", "skopt-ET", "optuna-TPE",
          "optuna-GP", "pySOT-DYCORS", "SMAC3-HPO", "rbf-old-options", "rbf-forget", "gp-noprior",
          "gp-lognormal", "gp-local"]
_MODES = ["seq", "batch8", "batch32"]
TO_RANDOM_BUDGET = 100


def at_budget(rows: list[dict], budgets: Iterable[int], budget_free: set[str]) -> dict:
    """(method, problem, mode, budget) -> {seed: trajectory of that many evaluations}.

    A search run at budget b serves b; one of a budget-free method also serves every smaller b
    (its first b evaluations are what a b-budget run would have done). A search that ended early
    (a finite space used up) is read at its last value. Cells with fewer seeds than the fullest
    cell (a grid still running) are left out.
    """
    out: dict[tuple, dict[int, list]] = {}
    for r in rows:
        for b in budgets:
            if r["budget"] == b or (r["method"] in budget_free and r["budget"] > b):
                cell = out.setdefault((r["method"], r["problem"], r["mode"], b), {})
                if r["budget"] == b or r["seed"] not in cell:
                    cell[r["seed"]] = r["regret"][:b]
    full = max((len(v) for v in out.values()), default=0)  # a cell still running is left out
    return {k: v for k, v in out.items() if len(v) == full}


def report(rows: list[dict], budgets: tuple[int, ...], methods: list[str] | None = None,
           problems: list[str] | None = None, modes: list[str] | None = None,
           budget_free: set[str] = frozenset()) -> str:
    """Markdown: summary (average rank, wins), head-to-heads, per-cell medians, evaluations to
    reach random search's final median, seconds per search."""
    rows = [r for r in rows if (methods is None or r["method"] in methods)
            and (problems is None or r["problem"] in problems) and (modes is None or r["mode"] in modes)]
    if not rows:
        return "(no cached searches match)"
    present = {r["method"] for r in rows}
    methods = [m for m in _ORDER if m in present] + sorted(present - set(_ORDER))
    problems = list(dict.fromkeys(r["problem"] for r in rows)) if problems is None else \
        [p for p in problems if any(r["problem"] == p for r in rows)]
    modes = [m for m in _MODES if any(r["mode"] == m for r in rows)]
    trajs = at_budget(rows, budgets, budget_free)
    med = {k: float(np.median([t[-1] for t in v.values()])) for k, v in trajs.items()}
    cells = [(p, mo, b) for b in budgets for mo in modes for p in problems]
    ranks = _ranks(med, methods, cells)
    n_cells = {m: sum((m, *c) in med for c in cells) for m in methods}
    tiers = []  # one summary per distinct cell count: the methods that ran at least that many
    for t in sorted({v for v in n_cells.values() if v}):
        group = [m for m in methods if n_cells[m] >= t]
        if len(group) > 1 and (not tiers or group != tiers[-1]):
            tiers.append(group)
    parts = [_summary(med, group, cells, budgets, "every method" if i == 0 else
                      f"the {len(group)} methods that ran at least {min(n_cells[m] for m in group)} cells")
             for i, group in enumerate(tiers)]
    parts += [
             _head_to_head(med, methods, cells, budgets),
             _losses(med, cells, "rbf", "pySOT-DYCORS"), _losses(med, cells, "gp", "pySOT-DYCORS"),
             _not_first(med, methods, cells)]
    for mo in modes:
        for b in budgets:
            parts.append(_cell_table(trajs, ranks, methods, problems, mo, b))
    b_to = TO_RANDOM_BUDGET if TO_RANDOM_BUDGET in budgets else max(budgets)
    parts += [_to_random(trajs, methods, problems, modes, b_to), _seconds(rows, methods, modes)]
    return "\n".join(p for p in parts if p)


def _ranks(med: dict, methods: list[str], cells: list[tuple]) -> dict:
    """(method, cell) -> rank of its median regret among the methods that ran the cell (1 = best)."""
    out = {}
    for p, mo, b in cells:
        here = [m for m in methods if (m, p, mo, b) in med]
        for m, r in zip(here, rankdata([med[(m, p, mo, b)] for m in here])):
            out[(m, (p, mo, b))] = float(r)
    return out


def _summary(med: dict, methods: list[str], cells: list[tuple], budgets: tuple[int, ...], who: str) -> str:
    """Average rank and wins of ``methods`` over the cells every one of them ran."""
    common = [c for c in cells if all((m, *c) in med for m in methods)]
    if not common:
        return ""
    ranks = _ranks(med, methods, common)
    lines = [f"\n**Summary, {who}** ({len(common)} cells that all of them ran): average rank of the "
             "median true regret (1 = best), and wins (cells where its median is the lowest, ties "
             "shared)\n",
             "| method | avg rank | " + " | ".join(f"rank @{b}" for b in budgets) + " | wins |",
             "|---" * (len(budgets) + 3) + "|"]
    for m in methods:
        mine = [(c, ranks[(m, c)]) for c in common]
        per_b = [np.mean([r for c, r in mine if c[2] == b]) if any(c[2] == b for c, _ in mine) else np.nan
                 for b in budgets]
        wins = sum(1.0 / sum(1 for mm in methods if ranks[(mm, c)] == r) for c, r in mine
                   if r == min(ranks[(mm, c)] for mm in methods))
        lines.append(f"| {m} | {np.mean([r for _, r in mine]):.2f} | "
                     + " | ".join("-" if np.isnan(v) else f"{v:.2f}" for v in per_b) + f" | {wins:.1f} |")
    return "\n".join(lines)


def _head_to_head(med: dict, methods: list[str], cells: list[tuple], budgets: tuple[int, ...]) -> str:
    rival = "pySOT-DYCORS"
    ours = [m for m in ("rbf", "rbf-variability", "gp", "rbf-old-options", "rbf-forget", "gp-noprior",
                        "gp-lognormal", "gp-local") if m in methods]
    if rival not in methods or not ours:
        return ""
    lines = [f"\n**Head to head against {rival}**: cells where the median regret is lower / higher "
             "(equal medians count as ties)\n",
             "| ours | " + " | ".join(f"@{b}" for b in budgets) + " | all |", "|---" * (len(budgets) + 2) + "|"]
    for m in ours:
        row = []
        for sel in [*[(b,) for b in budgets], tuple(budgets)]:
            w = l_ = t = 0
            for p, mo, b in cells:
                a, r = med.get((m, p, mo, b)), med.get((rival, p, mo, b))
                if b not in sel or a is None or r is None:
                    continue
                w, l_, t = w + (a < r), l_ + (a > r), t + (a == r)
            row.append(f"{w} / {l_}" + (f" ({t} tied)" if t else ""))
        lines.append(f"| {m} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def _losses(med: dict, cells: list[tuple], ours: str, rival: str) -> str:
    lost = [(p, mo, b, med[(ours, p, mo, b)], med[(rival, p, mo, b)]) for p, mo, b in cells
            if (ours, p, mo, b) in med and (rival, p, mo, b) in med
            and med[(ours, p, mo, b)] > med[(rival, p, mo, b)]]
    if not lost:
        return ""
    return (f"\n**Where {ours} loses to {rival}** (median regret, ours vs theirs): "
            + "; ".join(f"{p} {mo} @{b}: {a:.3g} vs {r:.3g}" for p, mo, b, a, r in lost))


def _not_first(med: dict, methods: list[str], cells: list[tuple]) -> str:
    """Per problem, the cells where neither rbf nor gp has the lowest median, and who has."""
    ours = {"rbf", "rbf-variability", "gp"}
    lost = []
    for p, mo, b in cells:
        here = {m: med[(m, p, mo, b)] for m in methods if (m, p, mo, b) in med}
        if not ours & set(here):
            continue
        winner = min(here, key=here.get)
        if winner not in ours:
            lost.append(f"{p} {mo} @{b}: {winner} {here[winner]:.3g} (our best "
                        f"{min(v for m, v in here.items() if m in ours):.3g})")
    if not lost:
        return ""
    return (f"\n**Cells no method of ours wins** ({len(lost)} of {len(cells)}; the winner, its median "
            "regret, and our best): " + "; ".join(lost))


def _cell_table(trajs: dict, ranks: dict, methods: list[str], problems: list[str], mode: str, b: int) -> str:
    lines = [f"\n**{mode}, budget {b}**: normalised true regret, median [IQR] over seeds\n",
             "| method | " + " | ".join(problems) + " | avg rank |", "|---" * (len(problems) + 2) + "|"]
    for m in methods:
        cells, rk = [], []
        for p in problems:
            v = trajs.get((m, p, mode, b))
            if v is None:
                cells.append("-")
                continue
            q = np.percentile([t[-1] for t in v.values()], [25, 50, 75])
            cells.append(f"{q[1]:.3f} [{q[0]:.3f}, {q[2]:.3f}]")
            rk.append(ranks[(m, (p, mode, b))])
        if rk:
            lines.append(f"| {m} | " + " | ".join(cells) + f" | {np.mean(rk):.2f} |")
    return "\n".join(lines)


def _to_random(trajs: dict, methods: list[str], problems: list[str], modes: list[str], b: int) -> str:
    """Median evaluations to reach random search's median regret at budget b, per cell and overall."""
    lines = [f"\n**Evaluations to reach random search's final median regret at budget {b}** "
             f"(median over seeds of the first evaluation at or below it; '>{b}': most seeds never "
             "do). Summary: the median over cells, and that as a share of random's budget\n",
             "| method | median evals | share of random's | " + " | ".join(
                 f"{p} {mo}" for p in problems for mo in modes) + " |",
             "|---" * (len(problems) * len(modes) + 3) + "|"]
    for meth in methods:
        cells, hits_all = [], []
        for p in problems:
            for mo in modes:
                target, mine = trajs.get(("random", p, mo, b)), trajs.get((meth, p, mo, b))
                if not target or not mine:
                    cells.append("-")
                    continue
                goal = float(np.median([t[-1] for t in target.values()]))
                hits = [next((i + 1 for i, v in enumerate(t) if v <= goal), math.inf) for t in mine.values()]
                med = float(np.median(hits))
                hits_all.append(med)
                cells.append(f">{b}" if not np.isfinite(med) else f"{med:.0f}")
        if hits_all:
            overall = float(np.median(hits_all))
            share = f"{overall / b:.2f}" if np.isfinite(overall) else f">{1:.2f}"
            lines.append(f"| {meth} | {'>' + str(b) if not np.isfinite(overall) else f'{overall:.0f}'} | "
                         f"{share} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _seconds(rows: list[dict], methods: list[str], modes: list[str]) -> str:
    lines = ["\n**Optimiser time per search** (ask + tell, seconds, median over searches, by budget run)\n",
             "| method | budget | " + " | ".join(modes) + " |", "|---" * (len(modes) + 2) + "|"]
    for m in methods:
        for b in sorted({r["budget"] for r in rows if r["method"] == m}):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cell = [np.median([r["seconds"] for r in rows if r["method"] == m and r["mode"] == mo
                                   and r["budget"] == b] or [np.nan]) for mo in modes]
            lines.append(f"| {m} | {b} | " + " | ".join(f"{c:.1f}" for c in cell) + " |")
    return "\n".join(lines)
