"""Synthetic generators and real-format loaders for every model family.

``make_dataset(family, path, events, seed)`` writes a synthetic dataset in the family's real
file format; ``GENERATORS`` maps each family name to its ``write_dataset`` by import path
(``write_dataset(path, events, seed, progress=True, **options) -> Path``). ``models.data.make``
is the ``ganhpo data make`` command (its options and its ``main(argv)``).
"""

from __future__ import annotations

import importlib
from pathlib import Path

__all__ = ["GENERATORS", "make_dataset"]

GENERATORS: dict[str, str] = {
    "hadronization": "models.data.hadronization:write_dataset",
    "dimuon": "models.data.dimuon:write_dataset",
    "calo3d": "models.data.showers:write_dataset",
    "calochallenge": "models.data.calochallenge:write_dataset",
}


def make_dataset(family: str, path: str | Path, events: int, seed: int = 0,
                 progress: bool = True, **options) -> Path:
    """Write ``events`` synthetic events of ``family`` to ``path`` (format options per family)."""
    if family not in GENERATORS:
        raise ValueError(f"data family {family!r}: unknown; use one of {sorted(GENERATORS)}")
    if int(events) < 1:
        raise ValueError(f"events={events}: must be >= 1")
    module, name = GENERATORS[family].split(":")
    write = getattr(importlib.import_module(module), name)
    return write(Path(path), int(events), int(seed), progress=progress, **options)
