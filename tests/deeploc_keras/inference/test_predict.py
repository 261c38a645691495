"""Tests of localization calls (deeploc_keras.inference.predict) on a tiny trained DeepLoc."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.metrics import confusion_matrix

from deeploc_keras.cli import main
from deeploc_keras.core.errors import InputError, OutputExistsError
from deeploc_keras.data.store import CellStore
from deeploc_keras.inference.predict import predict, protein_calls
from deeploc_keras.models.deeploc import tta_model
from deeploc_keras.models.loading import load_model

CLASSES = ["C0", "C1", "C2", "C3"]


@pytest.fixture(scope="module")
def predicted(trained_runs, tiny_store, tmp_path_factory):
    out = tmp_path_factory.mktemp("predict") / "calls"
    return out, predict(tiny_store, out, model_path=trained_runs["deeploc_cropped"], split="all", threshold=0.3,
                        batch_size=64)


def test_predict_writes_class_named_probabilities_with_5crop_tta(predicted, trained_runs, tiny_store):
    out, result = predicted
    cells = pd.read_parquet(out / "cells.parquet")
    assert result["tta"] == "5crop" and result["n_cells"] == len(cells) == 192
    assert [c for c in cells.columns if not c.startswith("Metadata_")] == CLASSES
    probs = cells[CLASSES].to_numpy()
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert (cells["Metadata_Predicted"] == np.asarray(CLASSES)[probs.argmax(axis=1)]).all()
    # independent: the mean of the softmax over the five fixed crops, computed by hand
    model = load_model(trained_runs["deeploc_cropped"])
    with CellStore.open(tiny_store) as store:
        images = store.images(slice(0, 8)).astype(np.float32)
    logits = keras_logits_over_crops(model, images)
    expected = np.mean([np.exp(z) / np.exp(z).sum(axis=1, keepdims=True) for z in logits], axis=0)
    assert np.allclose(probs[:8], expected, atol=1e-4)
    assert np.allclose(tta_model(model, "logits", "5crop").predict(images, verbose=0), expected, atol=1e-4)


def keras_logits_over_crops(model, images):
    """Logits of each of the five fixed 60x60 crops ((2,2), (0,0), (0,4), (4,0), (4,4)) of the stretched cells.

    kraus2017 stretches the whole cell (the model's ``preprocess`` layer), then crops; the crops go through the
    layers after ``augment``.
    """
    import keras

    names = [layer.name for layer in model.layers]
    assert names.index("preprocess") < names.index("augment")
    stretched = np.asarray(model.get_layer("preprocess")(images))
    crop_input = keras.Input((60, 60, 2))
    x = crop_input
    for name in names[names.index("augment") + 1:]:
        x = model.get_layer(name)(x)
    head = keras.Model(crop_input, x)
    return [head.predict(stretched[:, dy:dy + 60, dx:dx + 60, :], verbose=0)
            for dy, dx in ((2, 2), (0, 0), (0, 4), (4, 0), (4, 4))]


def test_predict_protein_calls_match_a_groupby(predicted):
    out, result = predicted
    cells = pd.read_parquet(out / "cells.parquet")
    calls = pd.read_csv(out / "proteins.csv", keep_default_na=False)
    assert result["n_proteins"] == len(calls) == 8
    means = cells.groupby("Metadata_Protein")[CLASSES].mean()
    fractions = pd.crosstab(cells["Metadata_Protein"], cells["Metadata_Predicted"], normalize="index")
    fractions = fractions.reindex(columns=CLASSES, fill_value=0.0)
    for row in calls.itertuples():
        assert np.allclose([getattr(row, f"mean_{c}") for c in CLASSES], means.loc[row.Metadata_Protein])
        assert row.top_class == means.loc[row.Metadata_Protein].idxmax()
        share = fractions.loc[row.Metadata_Protein]
        called = [c for c in share.sort_values(ascending=False, kind="stable").index if share[c] >= 0.3]
        assert row.localizations == ";".join(called)
        assert row.multi_localized == (len(called) > 1)
    assert result["n_multi_localized"] == int(calls["multi_localized"].sum())


def test_predict_accuracy_and_confusion_match_sklearn(predicted):
    out, result = predicted
    cells = pd.read_parquet(out / "cells.parquet")
    confusion = pd.read_csv(out / "confusion.csv", index_col=0)
    expected = confusion_matrix(cells["Metadata_Label"], cells["Metadata_Predicted"], labels=CLASSES)
    assert list(confusion.columns) == CLASSES and np.array_equal(confusion.to_numpy(), expected)
    metrics = json.loads((out / "metrics.json").read_text())
    truth = (cells["Metadata_Label"] == cells["Metadata_Predicted"]).mean()
    assert metrics["cell_accuracy"] == pytest.approx(truth) == result["cell_accuracy"]
    assert metrics["n_cells_labelled"] == 192


def test_protein_calls_single_cell_threshold():
    calls = protein_calls(np.array(["A"]), np.array([[0.2, 0.8]]), ["x", "y"], threshold=1.0)
    assert calls.loc[0, "localizations"] == "y" and not calls.loc[0, "multi_localized"]


def test_protein_calls_raises_on_threshold_outside_unit_interval():
    with pytest.raises(InputError, match="threshold must be in"):
        protein_calls(np.array(["A"]), np.array([[1.0]]), ["x"], threshold=0)


def test_predict_raises_on_existing_output(predicted, trained_runs, tiny_store):
    out, _ = predicted
    with pytest.raises(OutputExistsError):
        predict(tiny_store, out, model_path=trained_runs["deeploc"], split="all")


@pytest.mark.parametrize("method", ["pci", "pifia"])
def test_predict_raises_on_model_without_localization_classifier(trained_runs, tiny_store, tmp_path, method):
    with pytest.raises(InputError, match=f"is a '{method}' model, not 'deeploc'; predict classifies with a DeepLoc "
                                         f"model .* extract --method {method}"):
        predict(tiny_store, tmp_path / "calls", model_path=trained_runs[method])
    assert not (tmp_path / "calls").exists()


def test_cli_predict_prints_one_summary_line(trained_runs, tiny_store, tmp_path):
    result = CliRunner().invoke(main, ["predict", str(tiny_store), "--model", str(trained_runs["deeploc"]),
                                       "--out", str(tmp_path / "calls"), "--tta", "center"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "split test, tta center" in lines[0] and "cell accuracy" in lines[0]
