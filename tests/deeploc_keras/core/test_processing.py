from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pycytominer
import pytest
from scipy.stats import median_abs_deviation

from deeploc_keras.core.errors import InputError, OutputExistsError
from deeploc_keras.core.processing import ProfileProcessing, normalize_features, process_profile_file, process_profiles
from deeploc_keras.core.profiles import ProfileWriter, read_profiles


@pytest.fixture
def table():
    """40 proteins x 6 features: correlated pairs, a constant, a mostly-constant and a NaN-ridden column."""
    rng = np.random.default_rng(0)
    n = 40
    base = rng.lognormal(size=(n, 3))
    features = {
        "Cells_A": base[:, 0],
        "Cells_A_copy": 2 * base[:, 0] + rng.normal(0, 1e-3, n),
        "Cells_B": base[:, 1],
        "Cells_C": base[:, 2],
        "Cells_Flat": np.full(n, 3.0),
        "Cells_Mostly": np.where(np.arange(n) < 30, 1.0, rng.normal(5, 1, n)),
        "Cells_Holes": np.where(np.arange(n) % 4 == 0, np.nan, rng.normal(size=n)),
    }
    features["Cells_C"][7] = np.nan
    meta = {"Metadata_Protein": [f"P{i:02d}" for i in range(n)], "Metadata_Count": np.arange(n) + 1}
    return pd.DataFrame({**meta, **features})


def test_normalize_features_standardize_equals_population_zscore(table):
    x = table[["Cells_A", "Cells_B", "Cells_C"]].to_numpy()
    normalized, kept = normalize_features(x, "standardize")
    expected = (x - np.nanmean(x, axis=0)) / np.nanstd(x, axis=0)
    np.testing.assert_allclose(normalized, expected, rtol=1e-12)
    assert kept.all()


def test_normalize_features_robust_equals_scaled_mad(table):
    x = table[["Cells_A", "Cells_B", "Cells_C", "Cells_Mostly", "Cells_Flat"]].to_numpy()
    normalized, kept = normalize_features(x, "robust")
    assert kept.tolist() == [True, True, True, False, False]  # MAD 0: more than half the rows share one value
    x = x[:, :3]
    mad = 1.4826 * median_abs_deviation(x, axis=0, nan_policy="omit")  # pycytominer's constant, not 1/norm.ppf(0.75)
    np.testing.assert_allclose(normalized, (x - np.nanmedian(x, axis=0)) / mad, rtol=1e-9)


def test_normalize_features_none_is_identity(table):
    x = table[["Cells_A", "Cells_Flat"]].to_numpy()
    normalized, kept = normalize_features(x, "none")
    np.testing.assert_array_equal(normalized, x)
    assert kept.all()


@pytest.mark.parametrize("method", ["standardize", "robust"])
def test_process_profiles_equals_pycytominer_called_directly(table, method):
    clean = table.drop(columns=["Cells_Flat", "Cells_Mostly"])
    processed, record = process_profiles(clean, ProfileProcessing(normalize=method))
    features = [c for c in clean.columns if not c.startswith("Metadata_")]
    normalized = pycytominer.normalize(clean, features=features, meta_features=["Metadata_Protein", "Metadata_Count"],
                                       method={"standardize": "standardize", "robust": "mad_robustize"}[method])
    selected = pycytominer.feature_select(normalized, features=features,
                                          operation=["drop_na_columns", "variance_threshold",
                                                     "correlation_threshold"])
    assert list(processed.columns) == list(selected.columns)
    assert "Cells_Holes" not in processed  # 25% NaN > 5%
    assert ("Cells_A" in processed) != ("Cells_A_copy" in processed)  # one of the correlated pair
    values = selected[[c for c in selected.columns if not c.startswith("Metadata_")]].to_numpy()
    filled = np.isnan(values)
    assert filled.sum() == record["n_filled"] == 1  # Cells_C's one NaN
    out = processed[[c for c in processed.columns if not c.startswith("Metadata_")]].to_numpy()
    np.testing.assert_allclose(out[~filled], values[~filled], rtol=1e-12)
    centre = np.nanmedian if method == "robust" else np.nanmean
    np.testing.assert_allclose(out[filled], centre(values, axis=0)[np.flatnonzero(filled.any(axis=0))], atol=1e-12)
    pd.testing.assert_frame_equal(processed[["Metadata_Protein", "Metadata_Count"]],
                                  clean[["Metadata_Protein", "Metadata_Count"]])


def test_process_profiles_records_every_step(table):
    processed, record = process_profiles(table, ProfileProcessing(normalize="robust"))
    assert record["n_features_in"] == 7
    assert record["n_zero_scale"] == 2  # Cells_Flat, Cells_Mostly
    assert record["n_deselected"] == 2  # Cells_Holes (NaN), one of Cells_A / Cells_A_copy
    assert record["n_features_out"] == 3 == processed.shape[1] - 2
    assert record["normalize"] == "robust" and record["pycytominer_version"] == pycytominer.__about__.__version__
    assert np.isfinite(processed.iloc[:, 2:].to_numpy()).all()


def test_process_profiles_without_operations_keeps_every_scaled_feature(table):
    processed, record = process_profiles(table, ProfileProcessing(normalize="standardize", operations=()))
    assert record["n_zero_scale"] == 1 and record["n_deselected"] == 0  # only Cells_Flat has sd 0
    assert "Cells_Holes" in processed and "Cells_Mostly" in processed


def test_process_profile_file_writes_metadata_record(table, tmp_path):
    raw = tmp_path / "proteins_raw.parquet"
    names = [c for c in table.columns if not c.startswith("Metadata_")]
    with ProfileWriter(raw, info={"method": "CellProfiler", "split": "test"}) as writer:
        writer.write(table[["Metadata_Protein", "Metadata_Count"]], table[names].to_numpy(), names)
    record = process_profile_file(raw, tmp_path / "proteins.parquet")
    profiles = read_profiles(tmp_path / "proteins.parquet")
    assert profiles.method == "CellProfiler" and profiles.info["split"] == "test"
    assert profiles.info["processing"] == record and profiles.info["raw_profiles"] == "proteins_raw.parquet"
    assert profiles.feature_names == profiles.info["feature_columns"] and len(profiles.feature_names) == 3
    stored = json.loads(pq.read_schema(tmp_path / "proteins.parquet").metadata[b"deeploc_keras"])
    assert stored["processing"]["operations"] == list(ProfileProcessing().operations)
    with pytest.raises(OutputExistsError):
        process_profile_file(raw, tmp_path / "proteins.parquet")


def test_process_profile_file_raises_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        process_profile_file(tmp_path / "absent.parquet", tmp_path / "out.parquet")


def test_process_profiles_raises_nothing_left():
    table = pd.DataFrame({"Metadata_Protein": ["A", "B", "C"], "x": [1.0, 1.0, 1.0]})
    with pytest.raises(InputError, match="non-zero standardize scale"):
        process_profiles(table, ProfileProcessing(normalize="standardize"))


def test_profile_processing_raises_unknown_operation():
    with pytest.raises(InputError, match="blocklist"):
        ProfileProcessing(operations=("blocklist",))
