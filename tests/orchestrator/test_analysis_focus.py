"""Focus derivation: inside the original space, containing the chosen point(s); the CLI writes it."""

import math

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.analysis import derive_focus_space
from orchestrator.analysis.focus import parse_threshold
from orchestrator.cli import main
from orchestrator.experiment import load_experiment
from orchestrator.space import Categorical, Lattice, Real, SearchSpace
from orchestrator.store import DONE, Snapshot, read_store
from tests.orchestrator.analysis_stores import SPACE, make_store

lattices = st.builds(lambda lo, n, s: {"type": "lattice", "lower": lo, "upper": lo + n, "scale": s},
                     st.integers(-5, 5), st.integers(0, 15), st.sampled_from([0.02, 1, 5e-5, 3]))
integers = st.builds(lambda lo, n: {"type": "int", "low": lo, "high": lo + n},
                     st.integers(-5, 5), st.integers(0, 12))
reals = st.builds(lambda lo, w: {"type": "real", "low": lo, "high": lo + w},
                  st.floats(-10, 10), st.floats(0.01, 100))
log_reals = st.builds(lambda lo, f: {"type": "real", "low": lo, "high": lo * f, "log": True},
                      st.floats(1e-6, 1), st.floats(1.5, 1e4))
categoricals = st.integers(1, 4).map(lambda n: {"type": "categorical",
                                                "choices": ["a", "b", "c", "d"][:n]})
spaces = st.lists(st.one_of(lattices, integers, reals, log_reals, categoricals),
                  min_size=1, max_size=4).map(lambda ps: {f"p{i}": p for i, p in enumerate(ps)})


def snapshot(space: SearchSpace, seed: int, n: int) -> Snapshot:
    """n architectures sampled from the space, one trial each, random metrics."""
    rng = np.random.default_rng(seed)
    rows = np.array([space.to_row(space.decode(u)) for u in rng.random((n, space.dim))])
    arrays = {"params": rows, "status": np.full((n, 1), DONE, np.int8),
              "metric": rng.random((n, 1)), "n_params": np.full(n, -1),
              "stage": np.zeros(n, np.int8), "finished": np.ones((n, 1))}
    return Snapshot("mem", {"space": space.to_dict()}, space.names, **arrays)


def assert_inside(sub: SearchSpace, space: SearchSpace) -> None:
    assert sub.names == space.names
    for name, p in space.params.items():
        q = sub.params[name]
        assert type(q) is type(p)
        if isinstance(p, Categorical):
            assert set(q.choices) <= set(p.choices)
        elif isinstance(p, Lattice):
            assert q.scale == p.scale and p.lower <= q.lower <= q.upper <= p.upper
        else:
            assert q.log == p.log and p.low <= q.low < q.high <= p.high


def points(snap: Snapshot, idx) -> list[dict]:
    space = SearchSpace(snap.experiment["space"])
    return [space.from_row(snap.params[a]) for a in np.atleast_1d(idx)]


@settings(max_examples=150, deadline=None)
@given(spaces, st.integers(0, 2**31), st.integers(1, 12),
       st.floats(0, 6), st.floats(0, 1.5))
def test_eps_focus_is_inside_and_contains_the_best_point(spec, seed, n, eps, real_eps):
    space = SearchSpace(spec)
    snap = snapshot(space, seed, n)
    sub = derive_focus_space(snap, eps=eps, real_eps=real_eps)
    assert_inside(sub, space)
    best = points(snap, np.argmin(snap.metric[:, 0]))[0]
    sub.validate(best)
    for name, p in space.params.items():  # lattices: exactly +- floor(eps) levels, clipped
        if isinstance(p, Lattice):
            k = p.level(best[name]) + p.lower
            q = sub.params[name]
            assert (q.lower, q.upper) == (max(p.lower, k - math.floor(eps + 1e-9)),
                                          min(p.upper, k + math.floor(eps + 1e-9)))
    rng = np.random.default_rng(seed)
    for u in rng.random((5, space.dim)):
        space.validate(sub.decode(u))


