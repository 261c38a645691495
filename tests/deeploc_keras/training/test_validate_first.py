"""Train / extract / convert-checkpoint refuse bad input before TensorFlow loads and leave nothing behind.

Each case builds its bad input here; the checks run in a fresh interpreter, so
``'tensorflow' not in sys.modules`` at the error point is meaningful.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from deeploc_keras.core.records import write_run_record
from deeploc_keras.data.store import CellStore
from deeploc_keras.training.config import TrainConfig


def _store(path: Path, *, size: int = 64, splits=(0, 1, 2), cells_per_protein: int = 6) -> Path:
    """Two proteins of two classes; the cells of each protein cycle through ``splits``."""
    n = 2 * cells_per_protein
    images = np.random.default_rng(0).integers(0, 4000, (n, size, size, 2)).astype(np.uint16)
    split = [splits[i % len(splits)] for i in range(cells_per_protein)] * 2
    with CellStore.create(path, image_shape=(size, size, 2), class_names=["A", "B"], chunk_cells=8) as store:
        store.append(images, {"protein": ["P1"] * cells_per_protein + ["P2"] * cells_per_protein,
                              "label": [0] * cells_per_protein + [1] * cells_per_protein, "split": split})
    return path


def _recorded_run(out: Path, store: Path, **options) -> Path:
    """A run directory whose config.json records ``options`` (as an interrupted run leaves it)."""
    cfg = dataclasses.replace(TrainConfig.from_preset(mixed_precision="off", **options), store=str(store.resolve()),
                              out=str(out.resolve()))
    with CellStore.open(store) as opened:
        fingerprint = opened.fingerprint()
    out.mkdir(parents=True)
    write_run_record(out / "config.json", command="train", config=cfg.to_dict(), seed=cfg.seed,
                     inputs={"store": fingerprint})
    (out / "backup").mkdir()
    return out / "config.json"


_SCRIPT = textwrap.dedent("""
    import json, sys
    from deeploc_keras.training import train as train_module
    from deeploc_keras.inference import extract as extract_module
    from deeploc_keras.models.convert import convert_checkpoint
    cases = json.loads(sys.argv[1])
    results = {}
    for name, (function, args, kwargs) in cases.items():
        target = {"train": train_module.train, "extract": extract_module.extract,
                  "convert": convert_checkpoint}[function]
        try:
            target(*args, **kwargs)
            results[name] = {"error": None}
        except Exception as exc:
            results[name] = {"error": type(exc).__name__, "message": str(exc),
                             "tensorflow": "tensorflow" in sys.modules}
    print(json.dumps(results))
