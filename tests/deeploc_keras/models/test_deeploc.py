"""The DeepLoc builder: exact architecture, presets, embedding, 5-crop TTA, training step, saving, mixed precision."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import keras
import numpy as np
import pytest

from deeploc_keras.core.errors import InputError
from deeploc_keras.models.deeploc import build_deeploc, embedding_model, trainable_params, tta_model
from deeploc_keras.models.presets import PRESETS

_EXPECTED_LAYERS = (
    ["crops"]
    + [f"conv_{k}{s}" for k in (1, 2) for s in ("", "_bn", "_relu")] + ["pool_1"]
    + [f"conv_{k}{s}" for k in (3, 4) for s in ("", "_bn", "_relu")] + ["pool_2"]
    + [f"conv_{k}{s}" for k in (5, 6, 7, 8) for s in ("", "_bn", "_relu")] + ["pool_3", "flatten"]
    + [f"fc_{k}{s}" for k in (1, 2) for s in ("", "_bn", "_relu")]
    + ["logits", "logits_bn", "logits_float32"]
)


def _cells(n=2, seed=0):
    rng = np.random.default_rng(seed)
    return (33000 + rng.gamma(2.0, 400.0, (n, 64, 64, 2))).astype("uint16")


def _run(model, x):
    """Inference without tracing a predict function (eager is faster for one small batch)."""
    return keras.ops.convert_to_numpy(model(x, training=False))


@pytest.fixture(scope="module")
def full_model():
    return build_deeploc(19, image_shape=(64, 64, 2), seed=0)


def test_build_deeploc_exact_architecture():
    model = build_deeploc(19)
    assert trainable_params(model) == 10_991_417
    assert sum(int(np.prod(w.shape)) for w in model.non_trainable_weights) == 4_902
    assert [layer.name for layer in model.layers] == _EXPECTED_LAYERS
    assert model.input.shape == (None, 60, 60, 2)
    assert model.get_layer("pool_3").output.shape == (None, 8, 8, 256)
    assert model.get_layer("flatten").output.shape == (None, 16_384)
    conv, bn = model.get_layer("conv_5"), model.get_layer("conv_5_bn")
    assert conv.padding == "same" and conv.use_bias and conv.kernel.shape == (3, 3, 128, 256)
    assert bn.momentum == 0.5 and bn.epsilon == 1e-3
    assert model.get_layer("pool_3").padding == "same"
    assert model.output.dtype == "float32"


def test_build_deeploc_initialisation_is_seeded():
    a, b = build_deeploc(3, width=0.125, seed=5), build_deeploc(3, width=0.125, seed=5)
    np.testing.assert_array_equal(a.get_layer("conv_2").kernel.numpy(), b.get_layer("conv_2").kernel.numpy())
    kernel = a.get_layer("conv_2").kernel.numpy()
    assert np.abs(kernel).max() <= 0.2 and 0.05 < kernel.std() < 0.1  # truncated at 2 sigma of 0.1
    np.testing.assert_array_equal(a.get_layer("conv_2").bias.numpy(), np.float32(0.1))
    assert not np.array_equal(a.get_layer("conv_3").kernel.numpy()[:, :, :8, :8], kernel[:, :, :8, :8])


@pytest.mark.parametrize("name", list(PRESETS))
def test_build_deeploc_every_preset(name):
    preset = PRESETS[name]
    full = build_deeploc(19, name)
    assert trainable_params(full) == preset.trainable_params_19
    assert full.input.shape == (None, preset.input_size, preset.input_size, 2)
    assert ("fc_1_bn" in [layer.name for layer in full.layers]) == preset.dense_batchnorm
    assert full.get_layer("conv_1").padding == preset.padding
    small = build_deeploc(4, name, 0.125, image_shape=(64, 64, 2), seed=0)
    assert trainable_params(small) == trainable_params(build_deeploc(4, name, 0.125))
    out = _run(small, _cells(3))
    assert out.shape == (3, 4) and out.dtype == np.float32 and np.isfinite(out).all()


def test_build_deeploc_width_scales_layers():
    model = build_deeploc(7, width=0.01)
    assert model.get_layer("conv_1").filters == 1 and model.get_layer("conv_5").filters == 3
    assert model.get_layer("fc_2").units == 5 and model.get_layer("logits").units == 7


def test_embedding_model_fc2(full_model):
    emb = embedding_model(full_model)
    assert emb.output.shape == (None, 512)
    feats = _run(emb, _cells(2))
    assert feats.shape == (2, 512) and (feats >= 0).all()  # after ReLU
    assert embedding_model(full_model, "conv_3").output.shape == (None, 30, 30, 128)
    assert embedding_model(full_model, "logits").layers[-1].name == "logits_bn"
    assert embedding_model(full_model, "fc_1_bn").output.shape == (None, 512)


def test_full_size_training_step():
    import tensorflow as tf

    model = build_deeploc(19, image_shape=(64, 64, 2), seed=1)
    optimizer = keras.optimizers.Adam(1e-3, epsilon=1e-8)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    before = model.get_layer("conv_1").kernel.numpy().copy()
    mean_before = model.get_layer("fc_2_bn").moving_mean.numpy().copy()
    with tf.GradientTape() as tape:
        loss = loss_fn(np.array([0, 5]), model(_cells(2), training=True))
    optimizer.apply(tape.gradient(loss, model.trainable_weights), model.trainable_weights)
    assert np.isfinite(float(loss))
    assert not np.allclose(model.get_layer("conv_1").kernel.numpy(), before)
    assert not np.allclose(model.get_layer("fc_2_bn").moving_mean.numpy(), mean_before)


def test_tta_model_5crop_equals_mean_of_explicit_crops():
    model = build_deeploc(6, width=0.125, image_shape=(64, 64, 2), seed=2)
    plain = build_deeploc(6, width=0.125)
    for layer in plain.layers:
        if layer.weights:
            layer.set_weights(model.get_layer(layer.name).get_weights())
    cells = _cells(3, seed=4)
    pre = model.get_layer("preprocess")(cells).numpy()
    offsets = [(2, 2), (0, 0), (0, 4), (4, 0), (4, 4)]
    crops = [pre[:, r:r + 60, c:c + 60] for r, c in offsets]
    fc2 = embedding_model(plain)
    expected = np.mean([_run(fc2, c) for c in crops], axis=0)
    np.testing.assert_allclose(_run(tta_model(model), cells), expected, rtol=1e-4, atol=1e-5)
    probs = [keras.ops.softmax(_run(plain, c)).numpy() for c in crops]
    got = _run(tta_model(model, "logits"), cells)
    np.testing.assert_allclose(got, np.mean(probs, axis=0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(got.sum(axis=1), 1, rtol=1e-5)
    centre = _run(tta_model(model, tta="center"), cells)
    np.testing.assert_allclose(centre, _run(embedding_model(model), cells), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(centre, _run(fc2, crops[0]), rtol=1e-4, atol=1e-5)


def test_study_preset_builds_at_64_with_the_exact_parameter_count():
    full = build_deeploc(19, "study")  # building only, no training
    assert full.input.shape == (None, 64, 64, 2)
    assert full.get_layer("pool_3").output.shape == (None, 8, 8, 256)  # SAME padding: 64 -> 32 -> 16 -> 8
    assert full.count_params() - sum(int(np.prod(w.shape)) for w in full.non_trainable_weights) == 10_991_417
    assert trainable_params(full) == 10_991_417
    assert {layer.momentum for layer in full.layers if isinstance(layer, keras.layers.BatchNormalization)} == {0.99}
    assert build_deeploc(19, "study", width=0.0625, image_shape=(64, 64, 2)).get_layer("augment").crop_size is None


def test_study_preset_standardizes_the_whole_crop_and_kraus_stretches_the_whole_cell():
    x = _cells(3)
    study = build_deeploc(5, preset="study", width=0.125, image_shape=(64, 64, 2), seed=0)
    crops = _run(keras.Model(study.input, study.get_layer("preprocess").output), x)
    assert crops.shape == (3, 64, 64, 2)  # no crop ...
    expected = (x - x.mean(axis=(1, 2), keepdims=True)) / x.std(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(crops, expected, rtol=1e-3, atol=1e-3)  # ... mean 0 / variance 1 per crop, channel
    kraus = build_deeploc(5, preset="kraus2017", width=0.125, image_shape=(64, 64, 2), seed=0)
    assert _run(keras.Model(kraus.input, kraus.get_layer("preprocess").output), x).shape == (3, 64, 64, 2)
    assert _run(keras.Model(kraus.input, kraus.get_layer("augment").output), x).shape == (3, 60, 60, 2)


def test_razdaibiedina2022_is_the_study_codes_network():
    """keras_models.deep_loc: VALID, no dense BatchNorm, Keras-default initialisers; dataset_utils.py's input rule."""
    model = build_deeploc(19, "razdaibiedina2022", image_shape=(64, 64, 2), seed=0)
    assert model.get_layer("pool_3").output.shape == (None, 2, 2, 256)  # VALID: 64 -> 62 -> 60 -> 30 ... -> 5 -> 2
    assert not any(isinstance(layer, keras.layers.BatchNormalization) and layer.name.startswith(("fc", "logits"))
                   for layer in model.layers)
    for name in ("conv_1", "conv_8", "fc_1", "fc_2", "logits"):
        layer = model.get_layer(name)
        fan_in, fan_out = int(np.prod(layer.kernel.shape[:-1])), int(layer.kernel.shape[-1])
        if name.startswith("conv"):
            fan_out *= 9
        assert np.abs(layer.kernel.numpy()).max() <= np.sqrt(6 / (fan_in + fan_out))  # Glorot-uniform
        assert not layer.bias.numpy().any()
    x = _cells(3).astype(np.float64)
    seen = _run(keras.Model(model.input, model.get_layer("preprocess").output), x.astype("float32"))
    scaled = (x - x.min(axis=(1, 2), keepdims=True)) / np.ptp(x, axis=(1, 2), keepdims=True)
    expected = (scaled - scaled.mean(axis=(1, 2, 3), keepdims=True)) / scaled.std(axis=(1, 2, 3), keepdims=True)
    np.testing.assert_allclose(seen, expected, rtol=1e-4, atol=1e-4)  # channels min-max scaled, standardized jointly
    assert model.get_layer("augment").rotations == (0,)


