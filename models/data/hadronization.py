"""Hadronization data: synthetic cluster -> two-pi0 decays, and the real converter's npz format.

File format (2022 converter): ``.npz`` with ``input_4vec`` (N, 4) = cluster (E, px, py, pz) in
GeV and ``out_truth`` (N, 2) = (phi, theta) of the leading pion in the cluster rest frame,
phi = arctan(px/py), theta = arctan(pT/pz), both in (-pi/2, pi/2) radians. ROOT TTrees
(``.root``) map the cluster and either the angles or the leading hadron's lab four-vector
(computed into the angles above) to branches or expressions with ``columns``.

Synthetic stand-in: cluster mass log-normal near 1 GeV in [0.3, 4], momentum falling up to
~40 GeV, isotropic flight direction; isotropic-plus-anisotropic two-body decay to pi0 pi0 with
dN/dcos(theta*) ~ 1 + a cos^2(theta*) about the flight axis, a growing with the boost and
falling with the mass, so the condition carries information. Leading = higher lab pT.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.data.kinematics import boost, orthonormal_frame, unit_vectors

M_PI0 = 0.134977  # GeV
KEYS = {"input_4vec": 4, "out_truth": 2}


def anisotropy(beta_gamma: np.ndarray, cluster_mass: np.ndarray) -> np.ndarray:
    """The decay's cos^2 coefficient a(boost, mass) in [0, ~3]."""
    return 3.0 * np.tanh(beta_gamma / 4.0) / (1.0 + 0.5 * cluster_mass)


def _cos_theta_star(rng: np.random.Generator, a: np.ndarray) -> np.ndarray:
    """Draws from (1 + a c^2) on [-1, 1], by vectorised accept-reject rounds."""
    out = np.empty(len(a))
    todo = np.arange(len(a))
    while todo.size:
        c = rng.uniform(-1.0, 1.0, todo.size)
        ok = rng.uniform(0.0, 1.0 + a[todo]) < 1.0 + a[todo] * c**2
        out[todo[ok]] = c[ok]
        todo = todo[~ok]
    return out


