"""The functional hierarchy of a synthetic proteome: compartments, bioprocesses, pathways, complexes.

Every protein has a compartment (its localization class), one or more
bioprocesses nested in compartments, zero or more pathways spanning several
bioprocesses, and zero or more complexes (2-10 proteins inside one
bioprocess). Each level contributes a random direction to the protein's
morphological parameters ``theta``, with a smaller weight the finer the level
(:data:`LEVEL_SCALES`), so complexes share only the subtlest signature.
Group sizes are skewed and memberships overlap, as in real annotation.

``hierarchy_from_annotations`` draws proteins, classes and groups from real
files instead (Huh 2003 localization, GO BP, KEGG and Complex Portal modules).
"""

from __future__ import annotations

import json
import logging
import lzma
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, file_error
from ..store import CHONG_CLASS_NAMES

__all__ = [
    "LOCALIZATION_CLASSES",
    "ARTEFACT_CLASSES",
    "N_PARAMETERS",
    "PARAMETER_NAMES",
    "LEVEL_SCALES",
    "ANNOTATION_FILES",
    "HUH_RENDERERS",
    "Hierarchy",
    "make_hierarchy",
    "hierarchy_from_annotations",
]

logger = logging.getLogger(__name__)

#: The 17 DeepLoc localization classes (Chong et al. 2015 order).
LOCALIZATION_CLASSES: tuple[str, ...] = tuple(CHONG_CLASS_NAMES[:17])
#: Cell-level artefact classes, drawn for a configurable share of cells.
ARTEFACT_CLASSES: tuple[str, ...] = ("DEAD", "GHOST")
#: Morphological parameters every level shifts (see ``patterns.py`` for their use).
PARAMETER_NAMES: tuple[str, ...] = (
    "abundance", "count", "size", "texture", "nuclear_ratio", "cell_cycle", "position", "bud_enrichment",
)  # fmt: skip
N_PARAMETERS = len(PARAMETER_NAMES)
#: Standard deviation of the shift each level adds to ``theta`` (compartment >> bioprocess > pathway > complex).
LEVEL_SCALES: dict[str, float] = {"bioprocess": 0.8, "pathway": 0.5, "complex": 0.35, "protein": 0.45}
#: Relative frequency of each class among proteins (Huh 2003-like, skewed).
_CLASS_WEIGHTS = {
    "CYTOPLASM": 0.24, "NUCLEI": 0.17, "MITOCHONDRIA": 0.10, "ER": 0.06, "NUCLEOLUS": 0.04,
    "CELLPERIPHERY": 0.04, "VACUOLE": 0.04, "GOLGI": 0.035, "ENDOSOME": 0.03, "VACUOLARMEMBRANE": 0.03,
    "NUCLEARPERIPHERY": 0.03, "SPINDLEPOLE": 0.025, "PEROXISOME": 0.025, "ACTIN": 0.025, "BUDNECK": 0.025,
    "BUDTIP": 0.02, "SPINDLE": 0.02,
}  # fmt: skip
#: Files ``--annotations DIR`` needs (names as in ``../shared/data/standards``).
ANNOTATION_FILES: dict[str, str] = {
    "localization": "huh2003_yeastgfp.csv.xz",
    "bioprocess": "icon_yeast-GO-bioprocess-modules.json",
    "pathway": "icon_yeast-KEGG-pathway-modules.json",
    "complex": "icon_yeast-IntAct-complex-modules.json",
}
#: Huh 2003 category -> the renderer drawing it (categories sharing a renderer differ by a class offset).
HUH_RENDERERS: dict[str, str] = {
    "mitochondrion": "MITOCHONDRIA", "vacuole": "VACUOLE", "spindle pole": "SPINDLEPOLE",
    "cell periphery": "CELLPERIPHERY", "punctate composite": "GOLGI", "vacuolar membrane": "VACUOLARMEMBRANE",
    "ER": "ER", "nuclear periphery": "NUCLEARPERIPHERY", "endosome": "ENDOSOME", "bud neck": "BUDNECK",
    "microtubule": "SPINDLE", "Golgi": "GOLGI", "late Golgi": "GOLGI", "peroxisome": "PEROXISOME",
    "actin": "ACTIN", "nucleolus": "NUCLEOLUS", "cytoplasm": "CYTOPLASM", "ER to Golgi": "GOLGI",
    "early Golgi": "GOLGI", "lipid particle": "PEROXISOME", "nucleus": "NUCLEI", "bud": "BUDTIP",
}  # fmt: skip


