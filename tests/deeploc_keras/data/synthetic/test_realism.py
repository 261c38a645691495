"""Simulated cells fall within the range of real yeast crops (pci_yeast_toy)."""

from __future__ import annotations

import numpy as np
import tifffile

from deeploc_keras.data.store import CellStore
from deeploc_keras.data.synthetic import simulate_screen
from deeploc_keras.data.synthetic.realism import STATISTIC_NAMES, cell_statistics


def test_cell_statistics_within_real_range(pci_toy_dir, tmp_path):
    files = sorted(pci_toy_dir.glob("*/*_gfp.tif"))[::8]
    real = np.stack([np.stack([tifffile.imread(f), tifffile.imread(str(f).replace("_gfp.tif", "_rfp.tif"))], -1)
                     for f in files])
    screen = simulate_screen(tmp_path / "s", proteins=40, cells_per_protein=5, seed=0)
    with CellStore.open(screen.store) as store:
        sim = store.images()
    real_stats, sim_stats = cell_statistics(real), cell_statistics(sim)
    for name in STATISTIC_NAMES:
        lo, hi = np.percentile(real_stats[name], [5, 95])
        assert lo <= np.median(sim_stats[name]) <= hi, name
    assert 30 <= np.median(sim_stats["diameter"]) <= 46
