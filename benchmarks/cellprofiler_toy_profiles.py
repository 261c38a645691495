"""Real-data sanity of the CellProfiler baseline on all 1,642 PCI toy cells (5 proteins).

Builds a float32 store from ../shared/data/real/pci_yeast_toy, runs
``extract_cellprofiler(..., split="all", pca=0.99)`` and prints the Euclidean
distances between the per-protein PCA profiles: the mitochondrial carriers AAC1
and AAC3 should be closer to each other than either is to AAP1.

Run from the repository root::

    python benchmarks/cellprofiler_toy_profiles.py [--workers 2] [--out DIR]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import tifffile

from cellprofiler_features.runner import extract_cellprofiler
from deeploc_keras.core.profiles import read_profiles
from deeploc_keras.data.store import CellStore

TOY = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "pci_yeast_toy"


def build_store(path: Path) -> Path:
    """Every toy cell as a float32 (GFP, RFP) store."""
    images, proteins = [], []
    for folder in sorted(p for p in TOY.iterdir() if p.is_dir()):
        for gfp in sorted(folder.glob("*_gfp.tif")):
            rfp = gfp.with_name(gfp.name.replace("_gfp.tif", "_rfp.tif"))
            images.append(np.stack([tifffile.imread(gfp), tifffile.imread(rfp)], axis=-1))
            proteins.append(folder.name)
    with CellStore.create(path, dtype="float32", source="pci_yeast_toy") as store:
        store.append(np.asarray(images, np.float32), {"protein": np.asarray(proteins)})
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    root = args.out or Path(tempfile.mkdtemp(prefix="cp_toy_"))
    store = build_store(root / "toy.h5") if not (root / "toy.h5").exists() else root / "toy.h5"
    summary = extract_cellprofiler(store, root / "profiles", split="all", pca=0.99, workers=args.workers,
                                   overwrite=True)
    print({k: summary[k] for k in ("cells", "proteins", "features", "mask_fallback", "no_signal",
                                   "pca_components", "seconds")})
    for name in ("proteins.parquet", "proteins_pca.parquet"):
        profiles = read_profiles(root / "profiles" / name)
        ids = list(profiles.meta["Metadata_Protein"])
        x = profiles.features
        if name == "proteins.parquet":  # z-score the raw features over proteins for a fair distance
            keep = np.nanstd(x, axis=0) > 0
            x = (x[:, keep] - x[:, keep].mean(0)) / x[:, keep].std(0)
        d = {(a, b): float(np.linalg.norm(x[ids.index(a)] - x[ids.index(b)])) for a in ids for b in ids}
        print(f"{name}: d(AAC1,AAC3)={d['AAC1', 'AAC3']:.3f}  d(AAC1,AAP1)={d['AAC1', 'AAP1']:.3f}  "
              f"d(AAC3,AAP1)={d['AAC3', 'AAP1']:.3f}  closer={d['AAC1', 'AAC3'] < min(d['AAC1', 'AAP1'], d['AAC3', 'AAP1'])}")
        print("  all pairs:", {f"{a}-{b}": round(v, 2) for (a, b), v in d.items() if a < b})


if __name__ == "__main__":
    main()
