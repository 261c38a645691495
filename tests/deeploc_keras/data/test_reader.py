"""RowReader (handed out by CellStore.reader): rows in any order, with repeats, equal h5py's own reads, direct or
through HDF5 filters."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from deeploc_keras.core.errors import InputError
from deeploc_keras.data.store import CellStore


def _store(path, n=75, compression=None, chunk_cells=16, dtype=np.uint16):
    images = np.random.default_rng(0).integers(0, 4000, (n, 64, 64, 2)).astype(dtype)
    with CellStore.create(path, chunk_cells=chunk_cells, compression=compression, dtype=dtype) as store:
        for start in range(0, n, 20):
            store.append(images[start:start + 20])
    return path


@pytest.mark.parametrize(("compression", "direct"), [(None, True), ("lzf", False), ("gzip", False)])
def test_read_into_equals_h5py_reads(tmp_path, compression, direct):
    path = _store(tmp_path / f"{compression}.h5", compression=compression)
    rows = np.r_[np.arange(10, 40), [3, 3, 74, 0, 15, 16, 17, 60], np.random.default_rng(1).integers(0, 75, 40)]
    out = np.zeros((5 + len(rows), 64, 64, 2), np.uint16)
    with CellStore.open(path) as store:
        reader = store.reader()
        assert reader.direct is direct
        assert store.reader() is reader  # one reader per open store
        reader.read_into(out, rows, start=5)
    with h5py.File(path, "r") as h5:
        expected = np.stack([h5["images"][int(r)] for r in rows])
    assert np.array_equal(out[5:], expected)
    assert not out[:5].any()


@pytest.mark.parametrize("index", [slice(None), slice(70, 10, -3), 7, -1, np.int64(3), [9, 2, 2, 40]])
def test_store_images_read_through_the_reader_index_like_numpy(tmp_path, index):
    path = _store(tmp_path / "s.h5")
    with CellStore.open(path) as store:
        got = store.images(index)
    with h5py.File(path, "r") as h5:
        expected = h5["images"][:][index]
    assert got.shape == expected.shape and np.array_equal(got, expected)


def test_read_into_raises_on_a_truncated_file(tmp_path):
    path = tmp_path / "t.h5"
    with CellStore.create(path, chunk_cells=8) as store:
        store.append(np.ones((32, 64, 64, 2), np.uint16))
    with CellStore.open(path) as store:
        reader = store.reader()
        with open(path, "r+b") as f:
            f.truncate(path.stat().st_size // 2)
        with pytest.raises(InputError, match="truncated"):
            reader.read_into(np.empty((32, 64, 64, 2), np.uint16), np.arange(32))


def test_read_into_raises_on_non_finite_float_crops(tmp_path):
    path = _store(tmp_path / "f.h5", n=20, dtype=np.float32)
    with h5py.File(path, "r+") as h5:
        h5["images"][4, 0, 0, 0] = np.nan
    with CellStore.open(path) as store, pytest.raises(InputError, match=r"NaN or inf pixels \(rows \[4\]\)"):
        store.reader().read_into(np.empty((3, 64, 64, 2), np.float32), np.array([1, 4, 6]))


def test_read_into_raises_once_the_store_is_closed(tmp_path):
    with CellStore.open(_store(tmp_path / "c.h5", n=20)) as store:
        reader = store.reader()
    with pytest.raises(RuntimeError, match="the store was closed"):
        reader.read_into(np.empty((1, 64, 64, 2), np.uint16), np.array([0]))


def test_read_into_raises_on_rows_outside_the_store(tmp_path):
    with CellStore.open(_store(tmp_path / "o.h5", n=20)) as store, pytest.raises(IndexError, match="outside"):
        store.reader().read_into(np.empty((2, 64, 64, 2), np.uint16), np.array([3, 20]))
