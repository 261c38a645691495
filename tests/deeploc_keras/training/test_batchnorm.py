"""Tests of BatchNorm convergence and re-estimation (deeploc_keras.training.batchnorm) and its use in ``train``."""

from __future__ import annotations

import logging

import keras
import numpy as np
import pytest
import tensorflow as tf

from deeploc_keras.core.errors import InputError
from deeploc_keras.data.store import CellStore
from deeploc_keras.models.layers import CellAugment
from deeploc_keras.training.batchnorm import (
    BatchNormReestimation,
    batchnorm_layers,
    epoch_share,
    initial_share,
    reestimate_batchnorm,
    warn_unconverged,
)
from deeploc_keras.training.train import train

LOGGER = "deeploc_keras.training.batchnorm"


def _model() -> keras.Model:
    """Augment (random in training) -> conv -> BN -> ReLU -> conv -> BN -> dense, with BN weights off their defaults."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 2))
    x = CellAugment(crop_size=6, crop_offsets=3, seed=1, name="augment")(inputs)
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv_a")(x)
    x = keras.layers.BatchNormalization(momentum=0.9, name="bn_a")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Conv2D(3, 3, padding="same", name="conv_b")(x)
    x = keras.layers.BatchNormalization(momentum=0.9, name="bn_b")(x)
    outputs = keras.layers.Dense(2, name="logits")(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, outputs)
    for name, gamma, beta in (("bn_a", 1.5, 0.3), ("bn_b", 0.7, -0.2)):
        layer = model.get_layer(name)
        layer.gamma.assign(np.full(layer.gamma.shape, gamma, "float32"))
        layer.beta.assign(np.full(layer.beta.shape, beta, "float32"))
    return model


def _conv(layer: keras.layers.Conv2D, x: np.ndarray) -> np.ndarray:
    return (tf.nn.conv2d(x, layer.kernel, 1, "SAME") + layer.bias).numpy().astype(np.float64)


def _expected_statistics(model: keras.Model, batches: list[np.ndarray]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each BN layer's mean and variance over its inputs in training mode, without augmentation (centre crop)."""
    inputs = {"bn_a": [], "bn_b": []}
    bn_a = model.get_layer("bn_a")
    for batch in batches:
        a = _conv(model.get_layer("conv_a"), batch[:, 1:7, 1:7, :])
        inputs["bn_a"].append(a)
        mean, var = a.mean(axis=(0, 1, 2)), a.var(axis=(0, 1, 2))
        normed = (a - mean) / np.sqrt(var + bn_a.epsilon) * bn_a.gamma.numpy() + bn_a.beta.numpy()
        inputs["bn_b"].append(_conv(model.get_layer("conv_b"), np.maximum(normed, 0).astype("float32")))
    return {name: (np.concatenate(v).mean(axis=(0, 1, 2)), np.concatenate(v).var(axis=(0, 1, 2)))
            for name, v in inputs.items()}


def _cells(n: int = 48, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).gamma(2.0, 3.0, (n, 8, 8, 2)).astype("float32") + 5.0


def test_initial_share_is_momentum_to_the_steps():
    assert initial_share(0.99, 120) == pytest.approx(0.2994, abs=1e-4)
    assert initial_share(0.9, 0) == 1.0
    assert initial_share(0.0, 3) == 0.0


@pytest.mark.parametrize(("momentum", "steps"), [(1.0, 3), (-0.1, 3), (0.9, -1)])
def test_initial_share_raises_bad_arguments(momentum, steps):
    with pytest.raises(InputError, match="momentum|steps"):
        initial_share(momentum, steps)


def test_reestimate_batchnorm_sets_training_statistics_and_changes_no_other_weight():
    model = _model()
    keep = {w.path: w.numpy().copy() for w in model.weights if "moving" not in w.path}
    batches = [_cells(16, seed) for seed in range(3)]
    assert reestimate_batchnorm(model, (tf.constant(b) for b in batches), jit_compile=False) == 48
    for w in model.weights:
        if "moving" not in w.path:
            np.testing.assert_array_equal(w.numpy(), keep[w.path], err_msg=w.path)
    for name, (mean, var) in _expected_statistics(model, batches).items():
        layer = model.get_layer(name)
        np.testing.assert_allclose(layer.moving_mean.numpy(), mean, rtol=1e-4, atol=1e-4, err_msg=name)
        np.testing.assert_allclose(layer.moving_variance.numpy(), var, rtol=1e-4, err_msg=name)
    assert [layer.name for layer in batchnorm_layers(model)] == ["bn_a", "bn_b"]


def test_reestimate_batchnorm_raises_on_no_batches():
    with pytest.raises(InputError, match="at least one batch"):
        reestimate_batchnorm(_model(), [], jit_compile=False)


def test_batchnorm_reestimation_runs_before_validation():
    model = _model()
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss=keras.losses.SparseCategoricalCrossentropy(True))
    x, y = _cells(32), np.arange(32) % 2
    batches = [x[:16], x[16:]]
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0, validation_data=(x, y),
                        callbacks=[BatchNormReestimation(batches, jit_compile=False)])
    for name, (mean, var) in _expected_statistics(model, batches).items():
        np.testing.assert_allclose(model.get_layer(name).moving_mean.numpy(), mean, rtol=1e-4, atol=1e-4, err_msg=name)
        np.testing.assert_allclose(model.get_layer(name).moving_variance.numpy(), var, rtol=1e-4, err_msg=name)
    assert history.history["val_loss"][-1] == pytest.approx(model.evaluate(x, y, batch_size=16, verbose=0), rel=1e-5)


def test_warn_unconverged_warns_only_above_five_percent(caplog):
    model = _model()  # momentum 0.9: 0.9 ** 28 = 5.2 %, 0.9 ** 29 = 4.7 %
    assert epoch_share(model, 28) == pytest.approx(0.9 ** 28)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert not warn_unconverged(model, 29)
        assert not caplog.records
        assert warn_unconverged(model, 28)
    assert "keeps 5% of the moving statistics" in caplog.text and "re-estimated" in caplog.text


def test_train_reestimates_batchnorm_when_an_epoch_leaves_it_unconverged(tiny_store, tmp_path, caplog):
    fast = {"width": 0.125, "batch_size": 32, "mixed_precision": "off", "verbose": 0, "jit_compile": False,
            "epochs": 1, "seed": 0}
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        result = train(tiny_store, tmp_path / "run", steps_per_epoch=3, **fast)
    assert "keeps 97% of the moving statistics" in caplog.text
    model = keras.models.load_model(result["best_model"])
    with CellStore.open(tiny_store) as store:
        cells = store.images(store.select("train", labelled=True))
    conv = keras.Model(model.inputs, model.get_layer("conv_1").output)
    variance = conv.predict(cells, verbose=0).var(axis=(0, 1, 2))  # the first BN's input, over every training cell
    ema = 0.99 ** 3 + (1 - 0.99 ** 3) * variance  # what 3 updates of the moving variance from 1 would give
    assert not np.allclose(ema, variance, rtol=0.25)
    np.testing.assert_allclose(model.get_layer("conv_1_bn").moving_variance.numpy(), variance, rtol=0.25)
