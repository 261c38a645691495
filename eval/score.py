"""Score protein representations against functional standards: tables, tests, logging, outputs.

:func:`score_representation` scores one feature matrix (also used by training's
``--monitor``); :func:`score` scores several profile files at once and writes
``summary.csv``, ``tests.csv``, ``coverage.csv``, ``groups.csv`` and Figure 1 into a score
directory. Every metric comes from its record in :mod:`eval.catalog`, computed on an
:class:`eval.evaluation.Evaluation` of the representation on each standard.

The test family of :func:`score` is what a comparison of methods with baselines claims:
each method (a representation that is neither a baseline nor a reference) against each
baseline, per standard x tested metric, plus each method's AMI against its null; baselines
are never tested against each other. q-values are Benjamini-Hochberg over that family.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deeploc_keras.core.console import progress
from deeploc_keras.core.errors import InputError, file_error
from deeploc_keras.core.outputs import atomic_path, check_output
from deeploc_keras.core.ownership import check_replaceable
from deeploc_keras.core.processing import NORMALIZE_CHOICES, check_normalize, normalize_features
from deeploc_keras.core.profiles import profile_name, read_profiles
from eval import catalog as _catalog
from eval import metrics as _metrics
from eval import nulls as _nulls
from eval import plots as _plots
from eval import retrieval as _retrieval
from eval import significance as _significance
from eval import standards as _standards
from eval.evaluation import Evaluation

__all__ = ["METRICS", "NORMALIZE_CHOICES", "ROLES", "ALPHA", "NULL", "SUMMARY_COLUMNS", "COMPARISON_COLUMNS", "TEST_COLUMNS",
           "COVERAGE_COLUMNS", "GROUPS_COLUMNS", "RETRIEVAL_METRIC", "LOCALIZATION_FROM_METADATA",
           "score_representation", "score", "console_table"]

logger = logging.getLogger(__name__)

#: metric names (closed vocabulary: :data:`eval.catalog.METRIC_NAMES`, shared with the CLI)
METRICS = _catalog.METRIC_NAMES
#: roles of a representation in the test family: tested against the baselines, a baseline, or a reference
ROLES = ("method", "baseline", "reference")
#: false-discovery level of a passing test (Benjamini-Hochberg q-values over the family)
ALPHA = 0.05
#: columns of :func:`score_representation`'s table
SUMMARY_COLUMNS = ("standard", "metric", "value", "sd", "ci_low", "ci_high", "chance", "chance_low", "chance_high",
                   "p_null", "n_proteins", "n_groups", "prevalence")
#: columns :func:`score` adds: the representation's role and, for a method, its test against the best baseline
COMPARISON_COLUMNS = ("role", "compared_to", "p_value", "q_value")
#: columns of ``tests.csv``: every test of the family
TEST_COLUMNS = ("representation", "against", "standard", "metric", "test", "difference", "n_resamples", "p_min",
                "p_value", "q_value")
#: columns of ``coverage.csv``
COVERAGE_COLUMNS = ("representation", "standard", *_standards.Coverage.__dataclass_fields__)
#: columns of ``groups.csv``: per-group retrieval (:func:`eval.retrieval.group_retrieval`)
GROUPS_COLUMNS = ("representation", "standard", "group", "n_members", "mAP", "p_value", "q_value")
#: the summary row of per-group retrieval: the share of groups with q < :data:`eval.retrieval.ALPHA`
RETRIEVAL_METRIC = "fraction_retrieved"
#: ``localization`` value that reads each profile file's ``Metadata_Label`` column
LOCALIZATION_FROM_METADATA = "metadata"
#: ``against`` of a test of a method's metric against its null (the measured chance; "null" would read as NaN)
NULL = "chance"

_PROTEIN_COLUMN = "Metadata_Protein"
_LABEL_COLUMN = "Metadata_Label"
#: the tests: a paired bootstrap over the proteins, a sign flip over AMI's module samples, a permutation null
_BOOTSTRAP, _SIGN_FLIP, _PERMUTATION = "paired bootstrap", "sign flip", "permutation"


def _check_metrics(metrics: Sequence[str] | None, *, localization: bool) -> tuple[str, ...]:
    """The requested metrics (default: all, the within ones only with localization labels)."""
    if metrics is None:
        return tuple(m for m in METRICS if localization or not _catalog.METRICS[m].within)
    metrics = tuple(metrics)
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise InputError(f"unknown metric {unknown[0] if unknown else '(none)'}; expected some of {', '.join(METRICS)}")
    within = [m for m in metrics if _catalog.METRICS[m].within]
    if within and not localization:
        raise InputError(f"metric {within[0]} scores each localization class; pass --localization "
                         f"FILE or --localization {LOCALIZATION_FROM_METADATA}")
    return metrics


def _check_profiles(proteins: Sequence[str], features: np.ndarray, *, source: str) -> tuple[list[str], np.ndarray]:
    """Refuse mismatched lengths, duplicate proteins, NaN/infinite and constant rows (ids listed)."""
    proteins = [str(p) for p in proteins]
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[0] != len(proteins) or features.shape[1] == 0:
        raise InputError(f"{source}: features must be (proteins, dims) with {len(proteins)} rows. "
                         f"Received: features.shape={features.shape}")
    counts = pd.Series(proteins).value_counts()
    duplicated = counts[counts > 1]
    if len(duplicated):
        raise InputError(f"{source}: {len(duplicated)} proteins have several rows (e.g. {', '.join(duplicated.index[:5])});"
                         " aggregate cells to one row per protein first")

    def listed(mask: np.ndarray) -> str:
        ids = [proteins[i] for i in np.flatnonzero(mask)]
        return ", ".join(ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")

    bad = ~np.isfinite(features).all(axis=1)
    if bad.any():
        raise InputError(f"{source}: {bad.sum()} profiles contain NaN or infinite values: {listed(bad)}")
    # squared distances between two rows must stay finite in float64: |x| <= sqrt(max / dims) / 2
    limit = float(np.sqrt(np.finfo(np.float64).max / features.shape[1]) / 2)
    huge = (np.abs(features) > limit).any(axis=1)
    if huge.any():
        raise InputError(f"{source}: {huge.sum()} profiles have values beyond +-{limit:.3g}, where distances between "
                         f"profiles overflow: {listed(huge)}; rescale the features")
    constant = np.ptp(features, axis=1) == 0
    if constant.any():
        raise InputError(f"{source}: {constant.sum()} profiles are constant (correlation undefined): {listed(constant)}")
    return proteins, features


def _strata(localization: Mapping[str, set[str]], proteins: list[str], aliases: Mapping[str, str] | None,
            source: str) -> np.ndarray:
    """proteins x classes: the localization classes of each protein (a protein may have several or none)."""
    try:
        kept, cov = _standards.restrict(localization, proteins, aliases=aliases, min_group_size=1)
    except InputError as exc:
        raise InputError(f"localization labels: {exc}") from None
    logger.info("%s: localization labels for %d of %d proteins (%d classes)", source, cov.n_proteins_kept,
                len(proteins), len(kept))
    return _metrics.membership_matrix(kept, proteins)[0]


@dataclass
class _Scored:
    """What scoring one representation gives: table rows, coverage rows, the values its tests pair, group rows."""

    rows: list[dict] = field(default_factory=list)
    coverage: list[dict] = field(default_factory=list)
    paired: dict[tuple[str, str], tuple[frozenset, str, np.ndarray]] = field(default_factory=dict)
    null_tests: dict[tuple[str, str], tuple[float, int]] = field(default_factory=dict)
    groups: list[dict] = field(default_factory=list)

    @property
    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=list(SUMMARY_COLUMNS))


def _usable(name: str, standard: Mapping[str, set[str]], proteins: list[str],
            aliases: Mapping[str, str] | None) -> tuple[np.ndarray, list[str], _standards.Coverage]:
    """The membership matrix and group names of the standard restricted to the proteins, and its coverage; refused
    when it leaves fewer than 2 groups of 2 proteins or nothing to rank (every pair of its proteins positive)."""
    try:
        kept, cov = _standards.restrict(standard, proteins, aliases=aliases)
    except InputError as exc:
        raise InputError(f"standard {name!r}: {exc}") from None
    _standards.require_groups(name, kept, cov)
    membership, group_names = _metrics.membership_matrix(kept, proteins)
    inside = membership[membership.any(axis=1)]
    if _metrics.prevalence(inside) == 1.0:
        raise InputError(f"standard {name!r}: every pair of its {len(inside)} profiled proteins shares a group "
                         "(prevalence 1.0), so there is nothing to rank: every score would be 1.0; it needs proteins "
                         "that share no group")
    return membership, group_names, cov


def _metric_row(record: _catalog.Metric, evaluation: Evaluation) -> tuple[dict, tuple[str, np.ndarray] | None]:
    """One table row of a metric (value, sd, interval, measured chance) and the values its paired test uses."""
    result = record.compute(evaluation)
    sampled = isinstance(result, _metrics.SampledScore)
    value, sd = (result.mean, result.sd) if sampled else (float(result), np.nan)
    row = {"metric": record.name, "value": value, "sd": sd,
           **dict.fromkeys(("ci_low", "ci_high", "chance", "chance_low", "chance_high", "p_null"), np.nan)}
    paired = (_SIGN_FLIP, result.values) if sampled and record.tested else None
    if record.resampled is not None and evaluation.n_bootstrap:
        values = record.resampled(evaluation)
        if np.isfinite(values).any():
            row["ci_low"], row["ci_high"] = _significance.percentile_interval(values)
        paired = (_BOOTSTRAP, values) if record.tested else None
    if record.null is not None and evaluation.n_null:
        row.update(_nulls.permutation_summary(value, record.null(evaluation)))
    return row, paired


def _score_standard(scored: _Scored, name: str, membership: np.ndarray, group_names: list[str], proteins: list[str],
                    features: np.ndarray, strata: np.ndarray | None, metrics: Sequence[str], options: dict,
                    source: str) -> None:
    """Score one usable standard into ``scored``."""
    universe = membership.any(axis=1)
    x, member = features[universe], membership[universe]
    ids = [proteins[i] for i in np.flatnonzero(universe)]
    evaluation = Evaluation(x, member, ids=ids, strata=None if strata is None else strata[universe],
                            seed=options["seed"], n_jobs=options["n_jobs"], n_bootstrap=options["n_bootstrap"],
                            n_null=options["n_null"])
    base = {"standard": name, "n_proteins": int(universe.sum()), "n_groups": member.shape[1],
            "prevalence": _metrics.prevalence(member)}
    logger.info("%s / %s: %d proteins, %d groups, prevalence %.4f", source, name, base["n_proteins"],
                base["n_groups"], base["prevalence"])
    within_standards = options.get("within_standards")
    for metric in metrics:
        record = _catalog.METRICS[metric]
        if record.within and within_standards is not None and name not in within_standards:
            continue
        start = time.perf_counter()
        row, paired = _metric_row(record, evaluation)
        if record.within:
            row["prevalence"] = _metrics.prevalence(member, strata=evaluation.strata)
        scored.rows.append({**base, **row})
        if paired is not None:
            scored.paired[(name, metric)] = (frozenset(ids), *paired)
        if record.null_tested and options["n_null"]:
            scored.null_tests[(name, metric)] = (row["p_null"], options["n_null"])
        logger.info("%s / %s / %s = %.4f (chance %.4f; %.1f s)", source, name, metric, row["value"], row["chance"],
                    time.perf_counter() - start)
    if options["n_permutations"]:
        retrieved = _retrieval.group_retrieval(x, member, n_permutations=options["n_permutations"],
                                               seed=options["seed"], ranking=evaluation.ranking)
        scored.groups.extend({"standard": name, "group": group, "n_members": int(n), "mAP": value, "p_value": p,
                              "q_value": q} for group, n, value, p, q in zip(
            group_names, retrieved.n_members, retrieved.mean_average_precision, retrieved.p_value, retrieved.q_value,
            strict=True))
        scored.rows.append({**base, "metric": RETRIEVAL_METRIC, "value": _retrieval.fraction_retrieved(
            retrieved.q_value), **dict.fromkeys(("sd", "ci_low", "ci_high", "chance", "chance_low", "chance_high",
                                                 "p_null"), np.nan)})


def _score(
    proteins: Sequence[str],
    features: np.ndarray,
    standards: Mapping[str, Mapping[str, set[str]]],
    *,
    metrics: Sequence[str] | None,
    localization: Mapping[str, set[str]] | None,
    aliases: Mapping[str, str] | None,
    source: str,
    normalize: str = "none",
    **options: Any,
) -> _Scored:
    """Score one representation on every usable standard; an unusable one is skipped with a warning."""
    metrics = _check_metrics(metrics, localization=localization is not None)
    proteins, features = _check_profiles(proteins, features, source=source)
    if normalize != "none":
        features, kept = normalize_features(features, normalize)
        logger.info("%s: normalize=%s across %d proteins (%d of %d features with zero scale dropped)", source,
                    normalize, len(proteins), int((~kept).sum()), kept.size)
        proteins, features = _check_profiles(proteins, features, source=f"{source} after normalize={normalize}")
    strata = None if localization is None else _strata(localization, proteins, aliases, source)
    scored, skipped = _Scored(), []
    for name, standard in standards.items():
        try:
            membership, group_names, cov = _usable(name, standard, proteins, aliases)
        except InputError as exc:
            skipped.append(str(exc))
            logger.warning("%s: skipped %s", source, exc)
            continue
        scored.coverage.append({"standard": name, **cov.as_dict()})
        _score_standard(scored, name, membership, group_names, proteins, features, strata, metrics, options, source)
    if not scored.coverage:
        raise InputError(f"{source}: no standard can be scored: {'; '.join(skipped)}")
    return scored


def score_representation(
    proteins: Sequence[str],
    features: np.ndarray,
    standards: Mapping[str, Mapping[str, set[str]]],
    *,
    metrics: Sequence[str] | None = None,
    seed: int = 0,
    n_jobs: int = 1,
    n_bootstrap: int = 0,
    n_null: int = 0,
    n_permutations: int = 0,
    localization: Mapping[str, set[str]] | None = None,
    within_standards: Sequence[str] | None = None,
    aliases: Mapping[str, str] | None = None,
    normalize: str = "none",
) -> pd.DataFrame:
    """Score one representation against each standard.

    A standard that cannot be scored on these proteins (no id in common, fewer than 2 groups
    of 2 proteins, or every pair of its proteins positive: nothing to rank) is skipped with a
    warning naming it and why; the others are scored.

    Parameters
    ----------
    proteins : sequence of str
        One id per row of ``features`` (unique).
    features : array_like, shape (n_proteins, d)
        Protein profiles; NaN, infinite or constant rows are refused.
    standards : mapping of str to Standard
        Name -> group -> protein ids (e.g. from :func:`eval.standards.load_standards`).
    metrics : sequence of str, optional
        Subset of :data:`METRICS` (default all; the within metrics only with ``localization``).
    seed : int, default 0
        Seed of the AMI samples, bootstrap resamples and null draws.
    n_jobs : int, default 1
        Processes for the AMI samples (-1: all cores); the table does not depend on it.
    n_bootstrap : int, default 0
        Bootstrap resamples of the proteins (seeded by ``seed``, keyed by protein id) for the 95 %
        percentile intervals ``ci_low``/``ci_high`` of the metrics that have them
        (:attr:`eval.catalog.Metric.resampled`); 0 leaves them NaN.
    n_null : int, default 0
        Draws of each metric's null (:attr:`eval.catalog.Metric.null`): ``chance`` is their mean,
        ``chance_low``/``chance_high`` their central 95 %, ``p_null`` the permutation p-value of the
        value against them (smallest ``1 / (n_null + 1)``); 0 leaves them NaN.
    n_permutations : int, default 0
        Size of the permutation null of per-group retrieval (:func:`eval.retrieval.group_retrieval`);
        adds a :data:`RETRIEVAL_METRIC` row per standard (0: none; training's monitor leaves it off).
    localization : mapping of str to set of str, optional
        Localization class -> protein ids (a standard; a protein may have several classes).
        Enables the within metrics, which score each class's proteins on their own.
    within_standards : sequence of str, optional
        The standards the within metrics score (default every standard).
    aliases : mapping of str to str, optional
        Upper-case gene name -> ORF (:func:`eval.standards.read_aliases`).
    normalize : {"none", "standardize", "robust"}, default "none"
        Per-feature normalization across the proteins before scoring
        (:func:`deeploc_keras.core.processing.normalize_features`; features with zero scale are dropped).
        ``"none"`` scores the profiles as they are (the study's raw comparison).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SUMMARY_COLUMNS`, one row per usable standard x metric (and
        :data:`RETRIEVAL_METRIC` with ``n_permutations``). ``sd`` is the standard deviation over
        AMI samples (NaN otherwise); ``n_proteins`` and ``n_groups`` describe the restricted
        standard; ``prevalence`` is its positive-pair fraction (of a within row: the mean over
        the classes of their own).

    Raises
    ------
    InputError
        Duplicate proteins, NaN or constant profiles (ids listed), an unknown metric (or a
        within metric without ``localization``), localization labels with no id in common, or
        no standard that can be scored (the reason for each).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1, 2, 3], [1, 2, 4], [3, 2, 1], [4, 2, 1.]])
    >>> table = score_representation(["A", "B", "C", "D"], x, {"toy": {"g1": {"A", "B"}, "g2": {"C", "D"}}},
    ...                              metrics=["average_precision"])
    >>> table[["standard", "metric", "value", "n_proteins"]].values.tolist()
    [['toy', 'average_precision', 1.0, 4]]
    """
    return _score(proteins, features, standards, metrics=metrics, seed=seed, n_jobs=n_jobs, n_bootstrap=n_bootstrap,
                  n_null=n_null, n_permutations=n_permutations, localization=localization,
                  within_standards=within_standards, aliases=aliases, source="representation",
                  normalize=check_normalize(normalize)).table


def _family(summary: pd.DataFrame, scored: Mapping[str, _Scored], roles: Mapping[str, str]) -> pd.DataFrame:
    """Every test of the family (:data:`TEST_COLUMNS`): method x baseline x standard x tested metric, paired
    on the same resamples (or AMI samples), and each method's null tests; q-values over them all."""
    indexed = summary.set_index(["representation", "standard", "metric"])
    values, chance = indexed["value"], indexed["chance"]
    methods = [r for r, role in roles.items() if role == "method"]
    baselines = [r for r, role in roles.items() if role == "baseline"]
    rows = []
    for method in methods:
        for key, (ids, test, own) in scored[method].paired.items():
            for baseline in baselines:
                other = scored[baseline].paired.get(key)
                if other is None:
                    continue
                if other[0] != ids:
                    logger.warning("%s / %s: %s and %s cover different proteins; not compared", *key, method,
                                   baseline)
                    continue
                if test == _SIGN_FLIP:
                    p, n = _significance.sign_flip_p_value(own, other[2]), len(own)
                    p_min = 2.0 ** -n
                else:
                    n = int(np.isfinite(own - other[2]).sum())
                    p, p_min = _significance.paired_p_value(own, other[2]), 1 / (n + 1)
                rows.append({"representation": method, "against": baseline, "standard": key[0], "metric": key[1],
                             "test": test, "difference": values[(method, *key)] - values[(baseline, *key)],
                             "n_resamples": n, "p_min": p_min, "p_value": p})
        for (standard, metric), (p, n) in scored[method].null_tests.items():
            rows.append({"representation": method, "against": NULL, "standard": standard, "metric": metric,
                         "test": _PERMUTATION, "difference": values[(method, standard, metric)]
                         - chance[(method, standard, metric)], "n_resamples": n, "p_min": 1 / (n + 1), "p_value": p})
    tests = pd.DataFrame(rows, columns=list(TEST_COLUMNS))
    tests["q_value"] = _significance.benjamini_hochberg(tests["p_value"].to_numpy(dtype=np.float64))
    return tests


