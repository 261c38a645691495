"""Simulate a whole yeast ORF-GFP screen: cell store, functional standards and protein table.

Cells are rendered in fixed blocks of :data:`BLOCK_CELLS` whose random streams
derive from ``SeedSequence([seed, 2, block])``, so the images depend only on the
seed and the screen size, never on ``chunk_cells``; memory is bounded by a
block. Proteins are assigned to plates by a random permutation independent of
their function, so plate effects carry no function.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...core.errors import InputError, check_positive_int
from ...core.outputs import atomic_path
from ..store import CellStore, assign_splits
from .camera import DIFFICULTIES, expose, illumination, spectrum, to_crop, transfer
from .cells import CANVAS, CROP, PAD, Geometry, draw_geometry
from .channels import CHANNEL_STANDARDS, channel_groups
from .function import REGIONS, modulation, render_protein
from .grounded import hierarchy_from_annotations
from .hierarchy import ARTEFACT_CLASSES, GROUP_LEVELS, LOCALIZATION_CLASSES, Hierarchy, make_hierarchy
from .parameters import N_PARAMETERS, PARAMETER_NAMES
from .patterns import render_pattern

__all__ = ["BLOCK_CELLS", "STANDARD_NAMES", "SPLIT_FRACTIONS", "HIERARCHY_CHOICES", "SimulatedScreen", "cells_per_protein_counts",
           "choose_hierarchy", "render_cells", "simulate_screen", "write_gmt"]

logger = logging.getLogger(__name__)

#: Cells rendered together with one random stream (fixed, so chunking never changes results).
BLOCK_CELLS = 256
#: The four standards written under ``standards/`` (the study's scales).
STANDARD_NAMES = GROUP_LEVELS
#: Train, validation and test shares of each protein's cells (the study's protocol).
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
#: Hierarchies a screen can have: real ORFs and groups from the shipped annotation, or fully synthetic.
HIERARCHY_CHOICES = ("grounded", "synthetic")
_FIELD_SHAPE = (1024, 1344)
#: Log-sd of the protein's abundance (nuisance: abundance carries no function, per-crop standardization erases it).
_ABUNDANCE_SD = 0.7
_WELLS = [f"{r}{c:02d}" for r in "ABCDEFGHIJKLMNOP" for c in range(1, 25)]


@dataclass
class SimulatedScreen:
    """Paths and tables of a simulated screen.

    Attributes
    ----------
    outdir, store, proteins_csv : pathlib.Path
    standards : dict of str -> pathlib.Path
        One GMT per :data:`STANDARD_NAMES`.
    localization : pathlib.Path
        GMT of the classes (primary and second localization): the labels as groups, for figures.
    n_cells, n_proteins : int
    class_names : list of str
    """

    outdir: Path
    store: Path
    proteins_csv: Path
    standards: dict[str, Path]
    localization: Path
    n_cells: int
    n_proteins: int
    class_names: list[str]


def write_gmt(path: str | os.PathLike, groups: dict[str, Sequence[str]], descriptions: dict[str, str] | None = None
              ) -> None:
    """Write groups as GMT lines ``group<TAB>description<TAB>protein...`` (sorted, deterministic).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.gmt"
    >>> write_gmt(p, {"CX1": ["B", "A"]})
    >>> p.read_text()
    'CX1\\tCX1\\tA\\tB\\n'
    """
    descriptions = descriptions or {}
    lines = [
        "\t".join([name, descriptions.get(name, name), *sorted(members)])
        for name, members in sorted(groups.items())
    ]
    Path(path).write_text("".join(line + "\n" for line in lines))


def cells_per_protein_counts(proteins: int, mean: int, spread: float = 0.0, *, seed: int = 0) -> np.ndarray:
    """Number of cells of each protein: ``mean`` each, or lognormal with that mean and log-sd ``spread``.

    Parameters
    ----------
    proteins : int
        Number of proteins.
    mean : int
        Cells per protein (the expected value of the lognormal).
    spread : float, default 0.0
        Log-scale standard deviation; 0 gives exactly ``mean`` cells to every protein.
    seed : int, default 0
        Draws come from ``SeedSequence([seed, 3])``.

    Returns
    -------
    numpy.ndarray of int64, shape (proteins,)
        Rounded counts, at least ``min(4, mean)``.

    Examples
    --------
    >>> cells_per_protein_counts(3, 10).tolist()
    [10, 10, 10]
    >>> counts = cells_per_protein_counts(2000, 50, 0.7, seed=1)
    >>> int(counts.min()) >= 4, bool(45 < counts.mean() < 55), bool(counts.max() > 150)
    (True, True, True)
    """
    if spread == 0:
        return np.full(proteins, mean, dtype=np.int64)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 3]))
    draw = mean * np.exp(spread * rng.standard_normal(proteins) - spread**2 / 2)
    return np.maximum(np.rint(draw), min(4, mean)).astype(np.int64)


@dataclass
class _Context:
    hierarchy: Hierarchy
    protein_of_cell: np.ndarray
    seed: int
    settings: dict
    dead_ghost_fraction: float
    artefact_label: dict[str, int]
    plate: np.ndarray
    well: np.ndarray
    abundance: np.ndarray
    field_gain: np.ndarray
    plate_gain: np.ndarray
    plate_gradient: np.ndarray
    plate_background: np.ndarray
    plate_marker: np.ndarray
    split: np.ndarray


def _scatter(m: int, cell: np.ndarray, y: np.ndarray, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Bilinear splat of point sources onto (m, CANVAS, CANVAS)."""
    y0, x0 = np.floor(y), np.floor(x)
    fy, fx = y - y0, x - x0
    yy = (y0.astype(np.int64)[None] + np.array([0, 0, 1, 1])[:, None]).ravel()
    xx = (x0.astype(np.int64)[None] + np.array([0, 1, 0, 1])[:, None]).ravel()
    ww = np.concatenate([(1 - fy) * (1 - fx), (1 - fy) * fx, fy * (1 - fx), fy * fx]) * np.tile(w, 4)
    cc = np.tile(cell, 4)
    ok = (yy >= 0) & (yy < CANVAS) & (xx >= 0) & (xx < CANVAS)
    flat = (cc[ok] * CANVAS + yy[ok]) * CANVAS + xx[ok]
    out = np.bincount(flat, weights=ww[ok], minlength=m * CANVAS * CANVAS)
    return out.reshape(m, CANVAS, CANVAS).astype(np.float32)


