"""Z/gamma* -> mu mu data: a synthetic Drell-Yan generator and the two real formats.

Formats: ATLAS-style text, six whitespace-separated columns per event, pT [GeV], eta, phi of
the leading then the sub-leading muon (``#`` comments allowed); a structured numpy array
(``.npy``) with the same six fields named ``pt1 eta1 phi1 pt2 eta2 phi2``; and ROOT TTrees
(``.root``, read with uproot) whose ``columns`` map the muon kinematics to branches or
expressions, as collections (``Muon_pt[nMuon]``: events with >= 2 muons, the two leading by
pT) or one branch per muon. The generator writes ROOT as NanoAOD-style ``nMuon``,
``Muon_pt``, ``Muon_eta``, ``Muon_phi`` in the tree ``events``.

Synthetic stand-in (LHC 13 TeV-like): relativistic Breit-Wigner (m_Z 91.1876, Gamma 2.4952)
plus a falling gamma* continuum in 50 < M < 150 GeV; falling Z pT spectrum; Gaussian
rapidity; decay angle ~ 1 + cos^2 + A_FB cos in the Collins-Soper frame; 1-2 % pT smearing;
acceptance pT > 20 GeV and |eta| < 2.4 for both muons.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.data.kinematics import (
    boost,
    from_pt_eta_phi,
    mass,
    pt_eta_phi,
    sample_pdf,
    unit_vectors,
)

M_Z, GAMMA_Z, M_MU = 91.1876, 2.4952, 0.1056584
FIELDS = ("pt1", "eta1", "phi1", "pt2", "eta2", "phi2")
E_BEAM = 6500.0


def mass_pdf(m: np.ndarray, continuum: float = 0.03) -> np.ndarray:
    """Relativistic Breit-Wigner in M plus a 1/M^2 continuum holding ``continuum`` of the rate."""
    bw = m**2 / ((m**2 - M_Z**2) ** 2 + M_Z**2 * GAMMA_Z**2)
    bw /= np.trapezoid(bw, m)
    cont = 1.0 / m**2
    return (1 - continuum) * bw + continuum * cont / np.trapezoid(cont, m)


def _collins_soper_axes(beta: np.ndarray, rapidity: np.ndarray) -> tuple[np.ndarray, ...]:
    """Collins-Soper (x, y, z) axes in the dilepton rest frame, z along the quark side (sign of y)."""
    n = len(beta)
    beams = np.zeros((n, 2, 4))
    beams[:, :, 0] = E_BEAM
    beams[:, 0, 3], beams[:, 1, 3] = E_BEAM, -E_BEAM
    rest = boost(beams, np.broadcast_to(-beta[:, None, :], (n, 2, 3)))[..., 1:]
    u1, u2 = (rest[:, i] / np.linalg.norm(rest[:, i], axis=1, keepdims=True) for i in (0, 1))
    z = u1 - u2
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    z *= np.where(rapidity < 0, -1.0, 1.0)[:, None]
    x = -(u1 + u2)
    x -= np.sum(x * z, axis=1, keepdims=True) * z
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    x = np.where(norm > 1e-9, x / np.maximum(norm, 1e-12), [[1.0, 0.0, 0.0]])
    return x, np.cross(z, x), z


def _cos_theta(rng: np.random.Generator, n: int, afb: float) -> np.ndarray:
    c = np.empty(n)
    todo = np.arange(n)
    while todo.size:  # accept-reject rounds on 1 + c^2 + (8/3) afb c, vectorised
        x = rng.uniform(-1.0, 1.0, todo.size)
        ok = rng.uniform(0.0, 2.0 + 8 / 3 * abs(afb), todo.size) < 1 + x**2 + 8 / 3 * afb * x
        c[todo[ok]] = x[ok]
        todo = todo[~ok]
    return c


def _candidates(rng: np.random.Generator, n: int, afb: float) -> np.ndarray:
    """n generated dimuon events (N, 2, 4) before smearing and acceptance."""
    grid = np.linspace(50.0, 150.0, 4001)
    m = sample_pdf(rng, grid, mass_pdf(grid), n)
    pt, y, phi = rng.gamma(1.3, 6.0, n), rng.normal(0.0, 2.0, n), rng.uniform(-np.pi, np.pi, n)
    mt = np.sqrt(m**2 + pt**2)
    z4 = np.column_stack([mt * np.cosh(y), pt * np.cos(phi), pt * np.sin(phi), mt * np.sinh(y)])
    beta = z4[:, 1:] / z4[:, :1]
    axes = _collins_soper_axes(beta, y)
    d = unit_vectors(_cos_theta(rng, n, afb), rng.uniform(-np.pi, np.pi, n), axes)
    p_star = np.sqrt(m**2 / 4 - M_MU**2)[:, None]
    rest = np.stack([np.column_stack([m / 2, p_star * d]), np.column_stack([m / 2, -p_star * d])], 1)
    return boost(rest, np.broadcast_to(beta[:, None, :], (n, 2, 3)))


def generate_events(events: int, seed: int = 0, afb: float = 0.02,
                    resolution: tuple[float, float] = (0.01, 0.02)) -> np.ndarray:
    """(events, 6) accepted, smeared (pt, eta, phi) of the leading and sub-leading muon."""
    rng = np.random.default_rng(seed)
    kept: list[np.ndarray] = []
    total = 0
    while total < events:
        need = int(1.6 * (events - total)) + 100
        kin = pt_eta_phi(_candidates(rng, need, afb))                      # (n, 2, 3)
        sigma = resolution[0] + (resolution[1] - resolution[0]) * np.abs(kin[..., 1]) / 2.4
        kin[..., 0] *= 1.0 + sigma * rng.standard_normal(sigma.shape)
        m = mass(from_pt_eta_phi(kin, M_MU).sum(axis=1))
        ok = np.all((kin[..., 0] > 20.0) & (np.abs(kin[..., 1]) < 2.4), axis=1) & (m > 50) & (m < 150)
        kin = kin[ok]
        order = np.argsort(-kin[..., 0], axis=1)
        kin = np.take_along_axis(kin, order[..., None], axis=1)
        kept.append(kin.reshape(len(kin), 6))
        total += len(kin)
    return np.concatenate(kept)[:events]


ROOT_TREE = "events"
ROOT_COLUMNS = {"pt": "Muon_pt", "eta": "Muon_eta", "phi": "Muon_phi"}  # what write_dataset writes
BASES = (("pt", "eta", "phi"), ("px", "py", "pz"), ("px", "py", "pz", "E"))
COLUMNS_HELP = ("expected per-muon collections pt, eta, phi (or px, py, pz[, E]), e.g. {pt: Muon_pt, "
                "eta: Muon_eta, phi: Muon_phi}, or one number per muon pt1 eta1 phi1 pt2 eta2 phi2 "
                "(or px1 py1 pz1 [E1] px2 py2 pz2 [E2])")


def _root_chunk(table: np.ndarray) -> dict:
    """One chunk of the ROOT tree: NanoAOD-style jagged nMuon, Muon_pt, Muon_eta, Muon_phi."""
    import awkward as ak

    kin = table.reshape(-1, 2, 3).astype(np.float32)
    muon = ak.zip({k: ak.from_regular(ak.Array(kin[..., i]), axis=1) for i, k in enumerate(ROOT_COLUMNS)})
    return {"Muon": muon}


def write_dataset(path: str | Path, events: int, seed: int, progress: bool = True,
                  format: str | None = None, **options) -> Path:
    """Write synthetic events as text (.txt/.dat/.csv), a structured array (.npy) or a ROOT TTree."""
    from tqdm import tqdm

    from models.data.root import write_tree

    path = Path(path)
    fmt = format or {".npy": "npy", ".root": "root"}.get(path.suffix, "text")
    if fmt not in ("text", "npy", "root"):
        raise ValueError(f"dimuon dataset: format {fmt!r} unknown; use 'text', 'npy' or 'root'")
    chunk = 100_000
    parts = (generate_events(min(chunk, events - s), seed + s, **options)
             for s in tqdm(range(0, events, chunk), desc="dimuon", unit="chunk",
                           disable=not progress or events <= chunk))
    if fmt == "root":
        return write_tree(path, ROOT_TREE, (_root_chunk(t) for t in parts))
    table = np.concatenate(list(parts))
    if fmt == "npy":
        with open(path, "wb") as f:
            np.save(f, np.rec.fromarrays(table.T.astype(np.float32), names=list(FIELDS)))
    else:
        np.savetxt(path, table, fmt="%.6g", header=" ".join(FIELDS))
    return path


def _check(table: np.ndarray, path) -> np.ndarray:
    if table.ndim != 2 or table.shape[1] != 6:
        raise ValueError(f"dimuon data file {path}: shape {table.shape}; expected (N, 6) columns "
                         f"{' '.join(FIELDS)}")
    if len(table) == 0:
        raise ValueError(f"dimuon data file {path}: no events left to train on")
    pt, eta, phi = table[:, [0, 3]], table[:, [1, 4]], table[:, [2, 5]]
    if np.median(pt) > 1000:
        raise ValueError(f"dimuon data file {path}: median muon pT {np.median(pt):.4g}; "
                         "expected GeV (divide MeV by 1000)")
    if np.any(pt < 0) or np.abs(phi).max(initial=0) > np.pi + 1e-4 or np.abs(eta).max(initial=0) > 10:
        raise ValueError(f"dimuon data file {path}: columns are not (pT>=0, eta, phi in [-pi, pi]) "
                         f"per muon; expected {' '.join(FIELDS)}")
    return table.astype(np.float32)


def _to_pt_eta_phi(kin: np.ndarray, base: tuple[str, ...], where: str) -> np.ndarray:
    """(N, 2, 3) (pt, eta, phi) per muon from (N, 2, len(base)) in ``base`` order, ordered by pT."""
    if base[0] != "pt":
        p2 = np.sum(kin[..., :3] ** 2, axis=-1)
        if len(base) == 4 and np.any(kin[..., 3] ** 2 < p2 * (1 - 1e-3)):
            n = int(np.sum(np.any(kin[..., 3] ** 2 < p2 * (1 - 1e-3), axis=1)))
            raise ValueError(f"{where}: E < |p| for a muon in {n} events; expected E in GeV beside "
                             "px, py, pz (the muon mass is fixed at 105.66 MeV; E is only checked)")
        kin = pt_eta_phi(np.concatenate([np.zeros(kin.shape[:-1] + (1,)), kin[..., :3]], axis=-1))
    order = np.argsort(-kin[..., 0], axis=1, kind="stable")
    return np.take_along_axis(kin, order[..., None], axis=1)


def _column_kind(path, columns: dict) -> tuple[tuple | None, tuple | None]:
    """(collection base, None) or (None, per-muon base) for a columns mapping; else an error."""
    keys = set(columns)
    collection = next((b for b in BASES if keys == set(b)), None)
    per_muon = next((b for b in BASES if keys == {f"{k}{i}" for k in b for i in (1, 2)}), None)
    if collection is None and per_muon is None:
        raise ValueError(f"dimuon data file {path}: columns {sorted(keys)}; {COLUMNS_HELP}")
    return collection, per_muon


def check_data(path: str | Path, tree: str | None = None, columns=None, cut: str | None = None,
               nonfinite: str = "refuse") -> None:
    """Fail fast, reading no events: the file, the tree, the columns' names and branches."""
    from models.data.root import check_event_file

    check_event_file("dimuon", path, tree, columns, cut, nonfinite, ROOT_COLUMNS, _column_kind)


