"""The ask/tell contract of every optimiser, bad input, variability mode, and search quality."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.objectives import HARTMANN6_MIN, hartmann6, noisy_hartmann
from orchestrator.optimizers import OPTIMIZERS, SpaceExhausted, make_optimizer
from orchestrator.space import Lattice, SearchSpace

NAMES = sorted(OPTIMIZERS)
FAST = {"gp": {"n_restarts": 0, "n_candidates": 300},  # keep GP fits cheap in contract tests
        "skopt": {"n_points": 300, "acq_optimizer": "sampling"}}


def tiny_space() -> SearchSpace:
    """12 points: an integer, a categorical and a two-level lattice."""
    return SearchSpace({"a": [1, 3], "b": ["relu", "tanh"], "c": {"lower": 0, "upper": 1, "scale": 0.5}})


def make(name: str, space: SearchSpace, seed: int = 0, **options) -> object:
    return make_optimizer(name, space, seed=seed, **{**FAST.get(name, {}), **options})


def toy_value(point: dict) -> float:
    return float((point["a"] - 2) ** 2 + (point["b"] == "tanh") + point["c"])


# ----- the contract, for every optimiser --------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_ask_gives_valid_new_points_that_stay_pending_until_told(name):
    space = SearchSpace({"x": {"lower": 0, "upper": 20, "scale": 0.05}, "y": [1, 30],
                         "lr": {"low": 1e-5, "high": 1e-2, "log": True}, "act": ["relu", "tanh"]})
    opt = make(name, space, seed=3)
    first = opt.ask(4)
    second = opt.ask(3)  # no tell in between: new points
    for p in first + second:
        space.validate(p)
    keys = [space.key(p) for p in first + second]
    assert len(set(keys)) == 7
    assert [space.key(p) for p in opt.pending] == keys
    opt.tell(first, [1.0, 2.0, 3.0, 4.0], [0.1, 0.1, 0.1, 0.1])
    assert [space.key(p) for p in opt.pending] == keys[4:]
    assert opt.n_evaluated == 4
    for _ in range(4):  # past the initial design too
        batch = opt.ask(3)
        opt.tell(batch, [float(i) for i in range(3)])
        assert not {space.key(p) for p in batch} & set(keys)
        keys += [space.key(p) for p in batch]
    assert len(set(keys)) == len(keys)


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_and_calls_give_the_same_points(name):
    space = SearchSpace({f"x{i}": Lattice(0, 50, 0.02) for i in range(3)})

    def history(seed: int) -> list:
        opt, out = make(name, space, seed=seed, **({"n_initial": 4} if name != "random" else {})), []
        for _ in range(5):
            pts = opt.ask(2)
            opt.tell(pts, [sum(p.values()) for p in pts], [0.01, 0.02])
            out += pts
        return out

    assert history(7) == history(7)
    assert history(7) != history(8)


@pytest.mark.parametrize("name", NAMES)
def test_points_told_without_ask_count_as_evaluated(name):
    space = tiny_space()
    opt = make(name, space, seed=1)
    resumed = [{"a": a, "b": b, "c": 0.5} for a in (1, 2, 3) for b in ("relu", "tanh")]
    opt.tell(resumed, [toy_value(p) for p in resumed], [0.0] * len(resumed))
    assert opt.pending == [] and opt.n_evaluated == 6
    rest = opt.ask(6)
    assert sorted(space.key(p) for p in rest) == sorted(
        space.key({"a": a, "b": b, "c": 0.0}) for a in (1, 2, 3) for b in ("relu", "tanh"))
    with pytest.raises(SpaceExhausted, match=r"it has 12 points .* evaluated \(6\) or pending \(6\)"):
        opt.ask()


@pytest.mark.parametrize("name", NAMES)
def test_points_marked_pending_on_resume_are_never_proposed(name):
    space = tiny_space()
    opt = make(name, space, seed=2)
    still_training = [{"a": a, "b": "relu", "c": 0.0} for a in (1, 2, 3)]
    opt.add_pending(still_training)
    assert opt.pending == still_training
    rest = opt.ask(9)
    assert {space.key(p) for p in rest}.isdisjoint(space.key(p) for p in still_training)
    with pytest.raises(SpaceExhausted):
        opt.ask()


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**16), plan=st.lists(st.tuples(st.integers(1, 5), st.integers(0, 5)),
                                                 min_size=1, max_size=8))
def test_no_point_is_proposed_twice_and_exhaustion_is_reported(name, seed, plan):
    """Random ask sizes and partial tells: never a repeat; a used-up space raises SpaceExhausted."""
    space = tiny_space()
    opt = make(name, space, seed=seed, **({"n_initial": 3} if name != "random" else {}))
    seen: set[tuple] = set()
    for _ in range(3):  # repeat the plan until the 12 points are used up
        for n_ask, n_tell in plan:
            if len(seen) == space.size:
                with pytest.raises(SpaceExhausted):
                    opt.ask(n_ask)
                return
            batch = opt.ask(n_ask)
            keys = [space.key(p) for p in batch]
            assert len(batch) == min(n_ask, space.size - len(seen))
            assert len(set(keys)) == len(keys) and not set(keys) & seen
            seen |= set(keys)
            told = opt.pending[:n_tell]
            opt.tell(told, [toy_value(p) for p in told])
    for p in opt.pending:
        assert space.key(p) in seen


# ----- bad input --------------------------------------------------------------------------------

def test_unknown_optimizer_lists_the_choices():
    with pytest.raises(ValueError) as err:
        make_optimizer("foo", tiny_space())
    assert str(err.value) == "unknown optimizer 'foo'; choose one of: gp, lhs, optuna, random, rbf, skopt"


def test_unknown_option_names_it_and_the_accepted_ones():
    with pytest.raises(ValueError, match=r"unknown option 'n_init' for optimizer 'gp'; accepted "
                                         r"options: liar, local, max_fit, n_candidates, n_initial, n_restarts, prior, "
                                         r"sigma, trials, xi"):
        make_optimizer("gp", tiny_space(), n_init=5)
    with pytest.raises(ValueError, match="option liar: must be one of"):
        make_optimizer("gp", tiny_space(), liar="median")
    with pytest.raises(ValueError, match="option prior: must be one of"):
        make_optimizer("gp", tiny_space(), prior="flat")
    with pytest.raises(ValueError, match="option sigma: perturbation scales"):
        make_optimizer("gp", tiny_space(), sigma=[0.0])


@pytest.mark.parametrize("name", NAMES)
def test_tell_rejects_mismatched_lengths_and_non_finite_means(name):
    opt = make(name, tiny_space())
    pts = opt.ask(3)
    with pytest.raises(ValueError, match="got 3 points but 2 means"):
        opt.tell(pts, [1.0, 2.0])
    with pytest.raises(ValueError, match="got 3 points but 1 stds"):
        opt.tell(pts, [1.0, 2.0, 3.0], [0.1])
    with pytest.raises(ValueError, match=r"means\[1\] = nan is not finite"):
        opt.tell(pts, [1.0, math.nan, 3.0])
    with pytest.raises(ValueError, match=r"means\[2\] = inf is not finite"):
        opt.tell(pts, [1.0, 2.0, math.inf])
    with pytest.raises(ValueError, match=r"stds\[0\] = -0.1 is negative"):
        opt.tell(pts, [1.0, 2.0, 3.0], [-0.1, 0.0, 0.0])
    assert len(opt.pending) == 3 and opt.n_evaluated == 0  # a rejected tell changes nothing
    with pytest.raises(ValueError, match="n >= 1"):
        opt.ask(0)


# ----- method details ---------------------------------------------------------------------------

def test_lhs_design_is_a_latin_hypercube_then_continues():
    space = SearchSpace({"u": [0.0, 1.0], "v": [0.0, 1.0], "w": [0.0, 1.0]})
    opt = make_optimizer("lhs", space, seed=0, n_initial=8)
    design = np.array([space.encode(p) for p in opt.ask(8)])
    for column in design.T:  # one point in each of the 8 strata of every coordinate
        assert sorted(np.floor(column * 8).astype(int)) == list(range(8))
    block = np.array([space.encode(p) for p in opt.ask(8)])  # the next block is one too
    for column in block.T:
        assert sorted(np.floor(column * 8).astype(int)) == list(range(8))


def test_rbf_radius_halves_after_consecutive_failures_and_doubles_after_successes():
    space = SearchSpace({f"x{i}": Lattice(0, 50, 0.02) for i in range(3)})
    opt = make_optimizer("rbf", space, seed=0, n_initial=4, restart=False)
    opt.tell(opt.ask(4), [1.0, 2.0, 3.0, 4.0])
    assert opt.radius == 0.2
    for _ in range(3):  # max(d, 4) failures halve it, three do not
        opt.tell(opt.ask(1), [9.0])
    assert opt.radius == 0.2
    opt.tell(opt.ask(1), [9.0])
    assert opt.radius == 0.1
    for value in (0.5, 0.4, 0.3):  # three successes
        opt.tell(opt.ask(1), [value])
    assert opt.radius == 0.2
    for _ in range(4 * 10):  # the floor is 0.2 * 0.5**6
        opt.tell(opt.ask(1), [9.0])
    assert opt.radius == pytest.approx(0.2 * 0.5**6) and opt.restarts == 0


def test_variability_mode_prefers_the_reliable_region():
    """Two regions with the same mean: the ensemble scores the low-variance one better."""
    space = SearchSpace({"x": Lattice(0, 100, 0.01), "y": Lattice(0, 100, 0.01)})
    points, means, stds = [], [], []
    for (cx, cy), std in (((0.25, 0.5), 0.01), ((0.75, 0.5), 1.0)):
        for dx, dy in ((0.0, 0.0), (0.05, 0.0), (-0.05, 0.0), (0.0, 0.05), (0.0, -0.05)):
            points.append({"x": round(cx + dx, 2), "y": round(cy + dy, 2)})
            means.append(1.0)
            stds.append(std)
    probes = [{"x": 0.27, "y": 0.52}, {"x": 0.77, "y": 0.52}]
    aware = make_optimizer("rbf", space, seed=0, variability=True)
    aware.tell(points, means, stds)
    reliable, noisy = aware.score(probes)
    assert reliable < noisy - 0.5
    plain = make_optimizer("rbf", space, seed=0)
    plain.tell(points, means, stds)
    assert plain.score(probes) == pytest.approx([1.0, 1.0], abs=1e-3)  # the mean alone ties


# ----- search quality on noisy Hartmann-6 ---------------------------------------------------------

HARTMANN_SPACE = SearchSpace({f"x{i}": Lattice(0, 50, 0.02) for i in range(6)})


def best_true_regret(name: str, seed: int, budget: int = 40, trials: int = 3, **options) -> float:
    """Run one asynchronous-style search; the true regret of the point that is best by mean."""
    opt = make_optimizer(name, HARTMANN_SPACE, seed=seed, **options)
    rng = np.random.default_rng(10_000 + seed)
    done = 0
    while done < budget:
        batch = opt.ask(int(min(rng.integers(2, 5), budget - done)))
        runs = [[noisy_hartmann(p, epochs=1, seed=int(rng.integers(2**31)))["metric"]
                 for _ in range(trials)] for p in batch]
        opt.tell(batch, [np.mean(r) for r in runs], [np.std(r) for r in runs])
        done += len(batch)
    point, _, _ = opt.best()
    return float(hartmann6(np.array([point[f"x{i}"] for i in range(6)]))[0] - HARTMANN6_MIN)


@pytest.mark.slow
def test_rbf_and_gp_beat_random_on_noisy_hartmann6():
    seeds = range(10)
    start = time.perf_counter()
    regret = {name: np.median([best_true_regret(name, s, **FAST.get(name, {})) for s in seeds])
              for name in ("random", "rbf", "gp")}
    assert regret["rbf"] < 0.75 * regret["random"], regret
    assert regret["gp"] < 0.75 * regret["random"], regret
    assert time.perf_counter() - start < 120


# ----- bounded cost: large histories, fantasies, heteroscedastic noise -----------------------------

def told_history(opt, space: SearchSpace, n: int, seed: int = 0) -> set[tuple]:
    """Tell n random distinct points of a sum-of-squares bowl; their keys."""
    rng = np.random.default_rng(seed)
    rows = np.unique(rng.integers(0, 51, size=(2 * n, space.dim)), axis=0)[:n]
    points = [{name: round(0.02 * k, 2) for name, k in zip(space.names, row)} for row in rows.tolist()]
    means = [sum((v - 0.3) ** 2 for v in p.values()) for p in points]
    opt.tell(points, means, list(rng.uniform(0.0, 0.1, size=len(points))))
    return {space.key(p) for p in points}


@pytest.mark.parametrize(("name", "options"), [("rbf", {}), ("rbf", {"variability": True}), ("gp", {})])
def test_past_max_fit_the_search_still_proposes_valid_unvisited_points(name, options):
    space = SearchSpace({f"x{i}": Lattice(0, 50, 0.02) for i in range(3)})
    opt = make(name, space, seed=4, max_fit=40, **options)
    told = told_history(opt, space, 300)
    opt.add_pending([{"x0": 0.3, "x1": 0.3, "x2": 0.3}])
    rows = opt._fit_indices(40, opt._X[int(np.argmin(opt._y))])
    assert len(rows) <= 41 and int(np.argmin(opt._y)) in rows  # bounded, keeps the incumbent
    in_flight = opt.ask(30)  # more pending than the GP fantasises (max_fit / 2)
    batch = opt.ask(8)
    keys = [space.key(p) for p in batch]
    for p in batch:
        space.validate(p)
    pending = {space.key(p) for p in in_flight} | {space.key({"x0": 0.3, "x1": 0.3, "x2": 0.3})}
    assert len(pending) == 31 and len(set(keys)) == 8 and not set(keys) & (told | pending)
    # the local fit still steers towards the bowl's minimum at 0.3: the best pick beats most told points
    assert min(sum((v - 0.3) ** 2 for v in p.values()) for p in in_flight) < np.percentile(opt._y, 10)


def test_gp_length_scale_prior_keeps_scales_off_the_bounds():
    """On 12 noisy points in 6-d, maximum likelihood switches dimensions off (length scale 100)
    or pins them at 0.01; the default Gamma(3, 6) prior keeps every scale inside (0.1, 3)."""
    space = SearchSpace({f"x{i}": Lattice(0, 10, 0.1) for i in range(6)})
    scales = {}
    for prior in (None, "gamma"):
        opt = make_optimizer("gp", space, seed=1, prior=prior, trials=3)
        rng = np.random.default_rng(1)
        for _ in range(12):
            p = opt.ask(1)
            x = np.array([p[0][f"x{i}"] for i in range(6)])
            opt.tell(p, [float(hartmann6(x)[0]) + 0.3 * rng.standard_normal()], [0.5])
        scales[prior] = opt._hyperparameters().k1.k2.length_scale
    assert np.any(scales[None] > 99), scales
    assert np.all((scales["gamma"] > 0.1) & (scales["gamma"] < 3)), scales


def test_gp_fantasy_update_matches_refitting_with_the_point_added():
    """Rank-one conditioning on a lie equals a posterior whose data contains the lie (fixed kernel)."""
    from orchestrator.optimizers.gp import _condition, _Posterior
    space = SearchSpace({f"x{i}": Lattice(0, 50, 0.02) for i in range(2)})
    opt = make_optimizer("gp", space, seed=0)
    told_history(opt, space, 25)
    rows = np.arange(opt.n_evaluated)
    U = np.random.default_rng(1).random((50, 2))
    base = _Posterior(opt, rows, np.empty((0, 2)), 0.0)
    mu, var, V = base.at(U)
    j, lie = 7, 0.05
    cov = base.k(U, U[j:j + 1])[:, 0] - V.T @ V[:, j]
    mu1, var1, _ = _condition(mu, var, cov, j, (lie - base.mean) / base.scale, base.floor)
    direct = _Posterior(opt, rows, U[j:j + 1], lie)
    mu2, var2, _ = direct.at(U)
    np.testing.assert_allclose(mu1, mu2, atol=1e-6)
    np.testing.assert_allclose(var1, var2, atol=1e-6)


def test_gp_lies_at_the_ei_target_not_at_the_noisy_minimum():
    """Liar ``min`` fantasises pending points at the best posterior mean (EI's target).

    The noisy minimum of the observed means lies below that target, so fantasies there made
    the neighbourhood of each pick look like an improvement and batches clustered.
    """
    from orchestrator.optimizers.gp import _Posterior
    space = SearchSpace({f"x{i}": Lattice(0, 50, 0.02) for i in range(2)})
    opt = make_optimizer("gp", space, seed=0)
    rng = np.random.default_rng(3)
    rows = np.unique(rng.integers(0, 51, size=(80, 2)), axis=0)[:40]
    points = [{"x0": round(0.02 * a, 2), "x1": round(0.02 * b, 2)} for a, b in rows.tolist()]
    means = [(p["x0"] - 0.3) ** 2 + (p["x1"] - 0.3) ** 2 + rng.normal(0, 0.05) for p in points]
    opt.tell(points, means, [0.05] * len(points))
    pending = np.array([[0.9, 0.1]])
    post = _Posterior(opt, np.arange(opt.n_evaluated), pending, None)
    assert post.lie == post.incumbent
    assert post.lie > (min(means) - post.mean) / post.scale + 0.25  # not the optimistic noisy min
    mu, _, _ = post.at(pending)
    assert abs(mu[0] - post.lie) < 0.2  # the fantasy pins the pending point near the lie
    same = _Posterior(opt, np.arange(opt.n_evaluated), pending, post.mean + post.scale * post.lie)
    np.testing.assert_allclose(same.at(pending)[0], mu, atol=1e-9)


def test_gp_believer_fantasies_keep_the_data_mean_where_min_makes_pending_points_optima():
    """Liar ``believer`` fantasises pending points at the data's posterior mean: the mean stays
    the data's (only the variance shrinks). ``min`` pins each of 30 pending points far from a
    bowl's minimum at EI's target, the best posterior mean, so they all look like optima (with
    31 points pending in ``batch32`` that stalled gp: worse than random on hartmann3-cat)."""
    from orchestrator.optimizers.gp import _Posterior
    space = SearchSpace({f"x{i}": Lattice(0, 50, 0.02) for i in range(2)})
    bowl = lambda p: (p["x0"] - 0.3) ** 2 + (p["x1"] - 0.3) ** 2  # noqa: E731
    rng = np.random.default_rng(5)
    told = [{"x0": round(0.02 * a, 2), "x1": round(0.02 * b, 2)}
            for a, b in np.unique(rng.integers(0, 51, size=(40, 2)), axis=0)[:20].tolist()]
    far = np.array([[0.5 + 0.02 * a, 0.5 + 0.02 * b]
                    for a, b in np.unique(rng.integers(0, 26, size=(60, 2)), axis=0)[:30].tolist()])
    opt = make_optimizer("gp", space, seed=0, n_initial=0)
    opt.tell(told, [bowl(p) for p in told], [0.01] * len(told))
    rows = np.arange(opt.n_evaluated)
    data_only = _Posterior(opt, rows, np.empty((0, 2)), None).at(far)[0]
    believed = _Posterior(opt, rows, far, None, believer=True).at(far)[0]
    np.testing.assert_allclose(believed, data_only, atol=1e-6)
    lied = _Posterior(opt, rows, far, None)
    at_lie = lied.at(far)[0]  # normalised units: every pending point pinned at the incumbent
    assert np.all(np.abs(at_lie - lied.incumbent) < 0.05) and np.all(at_lie < data_only - 0.3)
    assert np.mean(data_only - at_lie) > 1.0  # a standard deviation of the data below them


def test_gp_posterior_matches_sklearn_with_per_point_noise():
    """Our factorisation gives sklearn's prediction for the same kernel and per-point alpha."""
    from sklearn.gaussian_process import GaussianProcessRegressor
    space = SearchSpace({f"x{i}": Lattice(0, 50, 0.02) for i in range(2)})
    opt = make_optimizer("gp", space, seed=0, trials=4)
    told_history(opt, space, 30)
    points = [{"x0": 0.1, "x1": 0.9}, {"x0": 0.32, "x1": 0.28}]
    mu, sd = opt.predict(points)
    y, X = np.array(opt._y), np.array(opt._X)
    kernel = opt._kernel_fitted
    alpha = (np.array(opt._std) / y.std()) ** 2 / 4 + 1e-6 + kernel.k2.noise_level
    ref = GaussianProcessRegressor(kernel.k1, alpha=alpha, normalize_y=True, optimizer=None).fit(X, y)
    mu_ref, sd_ref = ref.predict(np.array([space.encode(p) for p in points]), return_std=True)
    np.testing.assert_allclose(mu, mu_ref, rtol=1e-6)
    np.testing.assert_allclose(sd, sd_ref, rtol=1e-5)


def test_heteroscedastic_gp_pulls_less_towards_a_noisy_point():
    """Same data, one outlier: told with a large trial std it moves the posterior mean less."""
    space = SearchSpace({"x": Lattice(0, 100, 0.01)})
    xs = [round(0.05 * i, 2) for i in range(21)]
    means = [float(np.sin(3 * x)) for x in xs]
    means[10] += 1.0  # x = 0.5 is an outlier
    pulled = []
    for outlier_std in (0.01, 2.0):
        opt = make_optimizer("gp", space, seed=0, trials=3)
        stds = [0.05] * len(xs)
        stds[10] = outlier_std
        opt.tell([{"x": x} for x in xs], means, stds)
        mu, _ = opt.predict([{"x": 0.5}])
        pulled.append(float(mu[0]) - float(np.sin(1.5)))
    assert pulled[0] > 0.1 and pulled[1] < 0.25 * pulled[0], pulled


def test_rbf_restart_after_the_radius_collapses():
    space = SearchSpace({f"x{i}": Lattice(0, 50, 0.02) for i in range(3)})
    opt = make_optimizer("rbf", space, seed=0, n_initial=4)  # restarts are the default
    opt.tell(opt.ask(4), [1.0, 2.0, 3.0, 4.0])
    for _ in range(4 * 4 - 1):  # pySOT's rule: 4 max(d, 4) failures in a row
        opt.tell(opt.ask(1), [9.0])
    assert opt.restarts == 0 and opt.radius == 0.2 * 0.5**3
    opt.tell(opt.ask(1), [9.0])
    assert opt.restarts == 1 and opt.radius == 0.2
    design = np.array([space.encode(p) for p in opt.ask(4)])  # a fresh design comes first
    assert len(design) == 4 and np.ptp(design, axis=0).min() > 0.3
    opt.tell([space.decode(r) for r in design], [5.0, 6.0, 7.0, 8.0])
    assert opt._centre().tolist() == design[0].tolist()  # the new phase's best, not the old one
    assert opt.ask(2)


def test_driver_passes_trials_to_the_gp_and_budget_to_the_rbf():
    from orchestrator.experiment import Experiment
    from orchestrator.search import build_optimizer
    space = {"x": {"lower": 0, "upper": 10, "scale": 0.1}}
    gp = build_optimizer(Experiment(space=space, trials=4, budget=30, optimizer={"name": "gp"}))
    assert gp.options["trials"] == 4 and "budget" not in gp.options
    rbf = build_optimizer(Experiment(space=space, trials=4, budget=30, optimizer={"name": "rbf"}))
    assert rbf.options["budget"] == 30 and "trials" not in rbf.options
    mine = build_optimizer(Experiment(space=space, trials=4, optimizer={"name": "gp", "trials": 1}))
    assert mine.options["trials"] == 1  # an explicit option wins


def test_gp_models_only_once_its_design_is_told():
    """In a batch the GP waits for its 2(d+1)-point design: asks before do not depend on the told
    values (random fill, as rbf does); once the design is told they do."""
    space = SearchSpace({"x": Lattice(0, 100, 0.01), "y": Lattice(0, 100, 0.01)})
    asked = {}
    for sign in (1.0, -1.0):  # opposite objectives: the same asks until the GP models them
        opt = make("gp", space, seed=3, n_initial=6)
        first = opt.ask(8)
        value = lambda p, s=sign: s * ((p["x"] - 0.2) ** 2 + (p["y"] - 0.7) ** 2)  # noqa: E731
        opt.tell(first[:3], [value(p) for p in first[:3]], [0.01] * 3)
        early = opt.ask(1)
        opt.tell(first[3:], [value(p) for p in first[3:]], [0.01] * 5)
        asked[sign] = (early, opt.ask(1))
    assert asked[1.0][0] == asked[-1.0][0]
    assert asked[1.0][1] != asked[-1.0][1]
    assert make("gp", space).options["n_initial"] == 6  # the default design: 2(d+1), as DYCORS
