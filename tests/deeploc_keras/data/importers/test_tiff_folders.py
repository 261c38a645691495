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
    assert_one_line_error(_cli(root, out), "P2_2_rfp_5_gfp.tif", "has no '*_rfp.tif' partner")
    assert not out.exists()


def test_import_tiff_folders_raises_on_rfp_without_gfp(tmp_path):
    root = _folders(tmp_path / "in")
    (root / "P1" / "P1_1_rfp_0_gfp.tif").unlink()
    with pytest.raises(InputError, match=r"P1_1_rfp_0_rfp.tif: has no '\*_gfp.tif' partner"):
        find_cell_pairs([root])


def test_import_tiff_folders_raises_on_partners_of_different_sizes(tmp_path, assert_one_line_error):
    root = _folders(tmp_path / "in")
    tifffile.imwrite(root / "P2" / "P2_1_rfp_4_rfp.tif", np.zeros((60, 64), np.uint16))
    out = tmp_path / "cells.h5"
    assert_one_line_error(_cli(root, out), "P2_1_rfp_4_rfp.tif", "holds 1 cell(s) of 60x64 but its partner "
                          "P2_1_rfp_4_gfp.tif holds 1 of 64x64")
    assert not out.exists()


def test_import_tiff_folders_raises_on_crops_of_several_sizes(tmp_path, assert_one_line_error):
    root = _folders(tmp_path / "in", {"P1": 2})
    _folders(tmp_path / "in2", {"P2": 1}, size=80)
    out = tmp_path / "cells.h5"
    assert_one_line_error(_cli(root, tmp_path / "in2", out), "P2_1_rfp_0_gfp.tif: crops are 80x80 but 64x64 in",
                          "pass --crop-size N")
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


# ---------------------------------------------------------------- any screen's crops
def _two_channel_cells(root, proteins=("P1", "P2"), n=3, *, size=80, channel_axis=0, dtype=np.uint16):
    """One 2-channel TIFF per cell; pixel (r, c) of channel k of cell i of protein p: 1000 p + 100 i + 10 k + r."""
    for p, protein in enumerate(proteins):
        (root / protein).mkdir(parents=True)
        for i in range(n):
            rows = np.broadcast_to(np.arange(size)[:, None], (size, size))
            cell = np.stack([1000 * p + 100 * i + 10 * k + rows for k in range(2)], axis=channel_axis)
            tifffile.imwrite(root / protein / f"cell_{i}.tif", cell.astype(dtype), photometric="minisblack")
    return root


@pytest.mark.parametrize("channel_axis", [0, -1])
def test_import_tiff_folders_two_channel_80x80_cells_keep_their_size(tmp_path, channel_axis):
    root = _two_channel_cells(tmp_path / "in", channel_axis=channel_axis)
    result = CliRunner().invoke(main, ["import", str(root), "--out", str(tmp_path / "cells.h5"), "--format",
                                       "tiff-folders", "--channels", "protein,membrane"])
    assert result.exit_code == 0, result.output
    assert "6 cells, 2 proteins, uint16" in result.output and "80x80 crops of protein, membrane" in result.output
    with CellStore.open(tmp_path / "cells.h5") as store:
        assert store.image_shape == (80, 80, 2) and store.channel_names == ["protein", "membrane"]
        assert "channels protein+membrane=*.tif" in store.source
        images, cells = store.images(), store.cells
    assert cells["protein"].tolist() == ["P1"] * 3 + ["P2"] * 3
    np.testing.assert_array_equal(images[4, :, 9, 1], 1000 + 100 + 10 + np.arange(80))


def test_import_tiff_folders_crop_size_centre_crops_and_pads_and_says_so(tmp_path):
    root = _two_channel_cells(tmp_path / "in", proteins=("P1",), n=2)
    summary = import_tiff_folders([root], tmp_path / "cropped.h5", crop_size=64)
    assert summary["resized"] == "crops 80x80 centre-cropped to 64x64" and summary["image_shape"] == (64, 64, 2)
    with CellStore.open(tmp_path / "cropped.h5") as store:
        assert "crops 80x80 centre-cropped to 64x64" in store.source
        np.testing.assert_array_equal(store.images(1)[:, 0, 0], 100 + np.arange(8, 72))  # rows 8..71 of 80
    padded = import_tiff_folders([root], tmp_path / "padded.h5", crop_size=96)
    assert padded["resized"] == "crops 80x80 zero-padded to 96x96"
    with CellStore.open(tmp_path / "padded.h5") as store:
        column = store.images(0)[:, 50, 0]
    np.testing.assert_array_equal(column[:8], 0)
    np.testing.assert_array_equal(column[8:88], np.arange(80))
    np.testing.assert_array_equal(column[88:], 0)


