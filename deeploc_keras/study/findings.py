"""What a scored run says, in tables and sentences generated from it: the tests, the study's claims, the ladder.

Every function reads a score summary (``summary.csv`` of :func:`eval.score.score`, whose
``role`` column says which representation is a method, a baseline or a reference) and,
for the tests, ``tests.csv``. No representation is named here except the study's own
method (its claims are about DeepLoc); the references are placed on the ladder by their
rung (:data:`deeploc_keras.study.references.REFERENCES`), so a new method, baseline or
reference needs no change here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from eval.catalog import FIGURE1_METRICS, METRICS
from eval.score import ALPHA, NULL

from .references import REFERENCES

__all__ = ["STUDY_METHOD", "REPORT_METRICS", "MIN_GROUPS", "MIN_POSITIVE_PAIRS", "roles", "study_agreement",
           "compare_with_study", "family_sentences", "ladder_sentences", "within_sentences", "standard_sizes",
           "scores_with_intervals", "null_definitions", "channel_sentences"]

#: The method the study's claims are about.
STUDY_METHOD = "DeepLoc"
#: Metrics of the report's tables and claims: those tested against the baselines, in table order.
REPORT_METRICS = tuple(name for name, record in METRICS.items() if record.tested)
#: A standard with fewer groups, or fewer co-annotated pairs, is too small for its scores to mean anything.
MIN_GROUPS, MIN_POSITIVE_PAIRS = 5, 50
_CLAIMS = {"cellular_component": "the study: DeepLoc ahead, PCI close"}
_DEFAULT_CLAIM = "the study: DeepLoc ahead"
_PCI = "PCI"


def _label(metric: str) -> str:
    return METRICS[metric].label if metric in METRICS else metric


def _values(summary: pd.DataFrame) -> pd.Series:
    return summary.set_index(["representation", "standard", "metric"])["value"]


def roles(summary: pd.DataFrame) -> dict[str, str]:
    """Each representation's role (``method``, ``baseline``, ``reference``) from the summary's ``role`` column.

    A summary without the column (scored without baselines) has only methods.

    Examples
    --------
    >>> roles(pd.DataFrame({"representation": ["A", "B"], "role": ["method", "baseline"]}))
    {'A': 'method', 'B': 'baseline'}
    """
    if "role" not in summary:
        return dict.fromkeys(dict.fromkeys(summary["representation"]), "method")
    return dict(zip(summary["representation"], summary["role"].fillna("method"), strict=True))


def _named(summary: pd.DataFrame, role: str) -> list[str]:
    return [name for name, r in roles(summary).items() if r == role]


def _point_tests(tests: pd.DataFrame | None, method: str, standard: str, metric: str,
                 baselines: Sequence[str]) -> tuple[bool, float]:
    """Whether a point has every test it needs (each baseline; AMI: its null too) and the largest q among them."""
    if tests is None or tests.empty:
        return False, np.nan
    against = [*baselines, NULL] if METRICS.get(metric) is not None and METRICS[metric].null_tested else list(baselines)
    rows = tests[(tests["representation"] == method) & (tests["standard"] == standard) & (tests["metric"] == metric)]
    q = rows.set_index("against")["q_value"]
    if not all(a in q.index and np.isfinite(q[a]) for a in against):
        return False, np.nan
    return True, float(q[list(against)].max())


def study_agreement(summary: pd.DataFrame, tests: pd.DataFrame | None = None, *,
                    metrics: Sequence[str] = REPORT_METRICS) -> pd.DataFrame:
    """Each method x standard x metric: the method against the best baseline, and whether it is ahead of all.

    A point is *significant* when the method is ahead of every baseline and every test the point
    needs passes (Benjamini-Hochberg q < :data:`eval.score.ALPHA` over the family of ``tests``): one
    per baseline, and for a metric tested against its null (AMI) that test too. A point without
    those tests is shown and not counted as significant. ``agrees`` says, for the study's method on
    the study's Figure 1 metrics, whether it is ahead of the best baseline as the study found.

    Parameters
    ----------
    summary : pandas.DataFrame
        Score summary with a ``role`` column (:func:`roles`).
    tests : pandas.DataFrame, optional
        ``tests.csv`` of the same scoring.
    metrics : sequence of str, default :data:`REPORT_METRICS`

    Returns
    -------
    pandas.DataFrame
        Columns method, standard, metric, value, baseline, baseline_value, difference, runs_sd (the
        method's sd over its runs, NaN without several), tested, q_value (the largest of the point's),
        ahead, significant, agrees; empty without a method or a baseline.

    Examples
    --------
    >>> s = pd.DataFrame({"representation": ["DeepLoc", "PCI"], "role": ["method", "baseline"],
    ...                   "standard": ["complex"] * 2, "metric": ["ami"] * 2, "value": [0.5, 0.6]})
    >>> study_agreement(s, metrics=("ami",))[["baseline", "ahead", "agrees"]].values.tolist()
    [['PCI', False, False]]
    """
    values = _values(summary)
    runs_sd = summary.set_index(["representation", "standard", "metric"]).get("runs_sd")
    baselines = _named(summary, "baseline")
    columns = ["method", "standard", "metric", "value", "baseline", "baseline_value", "difference", "runs_sd",
               "tested", "q_value", "ahead", "significant", "agrees"]
    rows = []
    for method in _named(summary, "method"):
        for standard in dict.fromkeys(summary["standard"]):
            for metric in metrics:
                present = [b for b in baselines if (b, standard, metric) in values.index
                           and np.isfinite(values[(b, standard, metric)])]
                if (method, standard, metric) not in values.index or not present:
                    continue
                best = max(present, key=lambda b: values[(b, standard, metric)])
                ours, theirs = float(values[(method, standard, metric)]), float(values[(best, standard, metric)])
                tested, q = _point_tests(tests, method, standard, metric, present)
                ahead = all(ours > values[(b, standard, metric)] for b in present)
                spread = float(runs_sd[(method, standard, metric)]) if runs_sd is not None else np.nan
                rows.append({"method": method, "standard": standard, "metric": metric, "value": ours,
                             "baseline": best, "baseline_value": theirs, "difference": ours - theirs,
                             "runs_sd": spread, "tested": tested, "q_value": q, "ahead": ahead,
                             "significant": bool(ahead and tested and q < ALPHA),
                             "agrees": ahead if method == STUDY_METHOD and metric in FIGURE1_METRICS else None})
    return pd.DataFrame(rows, columns=columns)


def _pci_close(values: pd.Series, standard: str, metrics: Sequence[str]) -> str:
    ratios = [values[(_PCI, standard, m)] / values[(STUDY_METHOD, standard, m)] for m in metrics
              if (_PCI, standard, m) in values.index and (STUDY_METHOD, standard, m) in values.index
              and values[(STUDY_METHOD, standard, m)] > 0]
    return f"; here PCI reaches {100 * sum(ratios) / len(ratios):.0f} % of DeepLoc on average" if ratios else ""


def compare_with_study(summary: pd.DataFrame, tests: pd.DataFrame | None = None, *,
                       metrics: Sequence[str] = REPORT_METRICS) -> list[str]:
    """Sentences: each method against the baselines per standard, then an overall count per method.

    The study found DeepLoc ahead of PCI and CellProfiler on the bioprocess, pathway and complex
    standards, with PCI close on cellular component; its sentences say so beside the counts.

    Parameters
    ----------
    summary : pandas.DataFrame
        Score summary with a ``role`` column.
    tests : pandas.DataFrame, optional
        ``tests.csv`` (without it nothing is called significant).
    metrics : sequence of str, default :data:`REPORT_METRICS`

    Returns
    -------
    list of str
    """
    points = study_agreement(summary, tests, metrics=metrics)
    if points.empty:
        return ["The comparison needs a method and at least one baseline."]
    values = _values(summary)
    sentences = []
    for (method, standard), rows in points.groupby(["method", "standard"], sort=False):
        details = "; ".join(f"{_label(r.metric)} {r.value:.3f} vs {r.baseline} {r.baseline_value:.3f}"
                            + (f" (q = {r.q_value:.3g})" if r.tested else "") for r in rows.itertuples())
        claim = ""
        if method == STUDY_METHOD:
            claim = f" — {_CLAIMS.get(standard, _DEFAULT_CLAIM)}"
            claim += _pci_close(values, standard, metrics) if standard in _CLAIMS else ""
        sentences.append(f"{standard}: {method} ahead of every baseline on {int(rows['ahead'].sum())} of "
                         f"{len(rows)} metrics ({details}){claim}.")
    for method, rows in points.groupby("method", sort=False):
        untested = rows.loc[~rows["tested"], "metric"].map(_label).unique().tolist()
        sentences.append(
            f"Overall {method} is ahead of every baseline on {int(rows['ahead'].sum())} of {len(rows)} standard x "
            f"metric points, significantly on {int(rows['significant'].sum())} (ahead of each baseline with "
            f"Benjamini-Hochberg q < {ALPHA:g} over the test family"
            + (f"; {', '.join(untested)} shown without a test, not counted" if untested else "") + ").")
    return sentences


def family_sentences(tests: pd.DataFrame, summary: pd.DataFrame) -> list[str]:
    """The test family as the report states it: its members, the number of tests, the smallest p, how many pass.

    Also says, where the methods were trained several times, how the between-run sd compares
    with the difference to the best baseline at the significant points.

    Examples
    --------
    >>> t = pd.DataFrame({"representation": ["A"], "against": ["B"], "standard": ["s"], "metric": ["f_beta"],
    ...                   "test": ["paired bootstrap"], "n_resamples": [1000], "p_min": [1 / 1001],
    ...                   "p_value": [0.001], "q_value": [0.001]})
    >>> s = pd.DataFrame({"representation": ["A", "B"], "role": ["method", "baseline"]})
    >>> family_sentences(t, s)[1]
    '1 tests: paired bootstrap over the proteins (1000 resamples, smallest attainable p 1/1001 = 0.000999); 1 of 1 pass (Benjamini-Hochberg q < 0.05).'
    """
    methods, baselines = _named(summary, "method"), _named(summary, "baseline")
    if tests.empty:
        return ["No test was run (a test needs a method, a baseline and bootstrap resamples)."]
    sentences = [f"The test family is what this report claims: each method ({', '.join(methods)}) against each "
                 f"baseline ({', '.join(baselines)}) per standard x metric, and each method's "
                 f"{', '.join(_label(m) for m, r in METRICS.items() if r.null_tested)} against its null; baselines "
                 "are never tested against each other and the references not at all."]
    kinds = []
    for test, rows in tests.groupby("test", sort=False):
        n = int(rows["n_resamples"].max())
        unit = {"paired bootstrap": f"over the proteins ({n} resamples",
                "sign flip": f"over AMI's module samples ({n} samples",
                "permutation": f"against the permuted-profile null ({n} draws"}.get(test, f"({n}")
        p_min = float(rows["p_min"].min())
        kinds.append(f"{test} {unit}, smallest attainable p {_fraction(p_min)} = {p_min:.3g})")
    passing = int((tests["q_value"] < ALPHA).sum())
    sentences.append(f"{len(tests)} tests: {'; '.join(kinds)}; {passing} of {len(tests)} pass "
                     f"(Benjamini-Hochberg q < {ALPHA:g}).")
    if len(tests) > 1:
        bound = ALPHA / len(tests)
        below = [test for test, rows in tests.groupby("test", sort=False) if rows["p_min"].min() < bound]
        sentences.append(f"One test alone would pass a Bonferroni bound below {ALPHA:g}/{len(tests)} = {bound:.2g}: "
                         + (f"the {' and the '.join(below)} can reach it." if below
                            else "no test of this family can reach it; Benjamini-Hochberg can pass where most are "
                                 "strong."))
    runs = _between_runs(summary, tests)
    if runs:
        sentences.append(runs)
    return sentences


def _fraction(p: float) -> str:
    return f"1/{round(1 / p)}" if p > 0 else "0"


def _between_runs(summary: pd.DataFrame, tests: pd.DataFrame) -> str:
    """How the methods' between-run sd compares with their differences to the baselines at the passing tests."""
    if "runs_sd" not in summary:
        return ""
    spread = summary.set_index(["representation", "standard", "metric"])["runs_sd"]
    passing = tests[(tests["q_value"] < ALPHA) & (tests["against"] != NULL)]
    known = [(r, abs(r.difference) > spread.get((r.representation, r.standard, r.metric), np.nan))
             for r in passing.itertuples() if np.isfinite(spread.get((r.representation, r.standard, r.metric),
                                                                      np.nan))]
    if not known:
        return ""
    larger = sum(bigger for _, bigger in known)
    return (f"Between runs (seeds at the chosen learning rate): the difference from the baseline exceeds the "
            f"method's sd over its runs in {larger} of the {len(known)} passing tests where it was trained more than "
            "once; the tests resample proteins of the best run, so the sd over runs is the variation they do not "
            "cover.")


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


