"""``fit`` throughput from the store pipeline vs the same batches held in memory, and full-size step speed on CPU.

Both fits train the same freshly built CPU-width DeepLoc (``--width``, default
0.25) on the same cells in the same run: one untimed epoch each first (tracing, page
cache), then ``--epochs`` timed one-epoch fits each, alternating; the best is kept. The in-memory fit gets the exact
batches the pipeline produced as numpy arrays (``fit(x, y, shuffle=False)``).
Then one training step of the full-size model (width 1.0) and of the CPU width
are compiled and timed with ``train_on_batch``.

Usage: python benchmarks/bench_train.py [--cells 512] [--batch-size 64] [--epochs 2] [--width 0.25]
       [--step-batch 32] [--steps 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from _bench_store import random_store

from deeploc_keras.data.pipeline import training_dataset
from deeploc_keras.data.store import CellStore
from deeploc_keras.models.deeploc import build_deeploc

IMAGE_SHAPE = (64, 64, 2)


def _model(n_classes: int, width: float) -> keras.Model:
    model = build_deeploc(n_classes, preset="study", width=width, image_shape=IMAGE_SHAPE, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _fit_rates(fits: list, n_cells: int, epochs: int) -> list[float]:
    """Best cells/s of one-epoch fits, alternating between the fits, after one untimed epoch each."""
    for fit in fits:
        fit()
    best = [0.0] * len(fits)
    for _ in range(epochs):
        for k, fit in enumerate(fits):
            start = time.perf_counter()
            fit()
            best[k] = max(best[k], n_cells / (time.perf_counter() - start))
    return best


def _step_rate(width: float, n_classes: int, batch: int, steps: int) -> tuple[float, float]:
    """(seconds of the first, compiling step; cells/s of the next ``steps`` steps)."""
    model = _model(n_classes, width)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4000, (batch, *IMAGE_SHAPE), dtype=np.uint16)
    y = rng.integers(0, n_classes, batch).astype(np.int32)
    start = time.perf_counter()
    loss = model.train_on_batch(x, y)
    first = time.perf_counter() - start
    if not np.isfinite(loss):
        raise SystemExit(f"width {width}: non-finite loss {loss}")
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return first, batch * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs of each fit")
    parser.add_argument("--width", type=float, default=0.25, help="CPU width of the fit comparison")
    parser.add_argument("--step-batch", type=int, default=32, help="batch of the full-size step")
    parser.add_argument("--steps", type=int, default=3, help="timed steps after the compiling one")
    args = parser.parse_args()
    n_classes = 4
    with tempfile.TemporaryDirectory() as tmp:
        path = random_store(Path(tmp) / "bench.h5", args.cells, n_classes=n_classes)
        with CellStore.open(path) as store:
            data = training_dataset(store, split="all", batch_size=args.batch_size, seed=0)
            batches = [(x.numpy(), y.numpy()) for x, y in data.dataset]
            x_mem = np.concatenate([x for x, _ in batches])
            y_mem = np.concatenate([y for _, y in batches])
            keras.utils.set_random_seed(0)
            store_model = _model(n_classes, args.width)
            memory_model = _model(n_classes, args.width)
            memory_model.set_weights(store_model.get_weights())
            r_mem, r_store = _fit_rates(
                [lambda: memory_model.fit(x_mem, y_mem, batch_size=args.batch_size, shuffle=False, verbose=0),
                 lambda: store_model.fit(data.dataset, verbose=0)], data.n_cells, args.epochs)
    print(f"cells {args.cells}, batch {args.batch_size}, width {args.width}, best of {args.epochs} epochs, "
          f"{tf.config.threading.get_intra_op_parallelism_threads() or 'default'} intra-op threads")
    print(f"fit, in-memory batches : {r_mem:9.1f} cells/s")
    print(f"fit, store pipeline    : {r_store:9.1f} cells/s  ratio {r_store / r_mem:.2f} (target >= 0.9)")
    for width in (1.0, args.width):
        first, rate = _step_rate(width, n_classes, args.step_batch, args.steps)
        print(f"train step width {width:<4}: first (compiling) step {first:6.1f} s, then {rate:8.1f} cells/s "
              f"(batch {args.step_batch})")


if __name__ == "__main__":
    main()
