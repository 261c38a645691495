"""Fetch the current functional standards from their providers for the user: GO, SGD, Complex Portal, KEGG.

:func:`fetch_standards` (``deeploc-keras standards fetch --out DIR``) downloads the
provider files of :data:`SOURCES` into a cache (downloaded once, reused until
``refresh``), builds the four standards of the study from them and writes, into
``OUT`` (atomically), one GMT per standard and ``PROVENANCE.md`` /
``provenance.json`` (address, retrieval time, size and md5 of every file, its
licence or terms, and how each standard was built):

- ``cellular_component.gmt``: SGD's GO-slim cellular-component terms carried by 10-200
  proteins (:func:`eval.standards.from_sgd_slim`);
- ``bioprocess.gmt``: GO biological-process terms of SGD's GO annotation with BIONIC's rules
  (no IEA evidence, no ``NOT`` qualifier, terms of 2 to 30 genes; :func:`go_processes`);
- ``pathway.gmt``: KEGG pathways of S. cerevisiae (:func:`kegg_pathways`);
- ``complex.gmt``: Complex Portal complexes of S. cerevisiae (:func:`complex_portal`).

Ids are systematic ORF names (GO annotations map through SGD ids, Complex Portal through
UniProt accessions, both with SGD's tables). GO, SGD and Complex Portal data are CC BY 4.0;
KEGG's terms allow academic use but restrict redistribution, so the KEGG file and
``pathway.gmt`` are for the user's own analyses and must not be shared.

References
----------
Forster D. T. et al. (2022) BIONIC: biological network integration using convolutions. Nat. Methods 19:1250-1261.
"""

from __future__ import annotations

import datetime as _dt
import gzip
import hashlib
import io
import json
import logging
import os
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from deeploc_keras.core.errors import InputError, file_error
from deeploc_keras.core.outputs import atomic_path, check_output

from .standards import Standard, from_sgd_slim, write_gmt

__all__ = ["Source", "SOURCES", "FETCHED_STANDARDS", "GO_MAX_GENES", "default_cache", "download", "sgd_ids",
           "uniprot_ids", "go_processes", "complex_portal", "kegg_pathways", "fetch_standards"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    """A provider file.

    Attributes
    ----------
    url, filename : str
        Where it is downloaded from, and its name in the cache.
    provider, licence : str
        Who publishes it and under which licence or terms.
    """

    url: str
    filename: str
    provider: str
    licence: str


_CC_BY = "CC BY 4.0"
_SGD = "https://downloads.yeastgenome.org/curation"
#: The provider files :func:`fetch_standards` downloads, by key.
SOURCES: dict[str, Source] = {
    "go_annotations": Source("https://current.geneontology.org/annotations/sgd.gaf.gz", "sgd.gaf.gz",
                             "Gene Ontology Consortium (SGD's GO annotation)", _CC_BY),
    "go_slim": Source(f"{_SGD}/literature/go_slim_mapping.tab", "go_slim_mapping.tab", "SGD", _CC_BY),
    "sgd_features": Source(f"{_SGD}/chromosomal_feature/SGD_features.tab", "SGD_features.tab", "SGD", _CC_BY),
    "sgd_dbxref": Source(f"{_SGD}/chromosomal_feature/dbxref.tab", "dbxref.tab", "SGD", _CC_BY),
    "complex_portal": Source("https://ftp.ebi.ac.uk/pub/databases/intact/complex/current/complextab/559292.tsv",
                             "complex_portal_559292.tsv", "Complex Portal (EMBL-EBI)", _CC_BY),
    "kegg_links": Source("https://rest.kegg.jp/link/pathway/sce", "kegg_link_pathway_sce.txt", "KEGG",
                         "KEGG terms: academic use; redistribution restricted (do not share)"),
    "kegg_names": Source("https://rest.kegg.jp/list/pathway/sce", "kegg_list_pathway_sce.txt", "KEGG",
                         "KEGG terms: academic use; redistribution restricted (do not share)"),
}
#: The standards :func:`fetch_standards` writes (``<name>.gmt``), with the sources each is built from.
FETCHED_STANDARDS: dict[str, tuple[str, ...]] = {
    "cellular_component": ("go_slim",),
    "bioprocess": ("go_annotations", "sgd_features"),
    "pathway": ("kegg_links", "kegg_names"),
    "complex": ("complex_portal", "sgd_dbxref"),
}
#: BIONIC's cap on the size of a GO biological-process term.
GO_MAX_GENES = 30
_TIMEOUT = 120
_ACCESSION = re.compile(r"^([OPQ][0-9][A-Z0-9]{3}[0-9]|[A-NR-Z][0-9](?:[A-Z][A-Z0-9]{2}[0-9]){1,2})")


def default_cache() -> Path:
    """``$XDG_CACHE_HOME/deeploc-keras/standards`` (``~/.cache/...`` when unset)."""
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "deeploc-keras" / "standards"


def _urlopen(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "deeploc-keras standards fetch"})
    with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:  # noqa: S310 (https URLs of SOURCES)
        return response.read()


