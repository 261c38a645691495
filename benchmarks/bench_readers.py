"""Training pipeline cells/s with 1 and 2 readers (``train --readers``) on uncompressed and lzf stores, side by side.

For each store (simulated cells, which compress as microscopy does: uncompressed, and
lzf with ``--chunk-cells 32`` and 512) the training pipeline (``training_dataset``, batch
128, one pass over the store) runs with ``readers=1`` and ``readers=2`` alternately
``--pairs`` times; every pair is printed with its ratio, then the median.

Usage: python benchmarks/bench_readers.py [--cells 8192] [--pairs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import tensorflow as tf  # noqa: E402
from _bench_store import simulated_store  # noqa: E402

from deeploc_keras.data.pipeline import training_dataset  # noqa: E402
from deeploc_keras.data.store import CellStore  # noqa: E402

STORES = ((None, 512), ("lzf", 32), ("lzf", 512))


@tf.function
def _count(dataset: tf.data.Dataset) -> tf.Tensor:
    n = tf.constant(0, tf.int64)
    for x, _ in dataset:
        n += tf.cast(tf.shape(x)[0], tf.int64)
    return n


def _rate(store: CellStore, readers: int) -> float:
    """Cells/s of one pass of the training pipeline, after one untimed pass."""
    data = training_dataset(store, split="all", batch_size=128, seed=0, readers=readers).dataset
    _count(data)
    start = time.perf_counter()
    n = int(_count(data))
    return n / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, default=8192)
    parser.add_argument("--pairs", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"{args.cells} simulated cells, batch 128, one pass; cells/s; {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        for compression, chunk in STORES:
            path = simulated_store(Path(tmp) / f"{compression}{chunk}.h5", args.cells, chunk_cells=chunk,
                                   compression=compression)
            ratios = []
            with CellStore.open(path) as store:
                for pair in range(1, args.pairs + 1):
                    one, two = _rate(store, 1), _rate(store, 2)
                    ratios.append(two / one)
                    print(f"{compression or 'uncompressed'}, chunk {chunk}, pair {pair}: 1 reader {one:9.0f}, "
                          f"2 readers {two:9.0f}, ratio {ratios[-1]:.2f}", flush=True)
            print(f"{compression or 'uncompressed'}, chunk {chunk}: median ratio 2 / 1 readers "
                  f"{statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
