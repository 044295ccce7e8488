#!/usr/bin/env bash
# The committed race of docs/benchmarks.md, in the order it was run (each line resumes from the
# cache, benchmarks/results/race.jsonl.gz: a finished search is never run twice, so deleting the
# cache re-runs everything, and a stopped run continues where it stopped). PYTHON: the
# interpreter (default: python on PATH, with ganhpo's dependencies and pySOT installed).
set -e
cd "$(dirname "$0")/.."
R="nice -n 10 ${PYTHON:-python} benchmarks/bench_search.py --jobs ${JOBS:-2} --seeds 10"
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
# issue 17, second pass (branch h-race2): gp with its length-scale prior, its ablations, and rivals
P5="rastrigin-3d-lattice hartmann3-cat-4d-398k hartmann6-6d-1.8M gan-6d-lattice levy-8d-mixed"
$R --methods gp-lognormal --budgets 100 --modes seq batch8 --problems rastrigin-3d-lattice hartmann3-cat-4d-398k hartmann6-6d-1.8M
$R --methods gp gp-local --budgets 100 --modes seq batch8 --problems $P5
$R --methods gp --budgets 100 --modes seq batch8
$R --methods skopt-GP --budgets 100 --modes seq --problems branin-2d-441
$R --methods SMAC3-HPO --budgets 50 --modes seq --problems branin-2d-441
$R --methods skopt-GP --budgets 100 --modes seq --problems hartmann3-cat-4d-398k
$R --methods SMAC3-HPO --budgets 50 --modes seq --problems hartmann3-cat-4d-398k
# issue 17, third pass (branch h-gp3): gp with a 2(d+1) design told before it models, four local
# scales and the kriging believer replaces every earlier gp row; gp-min is the same gp with the
# old liar (its rows were run as gp before the believer became the default, then renamed)
$R --methods gp --budgets 100 --modes seq batch8 batch32
$R --methods gp-min --budgets 100 --modes batch8 batch32
$R --methods optuna-TPE --budgets 100 --modes batch32
$R --methods SMAC3-HPO --budgets 50 --modes seq
$R --methods skopt-GP --budgets 100 --modes seq
$R --methods gp --budgets 200 --modes seq
