"""How a protein's function parameters shape its image, in the two channels of :mod:`.parameters`.

- :func:`render_protein` (label-aligned): the class's own pattern, plus a share of the
  light in the class's partner compartment (:data:`PARTNERS`) and a share in granules
  inside the class's region (:data:`REGIONS`), each share set by ``theta``; the total
  light stays that of the class's pattern.
- :func:`modulation` (label-orthogonal): a multiplicative field over the cell, the
  mottling (grain and strength), a radial gradient across the compartment and a
  gradient towards the bud, applied to the diffuse light and to the point sources alike.
"""

from __future__ import annotations

import numpy as np
import scipy.fft as _fft

from .camera import FFT_SIZE, transfer
from .cells import _AXIS, CANVAS, Geometry
from .parameters import (
    count_scale,
    foci_share,
    partner_share,
    polarity_slope,
    radial_slope,
    size_scale,
    texture_amplitude,
    texture_sigma,
)
from .patterns import Pattern, _bud_direction, _in_cell, render_pattern

__all__ = ["PARTNERS", "REGIONS", "granules", "render_protein", "modulation"]

#: The compartment that takes a share of each class's light (``partner``): the nucleus of a cytoplasmic
#: protein, the cytoplasm of a nuclear one, the vacuole of a plasma-membrane one, ...
PARTNERS: dict[str, str] = {
    "ACTIN": "CELLPERIPHERY", "BUDNECK": "CELLPERIPHERY", "BUDTIP": "CELLPERIPHERY", "CELLPERIPHERY": "VACUOLE",
    "CYTOPLASM": "NUCLEI", "ENDOSOME": "VACUOLARMEMBRANE", "ER": "NUCLEARPERIPHERY", "GOLGI": "ER",
    "MITOCHONDRIA": "CYTOPLASM", "NUCLEARPERIPHERY": "ER", "NUCLEI": "CYTOPLASM", "NUCLEOLUS": "NUCLEI",
    "PEROXISOME": "CYTOPLASM", "SPINDLE": "NUCLEI", "SPINDLEPOLE": "NUCLEI", "VACUOLARMEMBRANE": "VACUOLE",
    "VACUOLE": "VACUOLARMEMBRANE",
}  # fmt: skip
#: Where each class's granules form (``foci``): speckle-like in the nucleus, P-body-like in the
#: cytoplasm, in the lumen of the largest vacuole.
REGIONS: dict[str, str] = {
    **dict.fromkeys(PARTNERS, "cytoplasm"),
    **dict.fromkeys(("NUCLEI", "NUCLEOLUS", "NUCLEARPERIPHERY", "SPINDLE", "SPINDLEPOLE"), "nucleus"),
    **dict.fromkeys(("VACUOLE", "VACUOLARMEMBRANE"), "vacuole"),
}
_GRANULES_PER_CELL = 4.0  # expected granules at count = 0
_GRANULE_SIGMA = 0.9  # px at size = 0


def granules(region: str, g: Geometry, idx: np.ndarray, theta: np.ndarray, rng: np.random.Generator) -> Pattern:
    """Point-like granules of the cells ``idx`` in ``region`` ("nucleus", "cytoplasm" or "vacuole").

    Their number is Poisson with mean ``4 count_scale`` (1 to 20 per cell) and their size
    ``0.9 size_scale`` px; each carries a random brightness between 0.6 and 1.4.

    Examples
    --------
    >>> from deeploc_keras.data.synthetic.cells import draw_geometry
    >>> g = draw_geometry(2, np.random.default_rng(0))
    >>> p = granules("nucleus", g, np.arange(2), np.zeros((2, 8)), np.random.default_rng(1))
    >>> bool(np.all(np.hypot(p.y - g.nucleus_centre[p.cell, 0], p.x - g.nucleus_centre[p.cell, 1])
    ...             <= 0.8 * g.nucleus_radius[p.cell] + 1e-4))
    True
    """
    m = len(idx)
    counts = np.clip(rng.poisson(_GRANULES_PER_CELL * count_scale(theta)), 1, 20)
    if region == "cytoplasm":
        cell, y, x = _in_cell(g, idx, counts, rng, theta, lo=0.35, hi=0.9)
    else:
        cell = np.repeat(np.arange(m), counts)
        if region == "nucleus":
            centre, radius = g.nucleus_centre[idx[cell]], g.nucleus_radius[idx[cell]]
        else:
            centre, radius = g.vacuole_centres[idx[cell], 0], g.vacuole_radii[idx[cell], 0]
        r = 0.8 * radius * np.sqrt(rng.random(len(cell)))
        ang = rng.uniform(0, 2 * np.pi, len(cell))
        y, x = centre[:, 0] + r * np.sin(ang), centre[:, 1] + r * np.cos(ang)
    spot = _GRANULE_SIGMA * size_scale(theta)
    weight = rng.uniform(0.6, 1.4, len(cell)) * 2 * np.pi * (1.2 + spot[cell]) ** 2
    return Pattern(np.zeros((m, CANVAS, CANVAS), np.float32), cell, y, x, weight, spot)


