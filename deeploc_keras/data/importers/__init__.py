"""Importers: turn the real data formats into a cell store (:mod:`deeploc_keras.data.store`).

One module per format:

- ``deeploc-hdf5`` (:func:`~deeploc_keras.data.importers.deeploc_hdf5.import_deeploc_hdf5`): the original DeepLoc
  ``data1``/``Index1`` files;
- ``tiff-folders`` (:func:`~deeploc_keras.data.importers.tiff_folders.import_tiff_folders`): single-cell crops of
  any size, one folder per protein (one file per channel or one multi-channel file per cell) or one multi-page
  stack per protein;
- ``fields`` (:func:`~deeploc_keras.data.importers.fields.import_fields`): full fields plus a CellProfiler table
  of cell centres;
- ``label-masks`` (:func:`~deeploc_keras.data.importers.label_masks.import_label_masks`): full fields plus their
  label masks (Cellpose, StarDist, CellProfiler), one crop per object.

Every importer writes through :meth:`CellStore.create`, so the output appears only when complete.
"""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Callable, Sequence
from typing import Any

from ...core.errors import InputError, check_positive_int
from ._common import warn_compressed_chunks

__all__ = [
    "IMPORT_FORMATS", "COMPRESSIONS", "LABEL_SOURCES", "TIFF_LAYOUTS", "import_cells", "format_options", "import_deeploc_hdf5", "import_tiff_folders", "import_fields",
    "import_label_masks",
]

#: Formats understood by :func:`import_cells` (and ``deeploc-keras import --format``).
IMPORT_FORMATS = ("deeploc-hdf5", "tiff-folders", "fields", "label-masks")
#: Published localization tables :func:`import_cells` can label cells from (``labels_from=``;
#: :func:`~deeploc_keras.data.importers.labels.huh2003_labels`).
LABEL_SOURCES = ("huh2003",)
#: File layouts of the ``tiff-folders`` format (``layout=``): one file (per channel) per cell in per-protein
#: folders, or one multi-page stack (per channel) per protein.
TIFF_LAYOUTS = ("cells", "stacks")
#: HDF5 filters for a store's images (``compression=``).
COMPRESSIONS = ("lzf", "gzip")
#: format -> (module, function); imported on first use so the command line starts fast.
_IMPORTERS = {
    "deeploc-hdf5": ("deeploc_hdf5", "import_deeploc_hdf5"),
    "tiff-folders": ("tiff_folders", "import_tiff_folders"),
    "fields": ("fields", "import_fields"),
    "label-masks": ("label_masks", "import_label_masks"),
}


def __getattr__(name: str) -> Any:
    for module, function in _IMPORTERS.values():
        if name == function:
            return getattr(importlib.import_module(f"{__name__}.{module}"), function)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _importer(format: str) -> Callable[..., dict[str, Any]]:
    if format not in IMPORT_FORMATS:
        raise InputError(f"unknown import format {format!r}; expected one of {', '.join(IMPORT_FORMATS)}")
    module, function = _IMPORTERS[format]
    return getattr(importlib.import_module(f"{__name__}.{module}"), function)


def _published_labels(format: str, source: str, aliases: str | os.PathLike | None,
                      options: dict[str, Any]) -> Any:
    """The protein -> class table of a published source, for the ``labels=`` option of ``format``."""
    from ._common import LabelTable
    from .labels import huh2003_labels

    if source not in LABEL_SOURCES:
        raise InputError(f"unknown labels_from {source!r}; expected one of {list(LABEL_SOURCES)}")
    if "labels" not in format_options(format):
        raise InputError(f"labels_from does not apply to format {format!r} (its labels come from the files)")
    if options.get("labels") is not None:
        raise InputError("give labels (a CSV) or labels_from, not both")
    labels = huh2003_labels(aliases=aliases)
    return LabelTable(dict(zip(labels["protein"], labels["label"], strict=True)), source=f"{source} labels")


