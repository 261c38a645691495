"""One renderer per localization class: the GFP pattern of a batch of cells.

A renderer returns a diffuse density on the canvas (peak about 1) and a set of
point sources (puncta, tubules, lines) that the screen scatters and blurs with
a per-cell spot size. The function parameters ``theta``
(:mod:`~deeploc_keras.data.synthetic.parameters`) set the number of puncta and tubules
(``count``), the size of puncta and the width of rings and lines (``size``), the radial
placement of puncta, tubules and the nucleolus (``position``) and the share of puncta in
the bud (``polarity``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .cells import _XX, _YY, Geometry
from .parameters import count_scale, polarity_slope, position_shift, size_scale

__all__ = ["Pattern", "RENDERERS", "render_pattern"]


@dataclass
class Pattern:
    """The GFP pattern of ``m`` cells.

    Attributes
    ----------
    diffuse : numpy.ndarray, shape (m, CANVAS, CANVAS)
    cell, y, x, weight : numpy.ndarray, shape (k,)
        Point sources: local cell index, canvas position and integrated intensity.
    spot_sigma : numpy.ndarray, shape (m,)
        Extra blur (px) of the point sources (their size).
    """

    diffuse: np.ndarray
    cell: np.ndarray
    y: np.ndarray
    x: np.ndarray
    weight: np.ndarray
    spot_sigma: np.ndarray


def _ring(rho: np.ndarray, radius: np.ndarray, width: np.ndarray) -> np.ndarray:
    d = (rho - 1) * radius[:, None, None] / width[:, None, None]
    return np.exp(-0.5 * d * d)


def _bud_direction(g: Geometry, idx: np.ndarray) -> np.ndarray:
    vec = g.bud_centre[idx] - g.centre[idx]
    norm = np.linalg.norm(vec, axis=1, keepdims=True)
    fallback = np.stack([np.sin(g.angle[idx]), np.cos(g.angle[idx])], 1)
    return np.where(norm > 1e-3, vec / np.maximum(norm, 1e-6), fallback)


def _counts(rng, theta, base: float, low: int, high: int) -> np.ndarray:
    lam = base * count_scale(theta)
    return np.clip(rng.poisson(lam), low, high)


def _in_cell(g: Geometry, idx, counts, rng, theta, *, lo: float, hi: float, bud_share: float = 0.25):
    """Random points inside the mother (radial range lo..hi shifted by theta position) or the bud."""
    cell = np.repeat(np.arange(len(idx)), counts)
    gi = idx[cell]
    shift = position_shift(theta)[cell]
    r = np.sqrt(rng.uniform(np.clip(lo + shift, 0, 1) ** 2, np.clip(hi + shift, 0.05, 0.97) ** 2))
    ang = rng.uniform(0, 2 * np.pi, len(cell))
    u, v = g.a[gi] * r * np.cos(ang), g.b[gi] * r * np.sin(ang)
    cos, sin = np.cos(g.angle[gi]), np.sin(g.angle[gi])
    y = g.centre[gi, 0] + u * sin + v * cos
    x = g.centre[gi, 1] + u * cos - v * sin
    p_bud = np.clip(bud_share * np.exp(2 * polarity_slope(theta)[cell]), 0, 0.9) * (g.bud_radius[gi] > 0)
    in_bud = rng.random(len(cell)) < p_bud
    y = np.where(in_bud, g.bud_centre[gi, 0] + g.bud_radius[gi] * r * np.sin(ang), y)
    x = np.where(in_bud, g.bud_centre[gi, 1] + g.bud_radius[gi] * r * np.cos(ang), x)
    return cell, y, x


def _spots(g, idx, theta, rng, *, base, low, high, lo, hi, sigma, brightness, bud_share=0.25) -> Pattern:
    counts = _counts(rng, theta, base, low, high)
    cell, y, x = _in_cell(g, idx, counts, rng, theta, lo=lo, hi=hi, bud_share=bud_share)
    spot = sigma * size_scale(theta)
    w = brightness * rng.uniform(0.6, 1.4, len(cell)) * 2 * np.pi * (1.2 + spot[cell]) ** 2
    haze = 0.06 * g.cell[idx] * (1 - g.vacuole[idx])
    return Pattern(haze, cell, y, x, w, spot)


def _line(g, idx, start, end, per_cell: int, rng, brightness, sigma) -> Pattern:
    m = len(idx)
    t = rng.random((m, per_cell))
    y = start[:, 0, None] + t * (end[:, 0] - start[:, 0])[:, None]
    x = start[:, 1, None] + t * (end[:, 1] - start[:, 1])[:, None]
    length = np.linalg.norm(end - start, axis=1) + 1.0
    w = np.repeat(brightness * length * 2.5 / per_cell, per_cell)
    return Pattern(np.zeros((m, *g.cell.shape[1:]), np.float32), np.repeat(np.arange(m), per_cell),
                   y.ravel(), x.ravel(), w, sigma)


def _empty(m: int) -> dict:
    e = np.zeros(0)
    return {"cell": e.astype(np.int64), "y": e, "x": e, "weight": e, "spot_sigma": np.zeros(m)}


def _diffuse(d: np.ndarray) -> Pattern:
    return Pattern(d.astype(np.float32), **_empty(len(d)))


def _cytoplasm(g, idx, theta, rng):
    return _diffuse(g.cell[idx] * (1 - g.vacuole[idx]) * (1 - 0.35 * g.nucleus[idx]))


def _nuclei(g, idx, theta, rng):
    return _diffuse(g.nucleus[idx] * 1.6 + 0.04 * g.cell[idx] * (1 - g.vacuole[idx]))


def _nucleolus(g, idx, theta, rng):
    phi = rng.uniform(0, 2 * np.pi, len(idx))
    r = g.nucleus_radius[idx]
    offset = (0.6 + 2 * position_shift(theta)) * r  # 0.3 (central) to 0.9 (at the envelope) of the radius
    cy = g.nucleus_centre[idx, 0] + offset * np.sin(phi)
    cx = g.nucleus_centre[idx, 1] + offset * np.cos(phi)
    dist = np.sqrt((_YY[None] - cy[:, None, None]) ** 2 + (_XX[None] - cx[:, None, None]) ** 2)
    disc = np.clip(0.5 + (0.75 * r * np.sqrt(size_scale(theta)))[:, None, None] - dist, 0, 1)
    return _diffuse(2.2 * g.nucleus[idx] * disc + 0.08 * g.nucleus[idx])


def _width(theta, base):
    return base * np.sqrt(size_scale(theta))


def _nuclear_periphery(g, idx, theta, rng):
    return _diffuse(1.5 * _ring(g.rho_nucleus[idx], g.nucleus_radius[idx], _width(theta, 0.9)))


def _cortex(g, idx, width):
    rim_m = _ring(g.rho_mother[idx], g.b[idx], width) * (1 - g.bud[idx])
    rim_b = _ring(g.rho_bud[idx], np.maximum(g.bud_radius[idx], 1e-3), width) * (g.bud_radius[idx] > 0)[:, None, None]
    return np.maximum(rim_m, rim_b * (g.rho_mother[idx] > 1))


def _periphery(g, idx, theta, rng):
    return _diffuse(1.5 * _cortex(g, idx, _width(theta, 1.0)))


def _er(g, idx, theta, rng):
    width = _width(theta, 0.9)
    nuclear = _ring(g.rho_nucleus[idx], g.nucleus_radius[idx], width)
    return _diffuse(1.2 * np.maximum(_cortex(g, idx, width), nuclear) + 0.1 * g.cell[idx] * (1 - g.vacuole[idx]))


def _vacuole(g, idx, theta, rng):
    return _diffuse(1.4 * g.vacuole[idx] + 0.05 * g.cell[idx])


def _vacuolar_membrane(g, idx, theta, rng):
    width = _width(theta, 0.9)[:, None, None]
    ring = np.zeros_like(g.cell[idx])
    for k in range(3):
        r = g.vacuole_radii[idx, k][:, None, None]
        dy = _YY[None] - g.vacuole_centres[idx, k, 0][:, None, None]
        dx = _XX[None] - g.vacuole_centres[idx, k, 1][:, None, None]
        d = (np.sqrt(dy * dy + dx * dx) - r) / width
        ring = np.maximum(ring, np.exp(-0.5 * d * d) * (r > 0))
    return _diffuse(1.6 * ring * g.cell[idx])


def _mitochondria(g, idx, theta, rng):
    m = len(idx)
    tubes = _counts(rng, theta, 6.0, 3, 10)
    per = 18
    cell = np.repeat(np.arange(m), tubes)
    gi = idx[cell]
    start = rng.uniform(0, 2 * np.pi, len(cell))
    span = rng.uniform(0.6, 1.5, len(cell))
    t = np.linspace(0, 1, per)[None, :]
    ang = start[:, None] + span[:, None] * t
    rad = (0.78 + 0.5 * position_shift(theta)[cell])[:, None] + 0.08 * np.sin(rng.uniform(0, 6, (len(cell), 1))
                                                                           + 6 * t)
    u, v = g.a[gi, None] * rad * np.cos(ang), g.b[gi, None] * rad * np.sin(ang)
    cos, sin = np.cos(g.angle[gi])[:, None], np.sin(g.angle[gi])[:, None]
    y = g.centre[gi, 0, None] + u * sin + v * cos
    x = g.centre[gi, 1, None] + u * cos - v * sin
    w = np.full(y.size, 1.6 * 2.2)
    spot = 0.5 * size_scale(theta)
    return Pattern(0.05 * g.cell[idx], np.repeat(cell, per), y.ravel(), x.ravel(), w, spot)


def _actin(g, idx, theta, rng):
    return _spots(g, idx, theta, rng, base=12, low=4, high=30, lo=0.75, hi=0.95, sigma=0.5, brightness=1.3,
                  bud_share=0.65)


def _endosome(g, idx, theta, rng):
    return _spots(g, idx, theta, rng, base=3.5, low=1, high=8, lo=0.1, hi=0.8, sigma=1.1, brightness=1.2)


def _golgi(g, idx, theta, rng):
    return _spots(g, idx, theta, rng, base=8, low=3, high=16, lo=0.1, hi=0.9, sigma=0.6, brightness=1.3)


def _peroxisome(g, idx, theta, rng):
    return _spots(g, idx, theta, rng, base=3, low=1, high=7, lo=0.2, hi=0.85, sigma=0.4, brightness=2.2)


def _neck_points(g, idx):
    direction = _bud_direction(g, idx)
    psi = np.arctan2(direction[:, 0], direction[:, 1]) - g.angle[idx]
    a, b = g.a[idx], g.b[idx]
    edge = a * b / np.sqrt((b * np.cos(psi)) ** 2 + (a * np.sin(psi)) ** 2)
    return g.centre[idx] + edge[:, None] * direction, direction


def _budneck(g, idx, theta, rng):
    neck, direction = _neck_points(g, idx)
    half = np.where(g.bud_radius[idx] > 0, np.minimum(0.8 * g.bud_radius[idx], 0.55 * g.b[idx]), 2.5)
    normal = np.stack([direction[:, 1], -direction[:, 0]], 1)
    pat = _line(g, idx, neck - half[:, None] * normal, neck + half[:, None] * normal, 24, rng, 1.5,
                0.7 * np.sqrt(size_scale(theta)))
    pat.diffuse = 0.05 * g.cell[idx]
    return pat


def _budtip(g, idx, theta, rng):
    neck, direction = _neck_points(g, idx)
    tip = np.where((g.bud_radius[idx] > 0)[:, None],
                   g.bud_centre[idx] + 0.75 * g.bud_radius[idx, None] * direction, neck - 1.5 * direction)
    m = len(idx)
    per = 6
    cell = np.repeat(np.arange(m), per)
    y = tip[cell, 0] + rng.normal(0, 1.3, len(cell))
    x = tip[cell, 1] + rng.normal(0, 1.3, len(cell))
    return Pattern(0.05 * g.cell[idx], cell, y, x, np.full(len(cell), 2.0 * 2.5),
                   0.8 * size_scale(theta))


def _spindle(g, idx, theta, rng):
    direction = _bud_direction(g, idx)
    centre = g.nucleus_centre[idx]
    r = g.nucleus_radius[idx]
    long = g.bud_fraction[idx] > 0.45
    start = centre - np.where(long, 0.6, 0.45)[:, None] * r[:, None] * direction
    reach = np.where(long, np.linalg.norm(g.bud_centre[idx] - centre, axis=1) * 0.85, 0.45 * r)
    end = centre + reach[:, None] * direction
    return _line(g, idx, start, end, 20, rng, 1.4, 0.5 * np.sqrt(size_scale(theta)))


def _spindle_pole(g, idx, theta, rng):
    direction = _bud_direction(g, idx)
    centre = g.nucleus_centre[idx]
    r = g.nucleus_radius[idx]
    two = g.bud_radius[idx] > 0
    p1 = centre + 0.85 * r[:, None] * direction
    p2 = centre - 0.85 * r[:, None] * direction
    m = len(idx)
    cell = np.concatenate([np.arange(m), np.flatnonzero(two)])
    pts = np.concatenate([p1, p2[two]])
    w = np.full(len(cell), 2.0 * 2 * np.pi * 1.4**2)
    return Pattern(0.05 * g.cell[idx], cell, pts[:, 0], pts[:, 1], w, 0.4 * size_scale(theta))


def _dead(g, idx, theta, rng):
    return _diffuse(2.0 * g.cell[idx])


def _ghost(g, idx, theta, rng):
    return _diffuse(0.03 * g.cell[idx])


#: Localization class (and artefact) -> renderer ``f(geometry, idx, theta, rng) -> Pattern``.
RENDERERS: dict[str, Callable[..., Pattern]] = {
    "ACTIN": _actin, "BUDNECK": _budneck, "BUDTIP": _budtip, "CELLPERIPHERY": _periphery,
    "CYTOPLASM": _cytoplasm, "ENDOSOME": _endosome, "ER": _er, "GOLGI": _golgi, "MITOCHONDRIA": _mitochondria,
    "NUCLEARPERIPHERY": _nuclear_periphery, "NUCLEI": _nuclei, "NUCLEOLUS": _nucleolus,
    "PEROXISOME": _peroxisome, "SPINDLE": _spindle, "SPINDLEPOLE": _spindle_pole,
    "VACUOLARMEMBRANE": _vacuolar_membrane, "VACUOLE": _vacuole, "DEAD": _dead, "GHOST": _ghost,
}  # fmt: skip


def render_pattern(name: str, geometry: Geometry, idx: np.ndarray, theta: np.ndarray,
                   rng: np.random.Generator) -> Pattern:
    """Render class ``name`` for the cells ``idx`` of ``geometry``.

    Parameters
    ----------
    name : str
        A key of :data:`RENDERERS`.
    geometry : Geometry
        The batch's cells.
    idx : numpy.ndarray of int, shape (m,)
        Which cells of the batch to render.
    theta : numpy.ndarray, shape (m, N_PARAMETERS)
        Morphological parameters of those cells' proteins.
    rng : numpy.random.Generator

    Returns
    -------
    Pattern

    Examples
    --------
    >>> from deeploc_keras.data.synthetic.cells import draw_geometry
    >>> g = draw_geometry(3, np.random.default_rng(0))
    >>> p = render_pattern("GOLGI", g, np.arange(3), np.zeros((3, 8)), np.random.default_rng(1))
    >>> p.diffuse.shape, len(p.cell) >= 9
    ((3, 76, 76), True)
    """
    return RENDERERS[name](geometry, np.asarray(idx), np.asarray(theta, dtype=float), rng)