def test_study_preset_augments_with_flips_and_four_rotations():
    x = _cells(64, seed=1).astype("float32")
    study = build_deeploc(5, preset="study", width=0.0625, image_shape=(64, 64, 2), seed=0)
    augment = study.get_layer("augment")
    out = keras.ops.convert_to_numpy(augment(x, training=True))
    variants = [np.rot90(np.flip(x, axis) if axis is not None else x, k, axes=(1, 2))
                for axis in (None, 1) for k in range(4)]  # the 8 symmetries of the square
    matches = [[j for j, v in enumerate(variants) if np.array_equal(out[i], v[i])] for i in range(len(x))]
    assert all(len(m) == 1 for m in matches)  # every cell is one of the 8 symmetries of the square ...
    assert len({m[0] for m in matches}) >= 6  # ... drawn widely (64 cells)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(augment(x, training=False)), x)


def test_tta_model_standardizes_each_of_five_crops():
    x = _cells(2)
    preset = dataclasses.replace(PRESETS["study"], crop_size=60, crop_offsets=5, input_size=60)
    model = build_deeploc(5, preset=preset, width=0.125, image_shape=(64, 64, 2), seed=0)
    got = _run(tta_model(model, "fc_2", "5crop"), x)
    embed = keras.Model(model.get_layer("conv_1").input, model.get_layer("fc_2_relu").output)
    expected = []
    for r, c in ((2, 2), (0, 0), (0, 4), (4, 0), (4, 4)):
        crop = x[:, r:r + 60, c:c + 60].astype("float64")
        crop = (crop - crop.mean(axis=(1, 2), keepdims=True)) / crop.std(axis=(1, 2), keepdims=True)
        expected.append(_run(embed, crop.astype("float32")))
    np.testing.assert_allclose(got, np.mean(expected, axis=0), rtol=1e-3, atol=1e-4)


