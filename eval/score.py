"""Score protein representations against functional standards: tables, logging, outputs.

:func:`score_representation` scores one feature matrix (also used by training's
``--monitor``); :func:`score` scores several profile files at once and writes
``summary.csv``, ``coverage.csv``, ``groups.csv`` and Figure 1 into a score directory.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deeploc_keras.core.console import progress
from deeploc_keras.core.errors import InputError, file_error
from deeploc_keras.core.outputs import atomic_path, check_output
from deeploc_keras.core.ownership import check_replaceable
from deeploc_keras.core.processing import NORMALIZE_CHOICES, normalize_features
from deeploc_keras.core.profiles import profile_name, read_profiles
from eval import metrics as _metrics
from eval import plots as _plots
from eval import retrieval as _retrieval
from eval import significance as _significance
from eval import standards as _standards

__all__ = ["METRICS", "NORMALIZE_CHOICES", "SUMMARY_COLUMNS", "COMPARISON_COLUMNS", "COVERAGE_COLUMNS",
           "GROUPS_COLUMNS", "RETRIEVAL_METRIC", "LOCALIZATION_FROM_METADATA", "score_representation", "score"]

logger = logging.getLogger(__name__)

#: metric names (closed vocabulary: the keys of :data:`eval.metrics.METRICS`, shared with the CLI)
METRICS = tuple(_metrics.METRICS)
#: columns of :func:`score_representation`'s table
SUMMARY_COLUMNS = ("standard", "metric", "value", "sd", "ci_low", "ci_high", "n_proteins", "n_groups", "prevalence")
#: columns :func:`score` adds: the paired comparison of each representation with the best baseline
COMPARISON_COLUMNS = ("compared_to", "p_value", "q_value")
#: columns of ``coverage.csv``
COVERAGE_COLUMNS = ("representation", "standard", *_standards.Coverage.__dataclass_fields__)
#: columns of ``groups.csv``: per-group retrieval (:func:`eval.retrieval.group_retrieval`)
GROUPS_COLUMNS = ("representation", "standard", "group", "n_members", "mAP", "p_value", "q_value")
#: the summary row of per-group retrieval: the share of groups with q < :data:`eval.retrieval.ALPHA`
RETRIEVAL_METRIC = "fraction_retrieved"
#: ``localization`` value that reads each profile file's ``Metadata_Label`` column
LOCALIZATION_FROM_METADATA = "metadata"

_PROTEIN_COLUMN = "Metadata_Protein"
_LABEL_COLUMN = "Metadata_Label"


def _check_metrics(metrics: Sequence[str] | None, *, localization: bool) -> tuple[str, ...]:
    """The requested metrics (default: all, the within ones only with localization labels)."""
    if metrics is None:
        return tuple(m for m in METRICS if localization or m not in _metrics.WITHIN_METRICS)
    metrics = tuple(metrics)
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise InputError(f"unknown metric {unknown[0] if unknown else '(none)'}; expected some of {', '.join(METRICS)}")
    within = [m for m in metrics if m in _metrics.WITHIN_METRICS]
    if within and not localization:
        raise InputError(f"metric {within[0]} counts pairs sharing a localization class; pass --localization "
                         f"FILE or --localization {LOCALIZATION_FROM_METADATA}")
    return metrics


def _check_normalize(normalize: str) -> str:
    if normalize not in NORMALIZE_CHOICES:
        raise InputError(f"unknown normalize {normalize!r}; expected one of {', '.join(NORMALIZE_CHOICES)}")
    return normalize


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


def _score(
    proteins: Sequence[str],
    features: np.ndarray,
    standards: Mapping[str, Mapping[str, set[str]]],
    *,
    metrics: Sequence[str] | None,
    seed: int,
    n_jobs: int,
    n_bootstrap: int,
    n_permutations: int,
    localization: Mapping[str, set[str]] | None,
    aliases: Mapping[str, str] | None,
    source: str,
    normalize: str = "none",
) -> tuple[pd.DataFrame, list[dict], dict, list[dict]]:
    """Table rows, coverage rows, per (standard, metric) the universe's ids and bootstrap values, group rows."""
    metrics = _check_metrics(metrics, localization=localization is not None)
    proteins, features = _check_profiles(proteins, features, source=source)
    if normalize != "none":
        features, kept = normalize_features(features, normalize)
        logger.info("%s: normalize=%s across %d proteins (%d of %d features with zero scale dropped)", source,
                    normalize, len(proteins), int((~kept).sum()), kept.size)
        proteins, features = _check_profiles(proteins, features, source=f"{source} after normalize={normalize}")
    strata = None if localization is None else _strata(localization, proteins, aliases, source)
    rows, coverage, resampled, group_rows = [], [], {}, []
    for name, standard in standards.items():
        try:
            kept, cov = _standards.restrict(standard, proteins, aliases=aliases)
        except InputError as exc:
            raise InputError(f"standard {name!r}: {exc}") from None
        _standards.require_groups(name, kept, cov)
        coverage.append({"standard": name, **cov.as_dict()})
        membership, group_names = _metrics.membership_matrix(kept, proteins)
        universe = membership.any(axis=1)
        x, member = features[universe], membership[universe]
        within = None if strata is None else strata[universe]
        ranking = _metrics.Ranking(x, member)
        base = {"standard": name, "n_proteins": int(universe.sum()), "n_groups": len(kept),
                "prevalence": _metrics.prevalence(member)}
        logger.info("%s / %s: %d proteins, %d groups (%d dropped), prevalence %.4f", source, name,
                    base["n_proteins"], base["n_groups"], cov.n_groups_dropped, base["prevalence"])
        start = time.perf_counter()
        results = _metrics.compute_metrics(x, member, metrics, strata=within, seed=seed, n_jobs=n_jobs,
                                           ranking=ranking)
        logger.info("%s / %s: metrics in %.1f s", source, name, time.perf_counter() - start)
        boot = {}
        if n_bootstrap:
            start = time.perf_counter()
            ids = [proteins[i] for i in np.flatnonzero(universe)]
            weights = _significance.bootstrap_weights(ids, n_resamples=n_bootstrap, seed=seed)
            boot = _significance.bootstrap_metrics(
                x, member, weights, [m for m in metrics if m in _significance.BOOTSTRAP_METRICS], strata=within,
                ranking=ranking)
            resampled.update({(name, metric): (frozenset(ids), values) for metric, values in boot.items()})
            logger.info("%s / %s: %d bootstrap resamples in %.1f s", source, name, n_bootstrap,
                        time.perf_counter() - start)
        within_prevalence = np.nan if within is None else _metrics.prevalence(member, strata=within)
        for metric, result in results.items():
            sampled = isinstance(result, _metrics.SampledScore)
            value, sd = (result.mean, result.sd) if sampled else (result, np.nan)
            resampled_values = boot.get(metric)
            known = resampled_values is not None and bool(np.isfinite(resampled_values).any())
            low, high = _significance.percentile_interval(resampled_values) if known else (np.nan, np.nan)
            row = {**base, "metric": metric, "value": value, "sd": sd, "ci_low": low, "ci_high": high}
            if metric in _metrics.WITHIN_METRICS:
                row["prevalence"] = within_prevalence
            rows.append(row)
            logger.info("%s / %s / %s = %.4f", source, name, metric, value)
        if n_permutations:
            start = time.perf_counter()
            retrieved = _retrieval.group_retrieval(x, member, n_permutations=n_permutations, seed=seed,
                                                   ranking=ranking)
            group_rows.extend({"standard": name, "group": group, "n_members": int(n), "mAP": value, "p_value": p,
                               "q_value": q} for group, n, value, p, q in zip(
                group_names, retrieved.n_members, retrieved.mean_average_precision, retrieved.p_value,
                retrieved.q_value, strict=True))
            share = _retrieval.fraction_retrieved(retrieved.q_value)
            rows.append({**base, "metric": RETRIEVAL_METRIC, "value": share, "sd": np.nan, "ci_low": np.nan,
                         "ci_high": np.nan})
            logger.info("%s / %s / %s = %.4f (%d permutations, %.1f s)", source, name, RETRIEVAL_METRIC, share,
                        n_permutations, time.perf_counter() - start)
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS)), coverage, resampled, group_rows


