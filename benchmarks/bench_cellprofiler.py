"""Throughput and memory of the CellProfiler runner, measured side by side in one run.

Prints cells/s of (a) a plain loop of cp-measure calls on each crop (same families and masks),
(b) ``extract_cellprofiler`` with 1 worker (inline) and (c) with 2 process workers, the speed-up
from 1 to 2 workers (target >= 1.8x on 2 free cores) and the peak traced Python memory of the
runner for N and 4N cells (should be flat: memory is bounded by chunks, not N).

The 2-worker time includes starting the worker processes (a few seconds: imports and numba
compilation), so small N understates the speed-up; the default N = 1,024 amortizes it.

Run from the repository root::

    python benchmarks/bench_cellprofiler.py [--cells 1024]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import tifffile
from cp_measure.bulk import get_core_measurements, get_correlation_measurements
from cp_measure.core.measurecolocalization import get_correlation_overlap

from cellprofiler_features.masks import cell_mask
from cellprofiler_features.runner import extract_cellprofiler
from deeploc_keras.data.store import CellStore

TOY = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "pci_yeast_toy"


def _store(path: Path, n: int) -> Path:
    gfps = sorted(TOY.glob("*/*_gfp.tif"))
    images = [np.stack([tifffile.imread(g), tifffile.imread(str(g).replace("_gfp", "_rfp"))], -1)
              for g in gfps[:: max(len(gfps) // n, 1)][:n]]
    images = np.asarray((images * (n // len(images) + 1))[:n], np.float32)
    with CellStore.create(path, dtype="float32", chunk_cells=64) as store:
        store.append(images, {"protein": np.asarray([f"P{i % 4}" for i in range(n)]), "split": np.full(n, 2)})
    return path


def _plain_loop(store_path: Path) -> float:
    """Direct cp-measure calls (numpy backend, as a user would write them) on each crop."""
    images = CellStore.open(store_path).images().astype(np.float64)
    core = get_core_measurements(legacy=True, sanitize=False)
    corr = get_correlation_measurements(sanitize=False)
    start = time.perf_counter()
    for crop in images:
        labels = cell_mask(crop[..., 1])[0].astype(np.int32)
        core["sizeshape"](labels, None, calculate_advanced=False)
        core["feret"](labels, None)
        core["zernike"](labels, None)
        for c in range(2):
            for name in ("intensity", "texture", "granularity", "radial_distribution"):
                core[name](labels, crop[..., c])
        for name in ("pearson", "manders_fold", "rwc"):
            corr[name](crop[..., 0], crop[..., 1], labels)
        get_correlation_overlap(crop[..., 0], crop[..., 1], labels)
    return len(images) / (time.perf_counter() - start)


def _runner(store_path: Path, out: Path, workers: int) -> float:
    start = time.perf_counter()
    extract_cellprofiler(store_path, out, workers=workers, chunk_cells=16, overwrite=True)
    return CellStore.open(store_path).__len__() / (time.perf_counter() - start)


def _peak_mib(store_path: Path, out: Path) -> float:
    tracemalloc.start()
    extract_cellprofiler(store_path, out, workers=1, chunk_cells=16, overwrite=True)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=1024)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench_cp_"))
    store = _store(root / "s.h5", args.cells)
    _runner(store, root / "warm", 1)  # numba caches and imports
    loop = _plain_loop(store)
    one = _runner(store, root / "w1", 1)
    two = _runner(store, root / "w2", 2)
    print(f"N={args.cells} cells, 265 features")
    print(f"plain cp-measure loop : {loop:7.1f} cells/s")
    print(f"runner, 1 worker      : {one:7.1f} cells/s  ({one / loop:.2f}x the plain loop)")
    print(f"runner, 2 workers     : {two:7.1f} cells/s  ({two / 2:.1f} cells/s per worker)")
    print(f"speed-up 1 -> 2 workers: {two / one:.2f}x (target >= 1.8x on 2 free cores)")
    small = _peak_mib(_store(root / "small.h5", 64), root / "m1")
    large = _peak_mib(_store(root / "large.h5", 192), root / "m2")
    print(f"peak traced memory: N=64 {small:.1f} MiB, N=192 {large:.1f} MiB (ratio {large / small:.2f})")


if __name__ == "__main__":
    main()
