"""Tests of eval.score and the ``score`` command: tables, outputs, bad input."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from deeploc_keras.cli import main
from deeploc_keras.errors import InputError
from deeploc_keras.profiles import ProfileWriter
from eval import score as scoring
from eval import standards

STANDARD = {"g1": {"P0", "P1", "P2"}, "g2": {"P3", "P4", "P5"}, "g3": {"P2", "P6", "P7"}}


def _features(n=10, d=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d))


def _write(path, features, proteins, method="Toy"):
    with ProfileWriter(path, info={"method": method}) as writer:
        writer.write(pd.DataFrame({"Metadata_Protein": proteins}), features, [f"f_{i}" for i in range(features.shape[1])])
    return path


def test_score_representation_table():
    proteins = [f"P{i}" for i in range(10)]
    table = scoring.score_representation(proteins, _features(), {"toy": STANDARD}, seed=1)
    assert list(table.columns) == list(scoring.SUMMARY_COLUMNS)
    assert table["metric"].tolist() == list(scoring.METRICS)
    assert (table["n_proteins"] == 8).all() and (table["n_groups"] == 3).all()
    assert table["prevalence"].iloc[0] == pytest.approx(9 / 28)  # 3 pairs per group, none shared
    assert table.set_index("metric")["sd"].notna().to_dict() == {
        "average_precision": False, "mean_average_precision": False, "ami": True, "f_beta": False,
        "f_beta_clusters": True}


def test_score_representation_raises_nan_rows():
    features = _features()
    features[[2, 5], 0] = np.nan
    with pytest.raises(InputError, match="2 profiles contain NaN.*P2, P5"):
        scoring.score_representation([f"P{i}" for i in range(10)], features, {"toy": STANDARD})


def test_score_representation_raises_constant_rows():
    features = _features()
    features[4] = 1.0
    with pytest.raises(InputError, match="constant.*P4"):
        scoring.score_representation([f"P{i}" for i in range(10)], features, {"toy": STANDARD})


def test_score_representation_raises_duplicate_proteins():
    proteins = [f"P{i}" for i in range(9)] + ["P0"]
    with pytest.raises(InputError, match="several rows.*P0"):
        scoring.score_representation(proteins, _features(), {"toy": STANDARD})


def test_score_representation_raises_no_group_of_two():
    with pytest.raises(InputError, match="standard 'tiny': 0 groups have 2 or more"):
        scoring.score_representation([f"P{i}" for i in range(10)], _features(), {"tiny": {"g": {"P1", "X9"}}})


def test_score_representation_raises_zero_overlap():
    with pytest.raises(InputError, match="standard 'orfs': no protein id.*YAL001C.*P0"):
        scoring.score_representation([f"P{i}" for i in range(10)], _features(), {"orfs": {"g": {"YAL001C"}}})


def test_score_representation_raises_unknown_metric():
    with pytest.raises(InputError, match="unknown metric auc"):
        scoring.score_representation([f"P{i}" for i in range(10)], _features(), {"toy": STANDARD}, metrics=["auc"])


def test_score_writes_outputs(tmp_path):
    proteins = [f"P{i}" for i in range(10)]
    a = _write(tmp_path / "a.parquet", _features(seed=0), proteins, method="DeepLoc")
    b = _write(tmp_path / "b.parquet", _features(seed=1), proteins, method="CellProfiler")
    (tmp_path / "std").mkdir()
    standards.write_gmt(STANDARD, tmp_path / "std" / "toy.gmt")
    out = tmp_path / "scores"
    summary = scoring.score([a, b], [tmp_path / "std"], out, metrics=["average_precision", "ami", "f_beta"])
    assert set(summary["representation"]) == {"DeepLoc", "CellProfiler"}
    written = pd.read_csv(out / "summary.csv")
    assert list(written.columns) == ["representation", *scoring.SUMMARY_COLUMNS] and len(written) == 6
    coverage = pd.read_csv(out / "coverage.csv")
    assert list(coverage.columns) == list(scoring.COVERAGE_COLUMNS)
    assert coverage["n_proteins_kept"].tolist() == [8, 8]
    for suffix in ("png", "svg", "csv"):
        assert (out / f"figure1_summary.{suffix}").stat().st_size > 0


def test_score_cli(tmp_path):
    proteins = [f"P{i}" for i in range(10)]
    profile = _write(tmp_path / "a.parquet", _features(), proteins)
    standards.write_gmt(STANDARD, tmp_path / "toy.gmt")
    out = tmp_path / "scores"
    args = ["score", str(profile), "--standards", str(tmp_path / "toy.gmt"), "--out", str(out), "--name", "mine",
            "--metric", "average_precision", "--metric", "mean_average_precision"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "mine" in result.output and (out / "summary.csv").exists()
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 2 and "already exists" in again.output


def test_score_cli_raises_nan_profiles(tmp_path):
    features = _features()
    features[3, 1] = np.nan
    profile = _write(tmp_path / "nan.parquet", features, [f"P{i}" for i in range(10)])
    standards.write_gmt(STANDARD, tmp_path / "toy.gmt")
    out = tmp_path / "scores"
    result = CliRunner().invoke(main, ["score", str(profile), "--standards", str(tmp_path / "toy.gmt"), "--out", str(out)])
    assert result.exit_code == 2
    assert "nan.parquet" in result.output and "P3" in result.output and not out.exists()


def test_score_cli_raises_duplicate_names(tmp_path):
    proteins = [f"P{i}" for i in range(10)]
    a = _write(tmp_path / "a.parquet", _features(), proteins)
    b = _write(tmp_path / "b.parquet", _features(seed=2), proteins)
    standards.write_gmt(STANDARD, tmp_path / "toy.gmt")
    out = tmp_path / "scores"
    result = CliRunner().invoke(main, ["score", str(a), str(b), "--standards", str(tmp_path / "toy.gmt"),
                                       "--out", str(out)])
    assert result.exit_code == 2 and "names must be unique" in result.output and not out.exists()


def test_score_help_does_not_import_tensorflow():
    code = ("import sys; from click.testing import CliRunner; import eval.score, eval.plots, deeploc_keras.cli as c; "
            "r = CliRunner().invoke(c.main, ['score', '--help']); assert r.exit_code == 0, r.output; "
            "print(any(m.split('.')[0] in ('tensorflow', 'keras') for m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
