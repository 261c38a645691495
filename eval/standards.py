"""Functional standards: read, build, write and restrict them to the profiled proteins.

A standard is a ``dict[str, set[str]]`` that maps a group (GO term, pathway,
complex, compartment) to the protein ids annotated to it. Groups may overlap.
Files are read from GMT, two-column TSV (``protein<TAB>group``) or JSON
(``{group: [ids]}``); builders make standards from SGD's ``go_slim_mapping.tab``,
the Huh et al. 2003 localization table and the ICoN/BIONIC module JSON files.

References
----------
Huh W.-K. et al. (2003) Global analysis of protein localization in budding yeast. Nature 425:686-691.
Forster D. T. et al. (2022) BIONIC: biological network integration using convolutions. Nat. Methods 19:1250-1261.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import logging
import lzma
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from deeploc_keras.core.errors import InputError, file_error, reading
from deeploc_keras.core.outputs import atomic_path

__all__ = [
    "Standard",
    "Coverage",
    "STANDARD_SUFFIXES",
    "BUILDERS",
    "ASPECTS",
    "SLIM_ROOTS",
    "HUH_GOLGI_MERGE",
    "read_gmt",
    "read_gmt_descriptions",
    "read_tsv",
    "read_json",
    "load_standard",
    "load_standards",
    "from_sgd_slim",
    "from_huh2003",
    "from_modules_json",
    "build_standard",
    "write_gmt",
    "write_standard",
    "read_aliases",
    "restrict",
    "require_groups",
]

logger = logging.getLogger(__name__)

Standard = dict[str, set[str]]

#: file suffixes :func:`load_standards` reads from a directory
STANDARD_SUFFIXES = (".gmt", ".tsv", ".json")
#: sources :func:`build_standard` understands (the CLI's ``--from``)
BUILDERS = ("sgd-slim", "huh2003", "modules-json")
#: GO aspects of ``go_slim_mapping.tab`` a standard can be built from (C component, P process)
ASPECTS = ("C", "P")
#: slim terms that carry no information: the three roots and "other"
SLIM_ROOTS = frozenset({"cellular component", "biological process", "molecular function",
                        "cellular_component", "biological_process", "molecular_function", "other"})
#: Huh 2003 columns merged into "Golgi"
HUH_GOLGI_MERGE = ("Golgi", "early Golgi", "late Golgi", "ER to Golgi")


@dataclass(frozen=True)
class Coverage:
    """How much of a standard survives restriction to the profiled proteins.

    Attributes
    ----------
    n_profile_proteins : int
        Proteins with a profile.
    n_proteins_standard : int
        Distinct ids in the standard.
    n_proteins_matched : int
        Standard ids found among the profiles (after the alias map).
    n_proteins_kept : int
        Matched proteins in at least one kept group (the standard's universe).
    n_proteins_dropped : int
        ``n_proteins_standard - n_proteins_kept``.
    n_groups_standard, n_groups_kept, n_groups_dropped : int
        Groups before restriction, with at least ``min_group_size`` matched members, and the rest.
    """

    n_profile_proteins: int
    n_proteins_standard: int
    n_proteins_matched: int
    n_proteins_kept: int
    n_proteins_dropped: int
    n_groups_standard: int
    n_groups_kept: int
    n_groups_dropped: int

    def as_dict(self) -> dict[str, int]:
        """The counts as a plain dict (one row of ``coverage.csv``)."""
        return asdict(self)


def _check_file(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.is_file():
        raise file_error(path, "no such file")
    return path


def _finish(path: Path, standard: Standard) -> Standard:
    standard = {group: ids for group, ids in standard.items() if ids}
    if not standard:
        raise file_error(path, "the standard has no group with a protein id")
    return standard


def read_gmt(path: str | os.PathLike) -> Standard:
    """Read a GMT file: ``group<TAB>description<TAB>id<TAB>id...`` per line.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    Standard
        Group -> set of ids.

    Raises
    ------
    InputError
        If the file is missing, a line has fewer than three fields, a group is defined on
        two lines, or no group has an id.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.gmt"
    >>> _ = p.write_text("ribosome\\tna\\tYAL1\\tYAL2\\n")
    >>> {g: sorted(ids) for g, ids in read_gmt(p).items()}
    {'ribosome': ['YAL1', 'YAL2']}
    """
    path = _check_file(path)
    return _finish(path, {group: ids for group, _, ids in _gmt_records(path)})


def _gmt_records(path: Path) -> list[tuple[str, str, set[str]]]:
    """``(group, description, ids)`` of each line of a GMT file, checked as :func:`read_gmt` documents."""
    records = []
    first_line: dict[str, int] = {}
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) < 3:
            raise file_error(path, f"line {number}: expected 'group<TAB>description<TAB>id...' (GMT). "
                                   f"Received: {line[:60]!r}")
        if fields[0] in first_line:
            raise file_error(path, f"line {number}: group {fields[0]!r} is already defined on line "
                                   f"{first_line[fields[0]]}; give each group one line (merge or rename them)")
        first_line[fields[0]] = number
        records.append((fields[0], fields[1], {f for f in fields[2:] if f}))
    return records


def read_gmt_descriptions(path: str | os.PathLike) -> dict[str, str]:
    """The descriptions of a GMT file's groups, where they name the group (not empty, ``na`` or the group).

    Parameters
    ----------
    path : str or os.PathLike
        A GMT file (read as :func:`read_gmt` reads it).

    Returns
    -------
    dict of str -> str
        Group -> description.

    Raises
    ------
    InputError
        As :func:`read_gmt`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.gmt"
    >>> _ = p.write_text("GO:1\\tprotein folding\\tYAL1\\nGO:2\\tna\\tYAL2\\nGO:3\\tGO:3\\tYAL3\\n")
    >>> read_gmt_descriptions(p)
    {'GO:1': 'protein folding'}
    """
    path = _check_file(path)
    records = _gmt_records(path)
    _finish(path, {group: ids for group, _, ids in records})
    return {group: text for group, text, _ in records if text not in ("", "na", group)}


def read_tsv(path: str | os.PathLike) -> Standard:
    """Read a two-column TSV: ``protein<TAB>group`` per line (an optional ``protein<TAB>group`` header).

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    Standard

    Raises
    ------
    InputError
        If the file is missing, a line does not have exactly two fields, or it is empty.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.tsv"
    >>> _ = p.write_text("protein\\tgroup\\nYAL1\\tnucleus\\nYAL2\\tnucleus\\n")
    >>> {g: sorted(ids) for g, ids in read_tsv(p).items()}
    {'nucleus': ['YAL1', 'YAL2']}
    """
    path = _check_file(path)
    standard: Standard = {}
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) != 2 or not all(fields):
            raise file_error(path, f"line {number}: expected two tab-separated columns 'protein<TAB>group'. "
                                   f"Received: {line[:60]!r}")
        if number == 1 and [f.lower() for f in fields] == ["protein", "group"]:
            continue
        standard.setdefault(fields[1], set()).add(fields[0])
    return _finish(path, standard)


def read_json(path: str | os.PathLike) -> Standard:
    """Read a JSON object ``{group: [id, ...]}`` (the ICoN/BIONIC module files).

    A labels file ``{protein: [group, ...]}`` (keys that are yeast ORFs, values that
    are not) is recognised and inverted, so both ICoN files give the same standard.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    Standard

    Raises
    ------
    InputError
        If the file is missing, not JSON, not an object of string lists, or a key repeats.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.json"
    >>> _ = p.write_text('{"CPX-1": ["YAL1", "YAL2"]}')
    >>> {g: sorted(ids) for g, ids in read_json(p).items()}
    {'CPX-1': ['YAL1', 'YAL2']}
    """
    path = _check_file(path)
    try:
        data = json.loads(_read_text(path), object_pairs_hook=_unique_keys)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise file_error(path, f"not valid JSON: {exc}") from None
    except _DuplicateKey as exc:
        raise file_error(path, f"group {exc.args[0]!r} appears twice; give each group one entry") from None
    if not isinstance(data, dict) or not all(
        isinstance(ids, list) and all(isinstance(i, str) for i in ids) for ids in data.values()
    ):
        raise file_error(path, "expected a JSON object {group: [protein id, ...]}")
    data = {str(key): [i.strip() for i in values if i.strip()] for key, values in data.items()}
    if _looks_like_labels(data):
        logger.info("%s: keys are protein ids (ORFs) and values groups: read as a labels file (protein -> groups)",
                    path)
        inverted: Standard = {}
        for protein, groups in data.items():
            for group in groups:
                inverted.setdefault(group, set()).add(protein)
        return _finish(path, inverted)
    return _finish(path, {group: set(ids) for group, ids in data.items()})


class _DuplicateKey(Exception):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


#: Systematic yeast ORF names (nuclear, mitochondrial Q0xxx, R0xxxW/C of the 2-micron plasmid).
_ORF = re.compile(r"Y[A-P][LR]\d{3}[WC](-[A-Z])?|Q\d{4}|R\d{4}[WC]", re.IGNORECASE)


def _orf_fraction(names: Iterable[str]) -> float:
    names = list(names)
    return sum(bool(_ORF.fullmatch(n)) for n in names) / len(names) if names else 0.0


def _looks_like_labels(data: Mapping[str, Sequence[str]]) -> bool:
    """True for ``{ORF: [group, ...]}`` (the ICoN *-labels.json files), False for ``{group: [ORF, ...]}``.

    Examples
    --------
    >>> _looks_like_labels({"YAL001C": ["CPX-1"], "Q0080": ["CPX-1"]})
    True
    >>> _looks_like_labels({"CPX-1": ["YAL001C", "Q0080"]})
    False
    """
    values = [v for vs in data.values() for v in vs]
    return _orf_fraction(data) >= 0.9 and _orf_fraction(values) < 0.5


def _read_text(path: Path) -> str:
    with reading(path):
        return path.read_text()


_READERS = {".gmt": read_gmt, ".tsv": read_tsv, ".json": read_json}


def load_standard(path: str | os.PathLike) -> Standard:
    """Read a standard file by its extension (``.gmt``, ``.tsv`` or ``.json``).

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    Standard

    Raises
    ------
    InputError
        If the extension is not one of :data:`STANDARD_SUFFIXES` or the file is bad.
    """
    path = Path(path)
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise file_error(path, f"unknown standard format {path.suffix!r}; expected one of {', '.join(STANDARD_SUFFIXES)}")
    return reader(path)


def load_standards(paths: Sequence[str | os.PathLike] | str | os.PathLike) -> dict[str, Standard]:
    """Load standards from files and directories; each is named by its file stem.

    Parameters
    ----------
    paths : path or sequence of paths
        Files, or directories whose ``.gmt``, ``.tsv`` and ``.json`` files are all read.

    Returns
    -------
    dict of str to Standard
        In the order given (directory contents sorted by name).

    Raises
    ------
    InputError
        If a path is missing, a directory holds no standard, or two standards share a name.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files: list[Path] = []
    for entry in map(Path, paths):
        if entry.is_dir():
            found = sorted(p for p in entry.iterdir() if p.is_file() and p.suffix.lower() in STANDARD_SUFFIXES)
            if not found:
                raise file_error(entry, f"no standard files ({', '.join(STANDARD_SUFFIXES)}) in this directory")
            files.extend(found)
        elif entry.is_file():
            files.append(entry)
        else:
            raise file_error(entry, "no such file or directory")
    standards: dict[str, Standard] = {}
    for path in files:
        if path.stem in standards:
            raise file_error(path, f"a standard named {path.stem!r} was already loaded; rename one of the files")
        standards[path.stem] = load_standard(path)
        logger.debug("%s: %d groups", path, len(standards[path.stem]))
    return standards


def from_sgd_slim(path: str | os.PathLike, aspect: str = "C", *, min_size: int = 10, max_size: int = 200) -> Standard:
    """Build a GO-slim standard from SGD's ``go_slim_mapping.tab``.

    Keeps gene products whose feature type starts with ``ORF`` (proteins; the
    ``protein complex`` rows are dropped), removes the roots and ``other``
    (:data:`SLIM_ROOTS`), and keeps terms annotated to ``min_size`` to
    ``max_size`` proteins of the whole file. Groups are named by slim term name.

    Parameters
    ----------
    path : str or os.PathLike
        SGD ``go_slim_mapping.tab`` (7 tab-separated columns, no header).
    aspect : {"C", "P"}, default "C"
        GO Cellular Component or Biological Process.
    min_size, max_size : int, default 10 and 200
        Inclusive window on the number of proteins per term.

    Returns
    -------
    Standard

    Raises
    ------
    InputError
        If the file does not have the 7 SGD columns, the aspect is unknown, or no term is left.
    """
    path = _check_file(path)
    if aspect not in ASPECTS:
        raise InputError(f"unknown GO aspect {aspect!r}; expected one of {', '.join(ASPECTS)}")
    if not 1 <= min_size <= max_size:
        raise InputError(f"need 1 <= min_size <= max_size. Received: min_size={min_size}, max_size={max_size}")
    table = _read_slim(path)
    orf, aspects, term, ftype = table[0], table[3], table[4], table[6]
    keep = (aspects == aspect) & ftype.str.startswith("ORF") & ~term.str.lower().isin(SLIM_ROOTS)
    groups = pd.Series(orf[keep].to_numpy()).groupby(term[keep].to_numpy()).agg(set)
    sizes = groups.map(len)
    standard = {str(name): ids for name, ids in groups[(sizes >= min_size) & (sizes <= max_size)].items()}
    logger.info("%s: aspect %s, %d of %d terms with %d-%d proteins", path, aspect, len(standard), len(groups),
                min_size, max_size)
    return _finish(path, standard)


#: How a compressed annotation file is opened, by its suffix (others are read as they are).
_OPENERS = {".gz": gzip.open, ".xz": lzma.open, ".bz2": bz2.open}


def _read_slim(path: Path) -> pd.DataFrame:
    """The 7 columns of ``go_slim_mapping.tab``; a file that ends mid-line or has short lines is refused as truncated."""
    with reading(path), _OPENERS.get(path.suffix.lower(), open)(path, "rb") as handle:
        raw = handle.read()
    if raw and not raw.endswith(b"\n"):
        raise file_error(path, "ends in the middle of a line (a truncated download?); download go_slim_mapping.tab "
                               "again")
    try:
        table = pd.read_csv(io.BytesIO(raw), sep="\t", header=None, dtype=str, keep_default_na=False, quoting=3)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise file_error(path, f"not a tab-separated SGD go_slim_mapping.tab: {exc}") from None
    if table.shape[1] != 7:
        raise file_error(path, f"expected the 7 columns of SGD go_slim_mapping.tab. Received: {table.shape[1]} columns")
    for number, line in enumerate(raw.splitlines(), start=1):
        columns = line.count(b"\t") + 1
        if columns != 7:
            raise file_error(path, f"line {number} has {columns} of the 7 columns (a truncated or damaged "
                                   "download?); download go_slim_mapping.tab again")
    return table


def from_huh2003(path: str | os.PathLike) -> Standard:
    """Build the localization standard from the Huh et al. 2003 YeastGFP table.

    Each ``T`` in a location column puts the ORF in that compartment (proteins
    may have several). Early Golgi, late Golgi and ER to Golgi are merged into
    ``Golgi`` (:data:`HUH_GOLGI_MERGE`); proteins flagged ``ambiguous`` are left
    unlabelled (in no group).

    Parameters
    ----------
    path : str or os.PathLike
        The CSV table (optionally compressed, e.g. ``.csv.xz``) with columns
        ``yORF``, ``ambiguous`` and the 22 other location columns after ``ambiguous``.

    Returns
    -------
    Standard

    Raises
    ------
    InputError
        If the columns are not those of the YeastGFP table.
    """
    path = _check_file(path)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError) as exc:
        raise file_error(path, f"not a readable CSV table: {exc}") from None
    if "yORF" not in table.columns or "ambiguous" not in table.columns:
        raise file_error(path, "expected the Huh 2003 YeastGFP columns 'yORF', 'ambiguous' and one per location. "
                               f"Received: {list(table.columns)[:6]}")
    locations = list(table.columns[table.columns.get_loc("ambiguous") + 1:])
    table = table[table["ambiguous"] != "T"]
    standard: Standard = {}
    for column in locations:
        name = "Golgi" if column in HUH_GOLGI_MERGE else column
        standard.setdefault(name, set()).update(table.loc[table[column] == "T", "yORF"].str.strip())
    return _finish(path, standard)


