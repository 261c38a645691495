"""Pipeline throughput vs a raw sequential h5py read of the same store, and a naive per-cell generator.

Usage: python benchmarks/bench_pipeline.py [--cells 16384] [--batch-size 128]
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


def _rate(fn) -> float:
    start = time.perf_counter()
    n = fn()
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cells", type=int, default=16384)
    parser.add_argument("--batch-size", type=int, default=128)
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
                return sum(int(x.shape[0]) for x, _ in data.dataset)

            def naive() -> int:
                h5 = h5py.File(path, "r")
                dset = h5["images"]
                order = np.random.default_rng(0).permutation(len(dset))

                def cells():
                    for i in order:
                        yield dset[int(i)]

                ds = tf.data.Dataset.from_generator(cells, output_signature=tf.TensorSpec((64, 64, 2), tf.uint16))
                n = sum(int(x.shape[0]) for x in ds.batch(args.batch_size).prefetch(2))
                h5.close()
                return n

            raw()  # warm the page cache
            pipeline()  # warm up tf.data
            r_raw, r_pipe, r_naive = _rate(raw), _rate(pipeline), _rate(naive)
    print(f"cells {args.cells}, batch {args.batch_size}")
    print(f"raw sequential h5py read : {r_raw:12.0f} cells/s")
    print(f"store pipeline (shuffled): {r_pipe:12.0f} cells/s  ratio {r_pipe / r_raw:.2f} (target >= 0.7)")
    print(f"naive per-cell generator : {r_naive:12.0f} cells/s  ratio {r_naive / r_raw:.3f}")


if __name__ == "__main__":
    main()
