"""The PIFiA network (deeploc_keras.models.pifia) against the facts of arazd/pifia's model/models.py."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import deeploc_keras  # noqa: F401 - registers the custom layers
from deeploc_keras.core.errors import InputError
from deeploc_keras.models.pifia import (
    PIFIA_PARAMS,
    build_pifia,
    pifia_feature_model,
    protein_channel,
)
from deeploc_keras.training.train import mixed_precision_policy


def test_build_pifia_has_the_published_size_and_the_original_attribute_names():
    model = build_pifia(4049)
    total = model.count_params()
    trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    assert (total, trainable) == PIFIA_PARAMS == (2_732_689, 2_729_873)  # 2,732,689 values in the weight shard
    names = [layer.name for layer in model.layers]
    for k in range(1, 9):
        assert {f"conv{k}", f"bn{k}", f"relu{k}"} <= set(names)
    assert {"pool1", "pool2", "pool3", "flatten", "d1", "d2", "dropout", "d3"} <= set(names)


def test_build_pifia_is_valid_padded_with_keras_default_layers():
    model = build_pifia(7, seed=0)
    sizes = [model.get_layer(f"conv{k}").output.shape[1] for k in range(1, 9)]
    assert sizes == [62, 60, 28, 26, 11, 9, 7, 5]  # 64 -> VALID 3x3 convs and 2x2 pools
    assert model.get_layer("pool3").output.shape[1:] == (2, 2, 256)
    assert model.get_layer("d1").output.shape[-1] == 128 and model.get_layer("d2").output.shape[-1] == 64
    assert model.get_layer("dropout").rate == 0.02
    for k in range(1, 9):
        bn = model.get_layer(f"bn{k}")
        assert (bn.momentum, bn.epsilon) == (0.99, 1e-3)
        conv = model.get_layer(f"conv{k}")
        fan_in, fan_out = 9 * conv.kernel.shape[2], 9 * conv.kernel.shape[3]
        assert np.abs(conv.kernel.numpy()).max() <= np.sqrt(6 / (fan_in + fan_out))  # Glorot-uniform
        assert not conv.bias.numpy().any()
    assert model.get_layer("d3").activation.__name__ == "linear"
    assert model.get_layer("d2").activation.__name__ == "relu"


def test_build_pifia_width_scales_the_convs_only():
    model = build_pifia(5, 0.125)
    assert [model.get_layer(f"conv{k}").filters for k in range(1, 9)] == [8, 8, 16, 16, 32, 32, 32, 32]
    assert model.get_layer("d2").units == 64


def test_build_pifia_reads_the_chosen_channel_of_raw_crops():
    model = build_pifia(3, 0.125, image_shape=(64, 64, 2), channels=(1,), seed=0)
    rng = np.random.default_rng(0)
    cells = rng.integers(0, 4000, (2, 64, 64, 2)).astype("float32")
    other = cells.copy()
    other[..., 0] = rng.integers(0, 4000, (2, 64, 64))
    np.testing.assert_allclose(model(cells).numpy(), model(other).numpy(), rtol=1e-5, atol=1e-5)
    assert model.info["image_shape"] == [64, 64, 2]


def test_build_pifia_augments_with_flips_only():
    augment = build_pifia(3, 0.125, image_shape=(64, 64, 1), seed=0).get_layer("augment")
    assert (augment.crop_size, augment.flips, augment.rotations) == (None, True, (0,))
    x = np.arange(64 * 64, dtype="float32").reshape(1, 64, 64, 1)
    views = {augment(x, training=True).numpy().tobytes() for _ in range(30)}
    flips = {np.flip(x, axes).tobytes() for axes in [(), (1,), (2,), (1, 2)]}
    assert views == flips  # every flip, and no transposed (rotated) view


def test_build_pifia_logits_and_features_are_float32_under_mixed_precision():
    with mixed_precision_policy("mixed_bfloat16"):
        model = build_pifia(4, 0.125, image_shape=(64, 64, 2), seed=0)
    cells = np.random.default_rng(0).integers(0, 4000, (2, 64, 64, 2)).astype("float32")
    assert model.get_layer("conv1").compute_dtype == "bfloat16"
    assert model(cells).dtype == "float32"
    assert pifia_feature_model(model).output.dtype == "float32"


def test_build_pifia_saves_and_loads_without_custom_objects(tmp_path):
    model = build_pifia(4, 0.125, image_shape=(64, 64, 2), seed=0, protein_ids=["A", "B", "C", "D"],
                        channel_names=["GFP", "RFP"])
    path = tmp_path / "pifia.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    cells = np.random.default_rng(1).integers(0, 4000, (3, 64, 64, 2)).astype("float32")
    np.testing.assert_array_equal(loaded(cells).numpy(), model(cells).numpy())
    assert loaded.info == model.info
    assert loaded.info["method"] == "pifia" and loaded.info["class_names"] == ["A", "B", "C", "D"]


def test_pifia_feature_model_reads_d2_after_relu():
    model = build_pifia(4, 0.125, seed=0)
    crops = np.random.default_rng(2).normal(size=(3, 64, 64, 1)).astype("float32")
    features = pifia_feature_model(model).predict_on_batch(crops)
    assert features.shape == (3, 64) and (features >= 0).all()
    d2 = keras.Model(model.input, model.get_layer("d2").output).predict_on_batch(crops)
    np.testing.assert_array_equal(features, d2)


def test_protein_channel_picks_gfp():
    assert protein_channel(["GFP", "RFP"]) == 0 and protein_channel(["rfp", "gfp"]) == 1
    assert protein_channel(["DAPI"]) == 0 and protein_channel([]) == 0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"num_classes": 1}, "num_classes must be an int >= 2"),
    ({"num_classes": 3, "width": 0}, "width must be a finite number > 0"),
    ({"num_classes": 3, "dropout": 1.0}, "dropout must be in \\[0, 1\\)"),
    ({"num_classes": 3, "image_shape": (64, 64)}, "image_shape must be"),
    ({"num_classes": 3, "protein_ids": ["A"]}, "protein_ids must have num_classes=3 entries"),
    ({"num_classes": 3, "image_shape": (64, 64, 1), "channels": (1,)}, "channel 1 is not among the input's 1"),
])
def test_build_pifia_raises_on_bad_arguments(kwargs, message):
    with pytest.raises(InputError, match=message):
        build_pifia(**kwargs)


def test_pifia_feature_model_raises_unknown_layer():
    with pytest.raises(InputError, match="layer 'conv8' is not a PIFiA feature layer"):
        pifia_feature_model(build_pifia(3, 0.125), "conv8")