def _pci_learning_sentence(pci_learning: Mapping[str, float]) -> str:
    best, mean_image = pci_learning["best_val_mse"], pci_learning["mean_image_val_mse"]
    verdict = "below" if best < mean_image else "NOT below"
    epochs = int(pci_learning["epochs"])
    return (f"PCI's best validation MSE ({best:.5f} over {epochs} epoch{'s' if epochs != 1 else ''}) is {verdict} "
            f"that of predicting the mean training image ({mean_image:.5f}; ratio {best / mean_image:.3f}).")


def _floor_sentences(values: pd.Series, present: list[str], compared: list[str], standards: list[str],
                     metrics: Sequence[str]) -> list[str]:
    sentences = []
    for reference in (r for r in REFERENCES if r.rung == "floor" and r.name in present):
        for name in ([reference.twin_of] if reference.twin_of else compared):
            if name not in present:
                continue
            misses, n = _shortfalls(values, name, reference.name, standards, metrics)
            what = ("its untrained network (random weights, same configuration)" if reference.twin_of
                    else f"the {reference.name[0].lower()}{reference.name[1:]}")
            sentences.append(f"{name} does NOT beat {what} on {len(misses)} of {n}: {'; '.join(misses)}." if misses
                             else f"{name} beats {what} on all {n} standard x metric points.")
    return sentences


