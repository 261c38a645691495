"""Import cells from field images and their label masks: one centred crop per segmented object.

A label mask is an integer image of the field's size, 0 for background and one id per object: what Cellpose
(``<name>_cp_masks.tif``), StarDist or CellProfiler's IdentifyPrimaryObjects (saved as a label image) write.
Fields sit one folder per protein, like :mod:`~deeploc_keras.data.importers.tiff_folders` crops: one file per
channel found by channel patterns (default ``*_gfp.tif`` / ``*_rfp.tif``, else one multi-channel TIFF per field)
and beside each field its mask, named by ``mask_pattern`` with the same text for ``*``. Each object's centre is its
centroid (scikit-image ``regionprops``); the crop around it follows the original DeepLoc rule of
:func:`~deeploc_keras.data.importers.fields.crop_cells` (pixels of neighbouring objects are kept, as DeepLoc's crops
keep them). The object's id, area and centre are kept as the cell columns ``object_id``, ``area``, ``x``, ``y``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...core.errors import InputError, check_positive_int, file_error
from ...core.outputs import check_output
from ..store import CellStore
from ._common import (
    check_labels_cover,
    import_summary,
    no_cells_error,
    parse_names,
    read_labels_csv,
    read_tiff,
    store_dtype,
    tiff_header,
)
from ._files import ChannelPattern, FileGroup, as_cells, cell_axes
from .fields import crop_cells
from .tiff_folders import find_cell_files

__all__ = ["import_label_masks", "object_centres", "MASK_PATTERN"]

#: Default file-name pattern of the label masks: Cellpose's ``<image name>_cp_masks.tif``.
MASK_PATTERN = "*_cp_masks.tif"


def object_centres(mask: np.ndarray) -> dict[str, np.ndarray]:
    """The objects of a label mask: id, area (pixels) and centroid (``x`` the column, ``y`` the row).

    Parameters
    ----------
    mask : numpy.ndarray of int, shape (H, W)
        0 for background, one positive id per object.

    Returns
    -------
    dict of str to numpy.ndarray
        ``object_id``, ``area``, ``x``, ``y``, one entry per object in increasing id order.

    Examples
    --------
    >>> mask = np.zeros((6, 8), np.uint16)
    >>> mask[1:3, 2:6] = 7
    >>> {k: v.tolist() for k, v in object_centres(mask).items()}
    {'object_id': [7], 'area': [8.0], 'x': [3.5], 'y': [1.5]}
    """
    from skimage.measure import regionprops_table

    table = regionprops_table(mask, properties=("label", "area", "centroid"))
    return {"object_id": table["label"].astype(np.int32), "area": table["area"].astype(np.float32),
            "x": table["centroid-1"].astype(float), "y": table["centroid-0"].astype(float)}


def _mask_pattern(pattern: str) -> ChannelPattern:
    if pattern.count("*") != 1 or "/" in pattern:
        raise InputError(f"mask pattern {pattern!r} needs exactly one '*' standing for the field's name and no "
                         "folder (e.g. *_cp_masks.tif)")
    return ChannelPattern(("mask",), pattern)


def _mask_of(group: FileGroup, mask: ChannelPattern) -> Path:
    path = group.files[0].parent / mask.file_name(group.key)
    if not path.is_file():
        raise file_error(group.files[0], f"has no label mask (expected {path.name}, pattern '{mask.pattern}'; set "
                                         "--mask)")
    return path


def _plan(groups: Sequence[FileGroup], patterns: Sequence[ChannelPattern], mask: ChannelPattern
          ) -> tuple[list[tuple[FileGroup, tuple[str, ...], Path]], set]:
    """Check every field's and mask's header: axes per file, one size per field, integer masks."""
    planned, dtypes = [], set()
    for group in groups:
        axes, size = [], None
        for path, pattern in zip(group.files, patterns, strict=True):
            shape, dtype = tiff_header(path)
            dtypes.add(dtype)
            axes.append(cell_axes(shape, len(pattern.names), path=path, stack=False))
            field = (shape[axes[-1].index("Y")], shape[axes[-1].index("X")])
            if size is not None and field != size:
                raise file_error(path, f"size {field[0]}x{field[1]} differs from {group.files[0].name} "
                                       f"{size[0]}x{size[1]}")
            size = field
        mask_path = _mask_of(group, mask)
        mask_shape, mask_dtype = tiff_header(mask_path)
        if mask_dtype.kind not in "ui":
            hint = "; label it first (skimage.measure.label)" if mask_dtype.kind == "b" else ""
            raise file_error(mask_path, f"is not a label mask (integer object ids, 0 = background). Received: "
                                        f"dtype={mask_dtype}{hint}")
        if tuple(mask_shape) != size:
            raise file_error(mask_path, f"mask is {'x'.join(map(str, mask_shape))} but its field "
                                        f"{group.files[0].name} is {size[0]}x{size[1]}")
        planned.append((group, tuple(axes), mask_path))
    return planned, dtypes


def _crop_objects(group: FileGroup, axes: Sequence[str], mask_path: Path, *, crop_size: int, pad: bool,
                  drop_invalid: bool, dropped: dict[str, int]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The crops of one field's objects and their columns; objects dropped are counted in ``dropped``."""
    parts = [as_cells(read_tiff(path), ax)[0] for path, ax in zip(group.files, axes, strict=True)]
    field = np.concatenate(parts, axis=-1) if len(parts) > 1 else parts[0]
    objects = object_centres(read_tiff(mask_path))
    crops, keep = crop_cells(field, objects["x"], objects["y"], size=crop_size, pad=pad)
    dropped["outside_field"] += int((~keep).sum())
    columns = {name: values[keep] for name, values in objects.items()}
    if field.dtype.kind == "f":
        finite = np.isfinite(crops.reshape(len(crops), -1)).all(axis=1)
        if not finite.all():
            if not drop_invalid:
                raise file_error(group.files[0], f"{int((~finite).sum())} crops hold NaN or inf pixels (first: object "
                                                 f"{int(columns['object_id'][~finite][0])}); pass --drop-invalid to "
                                                 "drop them")
            dropped["invalid_pixels"] += int((~finite).sum())
            crops, columns = crops[finite], {name: values[finite] for name, values in columns.items()}
    return crops, columns


