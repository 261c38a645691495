"""Importer of one-folder-per-protein paired GFP/RFP TIFF crops (the real PCI yeast toy set and small fakes)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tifffile
from click.testing import CliRunner

from deeploc_keras.cli import main
from deeploc_keras.core.errors import InputError
from deeploc_keras.data.importers.tiff_folders import find_cell_pairs, import_tiff_folders
from deeploc_keras.data.store import CellStore

TOY_COUNTS = {"AAC1": 366, "AAC3": 416, "AAH1": 203, "AAP1": 308, "AAR2": 349}


def _folders(root, cells=None, *, dtype=np.uint16, size=64, gfp="_gfp.tif", rfp="_rfp.tif"):
    """Tiny fake set; pixel (r, c) of cell k of protein p: gfp = 1000 p + 10 k + r, rfp = 20000 + c."""
    cells = cells or {"P1": 3, "P2": 12}
    for p, (protein, n) in enumerate(cells.items()):
        (root / protein).mkdir(parents=True)
        for k in range(n):
            rows, cols = np.mgrid[:size, :size]
            stem = root / protein / f"{protein}_{k % 2 + 1}_rfp_{k}"
            tifffile.imwrite(f"{stem}{gfp}", (1000 * p + 10 * k + rows).astype(dtype))
            tifffile.imwrite(f"{stem}{rfp}", (20000 + cols + 0 * rows).astype(dtype))
    return root



def test_import_tiff_folders_real_toy(pci_toy_dir, tmp_path):
    out = tmp_path / "toy.h5"
    summary = import_tiff_folders([pci_toy_dir], out, chunk_cells=256)
    assert summary["cells"] == 1642 and summary["proteins"] == 5 and summary["dtype"] == "float32"
    with CellStore.open(out) as store:
        cells = store.cells
        assert cells["protein"].value_counts().to_dict() == TOY_COUNTS
        assert set(cells["field"]) == {"1", "2", "3", "4"}
        first = store.images(0)
        assert first.dtype == np.float32 and 0 <= first.min() and first.max() <= 1
        gfp = tifffile.imread(pci_toy_dir / "AAC1" / "AAC1_1_rfp_2_gfp.tif")  # first in natural order
        rfp = tifffile.imread(pci_toy_dir / "AAC1" / "AAC1_1_rfp_2_rfp.tif")
        np.testing.assert_array_equal(first[..., 0], gfp)
        np.testing.assert_array_equal(first[..., 1], rfp)


def test_import_tiff_folders_pairs_channels_labels_and_order(tmp_path):
    root = _folders(tmp_path / "in")
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"protein": ["P1", "P2", "P9"], "label": ["NUCLEI", "ER", "ER"]}).to_csv(labels, index=False)
    summary = import_tiff_folders([root], tmp_path / "cells.h5", labels=labels, chunk_cells=4)
    assert summary["cells"] == 15 and summary["dtype"] == "uint16" and summary["classes"] == 2
    with CellStore.open(tmp_path / "cells.h5") as store:
        assert store.class_names == ["ER", "NUCLEI"]
        cells = store.cells
        assert cells["protein"].tolist() == ["P1"] * 3 + ["P2"] * 12
        assert cells["label"].tolist() == [1] * 3 + [0] * 12
        assert cells["field"].tolist()[:3] == ["1", "1", "2"]
        images = store.images()
    k_of_row = [0, 2, 1] + list(range(0, 12, 2)) + list(range(1, 12, 2))  # natural order: field, then cell
    for i, k in enumerate(k_of_row):
        p = 0 if i < 3 else 1
        np.testing.assert_array_equal(images[i, :, 7, 0], 1000 * p + 10 * k + np.arange(64))
        np.testing.assert_array_equal(images[i, 5, :, 1], 20000 + np.arange(64))


def test_import_tiff_folders_protein_folders_suffixes_and_class_names(tmp_path):
    root = _folders(tmp_path / "in", {"YAL001C": 2, "YBR": 1}, gfp="-green.tiff", rfp="-red.tiff", dtype=np.uint8)
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"protein": ["YBR"], "label": ["B"]}).to_csv(labels, index=False)
    result = CliRunner().invoke(main, [
        "import", str(root / "YBR"), str(root / "YAL001C"), "--out", str(tmp_path / "cells.h5"), "--format", "tiff-folders",
        "--gfp-suffix", "-green.tiff", "--rfp-suffix", "-red.tiff", "--labels", str(labels), "--class-names", "A,B",
        "--channels", "prot,cyto"])
    assert result.exit_code == 0, result.output
    assert "3 cells, 2 proteins, uint16, 2 classes" in result.output
    with CellStore.open(tmp_path / "cells.h5") as store:
        assert store.cells["protein"].tolist() == ["YBR", "YAL001C", "YAL001C"]
        assert store.cells["label"].tolist() == [1, -1, -1]
        assert store.channel_names == ["prot", "cyto"]


def test_import_tiff_folders_drop_invalid(tmp_path):
    root = _folders(tmp_path / "in", {"P1": 3}, dtype=np.float32)
    bad = np.zeros((64, 64), np.float32)
    bad[3, 3] = np.nan
    tifffile.imwrite(root / "P1" / "P1_2_rfp_1_rfp.tif", bad)
    summary = import_tiff_folders([root], tmp_path / "cells.h5", drop_invalid=True)
    assert summary["cells"] == 2 and summary["dropped"] == {"invalid_pixels": 1}


# ---------------------------------------------------------------- bad input
def _cli(*args):
    return CliRunner().invoke(main, ["import", *_with_out(args), "--format", "tiff-folders"])

def _with_out(args) -> list[str]:
    """CLI words with ``--out`` before the output path (the last word before the first option)."""
    words = [str(a) for a in args]
    first_option = next((i for i, w in enumerate(words) if w.startswith("--")), len(words))
    return [*words[:first_option - 1], "--out", *words[first_option - 1:]]



def test_import_tiff_folders_raises_on_missing_partner(tmp_path, assert_one_line_error):
    root = _folders(tmp_path / "in")
    (root / "P2" / "P2_2_rfp_5_rfp.tif").unlink()
    out = tmp_path / "cells.h5"
    assert_one_line_error(_cli(root, out), "P2_2_rfp_5_gfp.tif", "has no '_rfp.tif' partner")
    assert not out.exists()


def test_import_tiff_folders_raises_on_rfp_without_gfp(tmp_path):
    root = _folders(tmp_path / "in")
    (root / "P1" / "P1_1_rfp_0_gfp.tif").unlink()
    with pytest.raises(InputError, match="P1_1_rfp_0_rfp.tif: has no '_gfp.tif' partner"):
        find_cell_pairs([root])


def test_import_tiff_folders_raises_on_wrong_size(tmp_path, assert_one_line_error):
    root = _folders(tmp_path / "in")
    tifffile.imwrite(root / "P2" / "P2_1_rfp_4_rfp.tif", np.zeros((60, 64), np.uint16))
    out = tmp_path / "cells.h5"
    assert_one_line_error(_cli(root, out), "P2_1_rfp_4_rfp.tif", "image size must be 64x64", "(60, 64)")
    assert not out.exists()


def test_import_tiff_folders_raises_on_not_a_tiff(tmp_path, assert_one_line_error):
    root = _folders(tmp_path / "in")
    (root / "P1" / "P1_1_rfp_0_gfp.tif").write_text("text")
    out = tmp_path / "cells.h5"
    assert_one_line_error(_cli(root, out), "P1_1_rfp_0_gfp.tif", "cannot be read as TIFF")
    assert not out.exists()


def test_import_tiff_folders_raises_on_nan_pixels(tmp_path, assert_one_line_error):
    root = _folders(tmp_path / "in", dtype=np.float32)
    bad = np.zeros((64, 64), np.float32)
    bad[0, 0] = np.inf
    tifffile.imwrite(root / "P2" / "P2_1_rfp_10_gfp.tif", bad)
    out = tmp_path / "cells.h5"
    assert_one_line_error(_cli(root, out), "P2_1_rfp_10_gfp.tif", "1 NaN or inf pixels", "--drop-invalid")
    assert not out.exists()


def test_import_tiff_folders_raises_on_missing_folder(tmp_path, assert_one_line_error):
    out = tmp_path / "cells.h5"
    assert_one_line_error(_cli(tmp_path / "nope", out), "nope", "no such folder")
    (tmp_path / "empty").mkdir()
    assert_one_line_error(_cli(tmp_path / "empty", out), "empty", "no '*_gfp.tif'")
    assert not out.exists()


def test_import_tiff_folders_raises_on_label_not_in_class_names(tmp_path, assert_one_line_error):
    root = _folders(tmp_path / "in")
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"protein": ["P1"], "label": ["GOLGI"]}).to_csv(labels, index=False)
    out = tmp_path / "cells.h5"
    assert_one_line_error(_cli(root, out, "--labels", labels, "--class-names", "ER,NUCLEI"), "labels.csv",
                           "'GOLGI'", "not in class_names")
    pd.DataFrame({"protein": ["P1", "P1"], "label": ["ER", "NUCLEI"]}).to_csv(labels, index=False)
    assert_one_line_error(_cli(root, out, "--labels", labels), "labels.csv", "'P1' has more than one label")
    pd.DataFrame({"gene": ["P1"], "label": ["ER"]}).to_csv(labels, index=False)
    assert_one_line_error(_cli(root, out, "--labels", labels), "labels.csv", "columns 'protein' and 'label'")
    assert not out.exists()


def test_import_tiff_folders_raises_on_existing_output(tmp_path, assert_one_line_error):
    root = _folders(tmp_path / "in", {"P1": 1})
    out = tmp_path / "cells.h5"
    out.write_bytes(b"old")
    assert_one_line_error(_cli(root, out), "cells.h5", "already exists")
    assert out.read_bytes() == b"old"


def test_import_tiff_folders_raises_on_labels_sharing_no_protein(tmp_path, assert_one_line_error):
    root = _folders(tmp_path / "in")
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"protein": ["ACT1", "TUB1"], "label": ["ER", "NUCLEI"]}).to_csv(labels, index=False)
    out = tmp_path / "cells.h5"
    assert_one_line_error(_cli(root, out, "--labels", labels), "labels.csv", "shares no protein id with the images",
                          "['ACT1', 'TUB1']", "['P1', 'P2']")
    assert not out.exists()


def test_import_tiff_folders_warns_on_labels_missing_some_proteins(tmp_path, caplog):
    root = _folders(tmp_path / "in")
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"protein": ["P1", "ACT1"], "label": ["ER", "NUCLEI"]}).to_csv(labels, index=False)
    with caplog.at_level("WARNING", logger="deeploc_keras.data.importers._common"):
        import_tiff_folders([root], tmp_path / "cells.h5", labels=labels)
    assert any("1 of 2 proteins have no label (e.g. P2)" in r.getMessage() for r in caplog.records)
    with CellStore.open(tmp_path / "cells.h5") as store:
        by_protein = store.cells.groupby("protein")["label"].unique()
    assert by_protein["P1"].tolist() == [0] and by_protein["P2"].tolist() == [-1]


def test_import_tiff_folders_raises_on_duplicate_class_names(tmp_path, assert_one_line_error):
    root = _folders(tmp_path / "in")
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"protein": ["P1"], "label": ["ER"]}).to_csv(labels, index=False)
    out = tmp_path / "cells.h5"
    assert_one_line_error(_cli(root, out, "--labels", labels, "--class-names", "ER,NUCLEI,ER"),
                          "class names must be unique", "['ER']")
    assert_one_line_error(_cli(root, out, "--class-names", "ER,ER"), "class_names must be unique")
    assert not out.exists()
