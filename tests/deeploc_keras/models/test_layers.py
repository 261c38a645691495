"""Preprocessing layers: the original stretch, standardization, augmentation, fixed crops, serialization."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from deeploc_keras.core.errors import InputError
from deeploc_keras.models.layers import (
    CellAugment,
    CropAverage,
    FixedCrops,
    PercentileStretch,
    Standardize,
    TiledMaxPooling2D,
    five_crop_offsets,
)


def _stretch_vector(flat: np.ndarray) -> np.ndarray:
    """Independent reimplementation of preprocess_images.stretchVector on one channel's pixels."""
    v = flat.astype(np.float64)
    lo, hi = np.percentile(v, 0.1), np.percentile(v, 99.9)
    v = np.where(v > hi, hi, v) - lo
    if hi - lo > 1:
        v = v / (hi - lo)
    return v


def _cells(n=4, size=64, seed=0):
    rng = np.random.default_rng(seed)
    return (33000 + rng.gamma(2.0, 400.0, (n, size, size, 2))).astype("uint16")


def test_percentile_stretch_matches_original():
    cells = _cells()
    cells[1, :, :, 0] = 500  # constant channel: hi - lo = 0
    cells[2, :, :, 1] = 500 + (np.arange(64 * 64).reshape(64, 64) % 2)  # hi - lo = 1: shift only, no divide
    expected = np.empty(cells.shape)
    for i in range(cells.shape[0]):
        for c in range(2):
            expected[i, :, :, c] = _stretch_vector(cells[i, :, :, c].ravel()).reshape(64, 64)
    got = PercentileStretch()(cells).numpy()
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert got[2, :, :, 1].max() == 1.0 and got[2, :, :, 1].min() == 0.0  # the undivided branch
    assert (got[1, :, :, 0] == 0).all()
    assert got.min() < 0  # values below p0.1 are not clipped


def test_percentile_stretch_other_percentiles():
    x = np.random.default_rng(3).normal(100, 30, (2, 10, 10, 3)).astype("float32")
    got = PercentileStretch(lower=25, upper=60)(x).numpy()
    flat = x.transpose(0, 3, 1, 2).reshape(2, 3, -1)
    lo = np.percentile(flat, 25, axis=-1)[:, None, None, :]
    hi = np.percentile(flat, 60, axis=-1)[:, None, None, :]
    np.testing.assert_allclose(got, (np.minimum(x, hi) - lo) / (hi - lo), rtol=1e-5, atol=1e-5)


def test_standardize_mean0_var1():
    y = Standardize()(_cells(seed=1)).numpy()
    np.testing.assert_allclose(y.mean(axis=(1, 2)), 0, atol=1e-4)
    np.testing.assert_allclose(y.var(axis=(1, 2)), 1, atol=1e-3)
    assert (Standardize()(np.full((1, 4, 4, 1), 7.0, "float32")).numpy() == 0).all()


def _allowed_views(cell: np.ndarray, crop: int, offsets: int, flips: bool, rotations) -> list[tuple]:
    """(offset, k, view) for every allowed crop offset, flip and counter-clockwise rot90."""
    views = []
    for r in range(offsets):
        for c in range(offsets):
            v = cell[r:r + crop, c:c + crop]
            for ud in (False, True) if flips else (False,):
                for lr in (False, True) if flips else (False,):
                    w = v[::-1] if ud else v
                    w = w[:, ::-1] if lr else w
                    views.extend(((r, c), k, np.rot90(w, k, axes=(0, 1))) for k in rotations)
    return views


@pytest.mark.parametrize(("flips", "rotations"), [(False, (0, 1, 2)), (False, (3,)), (True, (0, 1, 2, 3))])
def test_cell_augment_draws_only_allowed_views(flips, rotations):
    size, crop, offsets, n = 12, 8, 4, 32
    x = np.arange(n * size * size * 2, dtype="float32").reshape(n, size, size, 2)  # every pixel unique
    layer = CellAugment(crop_size=crop, crop_offsets=offsets, flips=flips, rotations=rotations, seed=1)
    out = layer(x, training=True).numpy()
    assert out.shape == (n, crop, crop, 2)
    seen_k, seen_offsets = set(), set()
    for i in range(n):
        matches = [(o, k) for o, k, v in _allowed_views(x[i], crop, offsets, flips, rotations)
                   if np.array_equal(v, out[i])]
        assert matches, f"cell {i} is not an allowed crop/flip/rotation"
        if not flips:  # without flips every view is unique
            assert len(matches) == 1
            seen_offsets.add(matches[0][0])
            seen_k.add(matches[0][1])
    if not flips:
        assert seen_k == set(rotations)
        assert len(seen_offsets) > 4 and max(max(o) for o in seen_offsets) == offsets - 1


def test_cell_augment_is_seeded_and_centre_crops_at_inference():
    x = _cells(8).astype("float32")
    a = CellAugment(seed=7)(x, training=True).numpy()
    b = CellAugment(seed=7)(x, training=True).numpy()
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(CellAugment(seed=7)(x, training=False).numpy(), x[:, 2:62, 2:62])
    np.testing.assert_array_equal(CellAugment(crop_size=None, crop_offsets=1, flips=False, rotations=(0,))(x, training=True), x)


