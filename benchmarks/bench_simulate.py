"""Simulator throughput and peak memory for 10k and 100k cells (memory must not grow with N).

Usage: python benchmarks/bench_simulate.py [--sizes 10000 100000]
Peak memory is the tracemalloc peak of Python/numpy allocations during the run (each size in a fresh
subprocess, single thread).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path


def _one(n_cells: int) -> dict:
    from deeploc_keras.synthetic import simulate_screen

    cpp = 50
    with tempfile.TemporaryDirectory() as tmp:
        tracemalloc.start()
        t0, c0 = time.perf_counter(), time.process_time()
        simulate_screen(Path(tmp) / "s", proteins=n_cells // cpp, cells_per_protein=cpp, seed=0)
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return {"cells": n_cells, "seconds": dt, "cells_per_s": n_cells / dt, "cells_per_cpu_s": n_cells / cpu,
            "peak_mib": peak / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(_one(args.one)))
        return
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    rows = []
    for n in args.sizes:
        out = subprocess.run([sys.executable, __file__, "--one", str(n)], capture_output=True, text=True, env=env,
                             check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        r = rows[-1]
        print(f"{r['cells']:>7} cells: {r['seconds']:.1f} s, {r['cells_per_s']:.0f} cells/s wall, "
              f"{r['cells_per_cpu_s']:.0f} cells per CPU-second, "
              f"peak {r['peak_mib']:.1f} MiB")
    if len(rows) > 1:
        print(f"peak memory ratio {rows[-1]['cells']}/{rows[0]['cells']} cells: "
              f"{rows[-1]['peak_mib'] / rows[0]['peak_mib']:.2f}")


if __name__ == "__main__":
    main()
