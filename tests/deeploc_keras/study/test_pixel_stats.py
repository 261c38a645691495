from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from deeploc_keras.core.errors import InputError, OutputExistsError
from deeploc_keras.core.profiles import read_profiles
from deeploc_keras.data.store import CellStore
from deeploc_keras.study.pixel_stats import (
    QUANTILES,
    RINGS,
    pixel_statistic_names,
    pixel_statistics,
    pixel_statistics_profiles,
)


@pytest.fixture
def crops():
    rng = np.random.default_rng(0)
    return rng.integers(0, 65535, size=(5, 64, 64, 2), dtype=np.uint16)


@pytest.mark.parametrize("turn", [1, 2, 3])
def test_pixel_statistics_identical_under_rotation(crops, turn):
    expected = pixel_statistics(crops)
    np.testing.assert_array_equal(pixel_statistics(np.rot90(crops, turn, axes=(1, 2))), expected)
    np.testing.assert_array_equal(pixel_statistics(crops[:, ::-1]), expected)  # and under reflection


def test_pixel_statistics_float_crops_rotation_invariant(crops):
    floats = crops.astype(np.float32) / 65535
    np.testing.assert_allclose(pixel_statistics(np.rot90(floats, 1, axes=(1, 2))), pixel_statistics(floats),
                               rtol=1e-9, atol=1e-12)


def test_pixel_statistics_hand_computed_central_disc():
    crop = np.zeros((1, 64, 64, 2), np.uint16)
    crop[..., 1] = 2
    # the 12 pixels within 2 px of the centre (31.5, 31.5): ring 0
    crop[0, 31:33, 30:34, 0] = 1
    crop[0, 30:34, 31:33, 0] = 1
    stats = pixel_statistics(crop)[0]
    p = 12 / 4096
    sd = np.sqrt(p * (1 - p))
    assert stats[0] == pytest.approx((1 - p) / sd, rel=1e-12)
    np.testing.assert_allclose(stats[1:RINGS], -p / sd, rtol=1e-12)
    np.testing.assert_allclose(stats[RINGS:RINGS + 6], -p / sd, rtol=1e-12)  # q25 ... q99: 0.3% of pixels are 1
    assert stats[RINGS + 6] == pytest.approx((1 - p) / sd, rel=1e-12)  # max
    assert stats[-1] == pytest.approx(p / 2, rel=1e-12)  # mean GFP / mean RFP


def test_pixel_statistics_equal_an_explicit_per_crop_computation(crops):
    stats = pixel_statistics(crops)
    yy, xx = np.mgrid[:64, :64]
    radius = np.hypot(yy - 31.5, xx - 31.5)
    for crop, row in zip(crops.astype(np.float64), stats, strict=True):
        gfp, rfp = crop[..., 0], crop[..., 1]
        z = (gfp - gfp.mean()) / max(gfp.std(), 1 / 64)
        radial = [z[(radius >= 2 * k) & (radius < 2 * (k + 1))].mean() for k in range(RINGS)]
        expected = [*radial, *np.quantile(z, QUANTILES), gfp.mean() / rfp.mean()]
        np.testing.assert_allclose(row, expected, rtol=1e-9, atol=1e-12)


def test_pixel_statistics_one_channel_has_no_ratio(crops):
    stats = pixel_statistics(crops[..., :1], ["GFP"])
    assert stats.shape == (5, 23) and len(pixel_statistic_names(1)) == 23
    np.testing.assert_array_equal(stats, pixel_statistics(crops)[:, :23])


def test_pixel_statistics_raises_small_crops():
    with pytest.raises(InputError, match="at least 32x32.*images.shape=\\(2, 16, 16, 2\\)"):
        pixel_statistics(np.zeros((2, 16, 16, 2), np.uint16))


def test_pixel_statistics_raises_nan_pixels():
    crops = np.zeros((2, 64, 64, 2), np.float32)
    crops[1, 3, 3, 0] = np.nan
    with pytest.raises(InputError, match="1 NaN"):
        pixel_statistics(crops)


def test_pixel_statistics_profiles_writes_the_profile_contract(store_factory, tmp_path):
    store_path = store_factory(tmp_path / "store.h5")
    summary = pixel_statistics_profiles(store_path, tmp_path / "pixels", split="test", batch_cells=7)
    cells = read_profiles(tmp_path / "pixels" / "cells.parquet")
    proteins = read_profiles(tmp_path / "pixels" / "proteins.parquet")
    with CellStore.open(store_path) as store:
        selected = store.select("test")
        expected = pixel_statistics(store.images(selected), store.channel_names)
        protein_ids = store.cells["protein"].to_numpy()[selected]
    assert cells.method == "PixelStats" and cells.feature_names == pixel_statistic_names()
    assert summary["n_cells"] == len(selected) and cells.meta["Metadata_CellIndex"].tolist() == selected.tolist()
    np.testing.assert_allclose(cells.features, expected, rtol=1e-6)
    means = pd.DataFrame(expected).groupby(protein_ids).mean()
    np.testing.assert_allclose(proteins.features, means.loc[proteins.meta["Metadata_Protein"]].to_numpy(), rtol=1e-5)
    assert (tmp_path / "pixels" / "config.json").is_file()
    with pytest.raises(OutputExistsError):
        pixel_statistics_profiles(store_path, tmp_path / "pixels")


def test_pixel_statistics_profiles_raises_store_without_proteins(store_factory, tmp_path):
    store_path = store_factory(tmp_path / "anon.h5", proteins=False)
    with pytest.raises(InputError, match="anon.h5"):
        pixel_statistics_profiles(store_path, tmp_path / "pixels")
    assert not (tmp_path / "pixels").exists()