def ladder_sentences(summary: pd.DataFrame, *, metrics: Sequence[str] = FIGURE1_METRICS,
                     pci_learning: Mapping[str, float] | None = None) -> list[str]:
    """Sentences placing each method and baseline on the ladder of the references, by their rung.

    Says where a learned representation does not beat its untrained network or a floor reference
    (the pixel statistics), where the localization labels alone reach a representation's pooled
    score, what share of each ceiling the methods reach, and whether PCI's validation MSE got below
    the mean-image predictor's.

    Parameters
    ----------
    summary : pandas.DataFrame
        Score summary with reference rows named as in :data:`deeploc_keras.study.references.REFERENCES`.
    metrics : sequence of str, default :data:`eval.catalog.FIGURE1_METRICS`
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
    reference_names = {r.name for r in REFERENCES}
    compared = [n for n in present if n not in reference_names and roles(summary).get(n) != "reference"]
    sentences = [_pci_learning_sentence(pci_learning)] if pci_learning else []
    sentences += _floor_sentences(values, present, compared, standards, metrics)
    first = metrics[0]
    for reference in (r for r in REFERENCES if r.rung == "labels" and r.name in present):
        for name in compared:
            reached = [f"{s} ({values[(reference.name, s, first)]:.3f} vs {values[(name, s, first)]:.3f})"
                       for s in standards if (name, s, first) in values.index
                       and (reference.name, s, first) in values.index
                       and values[(reference.name, s, first)] >= values[(name, s, first)]]
            if reached:
                sentences.append(f"The {reference.name[0].lower()}{reference.name[1:]} alone reach {name}'s "
                                 f"{_label(first)} on {', '.join(reached)}: there the pooled score is what knowing "
                                 f"localization gives; the within-compartment scores ask what {name} adds beyond it.")
    for reference in (r for r in REFERENCES if r.rung == "ceiling" and r.name in present):
        for name in _named(summary, "method"):
            gaps = [f"{s} {values[(name, s, first)]:.3f} of {values[(reference.name, s, first)]:.3f}"
                    for s in standards if (name, s, first) in values.index
                    and (reference.name, s, first) in values.index]
            if gaps:
                sentences.append(f"Ceiling ({reference.name}: {reference.description}): {name}'s {_label(first)} is "
                                 f"{'; '.join(gaps)}.")
    return sentences


def within_sentences(summary: pd.DataFrame, tests: pd.DataFrame | None = None) -> list[str]:
    """Within compartments: per standard, each method with its interval, its measured chance and its tests.

    Examples
    --------
    >>> s = pd.DataFrame({"representation": ["DeepLoc"], "role": ["method"], "standard": ["complex"],
    ...                   "metric": ["average_precision_within"], "value": [0.4], "ci_low": [0.3], "ci_high": [0.5],
    ...                   "chance": [0.25], "chance_low": [0.2], "chance_high": [0.3]})
    >>> within_sentences(s)[0]
    'AP within compartment, complex: DeepLoc 0.400 [0.300, 0.500] (chance 0.250 [0.200, 0.300]).'
    """
    sentences = []
    baselines = _named(summary, "baseline")
    for metric in (m for m, r in METRICS.items() if r.within and m in set(summary["metric"])):
        rows = summary[summary["metric"] == metric]
        for standard, at in rows.groupby("standard", sort=False):
            parts = []
            for r in at[at["representation"].isin(_named(summary, "method"))].itertuples():
                text = f"{r.representation} {r.value:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}] (chance {r.chance:.3f} " \
                       f"[{r.chance_low:.3f}, {r.chance_high:.3f}])"
                tested, q = _point_tests(tests, r.representation, standard, metric,
                                         [b for b in baselines if b in set(at["representation"])])
                if tested:
                    text += f", ahead of every baseline: q = {q:.3g}" if q < ALPHA else f", largest q = {q:.3g}"
                parts.append(text)
            if parts:
                sentences.append(f"{_label(metric)}, {standard}: {'; '.join(parts)}.")
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


def _chance_text(rows: pd.DataFrame) -> str:
    """A point's measured chance: the mean of the representations' null means and the null's 95 % range."""
    chance = rows["chance"] if "chance" in rows else pd.Series(dtype=float)
    if not chance.notna().any():
        return "not measured"
    return f"{chance.mean():.3f} [{rows['chance_low'].min():.3f}, {rows['chance_high'].max():.3f}]"