def _compare(summary: pd.DataFrame, tests: pd.DataFrame, roles: Mapping[str, str]) -> pd.DataFrame:
    """Add :data:`COMPARISON_COLUMNS`: the role, and a method's test against the best baseline at each point."""
    summary = summary.assign(role=summary["representation"].map(roles), compared_to=None, p_value=np.nan,
                             q_value=np.nan)
    baselines = [r for r, role in roles.items() if role == "baseline"]
    paired = tests[tests["against"] != NULL].set_index(["representation", "against", "standard", "metric"])
    for (standard, metric), rows in summary.groupby(["standard", "metric"], sort=False):
        candidates = rows[rows["representation"].isin(baselines) & rows["value"].notna()]
        if candidates.empty:
            continue
        best = candidates.loc[candidates["value"].idxmax(), "representation"]
        for index, representation in rows["representation"].items():
            key = (representation, best, standard, metric)
            if roles[representation] == "method" and key in paired.index:
                summary.loc[index, ["compared_to", "p_value", "q_value"]] = [best, *paired.loc[key, ["p_value",
                                                                                                      "q_value"]]]
    return summary


def _metadata_classes(path: str | os.PathLike, meta: pd.DataFrame) -> dict[str, set[str]]:
    """Class -> proteins from a profile file's ``Metadata_Label`` (empty or missing labels: no class)."""
    if _LABEL_COLUMN not in meta:
        raise file_error(path, f"no {_LABEL_COLUMN} column for --localization {LOCALIZATION_FROM_METADATA}; "
                               "pass a localization standard file instead")
    classes: dict[str, set[str]] = {}
    for protein, label in zip(meta[_PROTEIN_COLUMN].astype(str), meta[_LABEL_COLUMN], strict=True):
        if isinstance(label, str) and label.strip():
            classes.setdefault(label, set()).add(protein)
    return classes


