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

import pandas as pd

from eval.catalog import FIGURE1_METRICS, METRICS

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
from .references import REFERENCES

__all__ = ["summary_table", "write_report"]


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


def _figures(out: Path) -> list[tuple[str, str]]:
    """(relative path, base64 PNG) of every figure of the run."""
    found = sorted((out / "scores").glob("*.png")) + sorted((out / "figures").rglob("*.png"))
    return [(os.fspath(p.relative_to(out)), base64.b64encode(p.read_bytes()).decode("ascii")) for p in found]


def _items(sentences: Sequence[str]) -> str:
    return "<ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in sentences) + "</ul>"


def _points_table(points: pd.DataFrame) -> pd.DataFrame:
    """The points of :func:`~deeploc_keras.study.findings.study_agreement` as the report shows them."""
    shown = points.assign(
        metric=points["metric"].map(lambda m: METRICS[m].label if m in METRICS else m),
        q_value=points["q_value"].map(lambda q: f"{q:.3g}" if pd.notna(q) else "no test"),
        study=["" if pd.isna(a) else ("agrees" if a else "disagrees with the study") for a in points["agrees"]])
    return shown.drop(columns=["agrees", "tested"]).round(3)


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

    Returns
    -------
    pathlib.Path
    """
    out = Path(out)
    figures = "\n".join(
        f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(Path(name).stem)}">'
        f"<figcaption>{html.escape(name)}</figcaption></figure>" for name, data in _figures(out))
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
<style>body{{font-family:sans-serif;max-width:1200px;margin:2em auto;}} img{{max-width:100%;}}
.table{{border-collapse:collapse;font-size:85%;}} .table td,.table th{{padding:2px 8px;border-bottom:1px solid #ddd;}}
.warn{{color:#a00;}} pre{{background:#f6f6f6;padding:1em;overflow:auto;}}</style></head><body>
<h1>deeploc-keras: DeepLoc vs Paired Cell Inpainting vs CellProfiler</h1>
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
<h2>Scores with 95 % bootstrap intervals over proteins (AMI: ± sd over samples), chance measured</h2>
<p>Learned methods: the value and interval of the best run (lowest validation loss); where several runs were
trained at the chosen learning rate, the mean ± sd over those runs follows (Figure 1 draws the mean). The chance row
is each metric on its null: the mean over the representations of the null's mean, and the null's 95 % range.</p>
<ul>{nulls}</ul>
{_table_html(scores_with_intervals(summary, metrics))}
<h2>Standards: proteins and groups</h2>{_table_html(sizes)}
<h2>Metrics</h2><ul>{definitions}<li>Intervals: percentile bootstrap over the universe's proteins, the same
resamples for every representation. Tests: see Tests above; every test is in <code>scores/tests.csv</code>.</li></ul>
<h2>Figures</h2>{figures}
<h2>All scores</h2>{_table_html(summary)}
<h2>Coverage of the standards</h2>{_table_html(coverage)}
<h2>Timings</h2>{_table_html(timing_frame)}
<h2>Configuration</h2><pre>{html.escape(json.dumps(dict(config), indent=2, default=str))}</pre>
<h2>Environment</h2><pre>{html.escape(json.dumps(environment(), indent=2))}</pre>
</body></html>
"""
    path = out / "report.html"
    with atomic_path(path, overwrite=True) as tmp:
        tmp.write_text(body)
    return path


def _channels_html(channels: pd.DataFrame | None) -> str:
    """Which function channel each method captured (simulated screen only; empty without channel scores)."""
    if channels is None:
        return ""
    return ("<h2>Function channels</h2><p>Each representation's within-compartment AP on the screen's channel "
            "standards (proteins of a class grouped by one function channel: label-aligned or label-orthogonal, "
            "docs/synthetic.md), against the within-class permutation null; every row is in "
            "<code>scores/channels.csv</code>.</p>" + _items(channel_sentences(channels)))


def _row_descriptions(summary: pd.DataFrame, descriptions: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(name, role, what it is) of every row of the summary, the references from their declaration."""
    known = {**descriptions, **{r.name: f"{r.description} ({r.rung} of the ladder)" for r in REFERENCES}}
    return [(name, role, known.get(name, "")) for name, role in roles(summary).items()]
