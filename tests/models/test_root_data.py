"""ROOT TTree input for the event GANs: column mappings, jagged muons, round trips, bad files."""

import os
import subprocess
import sys
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot
import yaml

from models.data import make_dataset
from models.data.cache import file_options, freeze
from models.data.dimuon import M_MU, generate_events, load_dimuon
from models.data.hadronization import generate_clusters, load_hadronization
from models.data.kinematics import from_pt_eta_phi
from models.trial import check_data
from orchestrator.cli import main
from orchestrator.store import DONE, read_store

NANO = {"pt": "Muon_pt", "eta": "Muon_eta", "phi": "Muon_phi"}


def write_tree(path, branches, name="Events"):
    """A TTree (not uproot's default RNTuple) from numpy arrays and awkward records."""
    with uproot.recreate(path) as f:
        tree = f.mktree(name, {k: (v.type if isinstance(v, ak.Array) else v.dtype)
                               for k, v in branches.items()})
        tree.extend(branches)
    return path


def nano_muons(seed=0, n=400):
    """NanoAOD-like events with 0-4 unsorted muons each, as python lists per event."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 5, n)
    events = [rng.uniform([5.0, -2.4, -np.pi], [120.0, 2.4, np.pi], (c, 3)) for c in counts]
    return counts, events


def nano_file(path, seed=0, n=400, extra=None):
    counts, events = nano_muons(seed, n)
    muon = ak.zip({k: ak.Array([e[:, i].tolist() for e in events]) for i, k in enumerate(("pt", "eta", "phi"))})
    p4 = ak.Array([from_pt_eta_phi(e, M_MU).tolist() for e in events])
    branches = {"Muon": muon, "MuonP4": ak.zip({k: p4[:, :, i] for i, k in enumerate(("E", "px", "py", "pz"))}),
                "run": np.ones(n, np.int32), **(extra or {})}
    return write_tree(path, branches), counts, events


def expected_leading(events):
    """Independent: for each event with >= 2 muons, the two highest-pT (pt, eta, phi) rows."""
    rows = [e[np.argsort(-e[:, 0])[:2]].reshape(6) for e in events if len(e) >= 2]
    return np.array(rows)


def test_dimuon_root_round_trip_is_identical(tmp_path):
    path = make_dataset("dimuon", tmp_path / "d.root", 300, seed=4, progress=False)
    tree = uproot.open(path)["events"]
    assert tree.keys() == ["nMuon", "Muon_pt", "Muon_eta", "Muon_phi"]
    assert np.all(tree["nMuon"].array(library="np") == 2)
    assert np.array_equal(load_dimuon(path), generate_events(300, 4).astype(np.float32))
    assert np.array_equal(load_dimuon(path), load_dimuon(make_dataset(
        "dimuon", tmp_path / "d.npy", 300, seed=4, progress=False)))


def test_hadronization_root_round_trip_and_angles_from_the_hadrons(tmp_path):
    path = make_dataset("hadronization", tmp_path / "h.root", 2000, seed=5, progress=False)
    truth = generate_clusters(2000, 5)
    arrays = load_hadronization(path)
    for key in ("input_4vec", "out_truth"):
        assert np.array_equal(arrays[key], truth[key].astype(np.float32))
    assert np.array_equal(load_hadronization(make_dataset(
        "hadronization", tmp_path / "h.npz", 2000, seed=5, progress=False))["out_truth"], arrays["out_truth"])
    # the rest-frame angles recomputed from both (jagged, float32) pions: the leading one by lab pT
    cols = {"E": "cluster_E", "px": "cluster_px", "py": "cluster_py", "pz": "cluster_pz",
            **{f"hadron_{k}": f"Hadron_{k}" for k in ("E", "px", "py", "pz")}}
    from_pions = load_hadronization(path, columns=cols)
    diff = np.abs(from_pions["out_truth"] - arrays["out_truth"])
    assert np.quantile(diff, 0.99) < 1e-3 and np.median(diff) < 1e-5


def test_dimuon_nanoaod_style_jagged_muons_keep_events_with_two_and_order_by_pt(tmp_path):
    path, counts, events = nano_file(tmp_path / "nano.root")
    want = expected_leading(events)
    table = load_dimuon(path, tree="Events", columns=NANO)
    assert len(table) == int(np.sum(counts >= 2)) == len(want)
    np.testing.assert_allclose(table, want, rtol=1e-6, atol=1e-6)
    # the same muons given as (px, py, pz, E) and as expressions of the pT-eta-phi branches
    cart = load_dimuon(path, columns={"px": "MuonP4_px", "py": "MuonP4_py", "pz": "MuonP4_pz",
                                      "E": "MuonP4_E"})
    np.testing.assert_allclose(cart, want, rtol=1e-5, atol=1e-5)
    expr = load_dimuon(path, columns={"px": "Muon_pt * cos(Muon_phi)", "py": "Muon_pt * sin(Muon_phi)",
                                      "pz": "Muon_pt * sinh(Muon_eta)"})
    np.testing.assert_allclose(expr, want, rtol=1e-5, atol=1e-5)
    # an event-level cut evaluated by uproot
    cut = load_dimuon(path, columns=NANO, cut="run == 1")
    assert len(cut) == len(want)


def test_dimuon_one_branch_per_muon_in_mev_via_expressions(tmp_path):
    table = generate_events(200, 3)
    swapped = table[:, [3, 4, 5, 0, 1, 2]]  # sub-leading first: the loader orders by pT
    names = ["mu1_pt", "mu1_eta", "mu1_phi", "mu2_pt", "mu2_eta", "mu2_phi"]
    branches = {n: swapped[:, i].astype(np.float64) for i, n in enumerate(names)}
    branches["mu1_pt"] *= 1000
    branches["mu2_pt"] *= 1000
    path = write_tree(tmp_path / "flat.root", branches, name="tree")
    cols = {"pt1": "mu1_pt / 1000", "eta1": "mu1_eta", "phi1": "mu1_phi",
            "pt2": "mu2_pt / 1000", "eta2": "mu2_eta", "phi2": "mu2_phi"}
    np.testing.assert_allclose(load_dimuon(path, columns=cols), table, rtol=1e-6)


def test_root_errors_name_the_file_the_tree_and_what_is_there(tmp_path):
    path, _, _ = nano_file(tmp_path / "nano.root")
    with pytest.raises(ValueError, match=r"^dimuon data file \S*missing.root: no such file$"):
        load_dimuon(tmp_path / "missing.root")
    with pytest.raises(ValueError, match=r"nano.root: no TTree 'events'; the file has TTrees: "
                                         r"Events; did you mean 'Events'\?$"):
        load_dimuon(path, tree="events", columns=NANO)
    with pytest.raises(ValueError, match=r"nano.root: TTree 'Events': column 'pt' = 'Muon_ptt' uses "
                                         r"branch 'Muon_ptt', which the tree lacks; did you mean "
                                         r"Muon_pt.*branches there: nMuon, Muon_pt, Muon_eta, Muon_phi"):
        load_dimuon(path, columns={**NANO, "pt": "Muon_ptt"})
    with pytest.raises(ValueError, match=r"column 'eta' = 'Muon_eta \*' is not an expression"):
        load_dimuon(path, columns={**NANO, "eta": "Muon_eta *"})
    with pytest.raises(ValueError, match=r"nano.root: columns \['eta', 'pt'\]; expected per-muon "
                                         r"collections pt, eta, phi"):
        load_dimuon(path, columns={"pt": "Muon_pt", "eta": "Muon_eta"})
    with pytest.raises(ValueError, match=r"nano.root: TTree 'Events': column 'phi' has type "
                                         r"400 \* int32; expected a collection per event"):
        load_dimuon(path, columns={**NANO, "phi": "run"})
    per_muon = {f"{k}{i}": f"Muon_{k}" for k in ("pt", "eta", "phi") for i in (1, 2)}
    with pytest.raises(ValueError, match=r"column 'pt1' has type 400 \* var \* float64 \(a "
                                         r"collection per event\); expected one number per event"):
        load_dimuon(path, columns=per_muon)
    with pytest.raises(ValueError, match=r"columns 'pt' and 'eta' have different numbers of entries"):
        load_dimuon(path, columns={**NANO, "eta": "MuonP4_E[:, :1]"})
    with pytest.raises(ValueError, match=r"tree/columns/cut apply to .root files only"):
        load_dimuon(tmp_path / "x.npy", columns=NANO)


def test_many_trees_need_a_name_and_a_non_root_file_is_one_line(tmp_path):
    path = tmp_path / "two.root"
    with uproot.recreate(path) as f:
        for name in ("Events", "Runs"):
            f.mktree(name, {"x": np.float64}).extend({"x": np.zeros(3)})
    with pytest.raises(ValueError, match=r"two.root: 2 TTrees \(Events, Runs\); name one with data: \{tree: NAME\}"):
        load_hadronization(path)
    (tmp_path / "junk.root").write_text("not root")
    with pytest.raises(ValueError, match=r"junk.root: not a readable ROOT file"):
        load_dimuon(tmp_path / "junk.root")


@pytest.mark.parametrize("policy", ["refuse", "drop"])
def test_nan_and_inf_rows_are_counted_and_refused_or_dropped(tmp_path, policy):
    c = generate_clusters(100, 2)
    branches = {f"c_{k}": c["input_4vec"][:, i].copy() for i, k in enumerate(("E", "px", "py", "pz"))}
    branches.update(phi=c["out_truth"][:, 0].copy(), theta=c["out_truth"][:, 1].copy())
    branches["c_E"][[3, 7]] = np.nan
    branches["theta"][[7, 9, 11]] = np.inf
    path = write_tree(tmp_path / "bad.root", branches, name="clusters")
    cols = {"E": "c_E", "px": "c_px", "py": "c_py", "pz": "c_pz", "phi": "phi", "theta": "theta"}
    if policy == "refuse":
        with pytest.raises(ValueError, match=r"bad.root: TTree 'clusters': 4 of 100 events have NaN/inf "
                                             r"values \(columns E, theta\); refused; .*nonfinite: drop"):
            load_hadronization(path, columns=cols)
    else:
        arrays = load_hadronization(path, columns=cols, nonfinite=policy)
        keep = np.setdiff1d(np.arange(100), [3, 7, 9, 11])
        assert np.array_equal(arrays["out_truth"], c["out_truth"][keep].astype(np.float32))


def test_dimuon_nan_in_a_text_file_is_refused_with_the_count(tmp_path):
    table = generate_events(20, 0)
    table[5, 1] = np.nan
    np.savetxt(tmp_path / "d.txt", table)
    with pytest.raises(ValueError, match=r"d.txt: 1 of 20 events have NaN/inf values \(columns eta1\)"):
        load_dimuon(tmp_path / "d.txt")
    assert load_dimuon(tmp_path / "d.txt", nonfinite="drop").shape == (19, 6)


def test_nested_columns_freeze_into_a_cache_key_and_back():
    data = {"path": "f.root", "tree": "Events", "columns": {"pt": "Muon_pt", "eta": "Muon_eta"},
            "steps_per_epoch": 3}
    frozen = freeze(data)
    assert hash(frozen) == hash(freeze(dict(reversed(list(data.items())))))
    assert file_options(dict(frozen)) == {"tree": "Events", "columns": {"pt": "Muon_pt", "eta": "Muon_eta"}}


# ---- end to end: `ganhpo run` on ROOT files written here, with a YAML columns mapping ---------

ROOT = Path(__file__).resolve().parents[2]
SPACE = {"noise_dim": {"lower": 1, "upper": 8, "scale": 1},
         "gen_layersize": {"lower": 1, "upper": 4, "scale": 8}}


def write_experiment(tmp_path, model, data, fixed=None) -> Path:
    spec = {"name": f"{model}_root", "trial": "models.trial:run_trial", "model": model,
            "data": {**data, "validation": 100, "steps_per_epoch": 2}, "fixed": fixed or {},
            "epochs": 1, "trials": 1, "budget": 2, "max_pending": 1, "seed": 1,
            "optimizer": {"name": "rbf", "n_initial": 2}, "space": SPACE}
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(spec))
    return tmp_path / "exp.yaml"


def ganhpo_run(tmp_path, model, data, fixed=None):
    """`ganhpo run exp.yaml` in a fresh interpreter, from the directory holding the data."""
    write_experiment(tmp_path, model, data, fixed)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "orchestrator.cli", "run", "exp.yaml", "--store",
                           "s.zarr", "--workers", "1", "--quiet"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


def assert_search_finished(proc, tmp_path):
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "best architecture:" in proc.stdout and "0 failed trials" in proc.stdout, proc.stdout
    snap = read_store(tmp_path / "s.zarr")
    assert snap.n == 2 and (snap.status == DONE).all() and np.isfinite(snap.metric).all()


@pytest.mark.slow
def test_dimuon_search_runs_on_a_nanoaod_style_root_file(tmp_path):
    nano_file(tmp_path / "nano.root", n=600)
    data = {"path": "nano.root", "tree": "Events", "columns": NANO}
    proc = ganhpo_run(tmp_path, "dimuon", data, {"variant": "mlp"})
    assert_search_finished(proc, tmp_path)
    assert ("ganhpo: data: nano.root (TTree 'Events': 600 entries, before requiring two muons) -> "
            "400 train / 100 validation / 100 test (test: default, = validation)") in proc.stdout


def test_a_wrong_branch_stops_ganhpo_run_before_any_cluster_with_one_line(tmp_path, capsys,
                                                                          monkeypatch):
    nano_file(tmp_path / "nano.root", n=50)
    data = {"path": "nano.root", "tree": "Events", "columns": {**NANO, "eta": "Muon_etaa"}}
    write_experiment(tmp_path, "dimuon", data, {"variant": "mlp"})
    monkeypatch.chdir(tmp_path)
    assert main(["run", "exp.yaml", "--store", "s.zarr", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and not (tmp_path / "s.zarr").exists()
    assert err.startswith("ganhpo: error: field 'data': dimuon data file nano.root: TTree 'Events': "
                          "column 'eta' = 'Muon_etaa' uses branch 'Muon_etaa', which the tree "
                          "lacks; did you mean Muon_eta"), err
    assert "branches there: nMuon, Muon_pt, Muon_eta, Muon_phi" in err


@pytest.mark.slow
def test_hadronization_search_runs_on_a_root_file_with_its_own_branch_names(tmp_path):
    c = generate_clusters(600, 7)
    pions = c["pions"]
    branches = {f"clus_{k}": c["input_4vec"][:, i] for i, k in enumerate(("e", "px", "py", "pz"))}
    branches["clus_e"][[1, 2, 3]] = np.nan  # dropped, as the experiment asks
    branches["pi0"] = ak.zip({k: ak.from_regular(ak.Array(pions[..., i]), axis=1)
                              for i, k in enumerate(("e", "px", "py", "pz"))})
    write_tree(tmp_path / "clusters.root", branches, name="clusters")
    columns = {"E": "clus_e", "px": "clus_px", "py": "clus_py", "pz": "clus_pz",
               **{f"hadron_{k}": f"pi0_{k.lower()}" for k in ("E", "px", "py", "pz")}}
    data = {"path": "clusters.root", "tree": "clusters", "columns": columns, "nonfinite": "drop"}
    assert_search_finished(ganhpo_run(tmp_path, "hadronization", data), tmp_path)


def test_the_example_mapping_reads_what_data_make_writes(tmp_path):
    spec = yaml.safe_load((ROOT / "examples" / "dimuon_root.yaml").read_text())
    path = make_dataset("dimuon", tmp_path / spec["data"]["path"], 6000, seed=2, progress=False)
    data = {**spec["data"], "path": str(path)}
    check_data("dimuon", data)
    table = load_dimuon(path, **file_options(dict(freeze(data))))
    assert np.array_equal(table, generate_events(6000, 2).astype(np.float32))


def test_the_preflight_check_reads_no_events_and_checks_the_split(tmp_path):
    path, _, _ = nano_file(tmp_path / "nano.root", n=20)
    with pytest.raises(ValueError, match=r"hadronization data file \S+nano.root: columns \['E'\]"):
        check_data("hadronization", {"path": str(path), "columns": {"E": "run"}})
    with pytest.raises(ValueError, match=r"dimuon data file \S+gone.txt: no such file"):
        check_data("dimuon", {"path": str(tmp_path / "gone.txt")})
    with pytest.raises(ValueError, match=r"nonfinite='keep'; use 'refuse' or 'drop'"):
        check_data("dimuon", {"path": str(path), "tree": "Events", "nonfinite": "keep"})
    assert check_data("dimuon", {"path": str(path), "tree": "Events", "columns": NANO,
                                 "validation": 5}) is None
    with pytest.raises(ValueError, match=r"calo3d data file \S+gone.h5: no such file"):
        check_data("calo3d", {"path": str(tmp_path / "gone.h5")})
    with pytest.raises(ValueError, match=r"data.validation=20 holds out 20 of the 20 events"):
        check_data("dimuon", {"path": str(path), "tree": "Events", "columns": NANO, "validation": 20})
    assert check_data("dimuon", {"events": 100, "validation": 20}) is None    # synthetic data
    with pytest.raises(ValueError, match="leave 100 of the 10100 events for training"):
        check_data("dimuon", {"events": 100})        # 5000 validation events by default


def test_ganhpo_data_make_writes_root(tmp_path, capsys):
    out = tmp_path / "h.root"
    assert main(["data", "make", "hadronization", "--events", "40", "--seed", "3", "-o", str(out),
                 "--quiet"]) == 0
    assert "wrote 40 hadronization events" in capsys.readouterr().out
    assert np.array_equal(load_hadronization(out)["input_4vec"],
                          generate_clusters(40, 3)["input_4vec"].astype(np.float32))
