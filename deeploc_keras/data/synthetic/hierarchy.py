"""The functional hierarchy of a simulated proteome: compartments, bioprocesses, pathways, complexes.

Every protein has a compartment (its localization class), one or more
bioprocesses nested in compartments, zero or more pathways spanning several
bioprocesses, and zero or more complexes (2-10 proteins inside one
bioprocess). Each level contributes a random direction to the protein's
function parameters ``theta`` (both channels of :mod:`~deeploc_keras.data.synthetic.parameters`),
with a smaller weight the finer the level (:data:`LEVEL_SCALES`), so complexes share only the
subtlest signature.
Group sizes are skewed and memberships overlap, as in real annotation.

:func:`make_hierarchy` draws all of it (the ``synthetic`` hierarchy);
:func:`~deeploc_keras.data.synthetic.grounded.hierarchy_from_annotations` takes
proteins, classes and groups from real annotation (the ``grounded`` one, the default
of :func:`~deeploc_keras.data.synthetic.simulate_screen`). In both the cellular_component
standard differs from the class labels (see :mod:`~deeploc_keras.data.synthetic.compartments`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ...core.errors import InputError
from ..store import CHONG_CLASS_NAMES
from .compartments import synthetic_cellular_component
from .parameters import FUNCTION_CHANNELS, N_PARAMETERS, PARAMETER_NAMES

__all__ = [
    "LOCALIZATION_CLASSES",
    "ARTEFACT_CLASSES",
    "N_PARAMETERS",
    "PARAMETER_NAMES",
    "FUNCTION_CHANNELS",
    "LEVEL_SCALES",
    "GROUP_LEVELS",
    "Hierarchy",
    "make_hierarchy",
    "theta_from_groups",
]

#: The 17 DeepLoc localization classes (Chong et al. 2015 order).
LOCALIZATION_CLASSES: tuple[str, ...] = tuple(CHONG_CLASS_NAMES[:17])
#: Cell-level artefact classes, drawn for a configurable share of cells.
ARTEFACT_CLASSES: tuple[str, ...] = ("DEAD", "GHOST")
#: Standard deviation of the shift each level adds to ``theta`` (compartment >> bioprocess > pathway > complex).
LEVEL_SCALES: dict[str, float] = {"bioprocess": 0.8, "pathway": 0.5, "complex": 0.35, "protein": 0.45}
#: The groups of a hierarchy, one standard each (the study's four scales).
GROUP_LEVELS: tuple[str, ...] = ("cellular_component", "bioprocess", "pathway", "complex")
#: Relative frequency of each class among proteins (Huh 2003-like, skewed).
_CLASS_WEIGHTS = {
    "CYTOPLASM": 0.24, "NUCLEI": 0.17, "MITOCHONDRIA": 0.10, "ER": 0.06, "NUCLEOLUS": 0.04,
    "CELLPERIPHERY": 0.04, "VACUOLE": 0.04, "GOLGI": 0.035, "ENDOSOME": 0.03, "VACUOLARMEMBRANE": 0.03,
    "NUCLEARPERIPHERY": 0.03, "SPINDLEPOLE": 0.025, "PEROXISOME": 0.025, "ACTIN": 0.025, "BUDNECK": 0.025,
    "BUDTIP": 0.02, "SPINDLE": 0.02,
}  # fmt: skip


@dataclass
class Hierarchy:
    """A proteome with its localization and functional groups.

    Attributes
    ----------
    proteins : list of str
        Systematic-looking ids (``YSIM0001`` ...) or real ORFs.
    class_names : list of str
        Localization classes (:data:`LOCALIZATION_CLASSES` names, each drawn by its renderer);
        ``compartment`` and ``second`` index it.
    compartment, second : numpy.ndarray of int, shape (n,)
        Primary class, and second class of multi-localized proteins (-1 if none).
    mix : numpy.ndarray of float, shape (n,)
        Share of the signal in the second class (0 for single localization).
    groups : dict of str -> dict of str -> list of int
        One entry per :data:`GROUP_LEVELS` name: group -> member indices.
    theta : numpy.ndarray of float, shape (n, N_PARAMETERS)
        Function parameters (:data:`PARAMETER_NAMES`), the generator's own numbers.
    descriptions : dict of str -> dict of str -> str
        Per level, names of its groups where they have one (the GMT description column).
    """

    proteins: list[str]
    class_names: list[str]
    compartment: np.ndarray
    second: np.ndarray
    mix: np.ndarray
    groups: dict[str, dict[str, list[int]]]
    theta: np.ndarray = field(default_factory=lambda: np.zeros((0, N_PARAMETERS)))
    descriptions: dict[str, dict[str, str]] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """One row per protein: annotation, memberships and ``theta_<name>`` columns."""
        n = len(self.proteins)
        member = {level: [[] for _ in range(n)] for level in self.groups}
        for level, groups in self.groups.items():
            for name, idx in groups.items():
                for i in idx:
                    member[level][i].append(name)
        names = np.asarray(self.class_names, dtype=object)
        data = {
            "protein": self.proteins,
            "localization": names[self.compartment],
            "second_localization": np.where(self.second >= 0, names[np.maximum(self.second, 0)], ""),
            "mix": self.mix,
        }
        for level in self.groups:
            data[level] = [";".join(m) for m in member[level]]
        for k, pname in enumerate(PARAMETER_NAMES):
            data[f"theta_{pname}"] = self.theta[:, k]
        return pd.DataFrame(data)

    def localization(self) -> dict[str, list[int]]:
        """Class -> member indices (primary and second localization): the labels as groups."""
        out: dict[str, list[int]] = {}
        for i, (c, s) in enumerate(zip(self.compartment, self.second, strict=True)):
            for k in (c, s):
                if k >= 0:
                    out.setdefault(self.class_names[k], []).append(i)
        return out


def _skewed(rng: np.random.Generator, k: int, alpha: float = 0.6) -> np.ndarray:
    """Skewed probabilities over k groups (sorted Dirichlet draw)."""
    return np.sort(rng.dirichlet(np.full(k, alpha)))[::-1]


def theta_from_groups(n: int, groups: dict[str, dict[str, list[int]]], rng: np.random.Generator) -> np.ndarray:
    """Function parameters: a protein-specific draw plus one random direction per group.

    Each bioprocess, pathway and complex draws a standard-normal direction (groups in
    sorted order); a protein adds ``LEVEL_SCALES[level]`` times the sum of its groups'
    directions over the square root of their number, so the shift per level keeps
    its scale however many groups a protein is in.

    Parameters
    ----------
    n : int
        Number of proteins.
    groups : dict of str -> dict of str -> list of int
        At least the ``bioprocess``, ``pathway`` and ``complex`` levels.
    rng : numpy.random.Generator

    Returns
    -------
    numpy.ndarray of float, shape (n, N_PARAMETERS)

    Examples
    --------
    >>> g = {"bioprocess": {"B": [0, 1]}, "pathway": {}, "complex": {}}
    >>> theta_from_groups(3, g, np.random.default_rng(0)).shape
    (3, 8)
    """
    theta = LEVEL_SCALES["protein"] * rng.standard_normal((n, N_PARAMETERS))
    for level in ("bioprocess", "pathway", "complex"):
        total = np.zeros((n, N_PARAMETERS))
        count = np.zeros(n)
        for _, idx in sorted(groups[level].items()):
            z = rng.standard_normal(N_PARAMETERS)
            total[idx] += z
            count[idx] += 1
        theta += LEVEL_SCALES[level] * total / np.sqrt(np.maximum(count, 1))[:, None]
    return theta


def _check_count(name: str, value: int, minimum: int = 1) -> int:
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}. Received: {name}={value}")
    return int(value)




def _check_sizes(n_proteins: int, classes: Sequence[str] | None, n_bioprocesses: int | None, n_pathways: int | None,
                 n_complexes: int | None, multi_localized_fraction: float) -> tuple[int, list[str], int, int, int]:
    """Validate the arguments of :func:`make_hierarchy` and fill the default group counts."""
    n = _check_count("proteins", n_proteins)
    classes = list(LOCALIZATION_CLASSES if classes is None else classes)
    unknown = [c for c in classes if c not in LOCALIZATION_CLASSES]
    if unknown or not classes or len(set(classes)) != len(classes):
        raise InputError(f"classes must be distinct names from {list(LOCALIZATION_CLASSES)}. Received: {classes}")
    n_bio = _check_count("bioprocesses", n_bioprocesses if n_bioprocesses is not None else max(len(classes), n // 12))
    n_pw = _check_count("pathways", n_pathways if n_pathways is not None else max(1, n // 12))
    n_cx = _check_count("complexes", n_complexes if n_complexes is not None else max(1, n // 10))
    if 2 * n_cx > n:
        if n_complexes is None:
            raise InputError(_too_few(n))
        raise InputError(f"more complexes than proteins allow: each of {n_cx} complexes needs 2 distinct proteins "
                         f"of its own on average, so at most {n // 2} for {n} proteins. Received: complexes={n_cx}")
    if not 0 <= multi_localized_fraction <= 1:
        raise InputError(f"multi_localized_fraction must be in [0, 1]. Received: {multi_localized_fraction}")
    return n, classes, n_bio, n_pw, n_cx


def _draw_localization(n: int, classes: list[str], multi_localized_fraction: float, rng: np.random.Generator
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Primary class (every class at least twice when possible, then skewed frequencies), second class, mix."""
    k = len(classes)
    weights = np.array([_CLASS_WEIGHTS[c] for c in classes])
    base = np.tile(np.arange(k), 2)[: min(n, 2 * k)] if n >= k else rng.choice(k, n, replace=False)
    compartment = np.concatenate([base, rng.choice(k, n - len(base), p=weights / weights.sum())])
    compartment = rng.permutation(compartment)
    multi = rng.random(n) < multi_localized_fraction
    second = np.where(multi, (compartment + rng.integers(1, max(k, 2), n)) % k, -1) if k > 1 else np.full(n, -1)
    mix = np.where(second >= 0, rng.uniform(0.3, 0.5, n), 0.0)
    return compartment, second, mix


