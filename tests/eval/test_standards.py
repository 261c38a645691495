"""Tests of eval.standards: readers, builders on the real SGD / Huh / ICoN files, aliases, restriction."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from deeploc_keras.cli import main
from deeploc_keras.core.errors import InputError
from eval import standards


def test_readers_agree_on_one_standard(tmp_path):
    expected = {"nucleus": {"YAL001C", "YBR002W"}, "ER": {"YAL007C"}}
    (tmp_path / "s.gmt").write_text("nucleus\tna\tYAL001C\tYBR002W\nER\tna\tYAL007C\n")
    (tmp_path / "s.tsv").write_text("protein\tgroup\nYAL001C\tnucleus\nYBR002W\tnucleus\nYAL007C\tER\n")
    (tmp_path / "s.json").write_text('{"nucleus": ["YAL001C", "YBR002W"], "ER": ["YAL007C"]}')
    for suffix in ("gmt", "tsv", "json"):
        assert standards.load_standard(tmp_path / f"s.{suffix}") == expected


def test_write_gmt_round_trip(tmp_path):
    standard = {"b": {"Y2", "Y1"}, "a": {"Y3"}}
    path = standards.write_gmt(standard, tmp_path / "x.gmt")
    assert standards.read_gmt(path) == standard
    with pytest.raises(FileExistsError):
        standards.write_gmt(standard, path)


def test_load_standards_directory_names_by_stem(tmp_path):
    (tmp_path / "go_cc.gmt").write_text("a\tna\tY1\tY2\n")
    (tmp_path / "kegg.json").write_text('{"sce1": ["Y1", "Y3"]}')
    (tmp_path / "notes.txt").write_text("ignored")
    loaded = standards.load_standards([tmp_path])
    assert list(loaded) == ["go_cc", "kegg"]


def test_load_standards_raises_duplicate_name(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.gmt").write_text("g\tna\tY1\n")
    (tmp_path / "x.json").write_text('{"g": ["Y1"]}')
    with pytest.raises(InputError, match="already loaded"):
        standards.load_standards([tmp_path / "a", tmp_path / "x.json"])


def test_read_gmt_raises_short_line(tmp_path):
    (tmp_path / "bad.gmt").write_text("only_one_field\n")
    with pytest.raises(InputError, match="bad.gmt: line 1"):
        standards.read_gmt(tmp_path / "bad.gmt")


def test_read_json_raises_not_mapping(tmp_path):
    (tmp_path / "bad.json").write_text('["Y1", "Y2"]')
    with pytest.raises(InputError, match="JSON object"):
        standards.read_json(tmp_path / "bad.json")


def test_load_standard_raises_unknown_suffix(tmp_path):
    (tmp_path / "s.csv").write_text("x")
    with pytest.raises(InputError, match="unknown standard format"):
        standards.load_standard(tmp_path / "s.csv")


@pytest.fixture(scope="module")
def slim_path(standards_dir):
    return standards_dir / "sgd_go_slim_mapping_2024.tab"


@pytest.fixture(scope="module")
def huh(standards_dir):
    return standards.from_huh2003(standards_dir / "huh2003_yeastgfp.csv.xz")


def test_from_sgd_slim_counts_in_window(slim_path, standards_dir):
    cc = standards.from_sgd_slim(slim_path, "C")
    bp = standards.from_sgd_slim(slim_path, "P")
    # whole file: 113 CC and 102 BP slim terms with 10-200 ORFs
    assert (len(cc), len(bp)) == (113, 102)
    assert all(10 <= len(ids) <= 200 for ids in (*cc.values(), *bp.values()))
    assert not set(cc) & standards.SLIM_ROOTS and "nucleus" not in cc  # roots, other and big terms gone
    assert all(i.startswith(("Y", "Q", "R")) for ids in cc.values() for i in ids)  # no CPX rows
    # standards.md: the same window on the Huh 2003 proteome gives 102 CC and 103 BP terms
    huh_orfs = pd.read_csv(standards_dir / "huh2003_yeastgfp.csv.xz")["yORF"].tolist()
    for aspect, expected in (("C", 102), ("P", 103)):
        full = standards.from_sgd_slim(slim_path, aspect, min_size=1, max_size=10**6)
        kept, _ = standards.restrict(full, huh_orfs, min_group_size=1)
        assert sum(10 <= len(v) <= 200 for v in kept.values()) == expected


def test_from_huh2003_merges_golgi_and_drops_ambiguous(huh):
    assert "Golgi" in huh and not {"early Golgi", "late Golgi", "ER to Golgi", "ambiguous"} & set(huh)
    assert len(huh) == 19
    # early Golgi (55), late Golgi (46), ER to Golgi (6) and Golgi (43) merged, ambiguous proteins removed
    assert 100 <= len(huh["Golgi"]) <= 150
    assert "YAL007C" in huh["ER"]


def test_from_modules_json_complexes(standards_dir):
    complexes = standards.from_modules_json(standards_dir / "icon_yeast-IntAct-complex-modules.json")
    assert len(complexes) == 588
    assert len(set().union(*complexes.values())) == 1796


def test_read_aliases_maps_gene_names(standards_dir):
    aliases = standards.read_aliases(standards_dir / "sgd_SGD_features.tsv")
    assert aliases["CNE1"] == "YAL058W" and aliases["FUN48"] == "YAL058W" and aliases["YAL058W"] == "YAL058W"
    kept, coverage = standards.restrict({"g": {"YAL058W", "YAL068C"}}, ["cne1", "PAU8"], aliases=aliases)
    assert kept == {"g": {"cne1", "PAU8"}} and coverage.n_proteins_kept == 2


def test_restrict_reports_coverage():
    kept, cov = standards.restrict({"a": {"Y1", "Y2", "Y9"}, "b": {"Y3", "Y8"}, "c": {"Y1", "Y3"}}, ["Y1", "Y2", "Y3"])
    assert kept == {"a": {"Y1", "Y2"}, "c": {"Y1", "Y3"}}
    assert cov.as_dict() == {"n_profile_proteins": 3, "n_proteins_standard": 5, "n_proteins_matched": 3,
                             "n_proteins_kept": 3, "n_proteins_dropped": 2, "n_groups_standard": 3,
                             "n_groups_kept": 2, "n_groups_dropped": 1}


def test_restrict_raises_zero_overlap():
    with pytest.raises(InputError, match=r"standard ids look like YAL001C.*profile ids look like TFC3.*--aliases"):
        standards.restrict({"g": {"YAL001C", "YAL002W"}}, ["TFC3", "VPS8"])


def test_standards_build_cli(tmp_path, standards_dir):
    out = tmp_path / "kegg.gmt"
    args = ["standards", "build", "--from", "modules-json", str(standards_dir / "icon_yeast-KEGG-pathway-modules.json"),
            "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "108 groups" in result.output and len(standards.read_gmt(out)) == 108
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 2 and "already exists" in again.output


def test_standards_build_cli_raises_wrong_format(tmp_path, standards_dir):
    out = tmp_path / "x.gmt"
    result = CliRunner().invoke(main, ["standards", "build", "--from", "sgd-slim",
                                       str(standards_dir / "icon_yeast-KEGG-pathway-modules.json"), "--out", str(out)])
    assert result.exit_code == 2
    assert "icon_yeast-KEGG-pathway-modules.json" in result.output and not out.exists()


def _one_error_line(result):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.output
    return lines[0]


def test_read_gmt_raises_duplicate_group_naming_lines(tmp_path):
    path = tmp_path / "dup.gmt"
    path.write_text("ribosome\tna\tY1\tY2\nnucleus\tna\tY3\tY4\nribosome\tna\tY5\tY6\n")
    with pytest.raises(InputError, match=r"dup.gmt: line 3: group 'ribosome' is already defined on line 1"):
        standards.read_gmt(path)


def test_read_json_raises_duplicate_group(tmp_path):
    path = tmp_path / "dup.json"
    path.write_text('{"CPX-1": ["Y1", "Y2"], "CPX-2": ["Y3", "Y4"], "CPX-1": ["Y5", "Y6"]}')
    with pytest.raises(InputError, match=r"dup.json: group 'CPX-1' appears twice"):
        standards.read_json(path)


def test_score_cli_raises_duplicate_gmt_group(tmp_path):
    import numpy as np

    from deeploc_keras.core.profiles import ProfileWriter

    proteins = [f"P{i}" for i in range(6)]
    profile = tmp_path / "a.parquet"
    with ProfileWriter(profile, info={"method": "Toy"}) as writer:
        writer.write(pd.DataFrame({"Metadata_Protein": proteins}), np.random.default_rng(0).normal(size=(6, 4)),
                     [f"f_{i}" for i in range(4)])
    gmt = tmp_path / "dup.gmt"
    gmt.write_text("g\tna\tP0\tP1\tP2\ng\tna\tP3\tP4\tP5\n")
    out = tmp_path / "scores"
    line = _one_error_line(CliRunner().invoke(main, ["score", str(profile), "--standards", str(gmt), "--out",
                                                     str(out)]))
    assert "dup.gmt: line 2: group 'g' is already defined on line 1" in line
    assert not out.exists()
    gmt.write_text("g\tna\tP0\tP1\tP2\tP3\n")  # one group: every metric would be 1.0
    line = _one_error_line(CliRunner().invoke(main, ["score", str(profile), "--standards", str(gmt), "--out",
                                                     str(out)]))
    assert "standard 'dup': 1 group (g) has 2 or more of the profiled proteins" in line
    assert "at least 2 groups" in line
    assert not out.exists()
    gmt.write_text("g\tna\tP0\tP1\tP2\tP3\nh\tna\tP4\tX9\n")  # two groups, one left after matching
    line = _one_error_line(CliRunner().invoke(main, ["score", str(profile), "--standards", str(gmt), "--out",
                                                     str(out)]))
    assert "1 group (g) has 2 or more" in line and "2 groups in the standard" in line
    assert not out.exists()


def test_require_groups_passes_two_groups():
    kept, cov = standards.restrict({"a": {"Y1", "Y2"}, "b": {"Y3", "Y4"}}, ["Y1", "Y2", "Y3", "Y4"])
    standards.require_groups("two", kept, cov)


def test_read_json_inverts_labels_file(standards_dir):
    modules = standards.read_json(standards_dir / "icon_yeast-IntAct-complex-modules.json")
    labels = standards.read_json(standards_dir / "icon_yeast-IntAct-complex-labels.json")
    # the labels file is the module file seen from the proteins: an independent inversion of its raw JSON
    import json

    raw = json.loads((standards_dir / "icon_yeast-IntAct-complex-labels.json").read_text())
    expected: dict[str, set[str]] = {}
    for protein, groups in raw.items():
        for group in groups:
            expected.setdefault(group, set()).add(protein)
    assert labels == expected
    assert all(not key.startswith("Y") for key in labels)
    assert set(labels) <= set(modules)


def test_standards_build_cli_labels_json_gives_group_names(tmp_path, standards_dir):
    out = tmp_path / "complex.gmt"
    result = CliRunner().invoke(main, ["standards", "build", "--from", "modules-json",
                                       str(standards_dir / "icon_yeast-IntAct-complex-labels.json"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    groups = standards.read_gmt(out)
    assert all(name.startswith("CPX-") for name in groups)
    assert all(protein.startswith(("Y", "Q")) for ids in groups.values() for protein in ids)
