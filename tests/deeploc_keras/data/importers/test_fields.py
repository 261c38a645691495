"""Importer of full fields + CellProfiler centres, on generated fields at the real SQL_data.csv centres."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tifffile
from click.testing import CliRunner

from deeploc_keras.cli import main
from deeploc_keras.core.errors import InputError
from deeploc_keras.data.importers.fields import crop_cells, import_fields
from deeploc_keras.data.store import CellStore

HEIGHT, WIDTH = 1001, 1339  # the frame that the SQL_data.csv coordinates fit (X <= 1332, Y <= 990)


def _field(name: str, channel: int) -> np.ndarray:
    rows, cols = np.mgrid[:HEIGHT, :WIDTH]
    frame = int(name.rsplit("_", 1)[1])
    return ((rows * 37 + cols * 11 + 1000 * frame + 7 * channel) % 65536).astype(np.uint16)


@pytest.fixture(scope="module")
def real_centres(sql_data_csv, tmp_path_factory):
    """The real table plus generated uint16 fields under the names it gives (plate01/007020000_<frame>.tif)."""
    table = pd.read_csv(sql_data_csv)
    image_dir = tmp_path_factory.mktemp("fields")
    (image_dir / "plate01").mkdir()
    for column, channel in (("Image_FileName_GFP", 0), ("Image_FileName_RFP", 1)):
        for name in table[column].unique():
            tifffile.imwrite(image_dir / f"{name}.tif", _field(name, channel))
    return sql_data_csv, table, image_dir



def test_import_fields_real_centres(real_centres, tmp_path):
    csv, table, image_dir = real_centres
    out = tmp_path / "cells.h5"
    result = CliRunner().invoke(main, ["import", str(csv), "--out", str(out), "--format", "fields",
                                       "--image-dir", str(image_dir), "--chunk-cells", "64"])
    assert result.exit_code == 0, result.output
    x, y = table["cells_Location_Center_X"].to_numpy(), table["cells_Location_Center_Y"].to_numpy()
    inside = (x > 32) & (x < WIDTH - 32) & (y > 32) & (y < HEIGHT - 32)
    assert 0 < inside.sum() < len(table)  # real cells near the border are dropped
    assert f"{inside.sum()} cells" in result.output
    assert f"dropped outside_field {len(table) - inside.sum()}" in result.output
    with CellStore.open(out) as store:
        assert len(store) == inside.sum() and store.dtype == np.uint16
        cells, images = store.cells, store.images()
    kept = table[inside]
    # cells are grouped by field in order of first appearance; match them back by centre
    for i in range(0, len(cells), 17):
        row = kept[(kept["cells_Location_Center_X"].astype(np.float32) == cells["x"][i])
                   & (kept["cells_Location_Center_Y"].astype(np.float32) == cells["y"][i])].iloc[0]
        r0, c0 = int(row["cells_Location_Center_Y"] - 32), int(row["cells_Location_Center_X"] - 32)
        assert cells["field"][i] == row["Image_FileName_GFP"]
        gfp, rfp = _field(row["Image_FileName_GFP"], 0), _field(row["Image_FileName_RFP"], 1)
        np.testing.assert_array_equal(images[i, ..., 0], gfp[r0:r0 + 64, c0:c0 + 64])
        np.testing.assert_array_equal(images[i, ..., 1], rfp[r0:r0 + 64, c0:c0 + 64])
    assert (cells["protein"] == "unknown").all()


def test_import_fields_pad_keeps_every_cell(real_centres, tmp_path):
    csv, table, image_dir = real_centres
    summary = import_fields([csv], tmp_path / "cells.h5", image_dir=image_dir, pad=True, object_name="cells")
    assert summary["cells"] == len(table) == 361 and summary["dropped"] == {}
    with CellStore.open(tmp_path / "cells.h5") as store:
        cells = store.cells
        i = int(np.argmin(cells["x"]))  # the leftmost cell leaves the field on the left
        image = store.images(i)
    c0 = int(np.floor(cells["x"][i] - 32))
    assert c0 < 0
    assert (image[:, : -c0] == 0).all() and (image[:, -c0:] > 0).any()


def test_crop_cells_matches_original_rule():
    field = np.arange(100 * 120, dtype=np.int64).reshape(100, 120)
    x = np.array([32.0, 32.01, 87.99, 88.0, 60.5, np.nan])
    y = np.array([50.0, 50.0, 50.0, 50.0, 67.9, 50.0])
    crops, keep = crop_cells(field, x, y)
    assert keep.tolist() == [False, True, True, False, True, False]
    np.testing.assert_array_equal(crops[0], field[18:82, 0:64])
    np.testing.assert_array_equal(crops[1], field[18:82, 55:119])
    np.testing.assert_array_equal(crops[2], field[35:99, 28:92])
    padded, keep = crop_cells(field, np.array([10.0]), np.array([95.0]), pad=True)
    assert keep.tolist() == [True]
    np.testing.assert_array_equal(padded[0, :37, 22:], field[63:, 0:42])
    assert (padded[0, 37:] == 0).all() and (padded[0, :, :22] == 0).all()


def test_import_fields_proteins_and_labels(tmp_path):
    for ch in ("g", "r"):
        tifffile.imwrite(tmp_path / f"f_{ch}.tif", np.full((120, 130), 5, np.float32))
    table = tmp_path / "cells.csv"
    pd.DataFrame({"ImageNumber": [1, 1, 1], "Image_FileName_GFP": ["f_g.tif"] * 3, "Image_FileName_RFP": ["f_r.tif"] * 3,
                  "Nuclei_Location_Center_X": [60.0, 61.0, np.nan], "Nuclei_Location_Center_Y": [60.0, 59.0, 50.0],
                  "orf": ["YAL001C", "YBR001W", "YAL001C"]}).to_csv(table, index=False)
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"protein": ["YAL001C"], "label": ["ER"]}).to_csv(labels, index=False)
    summary = import_fields([table], tmp_path / "cells.h5", protein_column="orf", labels=labels)
    assert summary["cells"] == 2 and summary["proteins"] == 2 and summary["dtype"] == "float32"
    assert summary["dropped"] == {"invalid_centre": 1}
    with CellStore.open(tmp_path / "cells.h5") as store:
        assert store.cells["protein"].tolist() == ["YAL001C", "YBR001W"]
        assert store.cells["label"].tolist() == [0, -1]
        assert store.class_names == ["ER"]


# ---------------------------------------------------------------- bad input
def _table(tmp_path, **overrides):
    data = {"Image_FileName_GFP": ["f_g"], "Image_FileName_RFP": ["f_r"],
            "cells_Location_Center_X": [60.0], "cells_Location_Center_Y": [60.0]}
    data.update(overrides)
    path = tmp_path / "cells.csv"
    pd.DataFrame(data).to_csv(path, index=False)
    return path


def _cli(*args):
    return CliRunner().invoke(main, ["import", *_with_out(args), "--format", "fields"])

def _with_out(args) -> list[str]:
    """CLI words with ``--out`` before the output path (the last word before the first option)."""
    words = [str(a) for a in args]
    first_option = next((i for i, w in enumerate(words) if w.startswith("--")), len(words))
    return [*words[:first_option - 1], "--out", *words[first_option - 1:]]



def test_import_fields_raises_on_missing_field_image(tmp_path, assert_one_line_error):
    table = _table(tmp_path)
    out = tmp_path / "cells.h5"
    assert_one_line_error(_cli(table, out), "f_g", "field image named in", "--image-dir")
    assert not out.exists()


def test_import_fields_raises_on_field_size_mismatch(tmp_path, assert_one_line_error):
    tifffile.imwrite(tmp_path / "f_g.tif", np.zeros((120, 130), np.uint16))
    tifffile.imwrite(tmp_path / "f_r.tif", np.zeros((120, 131), np.uint16))
    out = tmp_path / "cells.h5"
    assert_one_line_error(_cli(_table(tmp_path), out), "f_r.tif", "differs from its GFP field")
    assert not out.exists()


def test_import_fields_raises_on_missing_centre_column(tmp_path, assert_one_line_error):
    table = _table(tmp_path, cells_Location_Center_Y=None)
    pd.read_csv(table).drop(columns="cells_Location_Center_Y").to_csv(table, index=False)
    out = tmp_path / "cells.h5"
    assert_one_line_error(_cli(table, out), "cells.csv", "'cells_Location_Center_Y'")
    assert_one_line_error(_cli(table, out, "--object", "nuclei"), "cells.csv", "'nuclei_Location_Center_X'")
    assert not out.exists()


def test_import_fields_raises_on_missing_table(tmp_path, assert_one_line_error):
    assert_one_line_error(_cli(tmp_path / "none.csv", tmp_path / "o.h5"), "none.csv", "no such file")


def test_import_fields_raises_on_nan_pixels(tmp_path, assert_one_line_error):
    field = np.ones((120, 130), np.float32)
    field[60, 60] = np.nan
    tifffile.imwrite(tmp_path / "f_g.tif", field)
    tifffile.imwrite(tmp_path / "f_r.tif", np.ones((120, 130), np.float32))
    out = tmp_path / "cells.h5"
    assert_one_line_error(_cli(_table(tmp_path), out), "f_g.tif", "1 crops hold NaN or inf")
    assert not out.exists()
    with pytest.raises(InputError, match="no cells to import"):
        import_fields([_table(tmp_path)], out, drop_invalid=True)
    assert not out.exists()


def test_import_fields_raises_when_every_cell_leaves_the_field(tmp_path, assert_one_line_error):
    for ch in ("g", "r"):
        tifffile.imwrite(tmp_path / f"f_{ch}.tif", np.zeros((50, 50), np.uint16))
    out = tmp_path / "cells.h5"
    assert_one_line_error(_cli(_table(tmp_path, cells_Location_Center_X=[25.0]), out), "cells.csv", "no cells")
    assert not out.exists()