def _append_objects(store: CellStore, group: FileGroup, crops: np.ndarray, columns: dict[str, np.ndarray], *,
                    label: int, chunk_cells: int) -> int:
    """Append one field's crops with their cell columns, a chunk at a time; the number appended."""
    for start in range(0, len(crops), chunk_cells):
        part = slice(start, min(start + chunk_cells, len(crops)))
        n = part.stop - start
        store.append(crops[part], {"protein": np.full(n, group.protein, dtype=object),
                                   "label": np.full(n, label, dtype=np.int32),
                                   "field": np.full(n, group.key, dtype=object),
                                   **{name: values[part] for name, values in columns.items()}})
    return len(crops)


def import_label_masks(
    sources: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    mask_pattern: str = MASK_PATTERN,
    channels: Sequence[str] | str | None = None,
    channel_patterns: Mapping[str, str] | Sequence[str] | None = None,
    crop_size: int = 64,
    pad: bool = False,
    labels: str | os.PathLike | None = None,
    class_names: Sequence[str] | str | None = None,
    drop_invalid: bool = False,
    overwrite: bool = False,
    seed: int = 0,
    split_by: str = "cell",
    chunk_cells: int = 512,
    compression: str | None = None,
) -> dict[str, Any]:
    """Cut one centred crop per segmented object out of field images with their label masks.

    One field (all its channels and its mask) is in memory at a time; cells are written field by
    field, objects in increasing id order. The store is uint16 when every field is uint8/uint16,
    else float32; its cells carry ``object_id``, ``area`` (pixels), ``x``, ``y`` (the centroid: column,
    row) and ``field`` (the field's name, what the patterns' ``*`` stands for).

    Parameters
    ----------
    sources : sequence of path
        Protein folders of fields, or folders holding one folder per protein.
    out : path
        The store to write.
    mask_pattern : str, default "*_cp_masks.tif"
        File name of a field's label mask, one ``*`` standing for the field's name (Cellpose's naming
        by default; e.g. ``*_labels.tif`` for StarDist or CellProfiler images saved so).
    channels : sequence of str or comma-separated str, optional
        Channel names; default ("GFP", "RFP").
    channel_patterns : mapping of str to str or sequence of "NAME=PATTERN", optional
        One file-name pattern per channel, as in
        :func:`~deeploc_keras.data.importers.tiff_folders.import_tiff_folders`; default the
        ``*_gfp.tif`` / ``*_rfp.tif`` pair where such files exist, else one multi-channel TIFF per field.
    crop_size : int, default 64
        Side of the square crops (the DeepLoc input).
    pad : bool, default False
        Keep objects whose crop leaves the field, zero-padded, instead of dropping and counting them.
    labels : path, optional
        CSV with columns ``protein`` and ``label``.
    class_names : sequence of str or comma-separated str, optional
        Class list; default the sorted unique labels of ``labels``.
    drop_invalid : bool, default False
        Drop crops with NaN or inf pixels (counted) instead of refusing the input.
    overwrite : bool, default False
        Replace an existing ``out``.
    seed, split_by, chunk_cells, compression
        As for :func:`~deeploc_keras.data.importers.tiff_folders.import_tiff_folders`.

    Returns
    -------
    dict
        path, format, sources, cells, proteins, dtype, classes, dropped (outside_field, invalid_pixels),
        image_shape, channel_names.

    Raises
    ------
    InputError
        One line naming the file: a missing folder, field or mask, a mask that is not an integer
        label image or not the field's size, channels that do not fit, NaN/inf pixels (without
        ``drop_invalid``), a bad labels CSV.
    OutputExistsError
        If ``out`` exists and ``overwrite`` is False.

    Examples
    --------
    >>> import tempfile, pathlib, tifffile
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> (root / "ACT1").mkdir()
    >>> field = np.ones((2, 200, 200), np.uint16)
    >>> mask = np.zeros((200, 200), np.uint16)
    >>> mask[90:110, 40:60], mask[90:110, 140:160], mask[0:10, 0:10] = 3, 4, 5
    >>> tifffile.imwrite(root / "ACT1" / "f1.tif", field, photometric="minisblack")
    >>> tifffile.imwrite(root / "ACT1" / "f1_cp_masks.tif", mask)
    >>> summary = import_label_masks([root], root / "cells.h5")
    >>> summary["cells"], summary["dropped"]
    (2, {'outside_field': 1})
    >>> with CellStore.open(root / "cells.h5") as store:
    ...     store.cells[["object_id", "area", "x", "y"]].values.tolist()
    [[3.0, 400.0, 49.5, 99.5], [4.0, 400.0, 149.5, 99.5]]
    """
    check_output(out, overwrite=overwrite)  # refuse before reading any input
    check_positive_int("crop_size", crop_size)
    patterns, groups = find_cell_files(sources, channels=channels, channel_patterns=channel_patterns,
                                       exclude=_mask_pattern(mask_pattern).pattern)
    names = tuple(n for p in patterns for n in p.names)
    protein_labels, classes = read_labels_csv(labels, class_names=parse_names(class_names)) if labels is not None \
        else ({}, parse_names(class_names) or ())
    check_labels_cover(labels, protein_labels, (group.protein for group in groups))
    planned, dtypes = _plan(groups, patterns, _mask_pattern(mask_pattern))
    dtype = store_dtype(dtypes)
    paths = [Path(p) for p in sources]
    dropped = {"outside_field": 0, "invalid_pixels": 0}
    source = (f"label-masks: {', '.join(map(str, paths))}; channels {', '.join(map(str, patterns))}; masks "
              f"{mask_pattern}; {crop_size}x{crop_size} crops centred on the objects' centroids")
    with CellStore.create(out, image_shape=(crop_size, crop_size, len(names)), dtype=dtype, channel_names=names,
                          class_names=classes, source=source, chunk_cells=chunk_cells, compression=compression,
                          seed=seed, split_by=split_by, object_columns=True, overwrite=overwrite) as store:
        seen = [_append_objects(store, group, *_crop_objects(group, axes, mask_path, crop_size=crop_size, pad=pad,
                                                             drop_invalid=drop_invalid, dropped=dropped),
                                label=protein_labels.get(group.protein, -1), chunk_cells=chunk_cells)
                for group, axes, mask_path in planned]
        written = sum(seen)
        if written == 0:
            raise no_cells_error(paths)
    dropped = {k: v for k, v in dropped.items() if v}
    proteins = {group.protein for (group, _, _), n in zip(planned, seen, strict=True) if n}
    return import_summary(Path(out), format="label-masks", cells=written, proteins=proteins, dtype=dtype,
                          sources=len(paths), dropped=dropped, class_names=classes,
                          image_shape=(crop_size, crop_size, len(names)), channel_names=names)
