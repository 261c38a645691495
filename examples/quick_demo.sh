#!/usr/bin/env bash
# The README's main job: the whole study on the embedded synthetic screen, on the CPU (< 20 min on 2 cores).
# Simulates the screen, trains DeepLoc (study protocol, short learning-rate sweep x 3 seeds) and Paired Cell
# Inpainting, extracts DeepLoc, PCI, CellProfiler and CellProfiler+PCA protein profiles of the test cells, scores
# them on four functional standards and writes demo/report.html and demo/summary.csv.
# Interrupted? Run it again with --resume: finished steps are skipped.
set -euo pipefail
OUT=${1:-demo}
deeploc-keras reproduce --out "$OUT" --preset cpu "${@:2}"
