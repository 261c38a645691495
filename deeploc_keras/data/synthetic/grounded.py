"""A hierarchy grounded in real yeast annotation: real ORFs, Huh 2003 classes, real GO-slim / pathway / complex groups.

The default hierarchy of :func:`~deeploc_keras.data.synthetic.simulate_screen`. Proteins
are localized ORFs of Huh et al. (2003); their classes are the Huh categories merged
onto the 17 DeepLoc classes (:data:`HUH_CLASSES`); bioprocess is SGD's GO-slim biological-process
terms, pathway SGD's biochemical pathways and complex the Complex Portal complexes (BIONIC's
module file), restricted to the chosen proteins; cellular_component is their GO-slim CC
annotation (aspect C), not the classes. The annotation comes from the copy shipped with the package
(:mod:`~deeploc_keras.data.synthetic.annotations`) unless a folder is given.
"""

from __future__ import annotations

import logging
import os

import numpy as np

from ...core.errors import InputError
from .annotations import HUH_CATEGORIES, MODULE_LEVELS, Annotations, read_annotations
from .hierarchy import LOCALIZATION_CLASSES, Hierarchy, _check_count, theta_from_groups

__all__ = ["HUH_CLASSES", "GROUNDED_LEVELS", "choose_proteins", "hierarchy_from_annotations"]

logger = logging.getLogger(__name__)

#: Huh 2003 category -> the DeepLoc class it is drawn as (17 classes; the Golgi compartments and
#: punctate composite are GOLGI, lipid particle is PEROXISOME, bud is BUDTIP).
HUH_CLASSES: dict[str, str] = {
    "mitochondrion": "MITOCHONDRIA", "vacuole": "VACUOLE", "spindle pole": "SPINDLEPOLE",
    "cell periphery": "CELLPERIPHERY", "punctate composite": "GOLGI", "vacuolar membrane": "VACUOLARMEMBRANE",
    "ER": "ER", "nuclear periphery": "NUCLEARPERIPHERY", "endosome": "ENDOSOME", "bud neck": "BUDNECK",
    "microtubule": "SPINDLE", "Golgi": "GOLGI", "late Golgi": "GOLGI", "peroxisome": "PEROXISOME",
    "actin": "ACTIN", "nucleolus": "NUCLEOLUS", "cytoplasm": "CYTOPLASM", "ER to Golgi": "GOLGI",
    "early Golgi": "GOLGI", "lipid particle": "PEROXISOME", "nucleus": "NUCLEI", "bud": "BUDTIP",
}  # fmt: skip
#: Levels whose groups seed the choice of proteins, in round-robin order (complexes and pathways, the smallest
#: groups, twice as often as the broad GO-slim terms).
GROUNDED_LEVELS: tuple[str, ...] = ("complex", "pathway", "complex", "pathway", "bioprocess", "cellular_component")
#: Largest complex kept (as in the synthetic hierarchy).
_MAX_COMPLEX = 10


def _class_flags(a: Annotations) -> np.ndarray:
    """(ORFs, 17) bool: the DeepLoc classes of each annotated ORF."""
    flags = np.zeros((len(a.orfs), len(LOCALIZATION_CLASSES)), bool)
    for j, category in enumerate(HUH_CATEGORIES):
        flags[:, LOCALIZATION_CLASSES.index(HUH_CLASSES[category])] |= a.categories[:, j]
    return flags