_HALO = 0.25 * transfer(np.array([7.0]))  # wide out-of-focus halo of the marker (relative weight 0.25)


def _render_block(ctx: _Context, block: int, start: int, stop: int) -> tuple[np.ndarray, dict]:
    rng = np.random.default_rng(np.random.SeedSequence([ctx.seed, 2, block]))
    m = stop - start
    prot = ctx.protein_of_cell[start:stop]
    r = rng.random(m)
    dead = r < ctx.dead_ghost_fraction / 2
    ghost = (r >= ctx.dead_ghost_fraction / 2) & (r < ctx.dead_ghost_fraction)
    g = draw_geometry(m, rng, off_centre=float(ctx.settings["off_centre"]),
                      shrink=np.where(dead, rng.uniform(0.6, 0.8, m), 1.0))
    diffuse, spot, pts, tex = _protein_light(ctx.hierarchy, g, prot, dead, ghost, rng)
    debris = rng.random(m) < float(ctx.settings["debris"])
    nd = int(debris.sum())
    deb = (np.flatnonzero(debris), rng.uniform(4, CANVAS - 4, nd), rng.uniform(4, CANVAS - 4, nd),
           rng.uniform(20, 80, nd))  # debris: bright small blobs in both channels
    pts.append((deb[0], deb[1], deb[2], deb[3] / 4))
    cell_i, yy, xx, ww = (np.concatenate(v) for v in zip(*pts, strict=True))
    points = _scatter(m, cell_i.astype(np.int64), yy, xx, ww)
    # neighbours express the same protein (dimmer on average, as a diffuse blur of it)
    per_area = (diffuse.sum(axis=(1, 2)) + points.sum(axis=(1, 2))) / np.maximum(g.cell.sum(axis=(1, 2)), 1)
    diffuse += (per_area * rng.uniform(0.4, 1.2, m)).astype(np.float32)[:, None, None] * g.neighbours
    blur = transfer(rng.uniform(*ctx.settings["blur"], m))
    gfp = _blurred_gfp(diffuse, points, spot, blur)
    marker = _blurred_marker(g, tex, ghost, deb, blur, rng)
    images, plate, field, x, y = _expose_block(ctx, g, prot, dead, gfp, marker, rng)
    labels = ctx.hierarchy.compartment[prot].copy()
    for name, mask in (("DEAD", dead), ("GHOST", ghost)):
        if mask.any():
            labels[mask] = ctx.artefact_label[name]
    cells = {
        "protein": np.asarray(ctx.hierarchy.proteins, dtype=object)[prot],
        "label": labels,
        "split": ctx.split[start:stop],
        "plate": np.array([f"plate{p + 1:02d}" for p in plate], dtype=object),
        "well": ctx.well[prot],
        "field": (field + 1).astype(str).astype(object),
        "x": x,
        "y": y,
    }
    return images, cells


