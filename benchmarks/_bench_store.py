"""Shared helper of the benchmarks: a random uint16 store of n cells (not a test fixture)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deeploc_keras.store import CellStore

__all__ = ["random_store"]


def random_store(path: Path, n_cells: int, *, chunk_cells: int = 512, n_classes: int = 4, seed: int = 0) -> Path:
    """Write ``n_cells`` random crops with labels and 50 proteins, chunk by chunk."""
    rng = np.random.default_rng(seed)
    with CellStore.create(path, class_names=[f"C{k}" for k in range(n_classes)], chunk_cells=chunk_cells,
                          seed=seed, overwrite=True) as store:
        for start in range(0, n_cells, chunk_cells):
            n = min(chunk_cells, n_cells - start)
            labels = rng.integers(0, n_classes, n)
            store.append(rng.integers(0, 4000, (n, 64, 64, 2), dtype=np.uint16),
                         {"label": labels, "protein": [f"P{k % 50}" for k in range(start, start + n)]})
    return path
