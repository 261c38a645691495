"""Extraction throughput vs ``model.predict`` on an in-memory array, and extraction peak memory vs store size.

Throughput: ``extract`` (store -> ``cells.parquet`` + ``proteins.parquet``) and
``predict`` of the same feature model (``fc_2``, center crop) on the same cells
held in one numpy array, in the same run, each after one untimed warm-up call
(best of two timed calls). Each is timed on ``--cells`` and on a quarter of them:
the whole-call rates include extract's one-time work (loading the model file,
hashing it, aggregating proteins, the run record), and the difference of the two
sizes gives the streaming rate of each, the cost of one more batch, which is
what "keeps up with predict on the same batches" compares.

Memory: for each of ``--sizes`` a fresh subprocess runs ``extract`` on a store
of that many cells and reports the tracemalloc peak (Python and numpy
allocations) and the peak resident set size (``ru_maxrss``, TensorFlow
included). Both must stay flat as the store grows (memory bounded by a batch).
The issue's figure is 10k vs 100k cells (about 1.6 GB of store on disk):
``python benchmarks/bench_extract.py --sizes 10000 100000``.

Usage: python benchmarks/bench_extract.py [--cells 8192] [--batch-size 256] [--width 0.25]
       [--sizes 5000 20000]
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from _bench_store import random_store

N_CLASSES = 4


def _save_model(folder: Path, width: float) -> Path:
    from deeploc_keras.models.deeploc import build_deeploc

    folder.mkdir(parents=True, exist_ok=True)
    build_deeploc(N_CLASSES, preset="study", width=width, image_shape=(64, 64, 2), seed=0).save(folder / "best.keras")
    (folder / "model_card.json").write_text(json.dumps({"method": "deeploc", "preset": "study"}))
    return folder / "best.keras"


def _child(store: str, model: str, out: str, batch_size: int) -> None:
    """Run one extraction and print its memory figures as JSON (subprocess entry point)."""
    from deeploc_keras.inference.extract import extract

    tracemalloc.start()
    result = extract(store, out, model_path=model, split="all", batch_size=batch_size)
    _, peak = tracemalloc.get_traced_memory()
    print(json.dumps({"n_cells": result["n_cells"], "tracemalloc_peak_mb": peak / 2**20,
                      "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def _throughput(tmp: Path, model_path: Path, n_cells: int, batch_size: int) -> dict[str, dict[int, float]]:
    """Seconds of the best of two timed ``extract`` and ``predict`` calls on ``n_cells`` and ``n_cells // 4`` cells."""
    import keras

    from deeploc_keras.data.store import CellStore
    from deeploc_keras.inference.extract import extract
    from deeploc_keras.models.deeploc import tta_model

    sizes = (n_cells // 4, n_cells)
    stores = {n: random_store(tmp / f"rate{n}.h5", n, n_classes=N_CLASSES) for n in sizes}
    with CellStore.open(stores[n_cells]) as cells:
        images = cells.images(slice(0, len(cells)))
    feature_model = tta_model(keras.saving.load_model(model_path, compile=False), layer="fc_2", tta="center")
    runs = itertools.count()

    def run_extract(n: int) -> float:
        start = time.perf_counter()
        extract(stores[n], tmp / f"rate{next(runs)}", model_path=model_path, split="all", batch_size=batch_size)
        return time.perf_counter() - start

    def run_predict(n: int) -> float:
        start = time.perf_counter()
        feature_model.predict(images[:n], batch_size=batch_size, verbose=0)
        return time.perf_counter() - start

    run_extract(sizes[0])
    run_predict(sizes[0])
    seconds: dict[str, dict[int, float]] = {"extract": {}, "predict": {}}
    for n in sizes:
        first = (run_extract(n), run_predict(n))
        seconds["extract"][n], seconds["predict"][n] = min(first[0], run_extract(n)), min(first[1], run_predict(n))
    return seconds


def _print_throughput(seconds: dict[str, dict[int, float]], n_cells: int) -> None:
    small = n_cells // 4
    whole = {name: n_cells / t[n_cells] for name, t in seconds.items()}
    streaming = {name: (n_cells - small) / (t[n_cells] - t[small]) for name, t in seconds.items()}
    print(f"model.predict, in-memory array : {whole['predict']:9.1f} cells/s whole call, "
          f"{streaming['predict']:9.1f} cells/s streaming")
    print(f"extract, store -> parquet      : {whole['extract']:9.1f} cells/s whole call, "
          f"{streaming['extract']:9.1f} cells/s streaming")
    print(f"ratio extract / predict        : whole call {whole['extract'] / whole['predict']:.2f}, "
          f"streaming {streaming['extract'] / streaming['predict']:.2f} (target >= 0.9); extract's one-time work "
          f"{seconds['extract'][n_cells] - n_cells / streaming['extract']:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, default=8192, help="cells of the throughput comparison")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 20000], help="store sizes of the memory runs")
    parser.add_argument("--child", nargs=3, metavar=("STORE", "MODEL", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child, batch_size=args.batch_size)
        return
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        model_path = _save_model(tmp / "run", args.width)
        seconds = _throughput(tmp, model_path, args.cells, args.batch_size)
        print(f"cells {args.cells} (and {args.cells // 4}), batch {args.batch_size}, width {args.width}")
        _print_throughput(seconds, args.cells)
        rows = []
        for size in args.sizes:
            store = random_store(tmp / f"mem{size}.h5", size, n_classes=N_CLASSES)
            done = subprocess.run([sys.executable, __file__, "--batch-size", str(args.batch_size), "--child",
                                   str(store), str(model_path), str(tmp / f"out{size}")],
                                  capture_output=True, text=True, check=True)
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            store.unlink()
        for row in rows:
            print(f"extract {row['n_cells']:>7} cells: tracemalloc peak {row['tracemalloc_peak_mb']:8.1f} MB, "
                  f"max RSS {row['maxrss_mb']:8.1f} MB")
        first, last = rows[0], rows[-1]
        print(f"peak ratio {last['n_cells']} vs {first['n_cells']} cells: tracemalloc "
              f"{last['tracemalloc_peak_mb'] / first['tracemalloc_peak_mb']:.2f}, "
              f"RSS {last['maxrss_mb'] / first['maxrss_mb']:.2f} (flat = about 1)")


if __name__ == "__main__":
    main()