def _protein_light(h: Hierarchy, g: Geometry, prot: np.ndarray, dead: np.ndarray, ghost: np.ndarray,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list, np.ndarray]:
    """The protein's diffuse light, point sources and their sizes, and the marker's mottling.

    A cell of a protein gets its primary class's pattern with the label-aligned function
    (:func:`~deeploc_keras.data.synthetic.function.render_protein`), its second class's own pattern
    (``mix`` of the light), then the label-orthogonal field
    (:func:`~deeploc_keras.data.synthetic.function.modulation`) on all of it.
    """
    f32 = np.float32
    m = len(prot)
    normal = ~(dead | ghost)
    theta = h.theta[prot]
    diffuse = np.zeros((m, CANVAS, CANVAS), f32)
    spot = np.zeros(m)
    pts: list[tuple[np.ndarray, ...]] = []

    def add(render: Callable, name: str, sel: np.ndarray, weight: np.ndarray) -> None:
        if sel.size == 0:
            return
        pat = render(name, g, sel, theta[sel], rng)
        diffuse[sel] += weight[:, None, None].astype(f32) * pat.diffuse
        pts.append((sel[pat.cell], pat.y, pat.x, pat.weight * weight[pat.cell]))
        spot[sel] = np.maximum(spot[sel], pat.spot_sigma)

    for k, name in enumerate(h.class_names):
        sel = np.flatnonzero(normal & (h.compartment[prot] == k))
        add(render_protein, name, sel, 1 - h.mix[prot[sel]])
        sel = np.flatnonzero(normal & (h.second[prot] == k))
        add(render_pattern, name, sel, h.mix[prot[sel]])
    for name, mask in (("DEAD", dead), ("GHOST", ghost)):
        add(render_pattern, name, np.flatnonzero(mask), np.ones(int(mask.sum())))
    nuclear = np.isin(np.asarray(h.class_names)[h.compartment[prot]],
                      [c for c, region in REGIONS.items() if region == "nucleus"])
    field, marker_texture = modulation(g, theta, nuclear & normal, rng)
    field[~normal] = 1
    diffuse *= field
    for k, (cell, y, x, w) in enumerate(pts):
        row = np.clip(np.rint(y).astype(np.int64), 0, CANVAS - 1)
        col = np.clip(np.rint(x).astype(np.int64), 0, CANVAS - 1)
        pts[k] = (cell, y, x, w * field[cell, row, col])
    return diffuse, spot, pts, marker_texture


