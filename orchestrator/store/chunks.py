"""Whole row chunks encoded and written in the caller's thread: the writer's fast flush path.

Zarr's ``Array.__setitem__`` hands each chunk to its event-loop thread, which encodes it in one
worker thread and writes it in another: two or three thread hops per chunk, each one a GIL
hand-over that costs up to a switch interval when other threads compute (the driver's optimiser
thread, trials run as threads). A flush writes ~15 chunks, so those hops were most of its time.
Here the same codecs (the array's own, e.g. bytes + zstd with checksum) encode the chunk in the
caller's thread, and the file is written as zarr's ``LocalStore`` writes it: to a temporary file
in the same directory, renamed over the chunk (atomic). The bytes are the same as zarr's.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import numpy as np
import zarr
from zarr.core.buffer import default_buffer_prototype

__all__ = ["ChunkWriter", "put_file", "write_group_metadata"]


def put_file(path: Path, data: memoryview | bytes) -> None:
    """Write ``path`` atomically: a temporary file beside it, renamed over it."""
    tmp = path.with_suffix(f".{uuid.uuid4().hex}.partial")  # zarr's own temporary name
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class ChunkWriter:
    """Writes whole row chunks of one Zarr v3 array; ``ChunkWriter.of`` is None where it cannot."""

    def __init__(self, root: str | Path, array: zarr.Array):
        self.array = array
        meta = array.metadata
        self.dir = Path(root, array.path)
        self.codecs = list(meta.codecs)
        self.native = meta.dtype.to_native_dtype()
        self.rows = meta.chunk_grid.chunk_shape[0]
        self.spec = meta.get_chunk_spec((0,) * meta.ndim, array._async_array.config,
                                        default_buffer_prototype())
        self._dirs: set[Path] = set()

    @classmethod
    def of(cls, root: str | Path, array: zarr.Array) -> ChunkWriter | None:
        """A writer for ``array`` if its chunks are plain files and every codec encodes in
        this thread (zarr >= 3.1 with bytes/vlen + zstd); None: write through zarr instead."""
        meta = getattr(array, "metadata", None)
        if (getattr(meta, "zarr_format", None) != 3 or type(array.store).__name__ != "LocalStore"
                or not all(hasattr(c, "_encode_sync") for c in meta.codecs)):
            return None
        try:
            return cls(root, array)
        except (AttributeError, TypeError):  # a zarr whose internals differ: its own path
            return None

    def encode(self, block: np.ndarray) -> memoryview:
        """The stored bytes of one whole chunk."""
        data = self.spec.prototype.nd_buffer.from_numpy_array(
            np.ascontiguousarray(block, dtype=self.native))
        for codec in self.codecs:
            data = codec._encode_sync(data, self.spec)
        return data.as_buffer_like()

    def write(self, first: int, block: np.ndarray) -> None:
        """Write the whole chunks of ``block``, its row 0 being row ``first`` (a chunk start)."""
        tail = (0,) * (self.array.ndim - 1)
        for start in range(0, len(block), self.rows):
            path = self.dir / self.array.metadata.encode_chunk_key(((first + start) // self.rows, *tail))
            if path.parent not in self._dirs:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._dirs.add(path.parent)
            put_file(path, self.encode(block[start:start + self.rows]))


def write_group_metadata(root: str | Path, group: zarr.Group, attrs: dict) -> None:
    """Update the group's attributes in memory and write its ``zarr.json`` once, atomically."""
    meta = group.metadata
    meta.attributes.update(attrs)
    for key, buf in meta.to_buffer_dict(default_buffer_prototype()).items():
        put_file(Path(root, key), buf.as_buffer_like())
