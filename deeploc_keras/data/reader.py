"""Read store rows in any order straight into a caller's buffer: ``out[start + j] = images[rows[j]]``.

Uncompressed stores are read with ``os.preadv`` from the byte offsets HDF5
reports for its chunks: the rows are sorted, cut into runs that are contiguous
in the file, and each run is one system call whose buffers are the
destination rows themselves, so every pixel is copied once, from the page
cache to its place in the batch. Compressed (filtered) stores go through
``h5py`` one run of consecutive rows of a chunk at a time, with a chunk cache
that holds the chunks a run touches, so a chunk is decompressed once per run.
"""

from __future__ import annotations

import os
import threading
import weakref
from pathlib import Path

import h5py
import numpy as np

from ..core.errors import file_error

__all__ = ["RowReader", "SharedReader"]

#: Most buffers one ``preadv`` call accepts (Linux ``IOV_MAX``).
_IOV_MAX = 1024


class RowReader:
    """An open read-only view of a store's ``/images`` that fills buffers with rows in a given order.

    Parameters
    ----------
    path : str or os.PathLike
        A cell store (see :class:`deeploc_keras.data.store.CellStore`).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from deeploc_keras.data.store import CellStore
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "s.h5"
    >>> with CellStore.create(path, chunk_cells=4) as w:
    ...     w.append(np.arange(10 * 64 * 64 * 2).reshape(10, 64, 64, 2) % 9, {"split": [0] * 10})
    >>> out = np.empty((3, 64, 64, 2), np.uint16)
    >>> with RowReader(path) as reader:
    ...     reader.read_into(out, np.array([7, 2, 3]))
    >>> with CellStore.open(path) as s:
    ...     bool((out == s.images([7, 2, 3])).all())
    True
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._h5 = h5py.File(self.path, "r")
        dset = self._h5["images"]
        self._cell_shape = dset.shape[1:]
        self._cell_bytes = int(np.prod(self._cell_shape)) * dset.dtype.itemsize
        self._chunk_cells = int(dset.chunks[0]) if dset.chunks else max(len(dset), 1)
        self._offsets = _chunk_offsets(dset)
        self._fd = os.open(self.path, os.O_RDONLY) if self._offsets is not None else None
        if self._offsets is None:  # reopen with a chunk cache that holds a few chunks
            self._h5.close()
            chunk_bytes = self._chunk_cells * self._cell_bytes
            self._h5 = h5py.File(self.path, "r", rdcc_nbytes=max(4 * chunk_bytes, 2**20), rdcc_nslots=10007)
        self._dset = self._h5["images"]

    @property
    def direct(self) -> bool:
        """True when rows are read with ``preadv`` (uncompressed chunks), False through ``h5py``."""
        return self._offsets is not None

    def read_into(self, out: np.ndarray, rows: np.ndarray, start: int = 0) -> None:
        """Fill ``out[start:start + len(rows)]`` with the images of ``rows`` (any order, repeats allowed).

        Parameters
        ----------
        out : numpy.ndarray, shape (n, H, W, C), C-contiguous, the store's dtype
        rows : numpy.ndarray of int
            Store row numbers.
        start : int, default 0
            First row of ``out`` to fill.
        """
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            return
        order = np.argsort(rows, kind="stable")
        sorted_rows = rows[order]
        dest = order + start
        if self._offsets is None:
            self._read_h5(out, sorted_rows, dest)
        else:
            self._read_direct(out, sorted_rows, dest)

    def _read_direct(self, out: np.ndarray, rows: np.ndarray, dest: np.ndarray) -> None:
        cb = self._cell_bytes
        offsets = self._offsets[rows // self._chunk_cells] + (rows % self._chunk_cells) * cb
        cuts = np.flatnonzero(np.diff(offsets) != cb) + 1
        starts, stops = np.r_[0, cuts], np.r_[cuts, len(rows)]
        scattered = np.r_[0, np.cumsum(np.diff(dest) != 1)]  # runs whose destinations are one block
        flat = memoryview(out.reshape(-1).view(np.uint8))
        for a, b, offset, d0 in zip(starts.tolist(), stops.tolist(), offsets[starts].tolist(), dest[starts].tolist(),
                                    strict=True):
            if scattered[b - 1] == scattered[a]:
                self._preadv([flat[d0 * cb:(d0 + b - a) * cb]], offset, (b - a) * cb)
                continue
            views = [flat[d * cb:(d + 1) * cb] for d in dest[a:b].tolist()]
            for i in range(0, len(views), _IOV_MAX):
                part = views[i:i + _IOV_MAX]
                self._preadv(part, offset + i * cb, len(part) * cb)

    def _preadv(self, buffers: list[memoryview], offset: int, nbytes: int) -> None:
        if os.preadv(self._fd, buffers, offset) != nbytes:
            raise file_error(self.path, f"truncated: {nbytes} bytes expected at offset {offset}")

    def _read_h5(self, out: np.ndarray, rows: np.ndarray, dest: np.ndarray) -> None:
        cc = self._chunk_cells
        cuts = np.flatnonzero((np.diff(rows) != 1) | (np.diff(rows // cc) != 0)) + 1
        for run_rows, run_dest in zip(np.split(rows, cuts), np.split(dest, cuts), strict=True):
            first, n = int(run_rows[0]), len(run_rows)
            if run_dest[-1] - run_dest[0] == n - 1:
                self._dset.read_direct(out, np.s_[first:first + n], np.s_[int(run_dest[0]):int(run_dest[0]) + n])
            else:
                out[run_dest] = self._dset[first:first + n]

    def close(self) -> None:
        """Close the file (and its descriptor)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._h5.close()

    def __enter__(self) -> RowReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SharedReader:
    """One :class:`RowReader` of a store for every thread of a pipeline: opened on first use, closed with this object.

    ``preadv`` reads at explicit offsets and ``h5py`` serialises its calls, so
    the threads of a ``tf.data`` map can share the reader.

    Parameters
    ----------
    path : str or os.PathLike
        A cell store.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._opened: list[RowReader] = []
        self._lock = threading.Lock()
        weakref.finalize(self, _close_all, self._opened)

    def get(self) -> RowReader:
        """The open reader (opened now if this is the first call)."""
        with self._lock:
            if not self._opened:
                self._opened.append(RowReader(self.path))
            return self._opened[0]


def _close_all(readers: list[RowReader]) -> None:
    for reader in readers:
        reader.close()


def _chunk_offsets(dset: h5py.Dataset) -> np.ndarray | None:
    """Byte offset in the file of every chunk of ``dset`` (by chunk number), or None if it needs HDF5 to read."""
    if dset.id.get_create_plist().get_nfilters() or dset.dtype.byteorder not in "=|" + ("<" if np.little_endian else ">"):
        return None
    if dset.chunks is not None and dset.chunks[1:] != dset.shape[1:]:
        return None
    if dset.chunks is None:
        offset = dset.id.get_offset()
        return None if offset is None else np.array([offset], dtype=np.int64)
    chunk_cells = dset.chunks[0]
    n_chunks = -(-dset.shape[0] // chunk_cells)
    offsets = np.full(n_chunks, -1, dtype=np.int64)
    for i in range(dset.id.get_num_chunks()):
        info = dset.id.get_chunk_info(i)
        if info.filter_mask or info.size != chunk_cells * int(np.prod(dset.chunks[1:])) * dset.dtype.itemsize:
            return None
        offsets[info.chunk_offset[0] // chunk_cells] = info.byte_offset
    return None if (offsets < 0).any() else offsets
