"""The same seed gives the same training history and weights on this machine (deeploc_keras.training.train)."""

from __future__ import annotations

import keras
import numpy as np

from deeploc_keras.training.train import train

TINY = {"width": 0.0625, "batch_size": 32, "mixed_precision": "off", "verbose": 0, "jit_compile": False,
        "epochs": 2, "steps_per_epoch": 1, "learning_rate": 1e-3}


def _weights(run) -> dict[str, np.ndarray]:
    model = keras.saving.load_model(run / "best.keras")
    return {weight.path: weight.numpy() for weight in model.weights}


def test_train_same_seed_same_history_and_weights(tiny_store, tmp_path):
    first_run, second_run = tmp_path / "a", tmp_path / "b"
    for run in (first_run, second_run):
        train(tiny_store, run, seed=7, **TINY)
    history = (first_run / "history.csv").read_text()
    assert history == (second_run / "history.csv").read_text()
    assert len(history.splitlines()) == 3
    first, second = _weights(first_run), _weights(second_run)
    assert list(first) == list(second) and len(first) > 10
    for name in first:
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)