def scores_with_intervals(summary: pd.DataFrame, metrics: Sequence[str],
                          references: Sequence[str] | None = None) -> pd.DataFrame:
    """Representation x (standard, metric) cells as ``value [low, high]`` (or ``value ± sd``), a chance row last.

    The chance row is measured: the mean over the representations of the metric's null mean
    (:attr:`eval.catalog.Metric.null`), with the null's 95 % range over them.

    Parameters
    ----------
    summary : pandas.DataFrame
        ``summary.csv`` of a score or reproduce run.
    metrics : sequence of str
    references : sequence of str, optional
        Representations marked ``reference`` in the ``kind`` column (default: the summary's
        reference role).

    Returns
    -------
    pandas.DataFrame
        Columns representation, kind, then one text column per standard x metric; with several runs a cell
        ends with ``; n runs: mean ± sd``.

    Examples
    --------
    >>> s = pd.DataFrame({"representation": ["A"], "standard": ["c"], "metric": ["average_precision"],
    ...                   "value": [0.5], "ci_low": [0.4], "ci_high": [0.6], "chance": [0.1], "chance_low": [0.08],
    ...                   "chance_high": [0.13]})
    >>> scores_with_intervals(s, ["average_precision"]).iloc[:, 2].tolist()
    ['0.500 [0.400, 0.600]', '0.100 [0.080, 0.130]']
    """
    references = _named(summary, "reference") if references is None else list(references)
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
    for (standard, metric), column in cells.items():
        column["chance"] = _chance_text(subset[(subset["standard"] == standard) & (subset["metric"] == metric)])
    names = list(dict.fromkeys(subset["representation"]))
    kinds = {name: "reference" if name in references else "compared" for name in names}
    frame = pd.DataFrame({"representation": [*names, "chance"], "kind": [*kinds.values(), "chance"]})
    for standard in dict.fromkeys(subset["standard"]):
        for metric in metrics:
            if (standard, metric) in cells:
                column = cells[(standard, metric)]
                frame[f"{standard} {_label(metric)}"] = [column.get(name, "") for name in frame["representation"]]
    return frame