def _load_aliases(aliases: str | os.PathLike | Mapping[str, str] | None) -> Mapping[str, str] | None:
    if aliases is None or isinstance(aliases, Mapping):
        return aliases
    return _standards.read_aliases(aliases)


def _read_tables(profiles: Sequence, *, id_column: str, localization: Any, from_metadata: bool) -> list[tuple]:
    """(source, name, proteins, features, localization classes) of each profile input."""
    tables = []
    for i, path in enumerate(profiles, start=1):
        table = read_profiles(path, metadata_columns=[id_column])
        source = f"profiles{i}" if isinstance(path, pd.DataFrame) else os.fspath(path)
        ids = table.meta.get(id_column)
        if ids is None:
            raise InputError(f"{source}: no {id_column} column; scoring needs one row per protein "
                             "(name the id column with --id-column; metadata columns start with 'Metadata_')")
        proteins, features = _check_profiles(ids.astype(str).tolist(), table.features, source=source)
        recorded = table.info.get("method")
        classes = _metadata_classes(source, table.meta) if from_metadata else localization
        tables.append((source, recorded or (source if isinstance(path, pd.DataFrame) else profile_name(path)),
                       proteins, features, classes))
    return tables


def _inputs(profiles: Sequence, standards: Any, names: Sequence[str | None] | None, *, id_column: str,
            localization: Any, aliases: Any) -> tuple[Mapping, Mapping[str, str] | None, list[tuple], list[str]]:
    """The loaded standards, aliases and profile tables of :func:`score`, and each table's display name."""
    if not profiles:
        raise InputError("no profile files given")
    if names and len(names) != len(profiles):
        raise InputError(f"give one --name per profile file. Received: {len(names)} names for {len(profiles)} files")
    loaded = standards if isinstance(standards, Mapping) else _standards.load_standards(standards)
    alias_map = _load_aliases(aliases)
    from_metadata = isinstance(localization, str) and localization == LOCALIZATION_FROM_METADATA
    if localization is not None and not from_metadata and not isinstance(localization, Mapping):
        localization = _standards.load_standard(localization)
    tables = _read_tables(profiles, id_column=id_column, localization=localization, from_metadata=from_metadata)
    labels = [given or method for given, (_, method, _, _, _) in zip(names or [None] * len(tables), tables,
                                                                       strict=True)]
    return loaded, alias_map, tables, labels


