"""Import single-cell TIFF crops: one folder per protein of per-cell files, or one multi-page stack per protein.

Layouts (``layout=``):

- ``cells`` (default): one folder per protein, its name the protein id. A cell is one file per channel, found by
  channel patterns (``GFP=*_ch1.tif``; by default the Paired Cell Inpainting pair ``*_gfp.tif`` /
  ``*_rfp.tif``, Lu et al. 2019: ``<GENE>/<GENE>_<field>_rfp_<cellIndex>_gfp.tif``), or, when no such pair is
  there, one multi-channel TIFF (channel axis first or last).
- ``stacks``: one multi-page TIFF per protein (or one per protein and channel), its pages the cells, the file's
  name (what the pattern's ``*`` stands for) the protein id.

Crops keep their size (a model trained on the store takes that size) unless ``crop_size`` centre-crops larger
ones and zero-pads smaller ones; the store's ``source`` records the channel patterns and any resizing.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...core.errors import InputError, check_positive_int, file_error
from ...core.outputs import check_output
from ..store import DEFAULT_CHANNEL_NAMES, CellStore
from . import TIFF_LAYOUTS
from ._common import (
    ChunkWriter,
    check_labels_cover,
    import_summary,
    no_cells_error,
    parse_names,
    read_labels_csv,
    read_tiff,
    store_dtype,
    tiff_header,
)
from ._files import (
    TIFF_SUFFIXES,
    ChannelPattern,
    FileGroup,
    as_cells,
    cell_axes,
    find_file_groups,
    fit_crops,
    parse_channel_patterns,
)

__all__ = ["import_tiff_folders", "find_cell_pairs", "find_cell_files"]

logger = logging.getLogger(__name__)

#: ``<GENE>_<field>_rfp_<cellIndex>`` (the Paired Cell Inpainting naming).
_PCI_NAME = re.compile(r"^.+_(?P<field>[^_]+)_rfp_(?P<cell>\d+)$")


def find_cell_pairs(
    sources: Sequence[str | os.PathLike], *, gfp_suffix: str = "_gfp.tif", rfp_suffix: str = "_rfp.tif"
) -> list[tuple[str, Path, Path]]:
    """List (protein, gfp file, rfp file) for every cell under the given folders.

    A source folder that holds ``*<gfp_suffix>`` files is one protein (named after the folder);
    otherwise each of its sub-folders is one protein.

    Parameters
    ----------
    sources : sequence of path
        Protein folders, or folders of protein folders.
    gfp_suffix, rfp_suffix : str, default "_gfp.tif", "_rfp.tif"
        File name endings of the protein and marker channels.

    Returns
    -------
    list of (str, pathlib.Path, pathlib.Path)
        In folder order, files in natural order (cell 2 before cell 10).

    Raises
    ------
    InputError
        A missing folder, a folder without cells, or one file lacking its partner (naming the file).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> (root / "YAL001C").mkdir()
    >>> for ch in ("gfp", "rfp"):
    ...     _ = (root / "YAL001C" / f"c_1_rfp_0_{ch}.tif").write_bytes(b"")
    >>> [(p, g.name) for p, g, _ in find_cell_pairs([root])]
    [('YAL001C', 'c_1_rfp_0_gfp.tif')]
    """
    patterns = _suffix_patterns(DEFAULT_CHANNEL_NAMES, gfp_suffix, rfp_suffix)
    return [(group.protein, *group.files) for group in find_file_groups(sources, patterns)]


def _suffix_patterns(names: Sequence[str], gfp_suffix: str, rfp_suffix: str) -> tuple[ChannelPattern, ...]:
    if gfp_suffix == rfp_suffix:
        raise InputError(f"gfp_suffix and rfp_suffix must differ. Received: both {gfp_suffix!r}")
    return ChannelPattern((names[0],), f"*{gfp_suffix}"), ChannelPattern((names[1],), f"*{rfp_suffix}")


def find_cell_files(
    sources: Sequence[str | os.PathLike],
    *,
    channels: Sequence[str] | str | None = None,
    channel_patterns: Mapping[str, str] | Sequence[str] | None = None,
    gfp_suffix: str = "_gfp.tif",
    rfp_suffix: str = "_rfp.tif",
    layout: str = "cells",
    exclude: str | None = None,
) -> tuple[tuple[ChannelPattern, ...], list[FileGroup]]:
    """The channel patterns that apply and the files of every cell (``cells``) or protein (``stacks``).

    Parameters are those of :func:`import_tiff_folders`, and ``exclude``: a pattern (one ``*``) of
    files that hold no channel (label masks beside their fields). Without ``channel_patterns``, the
    ``*<gfp_suffix>`` / ``*<rfp_suffix>`` pair applies when two channels are named and such files
    exist; otherwise every TIFF file holds all the channels.

    Returns
    -------
    patterns : tuple of ChannelPattern
    groups : list of FileGroup
        One per cell (``cells``) or per protein (``stacks``), files in pattern order.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> (root / "ACT1").mkdir()
    >>> _ = (root / "ACT1" / "cell_2.tif").write_bytes(b"")
    >>> patterns, groups = find_cell_files([root])
    >>> str(patterns[0]), [(g.protein, g.key) for g in groups]
    ('GFP+RFP=*.tif', [('ACT1', 'cell_2')])
    """
    if layout not in TIFF_LAYOUTS:
        raise InputError(f"unknown layout {layout!r}; expected one of {list(TIFF_LAYOUTS)}")
    protein_from = "folder" if layout == "cells" else "key"
    skip = None if exclude is None else ChannelPattern(("mask",), exclude)
    patterns = parse_channel_patterns(channel_patterns)
    if patterns is not None:
        given = parse_names(channels)
        if given and given != tuple(n for p in patterns for n in p.names):
            raise InputError("channel patterns name the channels; give --channel NAME=PATTERN or --channels, "
                             f"not both. Received: channels={list(given)}")
        if (gfp_suffix, rfp_suffix) != ("_gfp.tif", "_rfp.tif"):
            raise InputError("give channel patterns or gfp_suffix/rfp_suffix, not both")
        return patterns, find_file_groups(sources, patterns, protein_from=protein_from, exclude=skip)
    names = parse_names(channels) or DEFAULT_CHANNEL_NAMES
    if len(names) == 2:
        patterns = _suffix_patterns(names, gfp_suffix, rfp_suffix)
        if _any_file(sources, patterns, skip):
            return patterns, find_file_groups(sources, patterns, protein_from=protein_from, exclude=skip)
    suffix = next((s for s in TIFF_SUFFIXES if _any_file(sources, [ChannelPattern(names, f"*{s}")], skip)), None)
    if suffix is None:
        pairs = f"'*{gfp_suffix}' / '*{rfp_suffix}' files or " if len(names) == 2 else ""
        raise file_error(Path(sources[0]) if sources else Path("."),
                         f"no {pairs}TIFF files in it or its sub-folders (name the files with --channel NAME=PATTERN)")
    patterns = (ChannelPattern(tuple(names), f"*{suffix}"),)
    return patterns, find_file_groups(sources, patterns, protein_from=protein_from, exclude=skip)



def _any_file(sources: Sequence[str | os.PathLike], patterns: Sequence[ChannelPattern],
              exclude: ChannelPattern | None) -> bool:
    """Whether a file of the sources or of their sub-folders matches one of the patterns (and not ``exclude``)."""
    for source in map(Path, sources):
        if not source.is_dir():
            raise file_error(source, "no such folder" if not source.exists() else
                             "not a folder; give folders of TIFF files")
        for folder in (source, *(d for d in source.iterdir() if d.is_dir())):
            if any(p.key(f.name) is not None and (exclude is None or exclude.key(f.name) is None)
                   for f in folder.iterdir() if f.is_file() for p in patterns):
                return True
    return False


def _field_of(key: str) -> str:
    match = _PCI_NAME.match(key)
    return match.group("field") if match else ""


def _plan(groups: Sequence[FileGroup], patterns: Sequence[ChannelPattern], *, stack: bool,
          crop_size: int | None) -> tuple[list[tuple[FileGroup, tuple[str, ...]]], tuple[int, int], set, str]:
    """Check every file's header: the axes of each file, the crop size, the pixel types and what resizing does."""
    planned, sizes, dtypes = [], {}, set()
    for group in groups:
        first = None
        axes = []
        for path, pattern in zip(group.files, patterns, strict=True):
            shape, dtype = tiff_header(path)
            dtypes.add(dtype)
            axes.append(cell_axes(shape, len(pattern.names), path=path, stack=stack))
            cells = (shape[axes[-1].index("N")] if "N" in axes[-1] else 1, shape[axes[-1].index("Y")],
                     shape[axes[-1].index("X")])
            if first is None:
                first = cells
            elif cells != first:
                raise file_error(path, f"holds {cells[0]} cell(s) of {cells[1]}x{cells[2]} but its partner "
                                       f"{group.files[0].name} holds {first[0]} of {first[1]}x{first[2]}")
        sizes.setdefault(first[1:], group.files[0])
        planned.append((group, tuple(axes)))
    if crop_size is None and len(sizes) > 1:
        (size_a, file_a), (size_b, file_b) = list(sizes.items())[:2]
        raise file_error(file_b, f"crops are {size_b[0]}x{size_b[1]} but {size_a[0]}x{size_a[1]} in {file_a}; pass "
                                 "--crop-size N to centre-crop or zero-pad every crop to NxN")
    side = (crop_size, crop_size) if crop_size is not None else next(iter(sizes))
    resized = [_resizing(size, side) for size in sizes if size != side]
    return planned, side, dtypes, "; ".join(resized)


