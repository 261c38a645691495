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

from deeploc_keras.errors import InputError, file_error
from deeploc_keras.outputs import atomic_path, check_output
from deeploc_keras.profiles import read_profiles
from eval import metrics as _metrics
from eval import plots as _plots
from eval import standards as _standards

__all__ = ["METRICS", "SUMMARY_COLUMNS", "COVERAGE_COLUMNS", "score_representation", "score"]

logger = logging.getLogger(__name__)

#: metric names (closed vocabulary, shared with :mod:`eval.metrics` and the CLI)
METRICS = _metrics.METRICS
#: columns of :func:`score_representation`'s table
SUMMARY_COLUMNS = ("standard", "metric", "value", "sd", "n_proteins", "n_groups", "prevalence")
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
    aliases: Mapping[str, str] | None,
    source: str,
) -> tuple[pd.DataFrame, list[dict]]:
    metrics = _check_metrics(metrics)
    proteins, features = _check_profiles(proteins, features, source=source)
    rows, coverage = [], []
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
        clusterings = None
        for metric in metrics:
            start = time.perf_counter()
            sd = np.nan
            if metric == "average_precision":
                value = _metrics.average_precision(x, member)
            elif metric == "mean_average_precision":
                value = _metrics.mean_average_precision(x, member)
            elif metric == "f_beta":
                value = _metrics.f_beta(x, member)
            else:
                if clusterings is None:
                    result = _metrics.ami(x, member, seed=seed)
                    clusterings = result.clusterings
                if metric == "f_beta_clusters":
                    result = _metrics.f_beta_clusters(x, member, clusterings=clusterings)
                value, sd = result.mean, result.sd
            rows.append({**base, "metric": metric, "value": value, "sd": sd})
            logger.info("%s / %s / %s = %.4f (%.1f s)", source, name, metric, value, time.perf_counter() - start)
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS)), coverage


def score_representation(
    proteins: Sequence[str],
    features: np.ndarray,
    standards: Mapping[str, Mapping[str, set[str]]],
    *,
    metrics: Sequence[str] | None = None,
    seed: int = 0,
    aliases: Mapping[str, str] | None = None,
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
    aliases : mapping of str to str, optional
        Upper-case gene name -> ORF (:func:`eval.standards.read_aliases`).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SUMMARY_COLUMNS`, one row per standard x metric. ``sd`` is the
        standard deviation over AMI samples (NaN for pooled metrics); ``n_proteins``
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
    table, _ = _score(proteins, features, standards, metrics=metrics, seed=seed, aliases=aliases,
                      source="representation")
    return table


def _load_aliases(aliases: str | os.PathLike | Mapping[str, str] | None) -> Mapping[str, str] | None:
    if aliases is None or isinstance(aliases, Mapping):
        return aliases
    return _standards.read_aliases(aliases)


def score(
    profiles: Sequence[str | os.PathLike],
    standards: Sequence[str | os.PathLike] | Mapping[str, Mapping[str, set[str]]],
    out: str | os.PathLike,
    *,
    names: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    seed: int = 0,
    aliases: str | os.PathLike | Mapping[str, str] | None = None,
    overwrite: bool = False,
) -> pd.DataFrame:
    """Score several representations and write a score directory.

    Writes ``summary.csv`` (columns representation, standard, metric, value, sd,
    n_proteins, n_groups, prevalence), ``coverage.csv`` (proteins and groups kept
    and dropped per representation x standard) and Figure 1
    (``figure1_summary.png``/``.svg`` with its data ``figure1_summary.csv``). The
    directory appears only when complete.

    Parameters
    ----------
    profiles : sequence of path
        Per-protein Parquet profiles with a ``Metadata_Protein`` column.
    standards : sequence of path, or mapping of name to Standard
        Files or directories (see :func:`eval.standards.load_standards`), or loaded standards.
    out : path
        Score directory to create.
    names : sequence of str, optional
        One display name per profile file (default: the method recorded in each file).
    metrics : sequence of str, optional
        Subset of :data:`METRICS` (default all).
    seed : int, default 0
    aliases : path or mapping, optional
        ``SGD_features.tab`` or a mapping from :func:`eval.standards.read_aliases`.
    overwrite : bool, default False

    Returns
    -------
    pandas.DataFrame
        The summary table.

    Raises
    ------
    InputError
        Bad profiles or standards (see :func:`score_representation`), a name count that
        does not match the profiles, or two representations with the same name.
    OutputExistsError
        If ``out`` exists and ``overwrite`` is False.
    """
    out = check_output(out, overwrite=overwrite)
    metrics = _check_metrics(metrics)
    if not profiles:
        raise InputError("no profile files given")
    if names and len(names) != len(profiles):
        raise InputError(f"give one --name per profile file. Received: {len(names)} names for {len(profiles)} files")
    loaded = standards if isinstance(standards, Mapping) else _standards.load_standards(standards)
    alias_map = _load_aliases(aliases)
    tables = []
    for path in profiles:
        table = read_profiles(path)
        if _PROTEIN_COLUMN not in table.meta:
            raise file_error(path, f"no {_PROTEIN_COLUMN} column; scoring needs one row per protein")
        proteins, features = _check_profiles(table.meta[_PROTEIN_COLUMN].astype(str).tolist(), table.features,
                                             source=os.fspath(path))
        tables.append((path, table.method, proteins, features))
    labels = list(names) if names else [method for _, method, _, _ in tables]
    if len(set(labels)) != len(labels):
        raise InputError(f"representation names must be unique. Received: {labels}; pass one --name per profile file")
    summaries, coverage = [], []
    for label, (path, _, proteins, features) in zip(labels, tables, strict=True):
        logger.info("scoring %s (%s): %d proteins x %d features", label, path, *features.shape)
        summary, cov = _score(proteins, features, loaded, metrics=metrics, seed=seed, aliases=alias_map,
                              source=label)
        summaries.append(summary.assign(representation=label))
        coverage.extend({"representation": label, **row} for row in cov)
    summary = pd.concat(summaries, ignore_index=True)[["representation", *SUMMARY_COLUMNS]]
    with atomic_path(out, overwrite=overwrite) as tmp:
        tmp.mkdir(parents=True)
        summary.to_csv(tmp / "summary.csv", index=False)
        pd.DataFrame(coverage, columns=list(COVERAGE_COLUMNS)).to_csv(tmp / "coverage.csv", index=False)
        _plots.plot_summary(summary, tmp)
    logger.info("wrote %s", out)
    return summary
