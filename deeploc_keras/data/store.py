"""The cell store: one HDF5 file holding single-cell crops and their per-cell table.

Layout (``SCHEMA_VERSION`` 1)::

    /images            (N, H, W, C) uint16 or float32, chunked along N
    /cells/protein     (N,) str      ORF or gene id ("unknown" when not known)
    /cells/label       (N,) int32    class index, -1 = unknown
    /cells/split       (N,) int8     0 train, 1 val, 2 test
    /cells/plate, /cells/well, /cells/field   (N,) str
    /cells/x, /cells/y (N,) float32  centre of the cell in its field (column, row)
    attrs: schema_version, source, channel_names (JSON), class_names (JSON)

Train and extract read only this format; importers and the simulator write it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from ..core.errors import DISK_FULL, InputError, check_positive_int, file_error, is_disk_full, reading
from ..core.outputs import check_output, partial_path, publish, remove_path, remove_stale_partials
from .reader import RowReader

__all__ = [
    "SPLIT_BY_CHOICES",
    "SCHEMA_VERSION",
    "CELL_COLUMNS",
    "OBJECT_COLUMNS",
    "CELL_FEATURES",
    "SPLIT_NAMES",
    "SPLIT_CHOICES",
    "UNKNOWN_PROTEIN",
    "CHONG_CLASS_NAMES",
    "DEFAULT_CHANNEL_NAMES",
    "CellStore",
    "assign_splits",
    "check_split",
]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
UNKNOWN_PROTEIN = "unknown"
SPLIT_NAMES = ("train", "val", "test")
#: Selections accepted wherever a split is chosen (``all`` = every cell).
#: Splits a selection may name: one of :data:`SPLIT_NAMES`, ``heldout`` (validation and test: the cells no
#: gradient step saw) or ``all``.
SPLIT_CHOICES = (*SPLIT_NAMES, "heldout", "all")
DEFAULT_CHANNEL_NAMES = ("GFP", "RFP")
#: The 19 classes of the Chong et al. 2015 DeepLoc files, in column order of ``Index1``.
CHONG_CLASS_NAMES = (
    "ACTIN", "BUDNECK", "BUDTIP", "CELLPERIPHERY", "CYTOPLASM", "ENDOSOME", "ER", "GOLGI",
    "MITOCHONDRIA", "NUCLEARPERIPHERY", "NUCLEI", "NUCLEOLUS", "PEROXISOME", "SPINDLE",
    "SPINDLEPOLE", "VACUOLARMEMBRANE", "VACUOLE", "DEAD", "GHOST",
)  # fmt: skip

_STR = h5py.string_dtype("utf-8")
#: Per-cell columns: name -> (numpy dtype for the HDF5 dataset, default value).
CELL_COLUMNS: dict[str, tuple[Any, Any]] = {
    "protein": (_STR, UNKNOWN_PROTEIN),
    "label": (np.int32, -1),
    "split": (np.int8, -1),
    "plate": (_STR, ""),
    "well": (_STR, ""),
    "field": (_STR, ""),
    "x": (np.float32, np.nan),
    "y": (np.float32, np.nan),
}
#: Per-cell columns of cells cut from segmented fields (the object's label in its mask, its area in pixels):
#: only in stores created with ``object_columns=True``.
OBJECT_COLUMNS: dict[str, tuple[Any, Any]] = {"object_id": (np.int32, -1), "area": (np.float32, np.nan)}
_IMAGE_DTYPES = (np.dtype(np.uint16), np.dtype(np.float32))
#: Optional per-cell feature table (e.g. the CellProfiler features a screen ships with): dataset
#: ``/cell_features`` (N, F) float32 with attr ``columns`` (JSON list of the F names).
CELL_FEATURES = "cell_features"


def _read_rows(dset: h5py.Dataset, index: slice | int | np.ndarray | Sequence[int], *,
               path: str | os.PathLike) -> np.ndarray:
    """Rows of a dataset by a slice, an int or sorted/unsorted integer indices; a failed read names ``path``."""
    if isinstance(index, (slice, int, np.integer)):
        rows = np.atleast_1d(np.asarray(range(len(dset))[index]))
        with reading(path, f"/{dset.name.lstrip('/')} rows {_span(rows)}"):
            return dset[index]
    index = np.asarray(index, dtype=np.int64)
    if index.size == 0:
        return np.empty((0, *dset.shape[1:]), dtype=dset.dtype)
    order = np.argsort(index, kind="stable")
    unique, inverse = np.unique(index[order], return_inverse=True)
    with reading(path, f"/{dset.name.lstrip('/')} rows {_span(unique)}"):
        block = dset[unique]
    out = np.empty((len(index), *dset.shape[1:]), dtype=dset.dtype)
    out[order] = block[inverse]
    return out


#: How :func:`assign_splits` cuts: ``cell`` = 80/10/10 of each protein's cells (the study's protocol; the
#: test split holds unseen cells of proteins seen in training), ``protein`` = 80/10/10 of the proteins
#: (the test split holds proteins never seen in training).
SPLIT_BY_CHOICES = ("cell", "protein")


def assign_splits(
    proteins: Sequence[str] | np.ndarray,
    *,
    seed: int = 0,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    by: str = "cell",
) -> np.ndarray:
    """Assign each cell to train (0), val (1) or test (2), 80/10/10 within each protein (or of the proteins).

    ``by="cell"``: the cells of every protein are shuffled with ``seed`` and cut at the
    rounded cumulative fractions, so each protein contributes to every split it can
    (the study's protocol). ``by="protein"``: the proteins are shuffled and cut, and every
    cell goes with its protein (held-out proteins). The result depends only on the
    protein column and the seed, never on how the cells were written.

    Parameters
    ----------
    proteins : sequence of str, shape (N,)
        Protein id of every cell.
    seed : int, default 0
        Seed of the shuffle.
    fractions : tuple of 3 floats, default (0.8, 0.1, 0.1)
        Train, val and test fractions; must be non-negative and sum to 1.
    by : {"cell", "protein"}, default "cell"
        :data:`SPLIT_BY_CHOICES`.

    Returns
    -------
    numpy.ndarray of int8, shape (N,)

    Raises
    ------
    InputError
        If the fractions are invalid.

    Examples
    --------
    >>> split = assign_splits(["A"] * 10 + ["B"] * 20, seed=0)
    >>> [int((split[:10] == k).sum()) for k in (0, 1, 2)]
    [8, 1, 1]
    >>> [int((split[10:] == k).sum()) for k in (0, 1, 2)]
    [16, 2, 2]
    >>> held_out = assign_splits([f"P{i}" for i in range(10) for _ in range(3)], seed=0, by="protein")
    >>> [len(set(held_out[3 * i:3 * i + 3])) for i in range(10)] == [1] * 10, int((held_out == 2).sum())
    (True, 3)
    """
    fractions_arr = np.asarray(fractions, dtype=float)
    if fractions_arr.shape != (3,) or (fractions_arr < 0).any() or abs(fractions_arr.sum() - 1) > 1e-9:
        raise InputError(
            f"split fractions must be 3 non-negative numbers summing to 1. Received: fractions={fractions}"
        )
    if by not in SPLIT_BY_CHOICES:
        raise InputError(f"unknown split_by {by!r}; expected one of {list(SPLIT_BY_CHOICES)}")
    proteins = np.asarray(proteins, dtype=object)
    n = len(proteins)
    uniq, codes = np.unique(proteins.astype(str), return_inverse=True)
    if by == "protein":
        return assign_splits(np.zeros(len(uniq), dtype=object), seed=seed, fractions=fractions)[codes]
    order = np.lexsort((np.random.default_rng(seed).random(n), codes))
    sorted_codes = codes[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_codes)) + 1]
    counts = np.diff(np.r_[starts, n])
    rank = np.arange(n) - np.repeat(starts, counts)
    cut_train = np.rint(counts * fractions_arr[0]).astype(int)
    cut_val = np.rint(counts * (fractions_arr[0] + fractions_arr[1])).astype(int)
    split_sorted = np.where(
        rank < np.repeat(cut_train, counts), 0, np.where(rank < np.repeat(cut_val, counts), 1, 2)
    )
    split = np.empty(n, dtype=np.int8)
    split[order] = split_sorted
    return split


class CellStore:
    """Single-cell crops and their per-cell table in one HDF5 file.

    Open an existing store with :meth:`open` (validated, read-only) or write a new
    one with :meth:`create` (chunked appends, published atomically on :meth:`close`).

    Examples
    --------
    >>> import tempfile, numpy as np, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "cells.h5"
    >>> with CellStore.create(path, class_names=["A", "B"], seed=0) as store:
    ...     store.append(np.zeros((10, 64, 64, 2), np.uint16),
    ...                  {"protein": ["P1"] * 5 + ["P2"] * 5, "label": [0] * 5 + [1] * 5})
    >>> with CellStore.open(path) as store:
    ...     print(len(store), store.image_shape, store.class_names)
    10 (64, 64, 2) ['A', 'B']
    """

    def __init__(self, h5: h5py.File, path: Path, *, writable: bool = False, final_path: Path | None = None,
                 seed: int = 0, split_by: str = "cell") -> None:
        self._h5 = h5
        self.path = path
        self._writable = writable
        self._final_path = final_path
        self._replaces = False
        self._seed = seed
        self._split_by = split_by
        self._cells: pd.DataFrame | None = None
        self._reader: RowReader | None = None

    # ------------------------------------------------------------------ writing
    @classmethod
    def create(
        cls,
        path: str | os.PathLike,
        *,
        image_shape: tuple[int, int, int] = (64, 64, 2),
        dtype: str | np.dtype = "uint16",
        channel_names: Sequence[str] = DEFAULT_CHANNEL_NAMES,
        class_names: Sequence[str] = (),
        source: str = "",
        chunk_cells: int = 512,
        compression: str | None = None,
        seed: int = 0,
        split_by: str = "cell",
        object_columns: bool = False,
        overwrite: bool = False,
    ) -> CellStore:
        """Start writing a new store; it appears at ``path`` only when closed successfully.

        Parameters
        ----------
        path : str or os.PathLike
            Destination ``.h5`` file.
        image_shape : tuple of int, default (64, 64, 2)
            (H, W, C) of every crop.
        dtype : {"uint16", "float32"}, default "uint16"
            Pixel type: raw camera counts or floats.
        channel_names : sequence of str, default ("GFP", "RFP")
            One name per channel, in channel order.
        class_names : sequence of str, default ()
            Localization classes; ``label`` indexes this list.
        source : str, default ""
            Free text recording where the cells came from.
        chunk_cells : int, default 512
            Cells per HDF5 chunk (the unit the training pipeline reads).
        compression : {None, "lzf", "gzip"}, default None
            HDF5 filter for the images.
        seed : int, default 0
            Seed of the per-protein split for cells appended without a ``split``.
        split_by : {"cell", "protein"}, default "cell"
            How those cells are split (:func:`assign_splits`); recorded in the attribute
            ``split_by`` (:attr:`split_by`).
        object_columns : bool, default False
            Add the per-cell columns of :data:`OBJECT_COLUMNS` (cells cut from segmented fields).
        overwrite : bool, default False
            Replace an existing file at ``path``.

        Returns
        -------
        CellStore
            A writable store; use it as a context manager or call :meth:`close`.

        Raises
        ------
        OutputExistsError
            If ``path`` exists and ``overwrite`` is False.
        InputError
            If the shape, dtype or channel names are inconsistent.
        """
        final = check_output(path, overwrite=overwrite)
        image_shape = tuple(int(v) for v in image_shape)
        dtype = np.dtype(dtype)
        if len(image_shape) != 3 or min(image_shape) < 1:
            raise InputError(f"image_shape must be (H, W, C) with positive sizes. Received: image_shape={image_shape}")
        if dtype not in _IMAGE_DTYPES:
            raise InputError(f"dtype must be uint16 or float32. Received: dtype={dtype}")
        if split_by not in SPLIT_BY_CHOICES:
            raise InputError(f"unknown split_by {split_by!r}; expected one of {list(SPLIT_BY_CHOICES)}")
        if len(channel_names) != image_shape[2]:
            raise InputError(
                f"one channel name per channel expected ({image_shape[2]}). Received: channel_names={list(channel_names)}"
            )
        check_positive_int("chunk_cells", chunk_cells)
        for what, names in (("channel_names", list(channel_names)), ("class_names", list(class_names))):
            repeated = sorted({name for name in names if names.count(name) > 1})
            if repeated:
                raise InputError(f"{what} must be unique; {repeated} appear more than once. Received: {what}={names}")
        final.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_partials(final)
        tmp = partial_path(final)
        h5 = None
        try:
            h5 = h5py.File(tmp, "w")
            h5.attrs["schema_version"] = SCHEMA_VERSION
            h5.attrs["source"] = source
            h5.attrs["channel_names"] = json.dumps(list(channel_names))
            h5.attrs["class_names"] = json.dumps(list(class_names))
            h5.create_dataset(
                "images", shape=(0, *image_shape), maxshape=(None, *image_shape), dtype=dtype,
                chunks=(chunk_cells, *image_shape), compression=compression,
            )
            group = h5.create_group("cells")
            for name, (col_dtype, _) in {**CELL_COLUMNS, **(OBJECT_COLUMNS if object_columns else {})}.items():
                group.create_dataset(name, shape=(0,), maxshape=(None,), dtype=col_dtype,
                                     chunks=(max(chunk_cells, 1024),))
        except BaseException as exc:
            _discard(h5, tmp)
            if is_disk_full(exc):
                raise file_error(final, DISK_FULL) from exc
            raise
        store = cls(h5, tmp, writable=True, final_path=final, seed=seed, split_by=split_by)
        store._replaces = os.path.lexists(final)  # close() replaces only what was there when create() checked
        return store

    def append(self, images: np.ndarray, cells: Mapping[str, Any] | pd.DataFrame | None = None) -> None:
        """Append a chunk of cells.

        Parameters
        ----------
        images : numpy.ndarray, shape (n, H, W, C)
            Crops; converted to the store's dtype (integers must fit uint16).
        cells : mapping or pandas.DataFrame, optional
            Per-cell columns (any of :data:`CELL_COLUMNS`), each of length n; missing
            columns take their defaults (protein "unknown", label -1, split assigned on close).

        Raises
        ------
        InputError
            On a wrong shape, non-finite pixels, values outside uint16, unknown
            columns, labels outside the class list or splits outside {0, 1, 2}.
        """
        if not self._writable:
            raise InputError(f"{self._final_path or self.path}: store is open read-only")
        images = np.asarray(images)
        dset = self._h5["images"]
        if images.ndim != 4 or images.shape[1:] != dset.shape[1:]:
            raise InputError(
                f"images must have shape (n, {', '.join(map(str, dset.shape[1:]))}). Received: images.shape={images.shape}"
            )
        n = len(images)
        if dset.dtype == np.uint16 and images.dtype != np.uint16:
            if not np.isfinite(images).all():
                raise InputError(f"images hold {int((~np.isfinite(images)).sum())} non-finite values")
            if images.size and (images.min() < 0 or images.max() > 65535 or not np.array_equal(images, np.round(images))):
                raise InputError("uint16 store needs integer pixel values in [0, 65535]")
        if dset.dtype == np.float32 and not np.isfinite(images).all():
            bad = ~np.isfinite(images.reshape(n, -1)).all(axis=1)
            raise InputError(
                f"{int(bad.sum())} cells hold NaN or inf pixels (first at chunk index {int(np.flatnonzero(bad)[0])})"
            )
        columns = self._columns_for(cells, n)
        start = dset.shape[0]
        try:
            dset.resize(start + n, axis=0)
            dset[start:] = images.astype(dset.dtype, copy=False)
            for name, values in columns.items():
                col = self._h5["cells"][name]
                col.resize(start + n, axis=0)
                col[start:] = values
        except OSError as exc:
            if is_disk_full(exc):
                raise file_error(self._final_path, DISK_FULL) from exc
            raise

    def _columns_for(self, cells: Mapping[str, Any] | pd.DataFrame | None, n: int) -> dict[str, np.ndarray]:
        cells = {} if cells is None else cells
        columns = self._column_types()
        unknown = set(cells.keys()) - set(columns)
        if unknown:
            raise InputError(f"unknown cell columns {sorted(unknown)}; expected a subset of {list(columns)}")
        out = {}
        for name, (col_dtype, default) in columns.items():
            if name in cells:
                values = np.asarray(cells[name])
                if values.shape != (n,):
                    raise InputError(f"cells['{name}'] must have length {n}. Received: shape={values.shape}")
            else:
                values = np.full(n, default, dtype=object if col_dtype is _STR else col_dtype)
            out[name] = values.astype(str).astype(object) if col_dtype is _STR else values.astype(col_dtype)
        n_classes = len(self.class_names)
        if ((out["label"] < -1) | (out["label"] >= n_classes)).any():
            raise InputError(f"labels must be -1 or in [0, {n_classes}) for class_names={self.class_names}")
        if not np.isin(out["split"], (-1, 0, 1, 2)).all():
            raise InputError("split values must be 0 (train), 1 (val) or 2 (test)")
        return out

    def _column_types(self) -> dict[str, tuple[Any, Any]]:
        """:data:`CELL_COLUMNS` and those of :data:`OBJECT_COLUMNS` the store has."""
        return {**CELL_COLUMNS, **{k: v for k, v in OBJECT_COLUMNS.items() if k in self._h5["cells"]}}

    def close(self) -> None:
        """Close the file; a writable store gets its splits and is renamed into place."""
        if not self._writable:
            self._h5.close()
            return
        try:
            split = self._h5["cells"]["split"]
            values = split[:]
            missing = values < 0
            if missing.any():
                proteins = self._h5["cells"]["protein"].asstr()[:]
                values[missing] = assign_splits(proteins[missing], seed=self._seed, by=self._split_by)
                split[:] = values
                self._h5.attrs["split_seed"] = self._seed
                self._h5.attrs["split_by"] = self._split_by if missing.all() else "mixed"
            elif "split_by" not in self._h5.attrs:
                self._h5.attrs["split_by"] = "given"
            self._h5.close()
            publish(self.path, self._final_path, replace=self._replaces)
        except BaseException as exc:
            self.abort()
            if is_disk_full(exc):
                raise file_error(self._final_path, DISK_FULL) from exc
            raise
        self.path, self._writable = self._final_path, False
        logger.info("wrote %s", self.path)

    def abort(self) -> None:
        """Discard a store being written (nothing appears at the final path, even when closing fails)."""
        self._writable = False
        _discard(self._h5, self.path)

    def __enter__(self) -> CellStore:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None and self._writable:
            self.abort()
        else:
            self.close()

    # ------------------------------------------------------------------ reading
    @classmethod
    def open(cls, path: str | os.PathLike) -> CellStore:
        """Open and validate an existing store (read-only).

        Parameters
        ----------
        path : str or os.PathLike
            A file written by :meth:`create`, an importer or the simulator.

        Returns
        -------
        CellStore

        Raises
        ------
        InputError
            With the path and what is wrong: missing file, not HDF5, truncated,
            wrong schema version, wrong shapes or dtypes, columns of the wrong
            length, labels outside ``class_names``, splits outside {0, 1, 2}.
        """
        path = Path(path)
        if not path.is_file():
            raise file_error(path, "no such file")
        if not h5py.is_hdf5(path):
            raise file_error(path, "not an HDF5 file; expected a cell store (create one with `deeploc-keras import`)")
        try:
            h5 = h5py.File(path, "r")
        except OSError as exc:
            raise file_error(path, f"cannot be read as HDF5 (truncated or corrupt?): {exc}") from None
        store = cls(h5, path)
        try:
            store._validate()
        except InputError:
            h5.close()
            raise
        except (OSError, KeyError, ValueError, TypeError) as exc:
            h5.close()
            raise file_error(path, f"corrupt cell store: {exc}") from None
        return store

    def _validate(self) -> None:
        h5, path = self._h5, self.path
        version = h5.attrs.get("schema_version")
        if version is None or "images" not in h5 or "cells" not in h5:
            raise file_error(path, "not a cell store (needs /images, /cells and attr schema_version); "
                                   "convert it with `deeploc-keras import`")
        if int(version) != SCHEMA_VERSION:
            raise file_error(path, f"schema_version {int(version)} is not supported (expected {SCHEMA_VERSION})")
        images = h5["images"]
        if images.ndim != 4:
            raise file_error(path, f"/images must be (N, H, W, C). Received: shape={images.shape}")
        if images.dtype not in _IMAGE_DTYPES:
            raise file_error(path, f"/images must be uint16 or float32. Received: dtype={images.dtype}")
        if len(self.channel_names) != images.shape[3]:
            raise file_error(path, f"channel_names {self.channel_names} do not match {images.shape[3]} channels")
        n = images.shape[0]
        for name in self._column_types():
            if name not in h5["cells"]:
                raise file_error(path, f"missing column /cells/{name}")
            if h5["cells"][name].shape != (n,):
                raise file_error(path, f"/cells/{name} has {h5['cells'][name].shape[0]} rows, expected {n} (one per image)")
        if CELL_FEATURES in h5 and h5[CELL_FEATURES].shape[0] != n:
            raise file_error(path, f"/{CELL_FEATURES} has {h5[CELL_FEATURES].shape[0]} rows, expected {n} (one per "
                                   f"image)")
        labels = h5["cells"]["label"][:]
        n_classes = len(self.class_names)
        if ((labels < -1) | (labels >= n_classes)).any():
            raise file_error(path, f"labels outside [-1, {n_classes}) for {n_classes} class_names")
        if not np.isin(h5["cells"]["split"][:], (0, 1, 2)).all():
            raise file_error(path, "split values must be 0 (train), 1 (val) or 2 (test)")

    def __len__(self) -> int:
        return int(self._h5["images"].shape[0])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(H, W, C) of every crop."""
        return tuple(int(v) for v in self._h5["images"].shape[1:])

    @property
    def dtype(self) -> np.dtype:
        """Pixel dtype (uint16 or float32)."""
        return self._h5["images"].dtype

    @property
    def chunk_cells(self) -> int:
        """Number of cells in one HDF5 chunk of ``/images``."""
        chunks = self._h5["images"].chunks
        return int(chunks[0]) if chunks else len(self)

    @property
    def compression(self) -> str | None:
        """The HDF5 filter of ``/images`` (``"lzf"``, ``"gzip"``), or None when uncompressed."""
        return self._h5["images"].compression

    @property
    def channel_names(self) -> list[str]:
        """Channel names in channel order."""
        return json.loads(self._h5.attrs.get("channel_names", json.dumps(list(DEFAULT_CHANNEL_NAMES))))

    @property
    def class_names(self) -> list[str]:
        """Localization classes; ``cells.label`` indexes this list."""
        return json.loads(self._h5.attrs.get("class_names", "[]"))

    @property
    def source(self) -> str:
        """Where the cells came from (free text)."""
        return str(self._h5.attrs.get("source", ""))

    @property
    def cells(self) -> pd.DataFrame:
        """The per-cell table (one row per image, columns :data:`CELL_COLUMNS` and any :data:`OBJECT_COLUMNS`)."""
        if self._cells is None:
            group = self._h5["cells"]
            data = {}
            for name, (col_dtype, _) in self._column_types().items():
                data[name] = group[name].asstr()[:] if col_dtype is _STR else group[name][:]
            self._cells = pd.DataFrame(data)
        return self._cells

    def images(self, index: slice | int | np.ndarray | Sequence[int] = slice(None)) -> np.ndarray:
        """Read crops by a slice, an int or sorted/unsorted integer indices (through :meth:`reader`).

        Parameters
        ----------
        index : slice, int or array of int, default all
            Which cells to read; a slice reads contiguous chunks (fastest).

        Returns
        -------
        numpy.ndarray, shape (n, H, W, C) (an int: (H, W, C)), the store's dtype

        Raises
        ------
        InputError
            If the file cannot be read or float crops hold NaN or inf.
        """
        rows = np.arange(len(self))[index] if isinstance(index, (slice, int, np.integer)) else \
            np.asarray(index, dtype=np.int64)
        out = np.empty((np.size(rows), *self.image_shape), dtype=self.dtype)
        self.reader().read_into(out, np.atleast_1d(rows))
        return out[0] if np.ndim(rows) == 0 else out

    def reader(self) -> RowReader:
        """The reader of this store's crops, over its open file (every read of crops goes through it).

        Returns
        -------
        RowReader
            Shared by every caller (and by the threads of a ``tf.data`` map); valid while
            the store is open.
        """
        if self._reader is None:
            self._reader = RowReader(self._h5, direct=not self._writable)
        return self._reader

    @property
    def cell_feature_columns(self) -> list[str]:
        """Names of the per-cell feature table (``[]`` when the store has none)."""
        if CELL_FEATURES not in self._h5:
            return []
        return json.loads(self._h5[CELL_FEATURES].attrs["columns"])

    def cell_features(self, index: slice | int | np.ndarray | Sequence[int] = slice(None)) -> np.ndarray:
        """Rows of the per-cell feature table, indexed like :meth:`images`.

        Returns
        -------
        numpy.ndarray, shape (n, F), float32

        Raises
        ------
        InputError
            If the store has no per-cell feature table.
        """
        if CELL_FEATURES not in self._h5:
            raise file_error(self.path, f"has no per-cell feature table (/{CELL_FEATURES}); import a file that "
                                        f"carries one (e.g. a DeepLoc HDF5 file with Info1)")
        return _read_rows(self._h5[CELL_FEATURES], index, path=self.path)

    def append_cell_features(self, values: np.ndarray, columns: Sequence[str]) -> None:
        """Append rows of the per-cell feature table (one row per appended cell, same columns every time).

        Parameters
        ----------
        values : numpy.ndarray, shape (n, F)
        columns : sequence of str, length F

        Raises
        ------
        InputError
            On a read-only store, a shape that does not match ``columns``, or other columns than before.
        """
        if not self._writable:
            raise InputError(f"{self._final_path or self.path}: store is open read-only")
        values = np.asarray(values, dtype=np.float32)
        columns = [str(c) for c in columns]
        if values.ndim != 2 or values.shape[1] != len(columns):
            raise InputError(f"cell features must be (cells, {len(columns)}) for {len(columns)} columns. "
                             f"Received: shape={values.shape}")
        if CELL_FEATURES not in self._h5:
            dset = self._h5.create_dataset(CELL_FEATURES, shape=(0, len(columns)), maxshape=(None, len(columns)),
                                           dtype=np.float32, chunks=(self.chunk_cells, len(columns)))
            dset.attrs["columns"] = json.dumps(columns)
        elif self.cell_feature_columns != columns:
            raise InputError("cell feature columns differ from those appended before")
        dset = self._h5[CELL_FEATURES]
        start = dset.shape[0]
        dset.resize(start + len(values), axis=0)
        dset[start:] = values

    def select(self, split: str = "all", *, labelled: bool = False, known_protein: bool = False) -> np.ndarray:
        """Row numbers of the cells of a split, in store order.

        Parameters
        ----------
        split : {"train", "val", "test", "heldout", "all"}, default "all"
            One of :data:`SPLIT_CHOICES` (``heldout``: validation and test cells).
        labelled : bool, default False
            Keep only cells with a label (``label >= 0``).
        known_protein : bool, default False
            Keep only cells whose protein is not ``unknown``.

        Returns
        -------
        numpy.ndarray of int64, sorted

        Raises
        ------
        InputError
            For a split not in :data:`SPLIT_CHOICES`.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "s.h5"
        >>> with CellStore.create(path, class_names=["A", "B"]) as w:
        ...     w.append(np.zeros((4, 64, 64, 2), np.uint16),
        ...              {"protein": ["P", "P", "unknown", "Q"], "label": [0, 1, -1, 0], "split": [0, 1, 0, 0]})
        >>> with CellStore.open(path) as s:
        ...     s.select("train").tolist(), s.select("train", labelled=True).tolist(), s.select(known_protein=True).tolist()
        ([0, 2, 3], [0, 3], [0, 1, 3])
        >>> with CellStore.open(path) as s:
        ...     s.select("heldout").tolist()
        [1]
        """
        if split not in SPLIT_CHOICES:
            raise InputError(f"unknown split {split!r}; split must be one of {list(SPLIT_CHOICES)}")
        cells = self.cells
        keep = np.ones(len(cells), dtype=bool)
        if split == "heldout":
            keep &= np.isin(cells["split"].to_numpy(), [SPLIT_NAMES.index("val"), SPLIT_NAMES.index("test")])
        elif split != "all":
            keep &= cells["split"].to_numpy() == SPLIT_NAMES.index(split)
        if labelled:
            keep &= cells["label"].to_numpy() >= 0
        if known_protein:
            keep &= cells["protein"].to_numpy() != UNKNOWN_PROTEIN
        return np.flatnonzero(keep).astype(np.int64)

    def require_labels(self) -> None:
        """Raise unless at least two classes have labelled cells (needed for training)."""
        labels = self.cells["label"].to_numpy()
        present = np.unique(labels[labels >= 0])
        if present.size == 0:
            raise file_error(self.path, "no cell has a label; training the classifier needs labels "
                                        "(re-import with --labels CSV or --labels-from huh2003)")
        if present.size < 2:
            raise file_error(self.path, f"labelled cells cover {present.size} class; at least 2 are needed to train")

    def require_image_shape(self, expected: Sequence[int | None], model_path: str | os.PathLike) -> None:
        """Raise unless the crops have the (H, W, C) a model expects (None matches any size).

        Parameters
        ----------
        expected : sequence of int or None
            The model's input shape without the batch axis.
        model_path : str or os.PathLike
            The model file, named in the message.

        Raises
        ------
        InputError
            ``"<store>: crops are (64, 64, 1) but <model> expects (64, 64, 2) ..."``.
        """
        expected = tuple(None if v is None else int(v) for v in expected)
        ok = len(expected) == 3 and all(e is None or e == s for e, s in zip(expected, self.image_shape, strict=True))
        if not ok:
            raise file_error(self.path, f"crops are {self.image_shape} (H, W, channels {self.channel_names}) but "
                                        f"{os.fspath(model_path)} expects {expected}; use a model trained on "
                                        "crops of this shape")

    def require_proteins(self) -> None:
        """Raise if protein ids are unknown (every protein-level step needs them)."""
        proteins = self.cells["protein"].to_numpy()
        if (proteins == UNKNOWN_PROTEIN).all():
            raise file_error(self.path, "protein ids are 'unknown'; protein profiles need them "
                                        "(re-import with --metadata CSV giving each cell's protein)")

    def fingerprint(self) -> str:
        """A cheap content hash: sizes, attributes, the per-cell table and the first and last chunk.

        Returns
        -------
        str
            Hex SHA-256, recorded in run configurations.
        """
        import hashlib

        digest = hashlib.sha256()
        digest.update(json.dumps({k: str(v) for k, v in sorted(self._h5.attrs.items())}).encode())
        digest.update(str(self._h5["images"].shape).encode())
        digest.update(pd.util.hash_pandas_object(self.cells, index=False).to_numpy().tobytes())
        if len(self):
            step = self.chunk_cells
            digest.update(np.ascontiguousarray(self.images(slice(0, step))).tobytes())
            digest.update(np.ascontiguousarray(self.images(slice(max(len(self) - step, 0), len(self)))).tobytes())
        return digest.hexdigest()

    @property
    def split_by(self) -> str:
        """How the store's cells were split: ``cell`` (80/10/10 of each protein's cells), ``protein``
        (held-out proteins), ``given`` (splits from the input, e.g. the original file names) or
        ``mixed``; stores of older versions with a split seed read ``cell``."""
        value = self._h5.attrs.get("split_by")
        if value is None:
            return "cell" if "split_seed" in self._h5.attrs else "given"
        return value.decode() if isinstance(value, bytes) else str(value)

    def summary(self) -> dict[str, Any]:
        """Counts and ranges for ``deeploc-keras inspect``.

        Returns
        -------
        dict
            cells, proteins, cells per protein (``protein_counts``), classes with counts,
            splits, dtype, image shape and per-channel intensity ranges (min, max, mean
            over the first 4096 cells, read chunk by chunk).
        """
        cells = self.cells
        labels = cells["label"].to_numpy()
        class_counts = {name: int((labels == k).sum()) for k, name in enumerate(self.class_names)}
        if (labels < 0).any():
            class_counts["(unlabelled)"] = int((labels < 0).sum())
        n_sample = min(len(self), 4096)
        lo, hi, total = np.full(self.image_shape[2], np.inf), np.full(self.image_shape[2], -np.inf), 0.0
        for start in range(0, n_sample, self.chunk_cells):
            block = self.images(slice(start, min(start + self.chunk_cells, n_sample))).reshape(-1, self.image_shape[2])
            lo, hi = np.minimum(lo, block.min(axis=0)), np.maximum(hi, block.max(axis=0))
            total = total + block.sum(axis=0, dtype=np.float64)
        n_pixels = n_sample * self.image_shape[0] * self.image_shape[1]
        channels = {
            name: {"min": float(lo[c]), "max": float(hi[c]), "mean": float(total[c] / n_pixels)} if n_sample
            else {"min": None, "max": None, "mean": None}
            for c, name in enumerate(self.channel_names)
        }
        proteins = cells["protein"]
        known = proteins[proteins != UNKNOWN_PROTEIN]
        return {
            "path": str(self.path),
            "source": self.source,
            "cells": len(self),
            "proteins": int(known.nunique()),
            "protein_counts": {str(k): int(v) for k, v in known.value_counts().sort_index().items()},
            "unknown_protein_cells": int((proteins == UNKNOWN_PROTEIN).sum()),
            "image_shape": list(self.image_shape),
            "dtype": str(self.dtype),
            "chunk_cells": self.chunk_cells,
            "channel_names": self.channel_names,
            "classes": class_counts,
            "splits": {name: int((cells["split"] == k).sum()) for k, name in enumerate(SPLIT_NAMES)},
            "split_by": self.split_by,
            "plates": int(cells["plate"][cells["plate"] != ""].nunique()),
            "channel_ranges": channels,
            "channel_ranges_sampled_cells": int(n_sample),
        }


def _span(rows: np.ndarray) -> str:
    return f"{int(rows[0])}-{int(rows[-1])}" if len(rows) else "(none)"


def _discard(h5: h5py.File | None, tmp: Path) -> None:
    """Close (if open) and delete a store being written; the file is removed even if closing raises."""
    try:
        if h5 is not None and h5.id.valid:
            h5.close()
    except Exception:  # noqa: BLE001 - a failed close (disk full) must not keep the partial file
        logger.debug("closing %s failed while discarding it", tmp, exc_info=True)
    finally:
        remove_path(tmp)


def check_split(split: str, *, choices: Sequence[str] = SPLIT_CHOICES) -> str:
    """Refuse a split name outside ``choices``.

    Parameters
    ----------
    split : str
    choices : sequence of str, default :data:`SPLIT_CHOICES`
        The names the caller accepts (e.g. :data:`SPLIT_NAMES` where ``"all"`` makes no sense).

    Returns
    -------
    str

    Raises
    ------
    InputError
        If ``split`` is not one of ``choices``.

    Examples
    --------
    >>> check_split("val")
    'val'
    >>> check_split("all", choices=SPLIT_NAMES)
    Traceback (most recent call last):
    ...
    deeploc_keras.core.errors.InputError: unknown split 'all'; expected one of ['train', 'val', 'test']
    """
    if split not in choices:
        raise InputError(f"unknown split {split!r}; expected one of {list(choices)}")
    return split