def _blurred_gfp(diffuse: np.ndarray, points: np.ndarray, spot: np.ndarray, blur: np.ndarray) -> np.ndarray:
    """The GFP crop: points get the optical blur and their own size (sqrt(optical^2 + spot^2) = optical
    then spot); only cells that have points pay for their FFT."""
    gfp_spec = spectrum(diffuse)
    with_points = np.flatnonzero(points.any(axis=(1, 2)))
    if with_points.size:
        point_spec = spectrum(points[with_points])
        point_spec *= transfer(spot[with_points])
        gfp_spec[with_points] += point_spec
    gfp_spec *= blur
    return to_crop(gfp_spec)


def _blurred_marker(g: Geometry, texture: np.ndarray, ghost: np.ndarray, deb: tuple, blur: np.ndarray,
                    rng: np.random.Generator) -> np.ndarray:
    """The RFP marker crop: cell minus vacuole and part of the nucleus, neighbours, debris, blur and halo."""
    f32 = np.float32
    m = len(ghost)
    marker = g.cell * (1 - g.vacuole)
    marker *= 1 - f32(0.3) * g.nucleus
    marker += f32(0.08) * g.vacuole
    marker += rng.uniform(0.6, 1.2, m).astype(f32)[:, None, None] * g.neighbours
    marker *= np.exp(f32(0.12) * texture)
    marker[ghost] *= f32(0.15)
    marker += _scatter(m, deb[0], deb[1], deb[2], deb[3] / 8)
    marker_spec = spectrum(marker)  # optical blur plus a wide halo of out-of-focus light
    marker_spec *= blur + _HALO
    return to_crop(marker_spec)


def _expose_block(ctx: _Context, g: Geometry, prot: np.ndarray, dead: np.ndarray, gfp: np.ndarray, marker: np.ndarray,
                  rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Photo-electrons on the kept crops and the camera's counts: abundance (protein and cell noise, no
    function), illumination of the cell's place in its field; also returns plate, field, x, y."""
    f32 = np.float32
    s, m = ctx.settings, len(prot)
    plate = ctx.plate[prot]
    field = rng.integers(0, 4, m)
    x = rng.uniform(32, _FIELD_SHAPE[1] - 32, m)
    y = rng.uniform(32, _FIELD_SHAPE[0] - 32, m)
    illum = illumination(ctx.plate_gain[plate] * ctx.field_gain[prot, field], ctx.plate_gradient[plate], x, y,
                         _FIELD_SHAPE)
    photons = float(s["photons"])
    level = 200.0 * photons * ctx.abundance[prot] * np.exp(rng.normal(0, float(s["cell_sd"]), m))
    level = np.where(dead, 150.0 * photons, level)
    marker_level = 280.0 * photons * ctx.plate_marker[plate] * np.exp(rng.normal(0, 0.2, m))
    keep = (slice(None), slice(PAD, PAD + CROP), slice(PAD, PAD + CROP))
    bg = (ctx.plate_background[plate] * photons).astype(f32)[:, None, None]
    electrons = np.empty((m, CROP, CROP, 2), f32)
    gfp *= level.astype(f32)[:, None, None]
    gfp += f32(8.0 * photons) * (g.cell[keep] + g.neighbours[keep])  # autofluorescence
    gfp += bg
    np.multiply(illum, gfp, out=electrons[..., 0])
    marker *= marker_level.astype(f32)[:, None, None]
    marker += 2 * bg
    np.multiply(illum, marker, out=electrons[..., 1])
    images = expose(electrons, rng, read_noise=float(s["read_noise"]), hot=float(s["hot"]))
    return images, plate, field, x, y


