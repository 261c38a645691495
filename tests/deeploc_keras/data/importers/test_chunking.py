"""The import's chunking against training: a compressed store with chunks larger than a training slice is warned of."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import tifffile

from deeploc_keras.data.importers import import_cells
from deeploc_keras.data.store import CellStore

LOGGER = "deeploc_keras.data.importers._common"


def _folder(root):
    (root / "P1").mkdir()
    for cell in range(3):
        for channel in ("gfp", "rfp"):
            tifffile.imwrite(root / "P1" / f"P1_{cell}_rfp_0_{channel}.tif", np.full((64, 64), cell, np.uint16))
    return root


@pytest.mark.parametrize(("compression", "chunk_cells", "warned"), [("lzf", 512, True), ("gzip", 64, True),
                                                                    ("lzf", 32, False), (None, 512, False)])
def test_import_cells_warns_of_compressed_chunks_larger_than_a_slice(tmp_path, caplog, compression, chunk_cells,
                                                                     warned):
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        import_cells([_folder(tmp_path)], tmp_path / "cells.h5", format="tiff-folders", compression=compression,
                     chunk_cells=chunk_cells)
    assert ("feed training about 10x slower" in caplog.text) is warned
    assert ("--chunk-cells 32" in caplog.text) is warned
    with CellStore.open(tmp_path / "cells.h5") as store:
        assert store.compression == compression and len(store.cells) == 3
