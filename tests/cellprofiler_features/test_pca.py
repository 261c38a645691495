from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from cellprofiler_features.pca import CellProfilerPCA
from deeploc_keras.core.errors import InputError, OutputExistsError


@pytest.fixture()
def features():
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(120, 5))
    x = latent @ rng.normal(size=(5, 12)) + 0.01 * rng.normal(size=(120, 12))
    x[:, 3] = 7.0  # constant
    x[:, 8] = np.nan  # all NaN
    x[rng.random(120) < 0.1, 5] = np.nan  # some NaN
    return pd.DataFrame(x, columns=[f"Cells_f{i}" for i in range(12)])


def test_pca_keeps_99_percent_of_variance(features):
    pca = CellProfilerPCA(0.99).fit(features)
    assert pca.explained_variance_ratio_.sum() >= 0.99
    assert pca.explained_variance_ratio_[:-1].sum() < 0.99  # the smallest number of components
    assert pca.n_components_ <= 6
    assert pca.transform(features).shape == (120, pca.n_components_)


def test_pca_drops_all_nan_and_constant_columns_and_logs(features, caplog):
    with caplog.at_level(logging.INFO, logger="cellprofiler_features.pca"):
        pca = CellProfilerPCA(0.99).fit(features)
    assert not pca.kept_[3] and not pca.kept_[8] and pca.kept_.sum() == 10
    assert "dropped 1 all-NaN and 1 constant" in caplog.text


def test_pca_equals_sklearn_pipeline_on_clean_data(features):
    x = features.drop(columns=["Cells_f3", "Cells_f8", "Cells_f5"]).to_numpy()
    ours = CellProfilerPCA(0.95).fit(x).transform(x)
    reference = PCA(0.95, svd_solver="full").fit_transform(StandardScaler().fit_transform(x))
    np.testing.assert_allclose(ours, reference, atol=1e-10)


def test_pca_imputes_nan_with_column_mean(features):
    pca = CellProfilerPCA(1.0).fit(features)
    assert np.isfinite(pca.transform(features)).all()
    assert pca.impute_[4] == pytest.approx(np.nanmean(features["Cells_f5"]))


def test_pca_save_load_round_trip(features, tmp_path):
    pca = CellProfilerPCA(0.99, seed=3).fit(features)
    path = pca.save(tmp_path / "pca.npz")
    loaded = CellProfilerPCA.load(path)
    np.testing.assert_array_equal(loaded.transform(features), pca.transform(features))
    assert loaded.seed == 3 and list(loaded.feature_names_in_) == list(features.columns)
    assert list(loaded.get_feature_names_out())[:1] == ["CellProfilerPCA_pc_0000"]


def test_pca_save_raises_existing_output(features, tmp_path):
    pca = CellProfilerPCA().fit(features)
    pca.save(tmp_path / "pca.npz")
    with pytest.raises(OutputExistsError):
        pca.save(tmp_path / "pca.npz")


@pytest.mark.parametrize("variance", [0, -0.5, 1.5, True, "0.9"])
def test_pca_fit_raises_fraction_outside_unit_interval(features, variance):
    with pytest.raises(InputError, match=r"\(0, 1\]"):
        CellProfilerPCA(variance).fit(features)


def test_pca_transform_raises_other_columns(features):
    pca = CellProfilerPCA().fit(features)
    with pytest.raises(InputError, match="columns"):
        pca.transform(features.iloc[:, :5])


def test_pca_fit_raises_no_varying_column():
    with pytest.raises(InputError, match="no feature varies"):
        CellProfilerPCA().fit(np.ones((10, 3)))


def test_pca_load_raises_not_a_saved_pca(tmp_path):
    path = tmp_path / "bad.npz"
    path.write_bytes(b"not npz")
    with pytest.raises(InputError, match="bad.npz"):
        CellProfilerPCA.load(path)