def _roles(labels: list[str], compare_to: Sequence[str] | None, references: Sequence[str], *,
           n_bootstrap: int) -> dict[str, str]:
    """Each representation's role (:data:`ROLES`); refuse repeated names, unknown references and unknown or
    unresampled baselines."""
    if len(set(labels)) != len(labels):
        raise InputError(f"representation names must be unique. Received: {labels}; pass one --name per profile file")
    unknown = [r for r in references if r not in labels]
    if unknown:
        raise InputError(f"reference {unknown[0]!r} is not a representation; expected some of {', '.join(labels)}")
    baselines = list(compare_to or [])
    missing = [b for b in baselines if b not in labels]
    if missing:
        raise InputError(f"--compare-to {missing[0]} is not a representation; expected one of {', '.join(labels)}")
    if baselines and not n_bootstrap:
        raise InputError("--compare-to needs bootstrap resamples; pass --bootstrap N (e.g. 1000)")
    return {label: "baseline" if label in baselines else "reference" if label in references else "method"
            for label in labels}


def score(
    profiles: Sequence[str | os.PathLike | pd.DataFrame],
    standards: Sequence[str | os.PathLike] | Mapping[str, Mapping[str, set[str]]],
    out: str | os.PathLike,
    *,
    names: Sequence[str | None] | None = None,
    references: Sequence[str] = (),
    id_column: str = _PROTEIN_COLUMN,
    metrics: Sequence[str] | None = None,
    seed: int = 0,
    n_jobs: int = -1,
    n_bootstrap: int = 1000,
    n_null: int = 100,
    n_permutations: int = 1000,
    compare_to: Sequence[str] | None = None,
    localization: str | os.PathLike | Mapping[str, set[str]] | None = None,
    within_standards: Sequence[str] | None = None,
    aliases: str | os.PathLike | Mapping[str, str] | None = None,
    normalize: str = "none",
    overwrite: bool = False,
) -> pd.DataFrame:
    """Score several representations, test the methods against the baselines, and write a score directory.

    Writes ``summary.csv`` (representation, :data:`SUMMARY_COLUMNS`, normalize, :data:`COMPARISON_COLUMNS`),
    ``tests.csv`` (the family, :data:`TEST_COLUMNS`), ``coverage.csv``, ``groups.csv`` (per-group retrieval,
    with ``n_permutations``) and Figure 1 (``figure1_summary.png``/``.svg``/``.csv``, when one of its metrics
    is computed). The directory appears only when complete.

    The representations named in ``compare_to`` are the baselines, those in ``references`` (and
    not in ``compare_to``) the references, every other one a method. The family of tests: each
    method against each baseline per standard x tested metric (:attr:`eval.catalog.Metric.tested`;
    paired bootstrap over the proteins, one-sided, smallest p ``1 / (n_bootstrap + 1)``; AMI: sign
    flip over its module samples, smallest p ``1 / 2**10``), and each method's
    :attr:`eval.catalog.Metric.null_tested` metrics against their null (smallest p
    ``1 / (n_null + 1)``). Baselines are not tested against each other, references not at all.

    Parameters
    ----------
    profiles : sequence of path or pandas.DataFrame
        Per-protein profiles: Parquet or CSV files, or DataFrames (see
        :func:`deeploc_keras.core.profiles.read_profiles`), with an ``id_column``.
    standards : sequence of path, or mapping of name to Standard
        Files or directories (see :func:`eval.standards.load_standards`), or loaded standards. A
        standard that cannot be scored for a representation is skipped with a warning.
    out : path
        Score directory to create.
    names : sequence of str or None, optional
        One display name per profile (default, or None: the method recorded in a Parquet file of this
        package, else the file's name -- its folder for ``proteins.parquet`` -- or ``profiles<i>``).
    references : sequence of str, default ()
        Names of the reference representations (the ladder of :mod:`deeploc_keras.study.references`):
        drawn in Figure 1 as references (grey, hatched, after the others), not tested unless
        named in ``compare_to`` too (then they are baselines).
    id_column : str, default "Metadata_Protein"
        Column of the protein ids (ORFs or gene names with ``aliases``).
    metrics : sequence of str, optional
        Subset of :data:`METRICS` (default all; the within metrics with ``localization``).
    seed : int, default 0
    n_jobs : int, default -1
        Processes for the AMI samples (all cores); the table does not depend on it.
    n_bootstrap : int, default 1000
        Bootstrap resamples of the proteins (the same for the same proteins): intervals and paired tests.
    n_null : int, default 100
        Draws of each metric's null: the measured ``chance`` (:func:`score_representation`).
    n_permutations : int, default 1000
        Size of the permutation null of per-group retrieval: ``groups.csv`` and a
        :data:`RETRIEVAL_METRIC` row per representation x standard (0: neither).
    compare_to : sequence of str, optional
        The baselines. Needs ``n_bootstrap``.
    localization : path, "metadata" or mapping, optional
        Classes for the within metrics: a standard file (class -> proteins), :data:`LOCALIZATION_FROM_METADATA`
        (each file's ``Metadata_Label``; empty: no class) or a loaded standard (:func:`score_representation`).
    within_standards : sequence of str, optional
        The standards the within metrics score (default every standard).
    aliases : path or mapping, optional
        ``SGD_features.tab`` or a mapping from :func:`eval.standards.read_aliases`.
    normalize : {"none", "standardize", "robust"}, default "none"
        One per-feature normalization across proteins applied to every representation before
        scoring (see :func:`score_representation`); recorded in the ``normalize`` column.
    overwrite : bool, default False

    Returns
    -------
    pandas.DataFrame
        The summary table (``tests.csv`` holds the tests).

    Raises
    ------
    InputError
        Bad profiles (:func:`score_representation`), a representation with no standard that can be
        scored, names that do not match the profiles or repeat, a ``compare_to`` or reference that
        is no representation (or ``compare_to`` without ``n_bootstrap``), or
        ``localization="metadata"`` with a profile file that has no ``Metadata_Label``.
    OutputExistsError
        If ``out`` exists and ``overwrite`` is False.
    """
    out, inputs = _checked_out(out, overwrite, profiles, standards, aliases, localization)
    metrics = _check_metrics(metrics, localization=localization is not None)
    normalize = check_normalize(normalize)
    loaded, alias_map, tables, labels = _inputs(profiles, standards, names, id_column=id_column,
                                                localization=localization, aliases=aliases)
    roles = _roles(labels, compare_to, list(references), n_bootstrap=n_bootstrap)
    scored: dict[str, _Scored] = {}
    for label, (path, _, proteins, features, classes) in progress(zip(labels, tables, strict=True), total=len(labels),
                                                                   desc="score", unit="representation"):
        logger.info("scoring %s (%s): %d proteins x %d features", label, path, *features.shape)
        scored[label] = _score(proteins, features, loaded, metrics=metrics, seed=seed, n_jobs=n_jobs,
                               n_bootstrap=n_bootstrap, n_null=n_null, n_permutations=n_permutations,
                               localization=classes, within_standards=within_standards, aliases=alias_map,
                               source=label, normalize=normalize)
    columns = ["representation", *SUMMARY_COLUMNS, "normalize"]
    summary = pd.concat([result.table.assign(representation=label, normalize=normalize)
                         for label, result in scored.items()], ignore_index=True)[columns]
    tests = _family(summary, scored, roles)
    summary = _compare(summary, tests, roles)
    _write_scores(out, summary, tests, scored, with_groups=bool(n_permutations),
                  references=[r for r, role in roles.items() if role == "reference"], overwrite=overwrite,
                  inputs=inputs)
    return summary