def from_modules_json(path: str | os.PathLike) -> Standard:
    """Build a standard from an ICoN/BIONIC module file (complexes, KEGG, GO BP).

    Parameters
    ----------
    path : str or os.PathLike
        JSON ``{module: [ORF, ...]}``, e.g. ``yeast-IntAct-complex-modules.json``.

    Returns
    -------
    Standard
        Modules with at least one id.
    """
    return read_json(path)


def build_standard(source: str, path: str | os.PathLike, *, aspect: str = "C", min_size: int = 10,
                   max_size: int = 200) -> Standard:
    """Build a standard from one of :data:`BUILDERS` (the ``standards build`` command).

    Parameters
    ----------
    source : {"sgd-slim", "huh2003", "modules-json"}
    path : str or os.PathLike
    aspect, min_size, max_size
        Passed to :func:`from_sgd_slim`.

    Returns
    -------
    Standard
    """
    if source == "sgd-slim":
        return from_sgd_slim(path, aspect, min_size=min_size, max_size=max_size)
    if source == "huh2003":
        return from_huh2003(path)
    if source == "modules-json":
        return from_modules_json(path)
    raise InputError(f"unknown standard source {source!r}; expected one of {', '.join(BUILDERS)}")


def write_gmt(standard: Mapping[str, Iterable[str]], path: str | os.PathLike, *, overwrite: bool = False,
              descriptions: Mapping[str, str] | None = None) -> Path:
    """Write a standard as GMT (groups and ids sorted; description ``na`` unless given); atomic.

    Parameters
    ----------
    standard : mapping of str to iterable of str
    path : str or os.PathLike
    overwrite : bool, default False
    descriptions : mapping of str to str, optional
        Group -> the GMT description column (e.g. a pathway's name).

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.gmt"
    >>> _ = write_gmt({"b": {"Y2", "Y1"}}, p)
    >>> p.read_text()
    'b\\tna\\tY1\\tY2\\n'
    """
    for group in standard:
        if "\t" in group or "\n" in group:
            raise InputError(f"group names cannot contain tabs or newlines. Received: {group!r}")
    described = {g: re.sub(r"[\t\n\r]+", " ", str(d)) or "na" for g, d in (descriptions or {}).items()}
    path = Path(path)
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_text("".join(f"{group}\t{described.get(group, 'na')}\t" + "\t".join(sorted(standard[group])) + "\n"
                               for group in sorted(standard)))
    return path


