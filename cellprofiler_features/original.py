"""Profiles from the per-cell features a store was imported with (the Chong et al. 2015 CellProfiler features).

The original DeepLoc HDF5 files carry ``Info1`` / ``Info1_columns``: the CellProfiler features of
Chong et al. 2015 for every crop. :func:`deeploc_keras.data.importers.deeploc_hdf5.import_deeploc_hdf5`
keeps them as the store's per-cell feature table; :func:`original_feature_profiles` turns the
selected cells into the same outputs as :func:`cellprofiler_features.runner.extract_cellprofiler`::

    OUT/cells.parquet          Metadata_ columns + the features as named by Info1_columns, one row per cell
    OUT/proteins_raw.parquet   nanmean per protein
    OUT/proteins.parquet       normalized across proteins and feature-selected (deeploc_keras.core.processing)
    OUT/extract.json           run record (``--overwrite`` replaces only outputs it shows to be these)
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

from deeploc_keras.core.errors import check_positive_int, file_error
from deeploc_keras.core.outputs import check_own_outputs
from deeploc_keras.core.processing import ProfileProcessing, process_profile_file
from deeploc_keras.core.profiles import METADATA_PREFIX, aggregate_proteins, write_cell_profiles
from deeploc_keras.core.records import write_run_record
from deeploc_keras.data.store import CELL_FEATURES, CellStore, check_split

__all__ = ["ORIGINAL_METHOD", "original_feature_profiles"]

logger = logging.getLogger(__name__)

#: Method recorded in the profiles (and the default representation name of ``score``).
ORIGINAL_METHOD = "CellProfilerOriginal"
_OUTPUTS = ("cells.parquet", "proteins_raw.parquet", "proteins.parquet", "extract.json")


def original_feature_profiles(
    store: str | os.PathLike | CellStore,
    out: str | os.PathLike,
    *,
    split: str = "test",
    processing: ProfileProcessing | None = None,
    batch_cells: int = 4096,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Per-cell and per-protein profiles of the store's imported per-cell features.

    Parameters
    ----------
    store : str, os.PathLike or CellStore
        A store with protein ids and a per-cell feature table (``/cell_features``).
    out : str or os.PathLike
        Output directory (see the module docstring).
    split : {"train", "val", "test", "all"}, default "test"
    processing : ProfileProcessing, optional
        How ``proteins_raw.parquet`` becomes ``proteins.parquet``; default ``ProfileProcessing()``.
    batch_cells : int, default 4096
        Cells read at a time (memory is bounded by one batch).
    overwrite : bool, default False

    Returns
    -------
    dict
        cells, proteins, proteins_raw (paths), n_cells, n_features, processing (the record), seconds.

    Raises
    ------
    InputError
        A store without per-cell features or protein ids, an unknown split, an empty selection,
        or feature names that start with ``Metadata_``.
    OutputExistsError
        If an output exists and ``overwrite`` is False.
    """
    started = time.perf_counter()
    check_split(split)
    check_positive_int("batch_cells", batch_cells)
    processing = processing or ProfileProcessing()
    opened = not isinstance(store, CellStore)
    cell_store = CellStore.open(store) if opened else store
    try:
        columns = cell_store.cell_feature_columns
        if not columns:
            raise file_error(cell_store.path, f"has no per-cell feature table (/{CELL_FEATURES}); import a DeepLoc "
                                              f"HDF5 file that carries Info1 / Info1_columns")
        clash = [c for c in columns if c.startswith(METADATA_PREFIX)]
        if clash:
            raise file_error(cell_store.path, f"per-cell feature {clash[0]!r} starts with {METADATA_PREFIX!r}, which "
                                              f"profiles reserve for metadata")
        cell_store.require_proteins()
        selected = cell_store.select(split)
        if selected.size == 0:
            raise file_error(cell_store.path, f"no cells selected (split={split!r}, {len(cell_store)} cells)")
        out = Path(out)
        check_own_outputs(out, _OUTPUTS, command="extract", overwrite=overwrite)
        fingerprint = cell_store.fingerprint()
        info = {"method": ORIGINAL_METHOD, "split": split, "store_fingerprint": fingerprint,
                "features": "the store's per-cell feature table (Info1 of the imported DeepLoc HDF5 files)"}
        created = not out.exists()
        out.mkdir(parents=True, exist_ok=True)
        try:
            write_cell_profiles(out / "cells.parquet", cell_store, selected, cell_store.cell_features, columns,
                                info=info, batch_cells=batch_cells, overwrite=overwrite)
            aggregate_proteins(out / "cells.parquet", out / "proteins_raw.parquet", overwrite=overwrite)
            record = process_profile_file(out / "proteins_raw.parquet", out / "proteins.parquet", processing,
                                          overwrite=overwrite)
        except BaseException:
            if created:
                shutil.rmtree(out)
            raise
        write_run_record(out / "extract.json", command="extract --method original-features",
                         config={"method": ORIGINAL_METHOD, "split": split, "n_features": len(columns),
                                 "processing": processing.to_dict(), "batch_cells": int(batch_cells)},
                         seed=None, inputs={"store": fingerprint})
    finally:
        if opened:
            cell_store.close()
    summary = {"cells": str(out / "cells.parquet"), "proteins_raw": str(out / "proteins_raw.parquet"),
               "proteins": str(out / "proteins.parquet"), "n_cells": int(selected.size), "n_features": len(columns),
               "processing": record, "seconds": round(time.perf_counter() - started, 3)}
    logger.info("original per-cell features: %s", summary)
    return summary