def render_cells(class_name: str, theta: Sequence[float] | np.ndarray, n: int, *, seed: int = 0,
                 difficulty: str = "medium") -> np.ndarray:
    """Render ``n`` cells of one protein of class ``class_name`` with function parameters ``theta``.

    The cells go through the screen's whole renderer and camera (one plate, average abundance, no
    DEAD or GHOST cells), so varying one parameter shows what it does to the images.

    Parameters
    ----------
    class_name : str
        One of the 17 localization classes.
    theta : sequence of float, length N_PARAMETERS
        The protein's :data:`~deeploc_keras.data.synthetic.parameters.PARAMETER_NAMES`.
    n : int
        Cells to render.
    seed : int, default 0
        Seed of the cells (the same seed gives the same cells for any ``theta``'s geometry).
    difficulty : {"easy", "medium", "hard"}, default "medium"

    Returns
    -------
    numpy.ndarray of uint16, shape (n, 64, 64, 2)

    Raises
    ------
    InputError
        On an unknown class or difficulty, ``n < 1`` or a ``theta`` of the wrong length.

    Examples
    --------
    >>> cells = render_cells("NUCLEOLUS", [0.0] * 8, 3)
    >>> cells.shape, cells.dtype
    ((3, 64, 64, 2), dtype('uint16'))
    """
    check_positive_int("n", n)
    if class_name not in LOCALIZATION_CLASSES:
        raise InputError(f"class_name must be one of {list(LOCALIZATION_CLASSES)}. Received: {class_name!r}")
    if difficulty not in DIFFICULTIES:
        raise InputError(f"difficulty must be one of {list(DIFFICULTIES)}. Received: difficulty={difficulty!r}")
    theta = np.asarray(theta, dtype=np.float64)
    if theta.shape != (N_PARAMETERS,):
        raise InputError(f"theta must hold the {N_PARAMETERS} parameters {list(PARAMETER_NAMES)}. "
                         f"Received: theta.shape={theta.shape}")
    h = Hierarchy(proteins=["P"], class_names=[class_name], compartment=np.zeros(1, np.int64),
                  second=np.full(1, -1), mix=np.zeros(1), groups={}, theta=theta[None])
    ctx = _context(h, np.array([n]), 1, seed, difficulty, 0.0, [class_name])
    ctx.abundance[:] = 1.0
    ctx.plate_gradient[:] = 0.0
    return np.concatenate([_render_block(ctx, block, start, min(start + BLOCK_CELLS, n))[0]
                           for block, start in enumerate(range(0, n, BLOCK_CELLS))])


def choose_hierarchy(
    proteins: int,
    *,
    hierarchy: str = "grounded",
    annotations: str | os.PathLike | None = None,
    classes: Sequence[str] | None = None,
    bioprocesses: int | None = None,
    pathways: int | None = None,
    complexes: int | None = None,
    multi_localized_fraction: float = 0.15,
    seed: int = 0,
) -> Hierarchy:
    """The hierarchy of a screen: grounded in real annotation, or fully synthetic.

    Parameters
    ----------
    proteins : int
    hierarchy : {"grounded", "synthetic"}, default "grounded"
        :func:`~deeploc_keras.data.synthetic.grounded.hierarchy_from_annotations` (real ORFs and groups, from
        ``annotations`` or the package's copy) or :func:`~deeploc_keras.data.synthetic.hierarchy.make_hierarchy`.
    annotations : str or os.PathLike, optional
        Folder of original annotation files (grounded only).
    classes, bioprocesses, pathways, complexes : optional
        Class subset and group counts (synthetic only).
    multi_localized_fraction : float, default 0.15
    seed : int, default 0

    Returns
    -------
    Hierarchy

    Raises
    ------
    InputError
        On an unknown hierarchy or an option the chosen hierarchy does not take.

    Examples
    --------
    >>> choose_hierarchy(30, hierarchy="synthetic").proteins[0]
    'YSIM0001'
    >>> choose_hierarchy(30).proteins[0].startswith("Y")
    True
    """
    if hierarchy not in HIERARCHY_CHOICES:
        raise InputError(f"hierarchy must be one of {list(HIERARCHY_CHOICES)}. Received: hierarchy={hierarchy!r}")
    if hierarchy == "synthetic":
        if annotations is not None:
            raise InputError("annotations ground the hierarchy: they need hierarchy='grounded'")
        return make_hierarchy(proteins, classes=classes, n_bioprocesses=bioprocesses, n_pathways=pathways,
                              n_complexes=complexes, multi_localized_fraction=multi_localized_fraction, seed=seed)
    given = {"classes": classes, "bioprocesses": bioprocesses, "pathways": pathways, "complexes": complexes}
    chosen = [name for name, value in given.items() if value is not None]
    if chosen:
        raise InputError(f"{', '.join(chosen)} apply to the synthetic hierarchy only (the grounded one takes the "
                         "Huh 2003 classes and the real groups); pass hierarchy='synthetic'")
    return hierarchy_from_annotations(proteins, directory=annotations,
                                      multi_localized_fraction=multi_localized_fraction, seed=seed)


