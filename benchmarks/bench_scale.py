"""Cost per cell of every step of the study as the screen grows: wall time, cells/s and peak RSS, with growth ratios.

For each ``--sizes`` N (cells; proteins = N / 40), in a temporary folder deleted at the end:

- ``simulate``: ``simulate_screen`` writes the store and its standards;
- ``extract``: ``extract`` of every cell with a small DeepLoc (``study``, width 0.0625,
  random weights): cells.parquet and the per-protein proteins.parquet;
- ``aggregate``: ``aggregate_proteins`` of cells.parquet alone;
- ``cellprofiler``: ``extract_cellprofiler`` with 2 workers (a Dask LocalCluster) on a
  fixed sample of ``--cp-cells`` cells drawn from the store (its cost should not grow);
- ``score``: ``score`` of proteins.parquet against the screen's standards (no bootstrap).

Each step runs in its own process, so its peak RSS (``ru_maxrss``) is its own. The table
gives seconds, cells/s and peak MiB per step and size, then for each step the growth per
10x of cells of the time per cell handled (flat = 1.0; the target is within 1.5; for the
fixed CellProfiler sample, of its time) and of the peak memory. Check free disk first: a store takes 16 KiB per cell (1M cells: 16 GB).

Usage: python benchmarks/bench_scale.py [--sizes 10000 100000] [--cp-cells 256] [--tmp DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CELLS_PER_PROTEIN = 40
STEPS = ("simulate", "extract", "aggregate", "cellprofiler", "score")


def _step(name: str, folder: Path, n_cells: int, cp_cells: int) -> float:
    """Run one step in this process; the number of cells it handled."""
    if name == "simulate":
        from deeploc_keras.data.synthetic.screen import simulate_screen

        simulate_screen(folder / "screen", proteins=n_cells // CELLS_PER_PROTEIN,
                        cells_per_protein=CELLS_PER_PROTEIN, seed=0)
        return n_cells
    store = folder / "screen" / "cells.h5"
    if name == "extract":
        from deeploc_keras.data.store import CellStore
        from deeploc_keras.inference.extract import extract
        from deeploc_keras.models.deeploc import build_deeploc

        with CellStore.open(store) as cells:
            classes = len(cells.class_names)
        model = folder / "model" / "best.keras"
        model.parent.mkdir(exist_ok=True)
        build_deeploc(classes, "study", 0.0625, image_shape=(64, 64, 2), seed=0).save(model)
        (model.parent / "model_card.json").write_text(json.dumps({"method": "deeploc", "preset": "study"}))
        return extract(store, folder / "profiles", model_path=model, split="all", batch_size=256)["n_cells"]
    if name == "aggregate":
        from deeploc_keras.core.profiles import aggregate_proteins

        aggregate_proteins(folder / "profiles" / "cells.parquet", folder / "proteins_again.parquet")
        return n_cells
    if name == "cellprofiler":
        return _cellprofiler(folder, store, cp_cells)
    from eval.score import score

    score([folder / "profiles" / "proteins.parquet"], [folder / "screen" / "standards"], folder / "scores",
          n_bootstrap=0, n_null=0, n_permutations=0, n_jobs=1)
    return n_cells


def _cellprofiler(folder: Path, store: Path, cp_cells: int) -> float:
    import numpy as np

    from cellprofiler_features.runner import extract_cellprofiler
    from deeploc_keras.data.store import CellStore

    with CellStore.open(store) as cells:
        rows = np.sort(np.random.default_rng(0).choice(len(cells), cp_cells, replace=False))
        images, meta = cells.images(rows), cells.cells.iloc[rows]
        with CellStore.create(folder / "sample.h5", class_names=cells.class_names,
                              channel_names=cells.channel_names, seed=0, overwrite=True) as sample:
            sample.append(images, {"protein": meta["protein"].to_numpy(), "label": meta["label"].to_numpy()})
    extract_cellprofiler(folder / "sample.h5", folder / "cellprofiler", split="all", workers=2)
    return cp_cells


def _child(name: str, folder: str, n_cells: int, cp_cells: int) -> None:
    start = time.perf_counter()
    handled = _step(name, Path(folder), n_cells, cp_cells)
    wall = time.perf_counter() - start
    peak = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    print(json.dumps({"step": name, "cells": handled, "seconds": wall, "peak_mib": peak / 1024}))


def _run(name: str, folder: Path, n_cells: int, cp_cells: int) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    command = [sys.executable, __file__, "--child", name, str(folder), str(n_cells), str(cp_cells)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise SystemExit(f"bench_scale.py: {name} at {n_cells} cells failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _table(rows: dict[tuple[str, int], dict], sizes: list[int]) -> str:
    lines = [f"{'step':<13}" + "".join(f"{f'{n:,} cells':>34}" for n in sizes) + "   per-cell time / 10x   peak / 10x",
             f"{'':<13}" + "".join(f"{'s':>10}{'cells/s':>12}{'peak MiB':>12}" for _ in sizes)]
    for step in STEPS:
        cells = [rows[step, n] for n in sizes]
        line = f"{step:<13}" + "".join(f"{r['seconds']:10.1f}{r['cells'] / r['seconds']:12.1f}{r['peak_mib']:12.0f}"
                                       for r in cells)
        decades = math.log10(sizes[-1] / sizes[0]) or 1.0
        per_cell = [r["seconds"] / r["cells"] for r in cells]
        growth = (per_cell[-1] / per_cell[0]) ** (1 / decades)
        memory = (cells[-1]["peak_mib"] / cells[0]["peak_mib"]) ** (1 / decades)
        lines.append(line + f"{growth:22.2f}{memory:13.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--cp-cells", type=int, default=256)
    parser.add_argument("--tmp", type=Path, default=None, help="where the stores are written (default: the TMPDIR)")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        name, folder, n_cells, cp_cells = args.child
        _child(name, folder, int(n_cells), int(cp_cells))
        return
    need = 16 * 1024 * max(args.sizes) * 1.2
    free = shutil.disk_usage(args.tmp or tempfile.gettempdir()).free
    if free < need:
        parser.error(f"{max(args.sizes)} cells need about {need / 2**30:.1f} GiB free; {free / 2**30:.1f} GiB are")
    rows = {}
    for n in sorted(args.sizes):
        with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
            for step in STEPS:
                rows[step, n] = _run(step, Path(tmp), n, args.cp_cells)
                row = rows[step, n]
                print(f"{n:>9,} cells {step:<13} {row['seconds']:8.1f} s {row['cells'] / row['seconds']:10.1f} "
                      f"cells/s peak {row['peak_mib']:7.0f} MiB", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f}; {os.cpu_count()} cores")
    print(_table(rows, sorted(args.sizes)))


if __name__ == "__main__":
    main()