def _draw_bioprocesses(compartment: np.ndarray, k: int, n_bio: int, rng: np.random.Generator) -> list[list[int]]:
    """Bioprocesses nested in compartments (each used compartment gets one), 25 % extra memberships across them."""
    n = len(compartment)
    used = np.unique(compartment)
    sizes = np.bincount(compartment, minlength=k)[used].astype(float)
    n_bio = max(n_bio, len(used))
    extra = rng.choice(len(used), n_bio - len(used), p=sizes / sizes.sum())
    bio_comp = np.sort(np.concatenate([used, used[extra]]))
    members: list[list[int]] = [[] for _ in range(n_bio)]
    for c in used:
        bios = np.flatnonzero(bio_comp == c)
        in_c = np.flatnonzero(compartment == c)
        choice = rng.choice(bios, len(in_c), p=_skewed(rng, len(bios)))
        for i, b in zip(in_c, choice, strict=True):
            members[b].append(int(i))
    for i in np.flatnonzero(rng.random(n) < 0.25):
        b = int(rng.integers(n_bio))
        if i not in members[b]:
            members[b].append(int(i))
    return members


def _draw_pathways(bio_members: list[list[int]], n_pw: int, rng: np.random.Generator) -> dict[str, list[int]]:
    """Pathways spanning 2-4 bioprocesses, taking 10-30 % of each (KEGG-sized), at least 3 proteins."""
    n_bio = len(bio_members)
    bio_sizes = np.array([len(m) for m in bio_members], float)
    pathways: dict[str, list[int]] = {}
    for p in range(n_pw):
        span = rng.choice(n_bio, min(int((bio_sizes > 0).sum()), int(rng.integers(2, 5))), replace=False,
                          p=bio_sizes / bio_sizes.sum())
        pool = sorted({i for b in span for i in bio_members[b]})
        share = rng.uniform(0.1, 0.3)
        keep = [i for i in pool if rng.random() < share]
        if len(keep) < 3:
            keep = sorted(rng.choice(pool, min(3, len(pool)), replace=False).tolist())
        pathways[f"PW{p + 1:03d}"] = [int(i) for i in keep]
    return pathways


