"""Classes are learnable but not trivial: logistic regression on intensity statistics vs a small Keras CNN.

Usage: python benchmarks/learnability.py [--proteins 120] [--cells-per-protein 20] [--epochs 10] [--width 0.125]
Simulates a screen (seed 0, no DEAD/GHOST cells), fits both on the store's train split and prints the cell-level
accuracy on its test split (unseen cells of the proteins seen in training: 80/10/10 of each protein's cells). The CNN is the package's DeepLoc network,
width-reduced (``build_deeploc(preset="study", width=...)`` on the raw uint16 crops), trained with Adam, batch 64.
Finishes in a few minutes on two busy CPU cores.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def _stats(images: np.ndarray) -> np.ndarray:
    x = images.astype(np.float32) - 100
    feats = []
    for c in range(2):
        ch = x[..., c].reshape(len(x), -1)
        q = np.percentile(ch, [5, 25, 50, 75, 95, 99], axis=1).T
        feats.append(np.c_[ch.mean(1), ch.std(1), q, q[:, -1] / (q[:, 2] + 1)])
    return np.log1p(np.abs(np.concatenate(feats, 1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--proteins", type=int, default=120)
    parser.add_argument("--cells-per-protein", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--width", type=float, default=0.125)
    args = parser.parse_args()
    import keras
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from deeploc_keras.data.store import CellStore
    from deeploc_keras.data.synthetic import simulate_screen
    from deeploc_keras.models.deeploc import build_deeploc

    with tempfile.TemporaryDirectory() as tmp:
        screen = simulate_screen(Path(tmp) / "s", proteins=args.proteins, cells_per_protein=args.cells_per_protein,
                                 dead_ghost_fraction=0, seed=0)
        with CellStore.open(screen.store) as store:
            images, cells, n_classes = store.images(), store.cells, len(store.class_names)
    y, split = cells["label"].to_numpy(), cells["split"].to_numpy()
    train, test = split == 0, split == 2
    logreg = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    logreg.fit(_stats(images[train]), y[train])
    acc_lr = float((logreg.predict(_stats(images[test])) == y[test]).mean())
    keras.utils.set_random_seed(0)
    model = build_deeploc(n_classes, preset="study", width=args.width, image_shape=images.shape[1:], seed=0)
    model.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    t0 = time.process_time()
    model.fit(images[train].astype(np.float32), y[train], batch_size=64, epochs=args.epochs, verbose=0)
    cpu = time.process_time() - t0
    acc_cnn = float(model.evaluate(images[test].astype(np.float32), y[test], verbose=0)[1])
    print(f"{int(train.sum())} train / {int(test.sum())} test cells, {n_classes} classes, chance "
          f"{np.bincount(y[test]).max() / test.sum():.3f}")
    print(f"logistic regression on intensity statistics: {acc_lr:.3f}")
    print(f"DeepLoc CNN width {args.width}, {model.count_params()} parameters, {args.epochs} epochs "
          f"({cpu:.0f} CPU-s training): {acc_cnn:.3f}")


if __name__ == "__main__":
    main()