def score_representation(
    proteins: Sequence[str],
    features: np.ndarray,
    standards: Mapping[str, Mapping[str, set[str]]],
    *,
    metrics: Sequence[str] | None = None,
    seed: int = 0,
    n_jobs: int = 1,
    n_bootstrap: int = 0,
    n_permutations: int = 0,
    localization: Mapping[str, set[str]] | None = None,
    aliases: Mapping[str, str] | None = None,
    normalize: str = "none",
) -> pd.DataFrame:
    """Score one representation against each standard.

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
        Seed of the AMI samples, bootstrap resamples and permutation nulls.
    n_jobs : int, default 1
        Processes for the AMI samples (-1: all cores); the table does not depend on it.
    n_bootstrap : int, default 0
        Bootstrap resamples of the proteins (seeded by ``seed``) for the 95 % percentile
        intervals ``ci_low``/``ci_high`` of AP, mAP, F0.5 and the within AP and mAP; 0 leaves
        them NaN.
    n_permutations : int, default 0
        Size of the permutation null of per-group retrieval (:func:`eval.retrieval.group_retrieval`);
        adds a :data:`RETRIEVAL_METRIC` row per standard (0: none; training's monitor leaves it off).
    localization : mapping of str to set of str, optional
        Localization class -> protein ids (a standard; a protein may have several classes).
        Enables the within metrics (:data:`eval.metrics.WITHIN_METRICS`): only pairs of proteins
        sharing a class count; their ``prevalence`` is the positive share of those pairs.
    aliases : mapping of str to str, optional
        Upper-case gene name -> ORF (:func:`eval.standards.read_aliases`).
    normalize : {"none", "standardize", "robust"}, default "none"
        Per-feature normalization across the proteins before scoring
        (:func:`deeploc_keras.core.processing.normalize_features`; features with zero scale are dropped).
        ``"none"`` scores the profiles as they are (the study's raw comparison).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SUMMARY_COLUMNS`, one row per standard x metric (and
        :data:`RETRIEVAL_METRIC` with ``n_permutations``). ``sd`` is the
        standard deviation over AMI samples (NaN for pooled metrics); ``ci_low`` and
        ``ci_high`` the bootstrap interval (NaN without ``n_bootstrap``); ``n_proteins``
        and ``n_groups`` describe the restricted standard; ``prevalence`` is the
        positive-pair fraction (the AP of a random ranking).

    Raises
    ------
    InputError
        Duplicate proteins, NaN or constant profiles (ids listed), an unknown metric (or a
        within metric without ``localization``), a standard or localization labels with no
        id in common, a standard with no group of 2 or more proteins.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1, 2, 3], [1, 2, 4], [3, 2, 1], [4, 2, 1.]])
    >>> table = score_representation(["A", "B", "C", "D"], x, {"toy": {"g1": {"A", "B"}, "g2": {"C", "D"}}},
    ...                              metrics=["average_precision"])
    >>> table[["standard", "metric", "value", "n_proteins"]].values.tolist()
    [['toy', 'average_precision', 1.0, 4]]
    """
    table, _, _, _ = _score(proteins, features, standards, metrics=metrics, seed=seed, n_jobs=n_jobs,
                            n_bootstrap=n_bootstrap, n_permutations=n_permutations, localization=localization,
                            aliases=aliases, source="representation", normalize=_check_normalize(normalize))
    return table


