"""Tests of feature extraction (deeploc_keras.inference.extract)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from deeploc_keras.cli import main
from deeploc_keras.core.errors import InputError, OutputExistsError
from deeploc_keras.core.profiles import PARQUET_METADATA_KEY, read_profiles
from deeploc_keras.data.store import CellStore
from deeploc_keras.inference.extract import extract, merge_shards
from deeploc_keras.models.deeploc import build_deeploc
from deeploc_keras.models.pci import build_pci


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Untrained width-0.125 DeepLoc (study preset, 4 classes) and PCI models saved as run files."""
    folder = tmp_path_factory.mktemp("models")
    paths = {}
    for method, model in (("deeploc", build_deeploc(4, preset="study", width=0.125, image_shape=(64, 64, 2), seed=0)),
                          ("pci", build_pci(0.125, seed=0))):
        run = folder / method
        run.mkdir()
        model.save(run / "best.keras")
        (run / "model_card.json").write_text(json.dumps({"method": method, "preset": "study" if method == "deeploc"
                                                          else None}))
        paths[method] = run / "best.keras"
    return paths


@pytest.fixture(scope="module")
def deeploc_profiles(tiny_store, models, tmp_path_factory):
    out = tmp_path_factory.mktemp("extract") / "prof"
    result = extract(tiny_store, out, model_path=models["deeploc"], split="all", batch_size=48)
    return out, result


def test_extract_deeploc_writes_cells_and_proteins(deeploc_profiles, tiny_store, models):
    out, result = deeploc_profiles
    cells = read_profiles(out / "cells.parquet")
    with CellStore.open(tiny_store) as store:
        n = len(store)
    assert result["n_cells"] == n and result["n_features"] == 64  # 512 * 0.125
    assert cells.features.shape == (n, 64) and np.isfinite(cells.features).all()
    assert cells.feature_names[0] == "DeepLoc_fc2_0000"
    assert np.array_equal(cells.meta["Metadata_CellIndex"], np.arange(n))
    assert cells.info["method"] == "deeploc" and cells.info["layer"] == "fc_2" and cells.info["tta"] == "center"
    assert len(cells.info["model_sha256"]) == 64
    proteins = read_profiles(out / "proteins.parquet")
    assert sorted(proteins.meta["Metadata_Protein"]) == [f"P{c}{p}" for c in range(4) for p in range(2)]
    assert proteins.meta["Metadata_Count"].sum() == n
    first = proteins.meta["Metadata_Protein"].iloc[0]
    rows = cells.meta["Metadata_Protein"] == first
    np.testing.assert_allclose(proteins.features[0], cells.features[rows.to_numpy()].mean(axis=0), rtol=1e-5)
    record = json.loads((out / "extract.json").read_text())
    assert record["command"] == "extract" and record["inputs"]["model"] == cells.info["model_sha256"]


def test_extract_is_deterministic_and_batch_independent(deeploc_profiles, tiny_store, models, tmp_path):
    out, _ = deeploc_profiles
    extract(tiny_store, tmp_path / "again", model_path=models["deeploc"], split="all", batch_size=20)
    a = pd.read_parquet(out / "cells.parquet")
    b = pd.read_parquet(tmp_path / "again" / "cells.parquet")
    pd.testing.assert_frame_equal(a, b, rtol=1e-5, atol=1e-6)


def test_extract_shards_union_equals_full(deeploc_profiles, tiny_store, models, tmp_path):
    out, _ = deeploc_profiles
    shards = tmp_path / "shards"
    for i in range(3):
        result = extract(tiny_store, shards, model_path=models["deeploc"], split="all", batch_size=48, shard=f"{i}/3")
        assert result["proteins"] is None
    assert sorted(p.name for p in shards.glob("cells.part-*")) == [f"cells.part-{i}-of-3.parquet" for i in range(3)]
    assert not (shards / "proteins.parquet").exists()
    merge_shards(shards)
    full = pd.read_parquet(out / "cells.parquet")
    merged = pd.read_parquet(shards / "cells.parquet")
    pd.testing.assert_frame_equal(full, merged, rtol=1e-5, atol=1e-6)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "proteins.parquet"),
                                  pd.read_parquet(shards / "proteins.parquet"), rtol=1e-5, atol=1e-6)


def test_extract_5crop_and_test_split(tiny_store, tmp_path):
    run = tmp_path / "kraus"
    run.mkdir()
    build_deeploc(4, preset="kraus2017", width=0.125, image_shape=(64, 64, 2), seed=0).save(run / "best.keras")
    (run / "model_card.json").write_text(json.dumps({"method": "deeploc", "preset": "kraus2017"}))
    result = extract(tiny_store, tmp_path / "p", model_path=run / "best.keras", tta="5crop", layer="fc_1")
    cells = read_profiles(tmp_path / "p" / "cells.parquet")
    assert (cells.meta["Metadata_Split"] == "test").all() and result["n_features"] == 64
    assert cells.info["tta"] == "5crop" and cells.feature_names[0] == "DeepLoc_fc1_0000"