def test_import_tiff_folders_channel_patterns_name_the_channels(tmp_path):
    root = _folders(tmp_path / "in", {"P1": 2, "P2": 3}, gfp="_ch1.tif", rfp="_ch2.tif")
    result = CliRunner().invoke(main, ["import", str(root), "--out", str(tmp_path / "cells.h5"), "--format",
                                       "tiff-folders", "--channel", "Cyto=*_ch2.tif", "--channel", "GFP=*_ch1.tif"])
    assert result.exit_code == 0, result.output
    with CellStore.open(tmp_path / "cells.h5") as store:
        assert store.channel_names == ["Cyto", "GFP"]
        assert "channels Cyto=*_ch2.tif, GFP=*_ch1.tif" in store.source
        first = store.images(0)
    np.testing.assert_array_equal(first[5, :, 0], 20000 + np.arange(64))  # the *_ch2 file first, as named
    np.testing.assert_array_equal(first[:, 7, 1], np.arange(64))


def test_import_tiff_folders_multi_page_stacks_one_per_protein(tmp_path):
    root = tmp_path / "stacks"
    root.mkdir()
    rng = np.random.default_rng(0)
    stacks = {"YAL001C": rng.integers(0, 4000, (5, 2, 48, 48)), "YBR002W": rng.integers(0, 4000, (3, 2, 48, 48))}
    for protein, stack in stacks.items():
        tifffile.imwrite(root / f"{protein}.tif", stack.astype(np.uint16), photometric="minisblack")
    summary = import_tiff_folders([root], tmp_path / "cells.h5", layout="stacks")
    assert summary["cells"] == 8 and summary["proteins"] == 2 and summary["image_shape"] == (48, 48, 2)
    with CellStore.open(tmp_path / "cells.h5") as store:
        assert store.cells["protein"].tolist() == ["YAL001C"] * 5 + ["YBR002W"] * 3
        np.testing.assert_array_equal(store.images(6), np.moveaxis(stacks["YBR002W"][1], 0, -1))
    (tmp_path / "split").mkdir()
    for channel, name in enumerate(("gfp", "rfp")):  # one single-channel stack per protein and channel
        for protein, stack in stacks.items():
            tifffile.imwrite(tmp_path / "split" / f"{protein}_{name}.tif", stack[:, channel].astype(np.uint16),
                             photometric="minisblack")
    import_tiff_folders([tmp_path / "split"], tmp_path / "split.h5", layout="stacks")
    with CellStore.open(tmp_path / "split.h5") as store, CellStore.open(tmp_path / "cells.h5") as whole:
        np.testing.assert_array_equal(store.images(), whole.images())
        assert store.cells["protein"].tolist() == whole.cells["protein"].tolist()


def test_import_tiff_folders_raises_on_a_stack_where_cells_are_expected(tmp_path, assert_one_line_error):
    (tmp_path / "in" / "P1").mkdir(parents=True)
    tifffile.imwrite(tmp_path / "in" / "P1" / "P1.tif", np.zeros((5, 2, 64, 64), np.uint16))
    out = tmp_path / "cells.h5"
    assert_one_line_error(_cli(tmp_path / "in", out), "P1.tif: holds several images", "--layout stacks")
    assert not out.exists()


def test_import_tiff_folders_raises_on_another_number_of_channels(tmp_path, assert_one_line_error):
    root = _two_channel_cells(tmp_path / "in", proteins=("P1",), n=1)
    tifffile.imwrite(root / "P1" / "cell_1.tif", np.zeros((3, 80, 80), np.uint16), photometric="minisblack")
    out = tmp_path / "cells.h5"
    assert_one_line_error(_cli(root, out), "cell_1.tif: expected a cell with 2 channels on the first or last axis",
                          "shape=(3, 80, 80)", "--channels")
    assert not out.exists()


def test_import_tiff_folders_raises_on_bad_channel_pattern(tmp_path, assert_one_line_error):
    root = _folders(tmp_path / "in", {"P1": 1})
    out = tmp_path / "cells.h5"
    assert_one_line_error(_cli(root, out, "--channel", "GFP"), "'GFP' must read NAME=PATTERN")
    assert_one_line_error(_cli(root, out, "--channel", "GFP=gfp.tif"), "needs exactly one '*'")
    assert_one_line_error(_cli(root, out, "--channel", "GFP=*_gfp.tif", "--channel", "RFP=*_red.tif"),
                          "P1_1_rfp_0_gfp.tif: has no '*_red.tif' partner (expected P1_1_rfp_0_red.tif)")
    assert_one_line_error(_cli(root, out, "--channel", "GFP=*_gfp.tif", "--channels", "A"),
                          "give --channel NAME=PATTERN or --channels, not both")
    assert not out.exists()


def test_unlabelled_import_refused_by_training_names_the_options_that_label(tmp_path):
    root = _folders(tmp_path / "in", {"P1": 2})
    import_tiff_folders([root], tmp_path / "cells.h5", class_names="ER,NUCLEI")
    with CellStore.open(tmp_path / "cells.h5") as store, pytest.raises(InputError) as error:
        store.require_labels()
    assert "no cell has a label" in str(error.value)
    assert "--labels CSV or --labels-from huh2003" in str(error.value) and "--class-names" not in str(error.value)
