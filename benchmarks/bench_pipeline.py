"""Pipeline throughput vs a raw sequential h5py read of the same store, and a naive per-cell generator.

All three read the same store in the same run with a warm page cache (one untimed
pass each first; the best of ``--repeats`` timed passes is reported). The
pipeline is consumed inside TensorFlow, as ``fit`` consumes it: once through
``Dataset.reduce`` (which traces its function on every call, ~25 ms, plus the
generator start, a fixed cost per pass that dominates small ``--cells``) and once
through a ``tf.function`` traced once and reused (as ``fit`` reuses its train
function); the Python-loop figure adds the eager per-batch iterator cost.

Usage: python benchmarks/bench_pipeline.py [--cells 16384] [--batch-size 128] [--repeats 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import tensorflow as tf
from _bench_store import random_store

from deeploc_keras.pipeline import training_dataset
from deeploc_keras.store import CellStore


def _best_rate(fn, repeats: int) -> float:
    """Cells/s of the fastest of ``repeats`` timed calls after one untimed call (warm caches)."""
    fn()
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        n = fn()
        best = max(best, n / (time.perf_counter() - start))
    return best


def _count_in_graph(dataset: tf.data.Dataset) -> int:
    """Consume a dataset inside TensorFlow (as ``fit`` does); the number of cells."""
    return int(dataset.reduce(tf.constant(0, tf.int64),
                              lambda n, batch: n + tf.cast(tf.shape(tf.nest.flatten(batch)[0])[0], tf.int64)))


@tf.function
def _count_traced_once(dataset: tf.data.Dataset) -> tf.Tensor:
    """Consume a dataset in a ``tf.function`` traced once per dataset; the number of cells."""
    n = tf.constant(0, tf.int64)
    for batch in dataset:
        n += tf.cast(tf.shape(tf.nest.flatten(batch)[0])[0], tf.int64)
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cells", type=int, default=16384)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = random_store(Path(tmp) / "bench.h5", args.cells)

        def raw() -> int:
            total = 0
            with h5py.File(path, "r") as h5:
                dset = h5["images"]
                for start in range(0, len(dset), dset.chunks[0]):
                    total += len(dset[start:start + dset.chunks[0]])
            return total

        with CellStore.open(path) as store:
            data = training_dataset(store, split="all", batch_size=args.batch_size, seed=0, labels=True)

            def pipeline() -> int:
                return _count_in_graph(data.dataset)

            def pipeline_traced() -> int:
                return int(_count_traced_once(data.dataset))

            def pipeline_eager() -> int:
                return sum(int(x.shape[0]) for x, _ in data.dataset)

            def naive() -> int:
                with h5py.File(path, "r") as h5:
                    dset = h5["images"]
                    order = np.random.default_rng(0).permutation(len(dset))

                    def cells():
                        for i in order:
                            yield dset[int(i)]

                    spec = tf.TensorSpec(store.image_shape, tf.as_dtype(store.dtype))
                    ds = tf.data.Dataset.from_generator(cells, output_signature=spec)
                    return _count_in_graph(ds.batch(args.batch_size).prefetch(tf.data.AUTOTUNE))

            r_raw = _best_rate(raw, args.repeats)
            r_pipe = _best_rate(pipeline, args.repeats)
            r_traced = _best_rate(pipeline_traced, args.repeats)
            r_eager = _best_rate(pipeline_eager, args.repeats)
            r_naive = _best_rate(naive, 1)
            r_raw = max(r_raw, _best_rate(raw, args.repeats))  # raw again after the others: same cache state
    print(f"cells {args.cells}, batch {args.batch_size}, best of {args.repeats}")
    print(f"raw sequential h5py read        : {r_raw:10.0f} cells/s")
    print(f"store pipeline (in tf.function) : {r_pipe:10.0f} cells/s  ratio {r_pipe / r_raw:.2f} (target >= 0.7)")
    print(f"store pipeline (traced once)    : {r_traced:10.0f} cells/s  ratio {r_traced / r_raw:.2f}")
    print(f"store pipeline (Python loop)    : {r_eager:10.0f} cells/s  ratio {r_eager / r_raw:.2f}")
    print(f"naive per-cell generator        : {r_naive:10.0f} cells/s  ratio {r_naive / r_raw:.3f}")


if __name__ == "__main__":
    main()
