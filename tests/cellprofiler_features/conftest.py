"""Small cell stores built from the real PCI toy cells (float32 TIFFs in [0, 1])."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from deeploc_keras.data.store import CellStore

PROTEINS = ("AAC1", "AAC3", "AAH1", "AAP1", "AAR2")


def read_toy_cells(pci_toy_dir: Path, per_protein: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``per_protein`` cells of each toy protein as (n, 64, 64, 2) float32 (GFP, RFP)."""
    images, proteins = [], []
    for protein in PROTEINS:
        for gfp in sorted((pci_toy_dir / protein).glob("*_gfp.tif"))[:per_protein]:
            rfp = gfp.with_name(gfp.name.replace("_gfp.tif", "_rfp.tif"))
            images.append(np.stack([tifffile.imread(gfp), tifffile.imread(rfp)], axis=-1))
            proteins.append(protein)
    return np.asarray(images, dtype=np.float32), np.asarray(proteins)


def make_store(path: Path, images: np.ndarray, proteins: np.ndarray, *, chunk_cells: int = 16) -> Path:
    """A float32 store with every cell in the test split."""
    with CellStore.create(path, dtype="float32", chunk_cells=chunk_cells, source="pci toy") as store:
        store.append(images, {"protein": proteins, "split": np.full(len(images), 2)})
    return path


@pytest.fixture(scope="session")
def toy_tools():
    """The helpers ``read_toy_cells`` and ``make_store`` (test modules cannot import conftest)."""
    return read_toy_cells, make_store


@pytest.fixture(scope="session")
def toy_cells(pci_toy_dir) -> tuple[np.ndarray, np.ndarray]:
    """4 real cells of each of the 5 toy proteins (20 cells)."""
    return read_toy_cells(pci_toy_dir, 4)


@pytest.fixture(scope="session")
def toy_store(toy_cells, tmp_path_factory) -> Path:
    """The 20 toy cells as a float32 store."""
    return make_store(tmp_path_factory.mktemp("cp_store") / "toy.h5", *toy_cells)
