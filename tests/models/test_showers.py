"""Synthetic calorimeter data: GFlash 3DGAN showers, CaloChallenge dataset-1 geometry, loaders."""

import time

import h5py
import numpy as np
import pytest

from models.data import calochallenge as cc
from models.data import showers


def test_gflash_sampling_fraction_and_tilt():
    rng = np.random.default_rng(0)
    energy, theta = showers.sample_conditions(300, rng)
    images = showers.generate_showers(energy, theta, seed=1)
    assert images.shape == (300, 51, 51, 25) and images.dtype == np.float32
    sf = images.sum(axis=(1, 2, 3)) / showers.ECAL_SCALE / energy
    assert sf.mean() == pytest.approx(0.02, rel=0.05)          # small leakage only
    # a 60 deg shower's y barycentre moves cot(60 deg) cells per layer
    tilted = showers.generate_showers(np.full(100, 100.0), np.full(100, np.radians(60)), seed=2)
    py = tilted.sum(axis=(0, 1))                                  # (y, z)
    y_bar = (py * np.arange(51)[:, None]).sum(0) / py.sum(0)
    assert np.median(np.diff(y_bar)[3:15]) == pytest.approx(1 / np.tan(np.radians(60)), rel=0.1)


def test_longitudinal_maximum_moves_with_log_energy():
    """T = ln(E/E_c) - 0.812 X0: the mean-profile maximum grows by ln(E2/E1) radiation lengths."""
    t_mean, a = showers.longitudinal_params(np.array([10.0, 100.0]))
    assert np.diff(t_mean)[0] == pytest.approx(np.log(10.0), rel=1e-9)
    depth = []
    for e in (10.0, 100.0):
        img = showers.generate_showers(np.full(150, e), np.full(150, np.pi / 2), seed=3)
        prof = img.sum(axis=(0, 1, 2))
        depth.append((prof * (np.arange(25) + 0.5)).sum() / prof.sum())
    # mean depth of a Gamma profile is a/b = a T/(a-1): compare to the shift of that
    shift = (a * t_mean / (a - 1))[1] - (a * t_mean / (a - 1))[0]
    assert depth[1] - depth[0] == pytest.approx(shift, rel=0.25)


def test_generation_is_fast():
    rng = np.random.default_rng(0)
    energy, theta = showers.sample_conditions(500, rng)
    start = time.perf_counter()
    showers.generate_showers(energy, theta, seed=1)
    cc.generate_showers(3000, "pion", seed=1)
    assert time.perf_counter() - start < 20.0


def test_3dgan_file_roundtrip_and_errors(tmp_path):
    path = showers.write_dataset(tmp_path / "e.h5", 20, seed=1, progress=False, grid=(13, 13, 8))
    d = showers.load_3dgan(path, grid=(13, 13, 8))
    assert d["ECAL"].shape == (20, 13, 13, 8) and d["energy"].shape == (20,)
    assert 2.0 <= d["energy"].min() and d["energy"].max() <= 500.0
    assert np.radians(60) - 1e-6 <= d["theta"].min() and d["theta"].max() <= np.radians(120) + 1e-6
    with pytest.raises(ValueError, match="ECAL"):
        showers.load_3dgan(path, grid=(51, 51, 25))
    bad = tmp_path / "bad.h5"
    with h5py.File(bad, "w") as f:
        f["ECAL"] = np.zeros((2, 51, 51, 25), np.float32)
        f["energy"] = np.ones(2)
    with pytest.raises(KeyError, match="'theta'"):
        showers.load_3dgan(bad)


def test_calochallenge_geometry():
    pho, pion = cc.DATASET1["photon"], cc.DATASET1["pion"]
    assert pho.n_voxels == 368 and pion.n_voxels == 533
    assert pho.layer_ids == [0, 1, 2, 3, 12] and pho.layer_offsets == [0, 8, 168, 358, 363, 368]
    assert pion.layer_ids == [0, 1, 2, 3, 12, 13, 14]
    assert pion.layer_offsets == [0, 8, 108, 208, 213, 363, 523, 533]
    r, alpha = pho.centres()
    # layer 1: radial bins of slice 0 first, then slice 1
    assert r[8:8 + 16].tolist() == [1, 3, 5, 7, 9, 11, 13.5, 17.5, 25, 35, 45, 60, 80, 105, 135, 175]
    assert np.all(alpha[8:24] == alpha[8]) and alpha[24] > alpha[8]
    assert list(cc.ENERGIES_MEV[[0, -1]]) == [256.0, 4194304.0] and len(cc.ENERGIES_MEV) == 15


def test_binning_xml_roundtrip_and_official_layout(tmp_path):
    for particle in ("photon", "pion"):
        path = cc.write_binning_xml(tmp_path / f"{particle}.xml", particle)
        assert cc.read_binning_xml(path, particle) == cc.DATASET1[particle]
    official = tmp_path / "official.xml"
    official.write_text('<Bins>\n <Bin pid="22" etaMin="0" etaMax="130" name="photon">\n'
                        '  <Layer id="0" r_edges="0,5,10" n_bin_alpha="1" />\n'
                        '  <Layer id="1" r_edges="0" n_bin_alpha="1" />\n'
                        '  <Layer id="2" r_edges="0,2,4" n_bin_alpha="10" />\n </Bin>\n</Bins>\n')
    b = cc.read_binning_xml(official, "photon")
    assert b.layer_ids == [0, 2] and b.n_voxels == 2 + 20
    with pytest.raises(ValueError, match="pion"):
        cc.read_binning_xml(official, "pion")


def test_calochallenge_showers_and_files(tmp_path):
    inc, sh = cc.generate_showers(1500, "photon", seed=4)
    assert inc.shape == (1500, 1) and sh.shape == (1500, 368) and (sh >= 0).all()
    assert set(np.unique(inc)) <= set(cc.ENERGIES_MEV)
    ratio = sh.sum(1) / inc[:, 0]
    assert 0.85 < ratio.mean() < 1.0
    hi = inc[:, 0] >= 2**18                      # resolution improves with energy
    assert ratio[hi].std() < ratio[inc[:, 0] <= 2**10].std()
    path = cc.write_dataset(tmp_path / "pion.h5", 50, seed=1, progress=False, particle="pion")
    xml = tmp_path / "binning_dataset_1_pions.xml"
    d = cc.load_calochallenge(path, "pion", xml)
    assert d["showers"].shape == (50, 533) and d["incident_energies"].shape == (50, 1)
    with pytest.raises(ValueError, match="533 voxels but the photon binning has 368"):
        cc.load_calochallenge(path, "photon")
    bad = tmp_path / "bad.h5"
    with h5py.File(bad, "w") as f:
        f["showers"] = np.zeros((3, 368))
    with pytest.raises(KeyError, match="'incident_energies'"):
        cc.load_calochallenge(bad)
