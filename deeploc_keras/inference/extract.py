"""Extract per-cell features from a trained model (or CellProfiler) and average them per protein.

Output directory::

    OUT/cells.parquet      one row per cell: Metadata_ columns + features
    OUT/proteins.parquet   nanmean per protein, Metadata_Count
    OUT/extract.json       run record (configuration, versions, model and store hashes)

With ``shard=(i, n)`` only ``OUT/cells.part-<i>-of-<n>.parquet`` (and its
``extract.part-<i>-of-<n>.json``) is written; :func:`merge_shards` concatenates the n
parts in order into ``cells.parquet`` and writes ``proteins.parquet``, once the parts
agree on what they were extracted with (method, layer, model, test-time crops, split, store).

``OUT`` may be a training run's folder: extract writes only these files, and
``overwrite`` replaces them only where ``OUT/extract.json`` shows they are extract's.
A whole extraction holds the lock of ``OUT`` (one writer); shards lock their own files,
so the n shards can run at once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from .._tensorflow import load_tensorflow
from ..core.errors import InputError, check_positive_int, file_error, reading
from ..core.locking import output_lock
from ..core.outputs import atomic_path, check_own_outputs, made_dir
from ..core.profiles import PARQUET_METADATA_KEY, ProfileWriter, aggregate_proteins, cell_metadata, feature_names
from ..core.records import file_sha256, write_run_record
from ..data.order import parse_shard, shard_cells
from ..data.pipeline import StoreData, inference_dataset, predict_batches
from ..data.store import CellStore, check_split
from ..models.info import read_model_info
from ..training.methods import METHODS, Method, get_method
from .trained import default_tta, load_trained, model_method

__all__ = ["extract", "validate_extract", "merge_shards", "shard_name"]

logger = logging.getLogger(__name__)


def shard_name(prefix: str, shard: tuple[int, int], suffix: str) -> str:
    """File name of one shard's output.

    Examples
    --------
    >>> shard_name("cells", (0, 4), ".parquet")
    'cells.part-0-of-4.parquet'
    """
    return f"{prefix}.part-{shard[0]}-of-{shard[1]}{suffix}"


def _feature_model(model: Any, spec: Method, layer: str, tta: str | None) -> Any:
    names = {lyr.name for lyr in model.layers}
    if layer not in names:
        convs = sorted(n for n in names if n.startswith(("conv", "fc", "rfpconv", "logits"))
                       and not n.endswith(("_bn", "_relu", "_float32")))
        raise InputError(f"layer {layer!r} is not in the {spec.name} model; expected one of {convs}")
    return spec.feature_model(model, layer, tta)


def _extract_learned(store: CellStore, cells_path: Path, *, display: str, features_model: Any, layer: str,
                     data: StoreData, info: dict[str, Any], overwrite: bool) -> int:
    """Stream the cells of ``data`` through the feature model into ``cells_path``; returns the cell count."""
    cells = store.cells
    class_names = store.class_names
    names: list[str] | None = None
    with ProfileWriter(cells_path, info=info, overwrite=overwrite) as writer:
        for rows, feats in predict_batches(features_model, data, desc=f"extract {display}"):
            if names is None:
                names = feature_names(display, layer, feats.shape[1])
            writer.write(cell_metadata(cells.iloc[rows], class_names, index=rows), feats, names)
    return data.n_cells


def extract(
    store: str | os.PathLike,
    out: str | os.PathLike,
    *,
    method: str = "deeploc",
    model_path: str | os.PathLike | None = None,
    layer: str | None = None,
    split: str = "test",
    tta: str | None = None,
    batch_size: int = 256,
    shard: str | tuple[int, int] | None = None,
    overwrite: bool = False,
    **method_options: Any,
) -> dict[str, Any]:
    """Write per-cell and per-protein feature profiles of a store.

    Parameters
    ----------
    store : str or os.PathLike
        A cell store with protein ids.
    out : str or os.PathLike
        Output directory (see the module docstring).
    method : {"deeploc", "pci", "pifia", "cellprofiler"}, default "deeploc"
        ``cellprofiler`` calls :func:`cellprofiler_features.runner.extract_cellprofiler`
        with ``method_options`` (``pca``, ``workers``, ``scheduler``, ``rescale``).
    model_path : str or os.PathLike, optional
        ``RUN/best.keras`` of a ``deeploc`` or ``pci`` run; the method it was trained as
        (:func:`~deeploc_keras.inference.trained.model_method`) must match ``method``.
    layer : str, optional
        Layer to read: ``fc_2`` (DeepLoc) or ``conv4_1`` (PCI) by default.
    split : {"train", "val", "test", "all"}, default "test"
    tta : {"center", "5crop"}, optional
        DeepLoc test-time crops; default the model's preset's
        (:func:`~deeploc_keras.inference.trained.default_tta`; ``study``: center, ``kraus2017``: 5crop).
    batch_size : int, default 256
        Cells per step; memory is bounded by one batch.
    shard : "i/n" or (i, n), optional
        Only the i-th (0-based) of n contiguous chunk ranges, written to
        ``cells.part-<i>-of-<n>.parquet``; combine with :func:`merge_shards`.
    overwrite : bool, default False
    **method_options
        Passed to the CellProfiler runner.

    Returns
    -------
    dict
        ``cells`` (path), ``proteins`` (path or None for a shard), ``n_cells``, ``n_features``,
        ``method``, ``layer``, ``split`` and ``n_store_cells`` (every cell of the store); a
        CellProfiler run adds its runner's summary (``summary``).

    Raises
    ------
    InputError
        Unknown choices, a missing or foreign model file, a layer not in the model, unknown
        proteins, an empty selection.
    OutputExistsError
        If an output exists and ``overwrite`` is False.
    """
    validate_extract(store, out, method=method, model_path=model_path, split=split, tta=tta, batch_size=batch_size,
                     shard=shard, overwrite=overwrite, **method_options)
    spec = get_method(method)
    shard_t = parse_shard(shard)
    out = Path(out)
    if spec.extractor is not None:
        return _extract_external(store, out, spec, split=split, shard=shard_t, overwrite=overwrite,
                                 options=method_options)
    load_tensorflow()
    layer = layer or spec.default_layer
    cells_name, config_name = _output_names(shard_t)
    with CellStore.open(store) as cell_store:
        model, model_file = load_trained(model_path, method)
        tta = _check_tta(spec, tta) or default_tta(spec, model.info)
        info = {"method": method, "layer": layer, "model": str(model_file), "model_sha256": file_sha256(model_file),
                "tta": tta, "split": split, "shard": None if shard_t is None else list(shard_t),
                "store_fingerprint": cell_store.fingerprint()}
        # every check (layer, selection) runs before the output directory is created: no partial output
        features_model = _feature_model(model, spec, layer, tta)
        cell_store.require_image_shape(tuple(features_model.inputs[0].shape[1:]), model_file)
        data = inference_dataset(cell_store, split=split, batch_size=batch_size, shard=shard_t)
        n_store_cells = len(cell_store)
        with made_dir(out), output_lock(out) if shard_t is None else contextlib.nullcontext():
            _check_outputs(out, shard_t, overwrite=overwrite, inputs=(store, model_path))
            n_cells = _extract_learned(cell_store, out / cells_name, display=spec.display,
                                       features_model=features_model, layer=layer, data=data, info=info,
                                       overwrite=overwrite)
            proteins = None
            if shard_t is None:
                proteins = _aggregate_or_discard(out / cells_name, out / "proteins.parquet", overwrite=overwrite)
            config = {**info, "store": str(Path(store).resolve()), "out": str(out.resolve()),
                      "batch_size": batch_size}
            write_run_record(out / config_name, command="extract", config=config, seed=None,
                             inputs={"store": info["store_fingerprint"], "model": info["model_sha256"]})
    schema_names = pq.read_schema(out / cells_name).names
    n_features = len(schema_names) - sum(n.startswith("Metadata_") for n in schema_names)
    logger.info("extract: %d cells x %d features -> %s", n_cells, n_features, out / cells_name)
    return {"cells": str(out / cells_name), "proteins": None if proteins is None else str(proteins),
            "n_cells": n_cells, "n_features": n_features, "method": method, "layer": layer, "split": split,
            "n_store_cells": n_store_cells}


def _output_names(shard: tuple[int, int] | None) -> tuple[str, str]:
    """The cells and record file names of a whole run or of one shard."""
    if shard is None:
        return "cells.parquet", "extract.json"
    return shard_name("cells", shard, ".parquet"), shard_name("extract", shard, ".json")


def _check_outputs(out: Path, shard: tuple[int, int] | None, *, overwrite: bool, inputs: tuple) -> None:
    """Refuse existing outputs (without ``overwrite``) and outputs that are not extract's own (with it)."""
    cells_name, config_name = _output_names(shard)
    names = [cells_name, config_name] + (["proteins.parquet"] if shard is None else [])
    check_own_outputs(out, names, command="extract", overwrite=overwrite, inputs=inputs)


