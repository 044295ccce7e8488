"""CI smoke run of the optimiser race (benchmarks/bench_search.py) at tiny sizes; its problems'
known optima checked against the published values."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_search  # noqa: E402


def test_problem_functions_hit_their_published_minima():
    assert bench_search.branin(math.pi, 2.275) == pytest.approx(0.397887, abs=1e-6)
    assert bench_search.branin(-math.pi, 12.275) == pytest.approx(0.397887, abs=1e-6)
    assert bench_search.hartmann3(np.array([0.114614, 0.555649, 0.852547])) == pytest.approx(-3.86278, abs=1e-5)
    assert bench_search.levy(np.ones(8)) == pytest.approx(0.0, abs=1e-12)
    assert bench_search.styblinski_tang(np.full(10, -2.903534)) == pytest.approx(10 * bench_search.ST_MIN, abs=1e-6)
    gan = bench_search.PROBLEMS["gan-6d-lattice"]()  # its optimum lies on the lattice
    best = {"noise_dim": 20, "batch_size": 256, "lr_gen": 40 * 5e-5, "lr_disc": 80 * 5e-5,
            "gen_layersize": 512, "disc_layersize": 1024}
    assert gan.regret(best) == pytest.approx(0.0, abs=1e-12)
    for name, make in bench_search.PROBLEMS.items():
        prob = make()
        assert prob.range > 0, name
        values = [prob.regret(prob.space.decode(u)) for u in np.random.default_rng(0).random((200, prob.space.dim))]
        assert min(values) >= -1e-9, name  # f* really is a lower bound on the space


@pytest.mark.slow
def test_race_smoke_run_writes_every_table(tmp_path):
    out = tmp_path / "race.jsonl.gz"
    methods = ["random", "rbf", "skopt-GP", "optuna-TPE", "pySOT-DYCORS"]
    text = bench_search.main(["--seeds", "2", "--budgets", "6", "12", "--jobs", "1", "--methods", *methods,
                              "--problems", "branin-2d-441", "--modes", "seq", "batch8", "--out", str(out)])
    rows = bench_search.read(out)
    ran = {r["method"] for r in rows}
    assert {"random", "rbf", "skopt-GP", "optuna-TPE"} <= ran
    budget_bound = {m for m in ran if m not in bench_search.BUDGET_FREE}  # run at 6 and at 12
    assert len(rows) == (len(ran) + len(budget_bound)) * 2 * 2  # (methods, budgets) x modes x seeds
    for r in rows:
        assert len(r["regret"]) == r["budget"] and all(v >= -1e-9 for v in r["regret"])
    headings = ["**seq, budget 12**", "**batch8, budget 6**", "**Summary, every method**",
                "random search's final median", "Optimiser time per search"]
    if "pySOT-DYCORS" in ran:  # the head-to-head table needs the rival ([bench] extra)
        headings.append("Head to head")
    for heading in headings:
        assert heading in text
    # a second call only reports: nothing is rerun
    again = bench_search.main(["--report", "--budgets", "6", "12", "--out", str(out)])
    assert len(bench_search.read(out)) == len(rows) and "| rbf |" in again


@pytest.mark.slow
def test_cost_table_times_one_ask_and_tell():
    text = bench_search.main(["--cost", "--methods", "random", "rbf", "--sizes", "20", "--timeout", "120"])
    lines = [line for line in text.splitlines() if line.startswith("| rbf ") or line.startswith("| random ")]
    assert len(lines) == 2
    for line in lines:
        cells = [c.strip() for c in line.strip("|").split("|")[1:]]
        assert all(0 < float(c) < 120 for c in cells), line
