"""GFlash-style electromagnetic showers in a 3DGAN-format HDF5 file, and the 3DGAN loader.

The synthetic detector is a CLIC-like tungsten sampling ECAL of 51 x 51 x 25 cells (x, y,
depth): one radiation length of absorber per layer, a cell pitch of 5.1 mm that equals the
layer pitch (so an axis tilted by theta moves cot(theta) cells per layer in y, which is what
the 3DGAN's index-based angle measurement assumes), and a sampling fraction of about 0.02.
Each shower is a Poisson number of equal-energy spots (GFlash "spots"): depth along the axis
from a Gamma profile whose (T, alpha) fluctuate with the published correlated log-normals,
radius from the two-component (core + tail) profile evaluated at that depth, uniform azimuth.
Everything is vectorised over spots; a chunk of showers is binned with one ``bincount``.

Real files (Khattak et al. 2021) hold ``ECAL`` (N, 51, 51, 25) in GeV x 50, ``energy`` (N,)
GeV and ``theta`` (N,) radians; ``load_3dgan`` reads those (and our synthetic ones).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["GRID", "ECAL_SCALE", "Detector", "longitudinal_params", "generate_showers", "sample_conditions",
           "write_dataset", "load_3dgan"]

GRID = (51, 51, 25)          # cells in x, y, depth
ECAL_SCALE = 50.0            # stored cell values are deposited GeV x 50
Z_W = 74.0                   # tungsten
E_CRIT_GEV = 0.008           # critical energy of tungsten
CELL_MM = 5.1                # transverse cell pitch (= layer pitch) at the published grid
MOLIERE_MM = 13.5            # effective Moliere radius: 9.3 mm of W diluted by the 5.1/3.5 mm pitch


@dataclass(frozen=True)
class Detector:
    """Sampling calorimeter geometry; a reduced ``grid`` covers the same volume with coarser cells."""

    grid: tuple[int, int, int] = GRID
    sampling_fraction: float = 0.02
    spots_per_gev: float = 8.0      # spot count ~ Poisson(E * this): sampling term 35 %/sqrt(E)

    @property
    def cell_mm(self) -> float:
        return CELL_MM * GRID[0] / self.grid[0]

    @property
    def layer_x0(self) -> float:
        """Radiation lengths of absorber per layer."""
        return GRID[2] / self.grid[2]


def longitudinal_params(energy: np.ndarray, rng: np.random.Generator | None = None,
                        z: float = Z_W, e_crit: float = E_CRIT_GEV) -> tuple[np.ndarray, np.ndarray]:
    """GFlash (T, alpha) per shower: the means, or correlated log-normal draws if ``rng`` is given.

    The draws of alpha are floored at 1.05 (below ~1 GeV in lead the fluctuations allow alpha < 1,
    for which b = (alpha - 1) / T would be negative).
    """
    ln_y = np.log(np.asarray(energy, np.float64) / e_crit)
    mean_ln_t = np.log(ln_y - 0.812)
    mean_ln_a = np.log(0.81 + (0.458 + 2.26 / z) * ln_y)
    if rng is None:
        return np.exp(mean_ln_t), np.exp(mean_ln_a)
    sig_t = 1.0 / (-1.4 + 1.26 * ln_y)
    sig_a = 1.0 / (-0.58 + 0.86 * ln_y)
    rho = 0.705 - 0.023 * ln_y
    u1, u2 = rng.standard_normal((2, ln_y.size))
    ln_t = mean_ln_t + sig_t * u1
    ln_a = mean_ln_a + sig_a * (rho * u1 + np.sqrt(1.0 - rho**2) * u2)
    return np.exp(ln_t), np.maximum(np.exp(ln_a), 1.05)   # alpha > 1: the profile must peak


def _radial_params(tau: np.ndarray, ln_e: np.ndarray, z: float = Z_W):
    """Core radius, tail radius (Moliere units) and core probability at tau = t / T."""
    r_core = (0.0251 + 0.00319 * ln_e) + (0.1162 - 0.000381 * z) * tau
    k1, k4 = 0.659 - 0.00309 * z, 0.3585 + 0.0412 * ln_e
    r_tail = k1 * (np.exp(-2.59 * (tau - 0.645)) + np.exp(k4 * (tau - 0.645)))
    p1, p2, p3 = 2.632 - 0.00094 * z, 0.401 + 0.00187 * z, 1.313 - 0.0686 * ln_e
    arg = (p2 - tau) / p3
    p_core = np.clip(p1 * np.exp(arg - np.exp(arg)), 0.0, 1.0)
    return r_core, r_tail, p_core


def _spot_cells(energy, theta, det: Detector, rng) -> tuple[np.ndarray, np.ndarray]:
    """(shower index, flat cell index) of every spot that lands inside the grid."""
    nx, ny, nz = det.grid
    t_mean, a = longitudinal_params(energy, rng)
    b = (a - 1.0) / t_mean
    n_spots = rng.poisson(energy * det.spots_per_gev)
    owner = np.repeat(np.arange(energy.size), n_spots)
    t = rng.gamma(a[owner], 1.0) / b[owner]                       # depth along the axis, X0
    r_c, r_t, p = _radial_params(t / t_mean[owner], np.log(energy[owner]))
    radius = np.where(rng.random(owner.size) < p, r_c, r_t)
    u = rng.random(owner.size)
    r = radius * np.sqrt(u / (1.0 - u)) * MOLIERE_MM / det.cell_mm  # inverse of r^2/(r^2+R^2)
    phi = rng.uniform(0.0, 2.0 * np.pi, owner.size)
    sin_t, cos_t = np.sin(theta[owner]), np.cos(theta[owner])
    depth = t * sin_t / det.layer_x0                               # layers
    y_axis = (depth - nz / 2.0) * cos_t / sin_t * det.layer_x0 * CELL_MM / det.cell_mm
    x = nx / 2.0 + r * np.cos(phi)
    y = ny / 2.0 + y_axis + r * np.sin(phi) / sin_t
    ix, iy, iz = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64), np.floor(depth).astype(np.int64)
    inside = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny) & (iz >= 0) & (iz < nz)
    flat = (ix * ny + iy) * nz + iz
    return owner[inside], flat[inside]


def generate_showers(energy: np.ndarray, theta: np.ndarray, seed: int = 0,
                     detector: Detector | None = None, chunk: int = 256) -> np.ndarray:
    """Shower images (N, *grid) in GeV x 50 for primary energies (GeV) and angles (radians)."""
    det = detector or Detector()
    energy, theta = np.asarray(energy, np.float64), np.asarray(theta, np.float64)
    if energy.shape != theta.shape or energy.ndim != 1:
        raise ValueError(f"energy {energy.shape} and theta {theta.shape} must be equal 1-D shapes")
    rng = np.random.default_rng(seed)
    n_cells = int(np.prod(det.grid))
    spot_value = ECAL_SCALE * det.sampling_fraction / det.spots_per_gev
    out = np.zeros((energy.size, n_cells), np.float32)
    for start in range(0, energy.size, chunk):
        owner, flat = _spot_cells(energy[start:start + chunk], theta[start:start + chunk], det, rng)
        np.add.at(out.reshape(-1), (owner + start) * n_cells + flat, np.float32(spot_value))
    return out.reshape(energy.size, *det.grid)
    return out


def sample_conditions(events: int, rng: np.random.Generator,
                      energy_range: tuple[float, float] = (2.0, 500.0),
                      theta_deg: tuple[float, float] = (60.0, 120.0)) -> tuple[np.ndarray, np.ndarray]:
    """Uniform primary energies (GeV) and incidence angles (radians) over the published ranges."""
    energy = rng.uniform(*energy_range, events)
    theta = np.radians(rng.uniform(*theta_deg, events))
    return energy, theta


def write_dataset(path: str | Path, events: int, seed: int, progress: bool = True,
                  grid: tuple[int, int, int] = GRID, energy_range: tuple[float, float] = (2.0, 500.0),
                  theta_deg: tuple[float, float] = (60.0, 120.0), **options) -> Path:
    """Write ``events`` synthetic showers as a 3DGAN HDF5 file (ECAL, energy, theta)."""
    import h5py

    if options:
        raise ValueError(f"calo3d dataset: unknown options {sorted(options)}; "
                         "use grid, energy_range, theta_deg")
    rng = np.random.default_rng(seed)
    energy, theta = sample_conditions(int(events), rng, energy_range, theta_deg)
    det = Detector(grid=tuple(int(g) for g in grid))
    chunk = 256
    starts = range(0, int(events), chunk)
    if progress:
        from tqdm import tqdm
        starts = tqdm(starts, desc="calo3d showers", unit="chunk")
    path = Path(path)
    with h5py.File(path, "w") as f:
        ecal = f.create_dataset("ECAL", (int(events), *det.grid), np.float32,
                                chunks=(min(64, max(1, int(events))), *det.grid), compression="gzip")
        for start in starts:
            sl = slice(start, start + chunk)
            ecal[sl] = generate_showers(energy[sl], theta[sl], seed + start + 1, det)
        f.create_dataset("energy", data=energy.astype(np.float32))
        f.create_dataset("theta", data=theta.astype(np.float32))
    return path


def load_3dgan(path: str | Path, grid: tuple[int, int, int] | None = None,
               angle: str = "theta") -> dict[str, np.ndarray]:
    """Read a 3DGAN HDF5 file into ``{"ECAL", "energy", "theta"}``; errors name the bad key."""
    import h5py

    with h5py.File(path, "r") as f:
        for key in ("ECAL", "energy", angle):
            if key not in f:
                raise KeyError(f"{path}: missing dataset {key!r} (has {sorted(f.keys())}); "
                               "a 3DGAN file needs ECAL (N,51,51,25), energy (N,) and theta (N,)")
        ecal = np.asarray(f["ECAL"], np.float32)
        energy = np.asarray(f["energy"], np.float32).reshape(-1)
        theta = np.asarray(f[angle], np.float32).reshape(-1)
    if ecal.ndim == 5 and ecal.shape[-1] == 1:
        ecal = ecal[..., 0]
    want = tuple(grid) if grid is not None else None
    if ecal.ndim != 4 or (want is not None and ecal.shape[1:] != want):
        raise ValueError(f"{path}: dataset 'ECAL' has shape {ecal.shape}; expected (N, "
                         f"{', '.join(map(str, want or GRID))}) cells in x, y, depth")
    if not (len(energy) == len(theta) == len(ecal)):
        raise ValueError(f"{path}: 'ECAL' has {len(ecal)} events but 'energy' {len(energy)} and "
                         f"{angle!r} {len(theta)}; all three need one entry per event")
    return {"ECAL": ecal, "energy": energy, "theta": theta}
