#!/usr/bin/env bash
# The study's own data on a GPU machine: the Huh et al. 2003 ORF-GFP collection imaged in the WT2 screen
# (~4,049 proteins, ~10 million cells; http://hershey.csb.utoronto.ca/image_screens/WT2/), trained on 17
# Huh-style localization classes with a per-protein 80/10/10 split, then `reproduce --preset paper`
# (full-size DeepLoc: study preset, 5 learning rates x 3 seeds, 30 epochs, the rate chosen by the mean
# validation loss; PCI: 3 learning rates x 3 seeds; CellProfiler 431 features + PCA; mixed precision).
#
# Input: CROPS, a folder with one sub-folder per protein named by its ORF (systematic name, e.g. YAL001C),
# holding the single-cell crops as <name>_gfp.tif + <name>_rfp.tif pairs (64x64, or one 2-channel TIFF per cell;
# the `tiff-folders` importer, docs/data.md). Cut them from the WT2 fields first, e.g. with
# `import --format label-masks` on the fields and their segmentation, or with the crop tables of the screen.
#
# Labels: built by the package from the Huh 2003 YeastGFP table (`standards labels --from huh2003`):
# one of 17 classes per ORF, ambiguous ORFs unlabelled, a multi-localized ORF labelled with its rarest
# class (docs/data.md). Cells of unlabelled proteins stay in the store (label -1) and are not trained on.
#
# Needs: the package installed from this checkout with its GPU and Dask extras (in the checkout:
# pip install ".[gpu,dask]"; docs/gpu.md) and network access for the downloads (files already in WORK are
# used as they are). PREPARE_ONLY=1 stops after the store and the standards.
set -euo pipefail
EXAMPLES=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CROPS=${CROPS:?"set CROPS=/path/to/wt2_crops (one folder per ORF of *_gfp.tif/*_rfp.tif crops)"}
CROPS=$(cd "$CROPS" && pwd)
WORK=${WORK:-wt2_study}
mkdir -p "$WORK"
cd "$WORK"

# 1. Labels: Huh 2003 localization (the CHNOSZ copy of the YeastGFP table) and SGD names for the aliases.
CHNOSZ=https://raw.githubusercontent.com/cran/CHNOSZ/3b4b844b310e3c1c3cd17277a763ad4242cacbd1/inst/extdata/abundance
[ -f yeastgfp.csv.xz ] || curl -fLO "$CHNOSZ/yeastgfp.csv.xz"
[ -f SGD_features.tab ] || curl -fLO https://downloads.yeastgenome.org/curation/chromosomal_feature/SGD_features.tab
deeploc-keras standards labels --from huh2003 yeastgfp.csv.xz --aliases SGD_features.tab --out labels.csv --overwrite

# 2. The cell store: one folder per protein, the seeded per-protein 80/10/10 split (--seed); uncompressed,
#    the store the training pipeline reads fastest (docs/data.md, "Compression").
deeploc-keras import "$CROPS" --out wt2.h5 --format tiff-folders --labels labels.csv --seed 0 --overwrite
deeploc-keras inspect wt2.h5

# 3. Functional standards (SGD GO slim, KEGG and Complex Portal modules of BIONIC/ICoN).
source "$EXAMPLES/functional_standards.sh"
if [ "${PREPARE_ONLY:-0}" = 1 ]; then
    echo "Prepared $WORK/wt2.h5 and $WORK/standards"
    exit 0
fi

# 4. The whole study; rerun with --resume after an interruption (finished steps are skipped).
deeploc-keras reproduce --out study --preset paper --store wt2.h5 --standards standards
echo "Open $WORK/study/report.html"