def validate_extract(
    store: str | os.PathLike,
    out: str | os.PathLike,
    *,
    method: str = "deeploc",
    model_path: str | os.PathLike | None = None,
    split: str = "test",
    tta: str | None = None,
    batch_size: int = 256,
    shard: str | tuple[int, int] | None = None,
    overwrite: bool = False,
    **method_options: Any,
) -> None:
    """Check an extraction without TensorFlow and without writing anything.

    Checks the choices, the store (protein ids, cells in the selection), the model file
    (present, and of ``method`` when its ``info`` says so) and the outputs.
    :func:`extract` calls it before it loads TensorFlow; parameters are those of
    :func:`extract` (the layer is checked once the model is loaded).

    Raises
    ------
    InputError, OutputExistsError
        As :func:`extract` does for these checks.

    Examples
    --------
    >>> validate_extract("cells.h5", "profiles", model_path=None)
    Traceback (most recent call last):
    ...
    deeploc_keras.core.errors.InputError: method 'deeploc' needs a trained model; pass model_path (--model RUN/best.keras)
    """
    spec = get_method(method)
    check_split(split)
    known_tta = sorted({mode for other in METHODS.values() for mode in other.tta_modes})
    if tta is not None and tta not in known_tta:
        raise InputError(f"unknown tta {tta!r}; expected one of {known_tta}")
    check_positive_int("batch_size", batch_size)
    shard_t = parse_shard(shard)
    out = Path(out)
    if spec.extractor is not None:
        return
    if method_options:
        external = [name for name, other in METHODS.items() if other.extractor is not None]
        raise InputError(f"options {sorted(method_options)} apply to method {external} only")
    if model_path is None:
        raise InputError(f"method {method!r} needs a trained model; pass model_path (--model RUN/best.keras)")
    model_file = Path(model_path)
    if not model_file.is_file():
        raise file_error(model_file, "no such model file")
    recorded = model_method(read_model_info(model_file))
    if recorded is not None and recorded != method:
        raise file_error(model_file, f"is a {recorded!r} model, not {method!r}; pass --method {recorded}")
    _check_outputs(out, shard_t, overwrite=overwrite, inputs=(store, model_path))
    with CellStore.open(store) as cell_store:
        cell_store.require_proteins()
        if shard_cells(cell_store.select(split), chunk_cells=cell_store.chunk_cells, shard=shard_t).size == 0:
            where = f"split {split!r}" + (f", shard {shard}" if shard is not None else "")
            raise file_error(cell_store.path, f"no cells in {where}")


