"""The HTML report of a reproduce run: figures, the summary table, coverage, configuration and timings."""

from __future__ import annotations

import datetime as _dt
import html
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from eval.figures import FIGURE1_METRICS

from .outputs import atomic_path
from .records import environment

__all__ = ["summary_table", "compare_with_study", "write_report"]

#: What the study found: the standards on which DeepLoc leads clearly, and where PCI is close.
_STUDY_DEEPLOC_AHEAD = ("bioprocess", "pathway", "complex")
_STUDY_PCI_CLOSE = ("cellular_component",)


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


def compare_with_study(summary: pd.DataFrame, *, metrics: tuple[str, ...] = FIGURE1_METRICS) -> list[str]:
    """Sentences comparing the ranking of DeepLoc, PCI and CellProfiler with the study's.

    The study found DeepLoc ahead of PCI and CellProfiler on the bioprocess,
    pathway and complex standards, with PCI close on cellular component.

    Parameters
    ----------
    summary : pandas.DataFrame
        Score summary with representations named ``DeepLoc``, ``PCI``, ``CellProfiler``
        (and optionally ``CellProfiler+PCA``).
    metrics : tuple of str

    Returns
    -------
    list of str
        One sentence per standard, then an overall count.
    """
    table = summary[summary["metric"].isin(metrics)].set_index(["representation", "standard", "metric"])["value"]
    representations = set(summary["representation"])
    baselines = [r for r in ("PCI", "CellProfiler", "CellProfiler+PCA") if r in representations]
    if "DeepLoc" not in representations or not baselines:
        return ["The comparison needs DeepLoc and at least one baseline."]
    sentences, ahead_total, cells_total = [], 0, 0
    for standard in dict.fromkeys(summary["standard"]):
        ahead, details = 0, []
        for metric in metrics:
            try:
                ours = table[("DeepLoc", standard, metric)]
                best_base = max(baselines, key=lambda r: table[(r, standard, metric)])
                theirs = table[(best_base, standard, metric)]
            except KeyError:
                continue
            cells_total += 1
            if ours > theirs:
                ahead += 1
            details.append(f"{metric} {ours:.3f} vs {best_base} {theirs:.3f}")
        ahead_total += ahead
        expectation = ("the study: DeepLoc ahead" if standard in _STUDY_DEEPLOC_AHEAD else
                       "the study: PCI close to DeepLoc" if standard in _STUDY_PCI_CLOSE else "not in the study")
        if standard in _STUDY_PCI_CLOSE and "PCI" in representations:
            ratios = [table[("PCI", standard, m)] / table[("DeepLoc", standard, m)] for m in metrics
                      if ("PCI", standard, m) in table.index and table[("DeepLoc", standard, m)] > 0]
            if ratios:
                expectation += f"; here PCI reaches {100 * sum(ratios) / len(ratios):.0f} % of DeepLoc on average"
        sentences.append(f"{standard}: DeepLoc ahead of the best baseline on {ahead} of {len(details)} metrics "
                         f"({'; '.join(details)}) — {expectation}.")
    sentences.append(f"Overall DeepLoc leads on {ahead_total} of {cells_total} standard x metric comparisons.")
    return sentences


def _table_html(frame: pd.DataFrame) -> str:
    return frame.to_html(border=0, classes="table", float_format=lambda v: f"{v:.3f}", na_rep="")


def _figures(out: Path) -> list[Path]:
    found = sorted((out / "scores").glob("*.png")) + sorted((out / "figures").rglob("*.png"))
    return [p.relative_to(out) for p in found]


def write_report(
    out: str | os.PathLike,
    *,
    summary: pd.DataFrame,
    coverage: pd.DataFrame,
    config: Mapping[str, Any],
    timings: Mapping[str, float],
) -> Path:
    """Write ``out/report.html``.

    Parameters
    ----------
    out : str or os.PathLike
        The reproduce directory (figures are linked relative to it).
    summary, coverage : pandas.DataFrame
        ``summary.csv`` and ``coverage.csv`` of the score step.
    config : mapping
        The resolved configuration of the run.
    timings : mapping of str to float
        Seconds per step.

    Returns
    -------
    pathlib.Path
    """
    out = Path(out)
    figures = "\n".join(
        f'<figure><img src="{html.escape(str(p))}" alt="{html.escape(p.stem)}"><figcaption>{html.escape(str(p))}'
        f"</figcaption></figure>" for p in _figures(out)
    )
    comparison = "".join(f"<li>{html.escape(s)}</li>" for s in compare_with_study(summary))
    timing_frame = pd.DataFrame({"step": list(timings), "seconds": [round(v, 1) for v in timings.values()]})
    timing_frame.loc[len(timing_frame)] = ["total", round(sum(timings.values()), 1)]
    body = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>deeploc-keras reproduce report</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;}} img{{max-width:100%;}}
.table{{border-collapse:collapse;font-size:90%;}} .table td,.table th{{padding:2px 8px;border-bottom:1px solid #ddd;}}
pre{{background:#f6f6f6;padding:1em;overflow:auto;}}</style></head><body>
<h1>deeploc-keras: DeepLoc vs Paired Cell Inpainting vs CellProfiler</h1>
<p>Preset <b>{html.escape(str(config.get("preset")))}</b>, written
{_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}. Data:
{html.escape(str(config.get("store") or "the embedded synthetic screen"))}.</p>
<h2>How the ranking compares with the study</h2><ul>{comparison}</ul>
<h2>Summary (average precision, AMI, F-score beta 0.5)</h2>{_table_html(summary_table(summary))}
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
