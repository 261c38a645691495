"""Tests for deeploc_keras.models.pci and deeploc_keras.models.layers_pci (Paired Cell Inpainting)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from deeploc_keras.core.errors import InputError
from deeploc_keras.data.pairs import pair_dataset
from deeploc_keras.data.store import CellStore
from deeploc_keras.models.layers_pci import PerCropMinMax, minmax_scale
from deeploc_keras.models.pci import PCI_FEATURE_LAYERS, PCI_PARAMS, build_pci, pci_feature_model

#: layer -> (class, output shape without batch) at width 1.0, as yeast_model/pair_model.py
EXPECTED_LAYERS = {
    "source": ("InputLayer", (64, 64, 2)), "target_marker": ("InputLayer", (64, 64, 1)),
    "conv1_1": ("Conv2D", (64, 64, 96)), "conv1_1_bn": ("BatchNormalization", (64, 64, 96)),
    "pool1": ("TiledMaxPooling2D", (32, 32, 96)),
    "conv2_1": ("Conv2D", (32, 32, 256)), "conv2_1_bn": ("BatchNormalization", (32, 32, 256)),
    "pool2": ("TiledMaxPooling2D", (16, 16, 256)),
    "conv3_1": ("Conv2D", (16, 16, 384)), "conv3_1_bn": ("BatchNormalization", (16, 16, 384)),
    "conv4_1": ("Conv2D", (16, 16, 384)), "conv4_1_bn": ("BatchNormalization", (16, 16, 384)),
    "conv5_1": ("Conv2D", (16, 16, 256)), "conv5_1_bn": ("BatchNormalization", (16, 16, 256)),
    "rfpconv1_1": ("Conv2D", (64, 64, 16)), "rfpconv1_1_bn": ("BatchNormalization", (64, 64, 16)),
    "rfppool1": ("TiledMaxPooling2D", (32, 32, 16)),
    "rfpconv2_1": ("Conv2D", (32, 32, 32)), "rfpconv2_1_bn": ("BatchNormalization", (32, 32, 32)),
    "rfppool2": ("TiledMaxPooling2D", (16, 16, 32)),
    "rfpconv3_1": ("Conv2D", (16, 16, 32)), "rfpconv3_1_bn": ("BatchNormalization", (16, 16, 32)),
    "merge": ("Concatenate", (16, 16, 288)),
    "conv6_1": ("Conv2D", (16, 16, 256)), "conv7_1": ("Conv2D", (16, 16, 384)),
    "conv8_1": ("Conv2D", (16, 16, 384)), "up1": ("UpSampling2D", (32, 32, 384)),
    "conv9_1": ("Conv2D", (32, 32, 256)), "up2": ("UpSampling2D", (64, 64, 256)),
    "conv10_1": ("Conv2D", (64, 64, 96)), "target_protein": ("Conv2D", (64, 64, 1)),
}  # fmt: skip


@pytest.fixture(scope="module")
def full_model():
    return build_pci(seed=0)


@pytest.fixture(scope="module")
def blob_store(tmp_path_factory):
    """6 proteins x 12 cells: a round cell (marker) with a protein-specific GFP pattern."""
    path = tmp_path_factory.mktemp("pci") / "blobs.h5"
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:64, :64]
    images, proteins = [], []
    for p in range(6):
        angle = 2 * np.pi * p / 6
        for _ in range(12):
            cy, cx = 32 + rng.integers(-6, 7, size=2)
            cell = ((yy - cy) ** 2 + (xx - cx) ** 2 < 14**2).astype(float)
            by, bx = cy + 8 * np.sin(angle), cx + 8 * np.cos(angle)
            blob = np.exp(-((yy - by) ** 2 + (xx - bx) ** 2) / (2 * (1 + p % 3) ** 2)) * cell
            gfp = 200 + 3000 * blob + rng.normal(0, 20, (64, 64))
            rfp = 200 + 1500 * cell + rng.normal(0, 20, (64, 64))
            images.append(np.clip(np.stack([gfp, rfp], -1), 0, 65535).astype(np.uint16))
            proteins.append(f"P{p}")
    with CellStore.create(path, seed=0) as store:
        store.append(np.stack(images), {"protein": proteins, "split": [0] * len(proteins)})
    return path


def test_build_pci_param_count_and_layers(full_model):
    trainable = sum(int(np.prod(w.shape)) for w in full_model.trainable_weights)
    assert (full_model.count_params(), trainable) == PCI_PARAMS == (7_323_521, 7_320_609)
    layers = {layer.name: (type(layer).__name__, tuple(layer.output.shape[1:])) for layer in full_model.layers}
    assert layers == EXPECTED_LAYERS
    assert len(full_model.layers) == len(EXPECTED_LAYERS)
    assert full_model.get_layer("target_protein").activation.__name__ == "linear"
    assert all(full_model.get_layer(name).activation.__name__ == "relu"
               for name, (kind, _) in EXPECTED_LAYERS.items() if kind == "Conv2D" and name != "target_protein")
    assert [t.name for t in full_model.inputs] == ["source", "target_marker"]


def test_build_pci_width_scales_filters():
    model = build_pci(0.125, seed=0)
    assert model.get_layer("conv4_1").output.shape[-1] == 48
    assert model.get_layer("rfpconv1_1").output.shape[-1] == 2
    assert model.get_layer("merge").output.shape[-1] == 36
    assert model.output.shape[1:] == (64, 64, 1)
    assert model.count_params() < PCI_PARAMS[0] / 30


def test_build_pci_seed_is_reproducible():
    first, second = build_pci(0.125, seed=3), build_pci(0.125, seed=3)
    for a, b in zip(first.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first.get_weights()[0], build_pci(0.125, seed=4).get_weights()[0])


def test_build_pci_output_float32_under_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = build_pci(0.125, seed=0)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert model.get_layer("conv1_1").compute_dtype == "bfloat16"
    out = model([np.zeros((1, 64, 64, 2), "float32"), np.zeros((1, 64, 64, 1), "float32")])
    assert keras.backend.standardize_dtype(out.dtype) == "float32"


def test_build_pci_one_training_step_full_size(full_model):
    model = keras.models.clone_model(full_model)
    model.compile(optimizer=keras.optimizers.Adam(1e-4, beta_1=0.5), loss="mse", jit_compile=False)
    rng = np.random.default_rng(0)
    source, marker, protein = rng.random((2, 64, 64, 2)), rng.random((2, 64, 64, 1)), rng.random((2, 64, 64, 1))
    before = model.get_layer("conv1_1").get_weights()[0].copy()
    loss = model.train_on_batch([source, marker], protein)
    assert np.isfinite(loss) and loss > 0
    assert not np.array_equal(before, model.get_layer("conv1_1").get_weights()[0])


def test_pci_training_lowers_reconstruction_loss(blob_store):
    keras.utils.set_random_seed(0)
    pairs = pair_dataset(blob_store, batch_size=12, seed=0)
    model = build_pci(0.125, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5), loss="mse", jit_compile=False)
    history = model.fit(pairs.dataset, epochs=3, verbose=0, shuffle=False).history["loss"]
    assert len(history) == 3
    assert history[-1] < 0.6 * history[0]
    assert history[-1] < history[-2]


def test_pci_feature_model_features_per_layer(full_model):
    crops = np.random.default_rng(1).integers(0, 4000, (3, 64, 64, 2)).astype(np.uint16)
    for layer, filters in PCI_FEATURE_LAYERS.items():
        features = pci_feature_model(full_model, layer).predict(crops, verbose=0)
        assert features.shape == (3, filters) and features.dtype == np.float32


def test_pci_feature_model_is_max_pooled_pre_bn_relu_and_deterministic(full_model):
    crops = np.random.default_rng(2).integers(0, 4000, (4, 64, 64, 2)).astype(np.uint16)
    features = pci_feature_model(full_model, "conv4_1")
    first = features.predict(crops, verbose=0)
    assert first.shape == (4, 384)
    np.testing.assert_array_equal(first, features.predict(crops, verbose=0))
    np.testing.assert_array_equal(first, pci_feature_model(full_model, "conv4_1").predict(crops, verbose=0))
    conv = keras.Model(full_model.get_layer("source").output, full_model.get_layer("conv4_1").output)
    expected = np.asarray(conv(minmax_scale(crops))).max(axis=(1, 2))
    np.testing.assert_allclose(first, expected, rtol=1e-5, atol=1e-6)
    assert (first >= 0).all()  # ReLU output, before the BN


def test_pci_feature_model_reads_a_saved_model(tmp_path):
    model = build_pci(0.125, seed=0)
    model.save(tmp_path / "best.keras")
    loaded = keras.saving.load_model(tmp_path / "best.keras")
    crops = np.random.default_rng(3).random((2, 64, 64, 2)).astype("float32")
    np.testing.assert_allclose(pci_feature_model(loaded, "conv3_1").predict(crops, verbose=0),
                               pci_feature_model(model, "conv3_1").predict(crops, verbose=0), rtol=1e-6)


def test_pci_feature_model_raises_unknown_layer(full_model):
    with pytest.raises(InputError, match=r"expected one of \['conv1_1', 'conv2_1', 'conv3_1', 'conv4_1', "
                                         r"'conv5_1'\]. Received: layer='conv6_1'"):
        pci_feature_model(full_model, "conv6_1")


def test_pci_feature_model_raises_not_pci_model():
    other = keras.Sequential([keras.Input((64, 64, 2)), keras.layers.Conv2D(4, 3, name="conv4_1")])
    with pytest.raises(InputError, match="is not a PCI model"):
        pci_feature_model(other, "conv4_1")


def test_build_pci_raises_bad_width():
    with pytest.raises(InputError, match="width must be positive"):
        build_pci(0)


def test_minmax_scale_per_crop_and_channel():
    x = np.zeros((2, 4, 4, 2), np.uint16)
    x[0, ..., 0] = np.arange(16).reshape(4, 4) + 100
    x[1, ..., 0] = 65535
    x[1, 0, 0, 0] = 0
    x[0, ..., 1] = 7  # constant channel -> zeros
    out = np.asarray(minmax_scale(x))
    np.testing.assert_allclose(out[0, ..., 0], np.arange(16).reshape(4, 4) / 15, rtol=1e-6)
    assert (out[0, ..., 1] == 0).all()
    assert out[1, 0, 0, 0] == 0 and (out[1, ..., 0].ravel()[1:] == 1).all()


def test_per_crop_minmax_round_trips_keras_file(tmp_path):
    inputs = keras.Input((8, 8, 2))
    model = keras.Model(inputs, PerCropMinMax(name="minmax")(inputs))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.get_layer("minmax"), PerCropMinMax)
    x = np.random.default_rng(0).random((3, 8, 8, 2)) * 1000
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