def _mass(p: Pattern, m: int) -> np.ndarray:
    """Total light of each cell of a pattern (diffuse plus point sources)."""
    return p.diffuse.sum(axis=(1, 2), dtype=np.float64) + np.bincount(p.cell, weights=p.weight, minlength=m)


def render_protein(name: str, g: Geometry, idx: np.ndarray, theta: np.ndarray, rng: np.random.Generator) -> Pattern:
    """The pattern of proteins of class ``name``: their class's own, their partner's and their granules.

    The partner compartment (:data:`PARTNERS`) takes ``partner_share(theta)`` of the light, the
    granules (:func:`granules` in :data:`REGIONS`) ``foci_share(theta)``, the class's pattern the rest;
    the total equals that of the class's pattern alone.

    Parameters
    ----------
    name : str
        A localization class (a key of :data:`PARTNERS`).
    g : Geometry
    idx : numpy.ndarray of int, shape (m,)
    theta : numpy.ndarray, shape (m, N_PARAMETERS)
    rng : numpy.random.Generator

    Returns
    -------
    Pattern

    Examples
    --------
    >>> from deeploc_keras.data.synthetic.cells import draw_geometry
    >>> g = draw_geometry(2, np.random.default_rng(0))
    >>> own = render_pattern("CYTOPLASM", g, np.arange(2), np.zeros((2, 8)), np.random.default_rng(1))
    >>> p = render_protein("CYTOPLASM", g, np.arange(2), np.zeros((2, 8)), np.random.default_rng(1))
    >>> bool(np.allclose(_mass(p, 2), _mass(own, 2))), len(p.cell) > 0
    (True, True)
    """
    m = len(idx)
    own = render_pattern(name, g, idx, theta, rng)
    partner = render_pattern(PARTNERS[name], g, idx, theta, rng)
    grains = granules(REGIONS[name], g, idx, theta, rng)
    total = _mass(own, m)
    f, q = foci_share(theta), partner_share(theta)
    w_own = 1 - f - q
    w_partner = q * total / np.maximum(_mass(partner, m), 1e-9)
    w_grains = f * total / np.maximum(_mass(grains, m), 1e-9)
    f32 = np.float32
    diffuse = own.diffuse * w_own.astype(f32)[:, None, None]
    diffuse += partner.diffuse * w_partner.astype(f32)[:, None, None]
    parts = ((own, w_own), (partner, w_partner), (grains, w_grains))
    return Pattern(
        diffuse=diffuse, cell=np.concatenate([p.cell for p, _ in parts]),
        y=np.concatenate([p.y for p, _ in parts]), x=np.concatenate([p.x for p, _ in parts]),
        weight=np.concatenate([p.weight * w[p.cell] for p, w in parts]),
        spot_sigma=np.maximum.reduce([np.broadcast_to(p.spot_sigma, m) for p, _ in parts]),
    )


