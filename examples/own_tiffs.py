"""A user's own folder of single-cell crops through import -> features -> protein profiles -> scores, in Python.

The folder holds one sub-folder per protein with its single-cell crops: paired ``*_gfp.tif`` / ``*_rfp.tif``
files or one 2-channel TIFF per cell, of any one size (the ``tiff-folders`` importer, docs/data.md). The
Paired Cell Inpainting toy set is such a folder (1,642 real yeast cells of 5 proteins: ``yeast_model/
toy_dataset/images/`` of github.com/alexxijielu/paired_cell_inpainting). No labels are needed: the
representations are CellProfiler (+PCA) features and a Paired Cell Inpainting model trained on the cells
themselves (self-supervised). Scores use the Huh et al. 2003 localization standard (the package's copy of the
table); folders named by gene (``ACT1``) need ``--aliases SGD_features.tab`` (from
https://downloads.yeastgenome.org/curation/chromosomal_feature/SGD_features.tab) to match its ORFs.

Usage::

    python examples/own_tiffs.py TIFF_DIR [--out own_tiffs_demo] [--aliases SGD_features.tab]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from deeploc_keras.data.importers import import_cells
from deeploc_keras.data.importers.labels import huh2003_labels
from deeploc_keras.inference.extract import extract
from deeploc_keras.training.train import train
from eval import standards
from eval.score import score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tiff_dir", help="one sub-folder per protein of single-cell TIFF crops")
    parser.add_argument("--out", default="own_tiffs_demo", type=Path)
    parser.add_argument("--aliases", type=Path, default=None,
                        help="SGD_features.tab, when the folders are named by gene rather than ORF")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    # 1. Import: one store with the crops, protein ids from the folder names, a seeded 80/10/10 split.
    store = out / "cells.h5"
    if not store.exists():
        import_cells([args.tiff_dir], store, format="tiff-folders", seed=0)

    # 2. Representations: CellProfiler features (+PCA) and a small Paired Cell Inpainting model.
    if not (out / "cellprofiler").exists():
        extract(store, out / "cellprofiler", method="cellprofiler", split="all", pca=0.99, workers=2)
    if not (out / "pci_run").exists():
        train(store, out / "pci_run", method="pci", epochs=args.epochs, width=0.25, batch_size=32, seed=0)
    if not (out / "pci").exists():
        extract(store, out / "pci", method="pci", model_path=out / "pci_run" / "best.keras", layer="conv4_1",
                split="all")

    # 3. A standard for these proteins: the Huh et al. 2003 localizations (ORF ids), with gene names (the
    #    folder names) mapped to ORFs through SGD_features.tab. With 5 proteins the scores only show the
    #    mechanics; a real evaluation needs hundreds of proteins.
    aliases = standards.read_aliases(args.aliases) if args.aliases else None
    labels = huh2003_labels()  # one class per ORF (the package's copy of the table)
    localization = labels.groupby("label")["protein"].apply(set).to_dict()
    summary = score([out / "cellprofiler" / "proteins.parquet", out / "cellprofiler" / "proteins_pca.parquet",
                     out / "pci" / "proteins.parquet"], {"localization": localization}, out / "scores",
                    names=["CellProfiler", "CellProfiler+PCA", "PCI"], metrics=["average_precision", "f_beta"],
                    aliases=aliases, overwrite=True)
    print(summary[["representation", "standard", "metric", "value", "n_proteins", "prevalence"]].to_string())
    print(f"Wrote {out / 'scores'}")


if __name__ == "__main__":
    main()
