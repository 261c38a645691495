"""Training and embedding throughput of DeepLoc and PCI on the visible accelerator, with memory and MFU.

For each model (``study`` and ``kraus2017`` DeepLoc, Paired Cell Inpainting), each
batch size and each device count, one row of one table:

- ``train_store``: training cells/s fed by the store pipeline (DeepLoc:
  ``deeploc_keras.data.pipeline.training_dataset``; PCI: ``deeploc_keras.data.pairs.pair_dataset``)
  over a temporary random store;
- ``train_memory``: the same compiled step on the first ``--steps`` batches of that
  pipeline, already held in device memory; ``ratio`` = store / memory is what the
  pipeline costs (1.0 = free);
- ``embed``: cells/s of ``predict`` of the embedding model (DeepLoc ``fc_2``, PCI
  ``conv4_1`` features) on raw crops in host memory, as extract runs it;
- ``peak_MiB``: peak device memory of the row (GPU: the allocator's peak, reset per
  row, the largest over the devices; CPU: the process's peak RSS so far);
- ``fwd_GFLOP``: forward FLOPs per cell counted from the layer shapes
  (``deeploc_keras.models.flops``); ``MFU`` = ``train_store`` x 3 x forward FLOPs /
  (devices x peak FLOP/s); the peak comes from ``--peak-tflops`` or, on a GPU whose name
  is in ``PEAK_TFLOPS``, its dense tensor-core peak for the policy; otherwise "n/a".

The dtype policy is ``mixed_float16`` on a GPU and ``float32`` on the CPU unless
``--policy`` says otherwise; steps are XLA-compiled (``jit_compile=True``) unless
``--no-xla``, on one device only (under MirroredStrategy Keras' per-replica seed state
of the augmentation cannot be placed for one XLA cluster; the ``xla`` column says which
ran). ``--devices N`` adds rows for 1..N devices under ``tf.distribute.MirroredStrategy``
(GPUs, or N logical CPU devices when there is no GPU), with ``batch`` per device (global
batch = batch x devices) and ``speedup`` = train_store over the 1-device row. Every
timing is the best of ``--repeats`` passes of ``--steps`` steps, memory and store
passes alternating, after one untimed compiling step each.

Usage: python benchmarks/bench_gpu.py [--models study kraus2017 pci] [--batch-sizes 128 256 512]
       [--steps 20] [--repeats 2] [--cells 8192] [--width 1.0] [--policy auto] [--no-xla] [--devices 1]
       [--peak-tflops T] [--csv PATH [--overwrite]]
CPU smoke size: --width 0.0625 --batch-sizes 8 16 --steps 2 --cells 64 --no-xla
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import platform
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from _bench_store import random_store  # noqa: E402

MODELS = ("study", "kraus2017", "pci")
POLICIES = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
#: Dense peak TFLOP/s per GPU (mixed 16-bit tensor cores, TF32 for float32), matched in this order in the GPU name.
PEAK_TFLOPS = {
    "H200": {"mixed": 989.0, "float32": 494.7},
    "H100 PCIe": {"mixed": 756.0, "float32": 378.0},
    "H100 NVL": {"mixed": 835.0, "float32": 417.5},
    "H100": {"mixed": 989.0, "float32": 494.7},
    "A100": {"mixed": 312.0, "float32": 156.0},
}
COLUMNS = ("model", "devices", "batch", "xla", "train_store", "train_memory", "ratio", "embed", "peak_MiB",
           "fwd_GFLOP", "MFU_%", "speedup")
N_CLASSES = 19


@dataclass
class Row:
    model: str
    devices: int
    batch: int
    xla: bool
    train_store: float
    train_memory: float
    embed: float
    peak_mib: float
    fwd_flops: int
    mfu: float | None
    speedup: float = 1.0

    def cells(self) -> dict[str, str]:
        return {"model": self.model, "devices": str(self.devices), "batch": str(self.batch),
                "xla": "on" if self.xla else "off", "train_store": f"{self.train_store:.1f}",
                "train_memory": f"{self.train_memory:.1f}", "ratio": f"{self.train_store / self.train_memory:.2f}",
                "embed": f"{self.embed:.1f}", "peak_MiB": f"{self.peak_mib:.0f}",
                "fwd_GFLOP": f"{self.fwd_flops / 1e9:.4g}",
                "MFU_%": "n/a" if self.mfu is None else f"{100 * self.mfu:.2f}", "speedup": f"{self.speedup:.2f}"}


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[128, 256, 512], help="per device")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per pass")
    parser.add_argument("--repeats", type=int, default=2, help="timed passes (best kept)")
    parser.add_argument("--cells", type=int, default=8192, help="cells of the random store (rounded up to whole "
                                                               "global batches)")
    parser.add_argument("--width", type=float, default=1.0, help="width multiplier (1.0 = full size)")
    parser.add_argument("--policy", choices=POLICIES, default="auto",
                        help="Keras dtype policy; auto = mixed_float16 on a GPU, float32 on the CPU")
    parser.add_argument("--no-xla", dest="xla", action="store_false", help="steps without jit_compile")
    parser.add_argument("--devices", type=int, default=1, help="rows for 1..N devices (MirroredStrategy)")
    parser.add_argument("--peak-tflops", type=float, default=None, help="peak TFLOP/s per device for the MFU")
    parser.add_argument("--csv", type=Path, default=None, help="also write the table as CSV")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --csv file")
    args = parser.parse_args(argv)
    for name in ("steps", "repeats", "cells", "devices"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1; Received: {getattr(args, name)}")
    if min(args.batch_sizes) < 1:
        parser.error(f"--batch-sizes must be >= 1; Received: {args.batch_sizes}")
    if not args.width > 0:
        parser.error(f"--width must be > 0; Received: {args.width}")
    if args.peak_tflops is not None and not args.peak_tflops > 0:
        parser.error(f"--peak-tflops must be > 0; Received: {args.peak_tflops}")
    if args.csv is not None and args.csv.exists() and not args.overwrite:
        parser.error(f"{args.csv}: exists; pass --overwrite to replace it")
    return args


def _devices(n: int) -> tuple[list[str], str]:
    """Names of the devices to use (GPUs, else n logical CPUs) and a description of the hardware."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        if n > len(gpus):
            raise SystemExit(f"bench_gpu.py: error: --devices {n} but {len(gpus)} GPU(s) are visible")
        names = [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus[:n]]
        return [d.name for d in tf.config.list_logical_devices("GPU")[:n]], ", ".join(names)
    cpu = tf.config.list_physical_devices("CPU")[0]
    if n > 1:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)
    devices = [d.name for d in tf.config.list_logical_devices("CPU")[:n]]
    return devices, f"CPU ({os.cpu_count()} cores, {platform.processor() or platform.machine()}), " \
                    f"{len(devices)} logical device(s)"


