"""CPU training speed of the ``cpu`` preset's models: this tree against another version, side by side.

Each measurement runs ``_train_rate.py`` in its own process with one code tree on
``PYTHONPATH``: the ``cpu`` reproduce preset's DeepLoc (``study``, width 0.125, 64x64,
batch 128) and PCI (width 0.0625, batch 64) trained with ``fit`` (XLA, as ``train``) from
the store pipeline on the ``cpu`` preset's screen (simulated once, 240 proteins x 40
cells), and, with the same code, the FLOP/s of a float32 matmul and of the DeepLoc's
convolutions alone on the same cores. The baseline and this tree alternate ``--pairs``
times (the machine may be shared: every pair is printed, then the median ratio). Rates
are per wall second with TensorFlow's default threads, and per CPU second of the process
with one thread (``--threads 1``: the work per cell, which other jobs on the machine
disturb less).

Usage: python benchmarks/bench_cpu_train.py --baseline DIR [--pairs 3] [--steps 12] [--repeats 2]
       [--models deeploc pci] [--threads 0] [--store cells.h5]

``DIR`` is a source tree of another version, e.g.
``mkdir /tmp/base && git archive <commit> | tar -x -C /tmp/base``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _measure(tree: Path, kind: str, store: Path, args: argparse.Namespace) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    command = [sys.executable, str(HERE / "_train_rate.py"), kind, str(store), str(args.steps), str(args.repeats),
               str(args.threads)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise SystemExit(f"bench_cpu_train.py: {kind} with {tree} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _screen(path: Path) -> Path:
    from deeploc_keras.data.synthetic.screen import simulate_screen

    return Path(simulate_screen(path, proteins=240, cells_per_protein=40, seed=0).store)


def _rate(row: dict, threads: int) -> float:
    return row["cells_per_cpu_s"] if threads == 1 else row["cells_per_s"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, required=True, help="source tree of the version to compare with")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=12, help="timed steps per pass")
    parser.add_argument("--repeats", type=int, default=2, help="timed passes per measurement (best kept)")
    parser.add_argument("--models", nargs="+", choices=("deeploc", "pci"), default=["deeploc", "pci"])
    parser.add_argument("--threads", type=int, default=0, help="0: TensorFlow's default threads; 1: one thread, "
                                                                 "rates per CPU second")
    parser.add_argument("--store", type=Path, default=None, help="a store to train on (default: the cpu screen)")
    args = parser.parse_args(argv)
    if not (args.baseline / "deeploc_keras").is_dir():
        parser.error(f"{args.baseline}: not a source tree of deeploc-keras (no deeploc_keras/ inside)")
    unit = "cells per CPU-s, 1 thread" if args.threads == 1 else "cells/s, wall"
    with tempfile.TemporaryDirectory() as tmp:
        store = args.store or _screen(Path(tmp) / "screen")
        hardware = {kind: _measure(ROOT, kind, store, args) for kind in ("matmul", "conv")}
        key = "gflop_per_cpu_s" if args.threads == 1 else "gflop_per_s"
        print(f"same cores, this tree: float32 matmul {hardware['matmul'][key]:.1f} GFLOP/s, the DeepLoc's "
              f"convolutions alone {hardware['conv'][key]:.1f} GFLOP/s ({unit.split(', ')[-1]})")
        for kind in args.models:
            ratios = []
            for pair in range(1, args.pairs + 1):
                before = _measure(args.baseline, kind, store, args)
                after = _measure(ROOT, kind, store, args)
                ratios.append(_rate(after, args.threads) / _rate(before, args.threads))
                gflops = after["gflop_per_s"] if args.threads != 1 else \
                    after["cells_per_cpu_s"] * 3 * after["forward_flops"] / 1e9
                print(f"{kind} pair {pair}: before {_rate(before, args.threads):7.1f}, after "
                      f"{_rate(after, args.threads):7.1f} {unit}; ratio {ratios[-1]:.2f}; after: {gflops:.1f} GFLOP/s "
                      f"({gflops / hardware['matmul'][key]:.0%} of the matmul, "
                      f"{gflops / hardware['conv'][key]:.0%} of the convolutions alone)", flush=True)
            print(f"{kind}: median ratio after / before {statistics.median(ratios):.2f} over {len(ratios)} pairs; "
                  f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
