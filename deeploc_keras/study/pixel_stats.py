"""Pixel statistics: a fixed, rotation-invariant 24-number summary of each cell crop (a reference representation).

What a representation gives that knows nothing but the crop's pixel statistics. For every crop,
with ``z`` the GFP channel standardized per crop as ``tf.image.per_image_standardization`` does
(``(x - mean) / max(sd, 1 / sqrt(H * W))``):

- ``radial_00`` ... ``radial_15``: the mean of ``z`` in 16 rings of equal width around the crop's
  centre, out to half the crop's smaller side (the corners are left out);
- ``q25``, ``q50``, ``q75``, ``q90``, ``q95``, ``q99``, ``max``: quantiles of ``z`` over the crop
  (``numpy.quantile``, linear interpolation);
- ``gfp_rfp_ratio``: mean GFP / mean RFP over the crop (NaN where the RFP crop is all 0); only with a
  second channel.

Every number depends only on the distance of a pixel from the centre or on the multiset of pixel
values, so the summary is invariant to the 8 rotations and reflections of the square crop; for
integer stores it is computed with exact integer sums, so ``np.rot90`` gives identical numbers.
The GFP channel is the one named ``GFP`` (else the first), the marker the one named ``RFP`` (else
the last). Columns are named ``PixelStats_<name>``.

:func:`pixel_statistics` works on any batch of crops (numpy only); :func:`pixel_statistics_profiles`
turns the cells of a store into ``cells.parquet`` and ``proteins.parquet`` (the profile contract).
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import InputError, check_positive_int, file_error
from ..core.outputs import check_output
from ..core.profiles import aggregate_proteins, write_cell_profiles
from ..core.records import write_run_record
from ..data.store import CellStore, check_split

__all__ = ["METHOD", "RINGS", "QUANTILES", "pixel_statistic_names", "pixel_statistics",
           "pixel_statistics_profiles"]

logger = logging.getLogger(__name__)

#: Feature-name prefix (``PixelStats_radial_00``, ...).
METHOD = "PixelStats"
#: Rings of the radial profile.
RINGS = 16
#: Quantiles of the standardized GFP channel (1.0 is the maximum).
QUANTILES = (0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0)
_QUANTILE_NAMES = ("q25", "q50", "q75", "q90", "q95", "q99", "max")


def pixel_statistic_names(n_channels: int = 2) -> list[str]:
    """Column names of :func:`pixel_statistics` (24 with two or more channels, 23 with one).

    Examples
    --------
    >>> names = pixel_statistic_names()
    >>> len(names), names[0], names[16], names[-1]
    (24, 'PixelStats_radial_00', 'PixelStats_q25', 'PixelStats_gfp_rfp_ratio')
    """
    names = [*(f"radial_{k:02d}" for k in range(RINGS)), *_QUANTILE_NAMES]
    if n_channels >= 2:
        names.append("gfp_rfp_ratio")
    return [f"{METHOD}_{name}" for name in names]


def _channels(channel_names: Sequence[str]) -> tuple[int, int | None]:
    names = list(channel_names)
    gfp = names.index("GFP") if "GFP" in names else 0
    if len(names) < 2:
        return gfp, None
    return gfp, names.index("RFP") if "RFP" in names else len(names) - 1


def _rings(height: int, width: int) -> np.ndarray:
    """(H * W, RINGS) 0/1 matrix: which ring each pixel belongs to (corners in none)."""
    yy, xx = np.mgrid[:height, :width]
    radius = np.hypot(yy - (height - 1) / 2, xx - (width - 1) / 2).ravel()
    ring = np.floor(radius / (min(height, width) / 2 / RINGS)).astype(np.int64)
    matrix = np.zeros((height * width, RINGS))
    inside = ring < RINGS
    matrix[np.flatnonzero(inside), ring[inside]] = 1.0
    return matrix


def _mean_sd(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row mean and population sd; exact integer sums for integer crops (order-independent)."""
    n = flat.shape[1]
    if np.issubdtype(flat.dtype, np.integer):
        values = flat.astype(np.int64)
        total = values.sum(axis=1)
        square = (values * values).sum(axis=1)
        var = (n * square - total * total).astype(np.float64) / float(n) ** 2
        return total / n, np.sqrt(var)
    values = flat.astype(np.float64)
    return values.mean(axis=1), values.std(axis=1)


