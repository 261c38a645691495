from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest
from cp_measure.bulk import get_core_measurements, get_correlation_measurements

from cellprofiler_features import runner
from cellprofiler_features.masks import cell_mask
from cellprofiler_features.pca import CellProfilerPCA
from cellprofiler_features.runner import extract_cellprofiler
from deeploc_keras.core.errors import InputError, OutputExistsError
from deeploc_keras.core.processing import ProfileProcessing, process_profiles
from deeploc_keras.core.profiles import read_profiles


@pytest.fixture(scope="module")
def serial_run(toy_store, tmp_path_factory):
    out = tmp_path_factory.mktemp("cp_serial")
    summary = extract_cellprofiler(toy_store, out, pca=0.99, workers=1, chunk_cells=8)
    return out, summary


def _frame(path):
    return pd.read_parquet(path)


def test_runner_values_equal_direct_cp_measure_calls(serial_run, toy_cells):
    out, summary = serial_run
    cells = _frame(out / "cells.parquet")
    images, proteins = toy_cells
    assert summary["cells"] == len(cells) == len(images) and summary["features"] == 265
    assert list(cells["Metadata_Protein"]) == list(proteins)
    assert list(cells["Metadata_CellIndex"]) == list(range(len(images)))
    core = get_core_measurements(legacy=True, sanitize=False)
    corr = get_correlation_measurements(sanitize=False)
    for i, crop in enumerate(images.astype(np.float64)):
        mask, fallback = cell_mask(crop[..., 1])
        assert cells["Metadata_MaskFallback"][i] == fallback
        labels = mask.astype(np.int32)
        gfp, rfp = crop[..., 0], crop[..., 1]
        direct = {
            "Cells_Intensity_MeanIntensity_GFP": core["intensity"](labels, gfp)["Intensity_MeanIntensity"],
            "Cells_AreaShape_Area": core["sizeshape"](labels, None)["Area"],
            "Cells_AreaShape_Zernike_2_2": core["zernike"](labels, None)["Zernike_2_2"],
            "Cells_Texture_Contrast_GFP_3_00_256": core["texture"](labels, gfp)["Contrast_3_00_256"],
            "Cells_Granularity_2_RFP": core["granularity"](labels, rfp)["Granularity_2"],
            "Cells_RadialDistribution_FracAtD_GFP_1of4":
                core["radial_distribution"](labels, gfp)["RadialDistribution_FracAtD_1of4"],
            "Cells_Correlation_Correlation_GFP_RFP": corr["pearson"](gfp, rfp, labels)["Correlation_Pearson"],
        }
        for name, value in direct.items():
            np.testing.assert_allclose(cells[name][i], np.asarray(value, float)[0], rtol=1e-6, err_msg=name)


def test_runner_writes_proteins_pca_and_record(serial_run):
    out, summary = serial_run
    cells, raw = read_profiles(out / "cells.parquet"), read_profiles(out / "proteins_raw.parquet")
    assert cells.method == "CellProfiler" and raw.method == "CellProfiler"
    assert list(raw.meta["Metadata_Count"]) == [4] * 5
    first = cells.meta["Metadata_Protein"] == raw.meta["Metadata_Protein"][0]
    np.testing.assert_allclose(raw.features[0], np.nanmean(cells.features[first.to_numpy()], axis=0), rtol=1e-5)
    proteins = read_profiles(out / "proteins.parquet")
    expected, record = process_profiles(_frame(out / "proteins_raw.parquet"), ProfileProcessing())
    assert proteins.info["processing"] == record == summary["processing"]
    assert proteins.info["raw_profiles"] == "proteins_raw.parquet" and proteins.method == "CellProfiler"
    assert proteins.feature_names == list(expected.columns[len(proteins.meta.columns):])
    assert 0 < len(proteins.feature_names) < len(raw.feature_names)
    np.testing.assert_allclose(proteins.features, expected[proteins.feature_names].to_numpy(), rtol=1e-5, atol=1e-6)
    pca_cells, pca_proteins = read_profiles(out / "cells_pca.parquet"), read_profiles(out / "proteins_pca.parquet")
    assert pca_proteins.method == "CellProfilerPCA"
    assert pca_proteins.feature_names[0] == "CellProfilerPCA_pc_0000"
    assert pca_cells.features.shape[1] == summary["pca_components"]
    pca = CellProfilerPCA.load(out / "pca.npz")
    assert pca.explained_variance_ratio_.sum() >= 0.99
    frame = _frame(out / "cells.parquet")
    projected = pca.transform(frame[cells.feature_names].to_numpy(np.float64))
    np.testing.assert_allclose(projected, pca_cells.features, rtol=1e-4, atol=1e-4)
    assert (out / "extract.json").is_file() and not (out / ".chunks").exists()


def test_runner_process_pool_identical_to_serial(serial_run, toy_store, tmp_path):
    summary = extract_cellprofiler(toy_store, tmp_path / "pool", workers=2, chunk_cells=8)
    assert summary["executor"] == "processes (2)"
    pd.testing.assert_frame_equal(_frame(tmp_path / "pool" / "cells.parquet"),
                                  _frame(serial_run[0] / "cells.parquet"))


