"""Score protein representations against functional standards: tables, logging, outputs.

:func:`score_representation` scores one feature matrix (also used by training's
``--monitor``); :func:`score` scores several profile files at once and writes
``summary.csv``, ``coverage.csv`` and Figure 1 into a score directory.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from deeploc_keras.errors import InputError
from deeploc_keras.outputs import atomic_path, check_output
from deeploc_keras.processing import NORMALIZE_CHOICES, normalize_features
from deeploc_keras.profiles import profile_name, read_profiles
from eval import metrics as _metrics
from eval import plots as _plots
from eval import significance as _significance
from eval import standards as _standards

__all__ = ["METRICS", "NORMALIZE_CHOICES", "SUMMARY_COLUMNS", "COMPARISON_COLUMNS", "COVERAGE_COLUMNS",
           "score_representation", "score"]

logger = logging.getLogger(__name__)

#: metric names (closed vocabulary: the keys of :data:`eval.metrics.METRICS`, shared with the CLI)
METRICS = tuple(_metrics.METRICS)
#: columns of :func:`score_representation`'s table
SUMMARY_COLUMNS = ("standard", "metric", "value", "sd", "ci_low", "ci_high", "n_proteins", "n_groups", "prevalence")
#: columns :func:`score` adds: the paired comparison of each representation with the best baseline
COMPARISON_COLUMNS = ("compared_to", "p_value", "q_value")
#: columns of ``coverage.csv``
COVERAGE_COLUMNS = ("representation", "standard", *_standards.Coverage.__dataclass_fields__)

_PROTEIN_COLUMN = "Metadata_Protein"


def _check_metrics(metrics: Sequence[str] | None) -> tuple[str, ...]:
    if metrics is None:
        return METRICS
    metrics = tuple(metrics)
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise InputError(f"unknown metric {unknown[0] if unknown else '(none)'}; expected some of {', '.join(METRICS)}")
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
    constant = np.ptp(features, axis=1) == 0
    if constant.any():
        raise InputError(f"{source}: {constant.sum()} profiles are constant (correlation undefined): {listed(constant)}")
    return proteins, features


def _score(
    proteins: Sequence[str],
    features: np.ndarray,
    standards: Mapping[str, Mapping[str, set[str]]],
    *,
    metrics: Sequence[str] | None,
    seed: int,
    n_jobs: int,
    n_bootstrap: int,
    aliases: Mapping[str, str] | None,
    source: str,
    normalize: str = "none",
) -> tuple[pd.DataFrame, list[dict], dict]:
    """Table rows, coverage rows, and per (standard, metric) the universe's ids and bootstrap values."""
    metrics = _check_metrics(metrics)
    proteins, features = _check_profiles(proteins, features, source=source)
    if normalize != "none":
        features, kept = normalize_features(features, normalize)
        logger.info("%s: normalize=%s across %d proteins (%d of %d features with zero scale dropped)", source,
                    normalize, len(proteins), int((~kept).sum()), kept.size)
        proteins, features = _check_profiles(proteins, features, source=f"{source} after normalize={normalize}")
    rows, coverage, resampled = [], [], {}
    for name, standard in standards.items():
        try:
            kept, cov = _standards.restrict(standard, proteins, aliases=aliases)
        except InputError as exc:
            raise InputError(f"standard {name!r}: {exc}") from None
        _standards.require_groups(name, kept, cov)
        coverage.append({"standard": name, **cov.as_dict()})
        membership, _ = _metrics.membership_matrix(kept, proteins)
        universe = membership.any(axis=1)
        x, member = features[universe], membership[universe]
        base = {"standard": name, "n_proteins": int(universe.sum()), "n_groups": len(kept),
                "prevalence": _metrics.prevalence(member)}
        logger.info("%s / %s: %d proteins, %d groups (%d dropped), prevalence %.4f", source, name,
                    base["n_proteins"], base["n_groups"], cov.n_groups_dropped, base["prevalence"])
        start = time.perf_counter()
        results = _metrics.compute_metrics(x, member, metrics, seed=seed, n_jobs=n_jobs)
        boot = {}
        if n_bootstrap:
            ids = [proteins[i] for i in np.flatnonzero(universe)]
            weights = _significance.bootstrap_weights(ids, n_resamples=n_bootstrap, seed=seed)
            boot = _significance.bootstrap_metrics(
                x, member, weights, [m for m in metrics if m in _significance.BOOTSTRAP_METRICS])
            resampled.update({(name, metric): (frozenset(ids), values) for metric, values in boot.items()})
        for metric, result in results.items():
            sampled = isinstance(result, _metrics.SampledScore)
            value, sd = (result.mean, result.sd) if sampled else (result, np.nan)
            low, high = _significance.percentile_interval(boot[metric]) if metric in boot else (np.nan, np.nan)
            rows.append({**base, "metric": metric, "value": value, "sd": sd, "ci_low": low, "ci_high": high})
            logger.info("%s / %s / %s = %.4f", source, name, metric, value)
        logger.info("%s / %s scored in %.1f s", source, name, time.perf_counter() - start)
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS)), coverage, resampled