def _load_root(path: Path, tree: str | None, columns, cut: str | None, nonfinite: str) -> np.ndarray:
    """(N, 6) (pt, eta, phi) x 2 from a TTree: two leading muons of events with >= 2 of them."""
    from models.data.root import finite_rows, flat, leading, read_columns

    columns = dict(columns or ROOT_COLUMNS)
    collection, per_muon = _column_kind(path, columns)
    arrays, where = read_columns(path, tree, columns, "dimuon data file", cut)
    if collection is not None:
        base = collection
        by = arrays["pt"] if "pt" in arrays else np.hypot(arrays["px"], arrays["py"])
        kin, _ = leading(arrays, list(base), 2, by, where)
    else:
        base = per_muon
        names = [f"{k}{i}" for i in (1, 2) for k in base]
        kin = flat(arrays, names, where).reshape(-1, 2, len(base))
    names = [f"{k}{i}" for i in (1, 2) for k in base]
    kin = finite_rows(kin, nonfinite, where, names)
    return _to_pt_eta_phi(kin, base, where).reshape(-1, 6)


def load_dimuon(path: str | Path, tree: str | None = None, columns=None, cut: str | None = None,
                nonfinite: str = "refuse") -> np.ndarray:
    """Read text, .npy or a ROOT TTree into (N, 6) float32 (pt, eta, phi) x 2, muons by pT.

    ROOT: ``columns`` maps pt/eta/phi (or px/py/pz[/E]) to branch expressions (default
    ``ROOT_COLUMNS``); ``cut`` an event selection expression; ``nonfinite``: refuse or drop.
    """
    from models.data.root import finite_rows

    path = Path(path)
    if path.suffix == ".root":
        return _check(_load_root(path, tree, columns, cut, nonfinite), path)
    if columns or tree or cut:
        raise ValueError(f"dimuon data file {path}: tree/columns/cut apply to .root files only; "
                         f"a {path.suffix or 'text'} file has the fixed columns {' '.join(FIELDS)}")
    if not path.is_file():
        raise ValueError(f"dimuon data file {path}: no such file")
    if path.suffix == ".npy":
        array = np.load(path, allow_pickle=False)
        names = array.dtype.names or ()
        missing = [f for f in FIELDS if f not in names]
        if missing:
            raise ValueError(f"dimuon data file {path}: missing field {missing[0]!r}; expected a "
                             f"structured array with fields {' '.join(FIELDS)}")
        table = np.column_stack([array[f] for f in FIELDS]).astype(np.float64)
    else:
        table = np.loadtxt(path, ndmin=2)
    if table.ndim == 2 and table.shape[1] == 6:
        table = finite_rows(table, nonfinite, f"dimuon data file {path}", FIELDS)
    return _check(table, path)


def features(table: np.ndarray, rotated: bool = False) -> np.ndarray:
    """GAN features: (px, py, pz, E) of both muons (8), or 7 after rotating muon 2 to py = 0."""
    kin = table.reshape(-1, 2, 3).astype(np.float64)
    if rotated:
        kin[..., 2] -= kin[:, 1:2, 2]
        kin[..., 2] = np.angle(np.exp(1j * kin[..., 2]))
    p4 = from_pt_eta_phi(kin, M_MU)[..., [1, 2, 3, 0]].reshape(-1, 8)
    return np.delete(p4, 5, axis=1) if rotated else p4
