"""The reproduce report: the summary pivot and the self-contained HTML."""

from __future__ import annotations

import base64
import html
import re
import sys
from pathlib import Path

import numpy as np
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


def _three_standards() -> pd.DataFrame:
    """The toy run on three standards, with per-group retrieval: DeepLoc retrieves no group, PCI half of them."""
    summary = _summary()
    summary = pd.concat([summary, summary[summary["standard"] == "complex"].assign(standard="pathway")])
    retrieval = summary.drop_duplicates(["representation", "standard"]).assign(
        metric="fraction_retrieved", value=lambda s: np.where(s["representation"] == "PCI", 0.5, 0.0),
        chance=np.nan, chance_low=np.nan, chance_high=np.nan)
    return pd.concat([summary, retrieval], ignore_index=True)


def test_write_report_reads_at_1400_px(tmp_path):
    """Narrow wrapping score tables (one per standard), Figures 1, 2, 3 in order with captions that say what they
    show, the retrieval share (0 included), and every score under display names in a collapsed section."""
    summary = _three_standards()
    png = b"\x89PNG\r\n\x1a\nnot really an image"
    for path in ("scores/figure1_summary.png", "figures/monitor/figure3_monitor.png", "figures/tsne/figure2_tsne.png"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(png)
    coverage = pd.DataFrame({"representation": ["DeepLoc", "PCI"], "standard": ["complex"] * 2,
                             "n_proteins_kept": [10, 10]})
    text = write_report(tmp_path, summary=summary, tests=_tests(summary[summary["metric"] != "fraction_retrieved"]),
                        coverage=coverage, config={"preset": "smoke"}, timings={"score": 1.0}).read_text()
    scores = text.split("<h2>Scores with 95 %")[1].split("<h2>")[0]
    heads = re.findall(r"<thead>(.*?)</thead>", scores, flags=re.S)
    assert len(heads) == 3 and all(head.count("<th") <= 8 for head in heads)
    assert "white-space:normal" in text and 'class="dataframe table"' in text
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", text, flags=re.S)
    assert [c.split(".")[0] for c in captions] == ["Figure 1", "Figure 2", "Figure 3"]
    assert not any(".png" in c or "/" in c.split(".")[0] for c in captions)
    assert "<b>No group of any standard</b> is retrieved better than its null by: DeepLoc, CellProfiler." in text
    retrieval = text.split("Groups retrieved better than chance")[1].split("<h2>")[0]
    assert "0 of 3 (0 %)" in retrieval and "2 of 3 (50 %)" in retrieval
    every = text.split("<h2>All scores</h2>")[1].split("<h2>")[0]
    assert every.startswith("<details>") and "groups retrieved (share)" in every
    assert "f_beta" not in text and "<th>average_precision</th>" not in text  # display names only
    assert "<th>proteins kept</th>" in text and text.count("<th>representation</th>") >= 3