@settings(max_examples=150, deadline=None)
@given(spaces, st.integers(0, 2**31), st.integers(1, 12), st.floats(1, 100))
def test_threshold_focus_is_inside_and_spans_every_good_point(spec, seed, n, quantile):
    space = SearchSpace(spec)
    snap = snapshot(space, seed, n)
    sub = derive_focus_space(snap, threshold=f"{quantile}%")
    assert_inside(sub, space)
    cut = parse_threshold(snap, f"{quantile}%")
    good = np.flatnonzero(snap.metric[:, 0] <= cut)
    assert len(good) >= 1
    for point in points(snap, good):
        sub.validate(point)
    for name, p in sub.params.items():  # tight: each bound is attained by a good point
        values = [pt[name] for pt in points(snap, good)]
        if isinstance(p, Lattice):
            assert {p.lower, p.upper} <= {p.level(v) + p.lower for v in values}
        elif isinstance(p, Categorical):
            assert set(p.choices) == set(values)


def test_cli_focus_writes_an_experiment_narrower_than_the_store(tmp_path, capsys):
    make_store(tmp_path / "s.zarr", n=30)
    out = tmp_path / "focus.yaml"
    assert main(["focus", str(tmp_path / "s.zarr"), "--eps", "2", "--budget", "7", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "lr: [0, 1] (21 levels) -> [" in printed and "act: {relu, tanh, elu} -> {" in printed
    assert "+- 2 lattice steps (reals +- 0.1 unit cube)" in printed
    exp = load_experiment(out)
    assert exp.stage == "focus" and exp.budget == 7 and exp.name == "synthetic_focus"
    assert exp.store == str(tmp_path / "s-focus.zarr") and f"store: {exp.store}" in printed
    assert exp.space.params["lr"].n_levels <= 5 and exp.space.params["act"].n_levels == 1
    snap = read_store(tmp_path / "s.zarr")
    best = SearchSpace(SPACE).from_row(snap.params[np.nanargmin(snap.arch_mean_std()[0])])
    exp.space.validate(best)
    assert main(["focus", str(tmp_path / "s.zarr"), "--threshold", "25%", "-o", str(out)]) == 0
    spanned = load_experiment(out).space
    assert yaml.safe_load(out.read_text())["stage"] == "focus"
    spanned.validate(best)
    assert spanned.params["lr"].n_levels < 21


@pytest.mark.parametrize("args, message", [
    (["--threshold", "0.5"], "no finished architecture has a mean <= 0.5"),
    (["--threshold", "abc"], "give a metric value (e.g. 0.05) or a quantile"),
    (["--threshold", "0%"], "a quantile must be in (0%, 100%]"),
    (["--eps", "-1"], "eps must be >= 0"),
])
def test_cli_focus_errors_are_one_line(tmp_path, capsys, args, message):
    make_store(tmp_path / "s.zarr", n=5)
    assert main(["focus", str(tmp_path / "s.zarr"), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_eps_and_threshold_are_exclusive(tmp_path):
    make_store(tmp_path / "s.zarr", n=5)
    with pytest.raises(ValueError, match="exactly one of eps"):
        derive_focus_space(tmp_path / "s.zarr", eps=1, threshold=3.0)
    with pytest.raises(ValueError, match="exactly one of eps"):
        derive_focus_space(str(tmp_path / "s.zarr"))
    assert isinstance(derive_focus_space(str(tmp_path / "s.zarr"), eps=1).params["wd"], Real)


def test_focus_of_a_space_without_reals_says_nothing_about_reals(tmp_path, capsys):
    grid = {n: p for n, p in SPACE.items() if p["type"] != "real"}
    make_store(tmp_path / "g.zarr", n=12, space=grid, metric=lambda u: float(u[0]))
    assert main(["focus", str(tmp_path / "g.zarr"), "-o", str(tmp_path / "f.yaml")]) == 0
    printed = capsys.readouterr().out
    assert "the best architecture +- 2 lattice steps written to" in printed and "reals" not in printed
