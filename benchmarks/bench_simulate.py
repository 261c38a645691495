"""Simulator throughput and peak memory for 10k and 100k cells (memory must not grow with N).

Usage: python benchmarks/bench_simulate.py [--sizes 10000 100000] [--hierarchy grounded synthetic] [--baseline DIR]
Each size runs in a fresh single-threaded subprocess. Throughput is printed per CPU-second of that process
(time.process_time, robust on a shared machine) and per wall-clock second. Peak memory is the growth of the
process's peak resident set (ru_maxrss) during the run, above what the imports and a tiny warm-up screen
already used (no tracemalloc, which would slow every allocation); the ratio between the largest and smallest
size shows that memory does not grow with N. Each hierarchy (default: the grounded one, the default of
``simulate``) is measured at every size, alternating, so their ratio compares like with like. ``--baseline DIR`` (a source tree of another version,
e.g. ``git archive REV | tar -x -C DIR``) runs every measurement with that version too, alternating with this one in
the same run, and prints this version's throughput over the baseline's.
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


def _one(n_cells: int, hierarchy: str) -> dict:
    from deeploc_keras.data.synthetic import simulate_screen

    cpp = 50
    with tempfile.TemporaryDirectory() as tmp:
        simulate_screen(Path(tmp) / "warm", proteins=20, cells_per_protein=5, seed=1, hierarchy=hierarchy)  # imports
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0, c0 = time.perf_counter(), time.process_time()
        simulate_screen(Path(tmp) / "s", proteins=n_cells // cpp, cells_per_protein=cpp, seed=0, hierarchy=hierarchy)
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"hierarchy": hierarchy, "cells": n_cells, "seconds": dt, "cpu_seconds": cpu, "cells_per_s": n_cells / dt,
            "cells_per_cpu_s": n_cells / cpu, "peak_mib": peak / 2**10, "peak_growth_mib": (peak - base) / 2**10}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--hierarchy", nargs="+", default=["grounded"], choices=["grounded", "synthetic"])
    parser.add_argument("--baseline", type=Path, default=None, help="Source tree of a version to compare with.")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(_one(args.one, args.hierarchy[0])))
        return
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    versions = {"this": Path(__file__).resolve().parents[1]}
    if args.baseline is not None:
        versions["baseline"] = args.baseline.resolve()
    rows: dict[str, list[dict]] = {}
    for n in args.sizes:
        for hierarchy in args.hierarchy:
            for version, tree in versions.items():
                key = f"{hierarchy} {version}" if len(versions) > 1 else hierarchy
                out = subprocess.run([sys.executable, __file__, "--one", str(n), "--hierarchy", hierarchy],
                                     capture_output=True, text=True, env={**env, "PYTHONPATH": str(tree)}, check=True,
                                     cwd=tree)
                rows.setdefault(key, []).append(json.loads(out.stdout.strip().splitlines()[-1]))
                r = rows[key][-1]
                print(f"{key:>18} {r['cells']:>7} cells: {r['seconds']:.1f} s wall, {r['cpu_seconds']:.1f} CPU-s; "
                      f"{r['cells_per_cpu_s']:.0f} cells per CPU-second, {r['cells_per_s']:.0f} cells/s wall; "
                      f"peak RSS {r['peak_mib']:.0f} MiB (+{r['peak_growth_mib']:.0f} MiB during the run)")
    if len(versions) > 1:
        for hierarchy in args.hierarchy:
            for x, y in zip(rows[f"{hierarchy} this"], rows[f"{hierarchy} baseline"], strict=True):
                print(f"{hierarchy} {x['cells']} cells: this/baseline cells per CPU-second "
                      f"{x['cells_per_cpu_s'] / y['cells_per_cpu_s']:.2f}, peak RSS {x['peak_mib'] / y['peak_mib']:.2f}")
        return
    for hierarchy, runs in rows.items():
        if len(runs) > 1:
            print(f"{hierarchy}: peak RSS ratio {runs[-1]['cells']}/{runs[0]['cells']} cells: "
                  f"{runs[-1]['peak_mib'] / runs[0]['peak_mib']:.2f}")
    if len(rows) == 2:
        (a, ra), (b, rb) = rows.items()
        for x, y in zip(ra, rb, strict=True):
            print(f"{x['cells']} cells: {a}/{b} cells per CPU-second {x['cells_per_cpu_s'] / y['cells_per_cpu_s']:.2f}")


if __name__ == "__main__":
    main()