def _check_screen(proteins: int, cells_per_protein: int, plates: int, chunk_cells: int,
                  cells_per_protein_spread: float, dead_ghost_fraction: float, difficulty: str) -> None:
    for name, value in (("proteins", proteins), ("cells_per_protein", cells_per_protein), ("plates", plates),
                        ("chunk_cells", chunk_cells)):
        check_positive_int(name, value)
    if not 0 <= cells_per_protein_spread <= 3:
        raise InputError("cells_per_protein_spread must be in [0, 3]. "
                         f"Received: cells_per_protein_spread={cells_per_protein_spread}")
    if not 0 <= dead_ghost_fraction <= 0.5:
        raise InputError(f"dead_ghost_fraction must be in [0, 0.5]. Received: dead_ghost_fraction={dead_ghost_fraction}")
    if difficulty not in DIFFICULTIES:
        raise InputError(f"difficulty must be one of {list(DIFFICULTIES)}. Received: difficulty={difficulty!r}")


def _context(h: Hierarchy, counts: np.ndarray, plates: int, seed: int, difficulty: str,
             dead_ghost_fraction: float, class_names: list[str],
             split_fractions: tuple[float, float, float] = SPLIT_FRACTIONS) -> _Context:
    """Everything the blocks share: plates and wells (independent of function), nuisance, splits."""
    n = len(h.proteins)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    order = rng.permutation(n)
    plate = np.empty(n, np.int64)
    plate[order] = np.arange(n) % plates
    well_index = np.empty(n, np.int64)
    well_index[order] = np.arange(n) // plates
    protein_of_cell = np.repeat(np.arange(n), counts)
    return _Context(
        hierarchy=h, protein_of_cell=protein_of_cell, seed=seed, settings=DIFFICULTIES[difficulty],
        dead_ghost_fraction=float(dead_ghost_fraction),
        artefact_label={name: class_names.index(name) for name in ARTEFACT_CLASSES if name in class_names},
        plate=plate, well=np.array([_WELLS[i % len(_WELLS)] for i in well_index], dtype=object),
        abundance=np.exp(rng.normal(0, _ABUNDANCE_SD, n)), field_gain=rng.normal(1, 0.05, (n, 4)).clip(0.7, 1.3),
        plate_gain=rng.uniform(0.8, 1.2, plates), plate_gradient=rng.normal(0, 0.25, (plates, 2)),
        plate_background=rng.uniform(15, 45, plates), plate_marker=rng.uniform(0.85, 1.15, plates),
        split=assign_splits(protein_of_cell, seed=seed, fractions=split_fractions),
    )


