"""``eval.runs``: scores over training runs, checked against an average precision written here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eval.runs import RUN_COLUMNS, add_run_columns, score_runs


def _pooled_ap(features: np.ndarray, groups: list[set[int]]) -> float:
    """Average precision of all protein pairs ranked by Pearson correlation; positive: sharing a group."""
    corr = np.corrcoef(features)
    i, j = np.triu_indices(len(features), k=1)
    positive = np.array([any(a in g and b in g for g in groups) for a, b in zip(i, j, strict=True)])
    order = np.argsort(-corr[i, j], kind="stable")
    hits = positive[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precision[hits].mean())


def _profiles(rng: np.random.Generator, proteins: list[str], signal: float) -> pd.DataFrame:
    centres = np.repeat(rng.normal(size=(2, 6)), len(proteins) // 2, axis=0)
    features = signal * centres + rng.normal(size=(len(proteins), 6))
    return pd.DataFrame(features, columns=[f"f{k}" for k in range(6)]).assign(Metadata_Protein=proteins)


def test_score_runs_gives_mean_and_sample_sd_of_each_runs_score():
    rng = np.random.default_rng(3)
    proteins = [f"P{k}" for k in range(12)]
    runs = [_profiles(rng, proteins, signal) for signal in (0.5, 1.0, 2.0)]
    standard = {"left": set(proteins[:6]), "right": set(proteins[6:])}
    table = score_runs({"net": runs}, {"toy": standard}, metrics=["average_precision"])
    groups = [set(range(6)), set(range(6, 12))]
    expected = [_pooled_ap(r[[f"f{k}" for k in range(6)]].to_numpy(), groups) for r in runs]
    row = table.iloc[0]
    assert (row["representation"], row["standard"], row["metric"], row["n_runs"]) == ("net", "toy",
                                                                                       "average_precision", 3)
    assert row["runs_mean"] == pytest.approx(np.mean(expected), abs=1e-9)
    assert row["runs_sd"] == pytest.approx(np.std(expected, ddof=1), abs=1e-9)
    assert len({round(v, 9) for v in expected}) == 3  # the runs differ, so the sd is informative


def test_score_runs_of_one_run_has_no_sd():
    rng = np.random.default_rng(0)
    proteins = [f"P{k}" for k in range(8)]
    table = score_runs({"net": [_profiles(rng, proteins, 1.0)]}, {"toy": {"a": set(proteins[:4]),
                                                                         "b": set(proteins[4:])}},
                       metrics=["average_precision"])
    assert table["n_runs"].tolist() == [1] and np.isnan(table["runs_sd"].iloc[0])


def test_add_run_columns_keeps_rows_and_order_and_fills_absent_with_nan():
    summary = pd.DataFrame({"representation": ["B", "A", "A"], "standard": ["s", "s", "t"],
                            "metric": ["ami"] * 3, "value": [0.1, 0.2, 0.3]})
    over = pd.DataFrame({"representation": ["A"], "standard": ["t"], "metric": ["ami"], "runs_mean": [0.25],
                         "runs_sd": [0.05], "n_runs": [3]})
    joined = add_run_columns(summary, over)
    assert joined[["representation", "standard", "value"]].equals(summary[["representation", "standard", "value"]])
    assert joined["runs_mean"].isna().tolist() == [True, True, False]
    assert list(joined.columns[-3:]) == list(RUN_COLUMNS)
    assert add_run_columns(joined, over).shape == joined.shape  # joining again replaces, never duplicates
