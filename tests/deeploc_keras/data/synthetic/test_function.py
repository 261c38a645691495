"""The two function channels: every class carries both, and each parameter acts as documented."""

from __future__ import annotations

import numpy as np
import pytest

from deeploc_keras.core.errors import InputError
from deeploc_keras.data.synthetic.cells import draw_geometry
from deeploc_keras.data.synthetic.function import PARTNERS, REGIONS, modulation, render_protein
from deeploc_keras.data.synthetic.hierarchy import LOCALIZATION_CLASSES
from deeploc_keras.data.synthetic.parameters import (
    FUNCTION_CHANNELS,
    MAX_MOVED,
    N_PARAMETERS,
    PARAMETER_NAMES,
    POSITION,
    foci_share,
    partner_share,
)
from deeploc_keras.data.synthetic.patterns import render_pattern
from deeploc_keras.data.synthetic.screen import render_cells


def _theta(channel: str, value: float) -> np.ndarray:
    theta = np.zeros(N_PARAMETERS)
    theta[[PARAMETER_NAMES.index(p) for p in FUNCTION_CHANNELS[channel]]] = value
    return theta


def _light(name: str, theta: np.ndarray, g, seed: int) -> np.ndarray:
    """A protein's light on the canvas (its class's pattern with the label-aligned function, then the
    label-orthogonal field), each cell normalized to sum 1: what the optics and the camera then record."""
    n = len(g)
    thetas = np.repeat(theta[None], n, axis=0)
    rng = np.random.default_rng(seed)
    pattern = render_protein(name, g, np.arange(n), thetas, rng)
    field, _ = modulation(g, thetas, np.full(n, REGIONS[name] == "nucleus"), rng)
    light = pattern.diffuse * field
    row = np.clip(np.rint(pattern.y).astype(int), 0, light.shape[1] - 1)
    col = np.clip(np.rint(pattern.x).astype(int), 0, light.shape[2] - 1)
    np.add.at(light, (pattern.cell, row, col), pattern.weight * field[pattern.cell, row, col])
    return light / light.sum(axis=(1, 2), keepdims=True)


def test_channels_split_the_parameters():
    assert sum(FUNCTION_CHANNELS.values(), ()) == PARAMETER_NAMES
    assert set(PARTNERS) == set(REGIONS) == set(LOCALIZATION_CLASSES)
    assert all(PARTNERS[c] != c for c in PARTNERS)


@pytest.mark.parametrize("channel", sorted(FUNCTION_CHANNELS))
def test_every_class_carries_both_channels(channel):
    """In every class, moving one channel's parameters from -1.5 to +1.5 (the rest 0) changes the protein's light
    (the same cells, the same random stream): at least 10 % of it moves in 9 of 10 cells. (Whether the
    changes can be read from the camera's images is the oracle gate's test.)"""
    g = draw_geometry(20, np.random.default_rng(0))
    unchanged = {}
    for name in LOCALIZATION_CLASSES:
        low, high = _light(name, _theta(channel, -1.5), g, 1), _light(name, _theta(channel, 1.5), g, 1)
        moved = 0.5 * np.abs(high - low).sum(axis=(1, 2))
        if (moved > 0.1).mean() < 0.9:
            unchanged[name] = np.round(np.median(moved), 3)
    assert not unchanged, unchanged


def test_nucleolus_offset_follows_position():
    """The nucleolus sits near the nuclear centre at low position and at the envelope at high position."""
    g = draw_geometry(64, np.random.default_rng(0))
    offsets = []
    for value in (-2.0, 2.0):
        theta = np.zeros((64, N_PARAMETERS))
        theta[:, POSITION] = value
        light = render_pattern("NUCLEOLUS", g, np.arange(64), theta, np.random.default_rng(1)).diffuse
        light = light - 0.08 * g.nucleus  # the nucleoplasm's haze
        total = light.sum(axis=(1, 2))
        cy = (light * np.arange(light.shape[1])[None, :, None]).sum(axis=(1, 2)) / total
        cx = (light * np.arange(light.shape[2])[None, None, :]).sum(axis=(1, 2)) / total
        distance = np.hypot(cy - g.nucleus_centre[:, 0], cx - g.nucleus_centre[:, 1]) / g.nucleus_radius
        offsets.append(distance)
    assert np.median(offsets[1] - offsets[0]) > 0.25 and (offsets[1] > offsets[0]).mean() > 0.9


def test_shares_keep_the_class_pattern_and_the_total_light():
    rng = np.random.default_rng(0)
    theta = rng.normal(0, 3, (500, N_PARAMETERS))
    moved = foci_share(theta) + partner_share(theta)
    assert moved.max() <= MAX_MOVED + 1e-12 and moved.min() > 0
    g = draw_geometry(6, np.random.default_rng(1))
    for name in ("CYTOPLASM", "NUCLEI", "VACUOLE", "GOLGI"):
        own = render_pattern(name, g, np.arange(6), theta[:6], np.random.default_rng(2))
        both = render_protein(name, g, np.arange(6), theta[:6], np.random.default_rng(2))
        for p in (own, both):
            p.total = p.diffuse.sum(axis=(1, 2)) + np.bincount(p.cell, weights=p.weight, minlength=6)
        np.testing.assert_allclose(both.total, own.total, rtol=1e-4)


def test_render_cells_raises_wrong_theta_length():
    with pytest.raises(InputError, match="theta must hold the 8 parameters"):
        render_cells("NUCLEI", [0.0] * 3, 2)


def test_render_cells_raises_unknown_class():
    with pytest.raises(InputError, match="class_name must be one of"):
        render_cells("NUCLEUS", [0.0] * N_PARAMETERS, 2)