@dataclass
class Hierarchy:
    """A proteome with its localization and functional groups.

    Attributes
    ----------
    proteins : list of str
        Systematic-looking ids (``YSIM0001`` ...) or real ORFs.
    class_names : list of str
        Localization classes; ``compartment`` and ``second`` index it.
    renderers : list of str
        The pattern renderer of each class (a :data:`LOCALIZATION_CLASSES` name).
    compartment, second : numpy.ndarray of int, shape (n,)
        Primary class, and second class of multi-localized proteins (-1 if none).
    mix : numpy.ndarray of float, shape (n,)
        Share of the signal in the second class (0 for single localization).
    groups : dict of str -> dict of str -> list of int
        ``bioprocess``, ``pathway`` and ``complex`` groups (member indices).
    theta : numpy.ndarray of float, shape (n, N_PARAMETERS)
        Generating morphological parameters.
    """

    proteins: list[str]
    class_names: list[str]
    renderers: list[str]
    compartment: np.ndarray
    second: np.ndarray
    mix: np.ndarray
    groups: dict[str, dict[str, list[int]]]
    theta: np.ndarray = field(default_factory=lambda: np.zeros((0, N_PARAMETERS)))

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

    def cellular_component(self) -> dict[str, list[int]]:
        """Class -> member indices (primary and second localization)."""
        out: dict[str, list[int]] = {}
        for i, (c, s) in enumerate(zip(self.compartment, self.second, strict=True)):
            for k in (c, s):
                if k >= 0:
                    out.setdefault(self.class_names[k], []).append(i)
        return out


def _skewed(rng: np.random.Generator, k: int, alpha: float = 0.6) -> np.ndarray:
    """Skewed probabilities over k groups (sorted Dirichlet draw)."""
    return np.sort(rng.dirichlet(np.full(k, alpha)))[::-1]