def test_runner_dask_local_cluster_identical_to_serial(serial_run, toy_store, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        summary = extract_cellprofiler(toy_store, tmp_path / "dask", scheduler=client, chunk_cells=8)
    assert summary["executor"].startswith("dask")
    pd.testing.assert_frame_equal(_frame(tmp_path / "dask" / "cells.parquet"),
                                  _frame(serial_run[0] / "cells.parquet"))


def test_runner_resumes_without_recomputing_finished_chunks(serial_run, toy_store, tmp_path, monkeypatch):
    out = tmp_path / "resume"
    write_chunk = runner._write_chunk
    written = []

    def interrupt_after_two(path, *args):
        if len(written) == 2:
            raise KeyboardInterrupt
        write_chunk(path, *args)
        written.append(path)

    monkeypatch.setattr(runner, "_write_chunk", interrupt_after_two)
    with pytest.raises(KeyboardInterrupt):
        extract_cellprofiler(toy_store, out, workers=1, chunk_cells=8)
    assert sorted(p.name for p in (out / ".chunks").glob("*.parquet")) == ["chunk_000000.parquet",
                                                                           "chunk_000001.parquet"]
    assert not (out / "cells.parquet").exists()
    monkeypatch.setattr(runner, "_write_chunk", write_chunk)
    measured = []
    measure = runner.measure_images
    monkeypatch.setattr(runner, "measure_images", lambda images, *a, **k: measured.append(len(images)) or
                        measure(images, *a, **k))
    summary = extract_cellprofiler(toy_store, out, workers=1, chunk_cells=8)
    assert summary["chunks"] == {"computed": 1, "resumed": 2} and measured == [4]
    pd.testing.assert_frame_equal(_frame(out / "cells.parquet"), _frame(serial_run[0] / "cells.parquet"))


def test_runner_flags_no_signal_cells(toy_cells, toy_tools, tmp_path):
    images, proteins = toy_cells
    images = images[:6].copy()
    images[2] = 0
    store = toy_tools[1](tmp_path / "s.h5", images, proteins[:6])
    extract_cellprofiler(store, tmp_path / "out", workers=1)
    cells = _frame(tmp_path / "out" / "cells.parquet")
    assert list(cells["Metadata_NoSignal"]) == [False, False, True, False, False, False]
    features = cells.filter(like="Cells_").to_numpy()
    assert np.isnan(features[2]).all() and np.isfinite(features[0, :10]).all()


def test_runner_rescale_divides_by_store_max(toy_cells, toy_tools, tmp_path):
    images, proteins = toy_cells
    store = toy_tools[1](tmp_path / "s.h5", images[:5] * 1000, proteins[:5])
    with pytest.raises(InputError, match=r"s\.h5: float images exceed 1.*--rescale"):
        extract_cellprofiler(store, tmp_path / "out", workers=1)
    assert not (tmp_path / "out").exists()
    extract_cellprofiler(store, tmp_path / "out", workers=1, rescale=True)
    assert _frame(tmp_path / "out" / "cells.parquet")["Cells_Intensity_MaxIntensity_GFP"].max() <= 1


def test_extract_cellprofiler_raises_all_cells_without_signal(toy_cells, toy_tools, tmp_path):
    store = toy_tools[1](tmp_path / "s.h5", np.zeros((3, 64, 64, 2), np.float32), toy_cells[1][:3])
    with pytest.raises(InputError, match="every selected cell"):
        extract_cellprofiler(store, tmp_path / "out", workers=1)
    assert not (tmp_path / "out").exists()


def test_extract_cellprofiler_raises_nan_pixels(toy_cells, toy_tools, tmp_path):
    store = toy_tools[1](tmp_path / "s.h5", toy_cells[0][:3], toy_cells[1][:3])
    with h5py.File(store, "r+") as h5:  # a store written by another tool
        h5["images"][1, 0, :5, 0] = np.nan
    with pytest.raises(InputError, match=r"s\.h5: 1 cell\(s\) hold NaN or inf pixels \(rows \[1\]\)"):
        extract_cellprofiler(store, tmp_path / "out", workers=1)
    assert not (tmp_path / "out").exists()


def test_extract_cellprofiler_raises_empty_selection(toy_store, tmp_path):
    with pytest.raises(InputError, match="no cells selected"):
        extract_cellprofiler(toy_store, tmp_path / "out", split="val", workers=1)
    assert not (tmp_path / "out").exists()


def test_extract_cellprofiler_raises_empty_store(toy_tools, tmp_path):
    store = toy_tools[1](tmp_path / "s.h5", np.zeros((0, 64, 64, 2), np.float32), np.array([], dtype=str))
    with pytest.raises(InputError, match="no cells selected"):
        extract_cellprofiler(store, tmp_path / "out", split="all", workers=1)


@pytest.mark.parametrize("fraction", [0.0, 1.5, -1])
def test_extract_cellprofiler_raises_pca_fraction_outside_unit_interval(toy_store, tmp_path, fraction):
    with pytest.raises(InputError, match=r"\(0, 1\]"):
        extract_cellprofiler(toy_store, tmp_path / "out", pca=fraction, workers=1)
    assert not (tmp_path / "out").exists()


def test_extract_cellprofiler_raises_existing_output(serial_run, toy_store):
    out = serial_run[0]
    before = (out / "cells.parquet").stat().st_mtime_ns
    with pytest.raises(OutputExistsError, match="--overwrite"):
        extract_cellprofiler(toy_store, out, workers=1)
    assert (out / "cells.parquet").stat().st_mtime_ns == before


def test_extract_cellprofiler_raises_unknown_split(toy_store, tmp_path):
    with pytest.raises(InputError, match="unknown split"):
        extract_cellprofiler(toy_store, tmp_path / "out", split="holdout")
