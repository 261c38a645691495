"""Your own data end to end: Huh 2003 labels with SGD aliases at import, held-out proteins, monitor aliases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile
from click.testing import CliRunner

from deeploc_keras.cli import main
from deeploc_keras.core.errors import InputError
from deeploc_keras.data.importers import import_cells
from deeploc_keras.data.store import CellStore, assign_splits


def _sgd_features(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    """A minimal SGD_features.tab: 16 tab-separated columns, (systematic name, gene, aliases) per ORF."""
    lines = []
    for orf, gene, alias in rows:
        cols = [""] * 16
        cols[0], cols[1], cols[3], cols[4], cols[5] = f"S{orf}", "ORF", orf, gene, alias
        lines.append("\t".join(cols))
    path.write_text("\n".join(lines) + "\n")
    return path


def _folders(root: Path, names: list[str], cells: int = 10) -> Path:
    for name in names:
        (root / name).mkdir(parents=True)
        for cell in range(cells):
            for channel in ("gfp", "rfp"):
                tifffile.imwrite(root / name / f"{name}_1_rfp_{cell}_{channel}.tif",
                                 np.full((64, 64), cell + 1, np.uint16))
    return root


def test_import_labels_from_huh2003_with_gene_named_folders(tmp_path):
    aliases = _sgd_features(tmp_path / "SGD_features.tab", [("YKL065C", "YET1", ""), ("YAL001C", "TFC3", ""),
                                                            ("YLR141W", "RRN5", "")])
    source = _folders(tmp_path / "tiffs", ["YET1", "Rrn5", "TFC3"])
    result = CliRunner().invoke(main, ["import", str(source), "--out", str(tmp_path / "cells.h5"), "--format",
                                       "tiff-folders", "--labels-from", "huh2003", "--aliases", str(aliases)])
    assert result.exit_code == 0, result.output
    with CellStore.open(tmp_path / "cells.h5") as store:
        names = np.asarray(store.class_names + [""])
        by_protein = {p: set(names[store.cells.loc[store.cells["protein"] == p, "label"]]) for p in ("YET1", "Rrn5",
                                                                                                      "TFC3")}
    assert by_protein == {"YET1": {"ER"}, "Rrn5": {"NUCLEOLUS"}, "TFC3": {"NUCLEI"}}  # TFC3: the rarer of 2


def test_import_cells_raises_on_labels_and_labels_from(tmp_path):
    source = _folders(tmp_path / "tiffs", ["YET1"], cells=1)
    (tmp_path / "labels.csv").write_text("protein,label\nYET1,ER\n")
    with pytest.raises(InputError, match="give labels \\(a CSV\\) or labels_from, not both"):
        import_cells([source], tmp_path / "x.h5", format="tiff-folders", labels=tmp_path / "labels.csv",
                     labels_from="huh2003")
    with pytest.raises(InputError, match="aliases apply with labels_from"):
        import_cells([source], tmp_path / "x.h5", format="tiff-folders", aliases=tmp_path / "labels.csv")
    assert not (tmp_path / "x.h5").exists()


def test_split_by_protein_holds_out_whole_proteins_and_is_recorded(tmp_path):
    source = _folders(tmp_path / "tiffs", [f"P{i}" for i in range(10)], cells=10)
    summary = import_cells([source], tmp_path / "cells.h5", format="tiff-folders", split_by="protein", seed=3)
    assert summary["cells"] == 100
    with CellStore.open(tmp_path / "cells.h5") as store:
        cells = store.cells
        assert store.split_by == "protein" and store.summary()["split_by"] == "protein"
    per_protein = cells.groupby("protein")["split"].nunique()
    assert (per_protein == 1).all()
    proteins_per_split = cells.groupby("split")["protein"].nunique().to_dict()
    assert proteins_per_split == {0: 8, 1: 1, 2: 1}
    import_cells([source], tmp_path / "default.h5", format="tiff-folders")
    with CellStore.open(tmp_path / "default.h5") as store:
        assert store.split_by == "cell"
        assert (store.cells.groupby("protein")["split"].nunique() == 3).all()


def test_assign_splits_by_protein_matches_a_shuffle_of_the_proteins():
    proteins = np.repeat([f"P{i}" for i in range(20)], 3)
    split = assign_splits(proteins, seed=5, by="protein")
    uniq, codes = np.unique(proteins, return_inverse=True)
    order = np.random.default_rng(5).random(len(uniq)).argsort(kind="stable")
    expected = np.empty(len(uniq), int)
    expected[order] = [0] * 16 + [1] * 2 + [2] * 2
    assert np.array_equal(split, expected[codes])
    with pytest.raises(InputError, match="unknown split_by 'plate'"):
        assign_splits(proteins, by="plate")


def test_train_monitor_takes_aliases(tiny_store, tmp_path):
    from deeploc_keras.training.train import train

    proteins = [f"P{c}{p}" for c in range(4) for p in range(2)]
    aliases = _sgd_features(tmp_path / "SGD_features.tab", [(p, f"GENE{p}", "") for p in proteins])
    standards = tmp_path / "standards"
    standards.mkdir()
    (standards / "classes.gmt").write_text("".join(f"C{c}\tclass\tGENEP{c}0\tGENEP{c}1\n" for c in range(4)))
    fast = {"width": 0.0625, "epochs": 1, "steps_per_epoch": 1, "batch_size": 32, "mixed_precision": "off",
            "verbose": 0, "jit_compile": False}
    with pytest.raises(InputError, match="monitor standard 'classes'.*--aliases"):
        train(tiny_store, tmp_path / "no_aliases", monitor=standards, **fast)
    assert not (tmp_path / "no_aliases").exists()
    train(tiny_store, tmp_path / "run", monitor=standards, aliases=aliases, **fast)
    monitor = pd.read_csv(tmp_path / "run" / "monitor.csv")
    assert set(monitor["standard"]) == {"classes"} and np.isfinite(monitor["value"]).all()