def pixel_statistics(images: np.ndarray, channel_names: Sequence[str] = ("GFP", "RFP")) -> np.ndarray:
    """The pixel statistics of a batch of crops (see the module docstring), vectorized over the batch.

    Parameters
    ----------
    images : numpy.ndarray, shape (n, H, W, C)
        Raw store values (integer counts or finite floats); H, W >= 32.
    channel_names : sequence of str, length C, default ("GFP", "RFP")

    Returns
    -------
    numpy.ndarray, shape (n, 24) (23 with one channel), float64
        Columns :func:`pixel_statistic_names`.

    Raises
    ------
    InputError
        Not a 4-D batch, channel names that do not match, crops under 32 pixels, or non-finite pixels.

    Examples
    --------
    >>> crops = np.zeros((1, 64, 64, 2), np.uint16); crops[..., 1] = 2
    >>> crops[0, 31:33, 31:33, 0] = 8          # a bright 2x2 dot in the centre: the innermost ring
    >>> stats = pixel_statistics(crops)
    >>> bool(stats[0, 0] > 0 > stats[0, 1]), float(stats[0, -1])
    (True, 0.00390625)
    """
    x = np.asarray(images)
    if x.ndim != 4 or x.shape[0] == 0:
        raise InputError(f"images must be a non-empty (n, H, W, C) batch. Received: images.shape={x.shape}")
    if x.shape[-1] != len(channel_names):
        raise InputError(f"channel_names must name every channel. Received: {len(channel_names)} names for "
                         f"images.shape={x.shape}")
    n, height, width, _ = x.shape
    if min(height, width) < 2 * RINGS:
        raise InputError(f"crops must be at least {2 * RINGS}x{2 * RINGS} pixels for {RINGS} rings. "
                         f"Received: images.shape={x.shape}")
    if not np.issubdtype(x.dtype, np.integer) and not np.isfinite(x).all():
        raise InputError(f"images have {int((~np.isfinite(x)).sum())} NaN or infinite pixels")
    gfp, marker = _channels(channel_names)
    flat = x[..., gfp].reshape(n, -1)
    mean, sd = _mean_sd(flat)
    sd = np.maximum(sd, 1.0 / np.sqrt(flat.shape[1]))
    rings = _rings(height, width)
    radial = (flat.astype(np.float64) @ rings) / rings.sum(axis=0)
    quantiles = np.quantile(flat, QUANTILES, axis=1).T
    columns = [(radial - mean[:, None]) / sd[:, None], (quantiles - mean[:, None]) / sd[:, None]]
    if marker is not None:
        marker_mean, _ = _mean_sd(x[..., marker].reshape(n, -1))
        with np.errstate(divide="ignore", invalid="ignore"):
            columns.append(np.where(marker_mean > 0, mean / marker_mean, np.nan)[:, None])
    return np.concatenate(columns, axis=1)


def pixel_statistics_profiles(
    store: str | os.PathLike | CellStore,
    out: str | os.PathLike,
    *,
    split: str = "test",
    batch_cells: int = 1024,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Pixel statistics of the selected cells of a store, per cell and per protein.

    Writes ``OUT/cells.parquet`` (Metadata_ columns + ``PixelStats_*``), ``OUT/proteins.parquet``
    (NaN-aware mean per protein) and ``OUT/config.json``; memory is bounded by one batch.

    Parameters
    ----------
    store : str, os.PathLike or CellStore
        A cell store with protein ids.
    out : str or os.PathLike
        Output directory.
    split : {"train", "val", "test", "all"}, default "test"
    batch_cells : int, default 1024
        Cells read and summarised at a time.
    overwrite : bool, default False

    Returns
    -------
    dict
        cells, proteins (paths), n_cells, n_features, seconds.

    Raises
    ------
    InputError
        An unknown split, an empty selection, a store without protein ids, or non-finite pixels.
    OutputExistsError
        If an output exists and ``overwrite`` is False.
    """
    started = time.perf_counter()
    check_split(split)
    check_positive_int("batch_cells", batch_cells)
    opened = not isinstance(store, CellStore)
    cell_store = CellStore.open(store) if opened else store
    try:
        cell_store.require_proteins()
        selected = cell_store.select(split)
        if selected.size == 0:
            raise file_error(cell_store.path, f"no cells selected (split={split!r}, {len(cell_store)} cells)")
        out = Path(out)
        targets = [out / "cells.parquet", out / "proteins.parquet", out / "config.json"]
        for target in targets:
            check_output(target, overwrite=overwrite)
        channel_names = list(cell_store.channel_names)
        names = pixel_statistic_names(len(channel_names))
        fingerprint = cell_store.fingerprint()
        info = {"method": METHOD, "split": split, "store_fingerprint": fingerprint}
        created = not out.exists()
        out.mkdir(parents=True, exist_ok=True)
        try:
            write_cell_profiles(out / "cells.parquet", cell_store, selected,
                                lambda block: pixel_statistics(cell_store.images(block), channel_names), names,
                                info=info, batch_cells=batch_cells, overwrite=overwrite)
        except InputError as exc:
            if created:
                shutil.rmtree(out)
            raise file_error(cell_store.path, str(exc)) from None
        aggregate_proteins(out / "cells.parquet", out / "proteins.parquet", overwrite=overwrite)
        write_run_record(out / "config.json", command="pixel_statistics_profiles",
                         config={"method": METHOD, "split": split, "rings": RINGS, "quantiles": list(QUANTILES),
                                 "channel_names": channel_names, "batch_cells": int(batch_cells)},
                         seed=None, inputs={"store": fingerprint})
    finally:
        if opened:
            cell_store.close()
    summary = {"cells": str(out / "cells.parquet"), "proteins": str(out / "proteins.parquet"),
               "n_cells": int(selected.size), "n_features": len(names),
               "seconds": round(time.perf_counter() - started, 3)}
    logger.info("pixel statistics: %s", summary)
    return summary