def _peak_tflops(args: argparse.Namespace, hardware: str, policy: str) -> float | None:
    if args.peak_tflops is not None:
        return args.peak_tflops
    if not tf.config.list_physical_devices("GPU"):
        return None
    for key, peaks in PEAK_TFLOPS.items():
        if key in hardware:
            return peaks["float32" if policy == "float32" else "mixed"]
    return None


def _build(model: str, width: float) -> tuple[keras.Model, keras.Model, object]:
    """(training model, embedding model, loss) built under the current strategy and policy."""
    if model == "pci":
        from deeploc_keras.models.pci import build_pci, pci_feature_model

        net = build_pci(width, seed=0)
        return net, pci_feature_model(net, "conv4_1"), "mse"
    from deeploc_keras.models.deeploc import build_deeploc, embedding_model

    net = build_deeploc(N_CLASSES, model, width, image_shape=(64, 64, 2), seed=0)
    return net, embedding_model(net, "fc_2"), keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _dataset(model: str, store, batch: int) -> tf.data.Dataset:
    """The store pipeline of the model, repeated, with global batches of ``batch``."""
    if model == "pci":
        from deeploc_keras.data.pairs import pair_dataset

        return pair_dataset(store, split="train", batch_size=batch, seed=0).dataset.repeat()
    from deeploc_keras.data.pipeline import training_dataset

    return training_dataset(store, split="all", batch_size=batch, seed=0, repeat=True).dataset