def download(url: str, path: str | os.PathLike, *, opener: Callable[[str], bytes] | None = None,
             refresh: bool = False) -> tuple[Path, bool]:
    """Download ``url`` to ``path`` unless it is there already (written to a temporary name, then renamed).

    Parameters
    ----------
    url : str
    path : str or os.PathLike
        The cached file.
    opener : callable, optional
        ``opener(url) -> bytes``; default an HTTP(S) GET with a timeout.
    refresh : bool, default False
        Download again even when ``path`` exists.

    Returns
    -------
    (pathlib.Path, bool)
        The file, and whether it was downloaded now (False: taken from the cache).

    Raises
    ------
    InputError
        When the download fails (one line with the address and the reason).
    """
    path = Path(path)
    if path.is_file() and not refresh:
        return path, False
    try:
        data = (opener or _urlopen)(url)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise InputError(f"{url}: cannot download ({getattr(exc, 'reason', exc)}); check the network, or put the "
                         f"file in the cache as {path}") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, overwrite=True) as tmp:
        tmp.write_bytes(data)
    return path, True


def _read_tab(path: Path, what: str, *, comment: str | None = None) -> pd.DataFrame:
    """A tab-separated provider file (plain or gzip) as strings, without lines starting with ``comment``."""
    try:
        raw = path.read_bytes()
        text = (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode("utf-8", errors="replace")
        if comment is not None:
            text = "".join(line for line in text.splitlines(keepends=True) if not line.startswith(comment))
        return pd.read_csv(io.StringIO(text), sep="\t", header=None, dtype=str, keep_default_na=False, quoting=3)
    except (OSError, EOFError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise file_error(path, f"not a readable {what} ({exc})") from None


def sgd_ids(features: str | os.PathLike) -> dict[str, str]:
    """SGDID -> systematic name of the ORFs of SGD's ``SGD_features.tab``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "SGD_features.tab"
    >>> _ = p.write_text("S000002143\\tORF\\tDubious\\tYAL069W\\t\\nS000000001\\tCDS\\t\\tx\\t\\n")
    >>> sgd_ids(p)
    {'S000002143': 'YAL069W'}
    """
    table = _read_tab(Path(features), "SGD_features.tab")
    if table.shape[1] < 4:
        raise file_error(features, f"expected the columns of SGD_features.tab. Received: {table.shape[1]} columns")
    table = table[(table[1] == "ORF") & (table[3] != "")]
    return dict(zip(table[0].str.strip(), table[3].str.strip(), strict=True))


def uniprot_ids(dbxref: str | os.PathLike) -> dict[str, str]:
    """UniProt accession -> systematic name, from SGD's ``dbxref.tab`` (rows whose source is UniProt).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "dbxref.tab"
    >>> _ = p.write_text("P31383\\tUniProt/Swiss-Prot\\tUniProtKB/Swiss-Prot ID\\tYAL016W\\tS000000014\\tTPD3\\n"
    ...                  "12345\\tNCBI\\tGene ID\\tYAL016W\\tS000000014\\tTPD3\\n")
    >>> uniprot_ids(p)
    {'P31383': 'YAL016W'}
    """
    table = _read_tab(Path(dbxref), "SGD dbxref.tab")
    if table.shape[1] < 4:
        raise file_error(dbxref, f"expected the columns of SGD dbxref.tab. Received: {table.shape[1]} columns")
    table = table[table[1].str.contains("UniProt") & (table[3] != "")]
    return dict(zip(table[0].str.strip(), table[3].str.strip(), strict=True))


def go_processes(gaf: str | os.PathLike, ids: Mapping[str, str], *, max_genes: int = GO_MAX_GENES) -> Standard:
    """GO biological-process terms from a GAF file with BIONIC's rules.

    Keeps annotations of aspect ``P`` whose evidence is not ``IEA`` and whose qualifier has no
    ``NOT``, maps each gene product (column 2, an SGD id) to its ORF with ``ids``, and keeps
    terms with 2 to ``max_genes`` ORFs. Terms are not propagated up the GO graph.

    Parameters
    ----------
    gaf : str or os.PathLike
        GAF 2.x, plain or gzip-compressed (``!`` lines are comments).
    ids : mapping of str to str
        SGDID -> ORF (:func:`sgd_ids`).
    max_genes : int, default 30

    Returns
    -------
    Standard
        GO id -> ORFs.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "sgd.gaf"
    >>> row = "SGD\\t{}\\tG\\tinvolved_in\\tGO:1\\tPMID:1\\t{}\\t\\tP\\t\\t\\tprotein\\ttaxon:559292\\t2024\\tSGD\\n"
    >>> _ = p.write_text("!gaf-version: 2.2\\n" + row.format("S1", "IDA") + row.format("S2", "IMP")
    ...                  + row.format("S3", "IEA"))
    >>> {t: sorted(m) for t, m in go_processes(p, {"S1": "YAL001C", "S2": "YAL002W", "S3": "YAL003W"}).items()}
    {'GO:1': ['YAL001C', 'YAL002W']}
    """
    table = _read_tab(Path(gaf), "GAF file", comment="!")
    if table.shape[1] < 15:
        raise file_error(gaf, f"expected the 15+ columns of a GAF file. Received: {table.shape[1]} columns")
    keep = (table[8] == "P") & (table[6] != "IEA") & ~table[3].str.contains("NOT")
    rows = table[keep].assign(orf=table.loc[keep, 1].map(ids)).dropna(subset=["orf"])
    groups = rows.groupby(4)["orf"].agg(set)
    return {str(t): m for t, m in groups.items() if 2 <= len(m) <= max_genes}


def complex_portal(tsv: str | os.PathLike, ids: Mapping[str, str]) -> tuple[Standard, dict[str, str]]:
    """Complexes of a Complex Portal ``complextab`` file, their UniProt participants mapped to ORFs.

    Parameters
    ----------
    tsv : str or os.PathLike
        ``559292.tsv`` (header line starting ``#Complex ac``; column 5 lists ``ACCESSION(stoichiometry)``
        participants separated by ``|``; isoforms and chains count as their protein; other molecules
        are ignored).
    ids : mapping of str to str
        UniProt accession -> ORF (:func:`uniprot_ids`).

    Returns
    -------
    (Standard, dict of str to str)
        Complex accession -> ORFs (complexes with >= 2 of them), and -> recommended name.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "559292.tsv"
    >>> _ = p.write_text("#Complex ac\\tRecommended name\\tAliases\\tTaxonomy\\tIdentifiers\\n"
    ...                  "CPX-1\\tPP2A\\t-\\t559292\\tP31383(1)|P23595-2(1)|CHEBI:29105(2)\\n")
    >>> complexes, names = complex_portal(p, {"P31383": "YAL016W", "P23595": "YGL190C"})
    >>> sorted(complexes["CPX-1"]), names
    (['YAL016W', 'YGL190C'], {'CPX-1': 'PP2A'})
    """
    table = _read_tab(Path(tsv), "Complex Portal complextab file")
    if table.shape[1] < 5 or not str(table.iloc[0, 0]).startswith("#"):
        raise file_error(tsv, "expected a Complex Portal complextab file (a '#Complex ac' header, 5+ columns)")
    standard, names = {}, {}
    for accession, name, participants in table.iloc[1:, [0, 1, 4]].itertuples(index=False):
        found = (_ACCESSION.match(p.strip()) for p in participants.split("|"))
        members = {ids[m.group(1)] for m in found if m and m.group(1) in ids}
        if len(members) >= 2:
            standard[accession], names[accession] = members, name
    return standard, names


def kegg_pathways(links: str | os.PathLike, names: str | os.PathLike) -> tuple[Standard, dict[str, str]]:
    """KEGG pathways of S. cerevisiae from the REST ``link/pathway/sce`` and ``list/pathway/sce`` outputs.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "link").write_text("sce:YAL038W\\tpath:sce00010\\nsce:YCR012W\\tpath:sce00010\\n")
    >>> _ = (d / "list").write_text("sce00010\\tGlycolysis / Gluconeogenesis - Saccharomyces cerevisiae (budding yeast)\\n")
    >>> pathways, names = kegg_pathways(d / "link", d / "list")
    >>> sorted(pathways["sce00010"]), names
    (['YAL038W', 'YCR012W'], {'sce00010': 'Glycolysis / Gluconeogenesis'})
    """
    link = _read_tab(Path(links), "KEGG link file")
    listing = _read_tab(Path(names), "KEGG list file")
    if link.shape[1] != 2 or listing.shape[1] != 2:
        raise file_error(links if link.shape[1] != 2 else names, "expected two tab-separated columns (KEGG REST)")
    genes, paths = (link[0], link[1]) if link[1].str.startswith("path:").all() else (link[1], link[0])
    pathway = paths.str.removeprefix("path:")
    orf = genes.str.split(":").str[-1]
    standard = {str(p): set(m) for p, m in orf.groupby(pathway.to_numpy())}
    described = listing[0].str.removeprefix("path:")
    label = listing[1].str.replace(r" - Saccharomyces cerevisiae.*$", "", regex=True)
    return standard, {p: n for p, n in zip(described, label, strict=True) if p in standard}


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()  # noqa: S324 (a checksum, not security)


def _build(files: dict[str, Path]) -> dict[str, tuple[Standard, dict[str, str], str]]:
    """Each standard, its group descriptions and the rule it was built with."""
    cc = from_sgd_slim(files["go_slim"], "C", min_size=10, max_size=200)
    bp = go_processes(files["go_annotations"], sgd_ids(files["sgd_features"]))
    pathway, pathway_names = kegg_pathways(files["kegg_links"], files["kegg_names"])
    complexes, complex_names = complex_portal(files["complex_portal"], uniprot_ids(files["sgd_dbxref"]))
    for name, standard in (("bioprocess", bp), ("pathway", pathway), ("complex", complexes)):
        if not standard:
            raise file_error(files[FETCHED_STANDARDS[name][0]], f"gives no {name} group of 2 or more ORFs; "
                                                                "is this the provider's current file?")
    return {
        "cellular_component": (cc, {}, "GO-slim cellular-component terms (SGD mapping, aspect C, ORFs, no roots) "
                                        "carried by 10-200 proteins"),
        "bioprocess": (bp, {}, f"GO biological-process terms of SGD's GO annotation, BIONIC's rules: no IEA, no NOT, "
                               f"2-{GO_MAX_GENES} genes, not propagated"),
        "pathway": (pathway, pathway_names, "KEGG pathways of S. cerevisiae (sce); for your own use only"),
        "complex": (complexes, complex_names, "Complex Portal complexes of S. cerevisiae (taxon 559292), UniProt "
                                              "participants mapped to ORFs with SGD's dbxref.tab; >= 2 ORFs"),
    }


def _provenance_md(record: dict) -> str:
    lines = ["# Functional standards fetched by deeploc-keras standards fetch", "",
             f"Fetched {record['fetched']} with deeploc-keras; cache {record['cache']}.", "",
             "| file | address | retrieved | bytes | md5 | provider | licence / terms |", "|---|---|---|---|---|---|---|"]
    for s in record["sources"].values():
        lines.append(f"| {s['filename']} | {s['url']} | {s['retrieved']} | {s['bytes']:,} | {s['md5']} | "
                     f"{s['provider']} | {s['licence']} |")
    lines += ["", "| standard | groups | proteins | built from | rule |", "|---|---|---|---|---|"]
    for name, s in record["standards"].items():
        lines.append(f"| {name}.gmt | {s['groups']:,} | {s['proteins']:,} | {', '.join(s['sources'])} | {s['rule']} |")
    lines += ["", "Licences: GO, SGD and Complex Portal data are CC BY 4.0 (cite the Gene Ontology Consortium, SGD and "
              "Complex Portal). KEGG data come under KEGG's terms of use: academic use, no redistribution; keep "
              "pathway.gmt and the KEGG files to yourself.", ""]
    return "\n".join(lines)


def fetch_standards(
    out: str | os.PathLike,
    *,
    cache: str | os.PathLike | None = None,
    refresh: bool = False,
    overwrite: bool = False,
    opener: Callable[[str], bytes] | None = None,
    urls: Mapping[str, str] | None = None,
) -> dict[str, Path]:
    """Download the provider files (:data:`SOURCES`) and write the four standards with their provenance.

    Parameters
    ----------
    out : str or os.PathLike
        Directory to create: ``<standard>.gmt`` for each of :data:`FETCHED_STANDARDS`, ``PROVENANCE.md``
        and ``provenance.json``.
    cache : str or os.PathLike, optional
        Where downloaded files are kept and reused (default :func:`default_cache`).
    refresh : bool, default False
        Download every file again even when cached.
    overwrite : bool, default False
        Replace an existing ``out``.
    opener : callable, optional
        ``opener(url) -> bytes`` (default an HTTP(S) GET); tests and mirrors pass their own.
    urls : mapping of str to str, optional
        Source key -> address, replacing :data:`SOURCES` addresses (e.g. a local mirror).

    Returns
    -------
    dict of str to pathlib.Path
        The GMT file of each standard.

    Raises
    ------
    InputError
        An unknown source key, a failed download or an unreadable provider file.
    OutputExistsError
        If ``out`` exists and ``overwrite`` is False.
    """
    out = check_output(out, overwrite=overwrite)
    unknown = sorted(set(urls or {}) - set(SOURCES))
    if unknown:
        raise InputError(f"unknown source keys {unknown}; expected some of {list(SOURCES)}")
    cache = Path(cache) if cache is not None else default_cache()
    files, sources = {}, {}
    for key, source in SOURCES.items():
        url = (urls or {}).get(key, source.url)
        path, fresh = download(url, cache / source.filename, opener=opener, refresh=refresh)
        logger.info("%s: %s %s", key, "downloaded" if fresh else "cached", path)
        files[key] = path
        when = _dt.datetime.fromtimestamp(path.stat().st_mtime, tz=_dt.timezone.utc).isoformat(timespec="seconds")
        sources[key] = {**asdict(source), "url": url, "retrieved": when, "bytes": path.stat().st_size,
                        "md5": _md5(path), "from_cache": not fresh}
    built = _build(files)
    record = {"fetched": _dt.datetime.now(tz=_dt.timezone.utc).isoformat(timespec="seconds"),
              "cache": os.fspath(cache.resolve()), "sources": sources, "standards": {}}
    with atomic_path(out, overwrite=overwrite) as tmp:
        tmp.mkdir(parents=True)
        for name, (standard, descriptions, rule) in built.items():
            write_gmt(standard, tmp / f"{name}.gmt", descriptions=descriptions)
            record["standards"][name] = {"groups": len(standard), "proteins": len(set().union(*standard.values())),
                                         "sources": list(FETCHED_STANDARDS[name]), "rule": rule}
        (tmp / "provenance.json").write_text(json.dumps(record, indent=2))
        (tmp / "PROVENANCE.md").write_text(_provenance_md(record))
    return {name: out / f"{name}.gmt" for name in built}
