"""Measure every selected cell of a store in parallel chunks; write per-cell and per-protein profiles.

The store is streamed chunk by chunk (``chunk_cells`` cells); chunks are measured
by a local process pool (default), or by Dask (``dask.distributed``) workers; each
finished chunk is written atomically to ``OUT/.chunks/`` so an interrupted run
resumes without recomputing it. Results are ordered by cell index, so they are
identical whatever the parallelism. The outputs are written beside, in ``OUT/.chunks/outputs/``,
and moved into place only once every one of them is complete, so an interrupted run
(``overwrite`` included) leaves the previous outputs as they were; ``overwrite`` replaces
only outputs ``OUT/extract.json`` shows to be this runner's. The run holds the lock of
``OUT`` (one writer). Outputs::

    OUT/cells.parquet          Metadata_ columns + CellProfiler features, one row per cell (raw)
    OUT/proteins_raw.parquet   nanmean per protein, Metadata_Count (the study's raw profiles)
    OUT/proteins.parquet       proteins_raw normalized across proteins and feature-selected
                               (deeploc_keras.core.processing; what was applied is in its Parquet metadata)
    OUT/cells_pca.parquet      (with pca) cells projected on the PCA, CellProfilerPCA_pc_0000 ...
    OUT/proteins_pca.parquet   (with pca) the projected cells averaged per protein
    OUT/pca.npz                (with pca) the fitted transform (CellProfilerPCA.load)
    OUT/extract.json           resolved configuration, versions, store fingerprint
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import multiprocessing
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from deeploc_keras.core.console import progress
from deeploc_keras.core.errors import InputError, check_positive_int, file_error
from deeploc_keras.core.lifetime import exit_with_parent
from deeploc_keras.core.locking import output_lock
from deeploc_keras.core.outputs import atomic_path, check_own_outputs, made_dir, publish, remove_path
from deeploc_keras.core.ownership import record_name
from deeploc_keras.core.processing import ProfileProcessing, process_profile_file
from deeploc_keras.core.profiles import ProfileWriter, aggregate_proteins, cell_metadata, feature_names
from deeploc_keras.core.records import write_run_record
from deeploc_keras.data.store import CellStore

from .masks import cell_mask
from .measure import FeatureConfig, feature_columns, measure_cell
from .pca import CellProfilerPCA, validate_variance

__all__ = ["METHOD", "PCA_METHOD", "OUTPUT_NAMES", "mask_channel", "measure_images",
           "extract_cellprofiler"]

logger = logging.getLogger(__name__)

METHOD = "CellProfiler"
PCA_METHOD = "CellProfilerPCA"
#: Files written into ``out_dir`` (the PCA ones only with ``pca``).
OUTPUT_NAMES = ("cells.parquet", "proteins_raw.parquet", "proteins.parquet", "cells_pca.parquet",
                "proteins_pca.parquet", "pca.npz", "extract.json")
_CHUNK_DIR = ".chunks"
_STAGING = "outputs"
_COMMAND = "extract --method cellprofiler"
_FLAGS = ("Metadata_MaskFallback", "Metadata_NoSignal")


def mask_channel(channel_names: list[str]) -> int:
    """Index of the channel the cell mask is drawn from: ``RFP`` if present, else the last channel.

    Examples
    --------
    >>> mask_channel(["GFP", "RFP"]), mask_channel(["protein", "marker"])
    (1, 1)
    """
    return channel_names.index("RFP") if "RFP" in channel_names else len(channel_names) - 1


def measure_images(images: np.ndarray, channel_names: list[str], *, config: FeatureConfig | None = None,
                   scale: float = 65535.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mask and measure a block of crops (the unit of work of one chunk).

    Parameters
    ----------
    images : numpy.ndarray, shape (n, H, W, C)
        Raw store values; divided by ``scale`` to reach CellProfiler's [0, 1] floats.
    channel_names : list of str
    config : FeatureConfig, optional
    scale : float, default 65535
        uint16 stores: 65535; float stores: 1 (or the store's maximum with ``rescale``).

    Returns
    -------
    features : numpy.ndarray, shape (n, n_features), float64
        NaN rows for crops with no signal (every pixel 0).
    fallback : numpy.ndarray of bool, shape (n,)
        The mask is the centred disc (see :func:`cellprofiler_features.masks.cell_mask`).
    no_signal : numpy.ndarray of bool, shape (n,)
    """
    config = config or FeatureConfig()
    columns = feature_columns(channel_names, config)
    features = np.full((len(images), len(columns)), np.nan)
    fallback = np.zeros(len(images), dtype=bool)
    no_signal = np.zeros(len(images), dtype=bool)
    marker = mask_channel(channel_names)
    for i, raw in enumerate(images):
        crop = raw.astype(np.float64) / scale
        if not crop.any():
            no_signal[i] = fallback[i] = True
            continue
        mask, fallback[i] = cell_mask(crop[..., marker])
        features[i] = list(measure_cell(crop, mask, channel_names, config).values())
    return features, fallback, no_signal


