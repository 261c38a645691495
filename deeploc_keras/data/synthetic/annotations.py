"""Real yeast annotation the grounded screen draws from: Huh 2003 localization, GO-slim, SGD pathways, complexes.

The package ships, in ``deeploc_keras/data/synthetic/data/`` with a ``PROVENANCE.md``, only
files it may redistribute under its BSD-3-Clause terms with attribution (:data:`ANNOTATION_FILES`,
xz-compressed): the Huh et al. (2003) YeastGFP localization calls, SGD's GO-slim mapping (the
cellular_component standard and, as GO-slim biological-process terms, the bioprocess standard),
SGD's biochemical pathways (the pathway standard) with the SGD features that map their gene names
to ORFs, and the Complex Portal modules of BIONIC-evals (MIT). :func:`subset_annotations` makes
the shipped subset from the original files, so the shipped copy can be checked and refreshed;
``read_annotations`` reads either the shipped subset or a folder of the original files (plain or ``.xz``).
"""

from __future__ import annotations

import io
import json
import lzma
import os
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
    "SLIM_TERM_SIZES",
    "SLIM_ASPECTS",
    "Annotations",
    "package_annotations",
    "read_annotations",
    "subset_annotations",
]

#: Files a folder of annotation holds (``.xz`` added when compressed); the complex file is read under either of
#: its two names (BIONIC-evals' and ICoN's copies are identical).
ANNOTATION_FILES: dict[str, str] = {
    "localization": "huh2003_yeastgfp.csv",
    "complex": "bionic_yeast-IntAct-complex-modules.json",
    "slim": "sgd_go_slim_mapping_2024.tab",
    "pathway": "sgd_biochemical_pathways.tab",
    "features": "sgd_SGD_features.tab",
}
_OTHER_NAMES = {"complex": ("icon_yeast-IntAct-complex-modules.json",), "features": ("sgd_SGD_features.tsv",)}
#: The groups the grounded hierarchy draws besides cellular_component: GO-slim process terms, SGD pathways,
#: Complex Portal complexes.
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
#: The same window for the GO-slim biological-process terms of the bioprocess standard.
SLIM_TERM_SIZES = CC_TERM_SIZES
#: GO-slim aspects read: C (the cellular_component standard) and P (the bioprocess standard).
SLIM_ASPECTS = ("C", "P")
_SLIM_COLUMNS = ("orf", "gene", "sgdid", "aspect", "term", "goid", "feature_type")
#: Columns of SGD_features.tab read and kept in the shipped subset (the first five of its sixteen: SGDID, feature
#: type, qualifier, systematic name, standard gene name).
_FEATURE_COLUMNS = 5
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
        Groups restricted to ``orfs`` (>= 2 members): ``bioprocess`` (GO-slim process terms by GO id,
        carried by :data:`SLIM_TERM_SIZES` ORFs), ``pathway`` (SGD biochemical pathways by name) and
        ``complex`` (Complex Portal ids).
    cc_terms : dict of str -> list of str
        Every informative GO-slim CC term (aspect C, no roots) -> its ORFs among ``orfs``.
    process_terms : dict of str -> list of str
        Every informative GO-slim process term (aspect P, no roots), by GO id -> its ORFs among ``orfs``.
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
        """The GO-slim name of each bioprocess group (a GO-slim process term, by GO id).

        Examples
        --------
        >>> read_annotations().process_names()["GO:0006486"]
        'protein glycosylation'
        """
        return {goid: self.process_ids[goid] for goid in self.modules["bioprocess"]}


def package_annotations() -> Traversable:
    """The folder of annotation shipped with the package.

    Examples
    --------
    >>> (package_annotations() / "PROVENANCE.md").is_file()
    True
    """
    return files(__package__) / "data"


def _find(directory: Traversable, key: str) -> Traversable:
    for name in (ANNOTATION_FILES[key], *_OTHER_NAMES.get(key, ())):
        for candidate in (name + ".xz", name):
            if (directory / candidate).is_file():
                return directory / candidate
    raise file_error(directory / ANNOTATION_FILES[key], f"missing annotation file ({key}); expected one of "
                                                        f"{[n + '[.xz]' for n in ANNOTATION_FILES.values()]}")


def _text(path: Traversable) -> str:
    try:
        raw = path.read_bytes()
        return (lzma.decompress(raw) if path.name.endswith(".xz") else raw).decode()
    except (OSError, lzma.LZMAError, UnicodeDecodeError) as exc:
        raise file_error(path, f"cannot read the annotation file ({exc})") from exc


def _table(path: Traversable, what: str, **options) -> pd.DataFrame:
    try:
        return pd.read_csv(io.StringIO(_text(path)), dtype=str, keep_default_na=False, **options)
    except (ValueError, pd.errors.ParserError) as exc:
        raise file_error(path, f"cannot read {what} ({exc})") from exc


def _read_huh(path: Traversable) -> tuple[list[str], np.ndarray]:
    table = _table(path, "the Huh 2003 table")
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
    table = _table(path, "SGD go_slim_mapping.tab", sep="\t", header=None, quoting=3)
    if table.shape[1] != len(_SLIM_COLUMNS):
        raise file_error(path, f"expected the 7 columns of SGD go_slim_mapping.tab. Received: {table.shape[1]}")
    table.columns = list(_SLIM_COLUMNS)
    return table