def _extract_external(store: str | os.PathLike, out: Path, spec: Method, *, split: str,
                      shard: tuple[int, int] | None, overwrite: bool, options: dict[str, Any]) -> dict[str, Any]:
    """Features of a method without a network (CellProfiler): its own extractor writes ``out``."""
    if shard is not None:
        learned = [name for name, other in METHODS.items() if other.feature_model is not None]
        raise InputError(f"--shard applies to {' and '.join(learned)}; the {spec.name} runner parallelises with "
                         "--workers/--scheduler")
    with CellStore.open(store) as cell_store:
        cell_store.require_proteins()
        summary = spec.extractor(cell_store, out, split=split, overwrite=overwrite, **options)
        n_store_cells = len(cell_store)
    proteins = out / "proteins.parquet"
    return {"cells": str(out / "cells.parquet"), "proteins": str(proteins) if proteins.is_file() else None,
            "n_cells": int(summary["cells"]), "n_features": int(summary["features"]), "method": spec.name,
            "layer": None, "split": split, "n_store_cells": n_store_cells, "summary": summary}


def _check_tta(spec: Method, tta: str | None) -> str | None:
    """``tta`` where the method takes test-time crops; refused for a method that takes none."""
    if tta is not None and not spec.tta_modes:
        with_tta = [name for name, other in METHODS.items() if other.tta_modes]
        raise InputError(f"tta applies to method {' or '.join(repr(n) for n in with_tta)} only")
    return tta


