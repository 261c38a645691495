"""A PIFiA training step beside a DeepLoc one at the same width: seconds per step and their ratio.

Both models are built at ``--width`` as ``train`` builds them (DeepLoc: the ``study`` preset, 19 classes;
PIFiA: ``--proteins`` classes, the GFP channel of 64x64x2 crops), compiled with Adam and sparse softmax
cross-entropy (XLA unless ``--no-xla``), and trained on the same random uint16 batch. After one untimed
step each (tracing), ``--rounds`` rounds alternate ``--steps`` timed steps of each model; the best round
of each is kept, so both are measured under the same load. The forward FLOPs of one cell are printed too.
Multiply DeepLoc's measured epoch time by the ratio for PIFiA's at the same batch and cell count.

Usage: python benchmarks/bench_pifia.py [--width 0.125] [--batch-size 128] [--proteins 240] [--steps 5]
       [--rounds 3] [--no-xla]
"""

from __future__ import annotations

import argparse
import time

import keras
import numpy as np

from deeploc_keras.models.deeploc import build_deeploc
from deeploc_keras.models.flops import forward_flops
from deeploc_keras.models.pifia import build_pifia

IMAGE_SHAPE = (64, 64, 2)


def _compiled(model: keras.Model, jit_compile: bool) -> keras.Model:
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=jit_compile,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _seconds_per_step(models: list[keras.Model], batches: list, steps: int, rounds: int) -> list[float]:
    """Best seconds per step of each model over ``rounds`` alternating rounds (after one untimed step each)."""
    for model, (x, y) in zip(models, batches, strict=True):
        model.train_on_batch(x, y)
    best = [float("inf")] * len(models)
    for _ in range(rounds):
        for k, (model, (x, y)) in enumerate(zip(models, batches, strict=True)):
            start = time.perf_counter()
            for _ in range(steps):
                model.train_on_batch(x, y)
            best[k] = min(best[k], (time.perf_counter() - start) / steps)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=float, default=0.125)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--proteins", type=int, default=240, help="PIFiA's classes")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-xla", dest="jit_compile", action="store_false")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4000, (args.batch_size, *IMAGE_SHAPE), dtype=np.uint16)
    deeploc = _compiled(build_deeploc(19, "study", args.width, image_shape=IMAGE_SHAPE, seed=0), args.jit_compile)
    pifia = _compiled(build_pifia(args.proteins, args.width, image_shape=IMAGE_SHAPE, seed=0), args.jit_compile)
    batches = [(x, rng.integers(0, n, args.batch_size).astype(np.int32)) for n in (19, args.proteins)]
    seconds = _seconds_per_step([deeploc, pifia], batches, args.steps, args.rounds)
    flops = [forward_flops(build_deeploc(19, "study", args.width)), forward_flops(build_pifia(args.proteins, args.width))]
    print(f"width {args.width:g}, batch {args.batch_size}, XLA {'on' if args.jit_compile else 'off'}")
    for name, sec, flop in zip(("DeepLoc (study)", "PIFiA"), seconds, flops, strict=True):
        print(f"{name:16s} {sec * 1000:8.1f} ms/step  {flop / 1e6:8.1f} MFLOP/cell forward")
    print(f"PIFiA / DeepLoc: time per step {seconds[1] / seconds[0]:.2f}, forward FLOPs {flops[1] / flops[0]:.2f}")


if __name__ == "__main__":
    main()
