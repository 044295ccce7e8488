"""Two-stage search (broad, then focus) into one store on a real LocalCluster, and its resume."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from distributed import Client, LocalCluster

from orchestrator.analysis.focus import derive_focus_space
from orchestrator.experiment import Experiment, ExperimentError, parse_stages
from orchestrator.search import run
from orchestrator.search.stages import stage_snapshot
from orchestrator.space import SearchSpace
from orchestrator.store import DONE, read_store

ROOT = Path(__file__).resolve().parents[3]
SPACE = {f"x{i}": {"lower": 0, "upper": 50, "scale": 0.02} for i in range(6)}


def spec(**overrides) -> dict:
    out = dict(space=SPACE, trial="orchestrator.objectives:noisy_hartmann", trials=2,
               max_pending=3, seed=3, data={"noise": 0.05},
               optimizer={"name": "rbf", "n_initial": 4},
               stages=[{"name": "broad", "epochs": 3, "budget": 8},
                       {"name": "focus", "epochs": 6, "budget": 5, "focus": {"eps": 3},
                        "optimizer": {"name": "gp", "n_initial": 2}}])
    out.update(overrides)
    return out


@pytest.fixture(scope="module")
def client():
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster, \
            Client(cluster) as c:
        yield c


def _inside(space: SearchSpace, snap, rows) -> bool:
    full = SearchSpace(snap.experiment["space"])
    return all(space.params[n].contains(v) for a in rows for n, v in full.from_row(snap.params[a]).items())


def test_broad_then_focus_fill_one_store(client, tmp_path):
    exp = Experiment.from_dict(spec())
    assert (exp.epochs, exp.budget) == (6, 13)  # the store's epoch axis holds the longest stage
    result = run(exp, client, store=str(tmp_path / "s.zarr"))
    snap = read_store(tmp_path / "s.zarr")
    assert snap.n == 13 and (snap.status == DONE).all()
    np.testing.assert_array_equal(snap.stage, [0] * 8 + [1] * 5)
    assert snap.epoch_metric.shape[2] == 6
    assert np.isnan(snap.epoch_metric[:8, :, 3:]).all() and np.isfinite(snap.epoch_metric[:8, :, :3]).all()
    assert np.isfinite(snap.epoch_metric[8:]).all()
    # the focus space was derived from the broad rows, recorded, and every focus row lies inside it
    focus = SearchSpace(snap.experiment["stages"][1]["space"])
    assert focus == derive_focus_space(stage_snapshot(snap, "broad"), eps=3)
    assert _inside(focus, snap, range(8, 13))
    assert not _inside(focus, snap, range(8))  # the broad stage spanned more than the focus space
    broad_mean = np.nanmean(snap.metric[:8], axis=1)
    best = SearchSpace(SPACE).from_row(snap.params[int(np.argmin(broad_mean))])
    assert all(focus.params[n].contains(v) for n, v in best.items())
    assert [s.name for s in result.stages] == ["broad", "focus"]
    assert result.stages[0].best_mean == pytest.approx(broad_mean.min())
    assert result.best_mean == pytest.approx(np.nanmean(snap.metric[8:], axis=1).min())
    assert "focus: best" in result.summary()


def test_threshold_focus_spans_the_architectures_below_it(client, tmp_path):
    stages = spec()["stages"]
    stages[1] = {"name": "focus", "epochs": 4, "budget": 3, "focus": {"threshold": "50%"}}
    exp = Experiment.from_dict(spec(stages=stages))
    run(exp, client, store=str(tmp_path / "t.zarr"))
    snap = read_store(tmp_path / "t.zarr")
    focus = SearchSpace(snap.experiment["stages"][1]["space"])
    mean = np.nanmean(snap.metric[:8], axis=1)
    below = np.flatnonzero(mean <= np.quantile(mean, 0.5))  # the broad stage's better half
    assert len(below) and _inside(focus, snap, below) and snap.n > 8 and _inside(focus, snap, range(8, snap.n))
    for n, p in focus.params.items():  # each range is exactly the span of the points below
        values = [SearchSpace(SPACE).from_row(snap.params[a])[n] for a in below]
        assert (p.lower * p.scale, p.upper * p.scale) == pytest.approx((min(values), max(values)))


def test_a_larger_focus_budget_continues_the_focus_stage(client, tmp_path):
    store = str(tmp_path / "r.zarr")
    run(Experiment.from_dict(spec()), client, store=store)
    first = read_store(store)
    stages = spec()["stages"]
    stages[1]["budget"] = 7
    run(Experiment.from_dict(spec(stages=stages)), client, store=store)
    after = read_store(store)
    np.testing.assert_array_equal(after.stage, [0] * 8 + [1] * 7)  # no new broad architecture
    np.testing.assert_array_equal(after.params[:13], first.params)
    assert after.experiment["stages"][1]["space"] == first.experiment["stages"][1]["space"]
    stages[1]["focus"] = {"eps": 1}
    with pytest.raises(ExperimentError, match="already derived"):
        run(Experiment.from_dict(spec(stages=stages)), client, store=store)
    stages[1]["focus"], stages[0]["epochs"] = {"eps": 3}, 4
    with pytest.raises(ExperimentError, match=r"stages\[0\]"):
        run(Experiment.from_dict(spec(stages=stages)), client, store=store)


@pytest.mark.parametrize("stages, match", [
    ([{"name": "focus", "epochs": 2, "budget": 2}], "'name' must be 'broad'"),
    ([{"name": "broad", "epochs": 0, "budget": 2}], "'epochs' must be a positive integer"),
    ([{"name": "broad", "epochs": 2, "budget": 2, "eps": 1}], "unknown key 'eps'"),
    ([{"name": "broad", "epochs": 2, "budget": 2, "focus": {"eps": 1}}], "move 'focus'"),
    ([{"name": "broad", "epochs": 2, "budget": 2},
      {"name": "focus", "epochs": 2, "budget": 2, "focus": {"width": 1}}], r"'focus' must be \{eps"),
    ({"name": "broad"}, "must be a list"),
])
def test_bad_stages_name_the_field(stages, match):
    with pytest.raises(ExperimentError, match=match):
        parse_stages(stages, "exp.yaml")


def test_top_level_epochs_must_agree_with_the_stages():
    with pytest.raises(ExperimentError, match="field 'epochs' is 9 but the stages make it 6"):
        Experiment.from_dict(spec(epochs=9))


@pytest.mark.slow
def test_killed_mid_focus_then_rerun_continues_the_focus_stage(tmp_path):
    exp = spec(data={"noise": 0.05, "epoch_seconds": 0.05}, name="staged")
    exp["stages"][1]["budget"] = 8
    path = tmp_path / "staged.yaml"
    path.write_text(yaml.safe_dump(exp))
    store = str(tmp_path / "k.zarr")
    cmd = [sys.executable, "-m", "orchestrator.cli", "run", str(path), "--store", store,
           "--workers", "2", "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    before = None
    deadline = time.time() + 120
    while time.time() < deadline and before is None:
        time.sleep(0.2)
        if (Path(store) / "zarr.json").exists():
            snap = read_store(store)
            if snap.n and (snap.stage == 1).sum() >= 2 and snap.n < 16:
                before = snap
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert before is not None, "the first run never reached the focus stage"
    before = read_store(store)
    assert (before.stage == 1).sum() < 8
    done = subprocess.run(cmd, cwd=ROOT, env=env, timeout=180, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "focus: best" in done.stdout
    after = read_store(store)
    np.testing.assert_array_equal(after.stage, [0] * 8 + [1] * 8)
    assert (after.status == DONE).all()
    np.testing.assert_array_equal(after.params[: before.n], before.params)
    focus = SearchSpace(after.experiment["stages"][1]["space"])
    assert after.experiment["stages"][1]["space"] == before.experiment["stages"][1]["space"]
    assert _inside(focus, after, range(8, 16))
    assert len(set(map(tuple, after.params[8:]))) == 8
