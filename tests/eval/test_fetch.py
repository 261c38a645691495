"""standards fetch: provider files parsed offline from small fixtures written here; the download is injected."""

from __future__ import annotations

import gzip
import hashlib
import json
import urllib.error

import pytest
from click.testing import CliRunner

from deeploc_keras.cli import main
from deeploc_keras.core.errors import InputError, OutputExistsError
from eval import fetch
from eval.standards import load_standard, read_gmt_descriptions

ORFS = ["YAL001C", "YAL002W", "YAL003W", "YAL004W", "YAL005C", "YBR001C"]
NUCLEOLUS = [f"YCL{k:03d}W" for k in range(12)]
#: GO-slim rows: a 12-protein CC term (kept), a 3-protein one (below 10: dropped), a root, a complex row, a process.
SLIM_ROWS = ([(orf, "C", "nucleolus", "ORF|Verified") for orf in NUCLEOLUS]
             + [(orf, "C", "bud tip", "ORF|Verified") for orf in ORFS[:3]]
             + [(orf, "C", "cellular_component", "ORF|Verified") for orf in NUCLEOLUS]
             + [("CPX-1", "C", "nucleolus", "protein complex"), *((orf, "P", "ribosome biogenesis", "ORF|Verified")
                                                                  for orf in NUCLEOLUS)])
_GAF_ROW = "SGD\t{sgd}\t{gene}\t{qualifier}\t{go}\tPMID:1\t{evidence}\t\t{aspect}\tname\t{orf}|{gene}\tprotein\t" \
           "taxon:559292\t20240101\tSGD\t\t\n"


def _gaf() -> bytes:
    rows = [("S1", "GO:0000001", "IDA", "P", "involved_in"), ("S2", "GO:0000001", "IMP", "P", "involved_in"),
            ("S3", "GO:0000001", "IEA", "P", "involved_in"),  # electronic: dropped
            ("S4", "GO:0000001", "IDA", "P", "NOT|involved_in"),  # negated: dropped
            ("S3", "GO:0000002", "IDA", "P", "involved_in"), ("S4", "GO:0000002", "IGI", "P", "acts_upstream_of"),
            ("S5", "GO:0000002", "IPI", "P", "involved_in"),
            ("S1", "GO:0000003", "IDA", "C", "located_in"), ("S2", "GO:0000003", "IDA", "C", "located_in"),  # CC
            ("S5", "GO:0000004", "IDA", "P", "involved_in")]  # one gene: dropped
    text = "!gaf-version: 2.2\n!generated-by: SGD\n" + "".join(
        _GAF_ROW.format(sgd=s, gene=f"G{s}", orf=ORFS[int(s[1]) - 1], go=go, evidence=ev, aspect=a, qualifier=q)
        for s, go, ev, a, q in rows)
    return gzip.compress(text.encode(), mtime=0)  # the same bytes at every call


def _fixtures() -> dict[str, bytes]:
    """One small file per provider, in the provider's format."""
    slim = "".join(f"{orf}\tG{orf}\tS0\t{aspect}\t{term}\tGO:1\t{kind}\n" for orf, aspect, term, kind in SLIM_ROWS)
    features = "".join(f"S{k + 1}\tORF\tVerified\t{orf}\tG{orf}\t\tchromosome 1\n" for k, orf in enumerate(ORFS))
    dbxref = ("P31383\tUniProt/Swiss-Prot\tUniProtKB/Swiss-Prot ID\tYAL001C\tS1\tTPD3\n"
              "P23595\tUniProt/Swiss-Prot\tUniProtKB/Swiss-Prot ID\tYAL002W\tS2\tPPH22\n"
              "Q12345\tUniProt/TrEMBL\tUniProtKB/TrEMBL ID\tYAL003W\tS3\t\n"
              "852345\tNCBI\tGene ID\tYAL004W\tS4\t\n")
    complexes = ("#Complex ac\tRecommended name\tAliases for complex\tTaxonomy identifier\t"
                 "Identifiers (and stoichiometry) of molecules in complex\tEvidence Code\n"
                 "CPX-1\tProtein phosphatase 2A\t-\t559292\tP31383(1)|P23595-2(1)|CHEBI:29105(2)\tECO:0000353\n"
                 "CPX-2\tLonely complex\t-\t559292\tQ12345(2)|URS0000(1)\tECO:0000353\n"
                 "CPX-3\tWith a chain\t-\t559292\tQ12345-PRO_0000012345(1)|P31383(1)\tECO:0000353\n")
    links = "sce:YAL001C\tpath:sce00010\nsce:YAL002W\tpath:sce00010\nsce:YBR001C\tpath:sce04111\n" \
            "sce:YAL005C\tpath:sce04111\n"
    names = ("sce00010\tGlycolysis / Gluconeogenesis - Saccharomyces cerevisiae (budding yeast)\n"
             "sce04111\tCell cycle - yeast - Saccharomyces cerevisiae (budding yeast)\n")
    return {"go_annotations": _gaf(), "go_slim": slim.encode(), "sgd_features": features.encode(),
            "sgd_dbxref": dbxref.encode(), "complex_portal": complexes.encode(), "kegg_links": links.encode(),
            "kegg_names": names.encode()}


