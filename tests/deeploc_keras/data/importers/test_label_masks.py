"""Importer of field images + label masks, on fields tiled from the real yeast crops and on tiny fakes."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from click.testing import CliRunner

from deeploc_keras.cli import main
from deeploc_keras.data.importers.label_masks import import_label_masks
from deeploc_keras.data.store import CellStore

GRID, STEP, MARGIN = (3, 4), 80, 20  # 12 real cells per field, 64x64 crops 80 px apart


def _tile_field(gfp: list[np.ndarray], rfp: list[np.ndarray], ids: list[int]):
    """A 2-channel field with the real crops on a grid, and a label mask: each cell's bright RFP pixels near its
    centre (the cytoplasm marker), labelled with its id."""
    height, width = 2 * MARGIN + GRID[0] * STEP, 2 * MARGIN + GRID[1] * STEP
    field = np.zeros((2, height, width), np.float32)
    mask = np.zeros((height, width), np.uint16)
    rows, cols = np.mgrid[:64, :64]
    near_centre = (rows - 31.5) ** 2 + (cols - 31.5) ** 2 < 26 ** 2
    for k, (g, r, object_id) in enumerate(zip(gfp, rfp, ids, strict=True)):
        top, left = MARGIN + (k // GRID[1]) * STEP, MARGIN + (k % GRID[1]) * STEP
        field[0, top:top + 64, left:left + 64] = g
        field[1, top:top + 64, left:left + 64] = r
        cell = near_centre & (r > np.quantile(r, 0.6))
        mask[top:top + 64, left:left + 64][cell] = object_id
    return field, mask


@pytest.fixture(scope="module")
def real_fields(pci_toy_dir, tmp_path_factory):
    """Two proteins, two fields each, tiled from real crops; the last object of each field sits on its border."""
    root = tmp_path_factory.mktemp("fields")
    expected = []
    for protein in ("AAC1", "AAH1"):
        (root / protein).mkdir()
        files = sorted((pci_toy_dir / protein).glob("*_gfp.tif"))[:24]
        for f in range(2):
            chosen = files[12 * f:12 * (f + 1)]
            gfp = [tifffile.imread(p) for p in chosen]
            rfp = [tifffile.imread(str(p).replace("_gfp.tif", "_rfp.tif")) for p in chosen]
            ids = [10 * k + 3 for k in range(12)]  # ids need not be 1..n
            field, mask = _tile_field(gfp, rfp, ids)
            mask[-6:, -6:] = 999  # a small object in the corner: its crop leaves the field
            tifffile.imwrite(root / protein / f"field{f + 1}.tif", field, photometric="minisblack")
            tifffile.imwrite(root / protein / f"field{f + 1}_cp_masks.tif", mask)
            expected.append((protein, f"field{f + 1}", field, mask))
    return root, expected


def test_import_label_masks_cuts_one_crop_per_object_with_its_columns(real_fields, tmp_path):
    root, expected = real_fields
    out = tmp_path / "cells.h5"
    result = CliRunner().invoke(main, ["import", str(root), "--out", str(out), "--format", "label-masks"])
    assert result.exit_code == 0, result.output
    assert "48 cells, 2 proteins, float32" in result.output and "dropped outside_field 4" in result.output
    with CellStore.open(out) as store:
        cells, images = store.cells, store.images()
        assert store.image_shape == (64, 64, 2) and store.channel_names == ["GFP", "RFP"]
    assert len(cells) == 48 and cells["protein"].tolist() == ["AAC1"] * 24 + ["AAH1"] * 24
    row = 0
    for protein, name, field, mask in expected:
        for object_id in [10 * k + 3 for k in range(12)]:
            ys, xs = np.nonzero(mask == object_id)  # the centroid and area computed here, without scikit-image
            cy, cx = ys.mean(), xs.mean()
            top, left = int(np.floor(cy - 32)), int(np.floor(cx - 32))
            cell = cells.iloc[row]
            assert (cell["protein"], cell["field"], cell["object_id"]) == (protein, name, object_id)
            assert cell["area"] == len(ys)
            np.testing.assert_allclose([cell["x"], cell["y"]], [cx, cy], rtol=1e-6)
            np.testing.assert_array_equal(images[row], np.moveaxis(field[:, top:top + 64, left:left + 64], 0, -1))
            row += 1


def test_import_label_masks_pad_keeps_objects_at_the_border(real_fields, tmp_path):
    root, _ = real_fields
    summary = import_label_masks([root], tmp_path / "cells.h5", pad=True, crop_size=48)
    assert summary["cells"] == 52 and summary["dropped"] == {} and summary["image_shape"] == (48, 48, 2)
    with CellStore.open(tmp_path / "cells.h5") as store:
        corner = store.cells.index[store.cells["object_id"] == 999]
        assert len(corner) == 4 and (store.cells.loc[corner, "area"] == 36).all()
        assert (store.images(int(corner[0]))[-20:, -20:] == 0).all()  # outside the field: zeros


def _fake_fields(root, *, mask_dtype=np.uint16, mask_shape=(100, 120)):
    (root / "P1").mkdir(parents=True)
    for channel in ("gfp", "rfp"):
        tifffile.imwrite(root / "P1" / f"f1_{channel}.tif", np.ones((100, 120), np.uint16))
    mask = np.zeros(mask_shape, mask_dtype)
    mask[40:60, 50:70] = 1
    tifffile.imwrite(root / "P1" / "f1_cp_masks.tif", mask)
    return root


def _cli(*args):
    return CliRunner().invoke(main, ["import", *map(str, args), "--format", "label-masks"])


def test_import_label_masks_channel_pairs_and_other_mask_names(tmp_path):
    root = _fake_fields(tmp_path / "in")
    (root / "P1" / "f1_cp_masks.tif").rename(root / "P1" / "f1_labels.tif")
    result = _cli(root, "--out", tmp_path / "cells.h5", "--mask", "*_labels.tif", "--crop-size", "32")
    assert result.exit_code == 0, result.output
    with CellStore.open(tmp_path / "cells.h5") as store:
        assert store.image_shape == (32, 32, 2) and store.cells["field"].tolist() == ["f1"]
        assert "masks *_labels.tif" in store.source


def test_import_label_masks_raises_on_missing_mask(tmp_path, assert_one_line_error):
    root = _fake_fields(tmp_path / "in")
    out = tmp_path / "cells.h5"
    assert_one_line_error(_cli(root, "--out", out, "--mask", "*_seg.tif"), "f1_gfp.tif: has no label mask",
                          "expected f1_seg.tif", "--mask")
    assert not out.exists()


def test_import_label_masks_raises_on_mask_of_another_size(tmp_path, assert_one_line_error):
    root = _fake_fields(tmp_path / "in", mask_shape=(100, 100))
    out = tmp_path / "cells.h5"
    assert_one_line_error(_cli(root, "--out", out), "f1_cp_masks.tif: mask is 100x100 but its field f1_gfp.tif is "
                                                    "100x120")
    assert not out.exists()


def test_import_label_masks_raises_on_a_binary_or_float_mask(tmp_path, assert_one_line_error):
    out = tmp_path / "cells.h5"
    root = _fake_fields(tmp_path / "float", mask_dtype=np.float32)
    assert_one_line_error(_cli(root, "--out", out), "f1_cp_masks.tif: is not a label mask", "dtype=float32")
    root = _fake_fields(tmp_path / "binary", mask_dtype=bool)
    assert_one_line_error(_cli(root, "--out", out), "is not a label mask", "skimage.measure.label")
    assert not out.exists()


def test_import_label_masks_raises_on_bad_mask_pattern(tmp_path, assert_one_line_error):
    root = _fake_fields(tmp_path / "in")
    assert_one_line_error(_cli(root, "--out", tmp_path / "cells.h5", "--mask", "masks.tif"), "needs exactly one '*'")
