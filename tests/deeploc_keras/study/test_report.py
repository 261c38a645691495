"""The reproduce report: the summary pivot and the self-contained HTML."""

from __future__ import annotations

import base64
import html
import re
import sys
from pathlib import Path

import pandas as pd

from deeploc_keras.study.report import summary_table, write_report
from eval.catalog import METRICS

sys.path.insert(0, str(Path(__file__).parent))
from test_findings import _summary, _tests  # noqa: E402  (the same toy run)


def test_summary_table_one_row_per_representation():
    table = summary_table(_summary())
    assert list(table.index) == ["DeepLoc", "PCI", "CellProfiler"]
    assert table.shape == (3, 6)
    assert table.loc["PCI", ("complex", "ami")] == 0.7


def test_write_report_is_self_contained_and_states_what_it_measured(tmp_path):
    summary = _summary()
    coverage = pd.DataFrame({"representation": ["DeepLoc"], "standard": ["complex"], "proteins_kept": [10]})
    (tmp_path / "scores").mkdir()
    png = b"\x89PNG\r\n\x1a\nnot really an image"
    (tmp_path / "scores" / "figure1_summary.png").write_bytes(png)
    path = write_report(tmp_path, summary=summary, tests=_tests(summary), coverage=coverage,
                        config={"preset": "smoke"}, timings={"simulate": 1.5, "score": 2.0}, normalize="none",
                        descriptions={"PCI": "Paired Cell Inpainting"})
    text = path.read_text()
    assert path == tmp_path / "report.html"
    assert "How the ranking compares with the study" in text and "smoke" in text
    assert "3.5" in text  # total of the timings
    assert f"data:image/png;base64,{base64.b64encode(png).decode()}" in text
    assert 'src="scores/' not in text
    assert "score --normalize none" in text
    assert "<b>PCI</b> (baseline): Paired Cell Inpainting" in text
    for metric in ("average_precision", "ami", "f_beta"):
        assert html.escape(METRICS[metric].definition) in text
        assert html.escape(METRICS[metric].null_definition) in text
    assert "The test family is what this report claims" in text and "smallest attainable p" in text
    assert text.count("disagrees with the study") == 1  # complex AMI: PCI ahead
    assert "too small to mean anything" in text  # 10 proteins, 3 groups
    assert not re.search(r"<tbody>\s*<tr>\s*<th>", text)  # no pandas index column