def _compare(summary: pd.DataFrame, resampled: Mapping[tuple, tuple], baselines: Sequence[str],
             references: Sequence[str] = ()) -> pd.DataFrame:
    """Add :data:`COMPARISON_COLUMNS`: each representation against the best baseline, paired over resamples.

    A comparison needs both universes to hold the same proteins (the same resamples); otherwise its
    p-value is NaN. References that are not baselines are not compared (nor counted in the correction).
    """
    summary = summary.assign(compared_to=None, p_value=np.nan, q_value=np.nan)
    if not baselines:
        return summary
    for (standard, metric), rows in summary.groupby(["standard", "metric"], sort=False):
        if metric not in _significance.BOOTSTRAP_METRICS:
            continue
        candidates = rows[rows["representation"].isin(baselines) & rows["value"].notna()]
        if candidates.empty:
            continue
        best = candidates.loc[candidates["value"].idxmax(), "representation"]
        ids, reference = resampled[(best, standard, metric)]
        for index, rep in rows["representation"].items():
            if rep == best or (rep in references and rep not in baselines):
                continue
            own_ids, values = resampled[(rep, standard, metric)]
            summary.loc[index, "compared_to"] = best
            if own_ids == ids:
                summary.loc[index, "p_value"] = _significance.paired_p_value(values, reference)
            else:
                logger.warning("%s / %s: %s and %s cover different proteins; no paired comparison",
                               standard, metric, rep, best)
    summary["q_value"] = _significance.benjamini_hochberg(summary["p_value"].to_numpy())
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