def _resizing(size: tuple[int, int], side: tuple[int, int]) -> str:
    """What fitting crops of ``size`` to ``side`` does, in words."""
    how = "centre-cropped" if size[0] >= side[0] and size[1] >= side[1] else (
        "zero-padded" if size[0] <= side[0] and size[1] <= side[1] else "centre-cropped and zero-padded")
    return f"crops {size[0]}x{size[1]} {how} to {side[0]}x{side[1]}"


def _read_group(group: FileGroup, axes: Sequence[str], side: tuple[int, int]) -> np.ndarray:
    """The cells of one file group as ``(n, H, W, C)``, channels in pattern order, fitted to ``side``."""
    parts = [as_cells(read_tiff(path), ax) for path, ax in zip(group.files, axes, strict=True)]
    images = np.concatenate(parts, axis=-1) if len(parts) > 1 else parts[0]
    return images if images.shape[1:3] == side else fit_crops(images, side[0])


def import_tiff_folders(
    sources: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    labels: str | os.PathLike | None = None,
    class_names: Sequence[str] | str | None = None,
    channels: Sequence[str] | str | None = None,
    channel_patterns: Mapping[str, str] | Sequence[str] | None = None,
    gfp_suffix: str = "_gfp.tif",
    rfp_suffix: str = "_rfp.tif",
    layout: str = "cells",
    crop_size: int | None = None,
    drop_invalid: bool = False,
    overwrite: bool = False,
    seed: int = 0,
    split_by: str = "cell",
    chunk_cells: int = 512,
    compression: str | None = None,
) -> dict[str, Any]:
    """Import single-cell TIFF crops of any size and channel layout into a cell store, ``chunk_cells`` at a time.

    Every cell is one file per channel pattern (channels in pattern order) or one multi-channel file;
    with ``layout="stacks"`` every file (or set of channel files) is one protein's stack of cells. The
    store is uint16 when every file is uint8/uint16, else float32 (values kept as they are).

    Parameters
    ----------
    sources : sequence of path
        ``cells``: protein folders, or folders holding one folder per protein. ``stacks``: folders of
        stack files, one per protein (or per protein and channel).
    out : path
        The store to write.
    labels : path, optional
        CSV with columns ``protein`` and ``label`` (the localization class of each protein); proteins
        missing from it get label -1.
    class_names : sequence of str or comma-separated str, optional
        Class list (``label`` indexes it); default the sorted unique labels of ``labels``.
    channels : sequence of str or comma-separated str, optional
        Channel names, as many as each cell has channels; default ("GFP", "RFP").
    channel_patterns : mapping of str to str or sequence of "NAME=PATTERN", optional
        One file-name pattern with one ``*`` per channel (``{"GFP": "*_ch1.tif", "RFP": "*_ch2.tif"}``);
        the files of a cell share what ``*`` stands for, and the names become the channel names.
        Default: the ``*<gfp_suffix>`` / ``*<rfp_suffix>`` pair where such files exist (two channels
        named), else every TIFF file holds all ``channels``.
    gfp_suffix, rfp_suffix : str, default "_gfp.tif", "_rfp.tif"
        File name endings of the default pair.
    layout : {"cells", "stacks"}, default "cells"
        One file (per channel) per cell in per-protein folders, or one multi-page stack per protein.
    crop_size : int, optional
        Centre-crop larger crops and zero-pad smaller ones to ``crop_size`` x ``crop_size`` (recorded in
        the store's ``source``); default keep the size, which must then be the same for every cell.
    drop_invalid : bool, default False
        Drop cells with NaN or inf pixels (counted) instead of refusing the input.
    overwrite : bool, default False
        Replace an existing ``out``.
    seed : int, default 0
        Seed of the per-protein 80/10/10 split.
    split_by : {"cell", "protein"}, default "cell"
        80/10/10 of each protein's cells, or of the proteins (held-out proteins); see
        :func:`deeploc_keras.data.store.assign_splits`.
    chunk_cells : int, default 512
        Cells per append and per HDF5 chunk.
    compression : {None, "lzf", "gzip"}, default None
        HDF5 filter of the store's images.

    Returns
    -------
    dict
        path, format, sources, cells, proteins, dtype, classes, dropped, image_shape, channel_names, resized.

    Raises
    ------
    InputError
        One line naming the file: a missing folder, a file without its partner, a file whose channels
        or cells do not fit, crops of several sizes without ``crop_size``, a file that is not a TIFF,
        NaN/inf pixels (without ``drop_invalid``), a bad labels CSV.
    OutputExistsError
        If ``out`` exists and ``overwrite`` is False.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, tifffile
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> (root / "AAC1").mkdir()
    >>> for cell in range(3):
    ...     tifffile.imwrite(root / "AAC1" / f"cell{cell}.tif", np.zeros((2, 80, 80), np.float32))
    >>> summary = import_tiff_folders([root], root / "cells.h5", crop_size=64)
    >>> summary["cells"], summary["image_shape"], summary["resized"]
    (3, (64, 64, 2), 'crops 80x80 centre-cropped to 64x64')
    """
    check_output(out, overwrite=overwrite)  # refuse before reading any input
    if crop_size is not None:
        check_positive_int("crop_size", crop_size)
    patterns, groups = find_cell_files(sources, channels=channels, channel_patterns=channel_patterns,
                                       gfp_suffix=gfp_suffix, rfp_suffix=rfp_suffix, layout=layout)
    names = tuple(n for p in patterns for n in p.names)
    protein_labels, classes = read_labels_csv(labels, class_names=parse_names(class_names)) if labels is not None \
        else ({}, parse_names(class_names) or ())
    check_labels_cover(labels, protein_labels, (group.protein for group in groups))
    planned, side, dtypes, resized = _plan(groups, patterns, stack=layout == "stacks", crop_size=crop_size)
    dtype = store_dtype(dtypes)
    paths = [Path(p) for p in sources]
    source = "; ".join(filter(None, ["tiff-folders: " + ", ".join(map(str, paths)),
                                     "channels " + ", ".join(map(str, patterns)), resized]))
    with CellStore.create(out, image_shape=(*side, len(names)), dtype=dtype, channel_names=names,
                          class_names=classes, source=source, chunk_cells=chunk_cells, compression=compression,
                          seed=seed, split_by=split_by, overwrite=overwrite) as store:
        writer = ChunkWriter(store, chunk_cells=chunk_cells)
        dropped = sum(_add_group(writer, group, axes, side, label=protein_labels.get(group.protein, -1),
                                 field="" if layout == "stacks" else _field_of(group.key), drop_invalid=drop_invalid)
                      for group, axes in planned)
        writer.flush()
        if writer.count == 0:
            raise no_cells_error(paths)
    if dropped:
        logger.info("dropped %d cells with NaN or inf pixels", dropped)
    summary = import_summary(Path(out), format="tiff-folders", cells=writer.count, proteins=writer.proteins,
                             dtype=dtype, sources=len(paths), dropped={"invalid_pixels": dropped} if dropped else {},
                             class_names=classes, image_shape=(*side, len(names)), channel_names=names)
    return {**summary, "resized": resized}


def _add_group(writer: ChunkWriter, group: FileGroup, axes: Sequence[str], side: tuple[int, int], *, label: int,
               field: str, drop_invalid: bool) -> int:
    """Queue the cells of one file group; the number dropped for NaN or inf pixels."""
    images = _read_group(group, axes, side)
    finite = np.isfinite(images.reshape(len(images), -1)).all(axis=1) if images.dtype.kind == "f" else \
        np.ones(len(images), dtype=bool)
    if not finite.all() and not drop_invalid:
        where = f"cell {int(np.flatnonzero(~finite)[0])} of " if len(images) > 1 else ""
        raise file_error(group.files[0], f"{int((~np.isfinite(images)).sum())} NaN or inf pixels in {where}this "
                                         f"file{' or its partners' if len(group.files) > 1 else ''}; pass "
                                         "--drop-invalid to drop such cells")
    for image in images[finite]:
        writer.add(image, {"protein": group.protein, "label": label, "field": field})
    return int((~finite).sum())