def test_saved_model_round_trip_without_custom_objects(tmp_path):
    model = build_deeploc(5, "study", 0.125, image_shape=(64, 64, 2), seed=3)
    cells = _cells(2)
    path = tmp_path / "m.keras"
    model.save(path)
    np.save(tmp_path / "cells.npy", cells)
    code = ("import sys, numpy as np, keras; import deeploc_keras.models.deeploc; "
            "m = keras.saving.load_model(sys.argv[1]); "
            "np.save(sys.argv[3], m(np.load(sys.argv[2]), training=False).numpy()); "
            "assert m.get_layer('augment').rotations == (0, 1, 2, 3)")
    subprocess.run([sys.executable, "-c", code, str(path), str(tmp_path / "cells.npy"), str(tmp_path / "out.npy")],
                   check=True, capture_output=True)
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), _run(model, cells), rtol=1e-5, atol=1e-6)
    loaded = keras.saving.load_model(path)
    assert tta_model(loaded, "fc_2", "center").output.shape == (None, 64)


def test_mixed_bfloat16_keeps_float32_outputs():
    keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
    try:
        model = build_deeploc(4, width=0.125, image_shape=(64, 64, 2))
        assert model.get_layer("conv_1").compute_dtype == "bfloat16"
        assert model.get_layer("preprocess").compute_dtype == "float32"
        out = model(_cells(2), training=False)
        assert out.dtype == "float32"
        assert embedding_model(model).output.dtype == "float32"
        assert tta_model(model, "logits").output.dtype == "float32"
    finally:
        keras.mixed_precision.set_dtype_policy("float32")


