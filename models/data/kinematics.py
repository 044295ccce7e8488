"""Small vectorised relativistic kinematics shared by the event-level generators (E, px, py, pz)."""

from __future__ import annotations

import numpy as np


def boost(p4: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Boost four-vectors (..., 4) = (E, px, py, pz) by velocity ``beta`` (..., 3)."""
    b2 = np.sum(beta**2, axis=-1, keepdims=True)
    gamma = 1.0 / np.sqrt(1.0 - b2)
    bp = np.sum(beta * p4[..., 1:], axis=-1, keepdims=True)
    factor = np.where(b2 > 0, (gamma - 1.0) / np.where(b2 > 0, b2, 1.0), 0.0)
    energy = gamma * (p4[..., :1] + bp)
    momentum = p4[..., 1:] + (factor * bp + gamma * p4[..., :1]) * beta
    return np.concatenate([energy, momentum], axis=-1)


def mass(p4: np.ndarray) -> np.ndarray:
    """Invariant mass of four-vectors (..., 4), clipped at zero."""
    m2 = p4[..., 0] ** 2 - np.sum(p4[..., 1:] ** 2, axis=-1)
    return np.sqrt(np.maximum(m2, 0.0))


def unit_vectors(cos_theta: np.ndarray, phi: np.ndarray, axes: tuple[np.ndarray, ...]) -> np.ndarray:
    """Directions with polar angle acos(cos_theta) about axes[2] and azimuth phi from axes[0]."""
    x, y, z = axes
    sin_theta = np.sqrt(np.clip(1.0 - cos_theta**2, 0.0, 1.0))[:, None]
    return sin_theta * (np.cos(phi)[:, None] * x + np.sin(phi)[:, None] * y) + cos_theta[:, None] * z


def orthonormal_frame(z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two unit vectors perpendicular to each (unit) row of ``z``, completing a right-handed frame."""
    helper = np.where(np.abs(z[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    x = np.cross(helper, z)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x, np.cross(z, x), z


def sample_pdf(rng: np.random.Generator, grid: np.ndarray, pdf: np.ndarray, n: int) -> np.ndarray:
    """n draws from a tabulated 1-D density by inverse-CDF interpolation on ``grid``."""
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (pdf[1:] + pdf[:-1]) * np.diff(grid))])
    return np.interp(rng.uniform(0.0, cdf[-1], n), cdf, grid)


def pt_eta_phi(p4: np.ndarray) -> np.ndarray:
    """(..., 3) transverse momentum, pseudorapidity, azimuth of four-vectors (..., 4)."""
    px, py, pz = p4[..., 1], p4[..., 2], p4[..., 3]
    pt = np.hypot(px, py)
    return np.stack([pt, np.arcsinh(pz / np.maximum(pt, 1e-12)), np.arctan2(py, px)], axis=-1)


def from_pt_eta_phi(pt_eta_phi_: np.ndarray, m: float) -> np.ndarray:
    """(..., 4) four-vectors from (pt, eta, phi) and a fixed mass."""
    pt, eta, phi = pt_eta_phi_[..., 0], pt_eta_phi_[..., 1], pt_eta_phi_[..., 2]
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    return np.stack([np.sqrt(px**2 + py**2 + pz**2 + m**2), px, py, pz], axis=-1)