def _theta(n: int, groups: dict[str, dict[str, list[int]]], rng: np.random.Generator,
           class_offset: np.ndarray | None = None) -> np.ndarray:
    theta = LEVEL_SCALES["protein"] * rng.standard_normal((n, N_PARAMETERS))
    if class_offset is not None:
        theta += class_offset
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
    """
    n = _check_count("proteins", n_proteins)
    classes = list(LOCALIZATION_CLASSES if classes is None else classes)
    unknown = [c for c in classes if c not in LOCALIZATION_CLASSES]
    if unknown or not classes or len(set(classes)) != len(classes):
        raise InputError(f"classes must be distinct names from {list(LOCALIZATION_CLASSES)}. Received: {classes}")
    n_bio = _check_count("bioprocesses", n_bioprocesses if n_bioprocesses is not None else max(len(classes), n // 12))
    n_pw = _check_count("pathways", n_pathways if n_pathways is not None else max(1, n // 12))
    n_cx = _check_count("complexes", n_complexes if n_complexes is not None else max(1, n // 10))
    too_few = (f"{n} proteins are too few for the functional standards: a complex needs a bioprocess of 2 proteins; "
               f"simulate more proteins (20 or more). Received: proteins={n}")
    if 2 * n_cx > n:
        if n_complexes is None:
            raise InputError(too_few)
        raise InputError(f"more complexes than proteins allow: each of {n_cx} complexes needs 2 distinct proteins "
                         f"of its own on average, so at most {n // 2} for {n} proteins. Received: complexes={n_cx}")
    if not 0 <= multi_localized_fraction <= 1:
        raise InputError(f"multi_localized_fraction must be in [0, 1]. Received: {multi_localized_fraction}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0]))
    k = len(classes)
    weights = np.array([_CLASS_WEIGHTS[c] for c in classes])
    # every class appears (twice when possible), the rest follow the skewed class frequencies
    base = np.tile(np.arange(k), 2)[: min(n, 2 * k)] if n >= k else rng.choice(k, n, replace=False)
    compartment = np.concatenate([base, rng.choice(k, n - len(base), p=weights / weights.sum())])
    compartment = rng.permutation(compartment)
    multi = rng.random(n) < multi_localized_fraction
    second = np.where(multi, (compartment + rng.integers(1, max(k, 2), n)) % k, -1) if k > 1 else np.full(n, -1)
    mix = np.where(second >= 0, rng.uniform(0.3, 0.5, n), 0.0)

    # bioprocesses nested in compartments: each used compartment gets at least one
    used = np.unique(compartment)
    sizes = np.bincount(compartment, minlength=k)[used].astype(float)
    n_bio = max(n_bio, len(used))
    extra = rng.choice(len(used), n_bio - len(used), p=sizes / sizes.sum())
    bio_comp = np.sort(np.concatenate([used, used[extra]]))
    bio_members: list[list[int]] = [[] for _ in range(n_bio)]
    for c in used:
        bios = np.flatnonzero(bio_comp == c)
        members = np.flatnonzero(compartment == c)
        choice = rng.choice(bios, len(members), p=_skewed(rng, len(bios)))
        for i, b in zip(members, choice, strict=True):
            bio_members[b].append(int(i))
    for i in np.flatnonzero(rng.random(n) < 0.25):  # overlapping memberships, across compartments
        b = int(rng.integers(n_bio))
        if i not in bio_members[b]:
            bio_members[b].append(int(i))
    bio_sizes = np.array([len(m) for m in bio_members], float)

    pathways: dict[str, list[int]] = {}
    for p in range(n_pw):
        span = rng.choice(n_bio, min(int((bio_sizes > 0).sum()), int(rng.integers(2, 5))), replace=False,
                          p=bio_sizes / bio_sizes.sum())
        pool = sorted({i for b in span for i in bio_members[b]})
        share = rng.uniform(0.1, 0.3)  # a pathway takes a few members of each process it spans (KEGG-sized)
        keep = [i for i in pool if rng.random() < share]
        if len(keep) < 3:
            keep = sorted(rng.choice(pool, min(3, len(pool)), replace=False).tolist())
        pathways[f"PW{p + 1:03d}"] = [int(i) for i in keep]

    complexes: dict[str, list[int]] = {}
    eligible = np.flatnonzero(bio_sizes >= 2)
    if n_cx and not eligible.size:
        if n_complexes is None:
            raise InputError(too_few)
        raise InputError(f"more complexes than proteins allow: no bioprocess of the {n} proteins has 2 members "
                         "to form a complex; simulate more proteins")
    for c in range(n_cx):
        b = int(rng.choice(eligible, p=bio_sizes[eligible] / bio_sizes[eligible].sum()))
        size = int(min(2 + rng.geometric(0.45) - 1, 10, bio_sizes[b]))
        complexes[f"CX{c + 1:03d}"] = sorted(int(i) for i in rng.choice(bio_members[b], size, replace=False))

    groups = {
        "bioprocess": {f"BP{b + 1:03d}": sorted(m) for b, m in enumerate(bio_members) if m},
        "pathway": pathways,
        "complex": complexes,
    }
    return Hierarchy(
        proteins=[f"YSIM{i + 1:04d}" for i in range(n)], class_names=classes, renderers=list(classes),
        compartment=compartment.astype(np.int64), second=second.astype(np.int64), mix=mix, groups=groups,
        theta=_theta(n, groups, rng),
    )


def _read_json(path: Path) -> dict[str, list[str]]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise file_error(path, f"cannot read JSON modules ({exc})") from exc
    if not isinstance(data, dict):
        raise file_error(path, "expected a JSON object {group: [ORF, ...]}")
    return {str(k): [str(p) for p in v] for k, v in data.items()}


def hierarchy_from_annotations(
    directory: str | os.PathLike,
    n_proteins: int,
    *,
    multi_localized_fraction: float = 0.15,
    seed: int = 0,
) -> Hierarchy:
    """Draw proteins and their hierarchy from real annotation files.

    Proteins are sampled among those localized by Huh et al. (2003), favouring
    complex members so that every level has groups; the classes are the Huh
    categories (each drawn by a :data:`HUH_RENDERERS` pattern with its own offset)
    and the groups are the real modules restricted to the sampled proteins.

    Parameters
    ----------
    directory : str or os.PathLike
        Folder holding the :data:`ANNOTATION_FILES`.
    n_proteins : int
        Number of proteins to draw.
    multi_localized_fraction : float, default 0.15
        Upper bound on the share of proteins keeping a second Huh category.
    seed : int, default 0
        Seed of every draw.

    Returns
    -------
    Hierarchy

    Raises
    ------
    InputError
        If the folder or a file is missing or unreadable, or too few proteins are annotated.
    """
    n = _check_count("proteins", n_proteins)
    directory = Path(directory)
    if not directory.is_dir():
        raise file_error(directory, "annotation directory not found")
    paths = {key: directory / name for key, name in ANNOTATION_FILES.items()}
    for key, path in paths.items():
        if not path.is_file():
            raise file_error(path, f"missing annotation file ({key}); expected {list(ANNOTATION_FILES.values())}")
    try:
        with lzma.open(paths["localization"], "rt") as handle:
            huh = pd.read_csv(handle)
    except (OSError, ValueError, lzma.LZMAError) as exc:
        raise file_error(paths["localization"], f"cannot read the Huh 2003 table ({exc})") from exc
    categories = [c for c in HUH_RENDERERS if c in huh.columns]
    if "yORF" not in huh.columns or not categories:
        raise file_error(paths["localization"], f"expected columns yORF and Huh categories {list(HUH_RENDERERS)}")
    flags = huh[categories].astype(str).eq("T").to_numpy()
    has = flags.any(axis=1)
    orfs = huh["yORF"].astype(str).to_numpy()[has]
    flags = flags[has]
    modules = {level: _read_json(paths[level]) for level in ("bioprocess", "pathway", "complex")}
    if n > len(orfs):
        raise InputError(f"{paths['localization']}: only {len(orfs)} localized proteins. Received: proteins={n}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0]))
    index = {orf: i for i, orf in enumerate(orfs)}
    chosen: list[int] = []
    complexes = [sorted(index[p] for p in m if p in index) for _, m in sorted(modules["complex"].items())]
    for c in rng.permutation(len(complexes)):
        if len(chosen) + len(complexes[c]) > n // 2:
            continue
        chosen.extend(i for i in complexes[c] if i not in chosen)
    rest = np.setdiff1d(np.arange(len(orfs)), chosen)
    chosen = sorted(chosen + rng.choice(rest, n - len(chosen), replace=False).tolist())
    proteins = [str(orfs[i]) for i in chosen]
    flags = flags[chosen]
    # primary = rarest flagged category (cytoplasm and nucleus are the least specific)
    freq = flags.sum(axis=0) + 1e-9
    ranked = np.where(flags, freq[None, :], np.inf)
    order = np.argsort(ranked, axis=1)
    compartment = order[:, 0]
    has_second = np.isfinite(np.take_along_axis(ranked, order[:, 1:2], axis=1)[:, 0])
    keep_second = has_second & (rng.random(n) < max(multi_localized_fraction, 0) / max(has_second.mean(), 1e-9))
    second = np.where(keep_second, order[:, 1], -1)
    used = sorted(set(compartment.tolist()) | set(second[second >= 0].tolist()))
    remap = {old: new for new, old in enumerate(used)}
    compartment = np.array([remap[c] for c in compartment])
    second = np.array([remap[s] if s >= 0 else -1 for s in second])
    class_names = [categories[c] for c in used]
    pos = {p: i for i, p in enumerate(proteins)}
    groups = {}
    for level, mods in modules.items():
        restricted = {name: sorted(pos[p] for p in set(m) if p in pos) for name, m in sorted(mods.items())}
        limit = 10 if level == "complex" else 10**9
        groups[level] = {k: v for k, v in restricted.items() if 2 <= len(v) <= limit}
    offsets = np.random.default_rng(np.random.SeedSequence([seed, 5])).normal(0, 0.8, (len(class_names), N_PARAMETERS))
    theta = _theta(n, groups, rng, class_offset=offsets[compartment])
    logger.info("annotations: %d proteins, %d classes, %s groups", n, len(class_names),
                {k: len(v) for k, v in groups.items()})
    return Hierarchy(
        proteins=proteins, class_names=class_names, renderers=[HUH_RENDERERS[c] for c in class_names],
        compartment=compartment.astype(np.int64), second=second.astype(np.int64),
        mix=np.where(second >= 0, rng.uniform(0.3, 0.5, n), 0.0), groups=groups, theta=theta,
    )