def _too_few(n: int) -> str:
    return (f"{n} proteins are too few for the functional standards: a complex needs a bioprocess of 2 proteins; "
            f"simulate more proteins (20 or more). Received: proteins={n}")


def _draw_complexes(bio_members: list[list[int]], n_cx: int, rng: np.random.Generator, *,
                    too_few: str | None = None) -> dict[str, list[int]]:
    """Complexes of 2-10 proteins (geometric sizes) inside one bioprocess.

    ``too_few`` is the message when no bioprocess can hold a complex and the count was not chosen by the user.
    """
    bio_sizes = np.array([len(m) for m in bio_members], float)
    eligible = np.flatnonzero(bio_sizes >= 2)
    if n_cx and not eligible.size:
        if too_few is not None:
            raise InputError(too_few)
        raise InputError("more complexes than proteins allow: no bioprocess has 2 members to form a complex; "
                         "simulate more proteins")
    complexes: dict[str, list[int]] = {}
    for c in range(n_cx):
        b = int(rng.choice(eligible, p=bio_sizes[eligible] / bio_sizes[eligible].sum()))
        size = int(min(2 + rng.geometric(0.45) - 1, 10, bio_sizes[b]))
        complexes[f"CX{c + 1:03d}"] = sorted(int(i) for i in rng.choice(bio_members[b], size, replace=False))
    return complexes


