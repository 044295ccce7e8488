#!/usr/bin/env bash
# The committed race of docs/benchmarks.md, in the order it was run (each line resumes from the
# cache, benchmarks/results/race.jsonl.gz: a finished search is never run twice, so deleting the
# cache re-runs everything, and a stopped run continues where it stopped). PYTHON: the
# interpreter (default: python on PATH, with ganhpo's dependencies and pySOT installed).
set -e
cd "$(dirname "$0")/.."
R="nice -n 10 ${PYTHON:-python} benchmarks/bench_search.py --jobs 2 --seeds 10"
$R --methods random lhs --budgets 200
$R --methods rbf pySOT-DYCORS --budgets 50 100
$R --methods rbf-variability --budgets 50 100
$R --methods rbf-forget rbf-old-options --budgets 100
$R --methods gp optuna-TPE --budgets 100 --modes seq
$R --methods rbf pySOT-DYCORS --budgets 200 --modes seq
$R --methods rbf pySOT-DYCORS --budgets 200 --modes batch8
$R --methods rbf pySOT-DYCORS --budgets 200 --modes batch32
$R --methods gp optuna-TPE --budgets 100 --modes batch8
$R --methods rbf-variability --budgets 200
