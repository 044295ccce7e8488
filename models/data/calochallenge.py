"""CaloChallenge 2022 dataset 1: voxel geometry, binning XML, synthetic showers, HDF5 I/O.

Voxels are ordered layer-major; inside a layer all radial bins of angular slice 0 come first,
then slice 1, ... (the order of the official ``XMLHandler``). Files hold ``incident_energies``
(N, 1) MeV and ``showers`` (N, n_voxels) MeV. The synthetic showers use the real geometry and
the 15 incident energies 2^8 ... 2^22 MeV: expected voxel energies come from closed-form
longitudinal (Gamma CDF over each layer's depth) and radial (CDF of r^2/(r^2+R^2) components)
integrals, then every voxel is Poisson-sampled in spots, so N showers cost O(N x voxels).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import gammainc

from models.data.showers import _radial_params, longitudinal_params

__all__ = ["Binning", "DATASET1", "ENERGIES_MEV", "PION_MASS_MEV", "read_binning_xml",
           "write_binning_xml", "generate_showers", "write_dataset", "load_calochallenge"]

ENERGIES_MEV = 2.0 ** np.arange(8, 23)       # the 15 incident energies of dataset 1
PION_MASS_MEV = 139.57
PDG = {"photon": 22, "pion": 211}
N_XML_LAYERS = 24


@dataclass(frozen=True)
class Binning:
    """Voxel layout of one particle: (layer id, radial edges in mm, angular bins) per used layer."""

    particle: str
    layers: tuple[tuple[int, tuple[float, ...], int], ...]

    @property
    def layer_ids(self) -> list[int]:
        return [lid for lid, _, _ in self.layers]

    @property
    def layer_sizes(self) -> list[int]:
        return [(len(edges) - 1) * n_alpha for _, edges, n_alpha in self.layers]

    @property
    def layer_offsets(self) -> list[int]:
        """Voxel index where each used layer starts, plus the total at the end."""
        return [0, *np.cumsum(self.layer_sizes).tolist()]

    @property
    def n_voxels(self) -> int:
        return self.layer_offsets[-1]

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-voxel (r, alpha) bin centres, in the official voxel order."""
        r_all, a_all = [], []
        for _, edges, n_alpha in self.layers:
            e = np.asarray(edges)
            r_mid = 0.5 * (e[1:] + e[:-1])
            a_edges = np.linspace(-np.pi, np.pi, n_alpha + 1)
            a_mid = 0.5 * (a_edges[1:] + a_edges[:-1])
            r_all.append(np.tile(r_mid, n_alpha))
            a_all.append(np.repeat(a_mid, len(r_mid)))
        return np.concatenate(r_all), np.concatenate(a_all)

    def eta_phi(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-voxel (eta, phi)-plane coordinates in mm: r cos(alpha), r sin(alpha)."""
        r, a = self.centres()
        return r * np.cos(a), r * np.sin(a)


_PHOTON_R1 = (0, 2, 4, 6, 8, 10, 12, 15, 20, 30, 40, 50, 70, 90, 120, 150, 200)
_PHOTON_R2 = (0, 2, 5, 10, 15, 20, 25, 30, 40, 50, 60, 80, 100, 130, 160, 200, 250, 300, 350, 400)
_R0 = (0, 5, 10, 30, 50, 100, 200, 400, 600)
_R3 = (0, 50, 100, 200, 400, 600)
_PION_R12 = (0, 10, 20, 30, 50, 80, 100, 130, 160, 200, 250, 300, 350, 400, 1000, 2000)
DATASET1 = {
    "photon": Binning("photon", ((0, _R0, 1), (1, _PHOTON_R1, 10), (2, _PHOTON_R2, 10),
                                 (3, _R3, 1), (12, (0, 100, 200, 400, 1000, 2000), 1))),
    "pion": Binning("pion", ((0, _R0, 1), (1, (0, 1, 4, 7, 10, 15, 30, 50, 90, 150, 200), 10),
                             (2, (0, 5, 10, 20, 30, 50, 80, 130, 200, 300, 400), 10), (3, _R3, 1),
                             (12, _PION_R12, 10), (13, tuple(sorted((*_PION_R12, 600))), 10),
                             (14, (0, 50, 100, 150, 200, 250, 300, 400, 600, 1000, 2000), 1))),
}


def _binning(particle: str) -> Binning:
    if particle not in DATASET1:
        raise ValueError(f"particle {particle!r}: unknown; dataset 1 has {sorted(DATASET1)}")
    return DATASET1[particle]


def write_binning_xml(path: str | Path, particle: str) -> Path:
    """Write the official-style binning XML (24 layers, unused ones with r_edges="0")."""
    b = _binning(particle)
    root = ET.Element("Bins")
    eta_max = "130" if particle == "photon" else "80"
    node = ET.SubElement(root, "Bin", pid=str(PDG[particle]), etaMin="0", etaMax=eta_max,
                         name=particle)
    used = {lid: (edges, n) for lid, edges, n in b.layers}
    for lid in range(N_XML_LAYERS):
        edges, n_alpha = used.get(lid, ((0,), 1))
        ET.SubElement(node, "Layer", id=str(lid), r_edges=",".join(f"{e:g}" for e in edges),
                      n_bin_alpha=str(n_alpha))
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=False)
    return Path(path)


def read_binning_xml(path: str | Path, particle: str) -> Binning:
    """Parse an official CaloChallenge binning XML for ``particle`` (layers with >= 1 radial bin)."""
    root = ET.parse(path).getroot()
    nodes = [n for n in root if n.attrib.get("name") == particle]
    if not nodes:
        names = [n.attrib.get("name") for n in root]
        raise ValueError(f"{path}: no particle named {particle!r} (found {names}); "
                         "pass the particle the XML describes")
    layers = []
    for layer in nodes[0]:
        for key in ("id", "r_edges", "n_bin_alpha"):
            if key not in layer.attrib:
                raise ValueError(f"{path}: a <Layer> lacks attribute {key!r}; each layer needs "
                                 "id, r_edges and n_bin_alpha")
        edges = tuple(float(s) for s in layer.attrib["r_edges"].split(","))
        if len(edges) > 1:
            layers.append((int(layer.attrib["id"]), edges, int(layer.attrib["n_bin_alpha"])))
    return Binning(particle, tuple(layers))


def kinetic_energy(incident: np.ndarray, particle: str) -> np.ndarray:
    """E_kin = sqrt(p^2 + m^2) - m in MeV (m = 0 for photons)."""
    p = np.asarray(incident, np.float64)
    m = PION_MASS_MEV if particle == "pion" else 0.0
    return np.sqrt(p**2 + m**2) - m


# Depth of the used layers at |eta| ~ 0.2: photons in radiation lengths (LAr-Pb EM barrel, the
# last used layer collects the leakage into the tile calorimeter), pions in interaction lengths.
_PHOTON_DEPTH_X0 = (0.0, 2.0, 6.4, 22.4, 24.4, 40.0)
_PION_DEPTH_LAMBDA = (0.0, 0.1, 0.35, 1.05, 1.2, 2.7, 6.8, 8.6)
_PHOTON = {"z": 82.0, "e_crit_gev": 0.0074, "moliere_mm": 35.0, "spot_mev": 10.0, "response": 0.95}
_PION = {"em_radius_mm": 25.0, "had_radius_mm": 90.0, "spot_mev": 250.0, "response": 0.85,
         "h_over_e": 1 / 1.35}


def _radial_fractions(edges: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """(N, bins) energy fraction in each radial bin for F(r) = r^2/(r^2+R^2), R per shower."""
    r2 = np.asarray(edges)[None, :] ** 2
    cdf = r2 / (r2 + radius[:, None] ** 2)
    return np.diff(cdf, axis=1)


def _photon_expectation(e_mev: np.ndarray, b: Binning, rng) -> list[np.ndarray]:
    """Expected visible energy per voxel, as one (N, layer voxels) array per used layer."""
    e_gev = e_mev / 1000.0
    t_mean, a = longitudinal_params(e_gev, rng, _PHOTON["z"], _PHOTON["e_crit_gev"])
    beta = (a - 1.0) / t_mean
    depth = np.asarray(_PHOTON_DEPTH_X0)
    cdf = gammainc(a[:, None], beta[:, None] * depth[None, :])
    out = []
    for k, (_, edges, n_alpha) in enumerate(b.layers):
        frac = cdf[:, k + 1] - cdf[:, k]
        tau = 0.5 * (depth[k] + min(depth[k + 1], depth[k] + 10.0)) / t_mean
        r_c, r_t, p = _radial_params(tau, np.log(e_gev), _PHOTON["z"])
        mm = _PHOTON["moliere_mm"]
        radial = (p[:, None] * _radial_fractions(edges, r_c * mm)
                  + (1 - p[:, None]) * _radial_fractions(edges, r_t * mm))
        layer = e_mev[:, None] * _PHOTON["response"] * frac[:, None] * radial / n_alpha
        out.append(np.tile(layer, (1, n_alpha)))
    return out


def _pion_expectation(e_mev: np.ndarray, b: Binning, rng) -> list[np.ndarray]:
    """Two-component (EM + hadronic) pion shower after an exponential first-interaction depth."""
    n = e_mev.size
    e_gev = np.maximum(e_mev / 1000.0, 0.05)
    start = rng.exponential(1.0, n)                                    # lambda
    f_em = np.clip(1.0 - e_gev ** (0.82 - 1.0) + 0.1 * rng.standard_normal(n), 0.0, 1.0)
    had_a = 1.5 + 0.3 * np.log1p(e_gev)
    had_t = 0.6 + 0.2 * np.log1p(e_gev)
    depth = np.asarray(_PION_DEPTH_LAMBDA)
    rel = np.maximum(depth[None, :] - start[:, None], 0.0)
    em_cdf = gammainc(2.0, rel / 0.08)                                  # EM part: ~0.2 lambda long
    had_cdf = gammainc(had_a[:, None], rel * ((had_a - 1.0) / had_t)[:, None])
    out = []
    for k, (_, edges, n_alpha) in enumerate(b.layers):
        em, had = em_cdf[:, k + 1] - em_cdf[:, k], had_cdf[:, k + 1] - had_cdf[:, k]
        r_had = _PION["had_radius_mm"] * (1.0 + 0.3 * rel[:, k])
        radial_em = _radial_fractions(edges, np.full(n, _PION["em_radius_mm"]))
        radial_had = _radial_fractions(edges, r_had)
        vis = e_mev * _PION["response"]
        layer = vis[:, None] * ((f_em * em)[:, None] * radial_em
                                + ((1 - f_em) * had * _PION["h_over_e"])[:, None] * radial_had)
        out.append(np.tile(layer / n_alpha, (1, n_alpha)))
    return out


def generate_showers(events: int, particle: str = "photon", seed: int = 0,
                     binning: Binning | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(incident_energies (N, 1), showers (N, n_voxels))`` in MeV on the dataset-1 geometry."""
    b = binning or _binning(particle)
    rng = np.random.default_rng(seed)
    incident = rng.choice(ENERGIES_MEV, size=int(events))
    e_kin = kinetic_energy(incident, particle)
    expect = (_photon_expectation if particle == "photon" else _pion_expectation)(e_kin, b, rng)
    mean = np.concatenate(expect, axis=1)
    # Angular texture: every angular slice of a shower gets its own log-normal weight.
    mean *= rng.lognormal(0.0, 0.15, mean.shape).astype(mean.dtype)
    spot = _PHOTON["spot_mev"] if particle == "photon" else _PION["spot_mev"]
    spot = np.minimum(spot, np.maximum(e_kin, 1.0) / 50.0)[:, None]   # >= ~50 spots per shower
    showers = rng.poisson(mean / spot) * spot
    return incident[:, None].astype(np.float32), showers.astype(np.float32)


def write_dataset(path: str | Path, events: int, seed: int, progress: bool = True,
                  particle: str = "photon", xml: bool = True, **options) -> Path:
    """Write a CaloChallenge dataset-1 HDF5 file (and, with ``xml``, its binning XML beside it)."""
    import h5py

    if options:
        raise ValueError(f"calochallenge dataset: unknown options {sorted(options)}; "
                         "use particle (photon|pion) and xml")
    incident, showers = generate_showers(int(events), particle, seed)
    path = Path(path)
    with h5py.File(path, "w") as f:
        f.create_dataset("incident_energies", data=incident, compression="gzip")
        f.create_dataset("showers", data=showers, compression="gzip")
    if xml:
        write_binning_xml(path.with_name(f"binning_dataset_1_{particle}s.xml"), particle)
    if progress:
        print(f"wrote {len(incident)} {particle} showers ({showers.shape[1]} voxels) to {path}")
    return path


def load_calochallenge(path: str | Path, particle: str | None = None,
                       binning: Binning | str | Path | None = None) -> dict[str, np.ndarray]:
    """Read ``incident_energies`` and ``showers``; check the voxel count against the binning."""
    import h5py

    if isinstance(binning, (str, Path)):
        binning = read_binning_xml(binning, particle or "photon")
    if binning is None and particle is not None:
        binning = _binning(particle)
    with h5py.File(path, "r") as f:
        for key in ("incident_energies", "showers"):
            if key not in f:
                raise KeyError(f"{path}: missing dataset {key!r} (has {sorted(f.keys())}); a "
                               "CaloChallenge file needs incident_energies (N,1) and showers (N,voxels)")
        incident = np.asarray(f["incident_energies"], np.float32).reshape(-1, 1)
        showers = np.asarray(f["showers"], np.float32)
    if showers.ndim != 2 or len(showers) != len(incident):
        raise ValueError(f"{path}: 'showers' has shape {showers.shape} for {len(incident)} "
                         "incident energies; expected (N, n_voxels) with N rows")
    if binning is not None and showers.shape[1] != binning.n_voxels:
        raise ValueError(f"{path}: 'showers' has {showers.shape[1]} voxels but the {binning.particle} "
                         f"binning has {binning.n_voxels}; pass the matching particle or XML")
    return {"incident_energies": incident, "showers": showers}
