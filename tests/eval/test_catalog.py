"""The metric records: one per metric, the vocabulary derived from them, and a new metric is one record."""

from __future__ import annotations

from types import MappingProxyType

import numpy as np
import pandas as pd
import pytest

from eval import catalog, metrics, score, significance
from eval.evaluation import Evaluation

STANDARD = {"g1": {"P0", "P1", "P2"}, "g2": {"P3", "P4", "P5"}, "g3": {"P2", "P6", "P7"}}


def test_every_record_is_complete_and_the_vocabulary_comes_from_the_records():
    assert catalog.METRIC_NAMES == tuple(catalog.METRICS) == score.METRICS
    for name, record in catalog.METRICS.items():
        assert record.name == name and record.label and record.definition.endswith(".")
        assert (record.null is None) == (record.null_definition == "none")
        assert not record.tested or record.resampled is not None or record.sampled, name  # a test needs pairs
    assert catalog.FIGURE1_METRICS == ("average_precision", "ami", "f_beta")
    assert catalog.MONITOR_METRICS == ("average_precision", "f_beta")
    assert [m for m, r in catalog.METRICS.items() if r.within] == ["average_precision_within",
                                                                   "mean_average_precision_within"]


def test_record_values_equal_the_kernels():
    rng = np.random.default_rng(0)
    x, membership = rng.normal(size=(30, 5)), rng.random((30, 4)) < 0.3
    membership[~membership.any(axis=1), 0] = True
    strata = rng.random((30, 2)) < 0.5
    evaluation = Evaluation(x, membership, ids=[f"P{i}" for i in range(30)], strata=strata)
    expected = {"average_precision": metrics.average_precision(x, membership),
                "mean_average_precision": metrics.mean_average_precision(x, membership),
                "f_beta": metrics.f_beta(x, membership),
                "average_precision_within": metrics.average_precision_within(x, membership, strata),
                "mean_average_precision_within": metrics.mean_average_precision_within(x, membership, strata)}
    for name, value in expected.items():
        assert catalog.METRICS[name].compute(evaluation) == pytest.approx(value, abs=1e-12), name
    assert catalog.METRICS["ami"].compute(evaluation) is evaluation.search  # one AMI search for both sampled metrics


def test_a_new_metric_is_one_record(monkeypatch):
    f1 = catalog.Metric(
        "f_1", "F1 (max over thresholds)", "F1: the maximal F-score with beta 1 on the pooled pairs.",
        compute=lambda e: metrics.f_beta(e.features, e.membership, beta=1.0, ranking=e.ranking),
        resampled=lambda e: significance.bootstrap_pooled(e.features, e.membership, e.weights, beta=1.0,
                                                          ranking=e.ranking)[1])
    monkeypatch.setattr(catalog, "METRICS", MappingProxyType({**catalog.METRICS, "f_1": f1}))
    monkeypatch.setattr(score, "METRICS", (*score.METRICS, "f_1"))
    proteins = [f"P{i}" for i in range(10)]
    x = np.random.default_rng(1).normal(size=(10, 6))
    table = score.score_representation(proteins, x, {"toy": STANDARD}, metrics=["f_beta", "f_1"], n_bootstrap=20)
    row = table.set_index("metric").loc["f_1"]
    membership, _ = metrics.membership_matrix(STANDARD, proteins)
    inside = membership.any(axis=1)
    assert row["value"] == pytest.approx(metrics.f_beta(x[inside], membership[inside], beta=1.0))
    assert np.isfinite(row["ci_low"]) and pd.isna(row["chance"])  # no null declared: no chance

