"""RowReader: rows in any order, with repeats, equal h5py's own reads, direct or through HDF5 filters."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from deeploc_keras.core.errors import InputError
from deeploc_keras.data.reader import RowReader
from deeploc_keras.data.store import CellStore


@pytest.mark.parametrize(("compression", "direct"), [(None, True), ("lzf", False), ("gzip", False)])
def test_read_into_equals_h5py_reads(tmp_path, compression, direct):
    path = tmp_path / f"{compression}.h5"
    images = np.random.default_rng(0).integers(0, 4000, (75, 64, 64, 2), dtype=np.uint16)
    with CellStore.create(path, chunk_cells=16, compression=compression) as store:
        for start in range(0, 75, 20):
            store.append(images[start:start + 20])
    rows = np.r_[np.arange(10, 40), [3, 3, 74, 0, 15, 16, 17, 60], np.random.default_rng(1).integers(0, 75, 40)]
    out = np.zeros((5 + len(rows), 64, 64, 2), np.uint16)
    with RowReader(path) as reader:
        assert reader.direct is direct
        reader.read_into(out, rows, start=5)
    with h5py.File(path, "r") as h5:
        expected = np.stack([h5["images"][int(r)] for r in rows])
    assert np.array_equal(out[5:], expected)
    assert not out[:5].any()


def test_read_into_raises_on_a_truncated_file(tmp_path):
    path = tmp_path / "t.h5"
    with CellStore.create(path, chunk_cells=8) as store:
        store.append(np.ones((32, 64, 64, 2), np.uint16))
    reader = RowReader(path)
    try:
        with open(path, "r+b") as f:
            f.truncate(path.stat().st_size // 2)
        with pytest.raises(InputError, match="truncated"):
            reader.read_into(np.empty((32, 64, 64, 2), np.uint16), np.arange(32))
    finally:
        reader.close()