def generate_clusters(events: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Clusters, their two pi0 (lab four-vectors), and the leading pion's rest-frame angles."""
    rng = np.random.default_rng(seed)
    m = np.clip(rng.lognormal(np.log(1.0), 0.45, events), 0.3, 4.0)
    p = np.minimum(rng.gamma(1.5, 5.0, events), 40.0)
    direction = unit_vectors(rng.uniform(-1, 1, events), rng.uniform(-np.pi, np.pi, events),
                             (np.eye(3)[0], np.eye(3)[1], np.eye(3)[2]))
    energy = np.sqrt(p**2 + m**2)
    cluster = np.column_stack([energy, p[:, None] * direction])
    cos_star = _cos_theta_star(rng, anisotropy(p / m, m))
    d_star = unit_vectors(cos_star, rng.uniform(-np.pi, np.pi, events), orthonormal_frame(direction))
    p_star = np.sqrt(m**2 / 4.0 - M_PI0**2)[:, None]
    rest = np.stack([np.column_stack([m / 2, p_star * d_star]),
                     np.column_stack([m / 2, -p_star * d_star])], axis=1)          # (N, 2, 4)
    beta = (cluster[:, 1:] / energy[:, None])[:, None, :]
    lab = boost(rest, np.broadcast_to(beta, rest.shape[:2] + (3,)))
    lead = np.argmax(np.hypot(lab[..., 1], lab[..., 2]), axis=1)
    q = rest[np.arange(events), lead, 1:]
    phi = np.arctan(q[:, 0] / q[:, 1])
    theta = np.arctan(np.hypot(q[:, 0], q[:, 1]) / q[:, 2])
    return {"input_4vec": cluster, "out_truth": np.column_stack([phi, theta]), "pions": lab}


ROOT_TREE = "events"
# What write_dataset writes: the cluster, the leading pion's angles, and both pions (jagged).
ROOT_COLUMNS = {"E": "cluster_E", "px": "cluster_px", "py": "cluster_py", "pz": "cluster_pz",
                "phi": "truth_phi", "theta": "truth_theta"}
CLUSTER = ("E", "px", "py", "pz")
ANGLES = ("phi", "theta")
HADRON = ("hadron_E", "hadron_px", "hadron_py", "hadron_pz")
COLUMNS_HELP = ("expected the cluster E, px, py, pz and either the leading hadron's rest-frame "
                "phi, theta or its lab four-vector hadron_E, hadron_px, hadron_py, hadron_pz "
                "(a collection: the highest-pT entry is taken)")


def _root_chunk(c: dict[str, np.ndarray]) -> dict:
    """One chunk of the ROOT tree: flat cluster_* and truth_*, jagged nHadron, Hadron_E/px/py/pz."""
    import awkward as ak

    out = {f"cluster_{k}": c["input_4vec"][:, i].astype(np.float32) for i, k in enumerate(CLUSTER)}
    out.update({f"truth_{k}": c["out_truth"][:, i].astype(np.float32) for i, k in enumerate(ANGLES)})
    pions = c["pions"].astype(np.float32)
    out["Hadron"] = ak.zip({k: ak.from_regular(ak.Array(pions[..., i]), axis=1)
                            for i, k in enumerate(CLUSTER)})
    return out


def write_dataset(path: str | Path, events: int, seed: int, progress: bool = True,
                  **options) -> Path:
    """Write synthetic clusters as the converter's npz (input_4vec, out_truth) or a ROOT TTree."""
    from tqdm import tqdm

    from models.data.root import write_tree

    if options:
        raise ValueError(f"hadronization dataset: unknown options {sorted(options)}; there are none")
    chunk = 200_000
    parts = (generate_clusters(min(chunk, events - start), seed + start)
             for start in tqdm(range(0, events, chunk), desc="hadronization", unit="chunk",
                               disable=not progress or events <= chunk))
    path = Path(path)
    if path.suffix == ".root":
        return write_tree(path, ROOT_TREE, (_root_chunk(p) for p in parts))
    parts = list(parts)
    with open(path, "wb") as f:  # a file object keeps the exact name (np.savez adds .npz)
        np.savez(f, **{k: np.concatenate([p[k] for p in parts]).astype(np.float32) for k in KEYS})
    return path


def rest_frame_angles(cluster: np.ndarray, hadron: np.ndarray) -> np.ndarray:
    """(N, 2) (phi, theta) of a hadron's (E, px, py, pz) in its cluster's rest frame, as the converter."""
    q = boost(hadron, -cluster[:, 1:] / cluster[:, :1])[:, 1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.column_stack([np.arctan(q[:, 0] / q[:, 1]), np.arctan(np.hypot(q[:, 0], q[:, 1]) / q[:, 2])])


def _check_keys(path, columns: dict) -> set:
    keys = set(columns)
    if keys not in ({*CLUSTER, *ANGLES}, {*CLUSTER, *HADRON}):
        raise ValueError(f"hadronization data file {path}: columns {sorted(keys)}; {COLUMNS_HELP}")
    return keys


def check_data(path: str | Path, tree: str | None = None, columns=None, cut: str | None = None,
               nonfinite: str = "refuse") -> None:
    """Fail fast, reading no events: the file, the tree, the columns' names and branches."""
    from models.data.root import check_event_file

    check_event_file("hadronization", path, tree, columns, cut, nonfinite, ROOT_COLUMNS, _check_keys)


def _load_root(path: Path, tree: str | None, columns, cut: str | None,
               nonfinite: str) -> dict[str, np.ndarray]:
    from models.data.root import finite_rows, flat, leading, read_columns

    columns = dict(columns or ROOT_COLUMNS)
    keys = _check_keys(path, columns)
    arrays, where = read_columns(path, tree, columns, "hadronization data file", cut)
    cluster = flat(arrays, CLUSTER, where)
    if "phi" in keys:
        table = np.column_stack([cluster, flat(arrays, ANGLES, where)])
    elif arrays["hadron_E"].ndim == 1:
        table = np.column_stack([cluster, flat(arrays, HADRON, where)])
    else:
        by = np.hypot(arrays["hadron_px"], arrays["hadron_py"])
        hadron, keep = leading(arrays, list(HADRON), 1, by, where)
        table = np.column_stack([cluster[keep], hadron[:, 0]])
    names = [*CLUSTER, *(ANGLES if "phi" in keys else HADRON)]
    table = finite_rows(table, nonfinite, where, names)
    if "phi" not in keys:
        table = np.column_stack([table[:, :4], rest_frame_angles(table[:, :4], table[:, 4:])])
    return {"input_4vec": table[:, :4].astype(np.float32), "out_truth": table[:, 4:].astype(np.float32)}


def _load_npz(path: Path, nonfinite: str) -> dict[str, np.ndarray]:
    from models.data.root import finite_rows

    expected = "expected arrays input_4vec (N,4) and out_truth (N,2)"
    with np.load(path) as f:
        missing = [k for k in KEYS if k not in f.files]
        if missing:
            raise ValueError(f"hadronization data file {path}: missing key {missing[0]!r}; {expected}")
        arrays = {k: np.asarray(f[k], np.float32) for k in KEYS}
    for key, width in KEYS.items():
        shape = arrays[key].shape
        if len(shape) != 2 or shape[1] != width:
            raise ValueError(f"hadronization data file {path}: key {key!r} has shape {shape}; {expected}")
    if len(arrays["input_4vec"]) != len(arrays["out_truth"]):
        raise ValueError(f"hadronization data file {path}: input_4vec has {len(arrays['input_4vec'])} "
                         f"rows but out_truth {len(arrays['out_truth'])}; they must match")
    table = finite_rows(np.column_stack([arrays["input_4vec"], arrays["out_truth"]]), nonfinite,
                        f"hadronization data file {path}", [*CLUSTER, *ANGLES])
    return {"input_4vec": table[:, :4], "out_truth": table[:, 4:]}


def load_hadronization(path: str | Path, tree: str | None = None, columns=None,
                       cut: str | None = None, nonfinite: str = "refuse") -> dict[str, np.ndarray]:
    """Read a converter npz or a ROOT TTree; check shapes and units; return float32 arrays.

    ROOT: ``columns`` maps E, px, py, pz (cluster) and phi, theta or hadron_E..hadron_pz to
    branch expressions (default ``ROOT_COLUMNS``); ``cut``; ``nonfinite``: refuse or drop.
    """
    path = Path(path)
    if path.suffix == ".root":
        arrays = _load_root(path, tree, columns, cut, nonfinite)
    elif columns or tree or cut:
        raise ValueError(f"hadronization data file {path}: tree/columns/cut apply to .root files "
                         "only; an npz has the fixed keys input_4vec, out_truth")
    elif not path.is_file():
        raise ValueError(f"hadronization data file {path}: no such file")
    else:
        arrays = _load_npz(path, nonfinite)
    if len(arrays["out_truth"]) == 0:
        raise ValueError(f"hadronization data file {path}: no events left to train on")
    if np.abs(arrays["out_truth"]).max(initial=0) > np.pi / 2 + 1e-5:
        raise ValueError(f"hadronization data file {path}: out_truth (phi, theta) has |angle| up to "
                         f"{np.abs(arrays['out_truth']).max():.3g}; expected radians in (-pi/2, pi/2)")
    c = arrays["input_4vec"].astype(np.float64)
    if np.any(c[:, 0] ** 2 - np.sum(c[:, 1:] ** 2, axis=1) < -1e-3 * c[:, 0] ** 2):
        raise ValueError(f"hadronization data file {path}: cluster input_4vec has E < |p|; "
                         "expected columns (E, px, py, pz) in GeV")
    return arrays
