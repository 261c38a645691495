"""``deeploc-keras reproduce``: the smoke preset end to end and its resume (one run shared by the module)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from deeploc_keras.cli import main
from deeploc_keras.study.references import REFERENCE_NAMES
from deeploc_keras.study.reproduce import (
    REPRESENTATIONS,
    STANDARD_NAMES,
    STEP_NAMES,
    WITHIN_STANDARDS,
)
from eval.catalog import METRICS as RECORDS
from eval.score import METRICS, NULL, RETRIEVAL_METRIC

WITHIN_METRICS = [m for m in METRICS if RECORDS[m].within]


def _invoke(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce") / "smoke"
    result = _invoke("reproduce", "--out", str(out), "--preset", "smoke")
    assert result.exit_code == 0, result.output
    return out, result


@pytest.mark.slow
def test_reproduce_smoke_writes_every_artefact(smoke_run):
    out, result = smoke_run
    for path in ("report.html", "summary.csv", "reproduce.json", "screen/cells.h5", "runs/deeploc/best.keras",
                 "runs/deeploc/sweep.csv", "runs/deeploc/monitor.csv", "runs/pci/best.keras", "runs/pifia/best.keras",
                 "profiles/deeploc/proteins.parquet", "profiles/pci/proteins.parquet", "profiles/pifia/proteins.parquet",
                 "profiles/cellprofiler/proteins.parquet", "profiles/cellprofiler/proteins_pca.parquet",
                 "profiles/cellprofiler/proteins_zscored.parquet", "scores/tests.csv", "scores/coverage.csv",
                 "scores/figure1_summary.png", "scores/figure1_summary.svg",
                 "figures/tsne/figure2_tsne.png", "figures/monitor/figure3_monitor.png",
                 "references/untrained_deeploc/proteins.parquet", "references/untrained_pci/proteins.parquet",
                 "references/untrained_pifia/proteins.parquet",
                 "references/pixel_statistics/proteins.parquet", "references/labels/proteins.parquet",
                 "references/generating/proteins.parquet", "references/references.json", "runs/oracle/oracle.keras",
                 "references/oracle/proteins.parquet", "scores/channels.csv"):
        assert (out / path).is_file(), path
    summary = pd.read_csv(out / "summary.csv")
    names = [*REPRESENTATIONS, *REFERENCE_NAMES]
    assert list(dict.fromkeys(summary["representation"])) == names
    assert set(summary["standard"]) == set(STANDARD_NAMES)
    rows = [m for m in METRICS if m not in WITHIN_METRICS] + [RETRIEVAL_METRIC]  # score's rows without localization
    assert set(summary["metric"]) == {*rows, *WITHIN_METRICS}
    assert len(summary) == len(names) * (len(STANDARD_NAMES) * len(rows) + len(WITHIN_STANDARDS) * len(WITHIN_METRICS))
    assert summary["value"].dropna().between(-1, 1).all()
    pooled = summary[summary["metric"].isin(["average_precision", "f_beta", "mean_average_precision"])]
    assert pooled["ci_low"].notna().all() and (pooled["ci_low"] <= pooled["ci_high"]).all()
    baselines = [name for name, r in REPRESENTATIONS.items() if r.role == "baseline"]
    assert baselines == ["PCI", "CellProfiler raw", "CellProfiler processed", "CellProfiler+PCA"]
    deeploc = pooled[pooled["representation"] == "DeepLoc"]
    assert deeploc["compared_to"].isin(baselines).all()
    assert deeploc["q_value"].between(0, 1).all()
    tested = summary[summary["metric"].isin([m for m in METRICS if RECORDS[m].tested])]
    assert tested["chance"].notna().all() and (tested["chance_low"] <= tested["chance_high"]).all()
    tests = pd.read_csv(out / "scores" / "tests.csv", keep_default_na=False, na_values=[""])
    methods = [name for name, r in REPRESENTATIONS.items() if r.role == "method"]
    assert methods == ["DeepLoc", "PIFiA"]  # each learned method is tested against each baseline
    assert set(tests["representation"]) == set(methods) and set(tests["against"]) == {*baselines, NULL}
    paired = tests[tests["test"] == "paired bootstrap"]  # smoke: 1,000 resamples, less those a standard leaves empty
    assert np.allclose(paired["p_min"], 1 / (paired["n_resamples"] + 1)) and paired["n_resamples"].between(900, 1000).all()
    assert (summary["normalize"] == "none").all()
    state = json.loads((out / "reproduce.json").read_text())
    assert list(state["steps"]) == list(STEP_NAMES)
    report = (out / "report.html").read_text()
    assert "data:image/png;base64," in report and 'src="scores/' not in report
    assert "How the ranking compares" in report and "standard x metric points" in report
    assert "The test family is what this report claims" in report and "smallest attainable p" in report
    assert "untrained network" in report and "mean training image" in report
    assert "score --normalize none" in report
    facts = json.loads((out / "references" / "references.json").read_text())
    assert facts["pci"]["mean_image_val_mse"] > 0 and facts["pci"]["epochs"] == 1
    assert facts["pifia"]["proteins"] == 48 and facts["pifia"]["chance"] == pytest.approx(1 / 48)
    assert facts["pifia"]["chance"] < facts["pifia"]["localization_only"] < 1 and facts["pifia"]["epochs"] == 1
    assert "DeepLoc" in result.output  # the summary table is printed
    channels = pd.read_csv(out / "scores" / "channels.csv")
    assert set(channels["channel"]) == {"label_aligned", "label_orthogonal"}
    assert list(dict.fromkeys(channels["representation"])) == names and channels["p_null"].between(0, 1).all()
    assert "<h2>Function channels</h2>" in report and all(f"{name} captured " in report for name in REPRESENTATIONS)


@pytest.mark.slow
def test_reproduce_writes_the_oracle_gate_from_the_oracles_profile_and_scores(smoke_run):
    from deeploc_keras.core.profiles import read_profiles

    out, _ = smoke_run
    gate = pd.read_csv(out / "scores" / "oracle_gate.csv", keep_default_na=False, na_values=[""])
    truth = pd.read_csv(out / "screen" / "proteins.csv").set_index("protein")
    oracle = read_profiles(out / "references" / "oracle" / "proteins.parquet")
    proteins = oracle.meta["Metadata_Protein"].astype(str).to_numpy()
    r2 = gate[gate["criterion"] == "r2"].set_index("name")
    assert len(r2) == len([c for c in truth.columns if c.startswith("theta_")]) == 8
    for name, row in r2.iterrows():
        predicted = oracle.features[:, oracle.feature_names.index(f"Oracle_theta_{name}")]
        true = truth.loc[proteins, f"theta_{name}"].to_numpy()
        expected = 1 - ((predicted - true) ** 2).sum() / ((true - true.mean()) ** 2).sum()
        assert row["value"] == pytest.approx(expected, abs=1e-5) and row["passes"] == (expected >= 0.5)
    summary = pd.read_csv(out / "summary.csv")
    within = gate[gate["criterion"] == "within_ap"].set_index("name")
    assert list(within.index) == ["bioprocess", "pathway", "complex", "function_label_aligned",
                                  "function_label_orthogonal"]
    scored = summary[summary["representation"].str.startswith("Oracle")
                     & (summary["metric"] == "average_precision_within")].set_index("standard")
    assert within.loc["pathway", "p_null"] == pytest.approx(scored.loc["pathway", "p_null"])
    assert (within["passes"] == (within["p_null"] < 0.05)).all()
    report = (out / "report.html").read_text()
    assert "The oracle gate " + ("passes" if gate["passes"].all() else "fails") + " on this screen" in report


@pytest.mark.slow
def test_reproduce_scores_the_studys_cellprofiler_table_z_scored_without_selection(smoke_run):
    from deeploc_keras.core.profiles import read_profiles

    out, _ = smoke_run
    raw = read_profiles(out / "profiles" / "cellprofiler" / "proteins_raw.parquet")
    scored = read_profiles(out / "profiles" / "cellprofiler" / "proteins_zscored.parquet")
    x = raw.features
    kept = np.nanstd(x, axis=0) > 0  # every feature with a scale; none selected
    expected = (x[:, kept] - np.nanmean(x[:, kept], axis=0)) / np.nanstd(x[:, kept], axis=0)
    assert scored.feature_names == [n for n, k in zip(raw.feature_names, kept, strict=True) if k]
    np.testing.assert_allclose(scored.features, np.nan_to_num(expected), atol=1e-9)
    processed = read_profiles(out / "profiles" / "cellprofiler" / "proteins.parquet")
    assert len(processed.feature_names) < len(scored.feature_names)  # the processed row selects features


@pytest.mark.slow
def test_reproduce_reports_mean_and_sd_over_the_selected_runs(smoke_run):
    from eval.score import score_representation
    from eval.standards import load_standard

    out, _ = smoke_run
    summary = pd.read_csv(out / "summary.csv")
    runs = sorted((out / "run_profiles" / "deeploc").glob("*/proteins.parquet"))
    assert [p.parent.name for p in runs] == ["lr0.001_seed0", "lr0.001_seed1"]
    standards = {s: load_standard(out / "screen" / "standards" / f"{s}.gmt") for s in STANDARD_NAMES}
    per_run = []
    for path in runs:
        table = pd.read_parquet(path)
        features = table[[c for c in table.columns if not c.startswith("Metadata_")]].to_numpy()
        scored = score_representation(table["Metadata_Protein"].tolist(), features, standards,
                                      metrics=["average_precision", "f_beta"])
        per_run.append(scored.set_index(["standard", "metric"])["value"])
    expected = pd.concat(per_run, axis=1)
    rows = summary[(summary["representation"] == "DeepLoc") & summary["metric"].isin(["average_precision", "f_beta"])]
    for row in rows.itertuples():
        values = expected.loc[(row.standard, row.metric)].to_numpy()
        assert row.n_runs == 2
        assert row.runs_mean == pytest.approx(values.mean(), abs=1e-9)
        assert row.runs_sd == pytest.approx(abs(values[0] - values[1]) / np.sqrt(2), abs=1e-9)
    assert summary.loc[summary["representation"] == "PCI", "n_runs"].isna().all()  # one PCI run in smoke
    assert "2 runs:" in (out / "report.html").read_text()
    figure = pd.read_csv(out / "scores" / "figure1_summary.csv")
    drawn = figure[(figure["representation"] == "DeepLoc") & figure["metric"].isin(["average_precision", "f_beta"])]
    assert drawn["n_runs"].eq(2).all() and len(drawn) == 2 * len(STANDARD_NAMES)


@pytest.mark.slow
def test_reproduce_resume_skips_finished_steps(smoke_run):
    out, _ = smoke_run
    before = (out / "summary.csv").read_bytes()
    result = _invoke("-v", "reproduce", "--out", str(out), "--preset", "smoke", "--resume")
    assert result.exit_code == 0, result.output
    assert (out / "summary.csv").read_bytes() == before


@pytest.mark.slow
def test_reproduce_raises_on_previous_run_without_resume(smoke_run):
    out, _ = smoke_run
    result = _invoke("reproduce", "--out", str(out), "--preset", "smoke")
    assert result.exit_code == 2
    assert "--resume" in result.output and "Traceback" not in result.output
