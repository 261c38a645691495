"""Tests of eval.significance against direct computations (scikit-learn with sample weights, scipy)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import false_discovery_control
from sklearn.metrics import average_precision_score, precision_recall_curve

from eval import metrics, significance


def _case(n=40, k=5, seed=0, ties=False):
    rng = np.random.default_rng(seed)
    membership = rng.random((n, k)) < 0.25
    membership[~membership.any(axis=1), 0] = True
    features = rng.normal(size=(n, 6)) + membership @ rng.normal(size=(k, 6))
    if ties:
        features = np.round(features)
        features[:, 0], features[:, 1] = -9.0, 9.0
    return features, membership


@pytest.mark.parametrize("ties", [False, True])
def test_bootstrap_pooled_equals_weighted_sklearn_on_resampled_pairs(ties):
    features, membership = _case(seed=1, ties=ties)
    weights = significance.bootstrap_weights([f"P{i}" for i in range(len(features))], n_resamples=5, seed=2)
    ap, f = significance.bootstrap_pooled(features, membership, weights)
    upper = np.triu_indices(len(features), 1)
    scores = np.round(np.corrcoef(features), 12)[upper]
    labels = ((membership.astype(int) @ membership.T.astype(int)) > 0)[upper]
    for b, w in enumerate(weights):
        pair_w = (np.outer(w, w))[upper]  # copies of one protein are not a pair
        keep = pair_w > 0
        expected = average_precision_score(labels[keep], scores[keep], sample_weight=pair_w[keep])
        assert ap[b] == pytest.approx(expected, abs=1e-12)
        precision, recall, _ = precision_recall_curve(labels[keep], scores[keep], sample_weight=pair_w[keep])
        with np.errstate(invalid="ignore"):
            best = np.nanmax(1.25 * precision * recall / (0.25 * precision + recall))
        assert f[b] == pytest.approx(best, abs=1e-12)


def test_bootstrap_of_all_ones_is_the_point_estimate():
    features, membership = _case(seed=3)
    strata = np.random.default_rng(3).random((len(features), 2)) < 0.6
    ones = np.ones((1, len(features)), dtype=int)
    out = significance.bootstrap_metrics(features, membership, ones, significance.BOOTSTRAP_METRICS, strata=strata)
    assert out["average_precision_within"][0] == pytest.approx(
        metrics.average_precision_within(features, membership, strata), abs=1e-12)
    assert out["mean_average_precision_within"][0] == pytest.approx(
        metrics.mean_average_precision_within(features, membership, strata), abs=1e-12)
    assert out["average_precision"][0] == pytest.approx(metrics.average_precision(features, membership), abs=1e-12)
    assert out["f_beta"][0] == pytest.approx(metrics.f_beta(features, membership), abs=1e-12)
    assert out["mean_average_precision"][0] == pytest.approx(
        metrics.mean_average_precision(features, membership), abs=1e-12)


def test_bootstrap_mean_equals_mean_of_drawn_proteins():
    features, membership = _case(seed=4)
    ap = metrics.protein_average_precision(features, membership)
    rng = np.random.default_rng(5)
    draws = rng.integers(0, len(ap), size=(3, len(ap)))
    weights = np.stack([np.bincount(d, minlength=len(ap)) for d in draws])
    expected = [np.nanmean(ap[d]) for d in draws]
    np.testing.assert_allclose(significance.bootstrap_mean(ap, weights), expected, atol=1e-12)


def test_bootstrap_weights_keyed_by_id_and_seeded():
    ids = [f"P{i}" for i in range(30)]
    w = significance.bootstrap_weights(ids, n_resamples=20, seed=7)
    assert (w.sum(axis=1) == 30).all()
    perm = np.random.default_rng(0).permutation(30)
    shuffled = significance.bootstrap_weights([ids[i] for i in perm], n_resamples=20, seed=7)
    np.testing.assert_array_equal(shuffled, w[:, perm])
    assert not (significance.bootstrap_weights(ids, n_resamples=20, seed=8) == w).all()


def test_interval_covers_and_p_values():
    rng = np.random.default_rng(9)
    values = rng.normal(0.5, 0.01, size=999)
    low, high = significance.percentile_interval(values)
    assert low < 0.5 < high and high - low == pytest.approx(2 * 1.96 * 0.01, rel=0.1)
    assert significance.paired_p_value(values + 0.1, values) == pytest.approx(2 / 1000)
    assert significance.paired_p_value(values, values[::-1]) > 0.5
    p = np.array([0.01, 0.2, np.nan, 0.03, 0.5])
    q = significance.benjamini_hochberg(p)
    np.testing.assert_allclose(q[[0, 1, 3, 4]], false_discovery_control(p[[0, 1, 3, 4]]))
    assert np.isnan(q[2])


def test_bootstrap_pooled_within_equals_weighted_sklearn_on_filtered_pairs():
    features, membership = _case(seed=6)
    strata = np.random.default_rng(6).random((len(features), 3)) < 0.4
    weights = significance.bootstrap_weights([f"P{i}" for i in range(len(features))], n_resamples=20, seed=1)
    ranking = metrics.Ranking(features, membership)
    ap, _ = significance.bootstrap_pooled(features, membership, weights, strata=strata, ranking=ranking)
    upper = np.triu_indices(len(features), 1)
    s = strata.astype(int)
    shared = (s @ s.T > 0)[upper]
    scores = np.round(np.corrcoef(features), 12)[upper][shared]
    labels = ((membership.astype(int) @ membership.T.astype(int)) > 0)[upper][shared]
    for b, w in enumerate(weights):
        pair_w = np.outer(w, w)[upper][shared]
        keep = pair_w > 0
        expected = average_precision_score(labels[keep], scores[keep], sample_weight=pair_w[keep])
        assert ap[b] == pytest.approx(expected, abs=1e-12)
    assert len(set(np.round(ap, 9))) > 10  # the resamples differ


def test_bootstrap_metrics_raises_within_without_strata():
    features, membership = _case()
    with pytest.raises(ValueError, match="pass strata"):
        significance.bootstrap_metrics(features, membership, np.ones((1, len(features)), int),
                                       ["mean_average_precision_within"])
