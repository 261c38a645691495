"""Import single-cell TIFF crops stored one folder per protein, as paired ``*_gfp.tif`` / ``*_rfp.tif`` files.

This is the layout of the Paired Cell Inpainting yeast data (Lu et al. 2019): ``<GENE>/<GENE>_<field>_rfp_
<cellIndex>_gfp.tif`` and its ``_rfp.tif`` partner, each a 64x64 single-channel image. The folder name is
the protein id; the field is parsed from the file name when it follows that pattern.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...core.errors import InputError, file_error
from ...core.outputs import check_output
from ..store import DEFAULT_CHANNEL_NAMES, CellStore
from ._common import (
    ChunkWriter,
    check_labels_cover,
    import_summary,
    natural_key,
    no_cells_error,
    parse_names,
    read_labels_csv,
    read_tiff_2d,
    store_dtype,
    tiff_header,
)

__all__ = ["import_tiff_folders", "find_cell_pairs"]

logger = logging.getLogger(__name__)

_SIDE = 64
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
    if gfp_suffix == rfp_suffix:
        raise InputError(f"gfp_suffix and rfp_suffix must differ. Received: both {gfp_suffix!r}")
    pairs = []
    for source in map(Path, sources):
        if not source.is_dir():
            raise file_error(source, "no such folder" if not source.exists() else
                             "not a folder; tiff-folders needs folders of paired TIFF files")
        folders = [source] if _has_suffix(source, gfp_suffix, rfp_suffix) else sorted(
            (d for d in source.iterdir() if d.is_dir() and _has_suffix(d, gfp_suffix, rfp_suffix)),
            key=lambda d: natural_key(d.name))
        if not folders:
            raise file_error(source, f"no '*{gfp_suffix}' / '*{rfp_suffix}' files in it or its sub-folders")
        for folder in folders:
            names = {p.name for p in folder.iterdir() if p.is_file()}
            gfp = sorted((n for n in names if n.endswith(gfp_suffix)), key=natural_key)
            for name in sorted(n for n in names if n.endswith(rfp_suffix)):
                partner = name[: -len(rfp_suffix)] + gfp_suffix
                if partner not in names:
                    raise file_error(folder / name, f"has no '{gfp_suffix}' partner (expected {partner})")
            for name in gfp:
                partner = name[: -len(gfp_suffix)] + rfp_suffix
                if partner not in names:
                    raise file_error(folder / name, f"has no '{rfp_suffix}' partner (expected {partner})")
                pairs.append((folder.name, folder / name, folder / partner))
    return pairs


def _has_suffix(folder: Path, *suffixes: str) -> bool:
    return any(p.name.endswith(suffixes) for p in folder.iterdir())


def _field_of(gfp: Path, gfp_suffix: str) -> str:
    match = _PCI_NAME.match(gfp.name[: -len(gfp_suffix)])
    return match.group("field") if match else ""


def import_tiff_folders(
    sources: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    labels: str | os.PathLike | None = None,
    class_names: Sequence[str] | str | None = None,
    channels: Sequence[str] | str | None = None,
    gfp_suffix: str = "_gfp.tif",
    rfp_suffix: str = "_rfp.tif",
    drop_invalid: bool = False,
    overwrite: bool = False,
    seed: int = 0,
    split_by: str = "cell",
    chunk_cells: int = 512,
    compression: str | None = None,
) -> dict[str, Any]:
    """Import one-folder-per-protein paired TIFF crops into a cell store, ``chunk_cells`` cells at a time.

    Every cell is a ``<name><gfp_suffix>`` file and its ``<name><rfp_suffix>`` partner, both 64x64
    single-channel images; channel 0 is the GFP file and channel 1 the RFP file. The store is uint16 when
    every file is uint8/uint16, else float32 (values kept as they are).

    Parameters
    ----------
    sources : sequence of path
        Protein folders, or folders holding one folder per protein.
    out : path
        The store to write.
    labels : path, optional
        CSV with columns ``protein`` and ``label`` (the localization class of each protein); proteins
        missing from it get label -1.
    class_names : sequence of str or comma-separated str, optional
        Class list (``label`` indexes it); default the sorted unique labels of ``labels``.
    channels : sequence of 2 str or comma-separated str, optional
        Channel names; default ("GFP", "RFP").
    gfp_suffix, rfp_suffix : str, default "_gfp.tif", "_rfp.tif"
        File name endings of the two channels.
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
        path, format, sources, cells, proteins, dtype, classes, dropped.

    Raises
    ------
    InputError
        One line naming the file: a missing folder, a file without its partner, an image that is not
        64x64 or not a TIFF, NaN/inf pixels (without ``drop_invalid``), a bad labels CSV.
    OutputExistsError
        If ``out`` exists and ``overwrite`` is False.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, tifffile
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> (root / "AAC1").mkdir()
    >>> for cell in range(3):
    ...     for ch in ("gfp", "rfp"):
    ...         tifffile.imwrite(root / "AAC1" / f"AAC1_1_rfp_{cell}_{ch}.tif", np.zeros((64, 64), np.float32))
    >>> summary = import_tiff_folders([root], root / "cells.h5")
    >>> summary["cells"], summary["proteins"], summary["dtype"]
    (3, 1, 'float32')
    """
    check_output(out, overwrite=overwrite)  # refuse before reading any input
    channels = parse_names(channels) or DEFAULT_CHANNEL_NAMES
    if len(channels) != 2:
        raise InputError(f"tiff-folders needs 2 channel names (GFP file, RFP file). Received: channels={list(channels)}")
    protein_labels, names = read_labels_csv(labels, class_names=parse_names(class_names)) if labels is not None \
        else ({}, parse_names(class_names) or ())
    pairs = find_cell_pairs(sources, gfp_suffix=gfp_suffix, rfp_suffix=rfp_suffix)
    check_labels_cover(labels, protein_labels, (protein for protein, _, _ in pairs))
    dtypes = set()
    for _, gfp, rfp in pairs:
        for path in (gfp, rfp):
            shape, dtype = tiff_header(path)
            if tuple(d for d in shape if d != 1) != (_SIDE, _SIDE):
                raise file_error(path, f"image size must be {_SIDE}x{_SIDE}. Received: shape={shape}")
            dtypes.add(dtype)
    dtype = store_dtype(dtypes)
    dropped = 0
    paths = [Path(p) for p in sources]
    with CellStore.create(out, image_shape=(_SIDE, _SIDE, 2), dtype=dtype, channel_names=channels, class_names=names,
                          source="tiff-folders: " + ", ".join(map(str, paths)), chunk_cells=chunk_cells,
                          compression=compression, seed=seed, split_by=split_by,
                          overwrite=overwrite) as store:
        writer = ChunkWriter(store, chunk_cells=chunk_cells)
        for protein, gfp, rfp in pairs:
            image = np.stack([read_tiff_2d(gfp, shape=(_SIDE, _SIDE)), read_tiff_2d(rfp, shape=(_SIDE, _SIDE))], -1)
            if not np.isfinite(image).all():
                if not drop_invalid:
                    raise file_error(gfp, f"{int((~np.isfinite(image)).sum())} NaN or inf pixels in this cell "
                                          f"(or its '{rfp_suffix}' partner); pass --drop-invalid to drop such cells")
                dropped += 1
                continue
            writer.add(image, {"protein": protein, "label": protein_labels.get(protein, -1),
                               "field": _field_of(gfp, gfp_suffix)})
        writer.flush()
        if writer.count == 0:
            raise no_cells_error(paths)
    if dropped:
        logger.info("dropped %d cells with NaN or inf pixels", dropped)
    return import_summary(Path(out), format="tiff-folders", cells=writer.count, proteins=writer.proteins, dtype=dtype,
                          sources=len(paths), dropped={"invalid_pixels": dropped} if dropped else {},
                          class_names=names)
