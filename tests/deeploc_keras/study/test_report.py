"""The reproduce report: the summary pivot, the comparison with the study's ranking, the ladder, the HTML."""

from __future__ import annotations

import base64
import html
import re

import numpy as np
import pandas as pd

from deeploc_keras.study.report import (
    METRIC_DEFINITIONS,
    compare_with_study,
    ladder_sentences,
    standard_sizes,
    study_agreement,
    summary_table,
    write_report,
)


def _summary() -> pd.DataFrame:
    rows = []
    values = {"DeepLoc": 0.6, "PCI": 0.5, "CellProfiler": 0.2}
    for representation, value in values.items():
        for standard in ("cellular_component", "complex"):
            for metric in ("average_precision", "ami", "f_beta"):
                bonus = 0.2 if (representation == "PCI" and standard == "complex" and metric == "ami") else 0.0
                rows.append({"representation": representation, "standard": standard, "metric": metric,
                             "value": value + bonus, "sd": float("nan"), "n_proteins": 10, "n_groups": 3,
                             "prevalence": 0.1})
    return pd.DataFrame(rows)


def test_summary_table_one_row_per_representation():
    table = summary_table(_summary())
    assert list(table.index) == ["DeepLoc", "PCI", "CellProfiler"]
    assert table.shape == (3, 6)
    assert table.loc["PCI", ("complex", "ami")] == 0.7


def test_compare_with_study_counts_where_deeploc_leads():
    sentences = compare_with_study(_summary())
    assert sentences[0].startswith("cellular_component: DeepLoc ahead of the best baseline on 3 of 3 metrics")
    assert "PCI reaches 83 % of DeepLoc" in sentences[0]
    assert sentences[1].startswith("complex: DeepLoc ahead of the best baseline on 2 of 3 metrics")
    assert "ami 0.600 vs PCI 0.700" in sentences[1]
    assert sentences[-1] == "Overall DeepLoc is ahead on 5 of 6 standard x metric comparisons."


def test_compare_with_study_counts_significant_points_from_q_values():
    summary = _summary()
    deeploc = summary["representation"] == "DeepLoc"
    summary["q_value"] = np.where(deeploc & (summary["metric"] == "average_precision"), 0.01,
                                  np.where(deeploc & (summary["metric"] == "f_beta"), 0.2, np.nan))
    sentences = compare_with_study(summary)
    assert sentences[-1].startswith("Overall DeepLoc is ahead on 5 of 6 standard x metric comparisons, "
                                    "significantly on 2 (")
    assert "4 of the 6 have a paired test" in sentences[-1]
    points = study_agreement(summary)
    assert points.loc[~points["agrees"], ["standard", "metric"]].values.tolist() == [["complex", "ami"]]


def test_ladder_says_where_a_learned_representation_does_not_beat_its_references():
    summary = _summary()
    extra = summary[summary["representation"] == "PCI"].assign(representation="PCI untrained")
    extra["value"] = np.where(extra["metric"] == "average_precision", 0.9, extra["value"] - 0.1)
    extra.loc[(extra["standard"] == "complex") & (extra["metric"] == "ami"), "value"] = 0.7
    pixels = summary[summary["representation"] == "CellProfiler"].assign(representation="Pixel statistics",
                                                                         value=0.55)
    sentences = ladder_sentences(pd.concat([summary, extra, pixels], ignore_index=True),
                                 pci_learning={"best_val_mse": 0.02, "mean_image_val_mse": 0.015, "epochs": 4})
    assert sentences[0].startswith("PCI's best validation MSE (0.02000 over 4 epochs) is NOT below")
    assert ("PCI does NOT beat its untrained network (random weights, same configuration) on 3 of 6: "
            "cellular_component AP (pooled pairs) 0.500 vs 0.900; complex AP (pooled pairs) 0.500 vs 0.900; "
            "complex AMI 0.700 vs 0.700.") in sentences  # a tie is not beating
    assert "DeepLoc beats the pixel statistics on all 6 points." in sentences
    assert any(s.startswith("PCI does NOT beat the pixel statistics on 5 of 6") for s in sentences)


def test_standard_sizes_warn_when_a_standard_is_too_small():
    sizes = standard_sizes(_summary().assign(n_proteins=np.where(_summary()["standard"] == "complex", 10, 100),
                                             n_groups=np.where(_summary()["standard"] == "complex", 3, 20)))
    assert sizes["positive_pairs"].tolist() == [495, 4]
    assert sizes["warning"].tolist()[0] == "" and "too small to mean anything" in sizes["warning"].tolist()[1]


def test_compare_with_study_needs_deeploc_and_a_baseline():
    summary = _summary()
    assert compare_with_study(summary[summary["representation"] == "DeepLoc"]) == [
        "The comparison needs DeepLoc and at least one baseline."]


def test_write_report_is_self_contained_and_states_what_it_measured(tmp_path):
    summary = _summary()
    coverage = pd.DataFrame({"representation": ["DeepLoc"], "standard": ["complex"], "proteins_kept": [10]})
    (tmp_path / "scores").mkdir()
    png = b"\x89PNG\r\n\x1a\nnot really an image"
    (tmp_path / "scores" / "figure1_summary.png").write_bytes(png)
    path = write_report(tmp_path, summary=summary, coverage=coverage, config={"preset": "smoke"},
                        timings={"simulate": 1.5, "score": 2.0}, normalize="none")
    text = path.read_text()
    assert path == tmp_path / "report.html"
    assert "How the ranking compares with the study" in text and "smoke" in text
    assert "3.5" in text  # total of the timings
    assert f"data:image/png;base64,{base64.b64encode(png).decode()}" in text
    assert 'src="scores/' not in text
    assert "score --normalize none" in text and "proteins_raw.parquet" in text
    for metric in ("average_precision", "ami", "f_beta"):
        assert html.escape(METRIC_DEFINITIONS[metric]) in text
    assert text.count("disagrees with the study") == 1  # complex AMI: PCI ahead
    assert "too small to mean anything" in text  # 10 proteins, 3 groups
    assert not re.search(r"<tbody>\s*<tr>\s*<th>", text)  # no pandas index column
