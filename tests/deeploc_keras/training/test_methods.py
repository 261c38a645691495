"""Tests of the method table (deeploc_keras.training.methods): layer registration before a saved model loads, and
the PIFiA entry (protein identity)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from deeploc_keras.core.errors import InputError
from deeploc_keras.data.store import CellStore
from deeploc_keras.training.config import TrainConfig
from deeploc_keras.training.methods import METHODS, get_method
from deeploc_keras.training.train import train


def test_register_keras_objects_registers_every_methods_custom_layers():
    script = ("import json, keras\n"
              "from deeploc_keras._registration import register_keras_objects\n"
              "names = ['PerCropMinMax', 'PercentileStretch', 'Standardize', 'CellAugment', 'FixedCrops',"
              " 'CropAverage', 'CellModel', 'SelectChannels', 'ImageStandardize']\n"
              "before = [keras.saving.get_registered_object('deeploc_keras>' + n) is not None for n in names]\n"
              "modules = register_keras_objects()\n"
              "after = [keras.saving.get_registered_object('deeploc_keras>' + n) is not None for n in names]\n"
              "print(json.dumps([before, after, modules]))\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    before, after, modules = json.loads(proc.stdout.strip().splitlines()[-1])
    assert all(before) and all(after)  # importing the package registers them already (keras loaded first)
    assert set(modules) >= {spec.layers_module for spec in METHODS.values() if spec.layers_module is not None}


def test_every_learned_method_names_its_layers_module():
    for spec in METHODS.values():
        assert (spec.layers_module is not None) == (spec.feature_model is not None), spec.name


# --- pifia: protein identity ---


def _split_store(path, splits: dict[str, list[int]]):
    """Cells of the given proteins and splits; pixel (0, 0, 1) holds the cell's row number + 1."""
    rows = [(protein, split) for protein, protein_splits in splits.items() for split in protein_splits]
    images = np.random.default_rng(0).integers(0, 4000, (len(rows), 64, 64, 2)).astype(np.uint16)
    images[:, 0, 0, 1] = np.arange(1, len(rows) + 1)
    with CellStore.create(path, chunk_cells=4) as writer:
        writer.append(images, {"protein": [p for p, _ in rows], "split": [s for _, s in rows]})
    return path


def test_pifia_trains_on_the_protein_of_each_cell_of_the_trained_proteins(tmp_path):
    """Classes: the proteins with train cells, sorted; val cells of a protein without train cells are left out."""
    path = _split_store(tmp_path / "cells.h5", {"B": [0, 0, 0, 1, 1], "A": [0, 0, 1], "C": [1, 1, 2], "D": [0, 2]})
    spec = get_method("pifia")
    cfg = TrainConfig.from_preset("pifia", batch_size=2)
    seen = {0: {}, 1: {}}
    with CellStore.open(path) as store:
        proteins = store.cells["protein"].tolist()
        splits = store.cells["split"].tolist()
        train_ds, val_ds, _ = spec.datasets(store, cfg, 0)
        model = spec.build(store, cfg)
        for dataset, split in ((train_ds, 0), (val_ds, 1)):
            for images, labels in dataset:
                for row, label in zip(images.numpy()[:, 0, 0, 1].astype(int) - 1, labels.numpy(), strict=True):
                    seen[split][int(row)] = int(label)
    classes = ["A", "B", "D"]
    assert model.info["class_names"] == classes and model.output.shape == (None, 3)
    for split in (0, 1):
        expected = {row: classes.index(p) for row, (p, s) in enumerate(zip(proteins, splits, strict=True))
                    if s == split and p in classes}
        assert seen[split] == expected


def test_pifia_schedule_decays_the_rate_to_zero_over_the_run(tiny_store, tmp_path):
    cfg = TrainConfig.from_preset("pifia", epochs=3, batch_size=32)
    assert (cfg.learning_rate, cfg.epochs) == (3e-4, 3)
    assert TrainConfig.from_preset("pifia", lr_sweep=True).sweep_rates == (1e-3, 6e-4, 3e-4, 1e-4, 5e-5)
    with CellStore.open(tiny_store) as store:
        train_cells = int((store.cells["split"] == 0).sum())
        schedule = get_method("pifia").schedule(store, cfg)
    steps = 3 * -(-train_cells // 32)  # epochs x batches per epoch
    for step in (0, steps // 3, steps // 2, steps):
        assert float(schedule(step)) == pytest.approx(3e-4 * 0.5 * (1 + np.cos(np.pi * step / steps)), abs=1e-9)


def test_train_pifia_writes_a_run_that_extracts(tiny_store, tmp_path):
    from deeploc_keras.inference.extract import extract

    result = train(tiny_store, tmp_path / "run", method="pifia", epochs=2, steps_per_epoch=2, width=0.0625,
                   batch_size=32, mixed_precision="off", verbose=0, jit_compile=False, seed=0)
    history = pd.read_csv(tmp_path / "run" / "history.csv")
    assert list(history.columns) == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    profiles = extract(tiny_store, tmp_path / "profiles", method="pifia", model_path=result["best_model"])
    assert (profiles["layer"], profiles["n_features"]) == ("d2", 64)
    assert pd.read_parquet(profiles["proteins"]).filter(like="PIFiA_d2_").shape[1] == 64


def test_train_raises_on_pifia_store_with_one_protein(tmp_path):
    path = _split_store(tmp_path / "cells.h5", {"A": [0, 0, 1, 2]})
    with pytest.raises(InputError, match="1 protein\\(s\\) with cells in the train split; PIFiA .* at least 2"):
        train(path, tmp_path / "run", method="pifia", mixed_precision="off")
    assert not (tmp_path / "run").exists()


def test_train_raises_on_pifia_store_without_val_cells_of_trained_proteins(tmp_path):
    path = _split_store(tmp_path / "cells.h5", {"A": [0, 0, 2], "B": [0, 2], "C": [1]})
    with pytest.raises(InputError, match="no val cell belongs to a protein with train cells"):
        train(path, tmp_path / "run", method="pifia", mixed_precision="off")
