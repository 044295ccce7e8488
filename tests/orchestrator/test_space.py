"""Search spaces: HYPPO lattices, unit-cube round trips, focus, JSON, and the error messages."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.space import Categorical, Integer, Lattice, Real, SearchSpace, SpaceError

BROAD = {  # the paper's broad-search table
    "noise_dim": {"lower": 1, "upper": 100, "scale": 1},
    "batch_size": {"lower": 1, "upper": 64, "scale": 32},
    "lr_gen": {"lower": 1, "upper": 200, "scale": 5e-5},
    "lr_disc": {"lower": 1, "upper": 200, "scale": 5e-5},
    "gen_layersize": {"lower": 1, "upper": 128, "scale": 8},
    "disc_layersize": {"lower": 1, "upper": 128, "scale": 8},
}


def mixed() -> SearchSpace:
    return SearchSpace({"lr": {"lower": 1, "upper": 200, "scale": 5e-5}, "layers": [1, 4],
                        "dropout": [0.0, 0.5], "wd": {"low": 1e-6, "high": 1e-2, "log": True},
                        "act": ["relu", "tanh", "gelu"]})


def test_broad_space_has_the_paper_lattice():
    space = SearchSpace(BROAD)
    assert space.dim == 6 and space.is_finite
    assert space.size == 100 * 64 * 200 * 200 * 128 * 128
    lr = space.params["lr_gen"]
    assert isinstance(lr, Lattice) and lr.n_levels == 200
    assert lr.decode(0.0) == pytest.approx(5e-5) and lr.decode(1.0) == pytest.approx(0.01)
    assert space.params["batch_size"].decode(1.0) == 2048
    assert isinstance(space.params["batch_size"].decode(0.3), int)
    assert space.steps[0] == pytest.approx(1 / 99)


def test_lattice_values_are_multiples_of_the_scale():
    p = Lattice(1, 200, 5e-5)
    assert p.encode(5e-5) == 0.0 and p.encode(0.01) == 1.0
    assert p.level(0.0001) == 1 and p.contains(0.00015) and not p.contains(0.00012)
    with pytest.raises(SpaceError, match=r"`value is a multiple of scale` must hold"):
        p.encode(0.00012)


@settings(max_examples=50, deadline=None)
@given(u=st.lists(st.floats(0.0, 1.0), min_size=5, max_size=5))
def test_decode_encode_round_trip(u):
    """decode(u) is a valid point; encoding it and decoding again gives the same point."""
    space = mixed()
    point = space.decode(np.array(u))
    space.validate(point)
    again = space.decode(space.encode(point))
    assert space.key(again) == space.key(point)
    assert again["wd"] == pytest.approx(point["wd"], rel=1e-12)
    assert np.allclose(space.snap(space.encode(point)), space.encode(point))


def test_snap_and_sample_land_on_the_lattice():
    space = SearchSpace({"a": Lattice(0, 4, 0.25), "c": Categorical(("x", "y"))})
    assert np.allclose(space.snap(np.array([[0.3, 0.2], [0.9, 0.7]])), [[0.25, 0.25], [1.0, 0.75]])
    rows = space.sample(np.random.default_rng(0), 50)
    assert set(np.round(rows[:, 0], 9)) <= {0.0, 0.25, 0.5, 0.75, 1.0}
    assert set(rows[:, 1]) <= {0.25, 0.75}


def test_keys_identify_points_by_level():
    space = mixed()
    point = {"lr": 0.0001, "layers": 3, "dropout": 0.25, "wd": 1e-4, "act": "tanh"}
    assert space.key(point) == (1, 2, 0.25, 1e-4, 1)
    assert space.from_row(space.to_row(point)) == {**point, "layers": 3.0, "lr": pytest.approx(1e-4)}


def test_shorthands_become_parameters():
    space = mixed()
    assert isinstance(space.params["layers"], Integer) and space.params["layers"].high == 4
    assert space.params["dropout"] == Real(0.0, 0.5)
    assert space.params["wd"] == Real(1e-6, 1e-2, log=True)
    assert space.params["act"] == Categorical(("relu", "tanh", "gelu"))
    assert SearchSpace({"x": [1e-5, 1e-1, "log-uniform"]}).params["x"] == Real(1e-5, 0.1, True)
    assert not mixed().is_finite and mixed().size == math.inf


def test_log_real_is_uniform_in_log_space():
    p = Real(1e-6, 1e-2, log=True)
    assert p.decode(0.5) == pytest.approx(1e-4)
    assert p.encode(1e-3) == pytest.approx(0.75)


def test_json_round_trip():
    for space in (SearchSpace(BROAD), mixed()):
        again = SearchSpace.from_json(space.to_json())
        assert again == space
        assert again.to_dict() == space.to_dict()
        assert [type(p) for p in again.params.values()] == [type(p) for p in space.params.values()]


def test_focus_is_a_clipped_sub_lattice_around_the_centre():
    space = SearchSpace({"lr": Lattice(1, 201, 1e-5), "act": Categorical(("relu", "tanh")),
                         "wd": Real(0.0, 1.0)})
    sub = space.focus({"lr": 3e-5, "act": "tanh", "wd": 0.5}, 0.1)
    lr = sub.params["lr"]
    assert (lr.lower, lr.upper, lr.scale) == (1, 23, 1e-5)  # clipped at the bottom, +20 levels above
    assert sub.params["act"].choices == ("tanh",)
    assert (sub.params["wd"].low, sub.params["wd"].high) == pytest.approx((0.4, 0.6))
    narrow = space.focus({"lr": 1e-3, "act": "relu", "wd": 0.5}, {"lr": 0.05})
    assert (narrow.params["lr"].lower, narrow.params["lr"].upper) == (90, 110)
    assert narrow.params["wd"].high - narrow.params["wd"].low < 1e-8  # eps 0 elsewhere


@pytest.mark.parametrize(("spec", "message"), [
    ({"lower": 3, "upper": 1}, "parameter 'p': `lower <= upper` must hold, but got (lower=3, upper=1)"),
    ({"lower": 1.5, "upper": 3}, "parameter 'p': `lower is an integer` must hold, but got lower=1.5"),
    ({"lower": 1, "upper": 3, "scale": 0}, "parameter 'p': `scale > 0` must hold, but got scale=0"),
    ({"low": 2.0, "high": 1.0}, "parameter 'p': `low < high` must hold, but got (low=2.0, high=1.0)"),
    ({"low": 0.0, "high": 1.0, "log": True},
     "parameter 'p': `low > 0 for a log scale` must hold, but got low=0.0"),
    (["a", "a"], "parameter 'p': `choices are distinct` must hold, but got choices=['a', 'a']"),
    ({"type": "banana", "low": 1}, "parameter 'p': unknown type 'banana'; use one of"),
    ({"type": "int", "low": 1}, "parameter 'p': missing field 'high' for type 'int'"),
    ({"type": "lattice", "lower": 1}, "parameter 'p': missing field 'upper' for type 'lattice'; give lower, upper"),
])
def test_bad_parameters_name_the_rule_and_the_value(spec, message):
    with pytest.raises(SpaceError) as err:
        SearchSpace({"p": spec})
    assert str(err.value).startswith(message)


def test_bad_points_and_focus_arguments():
    space = mixed()
    with pytest.raises(SpaceError, match=r"missing parameter\(s\) \['act'\]"):
        space.validate({"lr": 5e-5, "layers": 1, "dropout": 0.0, "wd": 1e-3})
    with pytest.raises(SpaceError, match="parameter 'layers': value 9 is outside"):
        space.validate({"lr": 5e-5, "layers": 9, "dropout": 0.0, "wd": 1e-3, "act": "relu"})
    centre = {"lr": 5e-5, "layers": 1, "dropout": 0.0, "wd": 1e-3, "act": "relu"}
    with pytest.raises(SpaceError, match="focus: unknown parameter 'nope'"):
        space.focus(centre, {"nope": 0.1})
    with pytest.raises(SpaceError, match="`eps >= 0` must hold"):
        space.focus(centre, -0.1)
    with pytest.raises(SpaceError, match="at least one parameter"):
        SearchSpace({})


@pytest.mark.parametrize("scale, upper", [(5e-5, 200), (0.05, 20), (0.1, 9), (2.5, 40),
                                          (1 / 3, 30), (1e-7, 300), (32, 64)])
def test_format_value_tells_every_pair_of_lattice_levels_apart(scale, upper):
    p = Lattice(1, upper, scale)
    shown = [p.format_value(p.decode(u)) for u in np.linspace(0, 1, upper)]
    assert len(set(shown)) == upper
    k = np.array([float(text) / scale for text in shown])  # each reads back as its level
    np.testing.assert_allclose(k, np.arange(1, upper + 1), atol=0.02)


def test_format_value_of_each_kind():
    lr = Lattice(1, 200, 5e-5)
    assert [lr.format_value(v) for v in (0.00155, 0.0016, 0.00015, 0.0001)] == \
        ["0.00155", "0.0016", "0.00015", "0.0001"]
    assert Lattice(1, 64, 32).format_value(64.0) == "64" and Integer(0, 9).format_value(3.0) == "3"
    assert Real(1e-6, 1e-2, log=True).format_value(0.000123456) == "0.0001235"  # 4 figures
    assert Categorical(("relu", "tanh")).format_value("tanh") == "tanh"
    assert mixed().format_point({"lr": 0.00155, "layers": 2, "dropout": 0.123456, "wd": 1e-5,
                                 "act": "gelu"}) == \
        "lr=0.00155, layers=2, dropout=0.1235, wd=1e-05, act=gelu"
