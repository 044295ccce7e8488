"""Calorimeter validation metrics: 3DGAN sampling fraction and shower shapes, BoloGAN chi^2/ndf,
CaloChallenge high-level features.

All vectorised numpy over events (loops only over energy bins, layers or features).
"""

from __future__ import annotations

import numpy as np

from models.metrics import chi2_ww, separation_power

__all__ = ["ECAL_SCALE", "sampling_fraction", "sampling_fraction_mre", "shower_shapes",
           "shape_mre", "chi2_ndf_total_energy", "high_level_features", "hlf_separation"]

ECAL_SCALE = 50.0   # 3DGAN files store deposited GeV x 50


def sampling_fraction(images: np.ndarray, energy: np.ndarray, scale: float = ECAL_SCALE) -> np.ndarray:
    """Per-event SF = deposited energy / primary energy, with images in GeV x ``scale``."""
    images = np.asarray(images, np.float64)
    total = images.reshape(len(images), -1).sum(axis=1) / scale
    return total / np.asarray(energy, np.float64).reshape(-1)


def _energy_edges(energy: np.ndarray, bins: int | np.ndarray) -> np.ndarray:
    if np.ndim(bins) == 0:  # equal-population bins, so every bin has events
        return np.unique(np.quantile(energy, np.linspace(0.0, 1.0, int(bins) + 1)))
    return np.asarray(bins, np.float64)


def sampling_fraction_mre(real: np.ndarray, fake: np.ndarray, energy: np.ndarray,
                          bins: int | np.ndarray = 8, scale: float = ECAL_SCALE) -> float:
    """Mean over primary-energy bins of |<SF_fake> - <SF_real>| / <SF_real> (same conditions).

    The 3DGAN model-selection metric: ``fake`` must be generated for the same energies
    (and angles) as ``real``, event by event.
    """
    energy = np.asarray(energy, np.float64).reshape(-1)
    if len(real) != len(fake) or len(real) != len(energy):
        raise ValueError(f"real ({len(real)}), fake ({len(fake)}) and energy ({len(energy)}) need "
                         "one entry per event: generate fakes for the real conditions")
    sf_real, sf_fake = sampling_fraction(real, energy, scale), sampling_fraction(fake, energy, scale)
    edges = _energy_edges(energy, bins)
    which = np.clip(np.searchsorted(edges, energy, side="right") - 1, 0, len(edges) - 2)
    errors = []
    for k in range(len(edges) - 1):
        sel = which == k
        if sel.any():
            ref = sf_real[sel].mean()
            errors.append(abs(sf_fake[sel].mean() - ref) / ref)
    return float(np.mean(errors))


def shower_shapes(images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean x, y and z (depth) energy profiles of (N, X, Y, Z) images."""
    images = np.asarray(images, np.float64)
    if images.ndim == 5:
        images = images[..., 0]
    return (images.sum(axis=(2, 3)).mean(0), images.sum(axis=(1, 3)).mean(0),
            images.sum(axis=(1, 2)).mean(0))


def shape_mre(real: np.ndarray, fake: np.ndarray) -> dict[str, float]:
    """Bin-wise mean relative error of the x, y, z profiles (bins where real > 0), and their mean."""
    out = {}
    for axis, r, f in zip("xyz", shower_shapes(real), shower_shapes(fake), strict=True):
        used = r > 0
        out[f"shape_{axis}"] = float(np.mean(np.abs(f[used] - r[used]) / r[used])) if used.any() else float("nan")
    out["shape_mre"] = float(np.mean([out["shape_x"], out["shape_y"], out["shape_z"]]))
    return out


def chi2_ndf_total_energy(real_total: np.ndarray, fake_total: np.ndarray, incident: np.ndarray,
                          fake_incident: np.ndarray | None = None, bins: int = 30) -> dict[str, float]:
    """BoloGAN selection: per incident energy, chi^2/ndf (WW) of total-energy histograms; mean.

    Bins span the real sample's range at that energy; generated values outside it are put in
    the edge bins, so a generator that overshoots is penalised rather than ignored.
    Returns ``{"chi2_ndf": mean, "chi2_ndf_<E>": per energy}``.
    """
    real_total, fake_total = np.ravel(real_total), np.ravel(fake_total)
    incident = np.ravel(incident)
    fake_incident = incident if fake_incident is None else np.ravel(fake_incident)
    out: dict[str, float] = {}
    for e in np.unique(incident):
        r, f = real_total[incident == e], fake_total[fake_incident == e]
        if len(r) < 2 or len(f) < 1:
            continue
        lo, hi = r.min(), r.max()
        edges = np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)
        h_r, _ = np.histogram(r, edges)
        h_f, _ = np.histogram(np.clip(f, edges[0], edges[-1]), edges)
        res = chi2_ww(h_r, h_f)
        out[f"chi2_ndf_{e:g}"] = res.chi2_ndf if res.ndf > 0 else float("inf")
    if not out:
        raise ValueError("chi2_ndf_total_energy: no incident energy has >= 2 real events and a "
                         "generated one; pass samples that share incident energies")
    out["chi2_ndf"] = float(np.mean(list(out.values())))
    return out


def high_level_features(showers: np.ndarray, binning, incident: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """CaloChallenge features per event: E per layer, eta/phi centres and widths, sparsity, E_tot/E_inc.

    ``binning`` is a ``models.data.calochallenge.Binning``. Centres and widths are energy-weighted
    means and standard deviations of the voxel (eta, phi) = r (cos alpha, sin alpha) in mm; layers
    with no energy get 0. Sparsity is the fraction of the layer's voxels with zero energy.
    """
    showers = np.asarray(showers, np.float64)
    eta, phi = binning.eta_phi()
    offsets = binning.layer_offsets
    feats: dict[str, np.ndarray] = {"e_total": showers.sum(axis=1)}
    if incident is not None:
        feats["e_ratio"] = feats["e_total"] / np.ravel(incident)
    for k, lid in enumerate(binning.layer_ids):
        part = showers[:, offsets[k]:offsets[k + 1]]
        e_layer = part.sum(axis=1)
        safe = np.where(e_layer > 0, e_layer, 1.0)
        feats[f"e_layer_{lid}"] = e_layer
        feats[f"sparsity_{lid}"] = (part == 0).mean(axis=1)
        for name, coord in (("eta", eta), ("phi", phi)):
            c = coord[offsets[k]:offsets[k + 1]]
            mean = part @ c / safe
            second = part @ (c**2) / safe
            feats[f"center_{name}_{lid}"] = np.where(e_layer > 0, mean, 0.0)
            feats[f"width_{name}_{lid}"] = np.where(e_layer > 0, np.sqrt(np.maximum(second - mean**2, 0.0)), 0.0)
    return feats


def hlf_separation(real: np.ndarray, fake: np.ndarray, binning, bins: int = 30) -> dict[str, float]:
    """Separation power of every high-level feature (real's range, 30 bins) and their mean."""
    fr, ff = high_level_features(real, binning), high_level_features(fake, binning)
    out = {}
    for name in fr:
        edges = np.histogram_bin_edges(fr[name], bins=bins)
        h_r, _ = np.histogram(fr[name], edges)
        h_f, _ = np.histogram(np.clip(ff[name], edges[0], edges[-1]), edges)
        out[f"sep_{name}"] = separation_power(h_r, h_f) if h_f.sum() > 0 else 1.0
    out["sep_mean"] = float(np.mean(list(out.values())))
    return out