def null_definitions(metrics: Sequence[str]) -> list[str]:
    """What each metric's chance is, as stated beside the tables.

    Examples
    --------
    >>> null_definitions(["ami"])[0].startswith("AMI: permuted profiles within each module sample")
    True
    """
    return [f"{_label(m)}: {METRICS[m].null_definition}" for m in metrics if m in METRICS]


def channel_sentences(channels: pd.DataFrame) -> list[str]:
    """Which function channel each method and baseline captured, decided by its tests against the measured null.

    ``channels`` holds, per representation and channel standard of a simulated screen
    (:data:`deeploc_keras.data.synthetic.channels.CHANNEL_STANDARDS`), the within-compartment AP
    (``value``), its within-class null's mean (``chance``) and the permutation p (``p_null``). A
    representation captured a channel when that test passes Benjamini-Hochberg q < :data:`eval.score.ALPHA`
    over the tests of the methods and baselines on both channels.

    Examples
    --------
    >>> c = pd.DataFrame({"representation": ["M", "M"], "role": ["method", "method"],
    ...                   "channel": ["label_aligned", "label_orthogonal"], "value": [0.5, 0.3],
    ...                   "chance": [0.3, 0.3], "p_null": [0.001, 0.4]})
    >>> channel_sentences(c)[0]
    'M captured the label-aligned channel (AP within compartment 0.500, chance 0.300, p = 0.001, q = 0.002) but not the label-orthogonal channel (0.300, chance 0.300, p = 0.4, q = 0.4).'
    """
    from eval.significance import benjamini_hochberg

    tested = channels[channels["role"].isin(("method", "baseline"))].copy()
    if tested.empty:
        return []
    tested["q"] = benjamini_hochberg(tested["p_null"].to_numpy(dtype=float))
    sentences = []
    for name, rows in tested.groupby("representation", sort=False):
        texts = {r.channel: (f"{r.value:.3f}, chance {r.chance:.3f}, p = {r.p_null:.3g}, q = {r.q:.3g}", r.q < ALPHA)
                 for r in rows.itertuples()}
        words = {c: c.replace("_", "-") for c in texts}
        got = [c for c, (_, passed) in texts.items() if passed]
        missed = [c for c in texts if c not in got]
        first = "AP within compartment "
        if got and missed:
            sentences.append(f"{name} captured the {words[got[0]]} channel ({first}{texts[got[0]][0]}) but not the "
                             f"{words[missed[0]]} channel ({texts[missed[0]][0]}).")
        else:
            parts = " and ".join(f"{words[c]} ({first if k == 0 else ''}{texts[c][0]})" for k, c in enumerate(texts))
            verdict = ("captured both function channels" if len(texts) > 1 else "captured its channel") if got \
                else "captured neither function channel"
            sentences.append(f"{name} {verdict}: {parts}.")
    return sentences