def test_extract_pci_conv4_features(tiny_store, models, tmp_path):
    result = extract(tiny_store, tmp_path / "pci", method="pci", model_path=models["pci"])
    assert result["n_features"] == 48  # 384 * 0.125
    meta = json.loads(pq.read_schema(tmp_path / "pci" / "cells.parquet").metadata[PARQUET_METADATA_KEY])
    assert meta["method"] == "pci" and meta["layer"] == "conv4_1"
    assert read_profiles(tmp_path / "pci" / "cells.parquet").feature_names[0] == "PCI_conv41_0000"


def test_extract_raises_on_model_of_another_method(tiny_store, models, tmp_path):
    with pytest.raises(InputError, match="is a 'pci' model, not 'deeploc'; pass --method pci"):
        extract(tiny_store, tmp_path / "x", method="deeploc", model_path=models["pci"])
    assert not (tmp_path / "x").exists()


def test_extract_raises_on_layer_not_in_model(tiny_store, models, tmp_path):
    with pytest.raises(InputError, match="layer 'conv_9' is not in the deeploc model"):
        extract(tiny_store, tmp_path / "x", model_path=models["deeploc"], layer="conv_9")
    assert not (tmp_path / "x").exists()


def test_extract_cli_raises_on_layer_not_in_model(tiny_store, models, tmp_path):
    out = tmp_path / "new" / "prof"
    result = CliRunner().invoke(main, ["extract", str(tiny_store), "--out", str(out), "--model",
                                       str(models["deeploc"]), "--layer", "conv_9"])
    assert result.exit_code == 2 and "layer 'conv_9' is not in the deeploc model" in result.output
    assert not (tmp_path / "new").exists()


def test_extract_raises_on_unknown_proteins(tmp_path, store_factory, models):
    path = store_factory(tmp_path / "np.h5", proteins=False)
    with pytest.raises(InputError, match="protein ids are 'unknown'"):
        extract(path, tmp_path / "x", model_path=models["deeploc"])
    assert not (tmp_path / "x").exists()


def test_extract_raises_on_missing_model(tiny_store, tmp_path):
    with pytest.raises(InputError, match="no such model file"):
        extract(tiny_store, tmp_path / "x", model_path=tmp_path / "nope.keras")


def test_extract_raises_on_existing_output(deeploc_profiles, tiny_store, models):
    out, _ = deeploc_profiles
    with pytest.raises(OutputExistsError):
        extract(tiny_store, out, model_path=models["deeploc"], split="all")


def test_merge_shards_raises_on_missing_shard(tiny_store, models, tmp_path):
    extract(tiny_store, tmp_path / "s", model_path=models["deeploc"], split="all", shard="0/2")
    with pytest.raises(InputError, match=r"missing shard\(s\) \[1\] of 2"):
        merge_shards(tmp_path / "s")
    assert not (tmp_path / "s" / "cells.parquet").exists()


def test_extract_cli_raises_on_existing_output(deeploc_profiles, tiny_store, models):
    out, _ = deeploc_profiles
    before = (out / "cells.parquet").stat().st_mtime_ns
    result = CliRunner().invoke(main, ["extract", str(tiny_store), "--out", str(out), "--model",
                                       str(models["deeploc"]), "--split", "all"])
    assert result.exit_code == 2 and "output already exists" in result.output
    assert (out / "cells.parquet").stat().st_mtime_ns == before


def test_extract_cli_raises_on_bad_shard(tiny_store, models, tmp_path):
    result = CliRunner().invoke(main, ["extract", str(tiny_store), "--out", str(tmp_path / "x"), "--model",
                                       str(models["deeploc"]), "--shard", "3/3"])
    assert result.exit_code == 2 and "shard i/n needs 0 <= i < n" in result.output
    assert not (tmp_path / "x").exists()


def test_extract_cli_writes_profiles(tiny_store, models, tmp_path):
    result = CliRunner().invoke(main, ["extract", str(tiny_store), "--out", str(tmp_path / "p"), "--model",
                                       str(models["deeploc"]), "--batch-size", "64"])
    assert result.exit_code == 0, result.output
    assert "64 deeploc features" in result.output and (tmp_path / "p" / "proteins.parquet").is_file()
    assert "of 192 cells, split test; --split all for every cell" in result.output
