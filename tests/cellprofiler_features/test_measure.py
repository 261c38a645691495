from __future__ import annotations

import numpy as np
import pytest
from cp_measure.bulk import get_core_measurements, get_correlation_measurements
from cp_measure.core.measurecolocalization import get_correlation_overlap

from cellprofiler_features.masks import cell_mask
from cellprofiler_features.measure import (
    FeatureConfig,
    family_counts,
    feature_columns,
    measure_cell,
    measure_colocalization,
    measure_granularity,
    measure_intensity,
    measure_radial_distribution,
    measure_sizeshape,
    measure_texture,
)
from deeploc_keras.core.errors import InputError

CHANNELS = ["GFP", "RFP"]


@pytest.fixture(scope="module")
def real_cell(toy_cells):
    crop = toy_cells[0][0].astype(np.float64)
    mask, fallback = cell_mask(crop[..., 1])
    assert not fallback
    return crop, mask


def test_family_counts_default_and_options():
    assert family_counts(CHANNELS) == {"intensity": 42, "sizeshape": 55, "texture": 104, "granularity": 32,
                                       "radial_distribution": 24, "colocalization": 8, "total": 265}
    assert family_counts(CHANNELS, FeatureConfig(costes=True))["total"] == 267  # CellProfiler 4.2.8 defaults
    assert family_counts(CHANNELS, FeatureConfig(texture_scales=(3, 5)))["texture"] == 208
    assert family_counts(CHANNELS, FeatureConfig(radial_zernikes="magnitudes_and_phase"))["radial_distribution"] == 144
    assert family_counts(CHANNELS, FeatureConfig.closest_to_study())["total"] == 431


def test_feature_columns_cellprofiler_names_unique():
    columns = feature_columns(CHANNELS, FeatureConfig.closest_to_study())
    assert len(set(columns)) == len(columns)
    for name in ("Cells_Intensity_MeanIntensity_GFP", "Cells_Location_CenterMassIntensity_X_RFP",
                 "Cells_AreaShape_Area", "Cells_AreaShape_MaxFeretDiameter", "Cells_AreaShape_Zernike_9_9",
                 "Cells_Texture_Contrast_GFP_3_00_256", "Cells_Texture_InfoMeas2_RFP_5_03_256",
                 "Cells_Granularity_16_GFP", "Cells_RadialDistribution_RadialCV_GFP_4of4",
                 "Cells_RadialDistribution_ZernikeMagnitude_RFP_9_9", "Cells_Correlation_Correlation_GFP_RFP",
                 "Cells_Correlation_K_RFP_GFP", "Cells_Correlation_Costes_GFP_RFP"):
        assert name in columns


def test_measure_cell_equals_direct_cp_measure_calls(real_cell):
    """The wrapper adds no distortion: every value equals cp-measure's own (numpy backend)."""
    crop, mask = real_cell
    config = FeatureConfig(texture_scales=(3, 5), radial_zernikes="magnitudes_and_phase", costes=True,
                           accelerator=None)
    features = measure_cell(crop, mask, CHANNELS, config)
    assert list(features) == feature_columns(CHANNELS, config)
    labels = mask.astype(np.int32)
    core = get_core_measurements(legacy=True, sanitize=False)
    corr = get_correlation_measurements(sanitize=False)
    gfp, rfp = crop[..., 0], crop[..., 1]
    expected = {
        "Cells_Intensity_MedianIntensity_GFP": core["intensity"](labels, gfp)["Intensity_MedianIntensity"],
        "Cells_Location_MaxIntensity_Y_RFP": core["intensity"](labels, rfp)["Location_MaxIntensity_Y"],
        "Cells_AreaShape_Solidity": core["sizeshape"](labels, None)["Solidity"],
        "Cells_AreaShape_MinFeretDiameter": core["feret"](labels, None)["MinFeretDiameter"],
        "Cells_AreaShape_Zernike_4_2": core["zernike"](labels, None)["Zernike_4_2"],
        "Cells_Texture_SumEntropy_RFP_5_02_256": core["texture"](labels, rfp, scale=5)["SumEntropy_5_02_256"],
        "Cells_Granularity_3_GFP": core["granularity"](labels, gfp)["Granularity_3"],
        "Cells_RadialDistribution_MeanFrac_GFP_2of4":
            core["radial_distribution"](labels, gfp)["RadialDistribution_MeanFrac_2of4"],
        "Cells_RadialDistribution_ZernikePhase_RFP_3_1":
            core["radial_zernikes"](labels, rfp)["RadialDistribution_ZernikePhase_3_1"],
        "Cells_Correlation_Correlation_GFP_RFP": corr["pearson"](gfp, rfp, labels)["Correlation_Pearson"],
        "Cells_Correlation_K_RFP_GFP": get_correlation_overlap(gfp, rfp, labels)["Correlation_K_2"],
        "Cells_Correlation_Manders_RFP_GFP": corr["manders_fold"](gfp, rfp, labels)["Correlation_Manders_2"],
        "Cells_Correlation_RWC_GFP_RFP": corr["rwc"](gfp, rfp, labels)["Correlation_RWC_1"],
        "Cells_Correlation_Costes_GFP_RFP": corr["costes"](gfp, rfp, labels, scale_max=65535)["Correlation_Costes_1"],
    }
    for name, value in expected.items():
        np.testing.assert_allclose(features[name], np.asarray(value, dtype=float)[0], rtol=1e-6, err_msg=name)


