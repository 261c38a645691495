"""The HTML report of a reproduce run: the tests and the study's claims, the ladder from chance to ceiling, figures.

The report is one self-contained file (figures embedded as base64 PNG). Its words and
tables come from the run (:mod:`deeploc_keras.study.findings`): the test family and how
many points pass, each method against the baselines with the study's claims beside,
where each representation stands between its measured chance, its untrained network,
the pixel statistics, the localization labels and (on a simulated screen) the ceiling,
the within-compartment scores per class with their nulls and tests, the size of every
standard, the metric and null definitions, and the configuration and timings of the run.
"""

from __future__ import annotations

import base64
import html
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eval import plots
from eval.catalog import FIGURE1_METRICS, METRICS
from eval.score import ALPHA, RETRIEVAL_METRIC

from ..core.outputs import atomic_path
from ..core.records import environment
from .findings import (
    REPORT_METRICS,
    channel_sentences,
    compare_with_study,
    family_sentences,
    ladder_sentences,
    null_definitions,
    roles,
    scores_with_intervals,
    standard_sizes,
    study_agreement,
    within_sentences,
)
from .gate import gate_sentences
from .references import REFERENCES

__all__ = ["FIGURE_CAPTIONS", "summary_table", "retrieval_table", "write_report"]


def summary_table(summary: pd.DataFrame, *, metrics: tuple[str, ...] = FIGURE1_METRICS) -> pd.DataFrame:
    """Pivot a score summary to one row per representation and one column per standard x metric.

    Parameters
    ----------
    summary : pandas.DataFrame
        ``summary.csv`` of ``deeploc-keras score`` (representation, standard, metric, value, ...).
    metrics : tuple of str, default :data:`FIGURE1_METRICS`

    Returns
    -------
    pandas.DataFrame
        Values rounded to 3 decimals; columns ordered by standard, then metric.

    Examples
    --------
    >>> s = pd.DataFrame({"representation": ["A", "B"], "standard": ["complex"] * 2,
    ...                   "metric": ["ami"] * 2, "value": [0.5, 0.25]})
    >>> float(summary_table(s, metrics=("ami",)).loc["A", ("complex", "ami")])
    0.5
    """
    subset = summary[summary["metric"].isin(metrics)]
    order = list(dict.fromkeys(subset["representation"]))
    table = subset.pivot_table(index="representation", columns=["standard", "metric"], values="value", sort=False)
    standards = list(dict.fromkeys(subset["standard"]))
    columns = [(s, m) for s in standards for m in metrics if (s, m) in table.columns]
    return table.loc[order, columns].round(3)


def _table_html(frame: pd.DataFrame) -> str:
    return frame.to_html(border=0, classes="table", index=False, float_format=lambda v: f"{v:.3f}", na_rep="")


#: What each figure of a run shows, as its caption in the report (by file stem, in the report's order).
FIGURE_CAPTIONS = {
    "figure1_summary": (
        "Figure 1. Each standard's scores: AP of the pooled pairs, AMI, F0.5 and, on the standards scored within "
        "compartments, AP within compartment. A bar per compared representation with its 95 % bootstrap interval "
        "(AMI: ± sd over the module samples; a method trained several times: the mean ± sd over its runs). The "
        "references are marks on the bars' scale, which is the compared representations' own: a black diamond on "
        "a bar is that method's untrained network, a coloured line across a standard's group is a reference "
        "(pixel statistics, localization labels, generating parameters), and a triangle with a value is a "
        "reference above the axis. The black line and the grey band are the measured chance and its 95 % range."),
    "figure2_tsne": (
        "Figure 2. t-SNE of DeepLoc's protein profiles. Top: each protein coloured by its localization class. "
        f"Bottom: the {plots.TSNE_PROCESSES} largest biological processes with distinct names (of processes "
        "sharing a name, the largest), each a Gaussian KDE cloud of its members above half its peak density; the "
        "legend gives each process's name and its number of proteins."),
    "figure3_monitor": (
        "Figure 3. DeepLoc during training: AP and F0.5 of the test cells' profiles after each epoch, one line per "
        "run at the chosen learning rate (the title gives the runs and epochs), standards in Figure 1's order, y "
        "axes from 0. The dashed line is the standard's prevalence, the AP of a random ranking."),
}