def _by_rarity(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Primary class = the rarest flagged one (cytoplasm and nucleus are the least specific); the next one."""
    ranked = np.where(flags, flags.sum(axis=0)[None, :] + 1e-9, np.inf)
    order = np.argsort(ranked, axis=1, kind="stable")
    has_second = np.isfinite(np.take_along_axis(ranked, order[:, 1:2], axis=1)[:, 0])
    return order[:, 0], np.where(has_second, order[:, 1], -1)


def choose_proteins(a: Annotations, n: int, primary: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Pick ``n`` ORFs so that every class and every standard has groups among them.

    First two ORFs of each primary class when ``n >= 68``; then, until two thirds
    of ``n`` are chosen, round-robin over :data:`GROUNDED_LEVELS`, 2-4 members of a
    random group of the level; the rest uniformly among the remaining ORFs.

    Parameters
    ----------
    a : Annotations
    n : int
        Proteins to choose (at most ``len(a.orfs)``).
    primary : numpy.ndarray of int
        Primary class of each annotated ORF.
    rng : numpy.random.Generator

    Returns
    -------
    numpy.ndarray of int
        Sorted indices into ``a.orfs``.
    """
    index = {orf: i for i, orf in enumerate(a.orfs)}
    chosen: dict[int, None] = {}
    per_class = 2 if n >= 4 * len(LOCALIZATION_CLASSES) else 0
    for c in range(len(LOCALIZATION_CLASSES)):
        pool = np.flatnonzero(primary == c)
        chosen.update(dict.fromkeys(rng.choice(pool, min(per_class, len(pool)), replace=False).tolist()))
    levels = {**a.modules, "cellular_component": a.cc_standard()}
    pools = {level: [sorted(index[p] for p in m) for _, m in sorted(levels[level].items())]
             for level in GROUNDED_LEVELS}
    turn, target = 0, 2 * n // 3
    while len(chosen) < target and turn < 50 * n:
        groups = pools[GROUNDED_LEVELS[turn % len(GROUNDED_LEVELS)]]
        turn += 1
        members = groups[int(rng.integers(len(groups)))]
        fresh = [i for i in members if i not in chosen]
        take = min(len(fresh), int(rng.integers(2, 5)), target - len(chosen))
        chosen.update(dict.fromkeys(rng.choice(fresh, take, replace=False).tolist() if take else []))
    rest = np.setdiff1d(np.arange(len(a.orfs)), list(chosen))
    chosen.update(dict.fromkeys(rng.choice(rest, n - len(chosen), replace=False).tolist()))
    return np.sort(np.fromiter(chosen, np.int64))


def _restrict(groups: dict[str, list[str]], pos: dict[str, int], limit: int) -> dict[str, list[int]]:
    restricted = {name: sorted(pos[p] for p in members if p in pos) for name, members in sorted(groups.items())}
    return {name: idx for name, idx in restricted.items() if 2 <= len(idx) <= limit}


def hierarchy_from_annotations(
    n_proteins: int,
    *,
    directory: str | os.PathLike | None = None,
    multi_localized_fraction: float = 0.15,
    seed: int = 0,
) -> Hierarchy:
    """Draw proteins and their hierarchy from real annotation.

    Proteins are localized, unambiguous Huh 2003 ORFs chosen by :func:`choose_proteins`;
    each is drawn as its rarest class (:data:`HUH_CLASSES`), and a share of the
    multi-localized ones keep their next class. The groups are the real GO-slim process terms, pathways, complexes and
    GO-slim CC terms (those carried by 10-200 localized ORFs) restricted to the chosen
    proteins, with >= 2 members (complexes at most 10).

    Parameters
    ----------
    n_proteins : int
        Number of proteins to draw.
    directory : str or os.PathLike, optional
        Folder of original annotation files (see
        :func:`~deeploc_keras.data.synthetic.annotations.read_annotations`); the package's copy by default.
    multi_localized_fraction : float, default 0.15
        Upper bound on the share of proteins keeping a second class.
    seed : int, default 0
        Seed of every draw.

    Returns
    -------
    Hierarchy

    Raises
    ------
    InputError
        If the folder or a file is missing or unreadable, or more proteins are asked than annotated.

    Examples
    --------
    >>> h = hierarchy_from_annotations(60, seed=0)
    >>> h.proteins[0][0], "nucleus" in h.class_names, "NUCLEI" in h.class_names
    ('Y', False, True)
    >>> sorted(h.groups)
    ['bioprocess', 'cellular_component', 'complex', 'pathway']
    """
    n = _check_count("proteins", n_proteins)
    if not 0 <= multi_localized_fraction <= 1:
        raise InputError(f"multi_localized_fraction must be in [0, 1]. Received: {multi_localized_fraction}")
    a = read_annotations(directory)
    if n > len(a.orfs):
        raise InputError(f"only {len(a.orfs)} localized proteins are annotated. Received: proteins={n}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0]))
    primary, second = _by_rarity(_class_flags(a))
    chosen = choose_proteins(a, n, primary, rng)
    primary, second = primary[chosen], second[chosen]
    has_second = second >= 0
    keep = has_second & (rng.random(n) < multi_localized_fraction / max(has_second.mean(), 1e-9))
    second = np.where(keep, second, -1)
    used = sorted(set(primary.tolist()) | set(second[keep].tolist()))
    remap = np.full(len(LOCALIZATION_CLASSES), -1)
    remap[used] = np.arange(len(used))
    proteins = [a.orfs[i] for i in chosen]
    pos = {p: i for i, p in enumerate(proteins)}
    groups = {"cellular_component": _restrict(a.cc_standard(), pos, 10**9)}
    for level in MODULE_LEVELS:
        groups[level] = _restrict(a.modules[level], pos, _MAX_COMPLEX if level == "complex" else 10**9)
    logger.info("annotations: %d proteins, %d classes, %s groups", n, len(used),
                {k: len(v) for k, v in groups.items()})
    sparse = {level: len(members) for level, members in groups.items() if len(members) < 2}
    if sparse:
        raise InputError(f"{n} proteins are too few for the functional standards: "
                         f"{', '.join(f'{level} has {k} group(s)' for level, k in sparse.items())} of 2 or more of "
                         f"them and scoring needs 2; simulate more proteins. Received: proteins={n}")
    return Hierarchy(
        proteins=proteins, class_names=[LOCALIZATION_CLASSES[c] for c in used],
        compartment=remap[primary].astype(np.int64), second=np.where(keep, remap[second], -1).astype(np.int64),
        mix=np.where(keep, rng.uniform(0.3, 0.5, n), 0.0), groups=groups, theta=theta_from_groups(n, groups, rng),
        descriptions={"bioprocess": {g: name for g, name in a.process_names().items() if g in groups["bioprocess"]}},
    )
