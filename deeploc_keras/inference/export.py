"""Profiles for the single-cell ecosystem: AnnData ``.h5ad`` (scanpy, squidpy, ...).

:func:`to_anndata` turns a profile table (``cells.parquet`` or ``proteins.parquet``) into an
``anndata.AnnData``: the features in ``X`` (float32, ``var_names`` = feature columns), the
``Metadata_*`` columns in ``obs`` (one row per cell or protein), and the provenance recorded
in the Parquet file (method, layer, model hash, split, package version) in
``uns["deeploc_keras"]``. anndata is an optional dependency
(``pip install "deeploc-keras[anndata]"``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.errors import InputError, file_error
from ..core.outputs import atomic_path, check_output
from ..core.profiles import read_profiles

__all__ = ["EXPORT_FORMATS", "to_anndata", "export_profiles"]

#: Values of ``export --format``.
EXPORT_FORMATS = ("h5ad",)


def _anndata() -> Any:
    try:
        import anndata
    except ImportError:
        raise InputError('AnnData export needs the anndata package: pip install "deeploc-keras[anndata]"') from None
    return anndata


def _scalar(value: Any) -> Any:
    """An HDF5-writable version of one provenance value (None -> "", nested -> JSON text)."""
    if value is None:
        return ""
    if isinstance(value, (str, bool, int, float, np.integer, np.floating)):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return np.asarray(value, dtype=object) if value else ""
    return json.dumps(value)


def to_anndata(source: str | os.PathLike | pd.DataFrame) -> Any:
    """A profile table as an ``anndata.AnnData``.

    Parameters
    ----------
    source : str, os.PathLike or pandas.DataFrame
        A profile file (Parquet or CSV, see :func:`deeploc_keras.core.profiles.read_profiles`) or table.

    Returns
    -------
    anndata.AnnData
        ``X`` float32 (rows x features); ``obs`` the ``Metadata_*`` columns, indexed by
        ``Metadata_Protein`` for a protein table (``Metadata_Count`` present), else by
        ``Metadata_CellIndex`` (as text) or the row number; ``var`` indexed by feature name;
        ``uns["deeploc_keras"]`` the recorded provenance (lists of numbers and nested values
        as JSON text).

    Raises
    ------
    InputError
        If anndata is not installed, or the table is not a profile table.

    Examples
    --------
    >>> frame = pd.DataFrame({"Metadata_Protein": ["YAL001C", "YAL002W"], "Metadata_Count": [3, 4],
    ...                       "DeepLoc_fc2_0000": [0.5, 1.0]})
    >>> adata = to_anndata(frame)
    >>> adata.shape, list(adata.obs_names), list(adata.var_names)
    ((2, 1), ['YAL001C', 'YAL002W'], ['DeepLoc_fc2_0000'])
    """
    anndata = _anndata()
    table = read_profiles(source)
    obs = table.meta.copy()
    if "Metadata_Count" in obs and "Metadata_Protein" in obs and obs["Metadata_Protein"].is_unique:
        index = obs["Metadata_Protein"].astype(str)
    elif "Metadata_CellIndex" in obs:
        index = obs["Metadata_CellIndex"].astype(str)
    else:
        index = pd.Series(np.arange(len(obs)).astype(str))
    obs.index = pd.Index(index.to_numpy(dtype=str), name="obs_names")
    for column in obs.columns:
        if obs[column].dtype == object:
            obs[column] = obs[column].astype(str)
    var = pd.DataFrame(index=pd.Index(table.feature_names, name="var_names"))
    uns = {"deeploc_keras": {key: _scalar(value) for key, value in table.info.items() if key != "feature_columns"}}
    return anndata.AnnData(X=table.features.astype(np.float32), obs=obs, var=var, uns=uns)


def export_profiles(source: str | os.PathLike, out: str | os.PathLike, *, format: str = "h5ad",
                    overwrite: bool = False) -> dict[str, Any]:
    """Write a profile file in another format (``h5ad``: :func:`to_anndata`).

    Parameters
    ----------
    source : str or os.PathLike
        ``cells.parquet`` or ``proteins.parquet`` (or a CSV profile table).
    out : str or os.PathLike
        The file to write, e.g. ``proteins.h5ad``.
    format : {"h5ad"}, default "h5ad"
    overwrite : bool, default False

    Returns
    -------
    dict
        ``path``, ``n_obs``, ``n_vars``.

    Raises
    ------
    InputError
        An unknown format, a folder instead of a file, or what :func:`to_anndata` raises.
    OutputExistsError
        If ``out`` exists and ``overwrite`` is False.
    """
    if format not in EXPORT_FORMATS:
        raise InputError(f"unknown format {format!r}; expected one of {list(EXPORT_FORMATS)}")
    source = Path(source)
    if source.is_dir():
        raise file_error(source, "is a folder; export one table of it (cells.parquet or proteins.parquet)")
    out = check_output(out, overwrite=overwrite)
    adata = to_anndata(source)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out, overwrite=overwrite, inputs=[source]) as tmp:
        adata.write_h5ad(tmp)
    return {"path": str(out), "n_obs": int(adata.n_obs), "n_vars": int(adata.n_vars)}
