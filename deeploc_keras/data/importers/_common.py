"""Helpers shared by the importers: input checks, name lists, label tables, TIFF reading, chunked writing."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...core.errors import InputError, file_error
from ..order import DEFAULT_SLICE_CELLS
from ..store import UNKNOWN_PROTEIN, CellStore

__all__ = [
    "require_file",
    "parse_names",
    "LabelTable",
    "read_labels_csv",
    "check_labels_cover",
    "read_tiff",
    "read_tiff_2d",
    "tiff_header",
    "store_dtype",
    "natural_key",
    "ChunkWriter",
    "import_summary",
    "no_cells_error",
    "warn_compressed_chunks",
]

logger = logging.getLogger(__name__)

#: Integer pixel types that fit a uint16 store unchanged.
_UINT16_SAFE = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.bool_))


def require_file(path: str | os.PathLike) -> Path:
    """Return ``path`` as a Path, or raise :class:`InputError` naming it when it is not a file."""
    path = Path(path)
    if not path.is_file():
        raise file_error(path, "no such file" if not path.exists() else "is not a file")
    return path


def parse_names(value: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """Turn ``"A,B"``, bytes, an array or a list of names into a tuple of stripped names (None stays None).

    Examples
    --------
    >>> parse_names("GFP, RFP")
    ('GFP', 'RFP')
    >>> parse_names([b"ER", b"Bud"])
    ('ER', 'Bud')
    """
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if isinstance(value, str):
        items: Iterable[Any] = value.split(",")
    else:
        items = np.asarray(value).ravel().tolist()
    names = tuple(
        (item.decode("utf-8") if isinstance(item, bytes) else str(item)).strip() for item in items
    )
    return tuple(name for name in names if name)


class LabelTable(dict):
    """Protein id -> class name from a named source (a published table), usable where a labels CSV is.

    Ids match as given or in upper case (``Act1`` finds ``ACT1``); ``os.fspath`` gives the
    source's name for messages.

    Examples
    --------
    >>> table = LabelTable({"ACT1": "actin"}, source="huh2003 labels")
    >>> read_labels_csv(table)[0].get("Act1"), os.fspath(table)
    (0, 'huh2003 labels')
    """

    def __init__(self, labels: Mapping[str, str], *, source: str) -> None:
        super().__init__(labels)
        self.source = source

    def __fspath__(self) -> str:
        return self.source


class _AnyCase(dict):
    """Protein id -> class index; ids match as given or in upper case."""

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key) or super().__contains__(str(key).upper())

    def get(self, key: Any, default: Any = None) -> Any:
        return super().get(key, super().get(str(key).upper(), default))


def read_labels_csv(
    path: str | os.PathLike | LabelTable, *, class_names: Sequence[str] | None = None
) -> tuple[dict[str, int], tuple[str, ...]]:
    """Read a ``protein,label`` CSV (one localization class per protein), or a :class:`LabelTable`.

    Parameters
    ----------
    path : str, os.PathLike or LabelTable
        CSV with a header holding the columns ``protein`` and ``label``, or a table of them.
    class_names : sequence of str, optional
        The class list; default the sorted unique labels of the file.

    Returns
    -------
    labels : dict of str to int
        Protein id -> index into ``class_names``.
    class_names : tuple of str

    Raises
    ------
    InputError
        Naming the file: missing columns, a protein with two labels, a label not in ``class_names``.
    """
    if isinstance(path, LabelTable):
        table = pd.DataFrame({"protein": list(path), "label": list(path.values())}, dtype=str)
    else:
        path = require_file(path)
        try:
            table = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (ValueError, UnicodeDecodeError) as exc:
            raise file_error(path, f"cannot be read as CSV: {exc}") from None
    missing = {"protein", "label"} - set(table.columns)
    if missing:
        raise file_error(path, f"labels CSV needs columns 'protein' and 'label'. Received: columns={list(table.columns)}")
    table = table[["protein", "label"]].apply(lambda col: col.str.strip())
    table = table[table["label"] != ""].drop_duplicates()
    duplicated = table["protein"][table["protein"].duplicated()]
    if len(duplicated):
        raise file_error(path, f"protein {duplicated.iloc[0]!r} has more than one label; give one label per protein")
    names = tuple(class_names) if class_names else tuple(sorted(table["label"].unique()))
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InputError(f"class names must be unique; {repeated} appear more than once. "
                         f"Received: class_names={list(names)}")
    unknown = sorted(set(table["label"]) - set(names))
    if unknown:
        raise file_error(path, f"labels {unknown[:5]} are not in class_names {list(names)}")
    index = {name: k for k, name in enumerate(names)}
    labels = {p: index[lab] for p, lab in zip(table["protein"], table["label"], strict=True)}
    return (_AnyCase(labels) if isinstance(path, LabelTable) else labels), names


def check_labels_cover(labels_path: str | os.PathLike | None, labels: Mapping[str, int],
                       proteins: Iterable[str]) -> None:
    """Refuse a labels CSV that labels none of the imported proteins; warn when it misses some.

    Parameters
    ----------
    labels_path : path or None
        The labels CSV (None: no labels were given, nothing to check).
    labels : mapping of str to int
        Protein id -> class index, as read by :func:`read_labels_csv`.
    proteins : iterable of str
        Protein ids of the cells being imported.

    Raises
    ------
    InputError
        Naming the CSV when it shares no protein id with the images.

    Examples
    --------
    >>> check_labels_cover("labels.csv", {"YAL001C": 0}, ["YAL001C", "YAL002W"])
    >>> check_labels_cover("labels.csv", {"ACT1": 0}, ["YAL001C", "YAL002W"])
    Traceback (most recent call last):
    ...
    deeploc_keras.core.errors.InputError: labels.csv: shares no protein id with the images (labels for e.g. ['ACT1']; images of e.g. ['YAL001C', 'YAL002W']); use the same ids (ORFs or gene names) in both
    """
    if labels_path is None:
        return
    proteins = sorted(set(proteins) - {UNKNOWN_PROTEIN})
    missing = [p for p in proteins if p not in labels]
    if proteins and len(missing) == len(proteins):
        raise file_error(labels_path, f"shares no protein id with the images (labels for e.g. {sorted(labels)[:3]}; "
                                      f"images of e.g. {proteins[:3]}); use the same ids (ORFs or gene names) in both")
    if missing:
        logger.warning("%s: %d of %d proteins have no label (e.g. %s); their cells are imported unlabelled",
                       os.fspath(labels_path), len(missing), len(proteins), ", ".join(missing[:3]))


def tiff_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of the first series of a TIFF file, without reading its pixels."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            return tuple(int(v) for v in series.shape), np.dtype(series.dtype)
    except (tifffile.TiffFileError, OSError, IndexError, ValueError) as exc:
        raise file_error(path, f"cannot be read as TIFF: {exc}") from None


def read_tiff(path: Path) -> np.ndarray:
    """The pixels of the first series of a TIFF file, in the (squeezed) shape :func:`tiff_header` gives."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            return series.asarray().reshape(series.shape)
    except (tifffile.TiffFileError, OSError, IndexError, ValueError) as exc:
        raise file_error(path, f"cannot be read as TIFF: {exc}") from None


