"""Per-feature normalization across proteins and feature selection of profiles, through pycytominer.

CellProfiler users compare profiles only after normalizing every feature across the samples and
selecting features (pycytominer's ``normalize`` then ``feature_select``, as in the Cell Painting
profiling recipes). This module makes exactly those pycytominer calls on a profile table:

- ``normalize``: ``"standardize"`` is ``(x - mean) / sd`` (population sd, scikit-learn's
  ``StandardScaler``); ``"robust"`` is pycytominer's ``mad_robustize``, ``(x - median) / (1.4826 MAD)``;
  ``"none"`` leaves the values as they are (the study's raw comparison). A feature whose scale is
  zero or undefined under the chosen normalization (constant; for ``robust`` also a MAD of 0, i.e.
  more than half the rows share one value; all NaN) has no normalized value and is dropped first.
- ``operations``: pycytominer's ``drop_na_columns`` (more than ``na_cutoff`` NaN), ``variance_threshold``
  (variance below ``min_variance``) and ``correlation_threshold`` (of each pair correlated above
  ``corr_threshold``, the feature more correlated with all others), in that order.
- Remaining NaN (at most ``na_cutoff`` of the rows of a kept feature) become the feature's centre:
  its median under ``robust``, its mean otherwise (0 after normalization).

:func:`process_profile_file` writes the processed table with what was applied in the Parquet
metadata (key ``processing``).

References
----------
Serrano et al., "Reproducible image-based profiling with Pycytominer", Nature Methods 22 (2025).
Caicedo et al., "Data-analysis strategies for image-based cell profiling", Nature Methods 14, 849 (2017).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from .errors import InputError, file_error
from .profiles import METADATA_PREFIX, PARQUET_METADATA_KEY, ProfileWriter

__all__ = ["NORMALIZE_CHOICES", "SELECT_OPERATIONS", "ProfileProcessing", "check_normalize", "normalize_features",
           "process_profiles", "process_profile_file"]

#: Per-feature normalizations across rows (proteins).
NORMALIZE_CHOICES = ("none", "standardize", "robust")
#: pycytominer feature-selection operations, in the order they are applied.
SELECT_OPERATIONS = ("drop_na_columns", "variance_threshold", "correlation_threshold")
_PYCYTOMINER_METHOD = {"standardize": "standardize", "robust": "mad_robustize"}


def check_normalize(method: str) -> str:
    """Return ``method`` if it is one of :data:`NORMALIZE_CHOICES`; raise :class:`InputError` otherwise.

    Examples
    --------
    >>> check_normalize("robust")
    'robust'
    """
    if method not in NORMALIZE_CHOICES:
        raise InputError(f"normalize must be one of {NORMALIZE_CHOICES}. Received: normalize={method!r}")
    return method


@dataclass(frozen=True)
class ProfileProcessing:
    """Normalization and feature selection applied to a profile table (pycytominer's conventions).

    Parameters
    ----------
    normalize : {"none", "standardize", "robust"}, default "robust"
        ``robust`` is pycytominer's ``mad_robustize``, the profiling recipes' choice.
    operations : tuple of str, default :data:`SELECT_OPERATIONS`
        Any of :data:`SELECT_OPERATIONS`, applied in the order given; ``()`` selects nothing.
    na_cutoff : float, default 0.05
        ``drop_na_columns``: largest fraction of NaN a kept feature may have.
    min_variance : float, default 1e-6
        ``variance_threshold``: smallest variance a kept feature may have.
    corr_threshold : float, default 0.9
        ``correlation_threshold``: largest Pearson correlation between two kept features.

    Examples
    --------
    >>> ProfileProcessing().to_dict()["operations"]
    ['drop_na_columns', 'variance_threshold', 'correlation_threshold']
    >>> ProfileProcessing(normalize="zscore")
    Traceback (most recent call last):
    ...
    deeploc_keras.core.errors.InputError: normalize must be one of ('none', 'standardize', 'robust'). \
Received: normalize='zscore'
    """

    normalize: str = "robust"
    operations: tuple[str, ...] = SELECT_OPERATIONS
    na_cutoff: float = 0.05
    min_variance: float = 1e-6
    corr_threshold: float = 0.9

    def __post_init__(self) -> None:
        check_normalize(self.normalize)
        object.__setattr__(self, "operations", tuple(self.operations))
        unknown = [op for op in self.operations if op not in SELECT_OPERATIONS]
        if unknown:
            raise InputError(f"unknown feature-selection operation {unknown[0]!r}; expected some of "
                             f"{list(SELECT_OPERATIONS)}")
        if not 0 <= self.na_cutoff <= 1:
            raise InputError(f"na_cutoff must be a fraction in [0, 1]. Received: na_cutoff={self.na_cutoff}")
        if self.min_variance < 0:
            raise InputError(f"min_variance must be >= 0. Received: min_variance={self.min_variance}")
        if not 0 < self.corr_threshold <= 1:
            raise InputError(f"corr_threshold must be in (0, 1]. Received: corr_threshold={self.corr_threshold}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings (recorded in the Parquet metadata and ``config.json``)."""
        return {**asdict(self), "operations": list(self.operations)}


def _scale(x: np.ndarray, method: str) -> np.ndarray:
    """Per-column scale of a normalization (NaN ignored; NaN for an all-NaN column)."""
    finite = np.isfinite(x).any(axis=0)
    scale = np.full(x.shape[1], np.nan)
    if method == "standardize":
        scale[finite] = np.nanstd(x[:, finite], axis=0)
    else:
        from scipy.stats import median_abs_deviation

        scale[finite] = median_abs_deviation(x[:, finite], axis=0, nan_policy="omit")
    return scale


def normalize_features(features: np.ndarray, method: str = "standardize") -> tuple[np.ndarray, np.ndarray]:
    """Normalize every feature (column) across the rows with pycytominer's ``normalize``.

    Parameters
    ----------
    features : array_like, shape (n_rows, n_features)
        NaN allowed (ignored by the statistics, kept in the output).
    method : {"none", "standardize", "robust"}, default "standardize"

    Returns
    -------
    normalized : numpy.ndarray, shape (n_rows, n_kept), float64
    kept : numpy.ndarray of bool, shape (n_features,)
        Features with a defined, non-zero scale (every feature for ``"none"``).

    Raises
    ------
    InputError
        An unknown method, a matrix that is not 2-D and non-empty, or no feature with a non-zero scale.

    Examples
    --------
    >>> x = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]])
    >>> normalized, kept = normalize_features(x, "standardize")
    >>> np.round(normalized.ravel(), 4).tolist(), kept.tolist()
    ([-1.2247, 0.0, 1.2247], [True, False])
    """
    method = check_normalize(method)
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or 0 in x.shape:
        raise InputError(f"features must be a non-empty (rows, features) matrix. Received: shape={x.shape}")
    if method == "none":
        return x, np.ones(x.shape[1], dtype=bool)
    kept = _scale(x, method) > 0
    if not kept.any():
        raise InputError(f"no feature has a non-zero {method} scale across the {x.shape[0]} rows; nothing to "
                         f"normalize")
    import pycytominer

    columns = [f"f{i}" for i in range(int(kept.sum()))]
    frame = pd.DataFrame(x[:, kept], columns=columns)
    normalized = pycytominer.normalize(frame, features=columns, meta_features=[], samples="all",
                                       method=_PYCYTOMINER_METHOD[method])
    return normalized[columns].to_numpy(dtype=np.float64), kept


def process_profiles(table: pd.DataFrame, processing: ProfileProcessing | None = None) -> tuple[pd.DataFrame,
                                                                                                dict[str, Any]]:
    """Normalize and select the features of a profile table (``Metadata_`` columns are kept as they are).

    Parameters
    ----------
    table : pandas.DataFrame
        One row per profile (e.g. per protein): ``Metadata_`` columns and numeric feature columns.
    processing : ProfileProcessing, optional
        Default ``ProfileProcessing()``.

    Returns
    -------
    processed : pandas.DataFrame
        The metadata columns, then the kept features in their input order, without NaN.
    record : dict
        The settings, the pycytominer version and the feature counts at each step.

    Raises
    ------
    InputError
        No feature column, or no feature left after normalization and selection.

    Examples
    --------
    >>> table = pd.DataFrame({"Metadata_Protein": list("ABCD"), "a": [1.0, 2, 3, 4], "b": [2.0, 4, 6, 8.1],
    ...                       "c": [1.0, 0, 1, 0], "d": [7.0, 7, 7, 7]})
    >>> processed, record = process_profiles(table, ProfileProcessing(normalize="standardize"))
    >>> list(processed.columns), record["n_zero_scale"], record["n_deselected"]
    (['Metadata_Protein', 'a', 'c'], 1, 1)
    """
    processing = processing or ProfileProcessing()
    meta_cols = [c for c in table.columns if str(c).startswith(METADATA_PREFIX)]
    names = [c for c in table.columns if not str(c).startswith(METADATA_PREFIX)]
    if not names:
        raise InputError("the profile table has no feature columns (every column starts with 'Metadata_')")
    values = table[names].to_numpy(dtype=np.float64)
    normalized, kept = normalize_features(values, processing.normalize)
    defined = np.isfinite(normalized).any(axis=0)
    kept_names = [name for name, keep in zip(names, kept, strict=True) if keep]
    kept_names = [name for name, keep in zip(kept_names, defined, strict=True) if keep]
    frame = pd.concat([table[meta_cols].reset_index(drop=True),
                       pd.DataFrame(normalized[:, defined], columns=kept_names)], axis=1)
    selected = kept_names
    if processing.operations and kept_names:
        import pycytominer

        result = pycytominer.feature_select(frame, features=list(kept_names), operation=list(processing.operations),
                                            na_cutoff=processing.na_cutoff, min_variance=processing.min_variance,
                                            corr_threshold=processing.corr_threshold)
        selected = [name for name in kept_names if name in result.columns]
    if not selected:
        raise InputError(f"no feature of {len(names)} is left after normalize={processing.normalize!r} and "
                         f"{list(processing.operations)}; relax the selection")
    out = frame[selected].to_numpy(dtype=np.float64)
    with np.errstate(all="ignore"):
        centre = (np.nanmedian if processing.normalize == "robust" else np.nanmean)(out, axis=0)
    missing = np.isnan(out)
    out = np.where(missing, centre, out)
    record = {**processing.to_dict(), "pycytominer_version": importlib.metadata.version("pycytominer"), "n_features_in": len(names),
              "n_zero_scale": int(len(names) - len(kept_names)), "n_deselected": len(kept_names) - len(selected),
              "n_features_out": len(selected), "n_filled": int(missing.sum())}
    processed = pd.concat([frame[meta_cols], pd.DataFrame(out, columns=selected)], axis=1)
    return processed, record


def process_profile_file(source: str | os.PathLike, out: str | os.PathLike,
                         processing: ProfileProcessing | None = None, *, overwrite: bool = False) -> dict[str, Any]:
    """Process a profile Parquet file (e.g. ``proteins_raw.parquet``) into another (``proteins.parquet``).

    The output keeps the source's Parquet metadata and adds ``processing`` (what was applied, see
    :func:`process_profiles`) and ``raw_profiles`` (the source's file name).

    Parameters
    ----------
    source, out : str or os.PathLike
    processing : ProfileProcessing, optional
    overwrite : bool, default False

    Returns
    -------
    dict
        The processing record.

    Raises
    ------
    InputError
        A missing or unreadable source, or no feature left.
    OutputExistsError
        If ``out`` exists and ``overwrite`` is False.
    """
    source = Path(source)
    if not source.is_file():
        raise file_error(source, "no such file")
    table = pq.read_table(source)
    raw = (table.schema.metadata or {}).get(PARQUET_METADATA_KEY)
    info = json.loads(raw) if raw else {}
    info.pop("feature_columns", None)
    info.pop("package_version", None)
    try:
        processed, record = process_profiles(table.to_pandas(), processing)
    except InputError as exc:
        raise file_error(source, str(exc)) from None
    meta_cols = [c for c in processed.columns if str(c).startswith(METADATA_PREFIX)]
    names = [c for c in processed.columns if c not in meta_cols]
    with ProfileWriter(out, info={**info, "processing": record, "raw_profiles": source.name},
                       overwrite=overwrite) as writer:
        writer.write(processed[meta_cols], processed[names].to_numpy(), names)
    return record
