"""Classes are learnable but not trivial: logistic regression on intensity statistics vs a small Keras CNN.

Usage: python benchmarks/learnability.py [--proteins 170] [--cells-per-protein 30] [--epochs 4]
Prints the test accuracy of both (cells of the store's test split; DEAD/GHOST excluded).
"""

from __future__ import annotations

import argparse
import tempfile
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
    parser.add_argument("--proteins", type=int, default=170)
    parser.add_argument("--cells-per-protein", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    import keras
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from deeploc_keras.store import CellStore
    from deeploc_keras.synthetic import simulate_screen

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
    x = images.astype(np.float32)
    x = (x - x.mean((1, 2), keepdims=True)) / (x.std((1, 2), keepdims=True) + 1e-6)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((64, 64, 2)),
        keras.layers.Conv2D(32, 3, activation="relu", padding="same"), keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(64, 3, activation="relu", padding="same"), keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(64, 3, activation="relu", padding="same"), keras.layers.MaxPooling2D(),
        keras.layers.Flatten(), keras.layers.Dense(128, activation="relu"), keras.layers.Dense(n_classes),
    ])
    model.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(x[train], y[train], batch_size=64, epochs=args.epochs, verbose=0)
    acc_cnn = float(model.evaluate(x[test], y[test], verbose=0)[1])
    print(f"{int(train.sum())} train / {int(test.sum())} test cells, {n_classes} classes, chance "
          f"{np.bincount(y[test]).max() / test.sum():.3f}")
    print(f"logistic regression on intensity statistics: {acc_lr:.3f}")
    print(f"small CNN, {args.epochs} epochs: {acc_cnn:.3f}")


if __name__ == "__main__":
    main()
