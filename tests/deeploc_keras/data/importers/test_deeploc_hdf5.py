"""Importer of the original DeepLoc HDF5 files (data1/Index1 layout)."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from deeploc_keras.cli import main
from deeploc_keras.core.errors import InputError
from deeploc_keras.data.importers import import_cells
from deeploc_keras.data.importers.deeploc_hdf5 import filename_split, import_deeploc_hdf5
from deeploc_keras.data.store import CHONG_CLASS_NAMES, CellStore


def _deeploc_file(path, n=7, *, n_classes=19, channels=2, integer=True, chunks=1, seed=0, attrs=None):
    """A file in the exact original layout: rows = [block 0 ravel | block 1 ravel ...], Index one-hot."""
    rng = np.random.default_rng(seed)
    data, labels = [], []
    with h5py.File(path, "w") as h5:
        for k in range(1, chunks + 1):
            values = rng.integers(30000, 36000, size=(n, channels * 4096)).astype(np.float64)
            if not integer:
                values += rng.random(values.shape)
            label = rng.integers(0, n_classes, size=n)
            h5[f"data{k}"] = values
            h5[f"Index{k}"] = np.eye(n_classes, dtype=np.uint8)[label]
            data.append(values)
            labels.append(label)
        for key, value in (attrs or {}).items():
            h5.attrs[key] = value
    return np.concatenate(data), np.concatenate(labels)


def _run(*args):
    result = CliRunner().invoke(main, ["import", *_with_out(args)])
    return result

def _with_out(args) -> list[str]:
    """CLI words with ``--out`` before the output path (the last word before the first option)."""
    words = [str(a) for a in args]
    first_option = next((i for i, w in enumerate(words) if w.startswith("--")), len(words))
    return [*words[:first_option - 1], "--out", *words[first_option - 1:]]




def test_import_deeploc_hdf5_exact_original_layout(tmp_path):
    src = tmp_path / "Chong_test_set.hdf5"
    data1, labels = _deeploc_file(src, n=5)
    result = _run(src, tmp_path / "cells.h5", "--format", "deeploc-hdf5")
    assert result.exit_code == 0, result.output
    assert "5 cells" in result.output
    with CellStore.open(tmp_path / "cells.h5") as store:
        image = store.images()
        assert store.dtype == np.uint16
        assert store.channel_names == ["GFP", "RFP"]
        assert store.class_names == list(CHONG_CLASS_NAMES)
        np.testing.assert_array_equal(store.cells["label"], labels)
        assert (store.cells["protein"] == "unknown").all()
    for i in range(5):
        for r, c in [(0, 0), (0, 63), (63, 0), (17, 42), (63, 63)]:
            assert image[i, r, c, 0] == data1[i, r * 64 + c]
            assert image[i, r, c, 1] == data1[i, 4096 + r * 64 + c]
    rows, cols = np.meshgrid(np.arange(64), np.arange(64), indexing="ij")
    np.testing.assert_array_equal(image[..., 0], data1[:, rows * 64 + cols])
    np.testing.assert_array_equal(image[..., 1], data1[:, 4096 + rows * 64 + cols])


def test_import_deeploc_hdf5_streams_chunks_and_keeps_float_counts(tmp_path):
    src = tmp_path / "x.hdf5"
    data, labels = _deeploc_file(src, n=5, integer=False, chunks=3)  # data1, data2, data3
    summary = import_deeploc_hdf5([src], tmp_path / "cells.h5", chunk_cells=2)
    assert summary["cells"] == 15 and summary["dtype"] == "float32"
    with CellStore.open(tmp_path / "cells.h5") as store:
        assert store.chunk_cells == 2
        np.testing.assert_array_equal(store.images()[..., 1].reshape(15, -1), data[:, 4096:].astype(np.float32))
        np.testing.assert_array_equal(store.cells["label"], labels)


def test_import_deeploc_hdf5_names_from_attributes(tmp_path, caplog):
    src = tmp_path / "Schuldiner_test_set.hdf5"
    names = ["ER", "Bud", "Bud Neck"]
    _deeploc_file(src, n=4, n_classes=3, attrs={
        "data1_columns": "RFP channel 64x64, DIC channel 64x64 flattened",
        "Index1_columns": np.array([n.encode() for n in names]),
    })
    import_deeploc_hdf5([src], tmp_path / "attrs.h5")
    with CellStore.open(tmp_path / "attrs.h5") as store:
        assert store.channel_names == ["RFP", "DIC"]
        assert store.class_names == names
    with caplog.at_level("WARNING", logger="deeploc_keras.data.importers.deeploc_hdf5"):
        import_deeploc_hdf5([src], tmp_path / "a.h5", channels="X,Y", class_names="p,q,r")  # options win
    with CellStore.open(tmp_path / "a.h5") as store:
        assert store.channel_names == ["X", "Y"]
        assert store.class_names == ["p", "q", "r"]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("--channels X,Y differ from the file's data1_columns RFP,DIC; using --channels" in w for w in warnings)
    assert any("--class-names p,q,r differ from the file's Index1_columns ER,Bud,Bud Neck" in w for w in warnings)
    src2 = tmp_path / "b.hdf5"
    _deeploc_file(src2, n=4, n_classes=3, attrs={"Index1_columns": b"ER,Bud,Bud Neck"})
    import_deeploc_hdf5([src2], tmp_path / "b.h5", channels=["RFP", "DIC"])
    with CellStore.open(tmp_path / "b.h5") as store:
        assert store.channel_names == ["RFP", "DIC"]
        assert store.class_names == names


def test_import_deeploc_hdf5_options_name_three_channels(tmp_path):
    src = tmp_path / "wt2017_test_set.hdf5"
    data, _ = _deeploc_file(src, n=3, n_classes=4, channels=3)
    import_deeploc_hdf5([src], tmp_path / "c.h5", channels="GFP,BF,RFP", class_names=["a", "b", "c", "d"])
    with CellStore.open(tmp_path / "c.h5") as store:
        assert store.image_shape == (64, 64, 3)
        assert store.images(0)[5, 9, 2] == data[0, 2 * 4096 + 5 * 64 + 9]


def test_import_deeploc_hdf5_split_from_filename(tmp_path):
    files = []
    for name, n in (("Chong_train_set", 6), ("Chong_valid_set", 4), ("Chong_test_set", 3)):
        files.append(tmp_path / f"{name}.hdf5")
        _deeploc_file(files[-1], n=n, seed=n)
    result = _run(*files, tmp_path / "cells.h5", "--format", "deeploc-hdf5", "--split-from-filename")
    assert result.exit_code == 0, result.output
    with CellStore.open(tmp_path / "cells.h5") as store:
        assert store.cells["split"].tolist() == [0] * 6 + [1] * 4 + [2] * 3
        assert "Chong_valid_set.hdf5" in store.source


def test_filename_split_raises_on_ambiguous_name():
    assert filename_split("Chong_val.h5") == 1
    with pytest.raises(InputError, match="train_test.h5"):
        filename_split("train_test.h5")
    with pytest.raises(InputError, match="cells.h5"):
        filename_split("cells.h5")


def test_import_deeploc_hdf5_metadata_row_order(tmp_path):
    src = tmp_path / "a.hdf5"
    _deeploc_file(src, n=6)
    meta = tmp_path / "meta.csv"
    pd.DataFrame({"protein": ["YAL001C"] * 3 + ["YBR002W"] * 3, "plate": ["p1"] * 6,
                  "x": np.arange(6.0), "extra": 1}).to_csv(meta, index=False)
    summary = import_deeploc_hdf5([src], tmp_path / "cells.h5", metadata=meta)
    assert summary["proteins"] == 2
    with CellStore.open(tmp_path / "cells.h5") as store:
        assert store.cells["protein"].tolist() == ["YAL001C"] * 3 + ["YBR002W"] * 3
        assert (store.cells["plate"] == "p1").all()
        np.testing.assert_array_equal(store.cells["x"], np.arange(6.0))
        store.require_proteins()


def test_import_deeploc_hdf5_metadata_index_column(tmp_path):
    a, b = tmp_path / "a.hdf5", tmp_path / "b.hdf5"
    _deeploc_file(a, n=3)
    _deeploc_file(b, n=2, chunks=2)  # b holds 4 cells: data1 (2), data2 (2)
    meta = tmp_path / "meta.csv"
    pd.DataFrame({"file": ["b.hdf5", "a.hdf5"], "index": [3, 0], "protein": ["PB3", "PA0"]}).to_csv(meta, index=False)
    import_deeploc_hdf5([a, b], tmp_path / "per_file.h5", metadata=meta)
    with CellStore.open(tmp_path / "per_file.h5") as store:
        assert store.cells["protein"].tolist() == ["PA0", "unknown", "unknown", "unknown", "unknown", "unknown", "PB3"]
    pd.DataFrame({"index": [4], "protein": ["P4"]}).to_csv(meta, index=False)
    import_deeploc_hdf5([a, b], tmp_path / "global.h5", metadata=meta)
    with CellStore.open(tmp_path / "global.h5") as store:
        assert store.cells["protein"].tolist()[4] == "P4"


def test_import_deeploc_hdf5_drop_invalid_reports_count(tmp_path):
    src = tmp_path / "a.hdf5"
    data, labels = _deeploc_file(src, n=6)
    with h5py.File(src, "a") as h5:
        h5["data1"][2, 10] = np.nan
        h5["data1"][4, 8000] = np.inf
    result = _run(src, tmp_path / "cells.h5", "--format", "deeploc-hdf5", "--drop-invalid", "--chunk-cells", "4")
    assert result.exit_code == 0, result.output
    assert "dropped invalid_pixels 2" in result.output
    with CellStore.open(tmp_path / "cells.h5") as store:
        assert len(store) == 4
        np.testing.assert_array_equal(store.cells["label"], labels[[0, 1, 3, 5]])
        np.testing.assert_array_equal(store.images()[:, 0, 0, 0], data[[0, 1, 3, 5], 0])


def test_import_deeploc_hdf5_interrupted_leaves_no_output(tmp_path, monkeypatch):
    src = tmp_path / "a.hdf5"
    _deeploc_file(src, n=6)
    calls = []

    def append(self, images, cells=None):
        calls.append(len(images))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(self, images, cells)

    original = CellStore.append
    monkeypatch.setattr(CellStore, "append", append)
    with pytest.raises(KeyboardInterrupt):
        import_cells([src], tmp_path / "cells.h5", format="deeploc-hdf5", chunk_cells=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.hdf5"]


# ---------------------------------------------------------------- bad input: exit 2, one line, no output
def _bad(tmp_path, name="bad.hdf5", **kwargs):
    src = tmp_path / name
    _deeploc_file(src, **kwargs)
    return src


def test_import_deeploc_hdf5_raises_on_missing_file(tmp_path, assert_one_line_error):
    out = tmp_path / "cells.h5"
    assert_one_line_error(_run(tmp_path / "nope.hdf5", out, "--format", "deeploc-hdf5"), "nope.hdf5", "no such file")
    assert not out.exists()


def test_import_deeploc_hdf5_raises_on_not_hdf5(tmp_path, assert_one_line_error):
    src = tmp_path / "notes.hdf5"
    src.write_text("not hdf5")
    out = tmp_path / "cells.h5"
    assert_one_line_error(_run(src, out, "--format", "deeploc-hdf5"), "notes.hdf5", "not an HDF5 file")
    assert not out.exists()


def test_import_deeploc_hdf5_raises_on_truncated_file(tmp_path, assert_one_line_error):
    src = _bad(tmp_path, n=20)
    data = src.read_bytes()
    src.write_bytes(data[: len(data) // 2])
    out = tmp_path / "cells.h5"
    assert_one_line_error(_run(src, out, "--format", "deeploc-hdf5"), "bad.hdf5", "truncated or corrupt")
    assert not out.exists()


def test_import_deeploc_hdf5_raises_on_wrong_width(tmp_path, assert_one_line_error):
    src = _bad(tmp_path, channels=3)
    out = tmp_path / "cells.h5"
    assert_one_line_error(_run(src, out, "--format", "deeploc-hdf5"), "bad.hdf5", "8192 columns", "12288")
    assert not out.exists()


def test_import_deeploc_hdf5_raises_on_width_not_matching_channels(tmp_path, assert_one_line_error):
    src = _bad(tmp_path)
    out = tmp_path / "cells.h5"
    result = _run(src, out, "--format", "deeploc-hdf5", "--channels", "GFP,RFP,DIC")
    assert_one_line_error(result, "bad.hdf5", "12288 columns for channels GFP, RFP, DIC")
    assert not out.exists()


def test_import_deeploc_hdf5_raises_on_not_one_hot(tmp_path, assert_one_line_error):
    src = _bad(tmp_path)
    with h5py.File(src, "a") as h5:
        h5["Index1"][3, :] = 0
    out = tmp_path / "cells.h5"
    assert_one_line_error(_run(src, out, "--format", "deeploc-hdf5"), "bad.hdf5", "Index1 row 3 is not one-hot")
    assert not out.exists()


def test_import_deeploc_hdf5_raises_on_class_count_mismatch(tmp_path, assert_one_line_error):
    src = _bad(tmp_path, n_classes=11)
    out = tmp_path / "cells.h5"
    assert_one_line_error(_run(src, out, "--format", "deeploc-hdf5"), "bad.hdf5", "11 columns but 19 class names")
    assert not out.exists()


def test_import_deeploc_hdf5_raises_on_nan_pixels(tmp_path, assert_one_line_error):
    src = _bad(tmp_path, n=6)
    with h5py.File(src, "a") as h5:
        h5["data1"][2, 10] = np.nan
        h5["data1"][5, 10] = -np.inf
    out = tmp_path / "cells.h5"
    result = _run(src, out, "--format", "deeploc-hdf5")
    assert_one_line_error(result, "bad.hdf5", "2 cells hold NaN or inf", "data1 row 2", "--drop-invalid")
    assert not out.exists()


def test_import_deeploc_hdf5_raises_on_metadata_row_count(tmp_path, assert_one_line_error):
    src = _bad(tmp_path, n=6)
    meta = tmp_path / "meta.csv"
    pd.DataFrame({"protein": ["A"] * 5}).to_csv(meta, index=False)
    out = tmp_path / "cells.h5"
    result = _run(src, out, "--format", "deeploc-hdf5", "--metadata", meta)
    assert_one_line_error(result, "meta.csv", "5 rows but the HDF5 files hold 6 cells")
    assert not out.exists()


def test_import_deeploc_hdf5_raises_on_metadata_without_protein(tmp_path):
    src = _bad(tmp_path, n=2)
    meta = tmp_path / "meta.csv"
    pd.DataFrame({"orf": ["A", "B"]}).to_csv(meta, index=False)
    with pytest.raises(InputError, match="meta.csv: metadata CSV needs a 'protein' column"):
        import_deeploc_hdf5([src], tmp_path / "cells.h5", metadata=meta)


def test_import_deeploc_hdf5_raises_on_split_word_missing(tmp_path, assert_one_line_error):
    src = _bad(tmp_path, name="cells_a.hdf5")
    out = tmp_path / "cells.h5"
    result = _run(src, out, "--format", "deeploc-hdf5", "--split-from-filename")
    assert_one_line_error(result, "cells_a.hdf5", "train, valid (val) or test")
    assert not out.exists()


def test_import_deeploc_hdf5_raises_on_existing_output(tmp_path, assert_one_line_error):
    src = _bad(tmp_path)
    out = tmp_path / "cells.h5"
    out.write_text("precious")
    assert_one_line_error(_run(src, out, "--format", "deeploc-hdf5"), "cells.h5", "already exists", "--overwrite")
    assert out.read_text() == "precious"
    assert _run(src, out, "--format", "deeploc-hdf5", "--overwrite").exit_code == 0
    with CellStore.open(out) as store:
        assert len(store) == 7


def test_import_cells_raises_on_option_of_other_format(tmp_path, assert_one_line_error):
    src = _bad(tmp_path)
    out = tmp_path / "cells.h5"
    assert_one_line_error(_run(src, out, "--format", "deeploc-hdf5", "--pad"), "'pad' does not apply")
    assert not out.exists()


INFO_COLUMNS = ["cells_AreaShape_Area", "cells_AreaShape_Eccentricity", "cells_Intensity_MeanIntensity_GFP",
                "cells_Intensity_StdIntensity_GFP", "cells_Location_Center_X"]


def _add_info(path, *, chunks=1, n=7, columns_as="dataset", seed=1):
    """Info<k> (per-cell CellProfiler features) and Info1_columns, as deepdish writes them (a bytes dataset)."""
    rng = np.random.default_rng(seed)
    info = []
    with h5py.File(path, "a") as h5:
        for k in range(1, chunks + 1):
            values = rng.normal(size=(n, len(INFO_COLUMNS)))
            values[0, 1] = np.nan  # CellProfiler leaves some features undefined
            h5[f"Info{k}"] = values
            info.append(values)
        names = np.array([c.encode() for c in INFO_COLUMNS])
        if columns_as == "dataset":
            h5["Info1_columns"] = names
        else:
            h5.attrs["Info1_columns"] = ",".join(INFO_COLUMNS).encode()
    return np.concatenate(info)


@pytest.mark.parametrize("columns_as", ["dataset", "attribute"])
def test_import_deeploc_hdf5_keeps_info_features(tmp_path, columns_as):
    src = tmp_path / "Chong_test_set.hdf5"
    _deeploc_file(src, n=6, chunks=2)
    info = _add_info(src, chunks=2, n=6, columns_as=columns_as)
    with h5py.File(src, "a") as h5:
        h5["data2"][1, 5] = np.nan  # row 6 + 1 of the whole file is dropped with its features
    summary = import_deeploc_hdf5([src], tmp_path / "cells.h5", drop_invalid=True, chunk_cells=4)
    assert summary["cell_features"] == 5
    kept = [i for i in range(12) if i != 7]
    with CellStore.open(tmp_path / "cells.h5") as store:
        assert store.cell_feature_columns == INFO_COLUMNS
        np.testing.assert_array_equal(store.cell_features(), info[kept].astype(np.float32))
        np.testing.assert_array_equal(store.cell_features([3, 0]), info[[3, 0]].astype(np.float32))


def test_import_deeploc_hdf5_without_info_has_no_feature_table(tmp_path):
    src = tmp_path / "a.hdf5"
    _deeploc_file(src, n=3)
    assert import_deeploc_hdf5([src], tmp_path / "cells.h5")["cell_features"] == 0
    with CellStore.open(tmp_path / "cells.h5") as store:
        assert store.cell_feature_columns == []
        with pytest.raises(InputError, match="no per-cell feature table"):
            store.cell_features()


def test_import_deeploc_hdf5_raises_on_info_row_count(tmp_path, assert_one_line_error):
    src = tmp_path / "a.hdf5"
    _deeploc_file(src, n=5)
    with h5py.File(src, "a") as h5:
        h5["Info1"] = np.zeros((4, 3))
    assert_one_line_error(_run(src, tmp_path / "cells.h5", "--format", "deeploc-hdf5"), "a.hdf5", "Info1", "5 rows")
    assert not (tmp_path / "cells.h5").exists()


def test_import_deeploc_hdf5_raises_on_info_for_some_chunks(tmp_path, assert_one_line_error):
    src = tmp_path / "a.hdf5"
    _deeploc_file(src, n=5, chunks=2)
    _add_info(src, chunks=1, n=5)
    assert_one_line_error(_run(src, tmp_path / "cells.h5", "--format", "deeploc-hdf5"), "a.hdf5", "data2")


def test_import_deeploc_hdf5_raises_on_info_column_count(tmp_path, assert_one_line_error):
    src = tmp_path / "a.hdf5"
    _deeploc_file(src, n=5)
    _add_info(src, n=5)
    with h5py.File(src, "a") as h5:
        del h5["Info1_columns"]
        h5["Info1_columns"] = np.array([b"a", b"b"])
    assert_one_line_error(_run(src, tmp_path / "cells.h5", "--format", "deeploc-hdf5"), "a.hdf5",
                          "names 2 features but Info1 has 5")


def test_import_deeploc_hdf5_raises_on_attribute_class_count_and_class_names_fix_it(tmp_path, assert_one_line_error):
    src = tmp_path / "attrs.hdf5"
    _deeploc_file(src, n=4, n_classes=3, attrs={"Index1_columns": b"ER,Bud"})
    out = tmp_path / "cells.h5"
    result = _run(src, out, "--format", "deeploc-hdf5")
    assert_one_line_error(result, "attrs.hdf5", "3 columns but 2 class names come from the file's Index1_columns "
                                               "attribute", "pass --class-names")
    assert not out.exists()
    result = _run(src, out, "--format", "deeploc-hdf5", "--class-names", "a,b")
    assert_one_line_error(result, "2 class names come from --class-names", "give --class-names with one name per")
    assert not out.exists()
    result = _run(src, out, "--format", "deeploc-hdf5", "--class-names", "a,b,c")  # the advice works
    assert result.exit_code == 0, result.output
    with CellStore.open(out) as store:
        assert store.class_names == ["a", "b", "c"]


def test_import_deeploc_hdf5_raises_on_duplicate_class_names(tmp_path, assert_one_line_error):
    src = tmp_path / "dup.hdf5"
    _deeploc_file(src, n=4, n_classes=3)
    out = tmp_path / "cells.h5"
    result = _run(src, out, "--format", "deeploc-hdf5", "--class-names", "ER,ER,Bud")
    assert_one_line_error(result, "class_names must be unique", "['ER'] appear more than once")
    assert not out.exists() and list(tmp_path.glob(".cells.h5*")) == []