def test_fixed_crops_and_average():
    x = np.random.default_rng(0).normal(size=(3, 64, 64, 2)).astype("float32")
    offsets = five_crop_offsets(64, 60)
    assert offsets == ((2, 2), (0, 0), (0, 4), (4, 0), (4, 4))
    crops = FixedCrops(crop_size=60, offsets=offsets)(x).numpy()
    np.testing.assert_array_equal(crops[3 * 2 + 1], x[1, 0:60, 4:64])
    feats = crops.mean(axis=(1, 2))  # (15, 2)
    avg = CropAverage(num_crops=5)(feats).numpy()
    np.testing.assert_allclose(avg, np.stack([x[:, r:r + 60, c:c + 60].mean(axis=(1, 2)) for r, c in offsets]).mean(0),
                               rtol=1e-5, atol=1e-6)
    probs = CropAverage(num_crops=5, softmax=True)(feats).numpy()
    np.testing.assert_allclose(probs.sum(1), 1, rtol=1e-6)


@pytest.mark.parametrize("layer", [
    PercentileStretch(lower=1, upper=98, min_range=2.0, name="p"),
    Standardize(epsilon=1e-3),
    CellAugment(crop_size=56, crop_offsets=3, flips=False, rotations=(0, 3), seed=4),
    FixedCrops(crop_size=60, offsets=[(2, 2), (0, 4)]),
    CropAverage(num_crops=5, softmax=True),
    TiledMaxPooling2D(2, 2, padding="same"),
])
def test_layer_config_round_trip(layer):
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(clone) is type(layer)
    assert clone.get_config() == layer.get_config()
    assert clone.dtype_policy.name == "float32" or isinstance(layer, TiledMaxPooling2D)


def test_layers_stay_float32_under_mixed_precision():
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        y = PercentileStretch()(_cells(1))  # 16-bit counts would overflow float16
        assert y.dtype == "float32" and np.isfinite(y.numpy()).all()
    finally:
        keras.mixed_precision.set_dtype_policy("float32")


def test_percentile_stretch_raises_bad_percentiles():
    with pytest.raises(InputError, match="lower < upper"):
        PercentileStretch(lower=99.9, upper=0.1)
    with pytest.raises(InputError, match="lower < upper"):
        PercentileStretch(upper=101)


def test_standardize_raises_bad_epsilon():
    with pytest.raises(InputError, match="epsilon must be > 0"):
        Standardize(epsilon=0)


def test_cell_augment_raises_bad_arguments():
    with pytest.raises(InputError, match="rotations"):
        CellAugment(rotations=(0, 4))
    with pytest.raises(InputError, match="rotations"):
        CellAugment(rotations=())
    with pytest.raises(InputError, match="crop_offsets"):
        CellAugment(crop_offsets=0)
    with pytest.raises(InputError, match="crop_size"):
        CellAugment(crop_size=0)
    with pytest.raises(InputError, match="leaves the 62x62 input"):
        CellAugment(crop_size=60, crop_offsets=4)(np.zeros((1, 62, 62, 2), "float32"))
    with pytest.raises(InputError, match="expects batches"):
        CellAugment()(np.zeros((64, 64, 2), "float32"))


def test_fixed_crops_raises_bad_arguments():
    with pytest.raises(InputError, match="at least one"):
        FixedCrops(crop_size=60, offsets=[])
    with pytest.raises(InputError, match="leave the input"):
        FixedCrops(crop_size=60, offsets=[(5, 0)])(np.zeros((1, 64, 64, 2), "float32"))
    with pytest.raises(InputError, match="num_crops"):
        CropAverage(num_crops=0)
    with pytest.raises(InputError, match="crop_size must be in"):
        five_crop_offsets(64, 65)


@pytest.mark.parametrize(("shape", "pool", "padding"), [((3, 15, 15, 2), 2, "same"), ((3, 15, 14, 2), 2, "valid"),
                                                       ((2, 16, 16, 4), 2, "same"), ((2, 7, 9, 1), 3, "valid"),
                                                       ((2, 7, 9, 1), 3, "same")])
def test_tiled_max_pooling_equals_max_pooling(shape, pool, padding):
    x = tf.constant(np.random.default_rng(1).normal(size=shape).astype("float32"))  # no ties: one maximum per window
    results = []
    for layer in (TiledMaxPooling2D(pool, pool, padding=padding), keras.layers.MaxPooling2D(pool, pool, padding=padding)):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(y * y)
        results.append((y.numpy(), tape.gradient(loss, x).numpy()))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


@pytest.mark.parametrize("preset", ["kraus2017", "study"])
def test_model_takes_crops_of_unknown_size_and_refuses_another_size_in_one_line(preset, tmp_path):
    import tensorflow as tf

    from deeploc_keras.models.deeploc import build_deeploc

    build_deeploc(2, preset=preset, width=0.0625, image_shape=(64, 64, 2)).save(tmp_path / "m.keras")
    model = keras.saving.load_model(tmp_path / "m.keras")
    assert tuple(model(keras.Input((None, None, 2))).shape) == (None, 2)  # a serving graph of unknown size
    serve = tf.function(model, input_signature=[tf.TensorSpec((None, None, None, 2), tf.float32)])
    assert tuple(serve(tf.zeros((3, 64, 64, 2))).shape) == (3, 2)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[2,60,60,2\] is not compatible with expected "
                                                             r"shape \[\?,64,64,\?\]"):
        serve(tf.zeros((2, 60, 60, 2)))
    with pytest.raises(InputError, match="crops are 60x60 but this model takes 64x64 crops"):
        model.get_layer("augment")(np.zeros((2, 60, 60, 2), np.float32))