def _figures(out: Path) -> list[tuple[str, str, str]]:
    """(stem, caption, base64 PNG) of every figure of the run: Figures 1, 2, 3, then any other."""
    found = sorted((out / "scores").glob("*.png")) + sorted((out / "figures").rglob("*.png"))
    order = list(FIGURE_CAPTIONS)
    found.sort(key=lambda p: order.index(p.stem) if p.stem in order else len(order))
    return [(p.stem, FIGURE_CAPTIONS.get(p.stem, p.stem.replace("_", " ")),
             base64.b64encode(p.read_bytes()).decode("ascii")) for p in found]


def _scores_by_standard(summary: pd.DataFrame, metrics: Sequence[str]) -> str:
    """The scores with their intervals, one table per standard, its columns the metrics' labels."""
    parts = []
    for standard in dict.fromkeys(summary["standard"]):
        frame = scores_with_intervals(summary[summary["standard"] == standard], metrics,
                                      [n for n, r in roles(summary).items() if r == "reference"])
        frame = frame.rename(columns={c: c.removeprefix(f"{standard} ") for c in frame.columns})
        parts.append(f"<h3>{html.escape(standard)}</h3>{_table_html(frame)}")
    return "\n".join(parts)


def _all_scores(summary: pd.DataFrame) -> str:
    """Every value of the summary, one table per standard: representation x metric (display labels)."""
    parts = []
    labels = {**{m: r.label for m, r in METRICS.items()}, RETRIEVAL_METRIC: "groups retrieved (share)"}
    for standard, rows in summary.groupby("standard", sort=False):
        wide = rows.pivot_table(index="representation", columns="metric", values="value", sort=False)
        wide = wide[[m for m in labels if m in wide.columns]].rename(columns=labels)
        wide.insert(0, "role", [roles(summary).get(n, "") for n in wide.index])
        wide.columns.name = None
        parts.append(f"<h3>{html.escape(standard)}</h3>{_table_html(wide.reset_index())}")
    return "\n".join(parts)


