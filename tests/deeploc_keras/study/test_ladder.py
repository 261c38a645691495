"""The ladder's reference profiles and ``score --references``: rows equal to independently computed references."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from deeploc_keras.cli import main
from deeploc_keras.core.errors import InputError
from deeploc_keras.core.profiles import ProfileWriter, read_profiles
from deeploc_keras.data.store import CellStore
from deeploc_keras.inference.extract import extract
from deeploc_keras.study.ladder import reference_profiles
from deeploc_keras.study.pixel_stats import pixel_statistics
from deeploc_keras.study.references import LABELS, PIXEL_STATISTICS, UNTRAINED, untrained_model
from eval.score import score_representation
from eval.standards import load_standards


def _profiles(path, proteins, *, split="test", seed=0):
    """A user's protein profiles, recording the split they were extracted from."""
    features = np.random.default_rng(seed).normal(size=(len(proteins), 5))
    with ProfileWriter(path, info={"method": "Mine", "split": split}) as writer:
        writer.write(pd.DataFrame({"Metadata_Protein": proteins}), features, [f"Mine_{i}" for i in range(5)])
    return path


def _cells(store, split):
    with CellStore.open(store) as opened:
        rows = opened.select(split)
        cells = opened.cells.iloc[rows].reset_index(drop=True)
        return cells, opened.images(rows), list(opened.channel_names), list(opened.class_names)


def _store_proteins(store):
    with CellStore.open(store) as opened:
        return sorted(set(opened.cells["protein"].astype(str)))


def test_score_cli_references_rows_equal_scores_of_independently_computed_references(tiny_store, tiny_standards,
                                                                                     tmp_path):
    mine = _profiles(tmp_path / "mine.parquet", _store_proteins(tiny_store), split="val")
    out = tmp_path / "scores"
    result = CliRunner().invoke(main, ["score", str(mine), "--standards", str(tiny_standards), "--out", str(out),
                                       "--references", str(tiny_store), "--permutations", "0"])
    assert result.exit_code == 0, result.output
    assert "Pixel statistics" in result.output and "references/" in result.output
    summary = pd.read_csv(out / "summary.csv")
    assert list(dict.fromkeys(summary["representation"])) == ["Mine", PIXEL_STATISTICS, LABELS]
    cells, images, channels, classes = _cells(tiny_store, "val")  # the split the profiles record
    protein = cells["protein"].astype(str)
    pixels = pd.DataFrame(pixel_statistics(images, channels)).groupby(protein.to_numpy()).mean()
    shares = pd.crosstab(protein, cells["label"], normalize="index").reindex(columns=range(len(classes)), fill_value=0)
    standards = load_standards([tiny_standards])
    for name, table in ((PIXEL_STATISTICS, pixels), (LABELS, shares)):
        expected = score_representation(table.index.astype(str).tolist(), table.to_numpy(), standards)
        rows = summary[summary["representation"] == name]
        assert rows["metric"].tolist() == expected["metric"].tolist()
        np.testing.assert_allclose(rows["value"].to_numpy(), expected["value"].to_numpy(), rtol=1e-9)
    written = read_profiles(out / "references" / "pixel_statistics" / "proteins.parquet")
    assert written.info["split"] == "val" and int(written.meta["Metadata_Count"].sum()) == len(cells)
    figure = pd.read_csv(out / "figure1_summary.csv")
    assert {PIXEL_STATISTICS, LABELS, "Mine"} <= set(figure["representation"])


@pytest.mark.parametrize(("method", "display", "layer"), [("pci", "PCI", "conv4_1"), ("pifia", "PIFiA", "d2")])
def test_reference_profiles_untrained_twin_is_the_extract_of_the_untrained_network(tiny_store, trained_runs, tmp_path,
                                                                                   method, display, layer):
    run = trained_runs[method]
    files = reference_profiles(tiny_store, tmp_path / "refs", untrained=[run.parent])
    assert list(files) == [PIXEL_STATISTICS, LABELS, UNTRAINED[display]]
    twin = read_profiles(files[UNTRAINED[display]])
    model = untrained_model(run.parent, tiny_store, tmp_path / "direct_model")
    extract(tiny_store, tmp_path / "direct", method=method, model_path=model, split="test")
    extract(tiny_store, tmp_path / "trained", method=method, model_path=run, split="test")
    direct, trained = (read_profiles(tmp_path / d / "proteins.parquet") for d in ("direct", "trained"))
    assert twin.meta["Metadata_Protein"].tolist() == direct.meta["Metadata_Protein"].tolist()
    np.testing.assert_allclose(twin.features, direct.features, rtol=1e-6)
    assert not np.allclose(twin.features, trained.features)  # random weights, not the trained ones
    assert twin.info["layer"] == layer


@pytest.mark.parametrize("case", ["missing store", "corrupt store", "run without best.keras", "foreign proteins",
                                  "split mismatch", "untrained without references"])
def test_score_cli_references_raises_one_line_without_partial_output(tiny_store, tiny_standards, tmp_path, case):
    profiles = tmp_path / "in" / "mine.parquet"
    profiles.parent.mkdir()
    proteins = [f"X{i}" for i in range(8)] if case == "foreign proteins" else _store_proteins(tiny_store)
    _profiles(profiles, proteins, split="val")
    store, extra, expected = tiny_store, [], None
    if case == "missing store":
        store, expected = tmp_path / "in" / "nope.h5", "nope.h5"
    elif case == "corrupt store":
        store = tmp_path / "in" / "broken.h5"
        store.write_text("not an HDF5 file")
        expected = "broken.h5"
    elif case == "run without best.keras":
        (tmp_path / "in" / "run").mkdir()
        extra, expected = ["--untrained", str(tmp_path / "in" / "run")], "holds no best.keras"
    elif case == "foreign proteins":
        expected = "shares no protein of split 'val'"
    elif case == "split mismatch":
        extra, expected = ["--references-split", "test"], "extracted from split 'val', not 'test'"
    out = tmp_path / "out" / "scores"
    args = ["score", str(profiles), "--standards", str(tiny_standards), "--out", str(out), "--permutations", "0"]
    if case == "untrained without references":
        args, expected = [*args, "--untrained", str(tmp_path)], "--untrained needs --references"
    else:
        args = [*args, "--references", str(store), *extra]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and expected in errors[0], result.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_reference_profiles_raises_on_unknown_split(tiny_store, tmp_path):
    with pytest.raises(InputError, match="holdout"):
        reference_profiles(tiny_store, tmp_path / "refs", split="holdout")
    assert not (tmp_path / "refs").exists()
