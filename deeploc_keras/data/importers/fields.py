"""Import cells from full field images and a CellProfiler-style table of cell centres.

The table (like the original DeepLoc demo's ``SQL_data.csv``) has one row per cell, a column
``<object>_Location_Center_X`` (the column of the centre) and ``<object>_Location_Center_Y`` (the row), and
two columns naming the GFP and RFP field images. A 64x64 crop is cut around every centre with the
original DeepLoc rule (Kraus et al. 2017, ``DeepLoc_eval_sample_image.py``): rows
``floor(Y - 32) ... floor(Y - 32) + 63`` and columns ``floor(X - 32) ... floor(X - 32) + 63``, keeping only
cells more than 32 px from every border; ``pad=True`` keeps the others with zero padding.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...core.errors import InputError, file_error
from ...core.outputs import check_output
from ..store import DEFAULT_CHANNEL_NAMES, UNKNOWN_PROTEIN, CellStore
from ._common import (
    check_labels_cover,
    import_summary,
    no_cells_error,
    parse_names,
    read_labels_csv,
    read_tiff_2d,
    require_file,
    store_dtype,
    tiff_header,
)

__all__ = ["import_fields", "crop_cells", "CROP_SIZE"]

logger = logging.getLogger(__name__)

#: Side of the square crops (the DeepLoc input before its 60x60 random crop).
CROP_SIZE = 64
_IMAGE_SUFFIXES = ("", ".tif", ".tiff", ".TIF", ".TIFF")


def crop_cells(
    image: np.ndarray, x: np.ndarray, y: np.ndarray, *, size: int = CROP_SIZE, pad: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Cut square crops centred on cells with the original DeepLoc rule.

    Parameters
    ----------
    image : numpy.ndarray, shape (H, W) or (H, W, C)
        A field.
    x, y : numpy.ndarray of float, shape (n,)
        Cell centres: ``x`` is the column, ``y`` the row (CellProfiler ``Location_Center_X/Y``).
    size : int, default 64
        Side of the crops (even).
    pad : bool, default False
        Keep cells whose crop leaves the field, zero-padding the missing pixels; cells with a non-finite
        centre are never kept.

    Returns
    -------
    crops : numpy.ndarray, shape (k, size, size) or (k, size, size, C)
        Rows ``floor(y - size/2)`` onwards and columns ``floor(x - size/2)`` onwards, for the kept cells.
    keep : numpy.ndarray of bool, shape (n,)
        Without ``pad``: the centre lies more than ``size/2`` px inside every border.

    Examples
    --------
    >>> field = np.arange(100 * 120).reshape(100, 120)
    >>> crops, keep = crop_cells(field, np.array([40.7, 10.0]), np.array([50.2, 50.0]))
    >>> keep.tolist(), crops.shape, bool(crops[0, 0, 0] == field[18, 8])
    ([True, False], (1, 64, 64), True)
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    height, width = image.shape[:2]
    half = size // 2
    finite = np.isfinite(x) & np.isfinite(y)
    if pad:
        keep = finite
    else:
        keep = finite & (x > half) & (x < width - half) & (y > half) & (y < height - half)
    r0 = np.floor(y[keep] - half).astype(np.int64)
    c0 = np.floor(x[keep] - half).astype(np.int64)
    offset = np.arange(size)
    rows = r0[:, None] + offset
    cols = c0[:, None] + offset
    crops = image[np.clip(rows, 0, height - 1)[:, :, None], np.clip(cols, 0, width - 1)[:, None, :]]
    if pad:
        inside = ((rows >= 0) & (rows < height))[:, :, None] & ((cols >= 0) & (cols < width))[:, None, :]
        inside = inside.reshape(inside.shape + (1,) * (image.ndim - 2))
        crops = np.where(inside, crops, np.zeros((), dtype=image.dtype))
    return crops, keep


def _centre_columns(path: Path, table: pd.DataFrame, object_name: str | None) -> tuple[str, str]:
    if object_name is not None:
        x_col, y_col = f"{object_name}_Location_Center_X", f"{object_name}_Location_Center_Y"
    else:
        found = [c for c in table.columns if c == "Location_Center_X" or c.endswith("_Location_Center_X")]
        if len(found) != 1:
            raise file_error(path, f"expected one '<object>_Location_Center_X' column (pass --object to choose). "
                                   f"Received: {found}")
        x_col, y_col = found[0], found[0][: -1] + "Y"
    for col in (x_col, y_col):
        if col not in table.columns:
            raise file_error(path, f"missing column {col!r} (cell centres: _Center_X is the column, _Center_Y the row)")
    return x_col, y_col


def _resolve_image(name: str, image_dir: Path, table_path: Path) -> Path:
    for suffix in _IMAGE_SUFFIXES:
        candidate = image_dir / f"{name}{suffix}"
        if candidate.is_file():
            return candidate
    raise file_error(image_dir / name, f"field image named in {table_path} not found (tried suffixes "
                                       f"{', '.join(repr(s) for s in _IMAGE_SUFFIXES[1:])}); pass --image-dir")


def _read_table(path: Path, *, image_dir: str | os.PathLike | None, gfp_column: str, rfp_column: str,
                object_name: str | None, protein_column: str) -> tuple:
    """One per-cell table: ``(path, fields, proteins, x, y)`` with ``fields`` mapping
    ``(gfp name, gfp path, rfp path)`` to ``(table rows, pixel dtypes)``; field headers are checked, not read."""
    try:
        table = pd.read_csv(path, dtype={gfp_column: str, rfp_column: str, protein_column: str})
    except (ValueError, UnicodeDecodeError) as exc:
        raise file_error(path, f"cannot be read as CSV: {exc}") from None
    for col in (gfp_column, rfp_column):
        if col not in table.columns:
            raise file_error(path, f"missing image name column {col!r} (set --gfp-column / --rfp-column)")
    x_col, y_col = _centre_columns(path, table, object_name)
    folder = Path(image_dir) if image_dir is not None else path.parent
    fields = {}
    for (gfp_name, rfp_name), rows in table.groupby([gfp_column, rfp_column], sort=False).indices.items():
        gfp, rfp = _resolve_image(gfp_name, folder, path), _resolve_image(rfp_name, folder, path)
        (gfp_shape, gfp_dtype), (rfp_shape, rfp_dtype) = tiff_header(gfp), tiff_header(rfp)
        if gfp_shape != rfp_shape:
            raise file_error(rfp, f"size {rfp_shape} differs from its GFP field {gfp} {gfp_shape}")
        fields[(gfp_name, gfp, rfp)] = (rows, {gfp_dtype, rfp_dtype})
    proteins = (table[protein_column].fillna(UNKNOWN_PROTEIN).to_numpy(dtype=object)
                if protein_column in table.columns else np.full(len(table), UNKNOWN_PROTEIN, dtype=object))
    x = pd.to_numeric(table[x_col], errors="coerce").to_numpy(float)
    y = pd.to_numeric(table[y_col], errors="coerce").to_numpy(float)
    return path, fields, proteins, x, y


def _crop_field(gfp: Path, rfp: Path, x: np.ndarray, y: np.ndarray, rows: np.ndarray, *, pad: bool,
                float_pixels: bool, drop_invalid: bool, dropped: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """The crops of one field pair and their table rows; cells dropped are counted in ``dropped``."""
    image = np.stack([read_tiff_2d(gfp), read_tiff_2d(rfp)], axis=-1)
    crops, keep = crop_cells(image, x[rows], y[rows], pad=pad)
    n_bad_centre = int((~(np.isfinite(x[rows]) & np.isfinite(y[rows]))).sum())
    dropped["invalid_centre"] += n_bad_centre
    dropped["outside_field"] += int((~keep).sum()) - n_bad_centre
    kept = rows[keep]
    finite = np.isfinite(crops.reshape(len(crops), -1)).all(axis=1) if float_pixels else \
        np.ones(len(crops), dtype=bool)
    if not finite.all():
        if not drop_invalid:
            raise file_error(gfp, f"{int((~finite).sum())} crops hold NaN or inf pixels (first: table row "
                                  f"{int(kept[~finite][0])}); pass --drop-invalid to drop them")
        dropped["invalid_pixels"] += int((~finite).sum())
        crops, kept = crops[finite], kept[finite]
    return crops, kept


def _append_field(store: CellStore, crops: np.ndarray, kept: np.ndarray, *, field_name: str, proteins: np.ndarray,
                  x: np.ndarray, y: np.ndarray, protein_labels: dict[str, int], chunk_cells: int) -> None:
    """Append the crops of one field (table rows ``kept``) with their per-cell columns, a chunk at a time."""
    for start in range(0, len(kept), chunk_cells):
        part = kept[start:start + chunk_cells]
        cell_proteins = proteins[part]
        store.append(crops[start:start + chunk_cells], {
            "protein": cell_proteins,
            "label": np.array([protein_labels.get(p, -1) for p in cell_proteins], dtype=np.int32),
            "field": np.full(len(part), field_name, dtype=object),
            "x": x[part], "y": y[part],
        })


def _names_and_labels(channels: Any, class_names: Any, labels: Any) -> tuple[Sequence[str], dict, Sequence[str]]:
    """The two channel names, the labels per protein and the class names of a fields import."""
    channels = parse_names(channels) or DEFAULT_CHANNEL_NAMES
    if len(channels) != 2:
        raise InputError(f"fields needs 2 channel names (GFP, RFP). Received: channels={list(channels)}")
    if labels is None:
        return channels, {}, parse_names(class_names) or ()
    protein_labels, names = read_labels_csv(labels, class_names=parse_names(class_names))
    return channels, protein_labels, names


def import_fields(
    sources: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    image_dir: str | os.PathLike | None = None,
    gfp_column: str = "Image_FileName_GFP",
    rfp_column: str = "Image_FileName_RFP",
    object_name: str | None = None,
    protein_column: str = "protein",
    labels: str | os.PathLike | None = None,
    class_names: Sequence[str] | str | None = None,
    channels: Sequence[str] | str | None = None,
    pad: bool = False,
    drop_invalid: bool = False,
    overwrite: bool = False,
    seed: int = 0,
    split_by: str = "cell",
    chunk_cells: int = 512,
    compression: str | None = None,
) -> dict[str, Any]:
    """Cut 64x64 crops out of full field images at the centres listed in CellProfiler-style tables.

    One field pair (GFP and RFP image) is held in memory at a time; cells are written grouped by field in
    the order the fields first appear in the table. The store is uint16 when every field is uint8/uint16,
    else float32. ``x``/``y`` of each cell are its centre and ``field`` the GFP image name.

    Parameters
    ----------
    sources : sequence of path
        Per-cell CSV tables.
    out : path
        The store to write.
    image_dir : path, optional
        Folder the image names are relative to; default each table's folder. Names without a suffix
        are tried with ``.tif`` and ``.tiff``.
    gfp_column, rfp_column : str, default "Image_FileName_GFP", "Image_FileName_RFP"
        Table columns naming the GFP and RFP field images.
    object_name : str, optional
        Object prefix of the centre columns (``cells`` for ``cells_Location_Center_X``); default the one
        ``*_Location_Center_X`` column of the table.
    protein_column : str, default "protein"
        Table column with each cell's protein id; when absent proteins are "unknown".
    labels : path, optional
        CSV with columns ``protein`` and ``label``.
    class_names : sequence of str or comma-separated str, optional
        Class list; default the sorted unique labels of ``labels``.
    channels : sequence of 2 str or comma-separated str, optional
        Channel names; default ("GFP", "RFP").
    pad : bool, default False
        Keep cells whose crop leaves the field (zero-padded) instead of dropping and counting them.
    drop_invalid : bool, default False
        Drop crops with NaN or inf pixels (counted) instead of refusing the input.
    overwrite : bool, default False
        Replace an existing ``out``.
    seed : int, default 0
        Seed of the per-protein 80/10/10 split.
    split_by : {"cell", "protein"}, default "cell"
        80/10/10 of each protein's cells, or of the proteins (held-out proteins); see
        :func:`deeploc_keras.data.store.assign_splits`.
    chunk_cells : int, default 512
        Cells per HDF5 chunk.
    compression : {None, "lzf", "gzip"}, default None
        HDF5 filter of the store's images.

    Returns
    -------
    dict
        path, format, sources, cells, proteins, dtype, classes, dropped (outside_field, invalid_centre,
        invalid_pixels).

    Raises
    ------
    InputError
        One line naming the file: a missing table or column, a missing or unreadable field image, GFP and
        RFP fields of different sizes, NaN/inf pixels (without ``drop_invalid``), a bad labels CSV.
    OutputExistsError
        If ``out`` exists and ``overwrite`` is False.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, pandas as pd, tifffile
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> for ch in ("g", "r"):
    ...     tifffile.imwrite(tmp / f"f1_{ch}.tif", np.ones((200, 300), np.uint16))
    >>> pd.DataFrame({"Image_FileName_GFP": ["f1_g"] * 2, "Image_FileName_RFP": ["f1_r"] * 2,
    ...               "cells_Location_Center_X": [100.5, 10.0],
    ...               "cells_Location_Center_Y": [50.0, 50.0]}).to_csv(tmp / "cells.csv")
    >>> summary = import_fields([tmp / "cells.csv"], tmp / "cells.h5")
    >>> summary["cells"], summary["dropped"]
    (1, {'outside_field': 1})
    """
    check_output(out, overwrite=overwrite)  # refuse before reading any input
    channels, protein_labels, names = _names_and_labels(channels, class_names, labels)
    paths = [require_file(p) for p in sources]
    tables = [_read_table(path, image_dir=image_dir, gfp_column=gfp_column, rfp_column=rfp_column,
                          object_name=object_name, protein_column=protein_column) for path in paths]
    check_labels_cover(labels, protein_labels, (str(p) for _, _, proteins, _, _ in tables for p in proteins))
    dtype = store_dtype(d for _, fields, *_ in tables for _, dtypes in fields.values() for d in dtypes)
    dropped = {"outside_field": 0, "invalid_centre": 0, "invalid_pixels": 0}
    written, seen = 0, set()
    with CellStore.create(out, image_shape=(CROP_SIZE, CROP_SIZE, 2), dtype=dtype, channel_names=channels,
                          class_names=names, source="fields: " + ", ".join(map(str, paths)), chunk_cells=chunk_cells,
                          compression=compression, seed=seed, split_by=split_by,
                          overwrite=overwrite) as store:
        for _path, fields, proteins, x, y in tables:
            for (field_name, gfp, rfp), (rows, _) in fields.items():
                crops, kept = _crop_field(gfp, rfp, x, y, rows, pad=pad, float_pixels=dtype == "float32",
                                          drop_invalid=drop_invalid, dropped=dropped)
                _append_field(store, crops, kept, field_name=field_name, proteins=proteins, x=x, y=y,
                              protein_labels=protein_labels, chunk_cells=chunk_cells)
                seen.update(proteins[kept])
                written += len(kept)
        if written == 0:
            raise no_cells_error(paths)
    dropped = {k: v for k, v in dropped.items() if v}
    if dropped:
        logger.info("dropped cells: %s", dropped)
    return import_summary(Path(out), format="fields", cells=written, proteins=seen, dtype=dtype, sources=len(paths),
                          dropped=dropped, class_names=names, image_shape=(CROP_SIZE, CROP_SIZE, 2),
                          channel_names=channels)
