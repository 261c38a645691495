"""A PNG grid of example cells per class (GFP in green, marker in magenta), for eyes and docs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ...core.outputs import atomic_path
from ..store import CellStore

__all__ = ["write_montage"]


def _to_rgb(image: np.ndarray) -> np.ndarray:
    out = np.empty((*image.shape[:2], 3), np.float32)
    for c in range(2):
        ch = image[..., c].astype(np.float32)
        lo, hi = np.percentile(ch, [1, 99.7])
        out[..., c] = np.clip((ch - lo) / max(hi - lo, 1e-6), 0, 1)
    gfp, rfp = out[..., 0].copy(), out[..., 1].copy()
    out[..., 0], out[..., 1], out[..., 2] = 0.8 * rfp, gfp, 0.8 * rfp
    return out


def write_montage(store: str | os.PathLike, png: str | os.PathLike, *, per_class: int = 6, seed: int = 0,
                  overwrite: bool = False) -> Path:
    """Write a grid with one row per class and ``per_class`` random cells of that class.

    Parameters
    ----------
    store : str or os.PathLike
        A cell store with labels.
    png : str or os.PathLike
        Output image.
    per_class : int, default 6
        Cells shown per class.
    seed : int, default 0
        Seed of the cell choice.
    overwrite : bool, default False

    Returns
    -------
    pathlib.Path
        ``png``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    with CellStore.open(store) as cells:
        labels = cells.cells["label"].to_numpy()
        names = cells.class_names
        present = [k for k in range(len(names)) if (labels == k).any()]
        fig, axes = plt.subplots(len(present), per_class, figsize=(per_class * 0.9, len(present) * 0.9),
                                 squeeze=False)
        for row, k in enumerate(present):
            idx = np.sort(rng.choice(np.flatnonzero(labels == k), min(per_class, int((labels == k).sum())),
                                     replace=False))
            images = cells.images(idx)
            for col in range(per_class):
                ax = axes[row, col]
                ax.set_xticks([])
                ax.set_yticks([])
                if col < len(images):
                    ax.imshow(_to_rgb(images[col]))
            axes[row, 0].set_ylabel(names[k], rotation=0, ha="right", va="center", fontsize=7)
        fig.subplots_adjust(wspace=0.03, hspace=0.03, left=0.22, right=0.99, top=0.99, bottom=0.01)
        with atomic_path(png, overwrite=overwrite) as tmp:
            fig.savefig(tmp, format="png", dpi=90)
        plt.close(fig)
    return Path(png)
