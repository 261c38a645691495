"""Real yeast annotation the grounded screen draws from: Huh 2003 localization, GO BP, KEGG, complexes, GO-slim.

The package ships a subset of the public files (:data:`ANNOTATION_FILES`, xz-compressed, in
``deeploc_keras/data/synthetic/data/`` with a ``PROVENANCE.md``): only the localized, unambiguous
ORFs of Huh et al. (2003) and the annotation of those ORFs. :func:`subset_annotations` makes
that subset from the original files, so the shipped copy can be checked and refreshed.
``read_annotations`` reads either the shipped subset or a folder of the original files
(plain or ``.xz``).
"""

from __future__ import annotations

import io
import json
import lzma
import os
from collections import Counter
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

import numpy as np
import pandas as pd

from ...core.errors import file_error

__all__ = [
    "ANNOTATION_FILES",
    "MODULE_LEVELS",
    "HUH_CATEGORIES",
    "SLIM_ROOTS",
    "CC_TERM_SIZES",
    "SLIM_ASPECTS",
    "Annotations",
    "package_annotations",
    "read_annotations",
    "subset_annotations",
]

#: Files a folder of annotation holds (names as in ``../shared/data/standards``; ``.xz`` added when compressed).
ANNOTATION_FILES: dict[str, str] = {
    "localization": "huh2003_yeastgfp.csv",
    "bioprocess": "icon_yeast-GO-bioprocess-modules.json",
    "pathway": "icon_yeast-KEGG-pathway-modules.json",
    "complex": "icon_yeast-IntAct-complex-modules.json",
    "cellular_component": "sgd_go_slim_mapping_2024.tab",
}
#: Levels read from ICoN/BIONIC module files ``{group: [ORF, ...]}``.
MODULE_LEVELS: tuple[str, ...] = ("bioprocess", "pathway", "complex")
#: The 22 location columns of the Huh 2003 table.
HUH_CATEGORIES: tuple[str, ...] = (
    "mitochondrion", "vacuole", "spindle pole", "cell periphery", "punctate composite", "vacuolar membrane", "ER",
    "nuclear periphery", "endosome", "bud neck", "microtubule", "Golgi", "late Golgi", "peroxisome", "actin",
    "nucleolus", "cytoplasm", "ER to Golgi", "early Golgi", "lipid particle", "nucleus", "bud",
)  # fmt: skip
#: GO-slim terms that carry no information (the roots and "other"), as in ``eval.standards``.
SLIM_ROOTS = frozenset({"cellular component", "biological process", "molecular function",
                        "cellular_component", "biological_process", "molecular_function", "other"})
#: A GO-slim CC term is a group of the standard when this many localized ORFs carry it (inclusive).
CC_TERM_SIZES = (10, 200)
#: GO-slim aspects read: C (the cellular_component standard) and P (names of the bioprocess modules).
SLIM_ASPECTS = ("C", "P")
_SLIM_COLUMNS = ("orf", "gene", "sgdid", "aspect", "term", "goid", "feature_type")
_XZ_PRESET = 9 | lzma.PRESET_EXTREME


