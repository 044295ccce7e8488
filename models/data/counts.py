"""Event counts of data files from their metadata (array headers, TTree entries, HDF5 shapes).

Cheap enough for the pre-flight before any cluster starts: no array is read (a text file's
lines are counted). ``count_events`` returns the count and what it counts, e.g. "TTree 'events':
2304 entries, before the cut"; counts taken before a cut, a collection selection, dropped
non-finite rows or the 3DGAN's empty-shower cut are upper bounds, and say so.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

# The dataset whose first axis counts a family's events, per file suffix.
HDF5_KEYS = {"calo3d": "ECAL", "calo_wgan": "showers"}


def _npy_rows(f) -> int:
    version = np.lib.format.read_magic(f)
    read = {(1, 0): np.lib.format.read_array_header_1_0}.get(version, np.lib.format.read_array_header_2_0)
    shape = read(f)[0]
    return int(shape[0]) if shape else 0


def _npz_rows(path: Path, key: str) -> int:
    with zipfile.ZipFile(path) as z:
        if f"{key}.npy" not in z.namelist():
            raise ValueError(f"data file {path}: missing key {key!r}")
        with z.open(f"{key}.npy") as f:
            return _npy_rows(f)


def _text_rows(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(1 for line in f if line.strip() and not line.lstrip().startswith(b"#"))


def _root_rows(path: Path, data: dict, model: str) -> tuple[int, str]:
    from models.data.root import open_tree

    tree = open_tree(path, data.get("tree"), f"{model} data file")
    n = int(tree.num_entries)
    columns = data.get("columns") or {"pt": "Muon_pt"}
    collection = model == "dimuon" and not any(str(k)[-1:] in "12" for k in columns)
    caveats = [c for c, on in (("the cut", data.get("cut")),
                               ("requiring two muons", collection),
                               ("dropping non-finite rows", data.get("nonfinite") == "drop")) if on]
    return n, f"TTree '{tree.name}': {n} entries" + (f", before {', '.join(caveats)}" if caveats else "")


def _hdf5_rows(path: Path, key: str) -> int:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if key not in f:
                raise ValueError(f"data file {path}: missing dataset {key!r} (has {sorted(f.keys())})")
            return int(f[key].shape[0])
    except OSError as err:
        raise ValueError(f"data file {path}: not a readable HDF5 file ({err})") from None


def count_events(model: str, data: dict) -> tuple[int, str]:
    """(events in ``data['path']``, what was counted) for a family, from metadata only."""
    path = Path(data["path"])
    if not path.is_file():
        raise ValueError(f"{model} data file {path}: no such file")
    if model in HDF5_KEYS:
        n = _hdf5_rows(path, HDF5_KEYS[model])
        cut = ", before dropping empty showers" if model == "calo3d" else ""
        return n, f"{n} showers{cut}"
    if path.suffix == ".root":
        return _root_rows(path, data, model)
    if path.suffix == ".npz":
        n = _npz_rows(path, "out_truth")
    elif path.suffix == ".npy":
        n = int(np.load(path, mmap_mode="r", allow_pickle=False).shape[0])
    else:
        n = _text_rows(path)
    drop = ", before dropping non-finite rows" if data.get("nonfinite") == "drop" else ""
    return n, f"{n} events{drop}"
