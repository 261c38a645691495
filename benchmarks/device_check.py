"""One device check: the accelerator's facts, training and embedding rates, an end-to-end run, extraction speed.

Runs on one GPU (H100/H200, under 8 minutes) and writes one markdown table (``--out``,
default ``device_check.md``; also printed):

1. ``nvidia-smi``: name, driver, memory, compute capability;
2. ``bench_gpu.py`` for the ``study`` DeepLoc and PCI at batch 128 and 512 under
   ``mixed_float16`` with XLA: cells/s from the store and from device memory, their
   ratio, MFU and peak memory per row;
3. the ``smoke`` reproduce preset end to end (``train``'s ``mixed_precision="auto"``:
   ``mixed_float16`` on a GPU), with every run's losses finite;
4. ``extract`` cells/s of the full-size (width 1.0) ``study`` DeepLoc on a random store.

``--dry-run`` runs the same steps tiny on the CPU (width 0.0625, batch 8, float32, no
XLA, no ``nvidia-smi``; a tiny simulated screen trained for one short epoch in place of
the smoke preset) to check the script itself; the test suite runs it.

Usage: python benchmarks/device_check.py [--out device_check.md] [--dry-run]
"""

from __future__ import annotations

import argparse
import math
import os
import runpy
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _bench_store import random_store  # noqa: E402

#: bench_gpu.py arguments of the real check and of the dry run.
GPU_ARGS = ["--models", "study", "pci", "--batch-sizes", "128", "512", "--policy", "mixed_float16"]
DRY_GPU_ARGS = ["--models", "study", "pci", "--batch-sizes", "8", "--policy", "float32", "--width", "0.0625",
                "--steps", "2", "--repeats", "1", "--cells", "256", "--no-xla"]
#: Cells, width and batch of the extraction step (real check, dry run).
EXTRACT = {False: (16384, 1.0, 512), True: (64, 0.0625, 32)}


def _facts(dry_run: bool) -> list[tuple[str, str]]:
    if dry_run:
        return [("device", "CPU (dry run: nvidia-smi not run)")]
    query = "name,driver_version,memory.total,compute_cap"
    out = subprocess.run(["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader"], capture_output=True,
                         text=True, check=True).stdout.strip().splitlines()[0]
    return list(zip(("GPU", "driver", "memory", "compute capability"), (v.strip() for v in out.split(",")),
                    strict=True))


def _bench_gpu(dry_run: bool) -> list[tuple[str, str]]:
    import keras

    main = runpy.run_path(str(HERE / "bench_gpu.py"), run_name="bench_gpu")["main"]
    rows = main(DRY_GPU_ARGS if dry_run else GPU_ARGS)
    keras.mixed_precision.set_global_policy("float32")
    found = []
    for row in rows:
        cells = row.cells()
        found.append((f"train {row.model} batch {row.batch} (XLA {cells['xla']})",
                      f"{cells['train_store']} cells/s from the store, {cells['train_memory']} from memory "
                      f"(ratio {cells['ratio']}), MFU {cells['MFU_%']} %, embed {cells['embed']} cells/s, "
                      f"peak {cells['peak_MiB']} MiB"))
    return found


def _history_losses(folder: Path) -> tuple[int, bool]:
    """Number of history.csv files under ``folder`` and whether every loss in them is finite."""
    import pandas as pd

    files = sorted(folder.rglob("history.csv"))
    finite = all(math.isfinite(v) for f in files for c in ("loss", "val_loss")
                 for v in pd.read_csv(f).get(c, pd.Series(dtype=float)))
    return len(files), finite


def _end_to_end(tmp: Path, dry_run: bool) -> list[tuple[str, str]]:
    start = time.perf_counter()
    if dry_run:
        from deeploc_keras.data.synthetic.screen import simulate_screen
        from deeploc_keras.training.train import train

        screen = simulate_screen(tmp / "screen", proteins=16, cells_per_protein=8, seed=0)
        train(screen.store, tmp / "run", width=0.0625, batch_size=16, epochs=1, steps_per_epoch=2, verbose=0,
              mixed_precision="off", jit_compile=False, seed=0)
        name = "train on a tiny screen (dry run)"
    else:
        from deeploc_keras.study.reproduce import reproduce

        reproduce(tmp / "smoke", preset="smoke")
        name = "reproduce --preset smoke (mixed_float16)"
    runs, finite = _history_losses(tmp)
    if not runs or not finite:
        raise SystemExit(f"device_check.py: {name}: {runs} runs, losses finite: {finite}")
    return [(name, f"{time.perf_counter() - start:.0f} s, {runs} runs, every loss finite")]


def _extract_rate(tmp: Path, dry_run: bool) -> list[tuple[str, str]]:
    import json

    from deeploc_keras.inference.extract import extract
    from deeploc_keras.models.deeploc import build_deeploc

    n_cells, width, batch = EXTRACT[dry_run]
    store = random_store(tmp / "extract.h5", n_cells, n_classes=4)
    model = tmp / "model" / "best.keras"
    model.parent.mkdir()
    build_deeploc(4, preset="study", width=width, image_shape=(64, 64, 2), seed=0).save(model)
    (model.parent / "model_card.json").write_text(json.dumps({"method": "deeploc", "preset": "study"}))
    extract(store, tmp / "warm", model_path=model, split="all", batch_size=batch)
    start = time.perf_counter()
    extract(store, tmp / "profiles", model_path=model, split="all", batch_size=batch)
    rate = n_cells / (time.perf_counter() - start)
    return [(f"extract study width {width:g}, {n_cells} cells, batch {batch}", f"{rate:.0f} cells/s (whole call)")]


def device_check(out: Path, *, dry_run: bool = False) -> str:
    """Run every step and write the markdown table to ``out``; return it."""
    rows = _facts(dry_run)
    with tempfile.TemporaryDirectory() as tmp:
        rows += _bench_gpu(dry_run)
        rows += _end_to_end(Path(tmp) / "e2e", dry_run)
        rows += _extract_rate(Path(tmp), dry_run)
        shutil.rmtree(tmp, ignore_errors=True)
    table = "\n".join(["| step | result |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)]) + "\n"
    out.write_text(table)
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("device_check.md"))
    parser.add_argument("--dry-run", action="store_true", help="the same steps tiny on the CPU")
    args = parser.parse_args(argv)
    print(device_check(args.out, dry_run=args.dry_run), end="")


if __name__ == "__main__":
    main()
