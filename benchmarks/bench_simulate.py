"""Simulator throughput and peak memory for 10k and 100k cells (memory must not grow with N).

Usage: python benchmarks/bench_simulate.py [--sizes 10000 100000]
Each size runs in a fresh single-threaded subprocess. Throughput is printed per CPU-second of that process
(time.process_time, robust on a shared machine) and per wall-clock second. Peak memory is the growth of the
process's peak resident set (ru_maxrss) during the run, above what the imports and a tiny warm-up screen
already used (no tracemalloc, which would slow every allocation); the ratio between the largest and smallest
size shows that memory does not grow with N.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _one(n_cells: int) -> dict:
    from deeploc_keras.synthetic import simulate_screen

    cpp = 50
    with tempfile.TemporaryDirectory() as tmp:
        simulate_screen(Path(tmp) / "warm", proteins=20, cells_per_protein=5, seed=1)  # imports, FFT plans
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0, c0 = time.perf_counter(), time.process_time()
        simulate_screen(Path(tmp) / "s", proteins=n_cells // cpp, cells_per_protein=cpp, seed=0)
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"cells": n_cells, "seconds": dt, "cpu_seconds": cpu, "cells_per_s": n_cells / dt,
            "cells_per_cpu_s": n_cells / cpu, "peak_mib": peak / 2**10, "peak_growth_mib": (peak - base) / 2**10}


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
        print(f"{r['cells']:>7} cells: {r['seconds']:.1f} s wall, {r['cpu_seconds']:.1f} CPU-s; "
              f"{r['cells_per_cpu_s']:.0f} cells per CPU-second, {r['cells_per_s']:.0f} cells/s wall; "
              f"peak RSS {r['peak_mib']:.0f} MiB (+{r['peak_growth_mib']:.0f} MiB during the run)")
    if len(rows) > 1:
        print(f"peak RSS ratio {rows[-1]['cells']}/{rows[0]['cells']} cells: "
              f"{rows[-1]['peak_mib'] / rows[0]['peak_mib']:.2f}")


if __name__ == "__main__":
    main()