def test_numba_accelerator_matches_numpy(real_cell):
    crop, mask = real_cell
    fast = measure_texture(crop[..., 0], mask, accelerator="numba")
    slow = measure_texture(crop[..., 0], mask, accelerator=None)
    np.testing.assert_allclose(list(fast.values()), list(slow.values()), rtol=1e-9)
    fast = measure_intensity(crop[..., 0], mask, accelerator="numba")
    slow = measure_intensity(crop[..., 0], mask, accelerator=None)
    np.testing.assert_allclose(list(fast.values()), list(slow.values()), rtol=1e-9)


def test_measure_functions_hand_computed_square():
    image = np.zeros((32, 32))
    image[8:24, 8:24] = 0.5
    mask = image > 0
    intensity = measure_intensity(image, mask)
    assert intensity["Cells_Intensity_IntegratedIntensity_GFP"] == pytest.approx(0.5 * 256)
    assert intensity["Cells_Intensity_StdIntensity_GFP"] == pytest.approx(0.0)
    shape = measure_sizeshape(None, mask)
    assert shape["Cells_AreaShape_Area"] == 256 and shape["Cells_AreaShape_Extent"] == 1.0
    assert len(measure_granularity(image, mask, spectrum=4)) == 4
    assert len(measure_radial_distribution(image, mask, bins=3, zernikes="magnitudes")) == 9 + 30
    coloc = measure_colocalization(np.stack([image, image], axis=-1), mask, channel_names=["A", "B"])
    assert set(coloc) >= {"Cells_Correlation_Overlap_A_B", "Cells_Correlation_Manders_B_A"}


def test_texture_is_nan_for_a_flat_dim_object():
    image = np.full((32, 32), 1e-4)  # quantises to grey level 0: no co-occurring pair
    values = measure_texture(image, np.ones((32, 32), bool))
    assert np.isnan(list(values.values())).all()


def test_measure_cell_raises_values_above_one(real_cell):
    crop, mask = real_cell
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        measure_cell(crop * 2 + 1, mask, CHANNELS)


def test_measure_cell_raises_nan_pixels(real_cell):
    crop, mask = real_cell
    crop = crop.copy()
    crop[0, :3, 0] = np.nan
    with pytest.raises(InputError, match="3 NaN"):
        measure_cell(crop, mask, CHANNELS)


def test_measure_cell_raises_empty_mask(real_cell):
    with pytest.raises(InputError, match="mask is empty"):
        measure_cell(real_cell[0], np.zeros((64, 64), bool), CHANNELS)


def test_measure_cell_raises_integer_image(real_cell):
    with pytest.raises(InputError, match="float"):
        measure_cell((real_cell[0] * 65535).astype(np.uint16), real_cell[1], CHANNELS)


def test_feature_config_raises_unknown_radial_zernikes():
    with pytest.raises(InputError, match="radial_zernikes"):
        FeatureConfig(radial_zernikes="all")


def test_feature_config_raises_no_family():
    with pytest.raises(InputError, match="no family"):
        FeatureConfig(intensity=False, sizeshape=False, texture=False, granularity=False,
                      radial_distribution=False, colocalization=False)


def test_feature_config_from_dict_raises_unknown_setting():
    with pytest.raises(InputError, match="unknown FeatureConfig"):
        FeatureConfig.from_dict({"gabor": True})


@pytest.mark.parametrize("family", ["intensity", "sizeshape", "texture", "granularity", "radial_distribution",
                                    "colocalization"])
def test_measure_cell_each_family_alone_gives_its_columns(real_cell, family):
    """Each FeatureConfig switch selects exactly its family's columns and values (one family table)."""
    crop, mask = real_cell
    switches = dict.fromkeys(["intensity", "sizeshape", "texture", "granularity", "radial_distribution",
                              "colocalization"], False)
    alone = FeatureConfig(**{**switches, family: True}, accelerator=None)
    features = measure_cell(crop, mask, CHANNELS, alone)
    assert list(features) == feature_columns(CHANNELS, alone)
    assert list(family_counts(CHANNELS, alone)) == [family, "total"]
    full = measure_cell(crop, mask, CHANNELS, FeatureConfig(accelerator=None))
    np.testing.assert_array_equal([full[name] for name in features], list(features.values()))


def test_measure_cell_one_channel_has_no_colocalization(real_cell):
    crop, mask = real_cell
    features = measure_cell(crop[..., :1], mask, ["GFP"])
    assert list(features) == feature_columns(["GFP"])
    assert not any(name.startswith("Cells_Correlation_") for name in features)
    assert features["Cells_Intensity_MeanIntensity_GFP"] == pytest.approx(crop[..., 0][mask].mean())


def test_measure_leaves_cp_measure_backend_at_its_default(real_cell):
    from cp_measure.core.measuretexture import get_texture

    measure_texture(real_cell[0][..., 0], real_cell[1], accelerator="numba")
    assert get_core_measurements(sanitize=False)["texture"] is get_texture


def test_feature_config_preset_names():
    assert FeatureConfig.preset("default") == FeatureConfig()
    assert family_counts(CHANNELS, FeatureConfig.preset("closest_to_study"))["total"] == 431


def test_feature_config_preset_raises_unknown_name():
    with pytest.raises(InputError, match="unknown CellProfiler feature preset 'study'.*closest_to_study"):
        FeatureConfig.preset("study")
