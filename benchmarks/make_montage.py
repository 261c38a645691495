"""Regenerate docs/images/synthetic_montage.png from a fresh default-size synthetic screen.

Usage: python benchmarks/make_montage.py [--out docs/images/synthetic_montage.png]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from deeploc_keras.data.synthetic import simulate_screen
from deeploc_keras.data.synthetic.montage import write_montage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="docs/images/synthetic_montage.png")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        screen = simulate_screen(Path(tmp) / "screen", proteins=120, cells_per_protein=20, seed=0,
                                 dead_ghost_fraction=0.05)
        write_montage(screen.store, args.out, per_class=8, seed=0, overwrite=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
