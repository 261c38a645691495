"""Which CPU configuration trains the ``cpu`` preset's DeepLoc fastest: its convolutions layer by layer, and its step.

Each configuration runs in its own process (XLA flags and oneDNN are read once per process): the
DeepLoc's convolution shapes at width 0.125 (64x64, batch 128; forward and both gradients, NHWC) compiled
with XLA or run by TensorFlow's own kernels (oneDNN on or off), and, unless ``--no-step``, the whole train
step of the model from the store pipeline (``_train_rate.py deeploc``, ``fit`` with ``jit_compile`` on or
off). Rates are per CPU second of the process with one intra-op and one inter-op thread, the work per cell
that other jobs on a shared machine disturb least; wall rates with TensorFlow's default threads come with
``--threads 0``. The configurations alternate, so compare the rows of one run with each other only.

Usage: python benchmarks/bench_cpu_conv.py [--threads 1] [--steps 12] [--no-step] [--store cells.h5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: (size, channels in, channels out) of the width-0.125 DeepLoc's distinct conv layers, and how many it has.
SHAPES = ((64, 2, 8, 1), (64, 8, 8, 1), (32, 8, 16, 1), (32, 16, 16, 1), (16, 16, 32, 1), (16, 32, 32, 3))
BATCH = 128
#: name: (XLA on, environment).
CONFIGS = {
    "XLA (default)": (True, {}),
    "XLA, thunk runtime off": (True, {"XLA_FLAGS": "--xla_cpu_use_thunk_runtime=false"}),
    "XLA + XNNPACK": (True, {"XLA_FLAGS": "--xla_cpu_use_xnnpack=true"}),
    "XLA + XNNPACK graph fusion": (True, {"XLA_FLAGS": "--xla_cpu_experimental_xnn_graph_fusion_mode="
                                                       "XNN_GRAPH_FUSION_MODE_GREEDY"}),
    "XLA + oneDNN custom calls": (True, {"XLA_FLAGS": "--xla_cpu_use_onednn=true "
                                                      "--xla_cpu_experimental_onednn_custom_call=true"}),
    "XLA, fast math": (True, {"XLA_FLAGS": "--xla_cpu_enable_fast_math=true"}),
    "no XLA, oneDNN": (False, {"TF_ENABLE_ONEDNN_OPTS": "1"}),
    "no XLA, no oneDNN (TF default on this CPU)": (False, {"TF_ENABLE_ONEDNN_OPTS": "0"}),
}


def conv_rates(xla: bool, threads: int, repeats: int = 3, steps: int = 5) -> dict:
    """GFLOP per CPU second (``threads`` 1) or per wall second of each conv shape, forward and both gradients."""
    import tensorflow as tf
    from _train_rate import conv_step

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    rates, total_flops, total_seconds = [], 0.0, 0.0
    for size, c_in, c_out, count in SHAPES:
        step, x = conv_step(BATCH, size, c_in, c_out, jit_compile=xla)
        step(x)[0].numpy()
        clock = time.process_time if threads == 1 else time.perf_counter
        best = float("inf")
        for _ in range(repeats):
            start = clock()
            for _ in range(steps):
                out = step(x)
            out[0].numpy()
            best = min(best, (clock() - start) / steps)
        flops = 3 * 2 * 9 * c_in * c_out * size * size * BATCH
        rates.append(flops / best / 1e9)
        total_flops += count * flops
        total_seconds += count * best
    return {"per_layer": rates, "all": total_flops / total_seconds / 1e9, "seconds_per_step": total_seconds}


def _child(name: str, store: str | None, args: argparse.Namespace) -> dict:
    xla, extra = CONFIGS[name]
    env = {**os.environ, **extra, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    command = [sys.executable, __file__, "--child", name, "--threads", str(args.threads)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        return {"error": result.stderr.strip().splitlines()[-1][:160]}
    row = json.loads(result.stdout.strip().splitlines()[-1])
    if store is not None:
        step = [sys.executable, str(HERE / "_train_rate.py"), "deeploc", store, str(args.steps), "2", str(args.threads)]
        result = subprocess.run(step, capture_output=True, text=True, env={**env, "BENCH_XLA": str(int(xla))},
                                check=False)
        if result.returncode == 0:
            rate = json.loads(result.stdout.strip().splitlines()[-1])
            row["step"] = rate["cells_per_cpu_s"] if args.threads == 1 else rate["cells_per_s"]
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1, help="1: rates per CPU second; 0: TensorFlow's default "
                                                                "threads, rates per wall second")
    parser.add_argument("--steps", type=int, default=12, help="timed train steps per pass")
    parser.add_argument("--no-step", dest="step", action="store_false", help="only the convolutions")
    parser.add_argument("--store", type=Path, default=None, help="a store to train on (default: the cpu screen)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(conv_rates(CONFIGS[args.child][0], args.threads)))
        return
    unit = "per CPU-s, 1 thread" if args.threads == 1 else "per wall s"
    layers = " | ".join(f"{s}x{s} {i}->{o}" for s, i, o, _ in SHAPES)
    print(f"GFLOP/s ({unit}) of the width-0.125 DeepLoc's convolutions (forward + both gradients, batch {BATCH}),"
          f" and its train step's cells/s\n\n| configuration | {layers} | all convs | train step cells/s |")
    print("|---" * (len(SHAPES) + 3) + "|")
    with tempfile.TemporaryDirectory() as tmp:
        store = None
        if args.step:
            from deeploc_keras.data.synthetic.screen import simulate_screen

            store = str(args.store or simulate_screen(Path(tmp) / "screen", proteins=240, cells_per_protein=40,
                                                      seed=0).store)
        for name in CONFIGS:
            row = _child(name, store, args)
            if "error" in row:
                print(f"| {name} | failed: {row['error']} |", flush=True)
                continue
            cells = " | ".join(f"{rate:.1f}" for rate in row["per_layer"])
            print(f"| {name} | {cells} | {row['all']:.1f} | {row.get('step', float('nan')):.0f} |", flush=True)
    print(f"\nload average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
