"""Profiles as Parquet: per-cell tables streamed to disk and per-protein means.

Columns that start with ``Metadata_`` describe a row; every other column is a
feature, named ``<Method>_<layer>_<i:04d>`` for learned embeddings (e.g.
``DeepLoc_fc2_0000``) or with CellProfiler names for handcrafted features. The
Parquet key-value metadata (key ``deeploc_keras``) records method, layer, model
hash and package version. This is what pycytominer and copairs read.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .._version import __version__
from ..data.store import SPLIT_NAMES, UNKNOWN_PROTEIN, CellStore
from .errors import InputError, file_error
from .outputs import atomic_path

__all__ = [
    "METADATA_PREFIX",
    "PROTEIN_COLUMN",
    "PARQUET_METADATA_KEY",
    "Profiles",
    "ProfileWriter",
    "ProteinMeans",
    "feature_names",
    "feature_columns",
    "profile_name",
    "cell_metadata",
    "write_cell_profiles",
    "read_profiles",
    "aggregate_proteins",
]

METADATA_PREFIX = "Metadata_"
#: The column of protein ids.
PROTEIN_COLUMN = "Metadata_Protein"
PARQUET_METADATA_KEY = b"deeploc_keras"


def feature_names(method: str, layer: str, n_features: int) -> list[str]:
    """Feature column names of a learned embedding.

    Parameters
    ----------
    method : str
        Display name of the method, e.g. ``"DeepLoc"`` or ``"PCI"``.
    layer : str
        Layer name; underscores are removed (``fc_2`` -> ``fc2``).
    n_features : int

    Returns
    -------
    list of str

    Examples
    --------
    >>> feature_names("DeepLoc", "fc_2", 2)
    ['DeepLoc_fc2_0000', 'DeepLoc_fc2_0001']
    """
    layer = layer.replace("_", "")
    return [f"{method}_{layer}_{i:04d}" for i in range(n_features)]


def feature_columns(frame: pd.DataFrame | Sequence[str]) -> list[str]:
    """The feature columns of a profile table: every column not starting with ``Metadata_``.

    pycytominer's ``features="infer"`` only finds CellProfiler compartment prefixes
    (``Cells_``, ``Cytoplasm_``, ``Nuclei_``); pass ``features=feature_columns(df)`` for
    DeepLoc, PCI and PCA profiles (docs/evaluation.md).

    Parameters
    ----------
    frame : pandas.DataFrame or sequence of str
        A profile table or its column names.

    Returns
    -------
    list of str
        In table order.

    Examples
    --------
    >>> feature_columns(["Metadata_Protein", "DeepLoc_fc2_0000", "DeepLoc_fc2_0001"])
    ['DeepLoc_fc2_0000', 'DeepLoc_fc2_0001']
    """
    columns = frame.columns if isinstance(frame, pd.DataFrame) else frame
    return [str(c) for c in columns if not str(c).startswith(METADATA_PREFIX)]


def profile_name(source: str | os.PathLike) -> str:
    """A representation's name from its file: the file stem, or the folder for a generic stem.

    Examples
    --------
    >>> profile_name("profiles/pci/proteins.parquet"), profile_name("runs/my_features.csv")
    ('pci', 'my_features')
    """
    path = Path(source)
    generic = {"proteins", "cells", "profiles", "proteins_raw"}
    return path.parent.name if path.stem in generic and path.parent.name else path.stem


def cell_metadata(cells: pd.DataFrame, class_names: Sequence[str], *, index: np.ndarray | None = None) -> pd.DataFrame:
    """``Metadata_`` columns for a block of store cells.

    Parameters
    ----------
    cells : pandas.DataFrame
        Rows of :attr:`deeploc_keras.data.store.CellStore.cells`.
    class_names : sequence of str
        The store's classes (labels become names; -1 becomes "").
    index : numpy.ndarray, optional
        Row numbers of these cells in the store (``Metadata_CellIndex``).

    Returns
    -------
    pandas.DataFrame
    """
    labels = cells["label"].to_numpy()
    names = np.asarray(list(class_names) + [""], dtype=object)
    split_names = np.asarray(list(SPLIT_NAMES), dtype=object)
    return pd.DataFrame({
        "Metadata_CellIndex": np.arange(len(cells)) if index is None else np.asarray(index, dtype=np.int64),
        "Metadata_Protein": cells["protein"].to_numpy(dtype=object),
        "Metadata_Label": names[np.where(labels >= 0, labels, len(names) - 1)],
        "Metadata_Split": split_names[cells["split"].to_numpy().astype(int)],
        "Metadata_Plate": cells["plate"].to_numpy(dtype=object),
        "Metadata_Well": cells["well"].to_numpy(dtype=object),
        "Metadata_Field": cells["field"].to_numpy(dtype=object),
        "Metadata_X": cells["x"].to_numpy(dtype=np.float32),
        "Metadata_Y": cells["y"].to_numpy(dtype=np.float32),
    })


@dataclass
class Profiles:
    """A profile table split into metadata and a float feature matrix."""

    meta: pd.DataFrame
    features: np.ndarray
    feature_names: list[str]
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def method(self) -> str:
        """The method recorded in the file (``"unknown"`` if none)."""
        return str(self.info.get("method", "unknown"))


def read_profiles(source: str | os.PathLike | pd.DataFrame, *, metadata_columns: Sequence[str] = ()) -> Profiles:
    """Read a profile table: a Parquet file, a CSV file or an in-memory DataFrame.

    Parameters
    ----------
    source : str, os.PathLike or pandas.DataFrame
        ``.parquet`` (with the package's key-value metadata when written by it), ``.csv``
        (or ``.csv.gz``/``.tsv``), or a DataFrame; columns starting with ``Metadata_`` are
        metadata, every other column a numeric feature.
    metadata_columns : sequence of str, default ()
        Further columns to read as metadata (e.g. an id column named ``orf``).

    Returns
    -------
    Profiles

    Raises
    ------
    InputError
        If the file is missing or unreadable, or there is no (numeric) feature column.

    Examples
    --------
    >>> frame = pd.DataFrame({"Metadata_Protein": ["A", "B"], "f_0": [1.0, 2.0]})
    >>> read_profiles(frame).features.tolist()
    [[1.0], [2.0]]
    """
    info: dict[str, Any] = {}
    if isinstance(source, pd.DataFrame):
        frame, where = source, "the DataFrame"
    else:
        path = Path(source)
        where = str(path)
        if not path.is_file():
            raise file_error(path, "no such file")
        if path.name.lower().endswith((".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt")):
            frame = _read_csv(path, id_columns=[PROTEIN_COLUMN, *metadata_columns])
        else:
            try:
                table = pq.read_table(path)
            except (pa.ArrowInvalid, OSError) as exc:
                raise file_error(path, f"not a readable Parquet file (or name it .csv): {exc}") from None
            raw = (table.schema.metadata or {}).get(PARQUET_METADATA_KEY)
            if raw:
                info = json.loads(raw)
            frame = table.to_pandas()
    extra = set(metadata_columns)
    meta_cols = [c for c in frame.columns if str(c).startswith(METADATA_PREFIX) or c in extra]
    _check_ids(frame, [PROTEIN_COLUMN, *metadata_columns], where)
    feat_cols = [c for c in feature_columns(frame) if c not in extra]
    if not feat_cols:
        raise InputError(f"{where}: no feature columns (every column starts with 'Metadata_')")
    try:
        features = frame[feat_cols].to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        bad = [c for c in feat_cols if not pd.api.types.is_numeric_dtype(frame[c])]
        raise InputError(f"{where}: columns {bad[:3]} are not numeric; feature columns must be numeric and "
                         "metadata columns start with 'Metadata_' (score: name the id column with --id-column)"
                         ) from None
    return Profiles(frame[meta_cols].reset_index(drop=True), features, feat_cols, info)


#: Strings pandas reads as missing by default; in a profile's feature columns they stay missing values, but
#: in its id columns they are ids (a protein named ``NA`` or ``None`` is a protein).
_NA_STRINGS = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>",
               "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null")


def _read_csv(path: Path, *, id_columns: Sequence[str]) -> pd.DataFrame:
    """A CSV/TSV profile table whose id and ``Metadata_`` columns are read as text, missing values only in features."""
    sep = "\t" if ".tsv" in path.name.lower() or path.suffix == ".txt" else ","
    try:
        header = [str(c) for c in pd.read_csv(path, sep=sep, nrows=0).columns]
        text = [c for c in header if c.startswith(METADATA_PREFIX) or c in id_columns]
        return pd.read_csv(path, sep=sep, keep_default_na=False, dtype={c: str for c in id_columns if c in header},
                           na_values={c: list(_NA_STRINGS) for c in header if c not in text})
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise file_error(path, f"not a readable CSV file: {exc}") from None


def _check_ids(frame: pd.DataFrame, columns: Sequence[str], where: str) -> None:
    """Refuse rows without an id (null or empty) in the id columns present."""
    for column in dict.fromkeys(columns):
        if column not in frame:
            continue
        values = frame[column]
        missing = values.isna().to_numpy() | (values.astype(str).str.strip() == "").to_numpy()
        if missing.any():
            rows = np.flatnonzero(missing)
            raise InputError(f"{where}: {len(rows)} rows have no {column} (null or empty; first row {rows[0] + 1}); "
                             "every profile needs a protein id: fill or drop those rows")


def write_cell_profiles(
    path: str | os.PathLike,
    store: CellStore,
    rows: np.ndarray,
    features_of: Any,
    columns: Sequence[str],
    *,
    info: dict[str, Any],
    batch_cells: int,
    overwrite: bool = False,
) -> None:
    """Stream the cells ``rows`` of ``store`` in blocks through ``features_of`` into a ``cells.parquet``.

    Parameters
    ----------
    path : str or os.PathLike
        The Parquet file to write (:class:`ProfileWriter`).
    store : CellStore
        An open store.
    rows : numpy.ndarray of int
        Store rows of the cells, in the order written.
    features_of : callable
        ``features_of(block) -> (len(block), len(columns))`` features of the store rows ``block``.
    columns : sequence of str
        Feature column names.
    info : dict
        Parquet key-value metadata (method, ...).
    batch_cells : int
        Cells per block.
    overwrite : bool, default False
    """
    cells = store.cells
    with ProfileWriter(path, info=info, overwrite=overwrite) as writer:
        for start in range(0, rows.size, int(batch_cells)):
            block = rows[start:start + int(batch_cells)]
            writer.write(cell_metadata(cells.iloc[block], store.class_names, index=block), features_of(block), columns)


class ProfileWriter:
    """Stream rows of a profile table to Parquet; the file appears only when complete.

    Parameters
    ----------
    path : str or os.PathLike
        Destination ``.parquet`` file.
    info : dict
        Recorded in the key-value metadata (method, layer, model hash ...);
        the package version is added.
    overwrite : bool, default False

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, pandas as pd
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "cells.parquet"
    >>> with ProfileWriter(out, info={"method": "demo"}) as writer:
    ...     writer.write(pd.DataFrame({"Metadata_Protein": ["A", "B"]}), np.eye(2), ["f_0", "f_1"])
    >>> read_profiles(out).features.shape
    (2, 2)
    """

    def __init__(self, path: str | os.PathLike, *, info: dict[str, Any], overwrite: bool = False) -> None:
        self._context = atomic_path(path, overwrite=overwrite)
        self._tmp = self._context.__enter__()
        self._info = {**info, "package_version": __version__}
        self._writer: pq.ParquetWriter | None = None
        self.rows = 0

    def write(self, meta: pd.DataFrame, features: np.ndarray, names: Sequence[str]) -> None:
        """Append rows.

        Parameters
        ----------
        meta : pandas.DataFrame
            ``Metadata_`` columns, one row per feature row.
        features : numpy.ndarray, shape (n, d)
        names : sequence of str, length d
        """
        features = np.asarray(features, dtype=np.float32)
        if features.ndim != 2 or features.shape != (len(meta), len(names)):
            raise InputError(
                f"features must be (rows, {len(names)}) matching {len(meta)} metadata rows. Received: {features.shape}"
            )
        metadata = pa.Table.from_pandas(meta.reset_index(drop=True), preserve_index=False)
        table = pa.Table.from_arrays([*metadata.columns, *map(pa.array, np.ascontiguousarray(features.T))],
                                     names=[*metadata.column_names, *names])
        if self._writer is None:
            info = {**self._info, "feature_columns": list(names)}
            schema = table.schema.with_metadata({PARQUET_METADATA_KEY: json.dumps(info).encode()})
            self._writer = pq.ParquetWriter(self._tmp, schema)
        self._writer.write_table(table.cast(self._writer.schema))
        self.rows += len(meta)

    def close(self) -> None:
        """Finish the file and move it into place."""
        if self._writer is None:
            self._context.__exit__(InputError, InputError("no rows written"), None)
            raise InputError("no rows to write: the selection of cells is empty")
        try:
            self._writer.close()
        except BaseException as exc:
            self._writer = None
            self.abort(exc)
            raise
        self._context.__exit__(None, None, None)

    def abort(self, exc: BaseException | None = None) -> None:
        """Discard the partial file.

        Parameters
        ----------
        exc : BaseException, optional
            The error that stopped the writing; a full disk or a read-only folder is raised
            as one :class:`~deeploc_keras.core.errors.InputError` naming the file.
        """
        if self._writer is not None:
            try:
                self._writer.close()
            except OSError:
                pass
        exc = exc if exc is not None else KeyboardInterrupt()
        self._context.__exit__(type(exc), exc, exc.__traceback__)

    def __enter__(self) -> ProfileWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort(exc)


class ProteinMeans:
    """Per-protein NaN-aware means of feature blocks that arrive one after another.

    Memory holds one running sum, one count of finite values and one cell count per
    protein, so any number of blocks (row groups, batches) can be added.

    Examples
    --------
    >>> means = ProteinMeans()
    >>> _ = means.add(["B", "A", "B"], np.array([[1.0, 0.0], [2.0, 4.0], [np.nan, 2.0]]))
    >>> _ = means.add(["B", "unknown"], np.array([[3.0, 4.0], [9.0, 9.0]]))
    >>> proteins, matrix, cells = means.result()
    >>> proteins, matrix.tolist(), cells.tolist()
    (['A', 'B'], [[2.0, 4.0], [2.0, 2.0]], [1, 3])
    """

    def __init__(self) -> None:
        self._sums: dict[str, np.ndarray] = {}
        self._finite: dict[str, np.ndarray] = {}
        self._cells: dict[str, int] = {}

    def add(self, proteins: Sequence[str] | np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Add a block of rows.

        Parameters
        ----------
        proteins : sequence of str, length n
            The protein of each row.
        values : numpy.ndarray, shape (n, d)
            Features; NaN and infinite values are left out of the means.

        Returns
        -------
        (numpy.ndarray, numpy.ndarray)
            The block's distinct proteins (sorted) and each row's position among them
            (``numpy.unique(proteins, return_inverse=True)``), for per-protein tallies.
        """
        proteins = np.asarray(proteins, dtype=str)
        values = np.asarray(values, dtype=np.float64)
        finite = np.isfinite(values)
        uniq, inverse = np.unique(proteins, return_inverse=True)
        block_sum = np.zeros((len(uniq), values.shape[1]))
        block_finite = np.zeros((len(uniq), values.shape[1]))
        np.add.at(block_sum, inverse, np.where(finite, values, 0.0))
        np.add.at(block_finite, inverse, finite)
        block_cells = np.bincount(inverse, minlength=len(uniq))
        for k, protein in enumerate(uniq.tolist()):
            self._sums[protein] = self._sums.get(protein, 0.0) + block_sum[k]
            self._finite[protein] = self._finite.get(protein, 0.0) + block_finite[k]
            self._cells[protein] = self._cells.get(protein, 0) + int(block_cells[k])
        return uniq, inverse

    def result(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """The means of every known protein.

        Returns
        -------
        proteins : list of str
            Sorted, without :data:`deeploc_keras.data.store.UNKNOWN_PROTEIN`.
        means : numpy.ndarray, shape (len(proteins), d), float64
            NaN where a protein has no finite value of a feature.
        cells : numpy.ndarray of int64, shape (len(proteins),)
            Rows added per protein.
        """
        known = sorted(p for p in self._sums if p != UNKNOWN_PROTEIN)
        width = len(next(iter(self._sums.values()))) if self._sums else 0
        if not known:
            return known, np.zeros((0, width)), np.zeros(0, dtype=np.int64)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.stack([self._sums[p] / self._finite[p] for p in known])
        return known, means, np.asarray([self._cells[p] for p in known], dtype=np.int64)


def aggregate_proteins(
    cells_path: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    info: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> pd.DataFrame:
    """Average a per-cell profile file into one row per protein (NaN-aware mean).

    Streams the per-cell file by row group, so memory is bounded by one row
    group plus one running sum per protein.

    Parameters
    ----------
    cells_path : str or os.PathLike
        A per-cell Parquet file with ``Metadata_Protein``.
    out_path : str or os.PathLike
        Destination ``proteins.parquet``.
    info : dict, optional
        Extra key-value metadata (defaults to the cell file's).
    overwrite : bool, default False

    Returns
    -------
    pandas.DataFrame
        The protein table (``Metadata_Protein``, ``Metadata_Label`` = most common
        cell label, ``Metadata_Plate`` = first plate, ``Metadata_Count`` = cells).

    Raises
    ------
    InputError
        If every protein id is ``unknown``.
    """
    cells_path = Path(cells_path)
    parquet = pq.ParquetFile(cells_path)
    raw = (parquet.schema_arrow.metadata or {}).get(PARQUET_METADATA_KEY)
    file_info = json.loads(raw) if raw else {}
    names = [c for c in parquet.schema_arrow.names if not c.startswith(METADATA_PREFIX)]
    accumulator = ProteinMeans()
    labels: dict[str, dict[str, int]] = {}
    plates: dict[str, str] = {}
    for group in range(parquet.num_row_groups):
        frame = parquet.read_row_group(group).to_pandas()
        uniq, inverse = accumulator.add(frame["Metadata_Protein"].to_numpy(dtype=str),
                                        frame[names].to_numpy(dtype=np.float64))
        label_col = frame["Metadata_Label"].to_numpy(dtype=str) if "Metadata_Label" in frame else None
        plate_col = frame["Metadata_Plate"].to_numpy(dtype=str) if "Metadata_Plate" in frame else None
        for k, protein in enumerate(uniq):
            rows = inverse == k
            if label_col is not None:
                tally = labels.setdefault(protein, {})
                for label, count in zip(*np.unique(label_col[rows], return_counts=True), strict=True):
                    tally[label] = tally.get(label, 0) + int(count)
            if plate_col is not None:
                plates.setdefault(protein, plate_col[rows][0])
    known, means, n_cells = accumulator.result()
    if not known:
        raise file_error(cells_path, "every cell's protein is 'unknown'; per-protein profiles need protein ids "
                                     "(re-import with --metadata)")
    meta = pd.DataFrame({
        "Metadata_Protein": known,
        "Metadata_Label": [max(labels[p].items(), key=lambda kv: kv[1])[0] if labels.get(p) else "" for p in known],
        "Metadata_Plate": [plates.get(p, "") for p in known],
        "Metadata_Count": n_cells,
    })
    with ProfileWriter(out_path, info={**file_info, **(info or {}), "level": "protein"}, overwrite=overwrite) as writer:
        writer.write(meta, means, names)
    return pd.concat([meta, pd.DataFrame(means, columns=names)], axis=1)
