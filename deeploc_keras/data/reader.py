"""Read store rows in any order straight into a caller's buffer: ``out[start + j] = images[rows[j]]``.

A :class:`RowReader` is handed out by :meth:`deeploc_keras.data.store.CellStore.reader` over the
store's own open file; every read of crops (the store's ``images``, the training and inference
pipelines, the PCI pairs) goes through it. Uncompressed stores are read with ``os.preadv`` on the
file's descriptor, from the byte offsets HDF5 reports for its chunks: the rows are sorted, cut into
runs that are contiguous in the file, and each run is one system call whose buffers are the
destination rows themselves, so every pixel is copied once, from the page cache to its place in
the batch. Compressed (filtered) stores go through ``h5py`` one run of consecutive rows of a chunk
at a time, with a chunk cache that holds the chunks a run touches, so a chunk is decompressed once
per run. ``preadv`` reads at explicit offsets and ``h5py`` serialises its calls, so the threads of
a ``tf.data`` map share one reader.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from ..core.errors import file_error, reading

__all__ = ["RowReader", "check_finite"]

#: Most buffers one ``preadv`` call accepts (Linux ``IOV_MAX``).
_IOV_MAX = 1024


class RowReader:
    """A read-only view of a store's ``/images`` that fills buffers with rows in a given order.

    Get one from :meth:`deeploc_keras.data.store.CellStore.reader`; it lives as long as the
    store's file is open.

    Parameters
    ----------
    h5 : h5py.File
        The store's open file.
    direct : bool, default True
        Read uncompressed chunks with ``preadv``; False reads every row through ``h5py``
        (a store being written: its chunks are not all on disk yet).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from deeploc_keras.data.store import CellStore
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "s.h5"
    >>> with CellStore.create(path, chunk_cells=4) as w:
    ...     w.append(np.arange(10 * 64 * 64 * 2).reshape(10, 64, 64, 2) % 9, {"split": [0] * 10})
    >>> out = np.empty((3, 64, 64, 2), np.uint16)
    >>> with CellStore.open(path) as s:
    ...     s.reader().read_into(out, np.array([7, 2, 3]))
    ...     bool((out == s.images([7, 2, 3])).all())
    True
    """

    def __init__(self, h5: h5py.File, *, direct: bool = True) -> None:
        self.path, self._file = Path(h5.filename), h5.id
        dset = h5["images"]
        self._cell_shape = dset.shape[1:]
        self._cell_bytes = int(np.prod(self._cell_shape)) * dset.dtype.itemsize
        self._chunk_cells = int(dset.chunks[0]) if dset.chunks else max(len(dset), 1)
        self._offsets = _chunk_offsets(dset) if direct else None
        self._fd = h5.id.get_vfd_handle() if self._offsets is not None else None
        if self._offsets is None:  # a chunk cache that holds a few chunks
            access = h5py.h5p.create(h5py.h5p.DATASET_ACCESS)
            access.set_chunk_cache(10007, max(4 * self._chunk_cells * self._cell_bytes, 2**20), 0.75)
            dset = h5py.Dataset(h5py.h5d.open(h5.id, b"images", access))
        self._dset = dset

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

        Raises
        ------
        InputError
            Naming the store and the rows: a truncated or corrupt file, or float crops
            holding NaN or inf (:func:`check_finite`).
        """
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            return
        if not self._file.valid:  # its descriptor may belong to another file by now
            raise RuntimeError(f"{self.path}: the store was closed; read its crops while it is open")
        order = np.argsort(rows, kind="stable")
        sorted_rows = rows[order]
        if sorted_rows[0] < 0 or sorted_rows[-1] >= len(self._dset):
            raise IndexError(f"rows {sorted_rows[0]}-{sorted_rows[-1]} outside the {len(self._dset)} cells of {self.path}")
        dest = order + start
        with reading(self.path, f"/images rows {sorted_rows[0]}-{sorted_rows[-1]}"):
            if self._offsets is None:
                self._read_h5(out, sorted_rows, dest)
            else:
                self._read_direct(out, sorted_rows, dest)
        check_finite(out[start:start + len(rows)], self.path, rows)

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


def check_finite(images: np.ndarray, path: str | os.PathLike, rows: np.ndarray) -> None:
    """Refuse float crops holding NaN or inf, naming the store and the first bad rows.

    A store written by this package never holds them (:meth:`CellStore.append`
    refuses them); a file edited or written by other tools may, and training on
    it would end in a NaN loss. Integer crops pass without a look.

    Parameters
    ----------
    images : numpy.ndarray, shape (n, H, W, C)
        Crops just read.
    path : str or os.PathLike
        The store they were read from.
    rows : numpy.ndarray of int, shape (n,)
        Their row numbers in the store.

    Raises
    ------
    InputError
        If any pixel is NaN or infinite.

    Examples
    --------
    >>> block = np.zeros((3, 2, 2, 1), np.float32)
    >>> check_finite(block, "cells.h5", np.arange(10, 13))
    >>> block[1, 0, 0, 0] = np.nan
    >>> check_finite(block, "cells.h5", np.arange(10, 13))
    Traceback (most recent call last):
    ...
    deeploc_keras.core.errors.InputError: cells.h5: 1 cell(s) hold NaN or inf pixels (rows [11]); re-import the cells (importers refuse such cells, or drop them with --drop-invalid)
    """
    if images.dtype.kind != "f" or images.size == 0 or np.isfinite(np.sum(images, dtype=np.float64)):
        return
    bad = ~np.isfinite(images.reshape(len(images), -1)).all(axis=1)
    first = np.asarray(rows)[bad][:5].tolist()
    raise file_error(path, f"{int(bad.sum())} cell(s) hold NaN or inf pixels (rows {first}"
                           f"{', ...' if bad.sum() > 5 else ''}); re-import the cells (importers refuse such cells, "
                           "or drop them with --drop-invalid)")
