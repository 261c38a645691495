"""Results that were silently wrong (issue 27 §4): mixed shards, huge float pixels, ids read as missing,
truncated annotation files, standards written in the wrong format."""

from __future__ import annotations

import json
import lzma
import shutil
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from deeploc_keras.cli import main
from deeploc_keras.core.profiles import read_profiles
from deeploc_keras.data.store import CellStore
from eval.standards import load_standard

SHIPPED_SLIM = Path(__file__).resolve().parents[2] / "deeploc_keras" / "data" / "synthetic" / "data" / \
    "sgd_go_slim_mapping_2024.tab.xz"


def _invoke(*args) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


# ---------------------------------------------------------------- shards of different extractions

@pytest.fixture(scope="module")
def other_models(tmp_path_factory) -> dict[str, Path]:
    """A second untrained DeepLoc (another seed) and an untrained PCI, saved as model files."""
    from deeploc_keras.models.deeploc import build_deeploc
    from deeploc_keras.models.pci import build_pci

    folder = tmp_path_factory.mktemp("models")
    build_deeploc(4, preset="study", width=0.0625, image_shape=(64, 64, 2), seed=1,
                  class_names=[f"C{k}" for k in range(4)]).save(folder / "deeploc_seed1.keras")
    build_pci(0.0625, seed=0).save(folder / "pci.keras")
    return {"deeploc": folder / "deeploc_seed1.keras", "pci": folder / "pci.keras"}


@pytest.mark.parametrize("case", ["model", "method", "layer", "store"])
def test_merge_shards_raises_on_shards_of_different_extractions(untrained_run, other_models, tiny_store, store_factory,
                                                               tmp_path, case, one_line):
    out = tmp_path / "profiles"
    first = ["extract", tiny_store, "--out", out, "--model", untrained_run / "best.keras", "--shard", "0/2"]
    assert _invoke(*first).exit_code == 0
    second = {"model": ["--model", other_models["deeploc"]],
              "method": ["--model", other_models["pci"], "--method", "pci"],
              "layer": ["--model", untrained_run / "best.keras", "--layer", "fc_1"],
              "store": ["--model", untrained_run / "best.keras"]}[case]
    store = tiny_store if case != "store" else store_factory(tmp_path / "other.h5", seed=1)
    result = _invoke("extract", store, "--out", out, "--shard", "1/2", *second)
    assert result.exit_code == 0, result.output
    key = {"model": "model_sha256", "method": "method", "layer": "layer", "store": "store_fingerprint"}[case]
    one_line(_invoke("extract", tiny_store, "--out", out, "--merge-shards"),
             f"{out / 'cells.part-1-of-2.parquet'}: was extracted with another {key} than cells.part-0-of-2.parquet")
    assert sorted(p.name for p in out.iterdir()) == ["cells.part-0-of-2.parquet", "cells.part-1-of-2.parquet",
                                                      "extract.part-0-of-2.json", "extract.part-1-of-2.json"]


def test_merge_shards_of_one_extraction_records_it(untrained_run, tiny_store, tmp_path):
    out = tmp_path / "profiles"
    for shard in ("0/2", "1/2"):
        assert _invoke("extract", tiny_store, "--out", out, "--model", untrained_run / "best.keras", "--shard",
                       shard).exit_code == 0
    assert _invoke("extract", tiny_store, "--out", out, "--merge-shards").exit_code == 0
    record = json.loads((out / "extract.json").read_text())
    assert record["command"] == "extract --merge-shards" and record["config"]["shards"] == 2
    assert read_profiles(out / "cells.parquet").info["shard"] is None


# ---------------------------------------------------------------- float pixels far beyond 1

def _float_copy(source: Path, path: Path, factor: float) -> Path:
    """``source``'s cells as float32 counts times ``factor`` (computed in float64)."""
    with CellStore.open(source) as store:
        images = store.images(slice(0, len(store))).astype(np.float64) * factor
        cells = store.cells
        columns = {"protein": cells["protein"].to_numpy(), "label": cells["label"].to_numpy()}
        names = store.class_names
    with CellStore.create(path, dtype="float32", class_names=names, chunk_cells=16, seed=0) as out:
        out.append(images.astype(np.float32), columns)
    with h5py.File(source) as src, h5py.File(path, "r+") as dst:
        dst["cells/split"][...] = src["cells/split"][...]
    return path


def test_huge_float_pixels_give_the_features_of_the_same_store_at_unit_scale(untrained_run, tiny_store, tmp_path):
    unit = _float_copy(tiny_store, tmp_path / "unit.h5", 1.0)
    huge = _float_copy(tiny_store, tmp_path / "huge.h5", 1e34)
    features = {}
    for name, store in (("unit", unit), ("huge", huge)):
        result = _invoke("extract", store, "--out", tmp_path / name, "--model", untrained_run / "best.keras")
        assert result.exit_code == 0, result.output
        features[name] = read_profiles(tmp_path / name / "cells.parquet").features
    assert np.isfinite(features["huge"]).all()
    np.testing.assert_allclose(features["huge"], features["unit"], rtol=1e-4, atol=1e-4)


