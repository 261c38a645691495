"""A saved model loads the Keras way after ``import deeploc_keras`` and says what it is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest

from deeploc_keras.inference.extract import extract
from deeploc_keras.models.deeploc import build_deeploc
from deeploc_keras.models.info import read_model_info
from deeploc_keras.models.loading import load_model

ROOT = Path(__file__).resolve().parents[3]

_FRESH = """
import json, sys
import deeploc_keras
assert "tensorflow" not in sys.modules, "import deeploc_keras loaded TensorFlow"
import keras
out = {}
for path in sys.argv[1:]:
    model = keras.saving.load_model(path)
    out[path] = {"class": type(model).__name__, "info": model.info, "outputs": list(model.output.shape)[1:]}
print(json.dumps(out))
"""


def test_keras_load_model_after_import_deeploc_keras_alone(trained_runs):
    paths = [str(trained_runs["deeploc"]), str(trained_runs["pci"])]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", _FRESH, *paths], capture_output=True, text=True, env=env,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    deeploc, pci = loaded[paths[0]], loaded[paths[1]]
    assert deeploc["class"] == pci["class"] == "CellModel"
    assert deeploc["info"]["method"] == "deeploc" and deeploc["info"]["preset"] == "study"
    assert deeploc["info"]["width"] == 0.0625
    assert deeploc["info"]["class_names"] == ["C0", "C1", "C2", "C3"] and deeploc["outputs"] == [4]
    assert deeploc["info"]["channel_names"] == ["GFP", "RFP"] and deeploc["info"]["image_shape"] == [64, 64, 2]
    assert pci["info"]["method"] == "pci" and pci["info"]["class_names"] == []


def test_read_model_info_without_tensorflow(trained_runs):
    code = ("import sys; from deeploc_keras.models.info import read_model_info; "
            "info = read_model_info(sys.argv[1]); assert 'tensorflow' not in sys.modules; print(info['method'])")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code, str(trained_runs["pci"])], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "pci"


def test_extract_reads_the_method_from_the_model_without_a_model_card(trained_runs, tiny_store, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "best.keras").write_bytes(trained_runs["pci"].read_bytes())  # no model_card.json beside it
    with pytest.raises(Exception, match="is a 'pci' model, not 'deeploc'; pass --method pci"):
        extract(tiny_store, tmp_path / "prof", model_path=run / "best.keras", split="all")
    assert not (tmp_path / "prof").exists()


def test_load_model_of_an_older_version_reads_its_model_card(tmp_path):
    inputs = keras.Input((4,))
    plain = keras.Model(inputs, keras.layers.Dense(3, name="fc_2")(inputs))
    plain.save(tmp_path / "best.keras")
    card = {"method": "deeploc", "preset": "kraus2017", "width": 1.0, "class_names": ["A", "B", "C"],
            "channel_names": ["GFP", "RFP"], "layers": ["fc_2"]}
    (tmp_path / "model_card.json").write_text(json.dumps(card))
    model = load_model(tmp_path / "best.keras")
    assert type(model).__name__ != "CellModel"
    assert model.info == {k: card[k] for k in ("method", "preset", "width", "class_names", "channel_names")}
    assert read_model_info(tmp_path / "best.keras")["preset"] == "kraus2017"


def test_cell_model_info_survives_a_save_round_trip(tmp_path):
    model = build_deeploc(2, preset="kraus2017", width=0.0625, image_shape=(64, 64, 2), seed=0,
                          class_names=["ER", "GOLGI"], channel_names=["GFP", "RFP"])
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    again.save(tmp_path / "again.keras")
    assert read_model_info(tmp_path / "again.keras") == model.info
    assert model.info["preset"] == "kraus2017" and model.info["class_names"] == ["ER", "GOLGI"]


def test_build_deeploc_raises_on_class_names_of_another_length():
    with pytest.raises(Exception, match="class_names must have num_classes=3 entries"):
        build_deeploc(3, width=0.0625, class_names=["A", "B"])