def _aggregate_or_discard(cells_path: Path, proteins_path: Path, *, overwrite: bool) -> Path:
    """Write the protein means; remove the cells file when they cannot be computed (no partial output)."""
    try:
        aggregate_proteins(cells_path, proteins_path, overwrite=overwrite)
    except InputError:
        cells_path.unlink()
        raise
    return proteins_path


#: What the shards of one extraction share (recorded in each part's Parquet metadata).
_SHARD_PROVENANCE = ("method", "layer", "model_sha256", "tta", "split", "store_fingerprint")


def _shard_info(part: Path) -> dict[str, Any]:
    with reading(part, "as a shard"):
        schema = pq.read_schema(part)
    raw = (schema.metadata or {}).get(PARQUET_METADATA_KEY)
    try:
        info = json.loads(raw) if raw else None
    except ValueError:
        info = None
    if not isinstance(info, dict):
        raise file_error(part, "records no provenance (method, model, store); merge only shards written by "
                               "extract --shard")
    return {**info, "_columns": schema.names}


def _check_shards(parts: list[Path]) -> None:
    """Refuse shards extracted with different methods, layers, models, crops, splits or stores."""
    first = _shard_info(parts[0])
    for part in parts[1:]:
        info = _shard_info(part)
        for key in (*_SHARD_PROVENANCE, "_columns"):
            if info.get(key) != first.get(key):
                what = "feature columns" if key == "_columns" else key
                shown = "" if key == "_columns" else f" ({info.get(key)!r}, not {first.get(key)!r})"
                raise file_error(part, f"was extracted with another {what} than {parts[0].name}{shown}; merge "
                                       "the shards of one extraction only (same --model, --method, --layer, "
                                       "--tta, --split and store)")


def merge_shards(out: str | os.PathLike, *, overwrite: bool = False) -> dict[str, Any]:
    """Concatenate ``cells.part-<i>-of-<n>.parquet`` in shard order and write the protein means.

    Parameters
    ----------
    out : str or os.PathLike
        The directory the shards were written to.
    overwrite : bool, default False

    Returns
    -------
    dict
        ``cells``, ``proteins`` (paths) and ``n_cells``.

    Raises
    ------
    InputError
        If no shard is found, shards of different n are mixed, one is missing, or the shards
        were extracted with different methods, layers, models, test-time crops, splits or stores.
    """
    out = Path(out)
    parts = sorted(out.glob("cells.part-*-of-*.parquet"))
    if not parts:
        raise file_error(out, "no shard files cells.part-<i>-of-<n>.parquet to merge")
    parsed = sorted((int(p.name.split("-")[1]), int(p.name.split("-")[3].split(".")[0]), p) for p in parts)
    totals = {n for _, n, _ in parsed}
    if len(totals) != 1:
        raise file_error(out, f"shards of different totals {sorted(totals)}; keep the parts of one run only")
    total = totals.pop()
    missing = sorted(set(range(total)) - {i for i, _, _ in parsed})
    if missing:
        raise file_error(out, f"missing shard(s) {missing} of {total}; run extract --shard i/{total} for them")
    _check_shards([p for _, _, p in parsed])
    names = ["cells.parquet", "proteins.parquet", "extract.json"]
    check_own_outputs(out, names, command="extract", overwrite=overwrite)
    n_cells = 0
    with output_lock(out):
        check_own_outputs(out, names, command="extract", overwrite=overwrite)
        cells_path = out / "cells.parquet"
        with atomic_path(cells_path, overwrite=overwrite) as tmp:
            schema = pq.read_schema(parsed[0][2])
            info = {**json.loads(schema.metadata[PARQUET_METADATA_KEY]), "shard": None}
            schema = schema.with_metadata({**schema.metadata, PARQUET_METADATA_KEY: json.dumps(info).encode()})
            with pq.ParquetWriter(tmp, schema) as writer:
                for _, _, part in parsed:
                    table = pq.read_table(part)
                    writer.write_table(table.cast(schema))
                    n_cells += table.num_rows
        aggregate_proteins(cells_path, out / "proteins.parquet", info={"shard": None}, overwrite=overwrite)
        write_run_record(out / "extract.json", command="extract --merge-shards",
                         config={key: info.get(key) for key in _SHARD_PROVENANCE} | {"shards": total}, seed=None,
                         inputs={"store": info.get("store_fingerprint"), "model": info.get("model_sha256")})
    return {"cells": str(cells_path), "proteins": str(out / "proteins.parquet"), "n_cells": n_cells}
