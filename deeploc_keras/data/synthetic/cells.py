"""Yeast cell geometry for a batch of crops: ellipsoidal mother and bud, nucleus, vacuoles, neighbours.

All fields are computed with numpy over the whole batch on a padded canvas
(:data:`CANVAS`), so blur can be applied by FFT without wrap-around reaching
the 64x64 crop that is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CROP", "PAD", "CANVAS", "Geometry", "draw_geometry"]

CROP = 64
PAD = 6
CANVAS = CROP + 2 * PAD

_YY, _XX = np.mgrid[:CANVAS, :CANVAS].astype(np.float32)
_AXIS = np.arange(CANVAS, dtype=np.float32)


def _soft(inside_distance: np.ndarray) -> np.ndarray:
    """Anti-aliased mask from a signed distance in pixels (positive inside), computed in place."""
    inside_distance += 0.5
    return np.clip(inside_distance, 0.0, 1.0, out=inside_distance)


def _soft_rho(rho: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Soft mask ``_soft((1 - rho) * radius)`` of a normalized radius field (new array)."""
    r = radius[:, None, None]
    return _soft(r - rho * r)


def _ellipse_rho(cy, cx, a, b, angle) -> np.ndarray:
    """Normalized elliptical radius (1 on the boundary), shape (n, CANVAS, CANVAS).

    The rotated coordinates are sums of a row term and a column term, so only
    the final combination touches full canvases.
    """
    ys = _AXIS[None] - cy[:, None]
    xs = _AXIS[None] - cx[:, None]
    cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
    ia, ib = (1 / a)[:, None], (1 / b)[:, None]
    u = (xs * cos * ia)[:, None, :] + (ys * sin * ia)[:, :, None]
    v = (ys * cos * ib)[:, :, None] - (xs * sin * ib)[:, None, :]
    u *= u
    v *= v
    u += v
    return np.sqrt(u, out=u)


def _distance(cy, cx) -> np.ndarray:
    """Euclidean distance to a centre per cell, shape (n, CANVAS, CANVAS)."""
    d = ((_AXIS[None] - cy[:, None]) ** 2)[:, :, None] + ((_AXIS[None] - cx[:, None]) ** 2)[:, None, :]
    return np.sqrt(d, out=d)


@dataclass
class Geometry:
    """Cell geometry of a batch (per-cell scalars and per-pixel fields on the canvas).

    Attributes
    ----------
    centre, bud_centre, nucleus_centre : numpy.ndarray, shape (n, 2)
        (row, column) on the canvas.
    a, b, angle : numpy.ndarray, shape (n,)
        Mother semi-axes (px) and orientation (rad).
    bud_radius, bud_fraction : numpy.ndarray, shape (n,)
        Bud radius (0 when unbudded) and bud/mother size ratio (the cell-cycle stage).
    nucleus_radius : numpy.ndarray, shape (n,)
    rho_mother, rho_bud, rho_nucleus : numpy.ndarray, shape (n, CANVAS, CANVAS)
        Normalized radii (< 1 inside).
    cell, bud, nucleus, vacuole, neighbours : numpy.ndarray, shape (n, CANVAS, CANVAS)
        Soft masks in [0, 1].
    """

    centre: np.ndarray
    bud_centre: np.ndarray
    nucleus_centre: np.ndarray
    vacuole_centres: np.ndarray
    vacuole_radii: np.ndarray
    a: np.ndarray
    b: np.ndarray
    angle: np.ndarray
    bud_radius: np.ndarray
    bud_fraction: np.ndarray
    nucleus_radius: np.ndarray
    rho_mother: np.ndarray
    rho_bud: np.ndarray
    rho_nucleus: np.ndarray
    cell: np.ndarray
    bud: np.ndarray
    nucleus: np.ndarray
    vacuole: np.ndarray
    neighbours: np.ndarray

    def __len__(self) -> int:
        return len(self.a)


def _vacuoles(centres: np.ndarray, radii: np.ndarray, mother: np.ndarray, nucleus: np.ndarray) -> np.ndarray:
    """Soft discs of up to three vacuoles per cell (radius 0: none), inside the mother cell, outside the nucleus."""
    vacuole = np.zeros_like(mother)
    for k in range(radii.shape[1]):
        sel = radii[:, k] > 0
        disc = _distance(centres[sel, k, 0], centres[sel, k, 1])
        np.subtract(radii[sel, k, None, None], disc, out=disc)
        vacuole[sel] = np.maximum(vacuole[sel], _soft(disc))
    vacuole *= mother
    vacuole *= 1 - nucleus
    return vacuole


