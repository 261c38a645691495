"""Tests of eval.standards: readers, builders on the real SGD / Huh / ICoN files, aliases, restriction."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from deeploc_keras.cli import main
from deeploc_keras.errors import InputError
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
