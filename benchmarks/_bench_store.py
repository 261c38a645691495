"""Shared helpers of the benchmarks: a random uint16 store, a store of simulated cells, a protein-ordered store."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from deeploc_keras.data.store import CellStore

__all__ = ["random_store", "simulated_store", "protein_ordered_store"]


def random_store(path: Path, n_cells: int, *, chunk_cells: int = 512, n_classes: int = 4, seed: int = 0,
                 compression: str | None = None) -> Path:
    """Write ``n_cells`` random crops with labels and 50 proteins, chunk by chunk."""
    rng = np.random.default_rng(seed)
    with CellStore.create(path, class_names=[f"C{k}" for k in range(n_classes)], chunk_cells=chunk_cells,
                          compression=compression, seed=seed, overwrite=True) as store:
        for start in range(0, n_cells, chunk_cells):
            n = min(chunk_cells, n_cells - start)
            labels = rng.integers(0, n_classes, n)
            store.append(rng.integers(0, 4000, (n, 64, 64, 2), dtype=np.uint16),
                         {"label": labels, "protein": [f"P{k % 50}" for k in range(start, start + n)]})
    return path


def simulated_store(path: Path, n_cells: int, *, chunk_cells: int = 512, compression: str | None = None,
                    seed: int = 0) -> Path:
    """Write ``n_cells`` cells of a small simulated screen (2,400 cells, tiled), with 50 proteins.

    Simulated crops compress as microscopy does (random pixels do not: HDF5 stores such chunks
    unfiltered), so compressed stores of them show what decompression costs.
    """
    from deeploc_keras.data.synthetic.screen import simulate_screen

    with tempfile.TemporaryDirectory() as tmp:
        screen = simulate_screen(Path(tmp) / "screen", proteins=100, cells_per_protein=24, seed=seed)
        with CellStore.open(screen.store) as cells:
            images = cells.images(slice(0, len(cells)))
    with CellStore.create(path, class_names=["C0"], chunk_cells=chunk_cells, compression=compression, seed=seed,
                          overwrite=True) as store:
        for start in range(0, n_cells, chunk_cells):
            rows = np.arange(start, min(start + chunk_cells, n_cells))
            store.append(images[rows % len(images)], {"label": [0] * len(rows),
                                                      "protein": [f"P{k % 50}" for k in rows]})
    return path


def protein_ordered_store(path: Path, *, n_proteins: int = 40, cells_per_protein: int = 2500,
                          chunk_cells: int = 512, image_shape: tuple[int, int, int] = (4, 4, 1)) -> Path:
    """Cells appended protein by protein (as the TIFF-folder importer writes them); label = protein number.

    The pixels are zeros: the store serves to measure how batches mix, so the
    images are kept tiny.
    """
    names = [f"P{k:03d}" for k in range(n_proteins)]
    with CellStore.create(path, image_shape=image_shape, channel_names=[f"c{k}" for k in range(image_shape[2])],
                          class_names=names, chunk_cells=chunk_cells, seed=0, overwrite=True) as store:
        for k, name in enumerate(names):
            store.append(np.zeros((cells_per_protein, *image_shape), np.uint16),
                         {"protein": [name] * cells_per_protein, "label": [k] * cells_per_protein})
    return path
