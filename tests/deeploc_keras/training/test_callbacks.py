"""Tests of the training callbacks (deeploc_keras.training.callbacks): NaN epoch, finite checkpoints, the monitor."""

from __future__ import annotations

import logging

import keras
import numpy as np
import pandas as pd
import pytest

from deeploc_keras.data.store import CellStore
from deeploc_keras.training.callbacks import MONITOR_METRICS, FiniteModelCheckpoint, MonitorScores, TerminateOnNaNEpoch
from eval.score import score_representation
from eval.standards import load_standards

PROTEINS = [f"P{c}{p}" for c in range(4) for p in range(2)]


def _poison_at(model: keras.Model, at: int) -> keras.callbacks.Callback:
    """A callback that makes every weight of ``model`` NaN when epoch ``at`` begins."""

    def poison(epoch, logs):
        if epoch == at:
            for weight in model.weights:
                weight.assign(np.full(weight.shape, np.nan, dtype="float32"))

    return keras.callbacks.LambdaCallback(on_epoch_begin=poison)


def _dense_model() -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.compile(optimizer="sgd", loss="mse")
    return model


def _xy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype("float32")
    return x, x.sum(axis=1, keepdims=True)


def test_terminate_on_nan_epoch_records_the_bad_epoch():
    guard, model = TerminateOnNaNEpoch(), _dense_model()
    history = model.fit(*_xy(), batch_size=8, epochs=5, verbose=0, callbacks=[_poison_at(model, 2), guard])
    assert guard.nan_epoch == 2
    assert len(history.history["loss"]) == 3 and guard.model.stop_training


def test_terminate_on_nan_epoch_stays_none_on_finite_loss():
    guard = TerminateOnNaNEpoch()
    history = _dense_model().fit(*_xy(), batch_size=8, epochs=3, verbose=0, callbacks=[guard])
    assert guard.nan_epoch is None and len(history.history["loss"]) == 3


@pytest.mark.parametrize("bad", [{"loss": float("nan"), "val_loss": 1.0}, {"loss": 1.0, "val_loss": float("inf")}])
def test_finite_model_checkpoint_skips_non_finite_epochs(tmp_path, bad, caplog):
    path = tmp_path / "best.keras"
    checkpoint = FiniteModelCheckpoint(str(path), monitor="val_loss", save_best_only=True)
    checkpoint.set_model(_dense_model())
    with caplog.at_level(logging.WARNING, logger="deeploc_keras.training.callbacks"):
        checkpoint.on_epoch_end(0, bad)
    assert not path.exists()
    assert "epoch 1: loss or val_loss is not finite; no checkpoint saved" in caplog.text
    checkpoint.on_epoch_end(1, {"loss": 2.0, "val_loss": 0.5})
    assert path.is_file()
    saved = path.read_bytes()
    checkpoint.on_epoch_end(2, {"loss": 1.0, "val_loss": 0.7})  # not better: kept
    assert path.read_bytes() == saved
    checkpoint.on_epoch_end(3, {"loss": 1.0, "val_loss": 0.25})
    assert keras.saving.load_model(path).output.shape == (None, 1)


def _monitor_store(path, *, splits, proteins, seed=0):
    """A float32 store whose GFP brightness depends on the protein's class."""
    rng = np.random.default_rng(seed)
    levels = np.array([0.0 if p == "unknown" else 1.0 + int(p[1]) for p in proteins])
    images = rng.uniform(0, 0.2, size=(len(proteins), 64, 64, 2)).astype(np.float32)
    images[..., 0] += levels[:, None, None].astype(np.float32)
    with CellStore.create(path, dtype="float32", chunk_cells=8) as writer:
        writer.append(images, {"protein": np.asarray(proteins), "split": np.asarray(splits)})
    return path


def _channel_means() -> keras.Model:
    inputs = keras.Input((64, 64, 2))
    return keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(inputs))


def test_monitor_scores_protein_means_of_test_cells(tmp_path, tiny_standards):
    proteins = PROTEINS * 4 + ["unknown"] * 4
    splits = [0] * 8 + [1] * 8 + [2] * 16 + [1, 2, 1, 2]
    path = _monitor_store(tmp_path / "s.h5", splits=splits, proteins=proteins)
    standards = load_standards(tiny_standards)
    out = tmp_path / "monitor.csv"
    level = logging.getLogger("eval.score").level
    with CellStore.open(path) as store:
        monitor = MonitorScores(store, standards, lambda model: model, path=out, seed=3, batch_size=5)
        monitor.set_model(_channel_means())
        monitor.on_epoch_end(0)
        monitor.on_epoch_end(1)
        images = store.images(slice(None)).astype(np.float64)
    assert logging.getLogger("eval.score").level == level

    cells = pd.DataFrame(images.mean(axis=(1, 2)), columns=["gfp", "rfp"]).assign(protein=proteins, split=splits)
    kept = cells[(cells["split"] == 2) & (cells["protein"] != "unknown")]
    means = kept.groupby("protein", sort=True)[["gfp", "rfp"]].mean()
    expected = score_representation(list(means.index), means.to_numpy(), standards, metrics=MONITOR_METRICS, seed=3)

    table = pd.read_csv(out)
    assert list(table.columns) == ["epoch", "seed", "standard", "metric", "value", "prevalence"]
    assert table["epoch"].tolist() == [1] * len(expected) + [2] * len(expected)
    assert (table["seed"] == 3).all() and (table["standard"] == "classes").all()
    for epoch in (1, 2):
        rows = table[table["epoch"] == epoch].reset_index(drop=True)
        assert rows["metric"].tolist() == expected["metric"].tolist()
        np.testing.assert_allclose(rows["value"], expected["value"], rtol=1e-5)


def _one_epoch(store_path, standards_dir, out) -> None:
    with CellStore.open(store_path) as store:
        monitor = MonitorScores(store, load_standards(standards_dir), lambda model: model, path=out, seed=0,
                                batch_size=4)
        monitor.set_model(_channel_means())
        monitor.on_epoch_end(0)


def test_monitor_scores_uses_test_cells_when_val_is_empty(tmp_path, tiny_standards):
    path = _monitor_store(tmp_path / "s.h5", splits=[0] * 8 + [2] * 8, proteins=PROTEINS * 2)
    _one_epoch(path, tiny_standards, tmp_path / "monitor.csv")
    assert set(pd.read_csv(tmp_path / "monitor.csv")["metric"]) == set(MONITOR_METRICS)


def test_monitor_scores_writes_nothing_without_known_proteins(tmp_path, tiny_standards):
    path = _monitor_store(tmp_path / "s.h5", splits=[0, 1, 2, 2], proteins=["P00", "unknown", "unknown", "unknown"])
    _one_epoch(path, tiny_standards, tmp_path / "monitor.csv")
    assert not (tmp_path / "monitor.csv").exists()
