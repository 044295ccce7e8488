"""models.metrics: exact against scipy and against chi^2 values worked out independently."""

import time

import numpy as np
import pytest
from scipy import stats

from models import metrics


@pytest.mark.parametrize("seed", range(5))
def test_wasserstein_and_ks_equal_scipy_on_random_samples(seed):
    rng = np.random.default_rng(seed)
    u = rng.normal(size=rng.integers(1, 500))
    v = rng.standard_t(3, size=rng.integers(1, 500)) + rng.uniform(-1, 1)
    if seed == 0:  # ties inside and across the samples
        u, v = np.round(u, 1), np.round(v, 1)
    assert metrics.wasserstein_1d(u, v) == pytest.approx(stats.wasserstein_distance(u, v),
                                                         abs=1e-12, rel=1e-12)
    assert metrics.ks_statistic(u, v) == pytest.approx(stats.ks_2samp(u, v).statistic,
                                                       abs=1e-12)


def test_wasserstein_of_a_shift_is_the_shift_and_identical_samples_give_zero():
    x = np.random.default_rng(0).uniform(size=1000)
    assert metrics.wasserstein_1d(x, x + 0.25) == pytest.approx(0.25, abs=1e-12)
    assert metrics.wasserstein_1d(x, x) == 0.0
    assert metrics.ks_statistic(x, x) == 0.0


def test_column_means_average_the_per_column_values():
    rng = np.random.default_rng(3)
    real, fake = rng.normal(size=(400, 3)), rng.normal(0.3, 1.2, size=(300, 3))
    expected = np.mean([stats.wasserstein_distance(real[:, j], fake[:, j]) for j in range(3)])
    assert metrics.wasserstein_mean(real, fake) == pytest.approx(expected, abs=1e-12)
    ks = np.mean([stats.ks_2samp(real[:, j], fake[:, j]).statistic for j in range(3)])
    assert metrics.ks_mean(real, fake) == pytest.approx(ks, abs=1e-12)
    with pytest.raises(ValueError, match="3 columns but fake has 2"):
        metrics.wasserstein_mean(real, fake[:, :2])


def test_wasserstein_mean_is_cheap_for_an_epoch_evaluation():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(5000, 8)), rng.normal(size=(5000, 8))
    start = time.perf_counter()
    metrics.wasserstein_mean(real, fake)
    assert time.perf_counter() - start < 0.5


def _chi2_uu_by_loop(n, m):
    """Independent reading of the UU formula, one bin at a time."""
    big_n, big_m = sum(n), sum(m)
    chi2, used = 0.0, 0
    for ni, mi in zip(n, m, strict=True):
        if ni + mi == 0:
            continue
        used += 1
        chi2 += (ni / big_n - mi / big_m) ** 2 / (ni + mi)
    return chi2 * big_n * big_m, used - 1


def test_chi2_uu_worked_by_hand():
    # Totals 30 each; each bin differs by 30*10 - 30*20 = 300: 2 * 300^2 / 30 / 900 = 20/3.
    result = metrics.chi2_uu([10, 20], [20, 10])
    assert result.chi2 == pytest.approx(20 / 3, rel=1e-15) and result.ndf == 1
    assert metrics.chi2_uu([10, 20], [10, 20]).chi2 == 0.0


def test_chi2_uu_skips_bins_empty_in_both_and_keeps_one_sided_bins():
    n = [0, 4, 7, 0, 12, 3, 0]
    m = [0, 6, 5, 2, 20, 0, 0]
    result = metrics.chi2_uu(n, m)
    chi2, ndf = _chi2_uu_by_loop(n, m)
    assert result.chi2 == pytest.approx(chi2, rel=1e-13) and result.ndf == ndf == 4
    assert result.chi2_ndf == pytest.approx(chi2 / 4, rel=1e-13)


def test_chi2_uu_agrees_with_scipy_contingency_table_on_full_bins():
    # With no empty bins, UU is Pearson's chi^2 of the 2 x k contingency table.
    rng = np.random.default_rng(7)
    n, m = rng.integers(5, 60, size=12), rng.integers(5, 60, size=12)
    expected = stats.chi2_contingency(np.vstack([n, m]), correction=False)
    result = metrics.chi2_uu(n, m)
    assert result.chi2 == pytest.approx(expected.statistic, rel=1e-12)
    assert result.ndf == expected.dof == 11


def test_chi2_ww_worked_by_hand_with_explicit_sumw2():
    # (W1 y2 - W2 y1)^2 / (W1^2 s2 + W2^2 s1): 90000/13500 + 90000/10800 = 15.
    result = metrics.chi2_ww([10, 20], [20, 10], sumw2_1=[5, 8], sumw2_2=[10, 4])
    assert result.chi2 == pytest.approx(15.0, rel=1e-15) and result.ndf == 1


def test_chi2_ww_with_unit_weights_and_empty_bins():
    y1 = np.array([0, 3, 8, 0, 10, 2.0])
    y2 = np.array([0, 5, 4, 1, 16, 0.0])
    w1, w2 = y1.sum(), y2.sum()
    keep = (y1 + y2) > 0
    expected = sum((w1 * b - w2 * a) ** 2 / (w1**2 * b + w2**2 * a)
                   for a, b in zip(y1[keep], y2[keep], strict=True))
    result = metrics.chi2_ww(y1, y2)
    assert result.chi2 == pytest.approx(expected, rel=1e-13)
    assert result.ndf == 6 - 1 - 1
    assert metrics.chi2_histograms(y1, y2, "ww") == result


def test_chi2_rejects_bad_input_with_a_clear_message():
    with pytest.raises(ValueError, match="2 and 3 bins"):
        metrics.chi2_uu([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="both must be > 0"):
        metrics.chi2_uu([0, 0], [1, 2])
    with pytest.raises(ValueError, match="use 'UU' or 'WW'"):
        metrics.chi2_histograms([1, 2], [2, 1], "UW")


def test_chi2_samples_histograms_on_the_real_range():
    rng = np.random.default_rng(1)
    real = rng.normal(size=2000)
    good = metrics.chi2_samples(real, rng.normal(size=2000), bins=20)
    bad = metrics.chi2_samples(real, rng.normal(0.5, size=2000), bins=20)
    assert good.ndf <= 19 and good.chi2_ndf < 3 < bad.chi2_ndf
    assert metrics.chi2_samples(real, real + 100.0).chi2 == np.inf


def test_separation_power_bounds_and_value():
    assert metrics.separation_power([1, 2, 3], [2, 4, 6]) == 0.0
    assert metrics.separation_power([5, 0], [0, 7]) == pytest.approx(1.0)
    p, q = np.array([0.25, 0.75]), np.array([0.5, 0.5])
    assert metrics.separation_power([1, 3], [2, 2]) == pytest.approx(
        0.5 * np.sum((p - q) ** 2 / (p + q)), rel=1e-15)
