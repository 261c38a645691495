from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest

from cellprofiler_features.original import ORIGINAL_METHOD, original_feature_profiles
from deeploc_keras.core.errors import InputError, OutputExistsError
from deeploc_keras.core.processing import ProfileProcessing, process_profiles
from deeploc_keras.core.profiles import read_profiles
from deeploc_keras.data.importers.deeploc_hdf5 import import_deeploc_hdf5
from deeploc_keras.data.store import CellStore

COLUMNS = ["cells_AreaShape_Area", "cells_AreaShape_Eccentricity", "cells_Intensity_MeanIntensity_GFP",
           "cells_Intensity_StdIntensity_GFP", "cells_Intensity_MaxIntensity_GFP", "cells_Location_Center_X"]


@pytest.fixture
def chong_store(tmp_path):
    """A Chong-layout HDF5 file (data1, Index1, Info1, Info1_columns) of 6 proteins x 8 cells, imported."""
    rng = np.random.default_rng(0)
    n = 48
    proteins = np.repeat([f"Y{k}" for k in range(6)], 8)
    info = rng.lognormal(size=(n, len(COLUMNS))) * (1 + np.repeat(np.arange(6), 8))[:, None]
    info[5, 2] = np.nan
    src = tmp_path / "Chong_test_set.hdf5"
    with h5py.File(src, "w") as h5:
        h5["data1"] = rng.integers(100, 4000, size=(n, 8192)).astype(np.float64)
        h5["Index1"] = np.eye(19, dtype=np.uint8)[rng.integers(0, 19, n)]
        h5["Info1"] = info
        h5["Info1_columns"] = np.array([c.encode() for c in COLUMNS])
    pd.DataFrame({"protein": proteins}).to_csv(tmp_path / "meta.csv", index=False)
    import_deeploc_hdf5([src], tmp_path / "cells.h5", metadata=tmp_path / "meta.csv")
    return tmp_path / "cells.h5", info, proteins


def test_original_feature_profiles_from_info1(chong_store, tmp_path):
    store_path, info, proteins = chong_store
    summary = original_feature_profiles(store_path, tmp_path / "original", split="all")
    cells = read_profiles(tmp_path / "original" / "cells.parquet")
    assert cells.method == ORIGINAL_METHOD and cells.feature_names == COLUMNS
    np.testing.assert_array_equal(cells.features, info.astype(np.float32))
    raw = read_profiles(tmp_path / "original" / "proteins_raw.parquet")
    means = pd.DataFrame(info.astype(np.float32).astype(np.float64)).groupby(proteins).mean()  # NaN-aware
    np.testing.assert_allclose(raw.features, means.loc[raw.meta["Metadata_Protein"]].to_numpy(), rtol=1e-6)
    processed = read_profiles(tmp_path / "original" / "proteins.parquet")
    expected, record = process_profiles(pd.read_parquet(tmp_path / "original" / "proteins_raw.parquet"),
                                        ProfileProcessing())
    assert processed.info["processing"] == record == summary["processing"]
    np.testing.assert_allclose(processed.features, expected[processed.feature_names].to_numpy(), rtol=1e-5,
                               atol=1e-6)
    assert summary["n_cells"] == 48 and (tmp_path / "original" / "extract.json").is_file()
    with pytest.raises(OutputExistsError):
        original_feature_profiles(store_path, tmp_path / "original", split="all")


def test_original_feature_profiles_selects_split(chong_store, tmp_path):
    store_path, info, _ = chong_store
    original_feature_profiles(store_path, tmp_path / "test_split", split="test")
    cells = read_profiles(tmp_path / "test_split" / "cells.parquet")
    with CellStore.open(store_path) as store:
        test = np.flatnonzero(store.cells["split"].to_numpy() == 2)
    assert cells.meta["Metadata_CellIndex"].tolist() == test.tolist()
    np.testing.assert_array_equal(cells.features, info[test].astype(np.float32))


def test_original_feature_profiles_raises_store_without_features(tmp_path):
    store_path = tmp_path / "plain.h5"
    with CellStore.create(store_path) as store:
        store.append(np.ones((4, 64, 64, 2), np.uint16), {"protein": ["A", "A", "B", "B"]})
    with pytest.raises(InputError, match="plain.h5: has no per-cell feature table"):
        original_feature_profiles(store_path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_extract_command_writes_original_features(chong_store, tmp_path):
    from click.testing import CliRunner

    from deeploc_keras.cli import main

    store_path, info, _ = chong_store
    out = tmp_path / "cli"
    result = CliRunner().invoke(main, ["extract", str(store_path), "--method", "original-features", "--split", "all",
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "48 of 48 cells" in result.output and f"{len(COLUMNS)} original-features features" in result.output
    np.testing.assert_array_equal(read_profiles(out / "cells.parquet").features, info.astype(np.float32))
    assert read_profiles(out / "proteins.parquet").method == ORIGINAL_METHOD


def test_extract_command_refuses_original_features_of_a_store_without_them(tmp_path):
    from click.testing import CliRunner

    from deeploc_keras.cli import main

    store_path = tmp_path / "plain.h5"
    with CellStore.create(store_path) as store:
        store.append(np.ones((4, 64, 64, 2), np.uint16), {"protein": ["A", "A", "B", "B"]})
    result = CliRunner().invoke(main, ["extract", str(store_path), "--method", "original-features", "--out",
                                       str(tmp_path / "out")])
    assert result.exit_code == 2 and "has no per-cell feature table" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "out").exists()