def retrieval_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Per representation and standard: the share of groups retrieved better than their permutation null.

    The ``fraction_retrieved`` rows of a score summary (:data:`eval.score.RETRIEVAL_METRIC`: per group, the
    mean AP of its members retrieving each other against copairs' permutation null, Benjamini-Hochberg
    q < :data:`eval.retrieval.ALPHA` over the standard's groups), written as ``"k of n (p %)"``.

    Parameters
    ----------
    summary : pandas.DataFrame
        ``summary.csv`` of a score run with per-group retrieval.

    Returns
    -------
    pandas.DataFrame
        One row per representation, one column per standard; empty without retrieval rows.

    Examples
    --------
    >>> s = pd.DataFrame({"representation": ["A", "A"], "standard": ["complex", "pathway"],
    ...                   "metric": ["fraction_retrieved"] * 2, "value": [0.0, 0.25], "n_groups": [12, 8]})
    >>> retrieval_table(s).values.tolist()
    [['A', '0 of 12 (0 %)', '2 of 8 (25 %)']]
    """
    rows = summary[summary["metric"] == RETRIEVAL_METRIC]
    cells = rows.assign(cell=[f"{round(v * n)} of {int(n)} ({100 * v:.0f} %)" if np.isfinite(v) else "not tested"
                              for v, n in zip(rows["value"], rows["n_groups"], strict=True)])
    wide = cells.pivot_table(index="representation", columns="standard", values="cell", aggfunc="first", sort=False)
    wide.columns.name = None
    return wide.reset_index()


def _retrieval_html(summary: pd.DataFrame) -> str:
    rows = summary[summary["metric"] == RETRIEVAL_METRIC]
    if rows.empty:
        return "<p>Per-group retrieval was not scored (<code>score --permutations 0</code>).</p>"
    none = [name for name, at in rows.groupby("representation", sort=False) if (at["value"].fillna(0) == 0).all()]
    said = (f"<p><b>No group of any standard</b> is retrieved better than its null by: {html.escape(', '.join(none))}."
            "</p>" if none else "")
    return (f"<p>For each group of a standard, its members query the universe by profile similarity; the group's mAP "
            f"is tested against copairs' permutation null of random rankings (Benjamini-Hochberg q &lt; {ALPHA:g} "
            "over the standard's groups). The share of groups retrieved that way:</p>"
            f"{said}{_table_html(retrieval_table(summary))}")


def _caption(stem: str, caption: str, data: str) -> str:
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(stem)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _items(sentences: Sequence[str]) -> str:
    return "<ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in sentences) + "</ul>"


def _points_table(points: pd.DataFrame) -> pd.DataFrame:
    """The points of :func:`~deeploc_keras.study.findings.study_agreement` as the report shows them."""
    shown = points.assign(
        metric=points["metric"].map(lambda m: METRICS[m].label if m in METRICS else m),
        q_value=points["q_value"].map(lambda q: f"{q:.3g}" if pd.notna(q) else "no test"),
        study=["" if pd.isna(a) else ("agrees" if a else "disagrees with the study") for a in points["agrees"]],
        ahead=points["ahead"].map({True: "yes", False: "no"}),
        significant=points["significant"].map({True: "yes", False: "no"}))
    return shown.drop(columns=["agrees", "tested"]).round(3).rename(columns=_POINT_HEADERS)


def _coverage_table(coverage: pd.DataFrame) -> pd.DataFrame:
    """Coverage with readable headers, one row per standard where every representation covers it alike."""
    counts = [c for c in coverage.columns if c not in ("representation", "standard")]
    alike = "representation" in coverage and len(coverage) and \
        (coverage.groupby("standard")[counts].nunique() <= 1).all().all()
    shown = coverage.drop_duplicates("standard").drop(columns="representation") if alike else coverage
    return shown.rename(columns=lambda c: c.removeprefix("n_").replace("_", " "))


#: The points table's column headers.
_POINT_HEADERS = {"baseline": "best baseline", "baseline_value": "its value", "runs_sd": "sd over runs",
                  "q_value": "q (largest)", "ahead": "ahead of all", "study": "vs the study"}


def write_report(
    out: str | os.PathLike,
    *,
    summary: pd.DataFrame,
    tests: pd.DataFrame,
    coverage: pd.DataFrame,
    config: Mapping[str, Any],
    timings: Mapping[str, float],
    normalize: str = "none",
    pci_learning: Mapping[str, float] | None = None,
    descriptions: Mapping[str, str] | None = None,
    channels: pd.DataFrame | None = None,
    gate: pd.DataFrame | None = None,
) -> Path:
    """Write ``out/report.html``, self-contained (figures embedded).

    Parameters
    ----------
    out : str or os.PathLike
        The reproduce directory (figures are read from ``scores/`` and ``figures/`` in it).
    summary, tests, coverage : pandas.DataFrame
        ``summary.csv`` (with its ``role`` column), ``tests.csv`` and ``coverage.csv`` of the score step.
    config : mapping
        The resolved configuration of the run.
    timings : mapping of str to float
        Seconds per step.
    normalize : str, default "none"
        The ``score --normalize`` every representation was scored with.
    pci_learning : mapping, optional
        See :func:`~deeploc_keras.study.findings.ladder_sentences`.
    descriptions : mapping of str to str, optional
        What each compared representation is (the references describe themselves).
    channels : pandas.DataFrame, optional
        ``scores/channels.csv`` of a simulated screen: see :func:`~deeploc_keras.study.findings.channel_sentences`.
    gate : pandas.DataFrame, optional
        ``scores/oracle_gate.csv`` of a simulated screen: see :func:`~deeploc_keras.study.gate.oracle_gate`.

    Returns
    -------
    pathlib.Path
    """
    out = Path(out)
    figures = "\n".join(_caption(*figure) for figure in _figures(out))
    metrics = [m for m in REPORT_METRICS if m in set(summary["metric"])]
    sizes = standard_sizes(summary)
    warnings = [f"{r.standard}: {r.warning}" for r in sizes.itertuples() if r.warning]
    timing_frame = pd.DataFrame({"step": list(timings), "seconds": [round(v, 1) for v in timings.values()]})
    timing_frame.loc[len(timing_frame)] = ["total", round(sum(timings.values()), 1)]
    normalize_text = (
        f"Every representation is scored with <code>score --normalize {html.escape(normalize)}</code>"
        + (": profiles as they were written, no further normalization across proteins." if normalize == "none"
           else ".")
    )
    rows = "".join(f"<li><b>{html.escape(name)}</b> ({html.escape(role)}): {html.escape(text)}</li>"
                   for name, role, text in _row_descriptions(summary, descriptions or {}))
    definitions = "".join(f"<li>{html.escape(METRICS[m].definition)}</li>" for m in metrics)
    nulls = "".join(f"<li>{html.escape(text)}</li>" for text in null_definitions(metrics))
    body = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>deeploc-keras reproduce report</title>
<style>body{{font-family:sans-serif;max-width:1240px;margin:2em auto;padding:0 1em;}} img{{max-width:100%;}}
.table{{border-collapse:collapse;font-size:85%;max-width:100%;}}
.table td,.table th{{padding:2px 8px;border-bottom:1px solid #ddd;white-space:normal;overflow-wrap:break-word;
vertical-align:top;text-align:left;}} figure{{margin:1.5em 0;}} figcaption{{max-width:60em;}}
.warn{{color:#a00;}} pre{{background:#f6f6f6;padding:1em;overflow:auto;white-space:pre-wrap;}}</style></head><body>
<h1>deeploc-keras: DeepLoc vs PIFiA vs Paired Cell Inpainting vs CellProfiler</h1>
<p>Preset <b>{html.escape(str(config.get("preset")))}</b>. Data:
{html.escape(str(config.get("store") or "the embedded synthetic screen"))}; profiles of the held-out cells (validation
and test: each protein's cells no gradient step saw). {normalize_text}</p>
<h2>Rows</h2><ul>{rows}</ul>
{"<p class='warn'>" + "<br>".join(html.escape(w) for w in warnings) + "</p>" if warnings else ""}
<h2>Tests</h2>{_items(family_sentences(tests, summary))}
<h2>How the ranking compares with the study</h2>{_items(compare_with_study(summary, tests))}
{_table_html(_points_table(study_agreement(summary, tests)))}
<h2>The ladder: chance, untrained networks, pixel statistics, labels, ceiling</h2>
{_items(ladder_sentences(summary, pci_learning=pci_learning))}
<h2>Within compartments</h2>{_items(within_sentences(summary, tests))}
{_channels_html(channels)}
{_gate_html(gate)}
<h2>Scores with 95 % bootstrap intervals over proteins (AMI: ± sd over samples), chance measured</h2>
<p>Learned methods: the value and interval of the best run (lowest validation loss); where several runs were
trained at the chosen learning rate, the mean ± sd over those runs follows (Figure 1 draws the mean). The chance row
is each metric on its null: the mean over the representations of the null's mean, and the null's 95 % range.</p>
<ul>{nulls}</ul>
{_scores_by_standard(summary, metrics)}
<h2>Groups retrieved better than chance</h2>{_retrieval_html(summary)}
<h2>Standards: proteins and groups</h2>{_table_html(sizes)}
<h2>Metrics</h2><ul>{definitions}<li>Intervals: percentile bootstrap over the universe's proteins, the same
resamples for every representation. Tests: see Tests above; every test is in <code>scores/tests.csv</code>.</li></ul>
<h2>Figures</h2>{figures}
<h2>All scores</h2><details><summary>Every value of <code>summary.csv</code>, by standard
(intervals, nulls and tests: the tables above and <code>scores/</code>)</summary>{_all_scores(summary)}</details>
<h2>Coverage of the standards</h2>{_table_html(_coverage_table(coverage))}
<h2>Timings</h2>{_table_html(timing_frame)}
<h2>Configuration</h2><pre>{html.escape(json.dumps(dict(config), indent=2, default=str))}</pre>
<h2>Environment</h2><pre>{html.escape(json.dumps(environment(), indent=2))}</pre>
</body></html>
"""
    path = out / "report.html"
    with atomic_path(path, overwrite=True) as tmp:
        tmp.write_text(body)
    return path


def _section(title: str, intro: str, body: str) -> str:
    """One section of the report: its title, a paragraph introducing it and its body (both HTML)."""
    return f"<h2>{title}</h2><p>{intro}</p>{body}"


def _channels_html(channels: pd.DataFrame | None) -> str:
    """Which function channel each method captured (simulated screen only; empty without channel scores)."""
    if channels is None:
        return ""
    return _section("Function channels",
                    "Each representation's within-compartment AP on the screen's channel standards (proteins of a "
                    "class grouped by one function channel: label-aligned or label-orthogonal, docs/synthetic.md), "
                    "against the within-class permutation null; every row is in <code>scores/channels.csv</code>.",
                    _items(channel_sentences(channels)))


def _gate_html(gate: pd.DataFrame | None) -> str:
    """Whether the oracle read each function channel from the cells (simulated screen only)."""
    if gate is None:
        return ""
    return _section("The oracle gate: can a network of this kind read each channel?",
                    "The oracle (DeepLoc's trunk trained on the cells to regress the generator's function parameters) "
                    "is the empirical ceiling; where it does not recover a channel, no method's failure on that "
                    "channel says anything about the method. Every criterion is in "
                    "<code>scores/oracle_gate.csv</code>.",
                    _items(gate_sentences(gate)) + _table_html(gate.round(4)))


def _row_descriptions(summary: pd.DataFrame, descriptions: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(name, role, what it is) of every row of the summary, the references from their declaration."""
    known = {**descriptions, **{r.name: f"{r.description} ({r.rung} of the ladder)" for r in REFERENCES}}
    return [(name, role, known.get(name, "")) for name, role in roles(summary).items()]