def test_build_deeploc_raises_unknown_preset():
    with pytest.raises(InputError, match=r"unknown preset 'kraus'; expected one of \['kraus2017'"):
        build_deeploc(19, "kraus")


@pytest.mark.parametrize("width", [0, -1.0, float("nan")])
def test_build_deeploc_raises_bad_width(width):
    with pytest.raises(InputError, match="width must be"):
        build_deeploc(19, width=width)


@pytest.mark.parametrize("num_classes", [1, 0, 2.5, True])
def test_build_deeploc_raises_too_few_classes(num_classes):
    with pytest.raises(InputError, match="num_classes must be an int >= 2"):
        build_deeploc(num_classes)


def test_build_deeploc_raises_bad_image_shape():
    with pytest.raises(InputError, match="image_shape"):
        build_deeploc(19, image_shape=(64, 64))


def test_embedding_model_raises_unknown_layer():
    with pytest.raises(InputError, match=r"layer 'fc_3' is not in model 'deeploc'; expected one of \[.*'fc_2'"):
        embedding_model(build_deeploc(3, width=0.125), "fc_3")


def test_tta_model_raises_bad_input():
    plain = build_deeploc(3, width=0.125)
    with pytest.raises(InputError, match="needs a model built with image_shape"):
        tta_model(plain)
    model = build_deeploc(3, width=0.125, image_shape=(64, 64, 2))
    with pytest.raises(InputError, match="unknown tta"):
        tta_model(model, tta="10crop")
    with pytest.raises(InputError, match="before the crop"):
        tta_model(model, "preprocess")
    nocrop = build_deeploc(3, "razdaibiedina2022", 0.125, image_shape=(64, 64, 2))
    with pytest.raises(InputError, match="needs a preset with a crop"):
        tta_model(nocrop)