def test_train_on_huge_float_pixels_stays_finite(tiny_store, tmp_path):
    huge = _float_copy(tiny_store, tmp_path / "huge.h5", 1e34)
    result = _invoke("train", huge, "--out", tmp_path / "run", "--width", "0.0625", "--epochs", "1",
                     "--steps-per-epoch", "2", "--batch-size", "32", "--mixed-precision", "off", "--no-xla", "--lr",
                     "1e-3")
    assert result.exit_code == 0, result.output
    assert np.isfinite(pd.read_csv(tmp_path / "run" / "history.csv")[["loss", "val_loss"]].to_numpy()).all()


# ---------------------------------------------------------------- protein ids that look like missing values

NA_IDS = ["NA", "None", "n/a", "#N/A", "nan", "NULL"]


def test_protein_ids_that_look_missing_are_ids(tmp_path):
    proteins = NA_IDS + [f"P{i}" for i in range(6)]
    features = np.random.default_rng(0).normal(size=(len(proteins), 3))
    table = pd.DataFrame({"Metadata_Protein": proteins, **{f"f_{i}": features[:, i] for i in range(3)}})
    table.loc[0, "f_1"] = np.nan
    path = tmp_path / "proteins.csv"
    table.to_csv(path, index=False, na_rep="NA")
    read = read_profiles(path)
    assert read.meta["Metadata_Protein"].tolist() == proteins
    assert np.isnan(read.features[0, 1]) and np.isfinite(np.delete(read.features.ravel(), 1)).all()
    standard = tmp_path / "groups.gmt"
    standard.write_text("".join(f"G{g}\tna\t" + "\t".join(proteins[g::3]) + "\n" for g in range(3)))
    table.loc[0, "f_1"] = 0.5
    table.to_csv(path, index=False)
    result = _invoke("score", path, "--standards", standard, "--out", tmp_path / "scores", "--permutations", "0",
                     "--metric", "average_precision")
    assert result.exit_code == 0, result.output
    coverage = pd.read_csv(tmp_path / "scores" / "coverage.csv")
    assert coverage["n_proteins_matched"].tolist() == [len(proteins)]


@pytest.mark.parametrize("suffix", ["parquet", "csv"])
def test_score_raises_on_rows_without_a_protein_id(tmp_path, suffix, one_line):
    path = tmp_path / f"proteins.{suffix}"
    proteins = ["P0", None, "P2", "P3"]
    frame = pd.DataFrame({"Metadata_Protein": proteins, "f_0": [1.0, 2.0, 3.0, 4.0], "f_1": [0.0, 1.0, 0.0, 2.0]})
    if suffix == "parquet":
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    else:
        frame.to_csv(path, index=False)
    standard = tmp_path / "g.gmt"
    standard.write_text("G\tna\tP0\tP2\n")
    one_line(_invoke("score", path, "--standards", standard, "--out", tmp_path / "scores"),
             f"{path}: 1 rows have no Metadata_Protein (null or empty; first row 2)")
    assert not (tmp_path / "scores").exists()


# ---------------------------------------------------------------- annotation files cut short

def test_standards_build_raises_on_a_truncated_sgd_slim_file(tmp_path, one_line):
    text = lzma.decompress(SHIPPED_SLIM.read_bytes())
    cut = tmp_path / "go_slim_mapping.tab"
    cut.write_bytes(text[: len(text) // 2])
    one_line(_invoke("standards", "build", "--from", "sgd-slim", cut, "--out", tmp_path / "cc.gmt"),
             f"{cut}: ends in the middle of a line (a truncated download?)")
    short = tmp_path / "short.tab"
    lines = text.splitlines(keepends=True)
    short.write_bytes(b"".join(lines[:100]) + b"YAL001C\tTFC3\tS000000001\tC\n" + b"".join(lines[100:200]))
    one_line(_invoke("standards", "build", "--from", "sgd-slim", short, "--out", tmp_path / "cc.gmt"),
             f"{short}: line 101 has 4 of the 7 columns")
    packed = tmp_path / "go_slim_mapping.tab.xz"
    packed.write_bytes(SHIPPED_SLIM.read_bytes()[: SHIPPED_SLIM.stat().st_size // 2])
    one_line(_invoke("standards", "build", "--from", "sgd-slim", packed, "--out", tmp_path / "cc.gmt"),
             f"{packed}: cannot read (corrupt or truncated file?)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["go_slim_mapping.tab", "go_slim_mapping.tab.xz", "short.tab"]


@pytest.mark.parametrize("suffix", [".json", ".tsv", ".gmt"])
def test_standards_build_writes_the_format_of_the_suffix_that_score_reads(tmp_path, suffix):
    out = tmp_path / f"cc{suffix}"
    result = _invoke("standards", "build", "--from", "sgd-slim", SHIPPED_SLIM, "--out", out, "--min-size", "200",
                     "--max-size", "400")
    assert result.exit_code == 0, result.output
    reference = tmp_path / "reference.gmt"
    shutil.copy(out, reference) if suffix == ".gmt" else _invoke(
        "standards", "build", "--from", "sgd-slim", SHIPPED_SLIM, "--out", reference, "--min-size", "200",
        "--max-size", "400")
    assert load_standard(out) == load_standard(reference) and len(load_standard(out)) > 2
    if suffix == ".json":
        assert isinstance(json.loads(out.read_text()), dict)


def test_standards_build_raises_on_an_unknown_suffix(tmp_path):
    result = _invoke("standards", "build", "--from", "sgd-slim", SHIPPED_SLIM, "--out", tmp_path / "cc.txt")
    assert result.exit_code == 2 and "name the file with one of .gmt, .tsv, .json" in result.output
    assert list(tmp_path.iterdir()) == []
