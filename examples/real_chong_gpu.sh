#!/usr/bin/env bash
# Kraus et al.'s localization benchmark on a GPU machine: the hand-labelled cells of the Chong et al. 2015
# ORF-GFP screen shipped with DeepLoc (19 classes including DEAD and GHOST, train/valid/test split by file, no
# protein ids). This is NOT the study's data (that is examples/real_wt2_gpu.sh: the Huh 2003 collection in the
# WT2 screen, 17 classes, per-protein split); it runs the study's protocol on the benchmark instead:
# download the original DeepLoc files, import them into a cell store, build the four functional standards,
# then `reproduce --preset paper` (full-size DeepLoc with the study protocol: 5 learning rates x 3 seeds,
# 30 epochs, the rate chosen by the mean validation loss; PCI: 3 rates x 3 seeds; CellProfiler + PCA; mixed
# precision on the GPU).
#
# Needs: the package installed from this checkout with its GPU and Dask extras (in the checkout:
# pip install ".[gpu,dask]", which brings tensorflow[and-cuda]) and network access for the downloads.
#
# The original HDF5 files carry NO protein ids. Profiles and scores need them, so give a per-cell CSV
# (METADATA, see docs/data.md: columns file,index,protein[,plate,well]) mapping each row of the three files to
# its ORF, e.g. exported from the authors' per-cell tables. Without it the import still works (protein
# "unknown") and `train` runs, but `reproduce` refuses the store with a clear message.
set -euo pipefail
EXAMPLES=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORK=${WORK:-chong_study}
METADATA=${METADATA:?"set METADATA=/path/to/chong_cells.csv (per-cell protein ids, see docs/data.md)"}
mkdir -p "$WORK"
cd "$WORK"

# 1. Data: the original DeepLoc datasets (published address in okraus/DeepLoc; it has been offline at times).
[ -f DeepLoc_full_datasets.zip ] || curl -fLO http://spidey.ccbr.utoronto.ca/~okraus/DeepLoc_full_datasets.zip
unzip -n -q DeepLoc_full_datasets.zip
deeploc-keras import datasets/Chong_train_set.hdf5 datasets/Chong_valid_set.hdf5 datasets/Chong_test_set.hdf5 \
    --out chong.h5 --format deeploc-hdf5 --split-from-filename --metadata "$METADATA"  # uncompressed: docs/data.md
deeploc-keras inspect chong.h5

# 2. Functional standards (SGD GO slim, KEGG and Complex Portal modules of BIONIC/ICoN).
source "$EXAMPLES/functional_standards.sh"

# 3. The whole study; rerun with --resume after an interruption (finished steps are skipped).
deeploc-keras reproduce --out study --preset paper --store chong.h5 --standards standards
echo "Open $WORK/study/report.html"
