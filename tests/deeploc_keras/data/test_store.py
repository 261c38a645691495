"""The cell store: round trip, random access, validation on open, seeded splits, atomic writes."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from deeploc_keras.core.errors import InputError, OutputExistsError
from deeploc_keras.data.store import CHONG_CLASS_NAMES, SCHEMA_VERSION, CellStore, assign_splits

CLASSES = ["A", "B", "C"]


def _write(path, n=30, *, seed=0, chunk_cells=8, dtype="uint16", proteins=None, split=None):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 65535, size=(n, 64, 64, 2)).astype(dtype)
    proteins = np.array(proteins if proteins is not None else [f"P{i % 3}" for i in range(n)], dtype=object)
    cells = {"protein": proteins, "label": np.arange(n) % 3, "plate": ["pl1"] * n, "x": np.arange(n) + 0.5}
    if split is not None:
        cells["split"] = split
    with CellStore.create(path, class_names=CLASSES, chunk_cells=chunk_cells, dtype=dtype, seed=seed,
                          source="test") as store:
        for start in range(0, n, 7):  # appends that straddle chunk borders
            store.append(images[start:start + 7], {k: np.asarray(v)[start:start + 7] for k, v in cells.items()})
    return images, cells


def test_create_append_open_round_trip(tmp_path):
    path = tmp_path / "cells.h5"
    images, cells = _write(path)
    with CellStore.open(path) as store:
        assert len(store) == 30
        assert store.image_shape == (64, 64, 2)
        assert store.dtype == np.uint16
        assert store.chunk_cells == 8
        assert store.class_names == CLASSES
        assert store.channel_names == ["GFP", "RFP"]
        assert store.source == "test"
        np.testing.assert_array_equal(store.images(), images)
        table = store.cells
        assert list(table.columns) == ["protein", "label", "split", "plate", "well", "field", "x", "y"]
        assert table["protein"].tolist() == list(cells["protein"])
        np.testing.assert_array_equal(table["label"], np.arange(30) % 3)
        assert (table["plate"] == "pl1").all() and (table["well"] == "").all()
        np.testing.assert_allclose(table["x"], np.arange(30) + 0.5)
        assert table["y"].isna().all()
        assert set(table["split"]) <= {0, 1, 2}


def test_create_float32_keeps_values(tmp_path):
    images = np.random.default_rng(0).random((5, 64, 64, 2)).astype(np.float32)
    path2 = tmp_path / "f.h5"
    with pytest.raises(InputError, match="integer pixel values"):
        with CellStore.create(path2) as store:
            store.append(images)
    assert not path2.exists()
    with CellStore.create(path2, dtype="float32") as store:
        store.append(images)
    with CellStore.open(path2) as store:
        np.testing.assert_array_equal(store.images(), images)


def test_images_random_access(tmp_path):
    path = tmp_path / "cells.h5"
    images, _ = _write(path)
    with CellStore.open(path) as store:
        np.testing.assert_array_equal(store.images(slice(5, 19)), images[5:19])
        np.testing.assert_array_equal(store.images(3), images[3])
        index = np.array([29, 0, 7, 7, 16])
        np.testing.assert_array_equal(store.images(index), images[index])
        np.testing.assert_array_equal(store.images([2, 1]), images[[2, 1]])
        assert store.images(np.array([], dtype=int)).shape == (0, 64, 64, 2)


def test_summary_counts(tmp_path):
    path = tmp_path / "cells.h5"
    images, _ = _write(path)
    with CellStore.open(path) as store:
        summary = store.summary()
    assert summary["cells"] == 30 and summary["proteins"] == 3
    assert summary["protein_counts"] == {"P0": 10, "P1": 10, "P2": 10}
    assert summary["classes"] == {"A": 10, "B": 10, "C": 10}
    assert sum(summary["splits"].values()) == 30
    assert summary["plates"] == 1
    assert summary["channel_ranges"]["GFP"]["max"] == float(images[..., 0].max())
    assert summary["channel_ranges"]["RFP"]["min"] == float(images[..., 1].min())
    assert summary["channel_ranges"]["GFP"]["mean"] == pytest.approx(images[..., 0].mean())


def test_create_raises_when_output_exists(tmp_path):
    path = tmp_path / "cells.h5"
    path.write_text("keep me")
    with pytest.raises(OutputExistsError, match="cells.h5"):
        CellStore.create(path)
    assert path.read_text() == "keep me"
    with CellStore.create(path, overwrite=True) as store:
        store.append(np.zeros((2, 64, 64, 2), np.uint16))
    with CellStore.open(path) as store:
        assert len(store) == 2


def test_append_raises_on_bad_cells(tmp_path):
    with CellStore.create(tmp_path / "cells.h5", class_names=CLASSES) as store:
        with pytest.raises(InputError, match="shape"):
            store.append(np.zeros((2, 60, 60, 2), np.uint16))
        with pytest.raises(InputError, match="labels"):
            store.append(np.zeros((2, 64, 64, 2), np.uint16), {"label": [0, 3]})
        with pytest.raises(InputError, match="split"):
            store.append(np.zeros((2, 64, 64, 2), np.uint16), {"split": [0, 5]})
        with pytest.raises(InputError, match="unknown cell columns"):
            store.append(np.zeros((2, 64, 64, 2), np.uint16), {"colour": [0, 5]})
        with pytest.raises(InputError, match="length 2"):
            store.append(np.zeros((2, 64, 64, 2), np.uint16), {"protein": ["a"]})
        store.append(np.zeros((1, 64, 64, 2), np.uint16))
    with CellStore.open(tmp_path / "cells.h5") as store:
        assert len(store) == 1


def test_interrupted_write_leaves_no_output(tmp_path):
    path = tmp_path / "cells.h5"
    with pytest.raises(KeyboardInterrupt):
        with CellStore.create(path) as store:
            store.append(np.zeros((4, 64, 64, 2), np.uint16))
            assert not path.exists()
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- validation on open
def test_open_raises_on_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"^.*nothere\.h5: no such file"):
        CellStore.open(tmp_path / "nothere.h5")


def test_open_raises_on_not_hdf5(tmp_path):
    path = tmp_path / "cells.h5"
    path.write_text("protein,label\n")
    with pytest.raises(InputError, match="cells.h5: not an HDF5 file"):
        CellStore.open(path)


def test_open_raises_on_truncated_hdf5(tmp_path):
    path = tmp_path / "cells.h5"
    _write(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="cells.h5: .*(truncated|corrupt)"):
        with CellStore.open(path) as store:
            store.images()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda h5: h5.attrs.__setitem__("schema_version", SCHEMA_VERSION + 1), "schema_version 2 is not supported"),
        (lambda h5: h5.attrs.__delitem__("schema_version"), "not a cell store"),
        (lambda h5: h5["cells"]["x"].resize((29,)), "/cells/x has 29 rows, expected 30"),
        (lambda h5: h5["cells"]["label"].__setitem__(0, 3), "labels outside"),
        (lambda h5: h5["cells"]["label"].__setitem__(0, -2), "labels outside"),
        (lambda h5: h5["cells"]["split"].__setitem__(4, 3), "split values"),
        (lambda h5: h5.attrs.__setitem__("channel_names", json.dumps(["GFP"])), "do not match 2 channels"),
        (lambda h5: h5["cells"].__delitem__("protein"), "missing column /cells/protein"),
    ],
    ids=["schema", "no-schema", "length", "label-high", "label-low", "split", "channels", "missing-column"],
)
def test_open_raises_on_invalid_store(tmp_path, edit, message):
    path = tmp_path / "cells.h5"
    _write(path)
    with h5py.File(path, "a") as h5:
        edit(h5)
    with pytest.raises(InputError, match=f"cells.h5: .*{message}"):
        CellStore.open(path)


def test_require_proteins_and_labels_raise(tmp_path):
    path = tmp_path / "cells.h5"
    with CellStore.create(path, class_names=CHONG_CLASS_NAMES) as store:
        store.append(np.zeros((4, 64, 64, 2), np.uint16), {"label": [1, 1, 1, 1]})
    with CellStore.open(path) as store:
        with pytest.raises(InputError, match="protein ids are 'unknown'"):
            store.require_proteins()
        with pytest.raises(InputError, match="cover 1 class"):
            store.require_labels()


# ---------------------------------------------------------------- splits
def test_split_is_80_10_10_per_protein_and_seeded(tmp_path):
    proteins = ["A"] * 50 + ["B"] * 30 + ["C"] * 20
    split0 = assign_splits(proteins, seed=0)
    for name, n in (("A", 50), ("B", 30), ("C", 20)):
        mask = np.asarray(proteins) == name
        assert [int((split0[mask] == k).sum()) for k in (0, 1, 2)] == [round(n * 0.8), round(n * 0.1), round(n * 0.1)]
    np.testing.assert_array_equal(assign_splits(proteins, seed=0), split0)
    assert not np.array_equal(assign_splits(proteins, seed=1), split0)


def test_split_stored_on_close_is_reproducible(tmp_path):
    proteins = [f"P{i % 3}" for i in range(30)]
    _write(tmp_path / "a.h5", seed=5, proteins=proteins)
    _write(tmp_path / "b.h5", seed=5, proteins=proteins, chunk_cells=16)
    _write(tmp_path / "c.h5", seed=6, proteins=proteins)
    splits = {}
    for name in "abc":
        with CellStore.open(tmp_path / f"{name}.h5") as store:
            splits[name] = store.cells["split"].to_numpy()
    np.testing.assert_array_equal(splits["a"], splits["b"])
    assert not np.array_equal(splits["a"], splits["c"])
    np.testing.assert_array_equal(splits["a"], assign_splits(proteins, seed=5))


def test_given_split_is_kept(tmp_path):
    split = np.array([2] * 10 + [1] * 10 + [0] * 10, dtype=np.int8)
    _write(tmp_path / "cells.h5", split=split)
    with CellStore.open(tmp_path / "cells.h5") as store:
        np.testing.assert_array_equal(store.cells["split"], split)


def test_assign_splits_raises_on_bad_fractions():
    with pytest.raises(InputError, match="fractions"):
        assign_splits(["A"], fractions=(0.5, 0.5, 0.5))
