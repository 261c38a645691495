"""Resume: an interrupted run continues to the uninterrupted history and weights exactly; backups survive kills."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import pytest

from deeploc_keras.train import train

FAST = {"width": 0.0625, "batch_size": 32, "mixed_precision": "off", "verbose": 0, "jit_compile": False,
        "epochs": 3, "lr": 1e-3, "seed": 0}
OPTIONS = {"deeploc": {**FAST, "preset": "study"}, "pci": {**FAST, "method": "pci", "batch_size": 16}}


class _Interrupt(keras.callbacks.Callback):
    """Ctrl-C at the end of epoch ``at`` (before its backup) or at the start of epoch ``at`` (after the backup)."""

    def __init__(self, at: int, when: str) -> None:
        super().__init__()
        self.at, self.when = at, when

    def on_epoch_end(self, epoch, logs=None):
        if self.when == "end" and epoch == self.at:
            raise KeyboardInterrupt

    def on_epoch_begin(self, epoch, logs=None):
        if self.when == "begin" and epoch == self.at:
            raise KeyboardInterrupt


class _FinalWeights(keras.callbacks.Callback):
    def on_train_end(self, logs=None):
        self.weights = [np.array(w) for w in self.model.get_weights()]


def _finished(store, out, options, *interrupts):
    for interrupt in interrupts:
        with pytest.raises(KeyboardInterrupt):
            train(store, out, callbacks=[interrupt], resume=(out / "backup").exists(), **options)
        assert (out / "backup").is_dir()
    final = _FinalWeights()
    result = train(store, out, callbacks=[final], resume=bool(interrupts), **options)
    assert result["resumed"] is bool(interrupts)
    assert not (out / "backup").exists()
    return pd.read_csv(out / "history.csv"), final.weights


@pytest.fixture(scope="module", params=["deeploc", "pci"])
def uninterrupted(request, tiny_store, tmp_path_factory):
    out = tmp_path_factory.mktemp(f"whole_{request.param}") / "run"
    return request.param, _finished(tiny_store, out, OPTIONS[request.param])


@pytest.mark.parametrize("when", ["end", "begin"])
def test_resume_gives_the_uninterrupted_history_and_weights_exactly(uninterrupted, tiny_store, tmp_path, when):
    method, (history, weights) = uninterrupted
    out = tmp_path / "run"
    resumed_history, resumed_weights = _finished(tiny_store, out, OPTIONS[method], _Interrupt(1, when))
    assert list(resumed_history["epoch"]) == [0, 1, 2]
    assert np.array_equal(resumed_history.to_numpy(), history.to_numpy())
    assert len(resumed_weights) == len(weights)
    assert all(np.array_equal(a, b) for a, b in zip(resumed_weights, weights, strict=True))