def _sync(strategy: tf.distribute.Strategy, logs: dict) -> float:
    """Wait for a step's results; its loss (mean over replicas)."""
    losses = [float(v) for v in strategy.experimental_local_results(logs["loss"])]
    return float(np.mean(losses))


def _reset_memory(devices: list[str]) -> None:
    for name in devices:
        if "GPU" in name.upper():
            tf.config.experimental.reset_memory_stats(f"GPU:{tf.DeviceSpec.from_string(name).device_index}")


def _peak_memory_mib(devices: list[str]) -> float:
    gpus = [f"GPU:{tf.DeviceSpec.from_string(n).device_index}" for n in devices if "GPU" in n.upper()]
    if gpus:
        return max(tf.config.experimental.get_memory_info(g)["peak"] for g in gpus) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _rates(step, strategy, dist, steps: int, repeats: int, global_batch: int) -> tuple[float, float]:
    """(store cells/s, device-memory cells/s) of the compiled ``step``, best of ``repeats`` alternating passes."""
    source = iter(dist)
    memory = [next(source) for _ in range(steps)]
    if not isinstance(strategy, tf.distribute.MirroredStrategy):  # mirrored batches already sit on their replicas
        with tf.device(strategy.extended.worker_devices[0]):
            memory = [tf.nest.map_structure(tf.identity, batch) for batch in memory]
    del source
    store = iter(dist)
    for name, logs in (("memory", step(memory[0])), ("store", step(next(store)))):  # compile, warm caches
        if not math.isfinite(_sync(strategy, logs)):
            raise SystemExit(f"bench_gpu.py: non-finite loss in the {name} warm-up step")
    best = {"memory": 0.0, "store": 0.0}
    for _ in range(repeats):
        for name in best:
            start = time.perf_counter()
            for k in range(steps):
                logs = step(memory[k] if name == "memory" else next(store))
            _sync(strategy, logs)
            best[name] = max(best[name], steps * global_batch / (time.perf_counter() - start))
    return best["store"], best["memory"]


def _embed_rate(embed: keras.Model, crops: np.ndarray, batch: int, repeats: int) -> float:
    embed.predict(crops[:batch], batch_size=batch, verbose=0)
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        out = embed.predict(crops, batch_size=batch, verbose=0)
        best = max(best, len(out) / (time.perf_counter() - start))
    return best


def _strategy(devices: list[str]) -> tf.distribute.Strategy:
    """One strategy per device set for the whole run (a second MirroredStrategy over the same devices reuses
    its collective keys)."""
    if len(devices) == 1:
        return tf.distribute.OneDeviceStrategy(devices[0])
    return tf.distribute.MirroredStrategy(devices)