def score_representation(
    proteins: Sequence[str],
    features: np.ndarray,
    standards: Mapping[str, Mapping[str, set[str]]],
    *,
    metrics: Sequence[str] | None = None,
    seed: int = 0,
    n_jobs: int = 1,
    n_bootstrap: int = 0,
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
        Subset of :data:`METRICS` (default all).
    seed : int, default 0
        Seed of the AMI samples.
    n_jobs : int, default 1
        Processes for the AMI samples (-1: all cores); the table does not depend on it.
    n_bootstrap : int, default 0
        Bootstrap resamples of the proteins (seeded by ``seed``) for the 95 % percentile
        intervals ``ci_low``/``ci_high`` of AP, mAP and F0.5; 0 leaves them NaN.
    aliases : mapping of str to str, optional
        Upper-case gene name -> ORF (:func:`eval.standards.read_aliases`).
    normalize : {"none", "standardize", "robust"}, default "none"
        Per-feature normalization across the proteins before scoring
        (:func:`deeploc_keras.processing.normalize_features`; features with zero scale are dropped).
        ``"none"`` scores the profiles as they are (the study's raw comparison).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SUMMARY_COLUMNS`, one row per standard x metric. ``sd`` is the
        standard deviation over AMI samples (NaN for pooled metrics); ``ci_low`` and
        ``ci_high`` the bootstrap interval (NaN without ``n_bootstrap``); ``n_proteins``
        and ``n_groups`` describe the restricted standard; ``prevalence`` is the
        positive-pair fraction (the AP of a random ranking).

    Raises
    ------
    InputError
        Duplicate proteins, NaN or constant profiles (ids listed), an unknown metric,
        a standard with no id in common or no group of 2 or more proteins.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1, 2, 3], [1, 2, 4], [3, 2, 1], [4, 2, 1.]])
    >>> table = score_representation(["A", "B", "C", "D"], x, {"toy": {"g1": {"A", "B"}, "g2": {"C", "D"}}},
    ...                              metrics=["average_precision"])
    >>> table[["standard", "metric", "value", "n_proteins"]].values.tolist()
    [['toy', 'average_precision', 1.0, 4]]
    """
    table, _, _ = _score(proteins, features, standards, metrics=metrics, seed=seed, n_jobs=n_jobs,
                         n_bootstrap=n_bootstrap, aliases=aliases, source="representation",
                         normalize=_check_normalize(normalize))
    return table


def _compare(summary: pd.DataFrame, resampled: Mapping[tuple, tuple], baselines: Sequence[str]) -> pd.DataFrame:
    """Add :data:`COMPARISON_COLUMNS`: each representation against the best baseline, paired over resamples.

    A comparison needs both universes to hold the same proteins (the same resamples); otherwise its
    p-value is NaN.
    """
    summary = summary.assign(compared_to=None, p_value=np.nan, q_value=np.nan)
    if not baselines:
        return summary
    for (standard, metric), rows in summary.groupby(["standard", "metric"], sort=False):
        if metric not in _significance.BOOTSTRAP_METRICS:
            continue
        candidates = rows[rows["representation"].isin(baselines)]
        best = candidates.loc[candidates["value"].idxmax(), "representation"]
        ids, reference = resampled[(best, standard, metric)]
        for index, rep in rows["representation"].items():
            if rep == best:
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


def _load_aliases(aliases: str | os.PathLike | Mapping[str, str] | None) -> Mapping[str, str] | None:
    if aliases is None or isinstance(aliases, Mapping):
        return aliases
    return _standards.read_aliases(aliases)


def score(
    profiles: Sequence[str | os.PathLike | pd.DataFrame],
    standards: Sequence[str | os.PathLike] | Mapping[str, Mapping[str, set[str]]],
    out: str | os.PathLike,
    *,
    names: Sequence[str] | None = None,
    id_column: str = _PROTEIN_COLUMN,
    metrics: Sequence[str] | None = None,
    seed: int = 0,
    n_jobs: int = -1,
    n_bootstrap: int = 0,
    compare_to: Sequence[str] | None = None,
    aliases: str | os.PathLike | Mapping[str, str] | None = None,
    normalize: str = "none",
    overwrite: bool = False,
) -> pd.DataFrame:
    """Score several representations and write a score directory.

    Writes ``summary.csv`` (columns representation, :data:`SUMMARY_COLUMNS` and
    :data:`COMPARISON_COLUMNS`), ``coverage.csv`` (proteins and groups kept
    and dropped per representation x standard) and Figure 1
    (``figure1_summary.png``/``.svg`` with its data ``figure1_summary.csv``). The
    directory appears only when complete.

    Parameters
    ----------
    profiles : sequence of path or pandas.DataFrame
        Per-protein profiles: Parquet or CSV files, or DataFrames (see
        :func:`deeploc_keras.profiles.read_profiles`), with an ``id_column``.
    standards : sequence of path, or mapping of name to Standard
        Files or directories (see :func:`eval.standards.load_standards`), or loaded standards.
    out : path
        Score directory to create.
    names : sequence of str, optional
        One display name per profile (default: the method recorded in a Parquet file of this
        package, else the file's name -- its folder for ``proteins.parquet`` -- or
        ``profiles<i>`` for the i-th DataFrame).
    id_column : str, default "Metadata_Protein"
        Column of the protein ids (ORFs or gene names with ``aliases``).
    metrics : sequence of str, optional
        Subset of :data:`METRICS` (default all).
    seed : int, default 0
    n_jobs : int, default -1
        Processes for the AMI samples (all cores); the table does not depend on it.
    n_bootstrap : int, default 0
        Bootstrap resamples of the proteins for the intervals of AP, mAP and F0.5 (see
        :func:`score_representation`); the same resamples for every representation.
    compare_to : sequence of str, optional
        Names of the baseline representations. Per standard x bootstrapped metric, every
        other representation is compared with the best of them on the same resampled
        proteins (:func:`eval.significance.paired_p_value`); ``q_value`` is the
        Benjamini-Hochberg adjustment over all comparisons of the table. Needs ``n_bootstrap``.
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
        Bad profiles or standards (see :func:`score_representation`), a name count that
        does not match the profiles, two representations with the same name, or a
        ``compare_to`` name that is not a representation (or given without ``n_bootstrap``).
    OutputExistsError
        If ``out`` exists and ``overwrite`` is False.
    """
    out = check_output(out, overwrite=overwrite)
    metrics = _check_metrics(metrics)
    normalize = _check_normalize(normalize)
    if not profiles:
        raise InputError("no profile files given")
    if names and len(names) != len(profiles):
        raise InputError(f"give one --name per profile file. Received: {len(names)} names for {len(profiles)} files")
    loaded = standards if isinstance(standards, Mapping) else _standards.load_standards(standards)
    alias_map = _load_aliases(aliases)
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
        tables.append((source, recorded or (source if isinstance(path, pd.DataFrame) else profile_name(path)),
                       proteins, features))
    labels = list(names) if names else [method for _, method, _, _ in tables]
    if len(set(labels)) != len(labels):
        raise InputError(f"representation names must be unique. Received: {labels}; pass one --name per profile file")
    baselines = list(compare_to or [])
    missing = [b for b in baselines if b not in labels]
    if missing:
        raise InputError(f"--compare-to {missing[0]} is not a representation; expected one of {', '.join(labels)}")
    if baselines and not n_bootstrap:
        raise InputError("--compare-to needs bootstrap resamples; pass --bootstrap N (e.g. 200)")
    summaries, coverage, resampled = [], [], {}
    for label, (path, _, proteins, features) in zip(labels, tables, strict=True):
        logger.info("scoring %s (%s): %d proteins x %d features", label, path, *features.shape)
        summary, cov, boot = _score(proteins, features, loaded, metrics=metrics, seed=seed, n_jobs=n_jobs,
                                    n_bootstrap=n_bootstrap, aliases=alias_map, source=label, normalize=normalize)
        summaries.append(summary.assign(representation=label, normalize=normalize))
        coverage.extend({"representation": label, **row} for row in cov)
        resampled.update({(label, *key): value for key, value in boot.items()})
    summary = pd.concat(summaries, ignore_index=True)[["representation", *SUMMARY_COLUMNS, "normalize"]]
    summary = _compare(summary, resampled, baselines)
    with atomic_path(out, overwrite=overwrite) as tmp:
        tmp.mkdir(parents=True)
        summary.to_csv(tmp / "summary.csv", index=False)
        pd.DataFrame(coverage, columns=list(COVERAGE_COLUMNS)).to_csv(tmp / "coverage.csv", index=False)
        _plots.plot_summary(summary, tmp)
    logger.info("wrote %s", out)
    return summary