@dataclass
class Annotations:
    """Localization and functional annotation of the localized ORFs.

    Attributes
    ----------
    orfs : list of str
        Localized, unambiguous ORFs of the Huh 2003 table (its row order).
    categories : numpy.ndarray of bool, shape (len(orfs), len(HUH_CATEGORIES))
        The Huh categories of each ORF.
    modules : dict of str -> dict of str -> list of str
        ``bioprocess``, ``pathway`` and ``complex`` modules restricted to ``orfs`` (groups of >= 2).
    cc_terms : dict of str -> list of str
        Every informative GO-slim CC term (aspect C, no roots) -> its ORFs among ``orfs``.
    process_terms : dict of str -> list of str
        Every informative GO-slim process term (aspect P, no roots) -> its ORFs among ``orfs``.
    process_ids : dict of str -> str
        GO id -> name of those process terms.
    """

    orfs: list[str]
    categories: np.ndarray
    modules: dict[str, dict[str, list[str]]]
    cc_terms: dict[str, list[str]]
    process_terms: dict[str, list[str]]
    process_ids: dict[str, str]

    def cc_standard(self) -> dict[str, list[str]]:
        """The GO-slim CC terms carried by :data:`CC_TERM_SIZES` ORFs (the screen's cellular_component)."""
        lo, hi = CC_TERM_SIZES
        return {t: m for t, m in self.cc_terms.items() if lo <= len(m) <= hi}

    def process_names(self) -> dict[str, str]:
        """A name for each bioprocess module (a GO BP term id) from the GO-slim process terms.

        The module's own name when its id is a GO-slim term; otherwise ``"in <term>"``: of the
        GO-slim processes carried by at least half of its members, the one with fewest ORFs (the
        most specific); when none is, the one carried by most members (ties: fewer ORFs, then the
        name). Modules whose members carry none are left out.

        Examples
        --------
        >>> names = read_annotations().process_names()
        >>> names["GO:0006486"], names["GO:0000045"]
        ('protein glycosylation', 'in vacuole organization')
        """
        carriers: dict[str, list[str]] = {}
        for term, members in self.process_terms.items():
            for orf in members:
                carriers.setdefault(orf, []).append(term)
        size = {term: len(members) for term, members in self.process_terms.items()}
        names = {}
        for module, members in self.modules["bioprocess"].items():
            if module in self.process_ids:
                names[module] = self.process_ids[module]
                continue
            counts = Counter(t for orf in members for t in carriers.get(orf, []))
            if not counts:
                continue
            shared = [t for t in counts if 2 * counts[t] >= len(members)]
            best = min(shared, key=lambda t: (size[t], t)) if shared else \
                min(counts, key=lambda t: (-counts[t], size[t], t))
            names[module] = f"in {best}"
        return names


def package_annotations() -> Traversable:
    """The folder of annotation shipped with the package.

    Examples
    --------
    >>> (package_annotations() / "PROVENANCE.md").is_file()
    True
    """
    return files(__package__) / "data"


def _find(directory: Traversable, key: str) -> Traversable:
    name = ANNOTATION_FILES[key]
    for candidate in (name + ".xz", name):
        if (directory / candidate).is_file():
            return directory / candidate
    raise file_error(directory / name, f"missing annotation file ({key}); expected one of "
                                       f"{[n + '[.xz]' for n in ANNOTATION_FILES.values()]}")


def _text(path: Traversable) -> str:
    try:
        raw = path.read_bytes()
        return (lzma.decompress(raw) if path.name.endswith(".xz") else raw).decode()
    except (OSError, lzma.LZMAError, UnicodeDecodeError) as exc:
        raise file_error(path, f"cannot read the annotation file ({exc})") from exc


def _read_huh(path: Traversable) -> tuple[list[str], np.ndarray]:
    try:
        table = pd.read_csv(io.StringIO(_text(path)), dtype=str, keep_default_na=False)
    except (ValueError, pd.errors.ParserError) as exc:
        raise file_error(path, f"cannot read the Huh 2003 table ({exc})") from exc
    missing = [c for c in ("yORF", "ambiguous", *HUH_CATEGORIES) if c not in table.columns]
    if missing:
        raise file_error(path, f"not the Huh 2003 table: missing columns {missing}")
    flags = table[list(HUH_CATEGORIES)].eq("T").to_numpy()
    keep = flags.any(axis=1) & table["ambiguous"].ne("T").to_numpy()
    return table["yORF"].to_numpy()[keep].tolist(), flags[keep]


def _read_modules(path: Traversable, orfs: set[str]) -> dict[str, list[str]]:
    try:
        data = json.loads(_text(path))
    except ValueError as exc:
        raise file_error(path, f"cannot read JSON modules ({exc})") from exc
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise file_error(path, "expected a JSON object {group: [ORF, ...]}")
    restricted = {str(k): sorted({str(p) for p in v} & orfs) for k, v in sorted(data.items())}
    return {k: v for k, v in restricted.items() if len(v) >= 2}


def _read_slim(path: Traversable) -> pd.DataFrame:
    try:
        table = pd.read_csv(io.StringIO(_text(path)), sep="\t", header=None, dtype=str, keep_default_na=False,
                            quoting=3)
    except (ValueError, pd.errors.ParserError) as exc:
        raise file_error(path, f"not a tab-separated SGD go_slim_mapping.tab ({exc})") from exc
    if table.shape[1] != len(_SLIM_COLUMNS):
        raise file_error(path, f"expected the 7 columns of SGD go_slim_mapping.tab. Received: {table.shape[1]}")
    table.columns = list(_SLIM_COLUMNS)
    return table


