"""The skopt and optuna backends: the contract for every optimiser past its initial design, the
mapping of our spaces onto theirs, missing extras, bad options, and a resume through `ganhpo run`.

The properties every optimiser shares (no repeats, pending respected, exhaustion, seeding) are
in test_optimizers.py, parametrised over every registered optimiser, these backends included.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest
import yaml

from orchestrator.cli import main
from orchestrator.optimizers import OPTIMIZERS, make_optimizer
from orchestrator.space import SearchSpace
from orchestrator.store import DONE, PENDING, ResultsStore, read_store

pytest.importorskip("skopt")
pytest.importorskip("optuna")

BACKENDS = ["skopt", "optuna"]
FAST = {"gp": {"n_restarts": 0, "n_candidates": 300},
        "skopt": {"n_points": 300, "acq_optimizer": "sampling"}}
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def mixed_space() -> SearchSpace:
    """HYPPO-like: a fine lattice, an integer, a log real, a categorical, a single-level lattice."""
    return SearchSpace({"lr": {"lower": 1, "upper": 200, "scale": 5e-5}, "layers": [1, 6],
                        "wd": {"low": 1e-6, "high": 1e-2, "log": True},
                        "act": ["relu", "tanh", True], "fixed": {"lower": 3, "upper": 3, "scale": 2}})


def make(name: str, space: SearchSpace, seed: int = 0, **options):
    return make_optimizer(name, space, seed=seed, **{**FAST.get(name, {}), **options})


def value(point: dict) -> float:
    return (abs(math.log10(point["wd"]) + 4) + (point["lr"] - 0.004) ** 2 * 1e4
            + 0.1 * point["layers"] + (point["act"] == "tanh"))


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_pending_points_are_respected_in_the_surrogate_phase(name):
    """After the initial design: asks without tells never repeat a pending or evaluated point."""
    space = mixed_space()
    opt = make(name, space, seed=4, **({"n_initial": 4} if name != "random" else {}))
    told = opt.ask(8)
    opt.tell(told, [value(p) for p in told], [0.1] * 8)
    asked = [p for _ in range(5) for p in opt.ask(1)] + opt.ask(3)
    keys = [space.key(p) for p in told + asked]
    assert len(set(keys)) == len(keys) == 16
    assert [space.key(p) for p in opt.pending] == keys[8:]
    for p in asked:
        space.validate(p)
        assert p["fixed"] == 6 and round(p["lr"] / 5e-5, 9).is_integer()


@pytest.mark.parametrize("name", BACKENDS)
def test_backends_improve_on_their_own_initial_design(name):
    """A smooth 1-D lattice problem: the surrogate phase finds a better point than the start."""
    space = SearchSpace({"x": {"lower": 0, "upper": 400, "scale": 0.005}})
    opt = make(name, space, seed=1, n_initial=5)
    f = lambda p: (p["x"] - 1.37) ** 2  # noqa: E731
    first = opt.ask(5)
    opt.tell(first, [f(p) for p in first])
    for _ in range(25 if name == "optuna" else 10):
        p = opt.ask(1)
        opt.tell(p, [f(p[0])])
    assert opt.best()[1] < min(f(p) for p in first)
    assert abs(opt.best()[0]["x"] - 1.37) < 0.1


def test_skopt_dimensions_map_the_space_faithfully():
    from skopt.space import Categorical, Integer, Real

    opt = make_optimizer("skopt", mixed_space(), seed=0)
    lr, layers, wd, act = opt._dims  # the single-level lattice is left out
    assert isinstance(lr, Integer) and (lr.low, lr.high) == (0, 199)
    assert isinstance(layers, Integer) and (layers.low, layers.high) == (0, 5)
    assert isinstance(wd, Real) and wd.prior == "log-uniform" and (wd.low, wd.high) == (1e-6, 1e-2)
    assert isinstance(act, Categorical) and list(act.categories) == [0, 1, 2]
    point = {"lr": 0.0035, "layers": 4, "wd": 1e-3, "act": True, "fixed": 6}
    row = mixed_space().encode(point)
    assert opt._to_skopt(row[None]) == [[69, 3, pytest.approx(1e-3), 2]]
    assert mixed_space().decode(opt._from_skopt([[69, 3, 1e-3, 2]])[0]) == pytest.approx(point)


def test_optuna_distributions_map_the_space_and_pending_points_run_in_the_study():
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
    from optuna.trial import TrialState

    space = mixed_space()
    opt = make_optimizer("optuna", space, seed=0)
    d = opt._dists
    assert d["lr"] == IntDistribution(0, 199) and d["layers"] == IntDistribution(0, 5)
    assert d["wd"] == FloatDistribution(1e-6, 1e-2, log=True)
    assert d["act"] == CategoricalDistribution([0, 1, 2]) and d["fixed"] == IntDistribution(0, 0)
    training = {"lr": 0.0035, "layers": 4, "wd": 1e-3, "act": True, "fixed": 6}
    opt.add_pending([training])  # as on resume: the study learns it as a running trial
    asked = opt.ask(3)
    running = [t for t in opt._study.trials if t.state == TrialState.RUNNING]
    assert len(running) == 4 == len(opt.pending)
    assert {**running[0].params, "wd": 0} == {"lr": 69, "layers": 3, "wd": 0, "act": 2, "fixed": 0}
    opt.tell(asked, [1.0, 2.0, 3.0])
    opt.ask(1)  # the next ask completes the told trials in the study
    assert sorted(t.value for t in opt._study.trials if t.state == TrialState.COMPLETE) == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("name, package, extra", [("skopt", "skopt", "skopt"),
                                                  ("optuna", "optuna", "optuna")])
def test_a_missing_package_names_the_extra_to_install(monkeypatch, name, package, extra):
    monkeypatch.setitem(sys.modules, package, None)  # import now raises ImportError
    with pytest.raises(ImportError) as err:
        make_optimizer(name, mixed_space())
    assert str(err.value) == (f"optimizer '{name}' needs {'scikit-optimize' if name == 'skopt' else 'optuna'}: "
                              f"pip install 'ganhpo[{extra}]'")


def test_optuna_gp_sampler_runs_where_torch_is_installed():
    if importlib.util.find_spec("torch") is None:
        with pytest.raises(ImportError, match="sampler: gp needs torch .* or use sampler: tpe"):
            make_optimizer("optuna", mixed_space(), sampler="gp")
        pytest.skip("torch is not installed: Optuna's GP sampler cannot run here")
    space = mixed_space()
    opt = make_optimizer("optuna", space, seed=0, sampler="gp", n_startup_trials=4)
    seen = set()
    for _ in range(8):
        batch = opt.ask(2)
        opt.tell(batch, [value(p) for p in batch])
        seen |= {space.key(p) for p in batch}
    assert len(seen) == 16


@pytest.mark.parametrize("name, options, message", [
    ("skopt", {"base_estimator": "SVM"}, "option base_estimator: must be one of GP, RF, ET, got 'SVM'"),
    ("skopt", {"base_estimator": "gbrt"}, "option base_estimator: GBRT does not work with scikit-optimize"),
    ("skopt", {"acq_func": "UCB"}, "option acq_func: must be one of EI, PI, LCB, gp_hedge, got 'UCB'"),
    ("skopt", {"strategy": "cl_median"}, "option strategy: must be one of cl_min, cl_mean, cl_max"),
    ("skopt", {"n_points": 0}, "option n_points: `n_points >= 1` (an int) must hold, got 0"),
    ("optuna", {"sampler": "cmaes"}, "option sampler: must be one of tpe, gp, got 'cmaes'"),
    ("optuna", {"n_startup_trials": -1}, "option n_startup_trials: `n_startup_trials >= 0`"),
    ("optuna", {"multivariate": False}, "unknown option 'multivariate' for optimizer 'optuna'; "
                                        "accepted options: n_initial, n_startup_trials, sampler"),
])
def test_bad_options_get_one_line_naming_the_option(name, options, message):
    with pytest.raises(ValueError) as err:
        make_optimizer(name, mixed_space(), **options)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_skopt_accepts_every_estimator_in_either_case():
    space = mixed_space()
    for est in ("gp", "RF", "et"):
        opt = make(space=space, name="skopt", seed=0, base_estimator=est, n_initial=3,
                   acq_func="LCB" if est == "et" else "EI")
        pts = opt.ask(3)
        opt.tell(pts, [value(p) for p in pts])
        new = opt.ask(2)
        assert len({space.key(p) for p in pts + new}) == 5


# ----- through `ganhpo run`: a partial budget, an interrupted architecture, then the full one ---

@pytest.mark.slow
@pytest.mark.parametrize("name", BACKENDS)
def test_resume_through_the_cli_finishes_without_repeating_a_point(tmp_path, capsys, name):
    spec = yaml.safe_load((EXAMPLES / f"hartmann_{name}.yaml").read_text())
    spec.update(budget=5, trials=2, epochs=2, max_pending=2, data={"epoch_seconds": 0.0})
    spec["optimizer"] = {**spec["optimizer"], **FAST.get(name, {}), "n_initial": 3}
    if name == "optuna":
        spec["optimizer"]["n_startup_trials"] = 3
    exp, store = tmp_path / "exp.yaml", tmp_path / "s.zarr"
    exp.write_text(yaml.safe_dump(spec))
    args = ["run", str(exp), "--store", str(store), "--workers", "2", "--quiet"]
    assert main([*args, "--budget", "5"]) == 0
    first = read_store(store)
    assert first.n == 5 and (first.status == DONE).all()
    # as a killed driver leaves it: the last architecture's second trial never finished
    results = ResultsStore.open(store)
    results.set("status", (4, 1), PENDING)
    results.flush()
    assert main([*args, "--budget", "10"]) == 0  # tells 4, marks 1 pending, asks 5 more
    after = read_store(store)
    assert after.n == 10 and (after.status == DONE).all()
    assert (after.params[:5] == first.params).all()
    assert after.metric[4, 0] == first.metric[4, 0]  # the finished trial was kept
    assert len({tuple(row) for row in after.params}) == 10
    assert "best architecture:" in capsys.readouterr().out
