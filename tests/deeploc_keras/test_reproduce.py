"""``deeploc-keras reproduce``: the smoke preset end to end, resume, and refusals of bad input."""

from __future__ import annotations

import dataclasses
import json

import keras
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from deeploc_keras.cli import main
from deeploc_keras.references import REFERENCE_NAMES
from deeploc_keras.reproduce import (
    REPRESENTATIONS,
    REPRODUCE_PRESETS,
    STANDARD_NAMES,
    STEP_NAMES,
    WITHIN_STANDARDS,
    _Layout,
    _train_pci,
)
from deeploc_keras.store import CellStore
from deeploc_keras.train import train
from eval.metrics import WITHIN_METRICS
from eval.score import METRICS, RETRIEVAL_METRIC


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
                 "runs/deeploc/sweep.csv", "runs/deeploc/monitor.csv", "runs/pci/best.keras",
                 "profiles/deeploc/proteins.parquet", "profiles/pci/proteins.parquet",
                 "profiles/cellprofiler/proteins.parquet", "profiles/cellprofiler/proteins_pca.parquet",
                 "scores/coverage.csv", "scores/figure1_summary.png", "scores/figure1_summary.svg",
                 "figures/tsne/figure2_tsne.png", "figures/monitor/figure3_monitor.png",
                 "references/untrained_deeploc/proteins.parquet", "references/untrained_pci/proteins.parquet",
                 "references/pixel_statistics/proteins.parquet", "references/labels/proteins.parquet",
                 "references/generating/proteins.parquet", "references/references.json"):
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
    deeploc = pooled[pooled["representation"] == "DeepLoc"]
    assert deeploc["compared_to"].isin(["PCI", "CellProfiler", "CellProfiler+PCA"]).all()
    assert deeploc["q_value"].between(0, 1).all()
    assert (summary["normalize"] == "none").all()
    state = json.loads((out / "reproduce.json").read_text())
    assert list(state["steps"]) == list(STEP_NAMES)
    report = (out / "report.html").read_text()
    assert "data:image/png;base64," in report and 'src="scores/' not in report
    assert "How the ranking compares" in report and "standard x metric comparisons" in report
    assert "untrained network" in report and "mean training image" in report
    assert "score --normalize none" in report
    facts = json.loads((out / "references" / "references.json").read_text())
    assert facts["pci"]["mean_image_val_mse"] > 0 and facts["pci"]["epochs"] == 1
    assert "DeepLoc" in result.output  # the summary table is printed


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


def test_reproduce_raises_on_foreign_output_directory(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    result = _invoke("reproduce", "--out", str(tmp_path), "--preset", "smoke")
    assert result.exit_code == 2 and "holds no reproduce run" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_reproduce_raises_on_store_without_standards(tmp_path):
    result = _invoke("reproduce", "--out", str(tmp_path / "run"), "--store", str(tmp_path / "cells.h5"))
    assert result.exit_code == 2 and "--standards" in result.output
    assert not (tmp_path / "run").exists()


def test_reproduce_raises_on_paper_without_inputs(tmp_path):
    result = _invoke("reproduce", "--out", str(tmp_path / "run"), "--preset", "paper")
    assert result.exit_code == 2 and "--store" in result.output


def test_reproduce_raises_on_unknown_proteins(tmp_path):
    store = tmp_path / "cells.h5"
    with CellStore.create(store, class_names=["A", "B"]) as writer:
        writer.append(np.zeros((4, 64, 64, 2), np.uint16), {"label": [0, 1, 0, 1]})
    standards = tmp_path / "standards"
    standards.mkdir()
    result = _invoke("reproduce", "--out", str(tmp_path / "run"), "--store", str(store), "--standards",
                     str(standards))
    assert result.exit_code == 2 and "unknown" in result.output and str(store) in result.output
    assert not (tmp_path / "run").exists()


def test_reproduce_presets_cellprofiler_feature_sets():
    from cellprofiler_features.measure import FeatureConfig, feature_columns
    from deeploc_keras.reproduce import REPRODUCE_PRESETS

    counts = {name: len(feature_columns(["GFP", "RFP"], FeatureConfig.preset(preset.cp_features)))
              for name, preset in REPRODUCE_PRESETS.items()}
    assert counts == {"smoke": 265, "cpu": 265, "paper": 431}


def test_reproduce_refuses_resume_with_overwrite(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "reproduce.json").write_text("{}")
    result = _invoke("reproduce", "--out", str(out), "--preset", "smoke", "--resume", "--overwrite")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == ["Error: pass either --resume (continue the run in --out) or "
                                                  "--overwrite (delete it and start again), not both"]
    assert sorted(p.name for p in out.iterdir()) == ["reproduce.json"]


class _Interrupt(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt


def test_reproduce_train_step_resumes_an_interrupted_training(tiny_store, tmp_path):
    config = dataclasses.replace(REPRODUCE_PRESETS["smoke"], pci_epochs=2, pci_width=0.0625, mixed_precision="off")
    layout = _Layout(out=tmp_path, store=tiny_store, standard_files={})
    run_dir = layout.runs / "pci"
    with pytest.raises(KeyboardInterrupt):  # the step as _train_pci runs it, stopped after epoch 1
        train(tiny_store, run_dir, method="pci", epochs=2, width=0.0625, mixed_precision="off", seed=0, lr=config.pci_lr,
              callbacks=[_Interrupt()])
    first_epoch = (run_dir / "history.csv").read_text()
    (run_dir / "mark").write_text("the directory is resumed, not deleted")
    _train_pci(layout, config, seed=0)
    assert (run_dir / "mark").is_file() and not (run_dir / "backup").exists()
    history = (run_dir / "history.csv").read_text()
    assert history.startswith(first_epoch) and list(pd.read_csv(run_dir / "history.csv")["epoch"]) == [0, 1]


def test_reproduce_paper_sweeps_pci_like_deeploc(monkeypatch, tmp_path):
    """In `paper`, PCI is trained as a sweep over its rates x the same seeds as DeepLoc (train is recorded, not run)."""
    from deeploc_keras import reproduce
    from deeploc_keras.methods import PCI_LEARNING_RATES

    calls = []
    monkeypatch.setattr(reproduce, "train", lambda store, out, **options: calls.append(options))
    layout = reproduce._Layout(out=tmp_path, store=tmp_path / "cells.h5", standard_files={})
    paper = reproduce.REPRODUCE_PRESETS["paper"]
    reproduce._train_pci(layout, paper, seed=7)
    assert calls[-1]["method"] == "pci" and calls[-1]["lr_sweep"] is True
    assert calls[-1]["sweep_rates"] == PCI_LEARNING_RATES and calls[-1]["seeds"] == paper.seeds == (0, 1, 2)
    reproduce._train_pci(layout, reproduce.REPRODUCE_PRESETS["smoke"], seed=7)
    assert "lr_sweep" not in calls[-1] and calls[-1]["seed"] == 7