def _white_fields(spec_filter: np.ndarray, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` unit-variance Gaussian random fields on the canvas: complex white noise drawn as a spectrum, shaped
    by ``spec_filter`` (broadcast to (n, FFT_SIZE, FFT_SIZE // 2 + 1)), transformed back."""
    white = rng.standard_normal((2, n, FFT_SIZE, FFT_SIZE // 2 + 1), dtype=np.float32)
    spec = white[0] + 1j * white[1]
    spec *= spec_filter
    field = _fft.irfft2(spec, s=(FFT_SIZE, FFT_SIZE))[:, :CANVAS, :CANVAS]
    field /= field.std(axis=(1, 2), keepdims=True) + np.float32(1e-6)
    return field


#: The marker's mottling: a fixed pool of fields of one grain (1.5 px; it carries no function), drawn once.
_MARKER_POOL = _white_fields(transfer(np.array([1.5])), np.random.default_rng(20240607), 64)


def _marker_texture(n: int, rng: np.random.Generator) -> np.ndarray:
    """A field of the pool per cell, in one of its eight orientations (flips and transposition)."""
    pick, flip = rng.integers(0, len(_MARKER_POOL), n), rng.integers(0, 8, n)
    fields = _MARKER_POOL[pick]
    for bit, axis in ((1, 1), (2, 2)):
        sel = (flip & bit).astype(bool)
        fields[sel] = np.flip(fields[sel], axis=axis)
    sel = (flip & 4).astype(bool)
    fields[sel] = fields[sel].transpose(0, 2, 1)
    return fields


def modulation(g: Geometry, theta: np.ndarray, nuclear: np.ndarray, rng: np.random.Generator
               ) -> tuple[np.ndarray, np.ndarray]:
    """The label-orthogonal field multiplying a cell's protein light, and the marker's own mottling.

    ``exp(texture_amplitude * texture + radial_slope * (rho - 0.6) + polarity_slope * s)``: the texture has
    grain ``texture_sigma``; ``rho`` is the normalized radius in the nucleus (``nuclear`` cells) or the
    mother cell, clipped to [0, 1.3]; ``s`` is the distance from the mother's centre along the
    mother-to-bud axis in mother semi-axes, clipped to [-1.5, 2.5] (0 in unbudded cells).

    Parameters
    ----------
    g : Geometry
    theta : numpy.ndarray, shape (n, N_PARAMETERS)
        Parameters of each cell's protein.
    nuclear : numpy.ndarray of bool, shape (n,)
        Cells whose class lives in the nucleus (the radial gradient runs across the nucleus).
    rng : numpy.random.Generator

    Returns
    -------
    field : numpy.ndarray of float32, shape (n, CANVAS, CANVAS)
    marker_texture : numpy.ndarray of float32, shape (n, CANVAS, CANVAS)
        A unit-variance field of fixed grain for the marker (it carries no function).

    Examples
    --------
    >>> from deeploc_keras.data.synthetic.cells import draw_geometry
    >>> g = draw_geometry(2, np.random.default_rng(0))
    >>> field, marker = modulation(g, np.zeros((2, 8)), np.zeros(2, bool), np.random.default_rng(1))
    >>> field.shape, bool((field > 0).all())
    ((2, 76, 76), True)
    """
    f32 = np.float32
    tex = _white_fields(transfer(texture_sigma(theta)), rng, len(theta))
    marker = _marker_texture(len(theta), rng)
    log_field = g.rho_mother.copy()
    log_field[nuclear] = g.rho_nucleus[nuclear]
    np.clip(log_field, 0, 1.3, out=log_field)
    log_field -= f32(0.6)
    log_field *= radial_slope(theta).astype(f32)[:, None, None]
    log_field += texture_amplitude(theta).astype(f32)[:, None, None] * tex
    budded = np.flatnonzero(g.bud_radius > 0)
    if budded.size:
        d = _bud_direction(g, budded).astype(f32)
        ys = (_AXIS[None] - g.centre[budded, 0, None]) * d[:, :1]
        xs = (_AXIS[None] - g.centre[budded, 1, None]) * d[:, 1:]
        along = np.clip((ys[:, :, None] + xs[:, None, :]) / g.a[budded, None, None], -1.5, 2.5)
        log_field[budded] += polarity_slope(theta[budded]).astype(f32)[:, None, None] * along
    return np.exp(log_field, out=log_field), marker