def _check_names(labels: list[str], compare_to: Sequence[str] | None, references: Sequence[str], *,
                 n_bootstrap: int) -> list[str]:
    """Refuse repeated representation names, unknown references and unknown or unresampled baselines; the baselines."""
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
        raise InputError("--compare-to needs bootstrap resamples; pass --bootstrap N (e.g. 200)")
    return baselines


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
    n_bootstrap: int = 0,
    n_permutations: int = 1000,
    compare_to: Sequence[str] | None = None,
    localization: str | os.PathLike | Mapping[str, set[str]] | None = None,
    aliases: str | os.PathLike | Mapping[str, str] | None = None,
    normalize: str = "none",
    overwrite: bool = False,
) -> pd.DataFrame:
    """Score several representations and write a score directory.

    Writes ``summary.csv`` (columns representation, :data:`SUMMARY_COLUMNS` and
    :data:`COMPARISON_COLUMNS`), ``coverage.csv`` (proteins and groups kept
    and dropped per representation x standard), ``groups.csv`` (per-group
    retrieval, :data:`GROUPS_COLUMNS`, with ``n_permutations``) and Figure 1
    (``figure1_summary.png``/``.svg`` with its data ``figure1_summary.csv``; drawn when
    one of its metrics is computed). The directory appears only when complete.

    Parameters
    ----------
    profiles : sequence of path or pandas.DataFrame
        Per-protein profiles: Parquet or CSV files, or DataFrames (see
        :func:`deeploc_keras.core.profiles.read_profiles`), with an ``id_column``.
    standards : sequence of path, or mapping of name to Standard
        Files or directories (see :func:`eval.standards.load_standards`), or loaded standards.
    out : path
        Score directory to create.
    names : sequence of str or None, optional
        One display name per profile (default, or where an entry is None: the method recorded in
        a Parquet file of this package, else the file's name -- its folder for ``proteins.parquet``
        -- or ``profiles<i>`` for the i-th DataFrame).
    references : sequence of str, default ()
        Names of the reference representations (the ladder of :mod:`deeploc_keras.study.references`):
        drawn in Figure 1 as references (grey, hatched, after the others) and not compared with
        the best baseline unless named in ``compare_to``.
    id_column : str, default "Metadata_Protein"
        Column of the protein ids (ORFs or gene names with ``aliases``).
    metrics : sequence of str, optional
        Subset of :data:`METRICS` (default all).
    seed : int, default 0
    n_jobs : int, default -1
        Processes for the AMI samples (all cores); the table does not depend on it.
    n_bootstrap : int, default 0
        Bootstrap resamples for the intervals (:func:`score_representation`), the same for every representation.
    n_permutations : int, default 1000
        Size of the permutation null of per-group retrieval: ``groups.csv`` and a
        :data:`RETRIEVAL_METRIC` row per representation x standard (0: neither).
    compare_to : sequence of str, optional
        Baseline names: per standard x bootstrapped metric every other representation is compared
        with the best of them on the same resamples (:func:`eval.significance.paired_p_value`;
        ``q_value``: Benjamini-Hochberg over the table). Needs ``n_bootstrap``.
    localization : path, "metadata" or mapping, optional
        Classes for the within metrics: a standard file (class -> proteins), :data:`LOCALIZATION_FROM_METADATA`
        (each file's ``Metadata_Label``; empty: no class) or a loaded standard (:func:`score_representation`).
    aliases : path or mapping, optional
        ``SGD_features.tab`` or a mapping from :func:`eval.standards.read_aliases`.
    normalize : {"none", "standardize", "robust"}, default "none"
        One per-feature normalization across proteins applied to every representation before
        scoring (see :func:`score_representation`); recorded in the ``normalize`` column.
    overwrite : bool, default False

    Returns
    -------
    pandas.DataFrame
        The summary table.

    Raises
    ------
    InputError
        Bad profiles or standards (:func:`score_representation`), names that do not match the
        profiles or repeat, a ``compare_to`` or reference that is no representation (or ``compare_to``
        without ``n_bootstrap``),
        or ``localization="metadata"`` with a profile file that has no ``Metadata_Label``.
    OutputExistsError
        If ``out`` exists and ``overwrite`` is False.
    """
    out, inputs = _checked_out(out, overwrite, profiles, standards, aliases, localization)
    metrics = _check_metrics(metrics, localization=localization is not None)
    normalize = _check_normalize(normalize)
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
    references = list(references)
    baselines = _check_names(labels, compare_to, references, n_bootstrap=n_bootstrap)
    summaries, coverage, resampled, groups = [], [], {}, []
    for label, (path, _, proteins, features, classes) in progress(zip(labels, tables, strict=True), total=len(labels),
                                                                   desc="score", unit="representation"):
        logger.info("scoring %s (%s): %d proteins x %d features", label, path, *features.shape)
        summary, cov, boot, group_rows = _score(
            proteins, features, loaded, metrics=metrics, seed=seed, n_jobs=n_jobs, n_bootstrap=n_bootstrap,
            n_permutations=n_permutations, localization=classes, aliases=alias_map, source=label,
            normalize=normalize)
        summaries.append(summary.assign(representation=label, normalize=normalize))
        coverage.extend({"representation": label, **row} for row in cov)
        groups.extend({"representation": label, **row} for row in group_rows)
        resampled.update({(label, *key): value for key, value in boot.items()})
    summary = pd.concat(summaries, ignore_index=True)[["representation", *SUMMARY_COLUMNS, "normalize"]]
    summary = _compare(summary, resampled, baselines, references)
    _write_scores(out, summary, coverage, groups if n_permutations else None, references=references,
                  overwrite=overwrite, inputs=inputs)
    return summary