def _scan(store: CellStore, selected: np.ndarray, *, rescale: bool) -> float:
    """Check the selected crops once and return the divisor that maps them to [0, 1]."""
    if np.issubdtype(store.dtype, np.integer):
        scale = float(np.iinfo(store.dtype).max)
        bounds = None
    else:
        scale, bounds = 1.0, [np.inf, -np.inf]
    n_nan = n_empty = 0
    whole = np.zeros(len(store), dtype=bool)
    whole[selected] = True
    scan_all = rescale and bounds is not None
    step = store.chunk_cells
    for start in range(0, len(store), step):
        rows = whole[start:start + step]
        if not scan_all and not rows.any():
            continue
        block = store.images(slice(start, start + step))
        if scan_all:
            bounds[1] = max(bounds[1], float(np.nanmax(block, initial=-np.inf)))
        block = block[rows]
        if bounds is not None:
            n_nan += int(np.isnan(block).sum())
            bounds[0] = min(bounds[0], float(np.nanmin(block, initial=np.inf)))
            if not scan_all:
                bounds[1] = max(bounds[1], float(np.nanmax(block, initial=-np.inf)))
        n_empty += int((~block.reshape(len(block), -1).any(axis=1)).sum())
    if n_nan:
        raise file_error(store.path, f"{n_nan} NaN pixels in the selected cells; CellProfiler features need "
                                     f"finite images (fix or drop those cells)")
    if n_empty == len(selected):
        raise file_error(store.path, f"every selected cell ({len(selected)}) is empty (all pixels 0); nothing to "
                                     f"measure")
    if bounds is not None:
        if bounds[0] < 0:
            raise file_error(store.path, f"float images have negative values (min {bounds[0]:.4g}); CellProfiler "
                                         f"loads images as floats in [0, 1]")
        if rescale:
            scale = bounds[1] if bounds[1] > 0 else 1.0
            logger.info("rescale: dividing every crop by the store's maximum %.6g", scale)
        elif bounds[1] > 1:
            raise file_error(store.path, f"float images exceed 1 (max {bounds[1]:.6g}); CellProfiler loads images "
                                         f"as floats in [0, 1]. Store uint16 counts, or pass --rescale to divide "
                                         f"by the store's maximum")
    if n_empty:
        logger.warning("%d of %d selected cells are empty (all pixels 0): flagged Metadata_NoSignal, features NaN",
                       n_empty, len(selected))
    return scale