def _checked_out(out: str | os.PathLike, overwrite: bool, *given: Any) -> tuple[Path, list[str | os.PathLike]]:
    """The score folder, refused when it exists (without ``overwrite``) or is not score's own or holds an input;
    the inputs that are files or folders (tables and mappings given in memory are skipped)."""
    out = check_output(out, overwrite=overwrite)
    flat = [item for value in given for item in (value if isinstance(value, list | tuple) else [value])]
    inputs = [item for item in flat if isinstance(item, str | os.PathLike) and item != LOCALIZATION_FROM_METADATA]
    check_replaceable(out, command="score", inputs=inputs)
    return out, inputs


def _write_scores(out: Path, summary: pd.DataFrame, tests: pd.DataFrame, scored: Mapping[str, _Scored], *,
                  with_groups: bool, references: Sequence[str], overwrite: bool,
                  inputs: Sequence[str | os.PathLike] = ()) -> None:
    """The score directory: summary.csv, tests.csv, coverage.csv, groups.csv (``with_groups``) and Figure 1,
    atomically."""
    coverage = [{"representation": label, **row} for label, result in scored.items() for row in result.coverage]
    groups = [{"representation": label, **row} for label, result in scored.items() for row in result.groups]
    with atomic_path(out, overwrite=overwrite, owner="score", inputs=inputs) as tmp:
        tmp.mkdir(parents=True)
        summary.to_csv(tmp / "summary.csv", index=False)
        tests.to_csv(tmp / "tests.csv", index=False)
        pd.DataFrame(coverage, columns=list(COVERAGE_COLUMNS)).to_csv(tmp / "coverage.csv", index=False)
        if with_groups:
            pd.DataFrame(groups, columns=list(GROUPS_COLUMNS)).to_csv(tmp / "groups.csv", index=False)
        if set(_catalog.FIGURE1_METRICS) & set(summary["metric"]):
            _plots.plot_summary(summary, tmp, references=references)
        else:
            logger.info("no metric of Figure 1 (%s) was computed; Figure 1 not drawn",
                        ", ".join(_catalog.FIGURE1_METRICS))
    logger.info("wrote %s", out)


