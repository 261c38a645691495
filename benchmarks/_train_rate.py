"""One measurement of bench_cpu_train.py, run in a subprocess with the code tree under test on ``PYTHONPATH``.

Usage: python _train_rate.py {deeploc,pci,matmul,conv} STORE STEPS REPEATS [THREADS]

``THREADS`` > 0 sets TensorFlow's intra-op threads to it and its inter-op threads to 1 (0: TensorFlow's
defaults). The environment variable ``BENCH_XLA=0`` compiles the train step without XLA (default 1, XLA as
``train``).

Prints one JSON line: cells (or FLOP) per wall second and per CPU second of the process, the best of
``REPEATS`` timed passes of ``STEPS`` steps after two untimed (compiling) steps. Only interfaces that the
compared versions share are used (``build_deeploc``, ``build_pci``, ``training_dataset``,
``pair_dataset``, ``forward_flops``).
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

#: The ``cpu`` reproduce preset's models: (builder arguments, batch size).
DEEPLOC = {"preset": "study", "width": 0.125, "batch": 128}
PCI = {"width": 0.0625, "batch": 64}
#: The conv layers of the cpu DeepLoc, (size, channels in, channels out), and the matmul side.
CONV_SHAPES = ((64, 2, 8), (64, 8, 8), (32, 8, 16), (32, 16, 16), (16, 16, 32), (16, 32, 32))
MATMUL = 1024
#: Whether the train step is compiled with XLA (``BENCH_XLA``; ``train``'s default is XLA).
JIT = os.environ.get("BENCH_XLA", "1") == "1"


def _timed(run, repeats: int) -> tuple[float, float]:
    """Best (wall seconds, CPU seconds) of ``repeats`` calls."""
    best_wall, best_cpu = np.inf, np.inf
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return best_wall, best_cpu


def _model(kind: str, store):
    from deeploc_keras.models.flops import forward_flops

    if kind == "pci":
        from deeploc_keras.data.pairs import pair_dataset
        from deeploc_keras.models.pci import build_pci

        model = build_pci(PCI["width"], seed=0)
        model.compile(optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5), loss="mse", jit_compile=JIT)
        data = pair_dataset(store, split="train", batch_size=PCI["batch"], seed=0).dataset.repeat()
        return model, data, PCI["batch"], forward_flops(model)
    from deeploc_keras.data.pipeline import training_dataset
    from deeploc_keras.models.deeploc import build_deeploc

    model = build_deeploc(len(store.class_names), DEEPLOC["preset"], DEEPLOC["width"],
                          image_shape=tuple(store.image_shape), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")], jit_compile=JIT)
    data = training_dataset(store, split="train", batch_size=DEEPLOC["batch"], seed=0, repeat=True).dataset
    return model, data, DEEPLOC["batch"], forward_flops(model)


def train_rate(kind: str, path: str, steps: int, repeats: int) -> dict:
    """Training cells/s of the cpu preset's model fed by the store pipeline (``fit``, XLA as ``train``)."""
    from deeploc_keras.data.store import CellStore

    keras.utils.set_random_seed(0)
    with CellStore.open(path) as store:
        model, data, batch, flops = _model(kind, store)
        model.fit(data, steps_per_epoch=2, epochs=1, verbose=0)
        wall, cpu = _timed(lambda: model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0), repeats)
    cells = steps * batch
    return {"kind": kind, "cells_per_s": cells / wall, "cells_per_cpu_s": cells / cpu,
            "gflop_per_s": cells * 3 * flops / wall / 1e9, "forward_flops": flops}


def matmul_rate(steps: int, repeats: int) -> dict:
    """GFLOP/s of a float32 matmul of two MATMUL x MATMUL matrices."""
    a = tf.random.normal((MATMUL, MATMUL))
    product = tf.function(lambda a: tf.matmul(a, a), jit_compile=True)
    product(a).numpy()

    def run():
        for _ in range(steps):
            out = product(a)
        out.numpy()

    wall, cpu = _timed(run, repeats)
    flops = 2 * MATMUL ** 3 * steps
    return {"kind": "matmul", "gflop_per_s": flops / wall / 1e9, "gflop_per_cpu_s": flops / cpu / 1e9}


def conv_step(batch: int, size: int, c_in: int, c_out: int, *, jit_compile: bool = True) -> tuple:
    """One 3x3 SAME convolution's forward pass and both gradients as a compiled step, and its input."""
    x = tf.random.normal((batch, size, size, c_in))
    w = tf.Variable(tf.random.normal((3, 3, c_in, c_out)))

    @tf.function(jit_compile=jit_compile)
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(tf.nn.conv2d(x, w, 1, "SAME") ** 2)
        return tape.gradient(loss, [x, w])

    return step, x


def conv_rate(steps: int, repeats: int) -> dict:
    """GFLOP/s of the cpu DeepLoc's convolutions alone (forward and both gradients), at its batch of 128."""
    batch = DEEPLOC["batch"]
    layers = []
    for size, c_in, c_out in CONV_SHAPES:
        step, x = conv_step(batch, size, c_in, c_out)
        step(x)
        layers.append((step, x, 3 * 2 * 9 * c_in * c_out * size * size * batch))

    def run():
        for _ in range(steps):
            for step, x, _ in layers:
                out = step(x)
        out[0].numpy()

    wall, cpu = _timed(run, repeats)
    flops = steps * sum(f for _, _, f in layers)
    return {"kind": "conv", "gflop_per_s": flops / wall / 1e9, "gflop_per_cpu_s": flops / cpu / 1e9}


def main(argv: list[str]) -> None:
    kind, path, steps, repeats = argv[0], argv[1], int(argv[2]), int(argv[3])
    threads = int(argv[4]) if len(argv) > 4 else 0
    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    if kind == "matmul":
        result = matmul_rate(steps, repeats)
    elif kind == "conv":
        result = conv_rate(steps, repeats)
    else:
        result = train_rate(kind, path, steps, repeats)
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
