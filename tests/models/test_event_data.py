"""Synthetic event data (hadronization clusters, Drell-Yan dimuons) and the real-format loaders."""

import numpy as np
import pytest

from models.data import GENERATORS, make_dataset
from models.data.dimuon import FIELDS, M_MU, M_Z, features, generate_events, load_dimuon
from models.data.hadronization import M_PI0, generate_clusters, load_hadronization
from models.data.kinematics import boost, from_pt_eta_phi, mass


def dimuon_mass(table):
    return mass(from_pt_eta_phi(table.reshape(-1, 2, 3), M_MU).sum(axis=1))


def test_cluster_decays_conserve_four_momentum_and_put_pions_on_shell():
    c = generate_clusters(5000, seed=3)
    assert np.allclose(c["pions"].sum(axis=1), c["input_4vec"], atol=1e-9)
    assert np.allclose(mass(c["pions"]), M_PI0, atol=1e-6)
    m = mass(c["input_4vec"])
    assert 0.3 - 1e-9 <= m.min() and m.max() <= 4.0 + 1e-9 and 0.8 < np.median(m) < 1.2
    assert c["input_4vec"][:, 0].max() <= np.hypot(40.0, 4.0) + 1e-6
    assert np.all(np.abs(c["out_truth"]) < np.pi / 2)


def test_cluster_decay_anisotropy_grows_with_the_boost():
    # <cos^2> of the decay axis about the flight direction: 1/3 if isotropic, more for fast clusters.
    c = generate_clusters(40000, seed=1)
    cluster = c["input_4vec"]
    beta = cluster[:, 1:] / cluster[:, :1]
    rest = boost(c["pions"][:, 0], -beta)[:, 1:]
    cos2 = (np.sum(rest * beta, 1) / np.linalg.norm(rest, axis=1) / np.linalg.norm(beta, axis=1)) ** 2
    boost_ = np.linalg.norm(cluster[:, 1:], axis=1) / mass(cluster)
    slow, fast = cos2[boost_ < 1].mean(), cos2[boost_ > 10].mean()
    assert abs(slow - (1 + 0.6 * 0.0) / 3) < 0.1 and fast > slow + 0.08


def test_boost_is_inverted_by_the_opposite_boost():
    p = np.array([[5.0, 1.0, -2.0, 3.0]])
    beta = np.array([[0.3, -0.5, 0.6]])
    assert np.allclose(boost(boost(p, beta), -beta), p)
    assert np.isclose(mass(boost(p, beta)), mass(p))


def test_z_peak_position_width_and_acceptance():
    table = generate_events(30000, seed=2)
    m = dimuon_mass(table)
    counts, edges = np.histogram(m, bins=np.arange(86.0, 96.01, 0.5))
    peak = edges[np.argmax(counts)] + 0.25
    assert abs(peak - M_Z) < 1.0
    core = m[np.abs(m - M_Z) < 10]
    # Breit-Wigner (Gamma 2.5) convolved with 1-2 % resolution: FWHM ~ 3-4.5 GeV.
    counts, edges = np.histogram(core, bins=np.arange(81.0, 101.01, 0.25))
    above = edges[:-1][counts > counts.max() / 2]
    assert 2.5 < above.max() - above.min() + 0.25 < 5.0
    assert 89.6 < m.mean() < 92.5 and 6.5 < m.std() < 9.0   # the dataset moments DY-GAN uses
    pt, eta = table[:, [0, 3]], table[:, [1, 4]]
    assert pt.min() > 20 and np.abs(eta).max() < 2.4 and np.all(pt[:, 0] >= pt[:, 1])
    assert 50 < m.min() and m.max() < 150


def test_features_cartesian_and_rotated():
    table = generate_events(100, seed=0)
    f8, f7 = features(table), features(table, rotated=True)
    assert f8.shape == (100, 8) and f7.shape == (100, 7)
    m8 = np.sqrt((f8[:, 3] + f8[:, 7]) ** 2 - ((f8[:, :3] + f8[:, 4:7]) ** 2).sum(1))
    assert np.allclose(m8, dimuon_mass(table), rtol=1e-6)


def test_hadronization_loader_reads_what_the_generator_wrote(tmp_path):
    path = make_dataset("hadronization", tmp_path / "h.npz", 300, seed=1, progress=False)
    arrays = load_hadronization(path)
    assert arrays["input_4vec"].shape == (300, 4) and arrays["out_truth"].shape == (300, 2)
    expected = generate_clusters(300, 1)["out_truth"].astype(np.float32)
    assert np.array_equal(arrays["out_truth"], expected)


def test_hadronization_loader_names_the_bad_key(tmp_path):
    np.savez(tmp_path / "a.npz", input_4vec=np.ones((3, 4)))
    with pytest.raises(ValueError, match="missing key 'out_truth'; expected arrays input_4vec"):
        load_hadronization(tmp_path / "a.npz")
    np.savez(tmp_path / "b.npz", input_4vec=np.ones((3, 3)), out_truth=np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"key 'input_4vec' has shape \(3, 3\)"):
        load_hadronization(tmp_path / "b.npz")
    np.savez(tmp_path / "c.npz", input_4vec=np.tile([2.0, 1, 0, 0], (3, 1)), out_truth=np.full((3, 2), 90.0))
    with pytest.raises(ValueError, match=r"out_truth \(phi, theta\) has \|angle\| up to 90; expected radians"):
        load_hadronization(tmp_path / "c.npz")


@pytest.mark.parametrize("name", ["d.txt", "d.npy"])
def test_dimuon_loaders_read_what_the_generator_wrote(tmp_path, name):
    path = make_dataset("dimuon", tmp_path / name, 200, seed=4, progress=False)
    table = load_dimuon(path)
    assert table.shape == (200, 6)
    assert np.allclose(table, generate_events(200, 4), rtol=1e-5)


def test_dimuon_loaders_reject_missing_fields_wrong_shapes_and_mev(tmp_path):
    good = generate_events(50, 0)
    arr = np.rec.fromarrays(good.T[:5], names=list(FIELDS[:5]))
    np.save(tmp_path / "a.npy", arr)
    with pytest.raises(ValueError, match="missing field 'phi2'"):
        load_dimuon(tmp_path / "a.npy")
    np.savetxt(tmp_path / "b.txt", good[:, :5])
    with pytest.raises(ValueError, match=r"shape \(50, 5\); expected \(N, 6\)"):
        load_dimuon(tmp_path / "b.txt")
    mev = good.copy()
    mev[:, [0, 3]] *= 1000
    np.savetxt(tmp_path / "c.txt", mev)
    with pytest.raises(ValueError, match="expected GeV"):
        load_dimuon(tmp_path / "c.txt")


def test_make_dataset_registry_and_errors(tmp_path):
    assert {"hadronization", "dimuon"} <= set(GENERATORS)
    with pytest.raises(ValueError, match="unknown; use one of"):
        make_dataset("nope", tmp_path / "x", 10)
    with pytest.raises(ValueError, match="unknown options"):
        make_dataset("hadronization", tmp_path / "x.npz", 10, progress=False, colour="red")
