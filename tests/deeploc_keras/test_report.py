"""The reproduce report: the summary pivot and the comparison with the study's ranking."""

from __future__ import annotations

import pandas as pd

from deeploc_keras.report import compare_with_study, summary_table, write_report


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
    assert sentences[-1] == "Overall DeepLoc leads on 5 of 6 standard x metric comparisons."


def test_compare_with_study_needs_deeploc_and_a_baseline():
    summary = _summary()
    assert compare_with_study(summary[summary["representation"] == "DeepLoc"]) == [
        "The comparison needs DeepLoc and at least one baseline."]


def test_write_report_embeds_table_timings_and_config(tmp_path):
    summary = _summary()
    coverage = pd.DataFrame({"representation": ["DeepLoc"], "standard": ["complex"], "proteins_kept": [10]})
    path = write_report(tmp_path, summary=summary, coverage=coverage, config={"preset": "smoke"},
                        timings={"simulate": 1.5, "score": 2.0})
    text = path.read_text()
    assert path == tmp_path / "report.html"
    assert "How the ranking compares with the study" in text and "smoke" in text
    assert "3.5" in text  # total of the timings
