from __future__ import annotations

import numpy as np
import pytest

from cellprofiler_features.masks import FALLBACK_RADIUS, cell_mask
from deeploc_keras.core.errors import InputError


def test_cell_mask_covers_the_centred_real_cell(pci_toy_dir, toy_tools):
    images, _ = toy_tools[0](pci_toy_dir, 12)
    diameters, fallbacks = [], 0
    for crop in images:
        mask, fallback = cell_mask(crop[..., 1])
        fallbacks += fallback
        if not fallback:
            rows, cols = np.nonzero(mask)
            # the kept region is the one at (or next to) the centre
            assert np.hypot(rows - 32, cols - 32).min() <= 10
        diameters.append(np.sqrt(4 * mask.sum() / np.pi))
    diameters = np.asarray(diameters)
    assert fallbacks <= 3
    assert 25 <= np.median(diameters) <= 45  # real cells: median equivalent diameter ~35-38 px
    assert diameters.min() > 8 and diameters.max() < 64


def test_cell_mask_separates_touching_neighbour():
    rows, cols = np.ogrid[:64, :64]
    centre = (rows - 32) ** 2 + (cols - 32) ** 2 < 14**2
    neighbour = (rows - 32) ** 2 + (cols - 58) ** 2 < 14**2  # touches the centred cell
    mask, fallback = cell_mask((centre | neighbour) * 0.5)
    assert not fallback
    assert mask[32, 32] and not mask[32, 60]
    assert 0.8 * centre.sum() < mask.sum() < 1.2 * centre.sum()


def test_cell_mask_takes_nearest_region_when_centre_is_background():
    rows, cols = np.ogrid[:64, :64]
    ring = (((rows - 32) ** 2 + (cols - 40) ** 2) < 10**2) * 0.5
    mask, fallback = cell_mask(ring)
    assert not fallback and mask[32, 40]


@pytest.mark.parametrize("marker", [np.zeros((64, 64)), np.full((64, 64), 0.3)])
def test_cell_mask_falls_back_to_disc_on_flat_marker(marker):
    mask, fallback = cell_mask(marker)
    assert fallback
    assert mask[32, 32] and abs(mask.sum() - np.pi * FALLBACK_RADIUS**2) < 40


def test_cell_mask_falls_back_when_no_region_near_centre():
    marker = np.zeros((64, 64))
    marker[:12, :12] = 0.5
    assert cell_mask(marker)[1]


def test_cell_mask_raises_nan_pixels():
    marker = np.ones((64, 64))
    marker[3, 3] = np.nan
    with pytest.raises(InputError, match="1 NaN"):
        cell_mask(marker)


def test_cell_mask_raises_wrong_rank():
    with pytest.raises(InputError, match="2-D"):
        cell_mask(np.ones((4, 64, 64)))