def _checked_out(out: str | os.PathLike, overwrite: bool, *given: Any) -> tuple[Path, list[str | os.PathLike]]:
    """The score folder, refused when it exists (without ``overwrite``) or is not score's own or holds an input;
    the inputs that are files or folders (tables and mappings given in memory are skipped)."""
    out = check_output(out, overwrite=overwrite)
    flat = [item for value in given for item in (value if isinstance(value, list | tuple) else [value])]
    inputs = [item for item in flat if isinstance(item, str | os.PathLike) and item != LOCALIZATION_FROM_METADATA]
    check_replaceable(out, command="score", inputs=inputs)
    return out, inputs


def _write_scores(out: Path, summary: pd.DataFrame, coverage: list[dict], groups: list[dict] | None, *,
                  references: Sequence[str], overwrite: bool, inputs: Sequence[str | os.PathLike] = ()) -> None:
    """The score directory: summary.csv, coverage.csv, groups.csv (unless None) and Figure 1, atomically."""
    with atomic_path(out, overwrite=overwrite, owner="score", inputs=inputs) as tmp:
        tmp.mkdir(parents=True)
        summary.to_csv(tmp / "summary.csv", index=False)
        pd.DataFrame(coverage, columns=list(COVERAGE_COLUMNS)).to_csv(tmp / "coverage.csv", index=False)
        if groups is not None:
            pd.DataFrame(groups, columns=list(GROUPS_COLUMNS)).to_csv(tmp / "groups.csv", index=False)
        if set(_plots.FIGURE1_METRICS) & set(summary["metric"]):
            _plots.plot_summary(summary, tmp, references=references)
        else:
            logger.info("no metric of Figure 1 (%s) was computed; Figure 1 not drawn", ", ".join(_plots.FIGURE1_METRICS))
    logger.info("wrote %s", out)
