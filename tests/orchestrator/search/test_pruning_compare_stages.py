"""Pruning with `ganhpo compare --pruning` and with `stages:`, on the cheap bowl_curve objective."""

import csv
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml
from distributed import Client, LocalCluster

from orchestrator.analysis.compare import variant_experiment
from orchestrator.cli import main
from orchestrator.experiment import Experiment, ExperimentError
from orchestrator.search import run
from orchestrator.store import DONE, FAILED, PRUNED, read_store
from orchestrator.store.view import trial_epochs
from tests.orchestrator.search.killing import kill_driver_when

ROOT = Path(__file__).resolve().parents[3]
GRID = {"x0": {"lower": 0, "upper": 3, "scale": 0.25}, "x1": {"lower": 0, "upper": 3, "scale": 0.25}}
BASE = dict(space=GRID, trial="orchestrator.objectives:bowl_curve", epochs=9, trials=2, budget=10,
            max_pending=4, seed=3, optimizer={"name": "random"}, data={"epoch_seconds": 0.03})


@pytest.fixture(scope="module")
def client():
    with LocalCluster(n_workers=4, threads_per_worker=1, processes=False,
                      dashboard_address=":0") as cluster, Client(cluster) as c:
        yield c


def test_variant_keeps_the_experiments_own_rule_options():
    exp = Experiment(**BASE, pruning={"rule": "asha", "min_epochs": 2})
    assert variant_experiment(exp, "random", "asha", 1).pruning == {"rule": "asha", "min_epochs": 2}
    none = variant_experiment(exp, "random", "none", 1)
    assert none.pruning == {"rule": "none"} and none.seed == exp.seed + 1
    with pytest.raises(ExperimentError, match="--pruning.*unknown rule 'hyperband'"):
        variant_experiment(exp, "random", "hyperband", 0)


def test_compare_pruning_side_by_side(client, tmp_path):
    path = tmp_path / "bowl.yaml"
    path.write_text(yaml.safe_dump({**BASE, "name": "bowl", "budget": 8}))
    out = tmp_path / "cmp"
    assert main(["compare", str(path), "--pruning", "none,asha", "--repeats", "1", "-o", str(out),
                 "--scheduler", client.scheduler.address, "--quiet"]) == 0
    snaps = {rule: read_store(out / rule / "repeat-0.zarr") for rule in ("none", "asha")}
    for rule, snap in snaps.items():
        assert snap.n == 8 and snap.experiment["pruning"]["rule"] == rule
        assert snap.experiment["optimizer"]["name"] == "random" and snap.experiment["seed"] == 3
    # the same seed starts from the same proposals; only the rule differs
    np.testing.assert_array_equal(snaps["none"].params[:4], snaps["asha"].params[:4])
    spent = {rule: trial_epochs(snap.status, snap.epoch_metric)[0] for rule, snap in snaps.items()}
    assert spent["none"] == 8 * 2 * 9 and spent["asha"] < spent["none"]
    with (out / "pruning.csv").open() as f:
        rows = {row["variant"]: row for row in csv.DictReader(f)}
    assert float(rows["none"]["trial_epochs"]) == 144 and float(rows["none"]["share_of_full"]) == 1.0
    assert float(rows["asha"]["trial_epochs"]) == spent["asha"]
    assert float(rows["asha"]["pruned"]) == snaps["asha"].arch_pruned().sum() >= 1
    best = snaps["asha"].best()
    assert float(rows["asha"]["best_median"]) == pytest.approx(snaps["asha"].arch_mean_std()[0][best])
    assert float(rows["asha"]["wall_s"]) > 0.27  # at least one trial's 9 epochs of 0.03 s
    text = (out / "summary.md").read_text()
    assert "| asha | 1 |" in text and "share of full length" in text


STAGED = dict(BASE, trials=2, max_pending=2, data={"epoch_seconds": 0.04}, pruning="asha",
              stages=[{"name": "broad", "epochs": 9, "budget": 8},
                      {"name": "focus", "epochs": 9, "budget": 4, "focus": {"eps": 3}}])
DRIVER = textwrap.dedent("""
    import sys
    from distributed import Client, LocalCluster
    from orchestrator.experiment import Experiment
    from orchestrator.search import run
    from tests.orchestrator.search.test_pruning_compare_stages import STAGED
    if __name__ == "__main__":
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                          dashboard_address=":0") as cl, Client(cl) as c:
            run(Experiment(**STAGED), c, store=sys.argv[1])
""")


def test_stages_prune_within_each_stage_and_resume(client, tmp_path):
    store, script = str(tmp_path / "s.zarr"), tmp_path / "drive.py"
    script.write_text(DRIVER)
    seen = kill_driver_when(
        script, store, lambda snap: snap.n and (snap.stage == 1).any() and snap.arch_pruned().any())
    assert seen, "the first driver never reached the focus stage with a pruned architecture"
    before = read_store(store)
    gone = np.flatnonzero(before.arch_pruned())
    result = run(Experiment(**STAGED), client, store=store)
    snap = read_store(store)
    assert snap.n == 12 and np.all(snap.status >= DONE) and not (snap.status == FAILED).any()
    np.testing.assert_array_equal(snap.pruned_at[gone], before.pruned_at[gone])  # decisions kept
    np.testing.assert_array_equal(snap.stage, [0] * 8 + [1] * 4)
    pruned = snap.arch_pruned()
    assert pruned[:8].any() and (snap.pruned_at[pruned] < 8).all()
    for a in np.flatnonzero(pruned):  # stopped at the rung, nothing trained after the stop
        stopped = snap.status[a] == PRUNED
        assert stopped.any() and np.isnan(snap.epoch_metric[a][stopped][:, 8]).all()
    # the final stage's best ran full length (a pruned architecture is never best)
    mean, _ = snap.arch_mean_std()
    focus = np.flatnonzero((snap.stage == 1) & ~pruned & snap.arch_done())
    best = focus[np.argmin(mean[focus])]
    assert result.best_params == dict(zip(["x0", "x1"], snap.params[best].tolist(), strict=True))
    assert not pruned[best] and (snap.status[best] == DONE).all()