def _neighbours(centre: np.ndarray, a: np.ndarray, cell: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Zero to three neighbouring cells around each cell (soft discs), outside the cell itself."""
    f32 = np.float32
    n = len(centre)
    neighbours = np.zeros_like(cell)
    n_nb = rng.integers(0, 4, n)
    for k in range(3):
        nb_phi = rng.uniform(0, 2 * np.pi, n)
        nb_r = rng.uniform(13.0, 20.0, n).astype(f32)
        dist = a + nb_r + rng.uniform(0.0, 8.0, n)
        sel = k < n_nb
        cy = (centre[:, 0] + dist * np.sin(nb_phi)).astype(f32)[sel]
        cx = (centre[:, 1] + dist * np.cos(nb_phi)).astype(f32)[sel]
        disc = _distance(cy, cx)
        np.subtract(nb_r[sel, None, None], disc, out=disc)
        neighbours[sel] = np.maximum(neighbours[sel], _soft(disc))
    neighbours *= 1 - cell
    return neighbours


def draw_geometry(
    n: int,
    rng: np.random.Generator,
    *,
    off_centre: float = 1.5,
    budded_fraction: float = 0.55,
    shrink: np.ndarray | None = None,
) -> Geometry:
    """Draw ``n`` yeast cells centred in their crops.

    Parameters
    ----------
    n : int
        Number of cells.
    rng : numpy.random.Generator
        Source of every draw.
    off_centre : float, default 1.5
        Standard deviation (px) of the cell centre around the crop centre.
    budded_fraction : float, default 0.55
        Share of budding cells.
    shrink : numpy.ndarray of float, shape (n,), optional
        Size factor per cell (dead cells shrink).

    Returns
    -------
    Geometry

    Examples
    --------
    >>> g = draw_geometry(4, np.random.default_rng(0))
    >>> g.cell.shape, bool((g.cell[:, CANVAS // 2, CANVAS // 2] > 0.5).all())
    ((4, 76, 76), True)
    """
    f32 = np.float32
    a = rng.uniform(14.0, 21.0, n).astype(f32)
    if shrink is not None:
        a = (a * shrink).astype(f32)
    b = (a * rng.uniform(0.78, 0.98, n)).astype(f32)
    angle = rng.uniform(0, np.pi, n).astype(f32)
    centre = (CANVAS / 2 - 0.5 + rng.normal(0, off_centre, (n, 2))).astype(f32)
    budded = rng.random(n) < budded_fraction
    bud_fraction = np.where(budded, rng.uniform(0.2, 0.8, n), 0.0).astype(f32)
    bud_radius = (bud_fraction * b).astype(f32)
    phi = angle + rng.normal(0, 0.35, n) + np.pi * rng.integers(0, 2, n)
    psi = phi - angle
    edge = a * b / np.sqrt((b * np.cos(psi)) ** 2 + (a * np.sin(psi)) ** 2)
    reach = edge + 0.75 * bud_radius
    direction = np.stack([np.sin(phi), np.cos(phi)], 1).astype(f32)
    centre = (centre - 0.3 * (reach * budded)[:, None] * direction).astype(f32)
    bud_centre = (centre + reach[:, None] * direction).astype(f32)
    bud_angle = phi.astype(f32)
    nuc_r = (0.36 * b * rng.uniform(0.9, 1.1, n)).astype(f32)
    nuc_phi = rng.uniform(0, 2 * np.pi, n)
    nuc_off = 0.25 * b * rng.random(n)
    nucleus_centre = (centre + (nuc_off * np.stack([np.sin(nuc_phi), np.cos(nuc_phi)], 0)).T).astype(f32)
    # up to three vacuoles on the side opposite the nucleus
    n_vac = rng.integers(1, 4, n)
    vac_r = (b[:, None] * rng.uniform(0.3, 0.5, (n, 3)) / np.sqrt(n_vac)[:, None] * 1.1).astype(f32)
    vac_r[np.arange(3)[None, :] >= n_vac[:, None]] = 0
    vac_phi = nuc_phi[:, None] + np.pi + rng.normal(0, 0.8, (n, 3))
    vac_off = (0.35 * b)[:, None] * rng.uniform(0.3, 1.0, (n, 3))
    vacuole_centres = (centre[:, None, :] + vac_off[..., None] * np.stack([np.sin(vac_phi), np.cos(vac_phi)], -1))
    vacuole_centres = vacuole_centres.astype(f32)

    rho_m = _ellipse_rho(centre[:, 0], centre[:, 1], a, b, angle)
    safe_bud = np.maximum(bud_radius, 1e-3)
    rho_b = np.full_like(rho_m, np.inf)
    if budded.any():
        rho_b[budded] = _ellipse_rho(bud_centre[budded, 0], bud_centre[budded, 1], safe_bud[budded],
                                     safe_bud[budded] * f32(0.92), bud_angle[budded])
    mother = _soft_rho(rho_m, b)
    bud = np.zeros_like(mother)
    if budded.any():
        bud[budded] = _soft_rho(rho_b[budded], safe_bud[budded])
    cell = np.maximum(mother, bud)
    rho_n = _ellipse_rho(nucleus_centre[:, 0], nucleus_centre[:, 1], nuc_r, nuc_r, angle)
    nucleus = _soft_rho(rho_n, nuc_r)
    vacuole = _vacuoles(vacuole_centres, vac_r, mother, nucleus)
    neighbours = _neighbours(centre, a, cell, rng)
    return Geometry(
        centre=centre, bud_centre=bud_centre, nucleus_centre=nucleus_centre, vacuole_centres=vacuole_centres,
        vacuole_radii=vac_r, a=a, b=b, angle=angle, bud_radius=bud_radius * budded, bud_fraction=bud_fraction,
        nucleus_radius=nuc_r, rho_mother=rho_m, rho_bud=rho_b, rho_nucleus=rho_n, cell=cell, bud=bud,
        nucleus=nucleus, vacuole=vacuole, neighbours=neighbours,
    )