def read_tiff_2d(path: Path, *, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Read a single-channel TIFF as a 2-D array; raise naming the file on another size.

    Parameters
    ----------
    path : pathlib.Path
        The TIFF file.
    shape : tuple of 2 int, optional
        Required (rows, columns).

    Returns
    -------
    numpy.ndarray, 2-D
    """
    import tifffile

    try:
        image = tifffile.imread(path)
    except (tifffile.TiffFileError, OSError, ValueError) as exc:
        raise file_error(path, f"cannot be read as TIFF: {exc}") from None
    image = np.squeeze(image)
    if image.ndim != 2:
        raise file_error(path, f"expected a single-channel 2-D image. Received: shape={image.shape}")
    if shape is not None and image.shape != tuple(shape):
        raise file_error(path, f"image size must be {shape[0]}x{shape[1]}. Received: {image.shape[0]}x{image.shape[1]}")
    return image


def store_dtype(dtypes: Iterable[np.dtype]) -> str:
    """``"uint16"`` when every pixel type fits uint16 losslessly (uint8, uint16), else ``"float32"``.

    Examples
    --------
    >>> store_dtype([np.dtype("uint16"), np.dtype("uint8")]), store_dtype([np.dtype("float32")])
    ('uint16', 'float32')
    """
    dtypes = list(dtypes)
    return "uint16" if dtypes and all(np.dtype(d) in _UINT16_SAFE for d in dtypes) else "float32"


def natural_key(text: str) -> tuple:
    """Sort key that orders embedded numbers numerically (``cell_2`` before ``cell_10``).

    Examples
    --------
    >>> sorted(["a_10", "a_2"], key=natural_key)
    ['a_2', 'a_10']
    """
    return tuple(int(tok) if tok.isdigit() else tok for tok in re.split(r"(\d+)", text))


class ChunkWriter:
    """Buffer single cells and append them to a store ``chunk_cells`` at a time.

    Parameters
    ----------
    store : CellStore
        A writable store.
    chunk_cells : int
        Cells per append.
    """

    def __init__(self, store: CellStore, *, chunk_cells: int) -> None:
        self.store = store
        self.chunk_cells = chunk_cells
        self.count = 0
        self.proteins: set[str] = set()
        self._images: list[np.ndarray] = []
        self._cells: list[Mapping[str, Any]] = []

    def add(self, image: np.ndarray, cell: Mapping[str, Any]) -> None:
        """Queue one (H, W, C) crop with its per-cell values."""
        self._images.append(image)
        self._cells.append(cell)
        if len(self._images) >= self.chunk_cells:
            self.flush()

    def flush(self) -> None:
        """Append the queued cells."""
        if not self._images:
            return
        cells = pd.DataFrame(self._cells)
        self.store.append(np.stack(self._images), {name: cells[name].to_numpy() for name in cells.columns})
        self.count += len(self._images)
        if "protein" in cells:
            self.proteins.update(cells["protein"])
        self._images, self._cells = [], []


def import_summary(
    path: Path, *, format: str, cells: int, proteins: Iterable[str], dtype: str, sources: int,
    dropped: Mapping[str, int], class_names: Sequence[str], image_shape: Sequence[int], channel_names: Sequence[str],
) -> dict[str, Any]:
    """The dictionary every importer returns (printed by ``deeploc-keras import``)."""
    proteins = set(proteins) - {UNKNOWN_PROTEIN}
    return {
        "path": str(path),
        "format": format,
        "sources": sources,
        "cells": int(cells),
        "proteins": len(proteins),
        "dtype": dtype,
        "classes": len(class_names),
        "dropped": {k: int(v) for k, v in dropped.items()},
        "image_shape": tuple(int(v) for v in image_shape),
        "channel_names": list(channel_names),
    }


def no_cells_error(sources: Sequence[Path]) -> InputError:
    """The error raised when nothing is left to import."""
    return file_error(sources[0], "no cells to import (every cell was dropped or none was found)")


def warn_compressed_chunks(out: str | os.PathLike, compression: str | None, chunk_cells: int) -> bool:
    """Warn when a compressed store's chunks are larger than the training pipeline's slices; whether it did.

    Training reads 32-cell slices; a compressed chunk larger than a slice is decompressed once per
    slice. Measured on 2 cores (docs/data.md, "Compression"): lzf with chunks of 512 cells feeds the
    training pipeline 2,970 cells/s, with chunks of 32 cells 32,400, uncompressed 235,000.

    Examples
    --------
    >>> warn_compressed_chunks("cells.h5", "lzf", 32), warn_compressed_chunks("cells.h5", None, 512)
    (False, False)
    """
    if compression is None or chunk_cells <= DEFAULT_SLICE_CELLS:
        return False
    logger.warning("%s: %s-compressed chunks of %d cells feed training about 10x slower than chunks of %d "
                   "(lzf: 2,970 vs 32,400 cells/s on 2 cores; uncompressed 235,000), as a GPU run would starve; "
                   "import without --compression, or with --chunk-cells %d", out, compression, chunk_cells,
                   DEFAULT_SLICE_CELLS, DEFAULT_SLICE_CELLS)
    return True