""")


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    """Every bad input, and what each call reported in one fresh interpreter."""
    root = tmp_path_factory.mktemp("bad")
    good = _store(root / "good.h5")
    other = _store(root / "other.h5", cells_per_protein=7)
    foreign = root / "foreign.h5"
    import h5py

    with h5py.File(foreign, "w") as h5:
        h5["x"] = np.zeros(3)
    (root / "exists").mkdir()
    (root / "exists" / "keep.txt").write_text("keep")
    width_cfg = _recorded_run(root / "resume_width", good, width=0.125, learning_rate=1e-3)
    lr_cfg = _recorded_run(root / "resume_lr", good, width=0.125, learning_rate=1e-3)
    store_cfg = _recorded_run(root / "resume_store", good, width=0.125, learning_rate=1e-3)
    pci_run = root / "pci_run"
    pci_run.mkdir()
    with zipfile.ZipFile(pci_run / "best.keras", "w") as archive:  # a model of an older version: no info in it
        archive.writestr("config.json", json.dumps({"class_name": "Functional", "config": {}}))
    (pci_run / "model_card.json").write_text(json.dumps({"method": "pci"}))
    fast = {"width": 0.125, "learning_rate": 1e-3, "mixed_precision": "off"}
    s = str
    cases = {
        "missing_store": ("train", [s(root / "missing.h5"), s(root / "run_missing")], fast),
        "foreign_store": ("train", [s(foreign), s(root / "run_foreign")], fast),
        "existing_out": ("train", [s(good), s(root / "exists")], fast),
        "no_val_cells": ("train", [s(_store(root / "noval.h5", splits=(0, 2))), s(root / "run_noval")], fast),
        "pci_no_val_pairs": ("train", [s(_store(root / "pcival.h5", splits=(0, 0, 0, 0, 1, 2))),
                                       s(root / "run_pcival")], {**fast, "method": "pci"}),
        "small_crops": ("train", [s(_store(root / "small.h5", size=32)), s(root / "run_small")],
                        {**fast, "preset": "kraus2017"}),
        "resume_width": ("train", [s(good), s(width_cfg.parent)], {**fast, "width": 0.25, "resume": True}),
        "resume_lr": ("train", [s(good), s(lr_cfg.parent)], {**fast, "learning_rate": 1e-2, "resume": True}),
        "resume_store": ("train", [s(other), s(store_cfg.parent)], {**fast, "resume": True}),
        "resume_overwrite": ("train", [s(good), s(lr_cfg.parent)], {**fast, "resume": True, "overwrite": True}),
        "extract_missing_store": ("extract", [s(root / "missing.h5"), s(root / "prof_missing")],
                                  {"model_path": s(pci_run / "best.keras"), "method": "pci"}),
        "extract_missing_model": ("extract", [s(good), s(root / "prof_model")],
                                  {"model_path": s(root / "nothing" / "best.keras")}),
        "extract_foreign_model": ("extract", [s(good), s(root / "prof_foreign")],
                                  {"model_path": s(pci_run / "best.keras")}),
        "extract_existing_out": ("extract", [s(good), s(root / "exists")],
                                 {"model_path": s(pci_run / "best.keras"), "method": "pci", "overwrite": False}),
        "convert_missing": ("convert", [s(root / "ckpt" / "model.ckpt-5000"), s(root / "deeploc.keras")], {}),
    }
    (root / "exists" / "cells.parquet").write_text("old")
    before = {p: p.read_bytes() for p in (width_cfg, lr_cfg, store_cfg)}
    proc = subprocess.run([sys.executable, "-c", _SCRIPT, json.dumps(cases)], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root, json.loads(proc.stdout.strip().splitlines()[-1]), before


@pytest.mark.parametrize(("case", "message"), [
    ("missing_store", r"missing\.h5: no such file"),
    ("foreign_store", r"foreign\.h5: "),
    ("existing_out", r"exists: output already exists; pass --overwrite"),
    ("no_val_cells", r"noval\.h5: no labelled cells in the val split"),
    ("pci_no_val_pairs", r"pcival\.h5: no protein has 2 or more cells in the val split"),
    ("small_crops", r"small\.h5: crops are 32x32, but preset 'kraus2017' crops 60x60 .*needs at least 63x63"),
    ("resume_width", r"resume_width/config\.json: was written with other values of \['width'\]"),
    ("resume_lr", r"resume_lr/config\.json: was written with other values of \['learning_rate'\]"),
    ("resume_store", r"resume_store/config\.json: was written with other values of \['store'\]"),
    ("resume_overwrite", r"pass either resume .* or overwrite .*, not both"),
    ("extract_missing_store", r"missing\.h5: no such file"),
    ("extract_missing_model", r"best\.keras: no such model file"),
    ("extract_foreign_model", r"best\.keras: is a 'pci' model, not 'deeploc'; pass --method pci"),
    ("extract_existing_out", r"cells\.parquet: output already exists"),
    ("convert_missing", r"model\.ckpt-5000: not a readable TensorFlow checkpoint \(no file model\.ckpt-5000\.index"),
])
def test_bad_input_is_refused_before_tensorflow_loads(bad, case, message):
    import re

    root, results, _ = bad
    result = results[case]
    assert result["error"] in ("InputError", "OutputExistsError"), result
    assert re.search(message, result["message"]), result["message"]
    assert "\n" not in result["message"]
    assert result["tensorflow"] is False


@pytest.mark.parametrize("run", ["run_missing", "run_foreign", "run_noval", "run_pcival", "run_small",
                                 "prof_missing", "prof_model", "prof_foreign"])
def test_failed_validation_leaves_nothing_behind(bad, run):
    root, _, _ = bad
    assert not (root / run).exists()


def test_refused_resume_touches_nothing(bad):
    root, _, before = bad
    for path, content in before.items():
        assert path.read_bytes() == content
        assert sorted(p.name for p in path.parent.iterdir()) == ["backup", "config.json"]
    assert (root / "exists" / "cells.parquet").read_text() == "old"


def test_cli_error_before_tensorflow_is_one_line(tmp_path):
    store = _store(tmp_path / "noval.h5", splits=(0, 2))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", "from deeploc_keras.cli import main; main()", "train", str(store), "--out",
                           str(tmp_path / "run"), "--width", "0.125"], capture_output=True, text=True, timeout=300)
    print(f"train refusal took {time.perf_counter() - start:.2f} s wall")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"Error: {store}: no labelled cells in the val split; training "
                                                "needs them (validation loss selects the best model): re-import "
                                                "with splits that give every split cells"]
    assert proc.stdout == ""
    assert not (tmp_path / "run").exists()
