"""Scores over training runs: the mean and standard deviation of each score across the runs of one method.

The study trained each model three times at its chosen learning rate and reports
the mean over the runs with error bars. :func:`score_runs` scores the profiles of
every run the same way (same standards, metrics and seed) and summarizes them per
standard x metric; :func:`add_run_columns` joins the result to a summary table as
the :data:`RUN_COLUMNS`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .catalog import FIGURE1_METRICS

__all__ = ["RUN_COLUMNS", "score_runs", "add_run_columns"]

#: summary columns of the scores over runs: mean, sample sd (ddof=1) and number of runs
RUN_COLUMNS = ("runs_mean", "runs_sd", "n_runs")


def score_runs(
    runs: Mapping[str, Sequence[str | os.PathLike | pd.DataFrame]],
    standards: Mapping[str, Mapping[str, set[str]]],
    *,
    metrics: Sequence[str] = FIGURE1_METRICS,
    seed: int = 0,
    n_jobs: int = -1,
    normalize: str = "none",
) -> pd.DataFrame:
    """Score the profiles of each run and summarize each score over the runs of a representation.

    Parameters
    ----------
    runs : mapping of str to sequence of path or DataFrame
        Representation name -> the protein profiles of each of its runs (see
        :func:`deeploc_keras.core.profiles.read_profiles`).
    standards : mapping of str to Standard
        Name -> group -> protein ids (e.g. from :func:`eval.standards.load_standards`).
    metrics : sequence of str, default :data:`eval.catalog.FIGURE1_METRICS`
    seed : int, default 0
        Seed of the AMI samples, the same for every run.
    n_jobs : int, default -1
        Processes for the AMI samples.
    normalize : {"none", "standardize", "robust"}, default "none"

    Returns
    -------
    pandas.DataFrame
        Columns representation, standard, metric, :data:`RUN_COLUMNS`; ``runs_sd`` is NaN
        for a single run.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> proteins = ["A", "B", "C", "D"]
    >>> runs = {"toy": [pd.DataFrame(rng.normal(size=(4, 3)), columns=["f0", "f1", "f2"]).assign(
    ...     Metadata_Protein=proteins) for _ in range(3)]}
    >>> table = score_runs(runs, {"s": {"g1": {"A", "B"}, "g2": {"C", "D"}}}, metrics=["average_precision"])
    >>> table[["representation", "metric", "n_runs"]].values.tolist()
    [['toy', 'average_precision', 3]]
    """
    from deeploc_keras.core.profiles import read_profiles

    from .score import score_representation

    rows = []
    for name, profiles in runs.items():
        scores = []
        for profile in profiles:
            table = read_profiles(profile)
            scored = score_representation(table.meta["Metadata_Protein"].astype(str).tolist(), table.features,
                                          standards, metrics=metrics, seed=seed, n_jobs=n_jobs, normalize=normalize)
            scores.append(scored.set_index(["standard", "metric"])["value"])
        values = pd.concat(scores, axis=1)
        for (standard, metric), row in values.iterrows():
            per_run = row.to_numpy(dtype=float)
            rows.append({"representation": name, "standard": standard, "metric": metric,
                         "runs_mean": float(np.mean(per_run)),
                         "runs_sd": float(np.std(per_run, ddof=1)) if len(per_run) > 1 else np.nan,
                         "n_runs": len(per_run)})
    return pd.DataFrame(rows, columns=["representation", "standard", "metric", *RUN_COLUMNS])


def add_run_columns(summary: pd.DataFrame, over_runs: pd.DataFrame) -> pd.DataFrame:
    """Join the scores over runs to a summary table (:data:`RUN_COLUMNS`; NaN where a row has none).

    Parameters
    ----------
    summary : pandas.DataFrame
        A summary table (representation, standard, metric, value, ...).
    over_runs : pandas.DataFrame
        The output of :func:`score_runs`.

    Returns
    -------
    pandas.DataFrame
        ``summary`` with the three columns added, rows in the same order.

    Examples
    --------
    >>> s = pd.DataFrame({"representation": ["A", "B"], "standard": ["c", "c"], "metric": ["ami", "ami"],
    ...                   "value": [0.5, 0.2]})
    >>> r = pd.DataFrame({"representation": ["A"], "standard": ["c"], "metric": ["ami"], "runs_mean": [0.4],
    ...                   "runs_sd": [0.1], "n_runs": [3]})
    >>> add_run_columns(s, r)["n_runs"].tolist()
    [3.0, nan]
    """
    keys = ["representation", "standard", "metric"]
    return summary.drop(columns=[c for c in RUN_COLUMNS if c in summary]).merge(
        over_runs[[*keys, *RUN_COLUMNS]], on=keys, how="left", validate="many_to_one")