def _write_tables(folder: Path, ctx: _Context, counts: np.ndarray) -> None:
    """``standards/*.gmt`` (the four scales and the channel standards), ``localization.gmt`` and ``proteins.csv``."""
    h = ctx.hierarchy
    (folder / "standards").mkdir()
    ids = np.asarray(h.proteins, dtype=object)
    for name in STANDARD_NAMES:
        write_gmt(folder / "standards" / f"{name}.gmt", {k: list(ids[v]) for k, v in h.groups[name].items()},
                  h.descriptions.get(name))
    primary = np.asarray(h.class_names, dtype=object)[h.compartment]
    for name, channel in CHANNEL_STANDARDS.items():
        write_gmt(folder / "standards" / f"{name}.gmt",
                  {k: list(ids[v]) for k, v in channel_groups(h.theta, primary, channel).items()})
    write_gmt(folder / "localization.gmt", {k: list(ids[v]) for k, v in h.localization().items()})
    table = h.table()
    table.insert(4, "plate", [f"plate{p + 1:02d}" for p in ctx.plate])
    table.insert(5, "well", ctx.well)
    table.insert(6, "abundance_noise", ctx.abundance)
    table.insert(7, "cells", counts)
    table.to_csv(folder / "proteins.csv", index=False, float_format="%.6g")


def _render_store(path: Path, ctx: _Context, class_names: list[str], source: str, chunk_cells: int,
                  progress: bool) -> None:
    """Render every block of cells into a new cell store."""
    from tqdm.auto import tqdm

    total = len(ctx.protein_of_cell)
    with CellStore.create(path, class_names=class_names, source=source, chunk_cells=chunk_cells,
                          seed=ctx.seed) as store, tqdm(total=total, disable=not progress, unit="cell",
                                                        desc="simulate") as bar:
        for block, start in enumerate(range(0, total, BLOCK_CELLS)):
            stop = min(start + BLOCK_CELLS, total)
            images, cells = _render_block(ctx, block, start, stop)
            store.append(images, cells)
            bar.update(stop - start)


