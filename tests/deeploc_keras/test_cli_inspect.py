"""`deeploc-keras inspect` on the real TIFF toy set imported through `deeploc-keras import`."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from deeploc_keras.cli import main

TOY_COUNTS = {"AAC1": 366, "AAC3": 416, "AAH1": 203, "AAP1": 308, "AAR2": 349}


@pytest.fixture(scope="module")
def toy_store(pci_toy_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("inspect") / "toy.h5"
    result = CliRunner().invoke(main, ["import", str(pci_toy_dir), "--out", str(out), "--format", "tiff-folders",
                                       "--seed", "3", "--compression", "lzf"])
    assert result.exit_code == 0, result.output
    assert "1642 cells, 5 proteins, float32" in result.output
    return out


def test_inspect_real_toy_text(toy_store):
    result = CliRunner().invoke(main, ["inspect", str(toy_store)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"{toy_store}: 1642 cells, 5 proteins, (64, 64, 2) float32, channels GFP, RFP"
    assert lines[1] == "  cells per protein: AAC1 366, AAC3 416, AAH1 203, AAP1 308, AAR2 349"
    # 80/10/10 per protein, rounded per protein: e.g. AAC1 366 -> 293 / 36 / 37
    assert lines[2] == "  splits: train 1313, val 164, test 165 (by cell)"
    assert lines[3] == "  classes: (unlabelled) 1642"
    assert lines[4].startswith("  GFP: min 0, max 1, mean 0.1")
    assert lines[5].startswith("  RFP: min 0, max 1, mean 0.1")


def test_inspect_real_toy_json(toy_store):
    result = CliRunner().invoke(main, ["inspect", "--json", str(toy_store)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["cells"] == 1642 and summary["proteins"] == 5
    assert summary["protein_counts"] == TOY_COUNTS
    assert summary["unknown_protein_cells"] == 0
    assert summary["splits"] == {"train": 1313, "val": 164, "test": 165}
    assert summary["dtype"] == "float32" and summary["image_shape"] == [64, 64, 2]
    assert summary["plates"] == 0
    assert summary["channel_ranges"]["GFP"]["min"] == 0.0 and summary["channel_ranges"]["GFP"]["max"] == 1.0
    assert summary["channel_ranges_sampled_cells"] == 1642


def test_inspect_raises_on_missing_store(tmp_path):
    result = CliRunner().invoke(main, ["inspect", str(tmp_path / "none.h5")])
    assert result.exit_code == 2
    assert result.output.strip() == f"Error: {tmp_path / 'none.h5'}: no such file"


def test_inspect_raises_on_not_a_store(tmp_path):
    path = tmp_path / "x.h5"
    path.write_text("hello")
    result = CliRunner().invoke(main, ["inspect", str(path)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert result.output.startswith(f"Error: {path}: not an HDF5 file")