class _Executor:
    """Submit chunk jobs to a process pool, a Dask client, or run them inline (one worker)."""

    def __init__(self, workers: int | None, scheduler: Any) -> None:
        self._client = self._cluster = self._pool = None
        self._own_client = False
        if scheduler is None:
            self.workers = int(workers or os.cpu_count() or 1)
            if self.workers > 1:
                # forkserver, not fork: the caller may hold TensorFlow or other threaded state that a forked
                # child would inherit half-initialised (reproduce runs training before features); the server
                # imports the measurement stack once, so workers start without re-importing it
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload([__name__])
                self._pool = concurrent.futures.ProcessPoolExecutor(max_workers=self.workers, mp_context=context,
                                                                    initializer=exit_with_parent,
                                                                    initargs=(os.getpid(),))
            self.kind = f"processes ({self.workers})" if self.workers > 1 else "serial"
            return
        try:
            from distributed import Client, LocalCluster
        except ImportError:  # pragma: no cover - dask is an extra
            raise InputError("scheduler needs Dask: pip install 'deeploc-keras[dask]'") from None
        if isinstance(scheduler, Client):
            self._client = scheduler
        elif scheduler == "local":
            _quiet_dask()
            self._cluster = LocalCluster(n_workers=int(workers or os.cpu_count() or 1), threads_per_worker=1,
                                         processes=True, dashboard_address=None)
            self._client, self._own_client = Client(self._cluster), True
        else:
            _quiet_dask()
            try:
                self._client, self._own_client = Client(str(scheduler)), True
            except (OSError, ValueError, TypeError) as exc:
                raise InputError(f"cannot reach the Dask scheduler at {scheduler!r}: {_first_line(exc)}") from None
        self.address = scheduler if isinstance(scheduler, str) and scheduler != "local" else \
            str(self._client.scheduler.address)
        self.workers = max(len(self._client.scheduler_info().get("workers", {})), 1)
        self.kind = f"dask ({self._client.scheduler.address}, {self.workers} workers)"

    def map(self, function: Callable, jobs: Iterator[tuple[int, tuple]]) -> Iterator[tuple[int, Any]]:
        """Yield ``(key, result)`` as jobs finish, with at most 2 x workers jobs in flight."""
        if self._pool is None and self._client is None:
            for key, args in jobs:
                yield key, function(*args)
            return
        if self._client is not None:
            from distributed import wait

            def submit(args):
                return self._client.submit(function, *args, pure=False)

            def wait_any(futures):
                return wait(futures, return_when="FIRST_COMPLETED").done
        else:
            def submit(args):
                return self._pool.submit(function, *args)

            def wait_any(futures):
                return concurrent.futures.wait(futures, return_when=concurrent.futures.FIRST_COMPLETED).done
        in_flight: dict[Any, int] = {}
        jobs = iter(jobs)
        try:
            while True:
                for key, args in jobs:
                    in_flight[submit(args)] = key
                    if len(in_flight) >= 2 * self.workers:
                        break
                if not in_flight:
                    return
                for future in wait_any(list(in_flight)):
                    yield in_flight.pop(future), future.result()
        except (concurrent.futures.CancelledError, OSError) as exc:
            if self._client is None:
                raise
            reason = "connection lost" if isinstance(exc, concurrent.futures.CancelledError) else _first_line(exc)
            raise InputError(f"the Dask scheduler at {self.address} stopped answering mid-run ({reason}); the "
                             "chunks measured so far are kept: run again to resume") from None
        finally:
            for future in in_flight:
                future.cancel()

    def terminate(self) -> None:
        """Stop local workers now (an error or an interrupt): their running chunks are not waited for."""
        if self._pool is not None:
            for process in list(getattr(self._pool, "_processes", {}).values()):
                process.terminate()
            self._pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        try:
            if self._own_client:
                self._client.close()
            if self._cluster is not None:
                self._cluster.close()
        except (OSError, TimeoutError, concurrent.futures.CancelledError) as exc:
            logger.debug("closing the Dask client: %s", exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _quiet_dask() -> None:
    """Leave the reporting of a lost scheduler to the runner (one line), unless debugging.

    Dask's loggers carry levels of their own (its logging configuration), so each is set.
    """
    if logging.getLogger(__name__).getEffectiveLevel() <= logging.DEBUG:
        return
    import distributed  # noqa: F401 - creates Dask's loggers

    names = [name for name in logging.root.manager.loggerDict if name.split(".")[0] == "distributed"]
    for name in ["distributed", *names]:
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _check_outputs(out_dir: Path, *, overwrite: bool) -> None:
    """Refuse existing outputs without ``overwrite``, and outputs that are not this runner's with it."""
    check_own_outputs(out_dir, OUTPUT_NAMES, command="extract", overwrite=overwrite)


def _prepare_out(out_dir: Path, manifest: dict[str, Any], *, overwrite: bool) -> Path:
    """Check the outputs; return the chunk directory (kept if it holds this same run) with an empty staging folder."""
    _check_outputs(out_dir, overwrite=overwrite)
    chunks = out_dir / _CHUNK_DIR
    manifest_path = chunks / "manifest.json"
    if chunks.exists():
        try:
            previous = json.loads(manifest_path.read_text()) if manifest_path.is_file() else None
        except ValueError:
            previous = None
        if previous != manifest:
            if not overwrite:
                raise file_error(chunks, "holds finished chunks of a different run (store, split, chunk size or "
                                         "configuration differ); pass --overwrite to discard them")
            remove_path(chunks)
    chunks.mkdir(parents=True, exist_ok=True)
    if not manifest_path.is_file():
        with atomic_path(manifest_path) as tmp:
            tmp.write_text(json.dumps(manifest, sort_keys=True))
    remove_path(chunks / _STAGING)
    (chunks / _STAGING).mkdir()
    return chunks


def _publish_outputs(staging: Path, out_dir: Path) -> None:
    """Move every finished output into ``out_dir`` (the record last); drop outputs of a previous run not written now."""
    names = [name for name in OUTPUT_NAMES if name != record_name("extract")] + [record_name("extract")]
    for name in names:
        if (staging / name).exists():
            publish(staging / name, out_dir / name, replace=True)
        else:
            remove_path(out_dir / name)


def _write_chunk(path: Path, meta: pd.DataFrame, result: tuple[np.ndarray, ...], columns: list[str]) -> None:
    features, fallback, no_signal = result
    meta = meta.assign(Metadata_MaskFallback=fallback, Metadata_NoSignal=no_signal)
    with ProfileWriter(path, info={"method": METHOD}) as writer:
        writer.write(meta, features, columns)


def _concat_chunks(paths: list[Path], out: Path, info: dict[str, Any]) -> None:
    with ProfileWriter(out, info=info) as writer:
        for path in paths:
            frame = pq.read_table(path).to_pandas()
            meta_cols = [c for c in frame.columns if c.startswith("Metadata_")]
            names = [c for c in frame.columns if not c.startswith("Metadata_")]
            writer.write(frame[meta_cols], frame[names].to_numpy(), names)


def _fit_pca(cells_path: Path, out_dir: Path, variance: float, *, seed: int) -> CellProfilerPCA:
    """Fit the PCA on every measured cell, save it, and project the cells row group by row group."""
    parquet = pq.ParquetFile(cells_path)
    names = [c for c in parquet.schema_arrow.names if not c.startswith("Metadata_")]
    features = pq.read_table(cells_path, columns=names).to_pandas()
    pca = CellProfilerPCA(variance, seed=seed).fit(features)
    pca.save(out_dir / "pca.npz", overwrite=True)
    out_names = feature_names(PCA_METHOD, "pc", pca.n_components_)
    info = {"method": PCA_METHOD, "variance": variance, "n_components": pca.n_components_, "pca_file": "pca.npz"}
    with ProfileWriter(out_dir / "cells_pca.parquet", info=info) as writer:
        for group in range(parquet.num_row_groups):
            frame = parquet.read_row_group(group).to_pandas()
            meta_cols = [c for c in frame.columns if c.startswith("Metadata_")]
            writer.write(frame[meta_cols], pca.transform(frame[names]), out_names)
    return pca


def extract_cellprofiler(
    store: str | os.PathLike | CellStore,
    out_dir: str | os.PathLike,
    *,
    split: str = "test",
    pca: float | None = None,
    workers: int | None = None,
    scheduler: Any = None,
    rescale: bool = False,
    overwrite: bool = False,
    chunk_cells: int = 256,
    config: FeatureConfig | None = None,
    processing: ProfileProcessing | None = None,
) -> dict[str, Any]:
    """CellProfiler features of the selected cells, per cell and per protein (optionally PCA-projected).

    Parameters
    ----------
    store : str, os.PathLike or CellStore
        The cell store (uint16 counts are divided by 65535; float32 must lie in [0, 1]).
    out_dir : str or os.PathLike
        Output directory (see the module docstring for its files).
    split : {"train", "val", "test", "all"}, default "test"
    pca : float, optional
        Fraction of the variance the PCA keeps (the study: 0.99); None skips the PCA.
    workers : int, optional
        Parallel workers; default ``os.cpu_count()``. 1 runs inline. With ``scheduler="local"``,
        the number of Dask LocalCluster workers.
    scheduler : str or distributed.Client, optional
        None: a local process pool. ``"local"``: a Dask LocalCluster of ``workers`` processes.
        An address (``tcp://host:8786``): the Dask scheduler of a cluster, reached within Dask's
        connect timeout (``distributed.comm.timeouts.connect``, 30 s by default). A Client: use it.
    rescale : bool, default False
        Float stores with values above 1: divide every crop by the store's maximum (over all
        cells, so every split is scaled alike) instead of raising.
    overwrite : bool, default False
        Replace existing outputs (and discard chunks of a different run).
    chunk_cells : int, default 256
        Cells per unit of work (and per resumable chunk file).
    config : FeatureConfig, optional
        Families and settings; default ``FeatureConfig()`` (265 columns for 2 channels).
    processing : ProfileProcessing, optional
        How ``proteins_raw.parquet`` becomes ``proteins.parquet``; default ``ProfileProcessing()``
        (pycytominer's ``mad_robustize`` across proteins, then drop_na_columns, variance_threshold and
        correlation_threshold).

    Returns
    -------
    dict
        cells, proteins, features, mask_fallback, no_signal, chunks (computed, resumed),
        processing (the record of :func:`deeploc_keras.core.processing.process_profiles`),
        pca_components, seconds, executor, outputs.

    Raises
    ------
    InputError
        Empty selection, NaN pixels, floats above 1 without ``rescale``, every cell empty,
        unknown protein ids, a PCA fraction outside (0, 1], or chunks of another run.
    OutputExistsError
        If an output exists and ``overwrite`` is False.
    """
    started = time.perf_counter()
    if pca is not None:
        pca = validate_variance(pca)
    check_positive_int("chunk_cells", chunk_cells)
    check_positive_int("workers", workers, optional=True)
    config = config or FeatureConfig()
    processing = processing or ProfileProcessing()
    store = store if isinstance(store, CellStore) else CellStore.open(store)
    channel_names = list(store.channel_names)
    out_dir = Path(out_dir)
    selected = _checked_selection(store, split, out_dir, overwrite=overwrite)
    scale = _scan(store, selected, rescale=rescale)
    columns = feature_columns(channel_names, config)
    fingerprint = store.fingerprint()
    manifest = {"store": fingerprint, "split": split, "chunk_cells": int(chunk_cells), "scale": scale,
                "config": config.to_dict(), "channel_names": channel_names, "n_cells": int(selected.size)}
    executor = _Executor(workers, scheduler)
    try:
        with made_dir(out_dir), output_lock(out_dir):
            chunk_dir = _prepare_out(out_dir, manifest, overwrite=overwrite)
            blocks = [selected[i:i + chunk_cells] for i in range(0, selected.size, chunk_cells)]
            paths = [chunk_dir / f"chunk_{k:06d}.parquet" for k in range(len(blocks))]
            pending = [k for k, path in enumerate(paths) if not path.is_file()]
            if len(pending) < len(blocks):
                logger.info("resuming: %d of %d chunks already measured", len(blocks) - len(pending), len(blocks))
            _measure_chunks(store, blocks, paths, pending, executor=executor, channel_names=channel_names,
                            config=config, scale=scale, columns=columns)
            run = {"split": split, "pca": pca, "workers": workers, "rescale": rescale, "chunk_cells": int(chunk_cells),
                   "scale": scale, "fingerprint": fingerprint, "scheduler": scheduler, "executor": executor.kind}
            summary = _write_outputs(paths, chunk_dir / _STAGING, store=store, n_cells=int(selected.size),
                                     channel_names=channel_names, config=config, processing=processing,
                                     columns=columns, run=run)
            summary["chunks"] = {"computed": len(pending), "resumed": len(blocks) - len(pending)}
            _publish_outputs(chunk_dir / _STAGING, out_dir)
            shutil.rmtree(chunk_dir)
    finally:
        executor.close()
    summary["seconds"] = round(time.perf_counter() - started, 3)
    summary["outputs"] = [str(out_dir / name) for name in summary.pop("written")]
    logger.info("CellProfiler features: %s", summary)
    return summary


def _write_outputs(paths: list[Path], staging: Path, *, store: CellStore, n_cells: int, channel_names: list[str],
                   config: FeatureConfig, processing: ProfileProcessing, columns: list[str],
                   run: dict[str, Any]) -> dict[str, Any]:
    """Every output of the measured chunks, written into ``staging``; the summary (``written``: the file names)."""
    info = {"method": METHOD, "store_fingerprint": run["fingerprint"], "split": run["split"], "scale": run["scale"]}
    _concat_chunks(paths, staging / "cells.parquet", info)
    proteins = aggregate_proteins(staging / "cells.parquet", staging / "proteins_raw.parquet", overwrite=True)
    processed = process_profile_file(staging / "proteins_raw.parquet", staging / "proteins.parquet", processing,
                                     overwrite=True)
    flags = pq.read_table(staging / "cells.parquet", columns=list(_FLAGS)).to_pandas()
    summary: dict[str, Any] = {
        "cells": n_cells, "proteins": len(proteins), "features": len(columns),
        "mask_fallback": int(flags["Metadata_MaskFallback"].sum()), "no_signal": int(flags["Metadata_NoSignal"].sum()),
        "pca_components": None, "executor": run["executor"], "processing": processed,
    }
    written = ["cells.parquet", "proteins_raw.parquet", "proteins.parquet"]
    if run["pca"] is not None:
        fitted = _fit_pca(staging / "cells.parquet", staging, run["pca"], seed=0)
        aggregate_proteins(staging / "cells_pca.parquet", staging / "proteins_pca.parquet", overwrite=True)
        summary["pca_components"] = fitted.n_components_
        written += ["cells_pca.parquet", "proteins_pca.parquet", "pca.npz"]
    scheduler = run["scheduler"]
    run_config = {"method": METHOD, "split": run["split"], "pca": run["pca"], "workers": run["workers"],
                  "scheduler": str(scheduler) if scheduler is not None else None, "rescale": run["rescale"],
                  "chunk_cells": run["chunk_cells"], "scale": run["scale"],
                  "mask_channel": channel_names[mask_channel(channel_names)], "features": config.to_dict(),
                  "n_features": len(columns), "processing": processing.to_dict()}
    write_run_record(staging / record_name("extract"), command=_COMMAND, config=run_config, seed=0,
                     inputs={"store": run["fingerprint"]})
    summary["written"] = [*written, record_name("extract")]
    return summary


def _checked_selection(store: CellStore, split: str, out_dir: Path, *, overwrite: bool) -> np.ndarray:
    """The cells to measure, after the checks that need no measurement (channels, ids, outputs)."""
    if store.image_shape[-1] != len(store.channel_names):
        raise file_error(store.path, f"{store.image_shape[-1]} channels but {len(store.channel_names)} channel names")
    selected = store.select(split)
    if selected.size == 0:
        raise file_error(store.path, f"no cells selected (split={split!r}, {len(store)} cells in the store)")
    store.require_proteins()
    _check_outputs(out_dir, overwrite=overwrite)
    return selected


def _measure_chunks(store: CellStore, blocks: list[np.ndarray], paths: list[Path], pending: list[int], *,
                    executor: _Executor, channel_names: list[str], config: FeatureConfig, scale: float,
                    columns: list[str]) -> None:
    """Measure the pending blocks of cells on ``executor`` and write each as its chunk file (with progress)."""
    n_cells = sum(len(block) for block in blocks)
    logger.info("measuring %d cells (%d features) in %d chunks with %s", n_cells, len(columns), len(pending),
                executor.kind)
    cells = store.cells
    jobs = ((k, (store.images(blocks[k]), channel_names, config, scale)) for k in pending)
    bar = progress(total=n_cells, initial=n_cells - sum(len(blocks[k]) for k in pending), unit="cell", desc=METHOD)
    try:
        for k, result in executor.map(_measure_job, jobs):
            meta = cell_metadata(cells.iloc[blocks[k]], store.class_names, index=blocks[k])
            _write_chunk(paths[k], meta, result, columns)
            bar.update(len(blocks[k]))
    except BaseException:
        executor.terminate()
        raise
    finally:
        bar.close()


def _measure_job(images: np.ndarray, channel_names: list[str], config: FeatureConfig,
                 scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return measure_images(images, channel_names, config=config, scale=scale)
