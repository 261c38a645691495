"""The HTML report of a reproduce run: the ranking against the study, the ladder from chance to ceiling, figures.

The report is one self-contained file (figures embedded as base64 PNG): the
comparison with the study's ranking with paired significance, where each learned
representation stands between chance, its untrained network, the pixel statistics,
the localization labels and (on a simulated screen) the generating parameters, the
within-compartment scores, the size of every standard, the metric definitions, and
the configuration and timings of the run.
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

from eval.figures import FIGURE1_METRICS, METRIC_LABELS

from ..core.outputs import atomic_path
from ..core.records import environment
from .references import GENERATING, LABELS, PIXEL_STATISTICS, UNTRAINED

__all__ = ["BASELINES", "REPORT_METRICS", "METRIC_DEFINITIONS", "ALPHA", "MIN_GROUPS", "MIN_POSITIVE_PAIRS",
           "summary_table", "scores_with_intervals", "compare_with_study", "study_agreement", "ladder_sentences", "standard_sizes",
           "write_report"]

#: The study's baselines, in the order of reports.
BASELINES = ("PCI", "CellProfiler", "CellProfiler+PCA")
#: Metrics of the report's tables: Figure 1's, mAP, and the within-compartment variants.
REPORT_METRICS = ("average_precision", "mean_average_precision", "ami", "f_beta", "average_precision_within",
                  "mean_average_precision_within")
#: False-discovery level of "significantly" (Benjamini-Hochberg q-values of the paired comparisons).
ALPHA = 0.05
#: A standard with fewer groups, or fewer co-annotated pairs, is too small for its scores to mean anything.
MIN_GROUPS, MIN_POSITIVE_PAIRS = 5, 50
#: One sentence per metric, as the report states them.
METRIC_DEFINITIONS = {
    "average_precision": "AP: every pair of proteins in the standard's universe (proteins in at least one group) "
                         "ranked by the Pearson correlation of their profiles; a pair is positive when the two "
                         "share a group; step-wise average precision of that one pooled ranking. Chance: the "
                         "prevalence of positive pairs.",
    "mean_average_precision": "mAP: each protein ranks all others by correlation; the AP of that ranking (positives: "
                              "proteins sharing a group with it), averaged over proteins with a positive "
                              "(copairs' per-profile mAP).",
    "ami": "AMI: BIONIC's module detection; hierarchical clusterings of the profiles cut at many thresholds, the "
           "best adjusted mutual information with a sample of non-overlapping groups, mean (sd) over samples. "
           "Chance: 0.",
    "f_beta": "F0.5: the maximum over correlation thresholds of the F-score with beta 0.5 (precision weighted "
              "over recall) on the pooled pairs. Drawn against the prevalence.",
    "average_precision_within": "AP within compartment: the pooled AP over the pairs that share a localization "
                                "class only (a pair sharing a class and a group is positive, one sharing a class "
                                "and no group negative): what a representation says about function beyond "
                                "localization. Chance: the prevalence among those pairs.",
    "mean_average_precision_within": "mAP within compartment: each protein ranks only the proteins sharing one of "
                                     "its localization classes.",
}
_STUDY = "DeepLoc"
_CLAIMS = {"cellular_component": "the study: DeepLoc ahead, PCI close"}
_DEFAULT_CLAIM = "the study: DeepLoc ahead"


def _label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric)


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


def _values(summary: pd.DataFrame) -> pd.Series:
    return summary.set_index(["representation", "standard", "metric"])["value"]


def study_agreement(summary: pd.DataFrame, *, metrics: tuple[str, ...] = FIGURE1_METRICS) -> pd.DataFrame:
    """Each standard x metric: DeepLoc against the best baseline, its paired q-value, and whether the study agrees.

    The study found DeepLoc ahead of PCI and CellProfiler on every standard, with PCI
    close on cellular component; a point disagrees when DeepLoc is not ahead of the best
    baseline there.

    Parameters
    ----------
    summary : pandas.DataFrame
        Score summary with ``DeepLoc`` and at least one of :data:`BASELINES` (``q_value``
        and ``compared_to`` from ``score --compare-to`` where present).
    metrics : tuple of str

    Returns
    -------
    pandas.DataFrame
        Columns standard, metric, deeploc, baseline, baseline_value, q_value, ahead,
        significant, agrees (empty without DeepLoc or a baseline).

    Examples
    --------
    >>> s = pd.DataFrame({"representation": ["DeepLoc", "PCI"], "standard": ["complex"] * 2,
    ...                   "metric": ["ami"] * 2, "value": [0.5, 0.6]})
    >>> study_agreement(s, metrics=("ami",))[["baseline", "ahead", "agrees"]].values.tolist()
    [['PCI', False, False]]
    """
    values = _values(summary)
    present = set(summary["representation"])
    baselines = [b for b in BASELINES if b in present]
    columns = ["standard", "metric", "deeploc", "baseline", "baseline_value", "q_value", "ahead", "significant",
               "agrees"]
    if _STUDY not in present or not baselines:
        return pd.DataFrame(columns=columns)
    q = summary.set_index(["representation", "standard", "metric"]).get("q_value")
    rows = []
    for standard in dict.fromkeys(summary["standard"]):
        for metric in metrics:
            if (_STUDY, standard, metric) not in values.index:
                continue
            candidates = [b for b in baselines if (b, standard, metric) in values.index]
            if not candidates:
                continue
            best = max(candidates, key=lambda b: values[(b, standard, metric)])
            ours, theirs = float(values[(_STUDY, standard, metric)]), float(values[(best, standard, metric)])
            q_value = float(q[(_STUDY, standard, metric)]) if q is not None else np.nan
            ahead = ours > theirs
            rows.append({"standard": standard, "metric": metric, "deeploc": ours, "baseline": best,
                         "baseline_value": theirs, "q_value": q_value, "ahead": ahead,
                         "significant": bool(ahead and q_value < ALPHA), "agrees": ahead})
    return pd.DataFrame(rows, columns=columns)


def compare_with_study(summary: pd.DataFrame, *, metrics: tuple[str, ...] = FIGURE1_METRICS) -> list[str]:
    """Sentences comparing the ranking of DeepLoc, PCI and CellProfiler with the study's.

    The study found DeepLoc ahead of PCI and CellProfiler on the bioprocess,
    pathway and complex standards, with PCI close on cellular component. The last
    sentence counts the points where DeepLoc is ahead of the best baseline and, where the
    summary has paired comparisons, those where it is significantly ahead (BH q < :data:`ALPHA`).

    Parameters
    ----------
    summary : pandas.DataFrame
        Score summary with representations named ``DeepLoc``, ``PCI``, ``CellProfiler``
        (and optionally ``CellProfiler+PCA`` and reference rows, which are not baselines).
    metrics : tuple of str

    Returns
    -------
    list of str
        One sentence per standard, then an overall count.
    """
    points = study_agreement(summary, metrics=metrics)
    if points.empty:
        return ["The comparison needs DeepLoc and at least one baseline."]
    values = _values(summary)
    sentences = []
    for standard, rows in points.groupby("standard", sort=False):
        details = "; ".join(f"{r.metric} {r.deeploc:.3f} vs {r.baseline} {r.baseline_value:.3f}"
                            for r in rows.itertuples())
        claim = _CLAIMS.get(standard, _DEFAULT_CLAIM)
        if standard in _CLAIMS and ("PCI", standard, metrics[0]) in values.index:
            ratios = [values[("PCI", standard, m)] / values[(_STUDY, standard, m)] for m in metrics
                      if ("PCI", standard, m) in values.index and values[(_STUDY, standard, m)] > 0]
            if ratios:
                claim += f"; here PCI reaches {100 * sum(ratios) / len(ratios):.0f} % of DeepLoc on average"
        sentences.append(f"{standard}: DeepLoc ahead of the best baseline on {int(rows['ahead'].sum())} of "
                         f"{len(rows)} metrics ({details}) — {claim}.")
    overall = f"Overall DeepLoc is ahead on {int(points['ahead'].sum())} of {len(points)} standard x metric comparisons"
    tested = points["q_value"].notna()
    if tested.any():
        overall += (f", significantly on {int(points['significant'].sum())} (paired bootstrap over proteins, "
                    f"Benjamini-Hochberg q < {ALPHA:g}; {int(tested.sum())} of the {len(points)} have a paired "
                    f"test, AMI has none)")
    sentences.append(overall + ".")
    return sentences


def _shortfalls(values: pd.Series, ours: str, reference: str, standards: Sequence[str],
                metrics: Sequence[str]) -> tuple[list[str], int]:
    """Points where ``ours`` does not beat ``reference``, and the number compared."""
    misses, compared = [], 0
    for standard in standards:
        for metric in metrics:
            if (ours, standard, metric) not in values.index or (reference, standard, metric) not in values.index:
                continue
            compared += 1
            a, b = float(values[(ours, standard, metric)]), float(values[(reference, standard, metric)])
            if not a > b:
                misses.append(f"{standard} {_label(metric)} {a:.3f} vs {b:.3f}")
    return misses, compared


def ladder_sentences(summary: pd.DataFrame, *, metrics: tuple[str, ...] = FIGURE1_METRICS,
                     pci_learning: Mapping[str, float] | None = None) -> list[str]:
    """Sentences placing each representation on the ladder: untrained network, pixel statistics, labels, ceiling.

    Says in words where a learned representation does not beat its untrained network or
    the pixel statistics, where the localization labels alone reach a representation's
    pooled score, and whether PCI's validation MSE got below the mean-image predictor's.

    Parameters
    ----------
    summary : pandas.DataFrame
        Score summary with reference rows named as in :mod:`deeploc_keras.study.references`.
    metrics : tuple of str
    pci_learning : mapping, optional
        ``best_val_mse``, ``mean_image_val_mse`` and ``epochs`` of the PCI run.

    Returns
    -------
    list of str

    Examples
    --------
    >>> s = pd.DataFrame({"representation": ["PCI", "PCI untrained"], "standard": ["complex"] * 2,
    ...                   "metric": ["average_precision"] * 2, "value": [0.1, 0.2]})
    >>> ladder_sentences(s, metrics=("average_precision",))[0]
    'PCI does NOT beat its untrained network (random weights, same configuration) on 1 of 1: complex AP (pooled pairs) 0.100 vs 0.200.'
    """
    values = _values(summary)
    present = list(dict.fromkeys(summary["representation"]))
    standards = list(dict.fromkeys(summary["standard"]))
    sentences = []
    if pci_learning:
        best, mean_image = pci_learning["best_val_mse"], pci_learning["mean_image_val_mse"]
        verdict = "below" if best < mean_image else "NOT below"
        epochs = int(pci_learning["epochs"])
        sentences.append(f"PCI's best validation MSE ({best:.5f} over {epochs} epoch{'s' if epochs != 1 else ''}) is "
                         f"{verdict} that of predicting the mean training image ({mean_image:.5f}; ratio "
                         f"{best / mean_image:.3f}).")
    for learned, untrained in UNTRAINED.items():
        if learned in present and untrained in present:
            misses, compared = _shortfalls(values, learned, untrained, standards, metrics)
            sentences.append(
                f"{learned} does NOT beat its untrained network (random weights, same configuration) on "
                f"{len(misses)} of {compared}: {'; '.join(misses)}." if misses else
                f"{learned} beats its untrained network on all {compared} standard x metric points.")
    if PIXEL_STATISTICS in present:
        for name in (_STUDY, *BASELINES):
            if name not in present:
                continue
            misses, compared = _shortfalls(values, name, PIXEL_STATISTICS, standards, metrics)
            sentences.append(
                f"{name} does NOT beat the pixel statistics on {len(misses)} of {compared}: {'; '.join(misses)}."
                if misses else f"{name} beats the pixel statistics on all {compared} points.")
    if LABELS in present:
        for name in (n for n in (_STUDY, *BASELINES) if n in present):
            reached = []
            for standard in standards:
                key = (name, standard, metrics[0])
                if key in values.index and (LABELS, standard, metrics[0]) in values.index:
                    if values[(LABELS, standard, metrics[0])] >= values[key]:
                        reached.append(f"{standard} ({values[(LABELS, standard, metrics[0])]:.3f} vs "
                                       f"{values[key]:.3f})")
            if reached:
                sentences.append(f"The localization labels alone reach {name}'s {_label(metrics[0])} on "
                                 f"{', '.join(reached)}: there the pooled score is what knowing localization gives; "
                                 f"the within-compartment scores ask what {name} adds beyond it.")
    if GENERATING in present and _STUDY in present:
        gaps = [f"{s} {values[(_STUDY, s, metrics[0])]:.3f} of {values[(GENERATING, s, metrics[0])]:.3f}"
                for s in standards if (_STUDY, s, metrics[0]) in values.index and (GENERATING, s, metrics[0])
                in values.index]
        if gaps:
            sentences.append(f"Ceiling (each protein's generating class mixture and theta): DeepLoc's "
                             f"{_label(metrics[0])} is {'; '.join(gaps)}.")
    within = summary[summary["metric"] == "average_precision_within"]
    if not within.empty and _STUDY in present:
        parts = []
        for standard, rows in within.groupby("standard", sort=False):
            by = rows.set_index("representation")["value"]
            if _STUDY not in by:
                continue
            chance = float(rows["prevalence"].iloc[0])
            others = ", ".join(f"{n} {by[n]:.3f}" for n in (*UNTRAINED.values(), PIXEL_STATISTICS, LABELS, *BASELINES)
                               if n in by)
            parts.append(f"{standard}: DeepLoc {by[_STUDY]:.3f} (chance {chance:.3f}; {others})")
        if parts:
            sentences.append("Within compartments (only pairs sharing a localization class), AP: " + "; ".join(parts)
                             + ".")
    return sentences


def standard_sizes(summary: pd.DataFrame) -> pd.DataFrame:
    """Per standard: proteins, groups, co-annotated pairs, prevalence, and a warning when it is too small.

    Too small: fewer than :data:`MIN_GROUPS` groups or :data:`MIN_POSITIVE_PAIRS` positive pairs.

    Examples
    --------
    >>> s = pd.DataFrame({"representation": ["A"], "standard": ["complex"], "metric": ["average_precision"],
    ...                   "value": [0.5], "n_proteins": [12], "n_groups": [3], "prevalence": [0.1]})
    >>> standard_sizes(s)[["standard", "positive_pairs", "warning"]].values.tolist()[0][:2]
    ['complex', 7]
    """
    pooled = summary[summary["metric"] == "average_precision"]
    rows = []
    for standard, group in pooled.groupby("standard", sort=False):
        first = group.iloc[0]
        n = int(first["n_proteins"])
        positives = int(round(float(first["prevalence"]) * n * (n - 1) / 2))
        small = int(first["n_groups"]) < MIN_GROUPS or positives < MIN_POSITIVE_PAIRS
        rows.append({"standard": standard, "proteins": n, "groups": int(first["n_groups"]),
                     "positive_pairs": positives, "prevalence": round(float(first["prevalence"]), 4),
                     "warning": (f"too small to mean anything (fewer than {MIN_GROUPS} groups or "
                                 f"{MIN_POSITIVE_PAIRS} co-annotated pairs): read its scores as noise") if small
                     else ""})
    return pd.DataFrame(rows, columns=["standard", "proteins", "groups", "positive_pairs", "prevalence", "warning"])


def scores_with_intervals(summary: pd.DataFrame, metrics: Sequence[str], references: Sequence[str]) -> pd.DataFrame:
    """Representation x (standard, metric) cells as ``value [low, high]`` (or ``value ± sd``), a chance row last.

    Parameters
    ----------
    summary : pandas.DataFrame
        ``summary.csv`` of a score or reproduce run.
    metrics : sequence of str
    references : sequence of str
        Representations marked ``reference`` in the ``kind`` column (the others: ``compared``).

    Returns
    -------
    pandas.DataFrame
        Columns representation, kind, then one text column per standard x metric; with several runs a cell
        ends with ``; n runs: mean ± sd``.

    Examples
    --------
    >>> s = pd.DataFrame({"representation": ["A"], "standard": ["c"], "metric": ["average_precision"],
    ...                   "value": [0.5], "ci_low": [0.4], "ci_high": [0.6], "prevalence": [0.1]})
    >>> scores_with_intervals(s, ["average_precision"], []).iloc[:, 2].tolist()
    ['0.500 [0.400, 0.600]', '0.100']
    """
    cells: dict[tuple[str, str], dict[str, str]] = {}
    subset = summary[summary["metric"].isin(metrics)]
    for row in subset.itertuples():
        text = f"{row.value:.3f}"
        if np.isfinite(getattr(row, "ci_low", np.nan)):
            text += f" [{row.ci_low:.3f}, {row.ci_high:.3f}]"
        elif np.isfinite(getattr(row, "sd", np.nan)):
            text += f" ± {row.sd:.3f}"
        if getattr(row, "n_runs", np.nan) > 1:
            text += f"; {int(row.n_runs)} runs: {row.runs_mean:.3f} ± {row.runs_sd:.3f}"
        cells.setdefault((row.standard, row.metric), {})[row.representation] = text
        chance = 0.0 if row.metric == "ami" else float(row.prevalence)
        cells[(row.standard, row.metric)].setdefault("chance", f"{chance:.3f}")
    names = list(dict.fromkeys(subset["representation"]))
    kinds = {name: "reference" if name in references else "compared" for name in names}
    frame = pd.DataFrame({"representation": [*names, "chance"], "kind": [*kinds.values(), "reference"]})
    for standard in dict.fromkeys(subset["standard"]):
        for metric in metrics:
            if (standard, metric) in cells:
                column = cells[(standard, metric)]
                frame[f"{standard} {_label(metric)}"] = [column.get(name, "") for name in frame["representation"]]
    return frame


def _table_html(frame: pd.DataFrame) -> str:
    return frame.to_html(border=0, classes="table", index=False, float_format=lambda v: f"{v:.3f}", na_rep="")


def _figures(out: Path) -> list[tuple[str, str]]:
    """(relative path, base64 PNG) of every figure of the run."""
    found = sorted((out / "scores").glob("*.png")) + sorted((out / "figures").rglob("*.png"))
    return [(os.fspath(p.relative_to(out)), base64.b64encode(p.read_bytes()).decode("ascii")) for p in found]


def _items(sentences: Sequence[str]) -> str:
    return "<ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in sentences) + "</ul>"


def write_report(
    out: str | os.PathLike,
    *,
    summary: pd.DataFrame,
    coverage: pd.DataFrame,
    config: Mapping[str, Any],
    timings: Mapping[str, float],
    references: Sequence[str] = (),
    normalize: str = "none",
    pci_learning: Mapping[str, float] | None = None,
) -> Path:
    """Write ``out/report.html``, self-contained (figures embedded).

    Parameters
    ----------
    out : str or os.PathLike
        The reproduce directory (figures are read from ``scores/`` and ``figures/`` in it).
    summary, coverage : pandas.DataFrame
        ``summary.csv`` and ``coverage.csv`` of the score step.
    config : mapping
        The resolved configuration of the run.
    timings : mapping of str to float
        Seconds per step.
    references : sequence of str
        Names of the reference representations in ``summary`` (not compared with the study).
    normalize : str, default "none"
        The ``score --normalize`` every representation was scored with.
    pci_learning : mapping, optional
        See :func:`ladder_sentences`.

    Returns
    -------
    pathlib.Path
    """
    out = Path(out)
    figures = "\n".join(
        f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(Path(name).stem)}">'
        f"<figcaption>{html.escape(name)}</figcaption></figure>" for name, data in _figures(out))
    metrics = [m for m in REPORT_METRICS if m in set(summary["metric"])]
    points = study_agreement(summary)
    flags = points.assign(
        disagrees=np.where(points["agrees"].astype(bool), "", "disagrees with the study"),
        claim=[_CLAIMS.get(s, _DEFAULT_CLAIM) for s in points["standard"]],
    ).drop(columns=["agrees"])
    sizes = standard_sizes(summary)
    warnings = [f"{r.standard}: {r.warning}" for r in sizes.itertuples() if r.warning]
    timing_frame = pd.DataFrame({"step": list(timings), "seconds": [round(v, 1) for v in timings.values()]})
    timing_frame.loc[len(timing_frame)] = ["total", round(sum(timings.values()), 1)]
    normalize_text = (
        f"Every representation is scored with <code>score --normalize {html.escape(normalize)}</code>"
        + (": profiles as extracted, no normalization across proteins (the study's raw comparison); the "
           "CellProfiler profiles were normalized across proteins and feature-selected by the CellProfiler runner "
           "(pycytominer's conventions), its raw profiles are <code>proteins_raw.parquet</code>."
           if normalize == "none" else ".")
    )
    definitions = "".join(f"<li>{html.escape(METRIC_DEFINITIONS[m])}</li>" for m in metrics if m in METRIC_DEFINITIONS)
    body = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>deeploc-keras reproduce report</title>
<style>body{{font-family:sans-serif;max-width:1200px;margin:2em auto;}} img{{max-width:100%;}}
.table{{border-collapse:collapse;font-size:85%;}} .table td,.table th{{padding:2px 8px;border-bottom:1px solid #ddd;}}
.warn{{color:#a00;}} pre{{background:#f6f6f6;padding:1em;overflow:auto;}}</style></head><body>
<h1>deeploc-keras: DeepLoc vs Paired Cell Inpainting vs CellProfiler</h1>
<p>Preset <b>{html.escape(str(config.get("preset")))}</b>. Data:
{html.escape(str(config.get("store") or "the embedded synthetic screen"))}; profiles of the test split (a share of
each protein's cells held out of training). {normalize_text}</p>
{"<p class='warn'>" + "<br>".join(html.escape(w) for w in warnings) + "</p>" if warnings else ""}
<h2>How the ranking compares with the study</h2>{_items(compare_with_study(summary))}
{_table_html(flags)}
<h2>The ladder: chance, untrained networks, pixel statistics, labels, ceiling</h2>
{_items(ladder_sentences(summary, pci_learning=pci_learning))}
<h2>Scores with 95 % bootstrap intervals over proteins (AMI: ± sd over samples)</h2>
<p>DeepLoc and PCI: the value and interval of the best run (lowest validation loss); where several runs were
trained at the chosen learning rate, the mean ± sd over those runs follows (Figure 1 draws the mean).</p>
{_table_html(scores_with_intervals(summary, metrics, references))}
<h2>Standards: proteins and groups</h2>{_table_html(sizes)}
<h2>Metrics</h2><ul>{definitions}<li>Intervals: percentile bootstrap over the universe's proteins, the same
resamples for every representation; p-values: paired bootstrap of each representation against the best
baseline ({", ".join(BASELINES)}), Benjamini-Hochberg q-values over the whole table.</li></ul>
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
