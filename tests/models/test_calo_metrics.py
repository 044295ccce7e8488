"""Calorimeter metrics: sampling fraction, shape MRE, chi^2/ndf per energy, CaloChallenge features."""

import numpy as np
import pytest

from models import calo_metrics as cm
from models.data.calochallenge import DATASET1
from models.metrics import chi2_ww


def test_sampling_fraction_and_mre():
    energy = np.array([10.0, 10.0, 100.0, 100.0])
    real = np.zeros((4, 2, 2, 2))
    real[:, 0, 0, 0] = energy * 0.02 * 50                      # SF exactly 0.02
    fake = real.copy()
    fake[2:] *= 1.5                                            # high bin 50 % too much
    assert np.allclose(cm.sampling_fraction(real, energy), 0.02)
    assert cm.sampling_fraction_mre(real, fake, energy, bins=[0, 50, 200]) == pytest.approx(0.25)
    assert cm.sampling_fraction_mre(real, real, energy) == 0.0
    with pytest.raises(ValueError, match="one entry per event"):
        cm.sampling_fraction_mre(real, fake[:3], energy)


def test_shape_mre():
    real = np.ones((3, 4, 4, 5))
    fake = real.copy()
    fake[:, :, :, 0] = 2.0                                     # first layer doubled
    out = cm.shape_mre(real, fake)
    assert out["shape_z"] == pytest.approx(1.0 / 5)
    assert out["shape_x"] == pytest.approx(0.2) and out["shape_y"] == pytest.approx(0.2)


def test_chi2_ndf_per_energy_matches_chi2_ww():
    rng = np.random.default_rng(0)
    inc = np.repeat([1000.0, 2000.0], 400)
    real, fake = rng.normal(inc, 30.0), rng.normal(inc * 1.02, 30.0)
    out = cm.chi2_ndf_total_energy(real, fake, inc, bins=20)
    r, f = real[:400], fake[:400]
    edges = np.linspace(r.min(), r.max(), 21)
    ref = chi2_ww(np.histogram(r, edges)[0], np.histogram(np.clip(f, edges[0], edges[-1]), edges)[0])
    assert out["chi2_ndf_1000"] == pytest.approx(ref.chi2 / ref.ndf)
    assert out["chi2_ndf"] == pytest.approx((out["chi2_ndf_1000"] + out["chi2_ndf_2000"]) / 2)
    assert cm.chi2_ndf_total_energy(real, real, inc)["chi2_ndf"] == 0.0


def test_high_level_features_on_a_single_voxel():
    b = DATASET1["photon"]
    shower = np.zeros((1, b.n_voxels))
    # layer 1, radial bin 3 (6-8 mm, centre 7), angular slice 0 (alpha centre -0.9 pi)
    shower[0, 8 + 3] = 5.0
    f = cm.high_level_features(shower, b, incident=np.array([10.0]))
    alpha = -np.pi + np.pi / 10
    assert f["e_layer_1"][0] == 5.0 and f["e_layer_2"][0] == 0.0 and f["e_ratio"][0] == 0.5
    assert f["center_eta_1"][0] == pytest.approx(7 * np.cos(alpha))
    assert f["center_phi_1"][0] == pytest.approx(7 * np.sin(alpha))
    assert f["width_eta_1"][0] == pytest.approx(0.0, abs=1e-6)
    assert f["sparsity_1"][0] == pytest.approx(159 / 160) and f["sparsity_2"][0] == 1.0
    sep = cm.hlf_separation(np.repeat(shower, 5, 0), np.repeat(shower, 5, 0), b)
    assert sep["sep_mean"] == 0.0