def simulate_screen(
    outdir: str | os.PathLike,
    *,
    proteins: int = 320,
    cells_per_protein: int = 50,
    cells_per_protein_spread: float = 0.0,
    plates: int = 4,
    seed: int = 0,
    dead_ghost_fraction: float = 0.02,
    difficulty: str = "medium",
    hierarchy: str = "grounded",
    annotations: str | os.PathLike | None = None,
    classes: Sequence[str] | None = None,
    bioprocesses: int | None = None,
    pathways: int | None = None,
    complexes: int | None = None,
    multi_localized_fraction: float = 0.15,
    split_fractions: tuple[float, float, float] = SPLIT_FRACTIONS,
    overwrite: bool = False,
    chunk_cells: int = 512,
    progress: bool = False,
) -> SimulatedScreen:
    """Simulate a yeast ORF-GFP screen with a known functional hierarchy.

    Writes, atomically, ``OUTDIR/cells.h5`` (the cell store: uint16 GFP/RFP
    crops with a camera offset, labels = localization class, protein ids,
    plates, wells, fields, 80/10/10 split per protein),
    ``OUTDIR/standards/{cellular_component,bioprocess,pathway,complex}.gmt``, the channel standards
    ``OUTDIR/standards/function_{label_aligned,label_orthogonal}.gmt``
    (:mod:`deeploc_keras.data.synthetic.channels`), ``OUTDIR/localization.gmt`` (the classes as groups) and ``OUTDIR/proteins.csv``
    (annotation, memberships, generating parameters and nuisance of every protein).

    Parameters
    ----------
    outdir : str or os.PathLike
        Output folder (must not exist unless ``overwrite``).
    proteins : int, default 320
        Number of proteins (the demo's size; up to the 3,914 annotated ORFs when grounded).
    cells_per_protein : int, default 50
        Cells imaged per protein (the mean when ``cells_per_protein_spread`` > 0).
    cells_per_protein_spread : float, default 0.0
        Log-scale standard deviation of a lognormal number of cells per protein with mean
        ``cells_per_protein`` (seeded; rounded; at least ``min(4, cells_per_protein)`` cells). 0 gives
        every protein exactly ``cells_per_protein`` cells; about 0.5-0.8 resembles a real screen.
    plates : int, default 4
        Plates the proteins are spread over (independently of function).
    seed : int, default 0
        Seed of everything; the output bytes depend only on it and the sizes.
    dead_ghost_fraction : float, default 0.02
        Share of cells drawn as DEAD or GHOST (half each); 0 drops these classes.
    difficulty : {"easy", "medium", "hard"}, default "medium"
        Nuisance level (:data:`~deeploc_keras.data.synthetic.camera.DIFFICULTIES`).
    hierarchy : {"grounded", "synthetic"}, default "grounded"
        Real ORFs, classes and groups from the shipped annotation, or a fully synthetic proteome
        (:func:`choose_hierarchy`).
    annotations : str or os.PathLike, optional
        Grounded only: a folder of original annotation files instead of the package's copy.
    classes : sequence of str, optional
        Synthetic only: subset of the 17 localization classes (all by default).
    bioprocesses, pathways, complexes : int, optional
        Synthetic only: group counts.
    multi_localized_fraction : float, default 0.15
        Share of proteins with a second localization (an upper bound when grounded).
    split_fractions : tuple of 3 floats, default (0.8, 0.1, 0.1)
        Train, validation and test shares of each protein's cells (the study's 80/10/10 by default; a small
        screen profiled from its held-out cells may hold out more, e.g. 60/20/20).
    overwrite : bool, default False
        Replace an existing ``outdir``.
    chunk_cells : int, default 512
        HDF5 chunk of the store (does not change the images).
    progress : bool, default False
        Show a tqdm progress bar.

    Returns
    -------
    SimulatedScreen

    Raises
    ------
    InputError
        On non-positive counts, a negative spread, an unknown difficulty, hierarchy or class, an option
        the hierarchy does not take, more complexes than proteins allow, or a missing annotation file.
    OutputExistsError
        If ``outdir`` exists and ``overwrite`` is False.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "screen"
    >>> screen = simulate_screen(out, proteins=20, cells_per_protein=4, plates=2, seed=0)
    >>> screen.n_cells, sorted(p.name for p in (out / "standards").iterdir())[:2]
    (80, ['bioprocess.gmt', 'cellular_component.gmt'])
    """
    _check_screen(proteins, cells_per_protein, plates, chunk_cells, cells_per_protein_spread, dead_ghost_fraction,
                  difficulty)
    h = choose_hierarchy(int(proteins), hierarchy=hierarchy, annotations=annotations, classes=classes,
                         bioprocesses=bioprocesses, pathways=pathways, complexes=complexes,
                         multi_localized_fraction=multi_localized_fraction, seed=seed)
    n, cpp = len(h.proteins), int(cells_per_protein)
    class_names = list(h.class_names) + (list(ARTEFACT_CLASSES) if dead_ghost_fraction > 0 else [])
    counts = cells_per_protein_counts(n, cpp, cells_per_protein_spread, seed=seed)
    ctx = _context(h, counts, int(plates), seed, difficulty, dead_ghost_fraction, class_names, split_fractions)
    total = len(ctx.protein_of_cell)
    with atomic_path(outdir, overwrite=overwrite, owner="simulate", inputs=[annotations]) as tmp:
        tmp.mkdir(parents=True)
        source = (f"deeploc_keras.data.synthetic seed={seed} difficulty={difficulty} hierarchy={hierarchy} proteins={n} "
                  f"cells_per_protein={cpp}"
                  + (f" cells_per_protein_spread={cells_per_protein_spread:g}" if cells_per_protein_spread else "")
                  + (f" split_fractions={tuple(split_fractions)}" if tuple(split_fractions) != SPLIT_FRACTIONS else ""))
        _render_store(tmp / "cells.h5", ctx, class_names, source, chunk_cells, progress)
        _write_tables(tmp, ctx, counts)
    out = Path(outdir)
    logger.info("simulated %d cells of %d proteins (%s hierarchy) into %s", total, n, hierarchy, out)
    return SimulatedScreen(
        outdir=out, store=out / "cells.h5", proteins_csv=out / "proteins.csv",
        standards={name: out / "standards" / f"{name}.gmt" for name in STANDARD_NAMES},
        localization=out / "localization.gmt", n_cells=total, n_proteins=n, class_names=class_names,
    )