def make_hierarchy(
    n_proteins: int,
    *,
    classes: Sequence[str] | None = None,
    n_bioprocesses: int | None = None,
    n_pathways: int | None = None,
    n_complexes: int | None = None,
    multi_localized_fraction: float = 0.15,
    seed: int = 0,
) -> Hierarchy:
    """Draw a synthetic functional hierarchy.

    The cellular_component groups are GO-like terms drawn from the classes with parents,
    sub-compartments and discordant annotations
    (:func:`~deeploc_keras.data.synthetic.compartments.synthetic_cellular_component`, stream
    ``SeedSequence([seed, 6])``), not the class labels.

    Parameters
    ----------
    n_proteins : int
        Number of proteins (ids ``YSIM0001`` ...).
    classes : sequence of str, optional
        Localization classes to use (a subset of :data:`LOCALIZATION_CLASSES`); all 17 by default.
    n_bioprocesses, n_pathways, n_complexes : int, optional
        Group counts; default to about n/12, n/12 and n/10.
    multi_localized_fraction : float, default 0.15
        Share of proteins with a second localization.
    seed : int, default 0
        Seed of every draw.

    Returns
    -------
    Hierarchy

    Raises
    ------
    InputError
        On non-positive counts, unknown classes or more complexes than the proteins allow.

    Examples
    --------
    >>> h = make_hierarchy(60, seed=0)
    >>> len(h.proteins), h.proteins[0], len(h.class_names)
    (60, 'YSIM0001', 17)
    >>> all(2 <= len(m) <= 10 for m in h.groups["complex"].values())
    True
    >>> "nucleus" in h.groups["cellular_component"]
    True
    """
    n, classes, n_bio, n_pw, n_cx = _check_sizes(n_proteins, classes, n_bioprocesses, n_pathways, n_complexes,
                                                 multi_localized_fraction)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0]))
    compartment, second, mix = _draw_localization(n, classes, multi_localized_fraction, rng)
    bio_members = _draw_bioprocesses(compartment, len(classes), n_bio, rng)
    pathways = _draw_pathways(bio_members, n_pw, rng)
    complexes = _draw_complexes(bio_members, n_cx, rng, too_few=_too_few(n) if n_complexes is None else None)
    cc = synthetic_cellular_component(compartment, second, classes, bio_members,
                                      np.random.default_rng(np.random.SeedSequence([seed, 6])))
    groups = {
        "cellular_component": cc,
        "bioprocess": {f"BP{b + 1:03d}": sorted(m) for b, m in enumerate(bio_members) if m},
        "pathway": pathways,
        "complex": complexes,
    }
    return Hierarchy(
        proteins=[f"YSIM{i + 1:04d}" for i in range(n)], class_names=classes,
        compartment=compartment.astype(np.int64), second=second.astype(np.int64), mix=mix, groups=groups,
        theta=theta_from_groups(n, groups, rng),
    )
