"""Time each step of ``deeploc-keras reproduce`` (default: the ``cpu`` preset) and print the total.

Usage::

    python benchmarks/bench_reproduce.py [--preset cpu] [--out DIR]

Runs the preset into DIR (a temporary directory by default; an existing finished run in DIR is
read instead of rerun) and prints one line per step with its seconds and share of the total. The
``cpu`` preset's budget is 20 minutes on 2 CPU cores, ``smoke``'s 3 minutes.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from deeploc_keras.study.reproduce import reproduce

BUDGET_MINUTES = {"smoke": 3, "cpu": 20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="cpu", choices=sorted(BUDGET_MINUTES))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="bench_reproduce_")) / "run"
    start = time.perf_counter()
    reproduce(out, preset=args.preset, resume=out.exists())
    wall = time.perf_counter() - start
    steps = json.loads((out / "reproduce.json").read_text())["steps"]
    total = sum(info["seconds"] for info in steps.values())
    print(f"reproduce --preset {args.preset} -> {out}")
    for name, info in steps.items():
        print(f"  {name:22s} {info['seconds']:8.1f} s  {100 * info['seconds'] / total:5.1f} %")
    print(f"  {'total':22s} {total:8.1f} s  = {total / 60:.1f} min "
          f"(budget {BUDGET_MINUTES[args.preset]} min, ratio {total / 60 / BUDGET_MINUTES[args.preset]:.2f}); "
          f"this invocation {wall:.1f} s")


if __name__ == "__main__":
    main()
