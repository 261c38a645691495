"""Training-input throughput against a raw sequential h5py read, and how well batches mix proteins.

Mixing: a store of ``--proteins`` x ``--cells-per-protein`` cells appended protein
by protein (tiny images; only the row order matters), read by
``training_dataset`` with its defaults; each batch's labels (one per protein) give
the distinct proteins per batch and the labels modulo ``--classes`` the distinct
classes, against the same counts for a full random permutation of the cells.

Throughput: every rate is measured in the same run with a warm page cache (one
untimed pass each first; the best of ``--repeats`` timed passes). The raw figure
reads the store chunk by chunk with h5py into fresh arrays (the issue's reference; its rate
includes the page faults of every new array and varies with the allocator's state, e.g. it
drops after TensorFlow has run); a second raw figure reads into one reused buffer, the copy
from the page cache alone, and the pipeline is also given as a share of it; the pipeline is
consumed in a ``tf.function`` traced once (as ``fit`` consumes it), with its
default reader and with two, in a Python loop, and as one stream of ``--epochs``
epochs (``repeat=True``, the way ``fit`` with ``steps_per_epoch`` reads it): an
epoch costs tens of milliseconds to start (a new iterator, the epoch's order, the
first window), which dominates a pass over a few thousand cells. Compressed stores
(``--compression``) of simulated cells (random pixels do not compress; HDF5 stores
such chunks unfiltered) are written with ``--compressed-chunks`` cells per chunk and
each compared with the raw read of the same store and its size on disk. ``--pairs`` adds the PCI pair
sampler (random-access reads of source and target cells) on the uncompressed and
the compressed stores (``--pair-batches`` batches per pass), beside a PCI train step at ``--pci-width`` on in-memory
batches: the sampler keeps PCI training fed while its rate exceeds the step's.

Usage: python benchmarks/bench_pipeline.py [--cells 16384] [--batch-size 128] [--repeats 3]
       [--compression lzf gzip] [--compressed-chunks 32 512] [--pairs]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import tensorflow as tf
from _bench_store import protein_ordered_store, random_store, simulated_store

from deeploc_keras.data.pipeline import training_dataset
from deeploc_keras.data.store import CellStore


def _best_rate(fn, repeats: int) -> float:
    """Cells/s of the fastest of ``repeats`` timed calls after one untimed call (warm caches)."""
    fn()
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        n = fn()
        best = max(best, n / (time.perf_counter() - start))
    return best


@tf.function
def _count_traced_once(dataset: tf.data.Dataset) -> tf.Tensor:
    """Consume a dataset in a ``tf.function`` traced once per dataset; the number of cells."""
    n = tf.constant(0, tf.int64)
    for batch in dataset:
        n += tf.cast(tf.shape(tf.nest.flatten(batch)[0])[0], tf.int64)
    return n


def _raw(path: Path) -> int:
    total = 0
    with h5py.File(path, "r") as h5:
        dset = h5["images"]
        for start in range(0, len(dset), dset.chunks[0]):
            total += len(dset[start:start + dset.chunks[0]])
    return total


def _raw_reused(path: Path) -> int:
    """Chunk by chunk into one buffer allocated once: the copy from the page cache alone, no page faults."""
    total = 0
    with h5py.File(path, "r") as h5:
        dset = h5["images"]
        step = dset.chunks[0]
        buffer = np.empty((step, *dset.shape[1:]), dset.dtype)
        for start in range(0, len(dset), step):
            n = min(step, len(dset) - start)
            dset.read_direct(buffer, np.s_[start:start + n], np.s_[:n])
            total += n
    return total


def _mixing(tmp: Path, args: argparse.Namespace) -> None:
    path = protein_ordered_store(tmp / "ordered.h5", n_proteins=args.proteins, cells_per_protein=args.cells_per_protein)
    with CellStore.open(path) as store:
        data = training_dataset(store, split="all", batch_size=args.batch_size, seed=0)
        labels = [y.numpy() for _, y in data.dataset]
    full = np.random.default_rng(0).permutation(np.concatenate(labels))
    full = [full[i:i + args.batch_size] for i in range(0, len(full), args.batch_size)]

    def medians(batches: list[np.ndarray]) -> tuple[float, float]:
        whole = [b for b in batches if len(b) == args.batch_size]
        return (float(np.median([len(np.unique(b)) for b in whole])),
                float(np.median([len(np.unique(b % args.classes)) for b in whole])))

    (p_pipe, c_pipe), (p_full, c_full) = medians(labels), medians(full)
    print(f"mixing: {args.proteins} proteins x {args.cells_per_protein} cells written protein by protein, "
          f"batch {args.batch_size}, median distinct per batch")
    print(f"  proteins: pipeline {p_pipe:5.1f}, full permutation {p_full:5.1f}, ratio {p_pipe / p_full:.2f} "
          f"(target >= 0.9)")
    print(f"  classes ({args.classes}): pipeline {c_pipe:5.1f}, full permutation {c_full:5.1f}, "
          f"ratio {c_pipe / c_full:.2f}")


def _pipeline_rates(path: Path, args: argparse.Namespace, *, variants: bool) -> dict[str, float]:
    rates = {"raw": _best_rate(lambda: _raw(path), args.repeats)}
    with CellStore.open(path) as store:
        data = training_dataset(store, split="all", batch_size=args.batch_size, seed=0)
        rates["pipeline"] = _best_rate(lambda: int(_count_traced_once(data.dataset)), args.repeats)
        if variants:
            two = training_dataset(store, split="all", batch_size=args.batch_size, seed=0, readers=2)
            rates["two readers"] = _best_rate(lambda: int(_count_traced_once(two.dataset)), args.repeats)
            rates["Python loop"] = _best_rate(lambda: sum(int(x.shape[0]) for x, _ in data.dataset), args.repeats)
            stream = training_dataset(store, split="all", batch_size=args.batch_size, seed=0, repeat=True)
            epochs = stream.dataset.take(stream.steps_per_epoch * args.epochs)
            rates["stream"] = _best_rate(lambda: int(_count_traced_once(epochs)), args.repeats)
    rates["raw"] = max(rates["raw"], _best_rate(lambda: _raw(path), args.repeats))  # same cache state as the others
    if variants:
        rates["raw reused"] = _best_rate(lambda: _raw_reused(path), args.repeats)
    return rates


def _pair_rate(path: Path, args: argparse.Namespace) -> float:
    from deeploc_keras.data.pairs import pair_dataset

    pairs = pair_dataset(path, split="all", batch_size=args.pci_batch, seed=0)
    batches = pairs.dataset.take(args.pair_batches)
    return _best_rate(lambda: int(_count_traced_once(batches)), args.repeats)


def _pci_step_rate(args: argparse.Namespace) -> float:
    """Cells/s of a PCI train step (MSE, Adam, XLA as ``train`` compiles it) on in-memory batches."""
    import keras

    from deeploc_keras.models.pci import build_pci

    model = build_pci(args.pci_width, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-4, beta_1=0.5), loss="mse", jit_compile=True)
    rng = np.random.default_rng(0)
    b = args.pci_batch
    x = (rng.random((b, 64, 64, 2), np.float32), rng.random((b, 64, 64, 1), np.float32))
    y = rng.random((b, 64, 64, 1), np.float32)
    model.train_on_batch(x, y)
    start = time.perf_counter()
    for _ in range(args.steps):
        model.train_on_batch(x, y)
    return b * args.steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, default=16384, help="cells of the throughput stores")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=8, help="epochs of the one-stream pass (repeat=True)")
    parser.add_argument("--proteins", type=int, default=40)
    parser.add_argument("--cells-per-protein", type=int, default=2500)
    parser.add_argument("--classes", type=int, default=17, help="classes of the mixing store (protein mod classes)")
    parser.add_argument("--compression", nargs="*", default=[], choices=["lzf", "gzip"])
    parser.add_argument("--compressed-chunks", type=int, nargs="+", default=[32])
    parser.add_argument("--pairs", action="store_true", help="measure the PCI pair sampler too")
    parser.add_argument("--pci-batch", type=int, default=64)
    parser.add_argument("--pci-width", type=float, default=0.25)
    parser.add_argument("--pair-batches", type=int, default=32, help="pair batches per timed pass")
    parser.add_argument("--steps", type=int, default=5, help="timed PCI train steps")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        _mixing(tmp, args)
        print(f"throughput: {args.cells} cells of 64x64x2 uint16, batch {args.batch_size}, best of {args.repeats}")
        stores = {"uncompressed, chunk 512": random_store(tmp / "plain.h5", args.cells)}
        rates = _pipeline_rates(stores["uncompressed, chunk 512"], args, variants=True)
        print(f"  raw sequential h5py read      : {rates['raw']:10.0f} cells/s")
        print(f"  store pipeline (tf.function)  : {rates['pipeline']:10.0f} cells/s  ratio "
              f"{rates['pipeline'] / rates['raw']:.2f} (target >= 0.7)")
        print(f"  store pipeline, two readers   : {rates['two readers']:10.0f} cells/s  ratio "
              f"{rates['two readers'] / rates['raw']:.2f}")
        print(f"  store pipeline (Python loop)  : {rates['Python loop']:10.0f} cells/s  ratio "
              f"{rates['Python loop'] / rates['raw']:.2f}")
        print(f"  {f'{args.epochs} epochs in one stream':<30}: {rates['stream']:10.0f} cells/s  ratio "
              f"{rates['stream'] / rates['raw']:.2f} (an epoch's start-up spread over {args.cells} cells; "
              f"a screen's epoch has millions)")
        print(f"  raw read, one reused buffer   : {rates['raw reused']:10.0f} cells/s  (pipeline / this: "
              f"{rates['pipeline'] / rates['raw reused']:.2f})")
        for compression in args.compression:
            for chunk in args.compressed_chunks:
                name = f"{compression}, chunk {chunk}"
                stores[name] = simulated_store(tmp / f"{compression}{chunk}.h5", args.cells, chunk_cells=chunk,
                                               compression=compression)
                r = _pipeline_rates(stores[name], args, variants=False)
                with h5py.File(stores[name], "r") as h5:
                    ratio = h5["images"].nbytes / stores[name].stat().st_size
                print(f"  {name:<14}: raw {r['raw']:9.0f} cells/s, pipeline {r['pipeline']:9.0f} cells/s, "
                      f"ratio {r['pipeline'] / r['raw']:.2f}; {ratio:.2f}x smaller on disk")
        if args.pairs:
            step = _pci_step_rate(args)
            print(f"PCI, batch {args.pci_batch}: train step width {args.pci_width} on in-memory batches "
                  f"{step:8.0f} cells/s")
            for name, path in stores.items():
                rate = _pair_rate(path, args)
                print(f"  pair sampler, {name:<24}: {rate:8.0f} cells/s  ({rate / step:.1f}x the step)")


if __name__ == "__main__":
    main()