def format_options(format: str) -> tuple[str, ...]:
    """Keyword options accepted by the importer of ``format``.

    Examples
    --------
    >>> "pad" in format_options("fields"), "pad" in format_options("deeploc-hdf5")
    (True, False)
    """
    params = inspect.signature(_importer(format)).parameters.values()
    return tuple(p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY)


def import_cells(
    sources: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    format: str,
    overwrite: bool = False,
    seed: int = 0,
    chunk_cells: int = 512,
    compression: str | None = None,
    labels_from: str | None = None,
    aliases: str | os.PathLike | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Import cells in one of :data:`IMPORT_FORMATS` into a new cell store.

    Parameters
    ----------
    sources : sequence of path
        Input files or folders (see the importer of ``format``).
    out : path
        The store to write; it appears only once complete.
    format : {"deeploc-hdf5", "tiff-folders", "fields", "label-masks"}
        Input format.
    overwrite : bool, default False
        Replace an existing ``out``.
    seed : int, default 0
        Seed of the per-protein 80/10/10 split.
    chunk_cells : int, default 512
        Cells per block read and per HDF5 chunk.
    compression : {None, "lzf", "gzip"}, default None
        HDF5 filter of the store's images.
    labels_from : {"huh2003"}, optional
        Label the cells from a published table instead of a ``labels=`` CSV: ``huh2003`` gives
        each protein of the Huh et al. 2003 table one of the 17 DeepLoc classes, a multi-localized one
        its rarest (:func:`~deeploc_keras.data.importers.labels.huh2003_labels`; the package's copy of
        the table); the others stay unlabelled. Formats that take ``labels=`` only.
    aliases : path, optional
        ``SGD_features.tab``: with ``labels_from``, gene names and aliases (``ACT1``) match too.
    **options
        Format-specific options (:func:`format_options` lists them), e.g. ``metadata=`` for
        ``deeploc-hdf5``, ``labels=`` for ``tiff-folders``, ``pad=`` for ``fields``.

    Returns
    -------
    dict
        path, format, sources, cells, proteins, dtype, classes and dropped counts.

    Raises
    ------
    InputError
        An unknown format, an option the format does not take, or bad input (one line naming the file).
    OutputExistsError
        If ``out`` exists and ``overwrite`` is False.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, tifffile
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> (root / "P1").mkdir()
    >>> for ch in ("gfp", "rfp"):
    ...     tifffile.imwrite(root / "P1" / f"P1_1_rfp_0_{ch}.tif", np.ones((64, 64), np.uint16))
    >>> import_cells([root], root / "cells.h5", format="tiff-folders")["cells"]
    1
    >>> import_cells([root], root / "x.h5", format="tiff-folders", pad=True)
    Traceback (most recent call last):
    ...
    deeploc_keras.core.errors.InputError: option 'pad' does not apply to format 'tiff-folders'; its options: labels, class_names, channels, channel_patterns, gfp_suffix, rfp_suffix, layout, crop_size, drop_invalid
    """
    allowed = format_options(format)
    for name in options:
        if name not in allowed:
            extra = [o for o in allowed if o not in ("overwrite", "seed", "split_by", "chunk_cells", "compression")]
            raise InputError(f"option {name!r} does not apply to format {format!r}; its options: {', '.join(extra)}")
    if aliases is not None and labels_from is None:
        raise InputError("aliases apply with labels_from (--labels-from huh2003) only")
    if labels_from is not None:
        options["labels"] = _published_labels(format, labels_from, aliases, options)
    check_positive_int("chunk_cells", chunk_cells)
    if compression is not None and compression not in COMPRESSIONS:
        raise InputError(f"unknown compression {compression!r}; expected one of {list(COMPRESSIONS)} or None")
    warn_compressed_chunks(out, compression, chunk_cells)
    return _importer(format)(sources, out, overwrite=overwrite, seed=seed, chunk_cells=chunk_cells,
                              compression=compression, **options)
