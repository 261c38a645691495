"""Import the original DeepLoc HDF5 files (``data1``/``Index1`` and further ``dataK``/``IndexK`` chunks).

Layout (Kraus et al. 2017; ``Chong_{train,valid,test}_set.hdf5``): ``dataK`` is (N, C*64*64), each row the
first channel's 64x64 block, then the second's, ..., each block a row-major ravel of [row, col];
``IndexK`` is (N, n_classes) one-hot. Optional file attributes ``data1_columns`` (channel description,
e.g. ``"GFP channel 64x64, RFP channel 64x64"``) and ``Index1_columns`` (class names). Optional ``InfoK``
(N, F): per-cell CellProfiler features of Chong et al. 2015, named by ``Info1_columns`` (an attribute or
a dataset of names, as the paired-cell-inpainting unpack script reads them); they become the store's
per-cell feature table (``/cell_features``). The files carry no protein ids; a metadata CSV joins them.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from ...core.errors import InputError, file_error
from ...core.outputs import check_output
from ..store import CHONG_CLASS_NAMES, DEFAULT_CHANNEL_NAMES, UNKNOWN_PROTEIN, CellStore
from ._common import import_summary, no_cells_error, parse_names, require_file

__all__ = ["import_deeploc_hdf5", "filename_split", "METADATA_COLUMNS"]

logger = logging.getLogger(__name__)

_SIDE = 64
_BLOCK = _SIDE * _SIDE
#: Columns a metadata CSV may give (besides the join keys ``index`` and ``file``).
METADATA_COLUMNS = ("protein", "plate", "well", "field", "x", "y")
_META_DEFAULTS = {"protein": UNKNOWN_PROTEIN, "plate": "", "well": "", "field": "", "x": np.nan, "y": np.nan}
_SPLIT_WORDS = {"train": 0, "training": 0, "valid": 1, "val": 1, "validation": 1, "test": 2}


def filename_split(path: str | os.PathLike) -> int:
    """The split (0 train, 1 val, 2 test) named by a file name such as ``Chong_valid_set.hdf5``.

    Parameters
    ----------
    path : str or os.PathLike
        File whose name holds exactly one of train, valid/val, test as a separate word.

    Returns
    -------
    int

    Raises
    ------
    InputError
        If the name holds none or several of these words.

    Examples
    --------
    >>> filename_split("Chong_train_set.hdf5"), filename_split("a/Chong_valid_set.hdf5")
    (0, 1)
    >>> filename_split("x-test.h5")
    2
    """
    words = re.split(r"[^a-z0-9]+", Path(path).stem.lower())
    found = {_SPLIT_WORDS[w] for w in words if w in _SPLIT_WORDS}
    if len(found) != 1:
        raise file_error(path, "--split-from-filename needs exactly one of train, valid (val) or test "
                               "as a word of the file name")
    return found.pop()


@dataclass
class _Source:
    """One input file: its chunks, the rows to keep and what it contributes."""

    path: Path
    chunks: list[tuple[str, str | None, int]] = field(default_factory=list)  # (data key, index key, rows)
    invalid: list[np.ndarray] = field(default_factory=list)  # per chunk, bool mask of rows with NaN/inf
    info_keys: list[str | None] = field(default_factory=list)  # per chunk, its InfoK dataset
    feature_columns: tuple[str, ...] | None = None
    integer: bool = True
    channel_names: tuple[str, ...] | None = None
    class_names: tuple[str, ...] | None = None
    n_classes: int | None = None

    @property
    def rows(self) -> int:
        return sum(n for _, _, n in self.chunks)


def _open(path: Path) -> h5py.File:
    require_file(path)
    if not h5py.is_hdf5(path):
        raise file_error(path, "not an HDF5 file; expected an original DeepLoc file with data1/Index1")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise file_error(path, f"cannot be read as HDF5 (truncated or corrupt?): {exc}") from None


def _attr_names(h5: h5py.File, key: str, *, channels: bool) -> tuple[str, ...] | None:
    if key not in h5.attrs:
        return None
    names = parse_names(h5.attrs[key])
    if channels and names:
        # "GFP channel 64x64, RFP channel 64x64 flattened" -> ("GFP", "RFP")
        names = tuple(name.split()[0] for name in names)
    return names or None


def _names(h5: h5py.File, key: str) -> tuple[str, ...] | None:
    """Names stored as a file attribute or as a dataset (deepdish writes arrays as datasets)."""
    if key in h5.attrs:
        return parse_names(h5.attrs[key])
    if key in h5 and isinstance(h5[key], h5py.Dataset):
        return parse_names(h5[key][()])
    return None


def _scan_info(path: Path, h5: h5py.File, source: _Source) -> None:
    """Check the InfoK feature tables: every chunk has one, with the rows of its dataK and the same width."""
    present = [key for key in source.info_keys if key is not None]
    if not present:
        return
    if len(present) != len(source.info_keys):
        missing = [data for (data, _, _), key in zip(source.chunks, source.info_keys, strict=True) if key is None]
        raise file_error(path, f"Info datasets cover only some chunks (none for {', '.join(missing)}); expected an "
                               f"InfoK for every dataK or none")
    widths = set()
    for (data_key, _, rows), key in zip(source.chunks, source.info_keys, strict=True):
        info = h5[key]
        if info.ndim != 2 or info.shape[0] != rows or info.dtype.kind not in "fiub":
            raise file_error(path, f"{key} must be a numeric (N, n_features) table with N = {rows} rows of "
                                   f"{data_key}. Received: shape={info.shape}, dtype={info.dtype}")
        widths.add(info.shape[1])
    if len(widths) != 1:
        raise file_error(path, f"Info datasets have different widths {sorted(widths)}")
    width = widths.pop()
    columns = _names(h5, "Info1_columns")
    if columns is None:
        columns = tuple(f"Info_{i:04d}" for i in range(width))
        logger.info("%s: no Info1_columns; naming the %d per-cell features Info_0000, ...", path, width)
    if len(columns) != width:
        raise file_error(path, f"Info1_columns names {len(columns)} features but Info1 has {width} columns")
    if len(set(columns)) != len(columns):
        raise file_error(path, "Info1_columns repeats a name; each per-cell feature needs its own")
    source.feature_columns = columns


def _scan(
    path: Path, *, channels: tuple[str, ...] | None, class_names: tuple[str, ...] | None, chunk_cells: int
) -> _Source:
    """First pass: layout, names, one-hot labels, NaN/inf rows and whether counts are integers in uint16."""
    source = _Source(path)
    with _open(path) as h5:
        keys = sorted((int(m.group(1)), k) for k in h5 if (m := re.fullmatch(r"data(\d+)", k)))
        if not keys:
            raise file_error(path, f"no data1 dataset; expected the original DeepLoc layout (data1, Index1). "
                                   f"Received: keys={sorted(h5)}")
        file_channels = _attr_names(h5, "data1_columns", channels=True)
        file_classes = _attr_names(h5, "Index1_columns", channels=False)
        for option, given, found, attr in (("--channels", channels, file_channels, "data1_columns"),
                                           ("--class-names", class_names, file_classes, "Index1_columns")):
            if given and found and tuple(given) != tuple(found):
                logger.warning("%s: %s %s differ from the file's %s %s; using %s", path, option, ",".join(given),
                               attr, ",".join(found), option)
        source.channel_names = channels or file_channels or DEFAULT_CHANNEL_NAMES
        source.class_names = class_names or file_classes
        names_from = ("--class-names" if class_names else "the file's Index1_columns attribute" if file_classes
                      else "the 19 Chong et al. classes (default)")
        channels_from = ("--channels" if channels else "the file's data1_columns attribute" if file_channels
                         else "the default channels")
        width = len(source.channel_names) * _BLOCK
        try:
            for number, data_key in keys:
                data = h5[data_key]
                index_key = f"Index{number}" if f"Index{number}" in h5 else None
                if data.ndim != 2 or data.shape[1] != width:
                    raise file_error(
                        path, f"{data_key} must have {len(source.channel_names)}*64*64 = {width} columns for channels "
                              f"{', '.join(source.channel_names)} (from {channels_from}); "
                              f"{'give' if channels else 'pass'} --channels with one name per 64x64 block. "
                              f"Received: shape={data.shape}")
                if data.dtype.kind not in "fiub":
                    raise file_error(path, f"{data_key} must be numeric. Received: dtype={data.dtype}")
                labels = h5[index_key] if index_key else None
                if labels is not None:
                    if labels.ndim != 2 or labels.shape[0] != data.shape[0]:
                        raise file_error(path, f"{index_key} must be (N, n_classes) with N = {data.shape[0]} rows of "
                                               f"{data_key}. Received: shape={labels.shape}")
                    if source.n_classes is not None and labels.shape[1] != source.n_classes:
                        raise file_error(path, f"{index_key} has {labels.shape[1]} classes, Index1 has {source.n_classes}")
                    source.n_classes = labels.shape[1]
                invalid = np.zeros(data.shape[0], dtype=bool)
                for start in range(0, data.shape[0], chunk_cells):
                    block = data[start:start + chunk_cells]
                    bad = ~np.isfinite(block).all(axis=1) if block.dtype.kind == "f" else np.zeros(len(block), bool)
                    invalid[start:start + len(block)] = bad
                    good = block[~bad]
                    if source.integer and good.size:
                        source.integer = bool(good.min() >= 0 and good.max() <= 65535
                                              and (block.dtype.kind != "f" or np.array_equal(good, np.round(good))))
                    if labels is not None:
                        onehot = labels[start:start + chunk_cells]
                        wrong = ~(np.isin(onehot, (0, 1)).all(axis=1) & (onehot.sum(axis=1) == 1))
                        if wrong.any():
                            raise file_error(
                                path, f"{index_key} row {start + int(np.flatnonzero(wrong)[0])} is not one-hot "
                                      f"({int(wrong.sum())} such rows in this block); expected exactly one 1 per row")
                source.chunks.append((data_key, index_key, int(data.shape[0])))
                source.invalid.append(invalid)
                source.info_keys.append(f"Info{number}" if f"Info{number}" in h5 else None)
            _scan_info(path, h5, source)
        except OSError as exc:
            raise file_error(path, f"cannot be read (truncated or corrupt?): {exc}") from None
    if source.class_names is None and source.n_classes is not None:
        source.class_names = CHONG_CLASS_NAMES
    if source.class_names is not None and source.n_classes is not None and len(source.class_names) != source.n_classes:
        raise file_error(path, f"Index1 has {source.n_classes} columns but {len(source.class_names)} class names "
                               f"come from {names_from} ({', '.join(source.class_names[:3])}, ...); "
                               f"{'give' if class_names else 'pass'} --class-names with one name per column")
    return source


def _read_metadata(path: Path, sources: list[_Source]) -> pd.DataFrame:
    """Per-cell metadata for every input row (all files, all chunks, in order); missing rows are unknown."""
    require_file(path)
    try:
        table = pd.read_csv(path, dtype={"protein": str, "plate": str, "well": str, "field": str, "file": str},
                            keep_default_na=False, na_values={"x": [""], "y": [""]})
    except (ValueError, UnicodeDecodeError) as exc:
        raise file_error(path, f"cannot be read as CSV: {exc}") from None
    if "protein" not in table.columns:
        raise file_error(path, f"metadata CSV needs a 'protein' column. Received: columns={list(table.columns)}")
    total = sum(s.rows for s in sources)
    columns = [c for c in METADATA_COLUMNS if c in table.columns]
    ignored = sorted(set(table.columns) - set(columns) - {"index", "file"})
    if ignored:
        logger.info("%s: ignoring columns %s", path, ignored)
    if "index" not in table.columns:
        if len(table) != total:
            raise file_error(path, f"{len(table)} rows but the HDF5 files hold {total} cells; give one row per cell "
                                   f"in file order, or an 'index' column (and a 'file' column for per-file rows)")
        return table[columns].reset_index(drop=True)
    try:
        index = pd.to_numeric(table["index"]).to_numpy()
    except ValueError:
        raise file_error(path, "column 'index' must hold integers") from None
    if index.dtype.kind not in "iu":
        raise file_error(path, "column 'index' must hold integers")
    if "file" in table.columns:
        offsets, sizes = {}, {}
        start = 0
        for s in sources:
            for key in (s.path.name, str(s.path)):
                offsets[key], sizes[key] = start, s.rows
            start += s.rows
        unknown = sorted(set(table["file"]) - set(offsets))
        if unknown:
            raise file_error(path, f"column 'file' names {unknown[0]!r}, which is not an input file")
        size = table["file"].map(sizes).to_numpy()
        if ((index < 0) | (index >= size)).any():
            raise file_error(path, "column 'index' holds rows outside their file")
        index = index + table["file"].map(offsets).to_numpy()
    elif ((index < 0) | (index >= total)).any():
        raise file_error(path, f"column 'index' must be in [0, {total}) (the cells of all input files in order)")
    if len(np.unique(index)) != len(index):
        raise file_error(path, "column 'index' repeats a cell; give each cell at most one row")
    full = pd.DataFrame({c: np.full(total, _META_DEFAULTS[c], dtype=float if c in "xy" else object) for c in columns})
    for column in columns:
        full.loc[index, column] = table[column].to_numpy()
    if len(index) < total:
        logger.info("%s: %d of %d cells have no metadata row; their protein is '%s'",
                    path, total - len(index), total, UNKNOWN_PROTEIN)
    return full


def _check_scans(scanned: list, *, drop_invalid: bool) -> int:
    """Refuse files whose channels or classes differ from the first's, and NaN/inf cells unless
    ``drop_invalid``; return the number of cells to drop."""
    first = scanned[0]
    for other in scanned[1:]:
        if other.channel_names != first.channel_names:
            raise file_error(other.path, f"channels {list(other.channel_names)} differ from "
                                         f"{list(first.channel_names)} of {first.path}")
        if other.class_names is not None and first.class_names is not None and other.class_names != first.class_names:
            raise file_error(other.path, f"classes differ from those of {first.path}")
    invalid_total = 0
    for s in scanned:
        n_bad = int(sum(m.sum() for m in s.invalid))
        if n_bad and not drop_invalid:
            chunk, row = next((k, int(np.flatnonzero(m)[0])) for k, m in enumerate(s.invalid) if m.any())
            raise file_error(s.path, f"{n_bad} cells hold NaN or inf pixels (first: {s.chunks[chunk][0]} row {row}); "
                                     f"pass --drop-invalid to drop them")
        invalid_total += n_bad
    return invalid_total


def _copy_source(store: CellStore, s, *, split: int | None, meta: pd.DataFrame | None, offset: int,
                 chunk_cells: int, feature_columns: list[str] | None, proteins: set) -> int:
    """Append the valid cells of one scanned file to ``store`` block by block; return how many.

    ``offset`` is the file's first row in ``meta``; the proteins written are added to ``proteins``.
    """
    written = 0
    n_channels = len(s.channel_names)
    with _open(s.path) as h5:
        for (data_key, index_key, rows), invalid, info_key in zip(s.chunks, s.invalid, s.info_keys, strict=True):
            for start in range(0, rows, chunk_cells):
                stop = min(start + chunk_cells, rows)
                keep = ~invalid[start:stop]
                block = h5[data_key][start:stop][keep]
                images = block.reshape(len(block), n_channels, _SIDE, _SIDE).transpose(0, 2, 3, 1)
                cells: dict[str, Any] = {}
                if index_key is not None:
                    cells["label"] = np.argmax(h5[index_key][start:stop][keep], axis=1)
                if split is not None:
                    cells["split"] = np.full(len(block), split, dtype=np.int8)
                if meta is not None:
                    part = meta.iloc[offset + start:offset + stop][keep]
                    cells.update({c: part[c].to_numpy() for c in part.columns})
                    proteins.update(part["protein"])
                store.append(images, cells)
                if feature_columns is not None:
                    store.append_cell_features(h5[info_key][start:stop][keep], feature_columns)
                written += len(block)
            offset += rows
    return written


def import_deeploc_hdf5(
    sources: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    channels: Sequence[str] | str | None = None,
    class_names: Sequence[str] | str | None = None,
    metadata: str | os.PathLike | None = None,
    split_from_filename: bool = False,
    drop_invalid: bool = False,
    overwrite: bool = False,
    seed: int = 0,
    split_by: str = "cell",
    chunk_cells: int = 512,
    compression: str | None = None,
) -> dict[str, Any]:
    """Import original DeepLoc HDF5 files into one cell store, streaming ``chunk_cells`` rows at a time.

    Channel and class names come from ``channels`` / ``class_names`` when given (with a warning when
    they differ from the file), else from the file attributes ``data1_columns`` / ``Index1_columns``,
    else the Chong defaults (GFP, RFP; 19 classes).
    Raw counts are kept: the store is uint16 when every pixel is an integer in [0, 65535] (checked in a
    first pass), else float32. Each image becomes (64, 64, C) with
    ``image[i, r, c, k] == dataK[i, k*4096 + r*64 + c]``.

    Parameters
    ----------
    sources : sequence of path
        One or more ``.hdf5`` files; their cells are written in this order.
    out : path
        The store to write.
    channels : sequence of str or comma-separated str, optional
        Channel names, one per 64x64 block; override the files' ``data1_columns``.
    class_names : sequence of str or comma-separated str, optional
        Class names, one per ``Index1`` column; override the files' ``Index1_columns``.
    metadata : path, optional
        CSV with a ``protein`` column (and optionally plate, well, field, x, y), one row per cell in input
        order, or joined by an ``index`` column (global row number, or per file with a ``file`` column
        holding the file name). Without it every protein is "unknown".
    split_from_filename : bool, default False
        Take each file's split from its name (train, valid/val, test) instead of the seeded per-protein split.
    drop_invalid : bool, default False
        Drop cells with NaN or inf pixels (counted in the summary) instead of refusing the input.
    overwrite : bool, default False
        Replace an existing ``out``.
    seed : int, default 0
        Seed of the per-protein 80/10/10 split.
    split_by : {"cell", "protein"}, default "cell"
        80/10/10 of each protein's cells, or of the proteins (held-out proteins); see
        :func:`deeploc_keras.data.store.assign_splits`.
    chunk_cells : int, default 512
        Rows read per block and cells per HDF5 chunk of the store.
    compression : {None, "lzf", "gzip"}, default None
        HDF5 filter of the store's images.

    Returns
    -------
    dict
        path, format, sources, cells, proteins, dtype, classes, dropped, cell_features (number of
        per-cell feature columns kept from ``Info1``; 0 without).

    Raises
    ------
    InputError
        One line naming the file: missing, not HDF5, truncated, wrong ``data1`` width, ``Index1`` not
        one-hot, NaN/inf pixels (without ``drop_invalid``), inconsistent files, a bad metadata CSV.
    OutputExistsError
        If ``out`` exists and ``overwrite`` is False.

    Examples
    --------
    >>> import tempfile, pathlib, h5py, numpy as np
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> with h5py.File(tmp / "Chong_test_set.hdf5", "w") as f:
    ...     f["data1"] = np.arange(3 * 8192, dtype=float).reshape(3, 8192)
    ...     f["Index1"] = np.eye(19, dtype=np.uint8)[[0, 4, 8]]
    >>> summary = import_deeploc_hdf5([tmp / "Chong_test_set.hdf5"], tmp / "cells.h5")
    >>> summary["cells"], summary["dtype"]
    (3, 'uint16')
    """
    check_output(out, overwrite=overwrite)  # refuse before reading any input
    paths = [Path(p) for p in sources]
    if not paths:
        raise InputError("at least one DeepLoc HDF5 file is needed")
    channels, class_names = parse_names(channels), parse_names(class_names)
    scanned = [_scan(p, channels=channels, class_names=class_names, chunk_cells=chunk_cells) for p in paths]
    first = scanned[0]
    invalid_total = _check_scans(scanned, drop_invalid=drop_invalid)
    names = next((s.class_names for s in scanned if s.class_names is not None), class_names or ())
    feature_columns = _common_feature_columns(scanned)
    splits = [filename_split(s.path) for s in scanned] if split_from_filename else [None] * len(scanned)
    if sum(s.rows for s in scanned) - invalid_total == 0:
        raise no_cells_error(paths)
    meta = _read_metadata(Path(metadata), scanned) if metadata is not None else None
    dtype = "uint16" if all(s.integer for s in scanned) else "float32"
    n_channels = len(first.channel_names)
    written, proteins = 0, set()
    with CellStore.create(out, image_shape=(_SIDE, _SIDE, n_channels), dtype=dtype, channel_names=first.channel_names,
                          class_names=names, source="deeploc-hdf5: " + ", ".join(p.name for p in paths),
                          chunk_cells=chunk_cells, compression=compression, seed=seed, split_by=split_by,
                          overwrite=overwrite) as store:
        offset = 0
        for s, split in zip(scanned, splits, strict=True):
            written += _copy_source(store, s, split=split, meta=meta, offset=offset, chunk_cells=chunk_cells,
                                    feature_columns=feature_columns, proteins=proteins)
            offset += sum(rows for _, _, rows in s.chunks)
    dropped = {"invalid_pixels": invalid_total} if invalid_total else {}
    if invalid_total:
        logger.info("dropped %d cells with NaN or inf pixels", invalid_total)
    summary = import_summary(Path(out), format="deeploc-hdf5", cells=written, proteins=proteins, dtype=dtype,
                             sources=len(paths), dropped=dropped, class_names=names,
                             image_shape=(_SIDE, _SIDE, n_channels), channel_names=first.channel_names)
    summary["cell_features"] = 0 if feature_columns is None else len(feature_columns)
    return summary


def _common_feature_columns(scanned: list[_Source]) -> tuple[str, ...] | None:
    """The per-cell feature columns shared by every input file (None when a file has none)."""
    columns = [s.feature_columns for s in scanned]
    if all(c is None for c in columns):
        return None
    if any(c is None for c in columns):
        without = [s.path.name for s in scanned if s.feature_columns is None]
        logger.warning("per-cell features (Info1) are not kept: %s carry none", ", ".join(without))
        return None
    for s in scanned[1:]:
        if s.feature_columns != scanned[0].feature_columns:
            raise file_error(s.path, f"Info1_columns differ from those of {scanned[0].path}")
    return columns[0]
