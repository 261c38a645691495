"""Tests of the sweep's shared model (deeploc_keras.training.sweep): one compiled model, each run's own state."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from deeploc_keras.training.sweep import SweepModel, copy_state

X = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
Y = X @ np.array([[1.0], [-2.0], [0.5]], "float32")


def _compiled(seed: int, rate: float, units: int = 2) -> keras.Model:
    """A tiny regression model, its weights drawn from ``seed``, Adam at ``rate`` (optimizer built), named as
    every run of a sweep names its model (a fresh session each)."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(units), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(rate), loss="mse", jit_compile=False)
    model.optimizer.build(model.trainable_variables)
    return model


def _weights(model: keras.Model) -> list[np.ndarray]:
    return [np.asarray(v) for v in [*model.variables, *model.optimizer.variables]]


def test_copy_state_copies_weights_and_optimizer_state():
    source, target = _compiled(0, 1e-2), _compiled(1, 1e-3)
    source.fit(X, Y, epochs=1, batch_size=8, verbose=0)  # moments and step counter away from their start
    copy_state(source, target)
    for a, b in zip(_weights(source), _weights(target), strict=True):
        np.testing.assert_array_equal(a, b)
    assert float(target.optimizer.learning_rate) == pytest.approx(1e-2)


def test_copy_state_raises_on_models_of_other_variables():
    with pytest.raises(ValueError, match="do not have the same variables"):
        copy_state(_compiled(0, 1e-3, units=2), _compiled(0, 1e-3, units=3))


def test_adopted_model_trains_a_later_run_as_its_own_model_would():
    shared = SweepModel()
    first = _compiled(0, 1e-2)
    assert shared.adopt(first) is first
    alone = _compiled(1, 1e-3)
    alone.fit(X, Y, epochs=2, batch_size=8, verbose=0, shuffle=False)
    second = _compiled(1, 1e-3)
    trained = shared.adopt(second)
    assert trained is first
    trained.fit(X, Y, epochs=2, batch_size=8, verbose=0, shuffle=False)
    for a, b in zip(_weights(alone), _weights(trained), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=0)
