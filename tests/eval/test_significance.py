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
    ones = np.ones((1, len(features)), dtype=int)
    ap, f = significance.bootstrap_pooled(features, membership, ones)
    assert ap[0] == pytest.approx(metrics.average_precision(features, membership), abs=1e-12)
    assert f[0] == pytest.approx(metrics.f_beta(features, membership), abs=1e-12)
    mean = significance.bootstrap_mean(metrics.protein_average_precision(features, membership), ones)
    assert mean[0] == pytest.approx(metrics.mean_average_precision(features, membership), abs=1e-12)


def test_bootstrap_pooled_is_nan_for_a_resample_without_a_positive_pair():
    features, membership = _case(seed=5)
    weights = np.zeros((2, len(features)), dtype=int)
    weights[0, 0], weights[1] = len(features), 1  # one protein drawn n times: no pair at all
    ap, f = significance.bootstrap_pooled(features, membership, weights)
    assert np.isnan(ap[0]) and np.isnan(f[0]) and np.isfinite(ap[1])


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


def test_interval_covers():
    rng = np.random.default_rng(9)
    values = rng.normal(0.5, 0.01, size=999)
    low, high = significance.percentile_interval(values)
    assert low < 0.5 < high and high - low == pytest.approx(2 * 1.96 * 0.01, rel=0.1)


@pytest.mark.parametrize("n_resamples", [99, 1000, 2000])
def test_paired_p_value_smallest_attainable_is_one_over_resamples_plus_one(n_resamples):
    rng = np.random.default_rng(n_resamples)
    reference = rng.normal(0.5, 0.01, size=n_resamples)
    assert significance.paired_p_value(reference + 0.1, reference) == 1 / (n_resamples + 1)
    assert significance.paired_p_value(reference - 0.1, reference) == 1.0
    with_nan = np.r_[reference[:-1] + 0.1, np.nan]
    assert significance.paired_p_value(with_nan, reference) == 1 / n_resamples  # an undefined resample drops


def test_paired_p_value_counts_resamples_not_above():
    d = np.r_[np.full(90, 0.1), np.zeros(5), np.full(5, -0.1)]
    assert significance.paired_p_value(d, np.zeros(100)) == pytest.approx(11 / 101)


def test_sign_flip_p_value_is_the_exact_share_of_sign_assignments():
    rng = np.random.default_rng(3)
    values, reference = rng.normal(0.3, 0.1, size=8), rng.normal(0.25, 0.1, size=8)
    d = values - reference
    flips = [np.dot(signs, d) for signs in np.array(np.meshgrid(*[[1, -1]] * 8)).T.reshape(-1, 8)]
    expected = np.mean(np.array(flips) >= d.sum() - 1e-12)
    assert significance.sign_flip_p_value(values, reference) == pytest.approx(expected)
    assert significance.sign_flip_p_value(np.full(10, 0.3), np.full(10, 0.1)) == 1 / 2**10


def test_sign_flip_p_value_raises_more_than_twenty_samples():
    with pytest.raises(ValueError, match="1 to 20"):
        significance.sign_flip_p_value(np.ones(21), np.zeros(21))


def test_benjamini_hochberg_is_scipy_and_keeps_nan():
    p = np.array([0.01, 0.2, np.nan, 0.03, 0.5])
    q = significance.benjamini_hochberg(p)
    np.testing.assert_allclose(q[[0, 1, 3, 4]], false_discovery_control(p[[0, 1, 3, 4]]))
    assert np.isnan(q[2])
