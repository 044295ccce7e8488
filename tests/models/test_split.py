"""The shared train / validation / test split: sizes, the default, refusals, and the pre-flight
description read from file metadata only (no TensorFlow here)."""

import re

import numpy as np
import pytest

from models.data import make_dataset
from models.data.split import Split, family_split, split_sizes
from models.trial import check_data, describe_data


def test_layout_keeps_validation_last_and_the_parts_disjoint_and_complete():
    s = split_sizes(10, 2, 3, "x")
    rows = np.arange(10)
    train, val, test = s.parts(rows)
    assert (s.train, s.validation, s.test) == (5, 2, 3)
    assert list(train) == [0, 1, 2, 3, 4] and list(test) == [5, 6, 7] and list(val) == [8, 9]
    train, val, test = s.parts(rows, held_out_first=True)
    assert list(val) == [0, 1] and list(test) == [2, 3, 4] and list(train) == [5, 6, 7, 8, 9]
    # test: 0 is exactly the split before the test split existed (last rows validation)
    train, val, test = split_sizes(10, 2, 0, "x").parts(rows)
    assert list(val) == [8, 9] and len(train) == 8 and len(test) == 0


def test_default_test_is_the_validation_size_where_the_file_allows_else_zero_with_a_note():
    big = family_split("dimuon", {"validation": 1000}, 3000)
    assert (big.train, big.validation, big.test, big.test_default) == (1000, 1000, 1000, True)
    small = family_split("dimuon", {"validation": 1000}, 2999)
    assert small.test == 0 and small.train == 1999 and "set data.test" in small.note
    assert "set data.test" in small.line() and "0 test" in small.line()
    # synthetic event data: data.events training events are generated beside both held-out parts
    synth = family_split("hadronization", {"events": 300, "validation": 100})
    assert (synth.events, synth.train, synth.validation, synth.test) == (500, 300, 100, 100)
    old = family_split("hadronization", {"events": 300, "validation": 100, "test": 0})
    assert (old.events, old.train, old.test) == (400, 300, 0)    # what was generated before
    assert family_split("calo_wgan", {}).line() == (
        "2000 train / 1500 validation / 1500 test (test: default, = validation)")
    assert family_split("calo3d", {"val_events": 500}, 200).validation == 40  # capped at 1/5


@pytest.mark.parametrize("model,data,n,message", [
    ("dimuon", {"validation": 2000}, 2304,
     "dimuon data: data.validation=2000 holds out 2000 of the 2304 events for validation, over "
     "half; use at most 1152 (e.g. data.validation: 230)"),
    ("hadronization", {"validation": 100, "test": 1200}, 2304,
     "hadronization data: data.test=1200 holds out over half of the 2304 events; use at most 1152"),
    ("dimuon", {"validation": 1000, "test": 1000}, 2304,
     "dimuon data: data.validation=1000 and data.test=1000 leave 304 of the 2304 events for "
     "training, fewer than held out; lower them (e.g. data.validation: 230, data.test: 230)"),
    ("calo_wgan", {"val_fraction": 0.6}, 6000,
     "calo_wgan data: data.val_fraction=0.6 holds out 3600 of the 6000 events for validation"),
    ("hadronization", {"events": 50, "validation": 100}, None,
     "leave 50 of the 250 events for training, fewer than held out; raise data.events to 100"),
    ("dimuon", {"test": -1}, 1000, "data.test=-1; must be a whole number of events >= 0"),
    ("dimuon", {"validation": 0}, 1000, "data.validation=0; must be a whole number of events >= 1"),
])
def test_bad_splits_are_refused_in_one_line_with_the_field_the_value_and_the_fix(model, data, n,
                                                                                 message):
    with pytest.raises(ValueError, match=re.escape(message)) as err:
        family_split(model, data, n)
    assert "\n" not in str(err.value)


def test_describe_and_check_read_file_metadata_only(tmp_path):
    npz = make_dataset("hadronization", tmp_path / "h.npz", 2304, seed=0, progress=False)
    assert describe_data("hadronization", {"path": str(npz), "validation": 500}) == (
        f"data: {npz} (2304 events) -> 1304 train / 500 validation / 500 test "
        "(test: default, = validation)")
    with pytest.raises(ValueError, match=r"data\.validation=2000 holds out 2000 of the 2304"):
        check_data("hadronization", {"path": str(npz), "validation": 2000})
    root = make_dataset("dimuon", tmp_path / "d.root", 1000, seed=0, progress=False)
    line = describe_data("dimuon", {"path": str(root), "validation": 200, "test": 100})
    assert line == (f"data: {root} (TTree 'events': 1000 entries, before requiring two muons) -> "
                    "700 train / 200 validation / 100 test")
    txt = make_dataset("dimuon", tmp_path / "d.txt", 90, seed=0, progress=False)
    assert "(90 events) -> 60 train / 30 validation / 0 test" in describe_data(
        "dimuon", {"path": str(txt), "validation": 30, "test": 0})
    h5 = make_dataset("calochallenge", tmp_path / "c.h5", 100, seed=0, progress=False,
                      particle="photon", xml=False)
    assert describe_data("calo_wgan", {"path": str(h5)}) == (
        f"data: {h5} (100 showers) -> 40 train / 30 validation / 30 test "
        "(test: default, = validation)")
    with pytest.raises(ValueError, match=r"calo3d data file \S+gone\.h5: no such file"):
        check_data("calo3d", {"path": str(tmp_path / "gone.h5")})
    assert describe_data("some.module", {}) is None and check_data("some.module", {}) is None
    assert describe_data("hadronization", {}).startswith(
        "data: synthetic hadronization events (seed 0): 110000 generated -> 100000 train")


def test_the_description_reads_no_array(tmp_path, monkeypatch):
    n = 200_000
    with open(tmp_path / "big.npz", "wb") as f:
        np.savez(f, input_4vec=np.ones((n, 4), np.float32), out_truth=np.zeros((n, 2), np.float32))
    np.save(tmp_path / "d.npy", np.zeros(n, dtype=[(k, "f4") for k in ("pt1", "eta1", "phi1",
                                                                        "pt2", "eta2", "phi2")]))

    def no_reading(*args, **kwargs):
        raise AssertionError("read an array")

    monkeypatch.setattr(np.lib.format, "read_array", no_reading)
    monkeypatch.setattr(np, "fromfile", no_reading)
    line = describe_data("hadronization", {"path": str(tmp_path / "big.npz")})
    assert line.endswith("(200000 events) -> 190000 train / 5000 validation / 5000 test "
                         "(test: default, = validation)")
    assert "(200000 events) -> 190000 train" in describe_data("dimuon", {"path": str(tmp_path / "d.npy")})


def test_split_line_without_a_test_split():
    assert Split(10, 8, 2, 0).line() == "8 train / 2 validation / 0 test"
