"""The input layers of the Razdaibiedina et al. code, against tf.image.per_image_standardization."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from deeploc_keras.core.errors import InputError
from deeploc_keras.models.layers_pifia import ImageStandardize, SelectChannels, image_standardize


def _original(cells: np.ndarray) -> np.ndarray:
    """``decode_img_py_func`` (per-channel min-max, float64) then ``tf.image.per_image_standardization``."""
    x = cells.astype(np.float64)
    lo, hi = x.min(axis=(1, 2), keepdims=True), x.max(axis=(1, 2), keepdims=True)
    return np.stack([tf.image.per_image_standardization(im).numpy() for im in (x - lo) / (hi - lo)])


@pytest.mark.parametrize("channels", [1, 2])
def test_image_standardize_equals_the_original_rule(channels):
    rng = np.random.default_rng(channels)
    cells = (100 + rng.gamma(2.0, 300.0, (4, 64, 64, channels))).astype("uint16")
    np.testing.assert_allclose(np.asarray(image_standardize(cells)), _original(cells), rtol=1e-5, atol=1e-5)


def test_image_standardize_bounds_the_deviation_like_the_original():
    cells = np.zeros((1, 64, 64, 1), dtype="uint16")
    cells[0, 10, 10, 0] = 500  # one bright pixel: std of the scaled crop is below 1/sqrt(4096)
    np.testing.assert_allclose(np.asarray(image_standardize(cells)), _original(cells), rtol=1e-5, atol=1e-6)


def test_image_standardize_maps_a_constant_crop_to_zeros():
    assert not np.asarray(image_standardize(np.full((1, 8, 8, 1), 7.0, "float32"))).any()


def test_image_standardize_layer_is_float32_under_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        layer = ImageStandardize()
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert layer(np.full((1, 4, 4, 1), 60000, "float32")).dtype == "float32"


def test_select_channels_keeps_the_given_channels_in_order():
    x = np.arange(2 * 3 * 3 * 3, dtype="float32").reshape(2, 3, 3, 3)
    np.testing.assert_array_equal(SelectChannels(channels=[2, 0])(x).numpy(), x[..., [2, 0]])
    assert SelectChannels(channels=[0]).get_config()["channels"] == [0]


@pytest.mark.parametrize("channels", [[], [0, 0], [-1]])
def test_select_channels_raises_on_bad_indices(channels):
    with pytest.raises(InputError, match="channels must be distinct indices >= 0"):
        SelectChannels(channels=channels)


def test_select_channels_raises_on_missing_channel():
    with pytest.raises(InputError, match="channel 2 is not among the input's 2 channels"):
        SelectChannels(channels=[2])(np.zeros((1, 4, 4, 2), "float32"))