class _Opener:
    """Serves the fixtures by address and records what was asked."""

    def __init__(self, fixtures: dict[str, bytes]) -> None:
        self.by_url = {fetch.SOURCES[key].url: data for key, data in fixtures.items()}
        self.asked: list[str] = []

    def __call__(self, url: str) -> bytes:
        self.asked.append(url)
        return self.by_url[url]


def _failing(url: str) -> bytes:
    raise urllib.error.URLError("no network in tests")


@pytest.fixture()
def fetched(tmp_path):
    opener = _Opener(_fixtures())
    files = fetch.fetch_standards(tmp_path / "standards", cache=tmp_path / "cache", opener=opener)
    return files, opener, tmp_path


def test_fetch_standards_builds_the_four_standards(fetched):
    files, opener, _ = fetched
    assert sorted(files) == sorted(fetch.FETCHED_STANDARDS)
    assert sorted(opener.asked) == sorted(s.url for s in fetch.SOURCES.values())
    standards = {name: load_standard(path) for name, path in files.items()}
    assert standards["cellular_component"] == {"nucleolus": set(NUCLEOLUS)}
    # GO BP with BIONIC's rules: IEA, NOT, the CC aspect and one-gene terms are dropped
    assert standards["bioprocess"] == {"GO:0000001": {"YAL001C", "YAL002W"},
                                       "GO:0000002": {"YAL003W", "YAL004W", "YAL005C"}}
    assert standards["pathway"] == {"sce00010": {"YAL001C", "YAL002W"}, "sce04111": {"YBR001C", "YAL005C"}}
    assert read_gmt_descriptions(files["pathway"]) == {"sce00010": "Glycolysis / Gluconeogenesis",
                                                       "sce04111": "Cell cycle - yeast"}
    # UniProt participants mapped to ORFs (isoform and chain suffixes dropped); CPX-2 has one ORF only
    assert standards["complex"] == {"CPX-1": {"YAL001C", "YAL002W"}, "CPX-3": {"YAL003W", "YAL001C"}}
    assert read_gmt_descriptions(files["complex"])["CPX-1"] == "Protein phosphatase 2A"


def test_fetch_standards_writes_provenance_and_licences(fetched):
    files, _, tmp_path = fetched
    out = files["complex"].parent
    record = json.loads((out / "provenance.json").read_text())
    for key, data in _fixtures().items():
        source = record["sources"][key]
        assert source["md5"] == hashlib.md5(data).hexdigest() and source["bytes"] == len(data)
        assert source["url"] == fetch.SOURCES[key].url and not source["from_cache"]
    text = (out / "PROVENANCE.md").read_text()
    assert text.count("CC BY 4.0") >= 5 and "redistribution restricted" in text
    assert "no IEA" in text and record["standards"]["complex"]["groups"] == 2
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted(s.filename for s in fetch.SOURCES.values())


def test_fetch_standards_reuses_the_cache(fetched, tmp_path):
    _, _, root = fetched
    files = fetch.fetch_standards(tmp_path / "again", cache=root / "cache", opener=_failing)
    assert load_standard(files["bioprocess"])["GO:0000001"] == {"YAL001C", "YAL002W"}
    record = json.loads((tmp_path / "again" / "provenance.json").read_text())
    assert all(source["from_cache"] for source in record["sources"].values())


def test_fetch_standards_raises_download_failure(fetched, tmp_path):
    _, _, root = fetched
    with pytest.raises(InputError, match="cannot download"):
        fetch.fetch_standards(tmp_path / "fresh", cache=root / "cache", opener=_failing, refresh=True)
    assert not (tmp_path / "fresh").exists()


def test_fetch_standards_raises_unreadable_provider_file(tmp_path):
    fixtures = _fixtures()
    fixtures["complex_portal"] = b"not\ta complextab\nfile\tat all\n"
    with pytest.raises(InputError, match="Complex Portal"):
        fetch.fetch_standards(tmp_path / "out", cache=tmp_path / "cache", opener=_Opener(fixtures))
    assert not (tmp_path / "out").exists()


def test_fetch_standards_raises_existing_output(fetched):
    files, opener, root = fetched
    with pytest.raises(OutputExistsError):
        fetch.fetch_standards(files["complex"].parent, cache=root / "cache", opener=opener)


def test_fetch_standards_raises_unknown_source_key(tmp_path):
    with pytest.raises(InputError, match="unknown source keys"):
        fetch.fetch_standards(tmp_path / "out", cache=tmp_path / "cache", urls={"reactome": "https://x"})


def test_standards_fetch_command_from_a_filled_cache(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    for key, data in _fixtures().items():
        (cache / fetch.SOURCES[key].filename).write_bytes(data)
    result = CliRunner().invoke(main, ["standards", "fetch", "--out", str(tmp_path / "out"), "--cache", str(cache)])
    assert result.exit_code == 0, result.output
    assert "PROVENANCE.md" in result.output and (tmp_path / "out" / "complex.gmt").is_file()
    again = CliRunner().invoke(main, ["standards", "fetch", "--out", str(tmp_path / "out"), "--cache", str(cache)])
    assert again.exit_code == 2 and len(again.output.strip().splitlines()) == 1