def _model_rows(model: str, args: argparse.Namespace, store, strategy: tf.distribute.Strategy,
                devices: list[str], peak: float | None) -> list[Row]:
    """The rows of one model under ``strategy`` over ``devices``, one per batch size."""
    from deeploc_keras.models.flops import TRAINING_FLOPS_FACTOR, forward_flops

    n = len(devices)
    xla = args.xla and n == 1
    with strategy.scope():
        net, embed, loss = _build(model, args.width)
        optimizer = keras.optimizers.Adam(1e-4, beta_1=0.5) if model == "pci" else keras.optimizers.Adam(3e-4)
        net.compile(optimizer=optimizer, loss=loss, jit_compile=xla)
        net.optimizer.build(net.trainable_variables)
        embed.compile(jit_compile=xla)
    spec = strategy.experimental_distribute_dataset(_dataset(model, store, args.batch_sizes[0] * n)).element_spec

    @tf.function(jit_compile=xla, input_signature=[spec])
    @tf.autograph.experimental.do_not_convert
    def step(data):
        return strategy.run(net.train_step, args=(data,))

    flops = forward_flops(net)
    rows = []
    for batch in args.batch_sizes:
        start = time.perf_counter()
        global_batch = batch * n
        _reset_memory(devices)
        dist = strategy.experimental_distribute_dataset(_dataset(model, store, global_batch))
        train_store, train_memory = _rates(step, strategy, dist, args.steps, args.repeats, global_batch)
        n_embed = min(len(store), args.steps * global_batch)  # whole global batches: the store holds a multiple
        crops = store.images(slice(0, n_embed))
        embed_rate = _embed_rate(embed, crops, global_batch, args.repeats)
        mfu = None if peak is None else train_store * TRAINING_FLOPS_FACTOR * flops / (n * peak * 1e12)
        rows.append(Row(model if model == "pci" else f"deeploc-{model}", n, batch, xla, train_store, train_memory,
                        embed_rate, _peak_memory_mib(devices), flops, mfu))
        print(f"bench_gpu: {rows[-1].model}, {n} device(s), batch {batch}: {time.perf_counter() - start:.0f} s",
              file=sys.stderr, flush=True)
    return rows


def _table(rows: list[Row]) -> str:
    cells = [dict(zip(COLUMNS, COLUMNS, strict=True))] + [row.cells() for row in rows]
    widths = {c: max(len(r[c]) for r in cells) for c in COLUMNS}
    lines = ["  ".join(r[c].rjust(widths[c]) if k else r[c].ljust(widths[c]) for k, c in enumerate(COLUMNS))
             for r in cells]
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])


def _write_csv(rows: list[Row], path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(row.cells() for row in rows)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> list[Row]:
    args = _parse(argv)
    devices, hardware = _devices(args.devices)
    policy = args.policy
    if policy == "auto":
        policy = "mixed_float16" if tf.config.list_physical_devices("GPU") else "float32"
    keras.mixed_precision.set_global_policy(policy)
    peak = _peak_tflops(args, hardware, policy)
    from deeploc_keras.data.store import CellStore

    unit = math.lcm(*(b * n for b in args.batch_sizes for n in range(1, args.devices + 1)))
    n_cells = math.ceil(args.cells / unit) * unit  # whole global batches: no short batch, no recompilation
    rows: list[Row] = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = random_store(Path(tmp) / "bench.h5", n_cells, n_classes=N_CLASSES)
        with CellStore.open(path) as store:
            strategies = [_strategy(devices[:n]) for n in range(1, args.devices + 1)]
            for model in args.models:
                one = {}
                for n, strategy in enumerate(strategies, start=1):
                    for row in _model_rows(model, args, store, strategy, devices[:n], peak):
                        one.setdefault(row.batch, row.train_store)
                        row.speedup = row.train_store / one[row.batch]
                        rows.append(row)
    memory = "GPU allocator peak per row" if "GPU" in devices[0].upper() else "process peak RSS so far"
    print(f"bench_gpu: {hardware}; TensorFlow {tf.__version__}, Keras {keras.__version__}")
    print(f"policy {policy}, XLA {'on (1 device)' if args.xla else 'off'}, width {args.width}, store {n_cells} cells "
          f"uint16 64x64x2, {args.steps} steps x best of {args.repeats}, batch per device, rates in cells/s")
    print(f"peak_MiB: {memory}; MFU from train_store, 3 x fwd FLOPs, peak "
          f"{'n/a' if peak is None else f'{peak:g} TFLOP/s per device'}; {time.perf_counter() - start:.0f} s")
    print(_table(rows))
    if args.csv is not None:
        _write_csv(rows, args.csv)
        print(f"wrote {args.csv}")
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