def _slim_rows(slim: pd.DataFrame, orfs: set[str]) -> pd.DataFrame:
    keep = (slim["aspect"].isin(SLIM_ASPECTS) & slim["feature_type"].str.startswith("ORF") & slim["orf"].isin(orfs)
            & ~slim["term"].str.lower().isin(SLIM_ROOTS))
    return slim[keep]


def _terms(rows: pd.DataFrame) -> dict[str, list[str]]:
    return {str(t): sorted(set(m)) for t, m in rows.groupby("term")["orf"]}


def read_annotations(directory: str | os.PathLike | Traversable | None = None) -> Annotations:
    """Read the annotation files of a folder (default: the copy shipped with the package).

    Parameters
    ----------
    directory : path, optional
        Folder with the :data:`ANNOTATION_FILES`, each plain or xz-compressed (e.g.
        ``../shared/data/standards``); the package's own subset by default.

    Returns
    -------
    Annotations

    Raises
    ------
    InputError
        If the folder or a file is missing or unreadable.

    Examples
    --------
    >>> a = read_annotations()
    >>> len(a.orfs) > 3000, sorted(a.modules), "nucleolus" in a.cc_terms
    (True, ['bioprocess', 'complex', 'pathway'], True)
    """
    folder = package_annotations() if directory is None else directory
    if not isinstance(folder, Traversable):
        folder = Path(folder)
    if not folder.is_dir():
        raise file_error(folder, "annotation directory not found")
    paths = {key: _find(folder, key) for key in ANNOTATION_FILES}
    orfs, categories = _read_huh(paths["localization"])
    known = set(orfs)
    modules = {level: _read_modules(paths[level], known) for level in MODULE_LEVELS}
    slim = _slim_rows(_read_slim(paths["cellular_component"]), known)
    process = slim[slim["aspect"].eq("P")]
    return Annotations(orfs=orfs, categories=categories, modules=modules, cc_terms=_terms(slim[slim["aspect"].eq("C")]),
                       process_terms=_terms(process), process_ids=dict(zip(process["goid"], process["term"], strict=True)))


def _write_xz(path: Path, text: str) -> None:
    path.write_bytes(lzma.compress(text.encode(), preset=_XZ_PRESET))


def subset_annotations(source: str | os.PathLike, out: str | os.PathLike) -> dict[str, int]:
    """Write the subset of the original annotation files the grounded screen reads, xz-compressed.

    Keeps the localized, unambiguous rows of the Huh table (``yORF``, ``ambiguous`` and the
    22 categories), the modules restricted to those ORFs (groups of >= 2), and the GO-slim
    rows of aspects :data:`SLIM_ASPECTS` (ORF features, no roots) of those ORFs, all in their
    original formats.

    Parameters
    ----------
    source : path
        Folder with the original :data:`ANNOTATION_FILES`.
    out : path
        Existing folder to write ``<name>.xz`` files into (replaced if present).

    Returns
    -------
    dict of str -> int
        Bytes written per file name.

    Raises
    ------
    InputError
        If a source file is missing or unreadable, or ``out`` is not a folder.
    """
    source, out = Path(source), Path(out)
    if not out.is_dir():
        raise file_error(out, "output folder not found")
    huh_path = _find(source, "localization")
    table = pd.read_csv(io.StringIO(_text(huh_path)), dtype=str, keep_default_na=False)
    orfs, _ = _read_huh(huh_path)
    known = set(orfs)
    texts = {"localization": table.loc[table["yORF"].isin(known), ["yORF", "ambiguous", *HUH_CATEGORIES]]
             .to_csv(index=False)}
    for level in MODULE_LEVELS:
        texts[level] = json.dumps(_read_modules(_find(source, level), known), indent=0) + "\n"
    slim = _slim_rows(_read_slim(_find(source, "cellular_component")), known)
    texts["cellular_component"] = slim.to_csv(sep="\t", header=False, index=False, quoting=3)
    written = {}
    for key, text in texts.items():
        path = out / (ANNOTATION_FILES[key] + ".xz")
        _write_xz(path, text)
        written[path.name] = path.stat().st_size
    return written