def _slim_rows(slim: pd.DataFrame, orfs: set[str]) -> pd.DataFrame:
    keep = (slim["aspect"].isin(SLIM_ASPECTS) & slim["feature_type"].str.startswith("ORF") & slim["orf"].isin(orfs)
            & ~slim["term"].str.lower().isin(SLIM_ROOTS))
    return slim[keep]


def _terms(rows: pd.DataFrame, key: str) -> dict[str, list[str]]:
    return {str(t): sorted(set(m)) for t, m in rows.groupby(key)["orf"]}


def _read_features(path: Traversable) -> pd.DataFrame:
    """The ORF rows of SGD_features.tab (no header; a header line starting with ``SGDID`` is skipped)."""
    table = _table(path, "SGD_features.tab", sep="\t", header=None, quoting=3)
    if table.shape[1] < _FEATURE_COLUMNS:
        raise file_error(path, f"expected the columns of SGD_features.tab. Received: {table.shape[1]}")
    table = table.iloc[:, :_FEATURE_COLUMNS]
    table.columns = ["sgdid", "type", "qualifier", "orf", "gene"]
    return table[table["sgdid"].ne("SGDID") & table["type"].eq("ORF") & table["orf"].ne("")]


def _gene_to_orf(features: pd.DataFrame) -> dict[str, str]:
    """Upper-case systematic or standard gene name -> ORF (aliases are left out: they can name several ORFs)."""
    orfs = features["orf"].str.upper()
    names = dict(zip(orfs, features["orf"], strict=True))
    for gene, orf in zip(features["gene"].str.upper(), features["orf"], strict=True):
        if gene:
            names.setdefault(gene, orf)
    return names


def _read_pathways(path: Traversable, features: pd.DataFrame, orfs: set[str]) -> dict[str, list[str]]:
    """SGD biochemical_pathways.tab (pathway, enzyme, EC number, gene name, reference) as pathway -> ORFs."""
    table = _table(path, "SGD biochemical_pathways.tab", sep="\t", header=None, quoting=3)
    if table.shape[1] != 5:
        raise file_error(path, f"expected the 5 columns of SGD biochemical_pathways.tab. Received: {table.shape[1]}")
    genes = _gene_to_orf(features)
    table["orf"] = table[3].str.upper().map(genes)
    table = table[table["orf"].isin(orfs)]
    groups = {str(k): sorted(set(v)) for k, v in table.groupby(0)["orf"]}
    return {k: v for k, v in groups.items() if len(v) >= 2}


def read_annotations(directory: str | os.PathLike | Traversable | None = None) -> Annotations:
    """Read the annotation files of a folder (default: the copy shipped with the package).

    Parameters
    ----------
    directory : path, optional
        Folder with the :data:`ANNOTATION_FILES`, each plain or xz-compressed; the package's own
        subset by default.

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
    slim = _slim_rows(_read_slim(paths["slim"]), known)
    process = slim[slim["aspect"].eq("P")]
    process_terms = _terms(process, "goid")
    lo, hi = SLIM_TERM_SIZES
    modules = {
        "bioprocess": {t: m for t, m in process_terms.items() if lo <= len(m) <= hi},
        "pathway": _read_pathways(paths["pathway"], _read_features(paths["features"]), known),
        "complex": _read_modules(paths["complex"], known),
    }
    return Annotations(orfs=orfs, categories=categories, modules=modules,
                       cc_terms=_terms(slim[slim["aspect"].eq("C")], "term"), process_terms=process_terms,
                       process_ids=dict(zip(process["goid"], process["term"], strict=True)))


def _write_xz(path: Path, text: str) -> None:
    path.write_bytes(lzma.compress(text.encode(), preset=_XZ_PRESET))


def subset_annotations(source: str | os.PathLike, out: str | os.PathLike) -> dict[str, int]:
    """Write the annotation files the grounded screen reads, xz-compressed, from the original files.

    Keeps the localized, unambiguous rows of the Huh table (``yORF``, ``ambiguous`` and the
    22 categories), the GO-slim rows of aspects :data:`SLIM_ASPECTS` (ORF features, no roots)
    of those ORFs, the complexes restricted to those ORFs (groups of >= 2), the first five
    columns of the SGD features rows of those ORFs, and SGD's biochemical pathways whole,
    all in their original formats.

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
    table = _table(huh_path, "the Huh 2003 table")
    orfs, _ = _read_huh(huh_path)
    known = set(orfs)
    features = _read_features(_find(source, "features"))
    texts = {
        "localization": table.loc[table["yORF"].isin(known), ["yORF", "ambiguous", *HUH_CATEGORIES]].to_csv(index=False),
        "complex": json.dumps(_read_modules(_find(source, "complex"), known), indent=0) + "\n",
        "slim": _slim_rows(_read_slim(_find(source, "slim")), known).to_csv(sep="\t", header=False, index=False,
                                                                          quoting=3),
        "features": features[features["orf"].isin(known)].to_csv(sep="\t", header=False, index=False, quoting=3),
        "pathway": _text(_find(source, "pathway")),
    }
    written = {}
    for key, text in texts.items():
        path = out / (ANNOTATION_FILES[key] + ".xz")
        _write_xz(path, text)
        written[path.name] = path.stat().st_size
    return written