def console_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary as ``score`` prints it: each score with its standard's measured chance beside it.

    Parameters
    ----------
    summary : pandas.DataFrame
        ``summary.csv`` of :func:`score` (or a :func:`score_representation` table with a representation column).

    Returns
    -------
    pandas.DataFrame
        One row per representation x standard, one column per metric; cells ``value (chance)``
        (the chance omitted where none was measured).

    Examples
    --------
    >>> s = pd.DataFrame({"representation": ["A", "A"], "standard": ["c", "c"], "metric": ["ami", "f_beta"],
    ...                   "value": [0.31, 0.2], "chance": [0.05, float("nan")]})
    >>> console_table(s).values.tolist()
    [['0.3100 (0.0500)', '0.2000']]
    """
    text = [f"{v:.4f}" + (f" ({c:.4f})" if np.isfinite(c) else "")
            for v, c in zip(summary["value"], summary.get("chance", pd.Series(np.nan, index=summary.index)),
                            strict=True)]
    table = summary.assign(text=text).pivot_table(index=["representation", "standard"], columns="metric",
                                                  values="text", aggfunc="first", sort=False)
    order = [m for m in (*METRICS, RETRIEVAL_METRIC) if m in table.columns]
    table = table[order]
    table.columns = [f"{m} (chance)" if summary.loc[summary["metric"] == m, "chance"].notna().any() else m
                     for m in order] if "chance" in summary else order
    return table