def write_standard(standard: Mapping[str, Iterable[str]], path: str | os.PathLike, *,
                   overwrite: bool = False) -> Path:
    """Write a standard in the format of its suffix (:data:`STANDARD_SUFFIXES`), readable by :func:`load_standard`.

    ``.gmt``: :func:`write_gmt`; ``.tsv``: ``protein<TAB>group`` rows under that header;
    ``.json``: ``{group: [id, ...]}``. Groups and ids are sorted; the file is written atomically.

    Parameters
    ----------
    standard : mapping of str to iterable of str
    path : str or os.PathLike
    overwrite : bool, default False

    Returns
    -------
    pathlib.Path

    Raises
    ------
    InputError
        If the suffix is not one of :data:`STANDARD_SUFFIXES`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.json"
    >>> _ = write_standard({"b": {"Y2", "Y1"}}, p)
    >>> p.read_text(), load_standard(p) == {"b": {"Y1", "Y2"}}
    ('{"b": ["Y1", "Y2"]}\\n', True)
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in STANDARD_SUFFIXES:
        raise file_error(path, f"unknown standard format {path.suffix!r}; name the file with one of "
                               f"{', '.join(STANDARD_SUFFIXES)}")
    if suffix == ".gmt":
        return write_gmt(standard, path, overwrite=overwrite)
    groups = {str(group): sorted(map(str, standard[group])) for group in sorted(standard)}
    if suffix == ".json":
        text = json.dumps(groups) + "\n"
    else:
        for group in groups:
            if "\t" in group or "\n" in group:
                raise InputError(f"group names cannot contain tabs or newlines. Received: {group!r}")
        text = "protein\tgroup\n" + "".join(f"{i}\t{group}\n" for group, ids in groups.items() for i in ids)
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_text(text)
    return path


def read_aliases(path: str | os.PathLike) -> dict[str, str]:
    """Map gene names and aliases to systematic ORF names from SGD's ``SGD_features.tab``.

    Keys are upper case. Systematic names map to themselves; standard gene
    names come next; an alias is used only when it names a single ORF and is
    not already a systematic or standard name.

    Parameters
    ----------
    path : str or os.PathLike
        ``SGD_features.tab``/``.tsv`` (16 tab-separated columns; a header line is allowed).

    Returns
    -------
    dict of str to str

    Raises
    ------
    InputError
        If the file does not have the SGD columns.
    """
    path = _check_file(path)
    try:
        table = pd.read_csv(path, sep="\t", header=None, dtype=str, keep_default_na=False, quoting=3,
                            usecols=[1, 3, 4, 5])
    except (pd.errors.ParserError, ValueError, UnicodeDecodeError) as exc:
        raise file_error(path, f"not SGD_features.tab (16 tab-separated columns): {exc}") from None
    table.columns = ["type", "orf", "gene", "alias"]
    table = table[(table["type"] == "ORF") & (table["orf"] != "")]
    if table.empty:
        raise file_error(path, "no ORF rows (column 2 'ORF', column 4 systematic name); is this SGD_features.tab?")
    orfs = table["orf"].str.upper()
    aliases = dict(zip(orfs, orfs, strict=True))
    for gene, orf in zip(table["gene"].str.upper(), orfs, strict=True):
        if gene:
            aliases.setdefault(gene, orf)
    extra = table.assign(alias=table["alias"].str.upper().str.split("|")).explode("alias")
    extra = extra[extra["alias"] != ""]
    counts = extra.groupby("alias")["orf"].nunique()
    for alias, orf in zip(extra["alias"], extra["orf"].str.upper(), strict=True):
        if counts[alias] == 1:
            aliases.setdefault(alias, orf)
    return aliases


def require_groups(name: str, kept: Mapping[str, set[str]], coverage: Coverage) -> None:
    """Refuse a restricted standard with fewer than 2 groups (every metric would be a trivial 1.0).

    With a single group every pair of its proteins is a positive, so average
    precision, AMI and F-score all reach 1 whatever the representation.

    Parameters
    ----------
    name : str
        Name of the standard, for the message.
    kept : mapping of str to set of str
        Groups left by :func:`restrict`.
    coverage : Coverage
        Its counts, for the message.

    Raises
    ------
    InputError
        If fewer than 2 groups remain.

    Examples
    --------
    >>> kept, cov = restrict({"a": {"Y1", "Y2"}, "b": {"Y3"}}, ["Y1", "Y2", "Y3"])
    >>> require_groups("toy", kept, cov)
    Traceback (most recent call last):
    ...
    deeploc_keras.core.errors.InputError: standard 'toy': 1 group (a) has 2 or more of the profiled proteins (2 groups in the standard, 3 of 3 ids matched); scoring needs at least 2 groups
    """
    if len(kept) >= 2:
        return
    which = f" ({', '.join(sorted(kept))})" if kept else ""
    raise InputError(f"standard {name!r}: {len(kept)} group{'' if len(kept) == 1 else 's'}{which} "
                     f"{'has' if len(kept) == 1 else 'have'} 2 or more of "
                     f"the profiled proteins ({coverage.n_groups_standard} groups in the standard, "
                     f"{coverage.n_proteins_matched} of {coverage.n_proteins_standard} ids matched); "
                     "scoring needs at least 2 groups")


def restrict(
    standard: Mapping[str, Iterable[str]],
    proteins: Sequence[str],
    *,
    aliases: Mapping[str, str] | None = None,
    min_group_size: int = 2,
) -> tuple[Standard, Coverage]:
    """Restrict a standard to the profiled proteins and drop small groups.

    Ids on both sides are matched case-insensitively after the optional alias
    map (gene name -> ORF); the returned standard uses the profile's ids.

    Parameters
    ----------
    standard : mapping of str to iterable of str
    proteins : sequence of str
        Protein ids of the profiles.
    aliases : mapping of str to str, optional
        Upper-case name -> ORF, from :func:`read_aliases`.
    min_group_size : int, default 2
        Groups with fewer matched proteins are dropped.

    Returns
    -------
    (Standard, Coverage)

    Raises
    ------
    InputError
        If no id of the standard matches a profile (examples of both sides are given).

    Examples
    --------
    >>> kept, cov = restrict({"a": {"Y1", "Y2", "Y9"}, "b": {"Y3"}}, ["y1", "Y2", "Y3"])
    >>> sorted(kept["a"]), cov.n_groups_dropped, cov.n_proteins_kept
    (['Y2', 'y1'], 1, 2)
    """
    aliases = aliases or {}

    def canonical(name: str) -> str:
        key = name.strip().upper()
        return aliases.get(key, key)

    lookup: dict[str, str] = {}
    for protein in proteins:
        lookup.setdefault(canonical(protein), protein)
    all_ids = set().union(*map(set, standard.values())) if standard else set()
    matched = {i: lookup[c] for i in all_ids if (c := canonical(i)) in lookup}
    if not matched:
        sample_std = ", ".join(sorted(all_ids)[:3])
        sample_prof = ", ".join(sorted(map(str, proteins))[:3])
        hint = "" if aliases else "; if one side uses gene names, pass an alias map (--aliases SGD_features.tab)"
        raise InputError(f"no protein id of the standard matches the profiles (standard ids look like {sample_std}; "
                         f"profile ids look like {sample_prof}){hint}")
    kept: Standard = {}
    for group, ids in standard.items():
        members = {matched[i] for i in ids if i in matched}
        if len(members) >= min_group_size:
            kept[group] = members
    universe = set().union(*kept.values()) if kept else set()
    coverage = Coverage(
        n_profile_proteins=len(set(proteins)),
        n_proteins_standard=len(all_ids),
        n_proteins_matched=len(set(matched.values())),
        n_proteins_kept=len(universe),
        n_proteins_dropped=len(all_ids) - len(universe),
        n_groups_standard=len(standard),
        n_groups_kept=len(kept),
        n_groups_dropped=len(standard) - len(kept),
    )
    return kept, coverage
