"""Tests of eval.metrics against independent computations (scikit-learn, copairs, hand-worked cases)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import pdist
from sklearn.metrics import adjusted_mutual_info_score, average_precision_score, precision_recall_curve

from eval import metrics, standards


def _random_case(n=80, d=12, k=10, p=0.12, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.random((n, k)) < p


def _pooled_pairs(features, membership):
    universe = membership.any(axis=1)
    upper = np.triu_indices(universe.sum(), 1)
    m = membership[universe].astype(int)
    return np.round(np.corrcoef(features[universe]), 12)[upper], (m @ m.T > 0)[upper]


def test_pair_labels_and_prevalence_hand_worked():
    membership = [[1, 0], [1, 1], [0, 1], [0, 0]]  # 4th protein outside the universe
    assert metrics.pair_labels(membership).tolist() == [True, False, True]
    assert metrics.prevalence(membership) == pytest.approx(2 / 3)


def test_similarity_is_pearson():
    features, _ = _random_case()
    np.testing.assert_allclose(metrics.similarity(features), np.corrcoef(features), atol=1e-12)


def test_average_precision_matches_sklearn():
    features, membership = _random_case()
    scores, labels = _pooled_pairs(features, membership)
    assert metrics.average_precision(features, membership) == pytest.approx(
        average_precision_score(labels, scores), abs=1e-12)


def test_average_precision_matches_sklearn_with_ties():
    rng = np.random.default_rng(3)
    features = rng.integers(0, 2, size=(40, 4)).astype(float)  # few distinct rows: many tied correlations
    features[:, 0], features[:, 1] = 0.0, 5.0  # no constant row
    membership = rng.random((40, 5)) < 0.3
    scores, labels = _pooled_pairs(features, membership)
    assert len(np.unique(scores)) < len(scores) / 2
    assert metrics.average_precision(features, membership) == pytest.approx(
        average_precision_score(labels, scores), abs=1e-12)


def test_f_beta_is_max_over_thresholds_of_sklearn_curve():
    features, membership = _random_case(seed=1)
    scores, labels = _pooled_pairs(features, membership)
    precision, recall, _ = precision_recall_curve(labels, scores)
    with np.errstate(invalid="ignore"):
        f = np.nan_to_num(1.25 * precision * recall / (0.25 * precision + recall))
    assert metrics.f_beta(features, membership) == pytest.approx(f.max(), abs=1e-12)


def test_f_beta_hand_worked():
    # pairs ranked (0,1) > (1,2) > (0,2) are (pos, neg, pos): the best F0.5 is at the top, P=1, R=1/2
    features = np.array([[0, 1, 2, 3.0], [0, 1, 2, 3.1], [3, 0, 1, 2.0]])
    membership = np.array([[1, 1], [1, 0], [0, 1]], dtype=bool)  # pairs (0,1)+, (0,2)+, (1,2)-
    scores, labels = _pooled_pairs(features, membership)
    assert np.argsort(-scores).tolist() == [0, 2, 1]
    assert labels.tolist() == [True, True, False]
    assert metrics.f_beta(features, membership) == pytest.approx(max(1.25 * 0.5 / 0.75, 1.25 * 2 / 3 / (0.25 * 2 / 3 + 1)))


def test_mean_average_precision_matches_copairs():
    copairs_ap = pytest.importorskip("copairs.map").average_precision
    rng = np.random.default_rng(4)
    n, k = 60, 6
    group = rng.integers(0, k, n)
    features = rng.normal(size=(n, 10)) + 0.7 * np.eye(k)[group] @ rng.normal(size=(k, 10))
    membership = np.eye(k, dtype=bool)[group]
    meta = pd.DataFrame({"group": group.astype(str)})
    result = copairs_ap(meta, features, pos_sameby=["group"], pos_diffby=[], neg_sameby=[], neg_diffby=["group"],
                        distance="correlation", progress_bar=False)
    expected = result["average_precision"].dropna().mean()
    assert metrics.mean_average_precision(features, membership) == pytest.approx(expected, abs=1e-9)


def test_mean_average_precision_hand_worked():
    # protein 0 ranks 1 (pos) then 2 (neg) -> AP 1; protein 1 ranks 0 (pos) -> 1; protein 2 has no positive
    features = np.array([[0, 1, 2, 3.0], [0, 1, 2, 3.1], [3, 0, 1, 2.0]])
    assert metrics.mean_average_precision(features, [[1, 0], [1, 0], [0, 1]]) == pytest.approx(1.0)
    # reversed: protein 0's only positive (2) is ranked second -> AP 1/2, and likewise for protein 2
    ap = metrics.mean_average_precision(features, [[1, 0], [0, 1], [1, 0]])
    assert ap == pytest.approx(np.mean([0.5, 0.5]))


def test_sample_nonoverlapping_groups_hand_worked():
    # groups: A={0,1}, B={1,2}, C={3,4}; C is always accepted, exactly one of A, B
    membership = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1]], dtype=bool)
    seen = set()
    for seed in range(20):
        assigned = metrics.sample_nonoverlapping_groups(membership, seed=seed)
        assert assigned[3] == assigned[4] == 2
        assert tuple(assigned[:3]) in {(0, 0, -1), (-1, 1, 1)}
        seen.add(tuple(assigned[:3]))
        np.testing.assert_array_equal(assigned, metrics.sample_nonoverlapping_groups(membership, seed=seed))
    assert len(seen) == 2


def test_adjusted_mutual_info_matches_sklearn():
    rng = np.random.default_rng(5)
    for n, k1, k2 in ((30, 3, 4), (400, 20, 150), (500, 40, 1), (60, 2, 60)):
        a, b = rng.integers(0, k1, n), rng.integers(0, k2, n)
        assert metrics.adjusted_mutual_info(a, b) == pytest.approx(adjusted_mutual_info_score(a, b), abs=1e-10)


def test_ami_equals_brute_force_sklearn_search():
    features, membership = _random_case(n=50, d=6, k=8, p=0.1, seed=6)
    result = metrics.ami(features, membership, n_samples=2, n_thresholds=25, seed=3)
    for sample, clustering in enumerate(result.clusterings):
        truth = metrics.sample_nonoverlapping_groups(membership, seed=3 + sample)
        proteins = np.flatnonzero(truth >= 0)
        np.testing.assert_array_equal(clustering.proteins, proteins)
        best = -1.0
        for metric in metrics.DISTANCE_METRICS:
            distance = np.nan_to_num(pdist(features[proteins], metric=metric))
            for method in metrics.LINKAGE_METHODS:
                link = linkage(distance, method=method)
                for t in np.linspace(0, link[:, 2].max(), 25):
                    best = max(best, adjusted_mutual_info_score(truth[proteins], fcluster(link, t, "distance")))
        assert result.values[sample] == pytest.approx(best, abs=1e-10)
        link = linkage(np.nan_to_num(pdist(features[proteins], metric=clustering.metric)), clustering.method)
        same = adjusted_mutual_info_score(fcluster(link, clustering.threshold, "distance"), clustering.labels)
        assert same == pytest.approx(1.0)
    assert result.mean == pytest.approx(result.values.mean())
    assert result.sd == pytest.approx(result.values.std(ddof=1))


def test_f_beta_clusters_hand_worked():
    features = np.array([[0, 1, 2, 3.0], [0, 1, 2, 3.1], [3, 0, 1, 2.0], [3, 0, 1, 2.2]])
    membership = np.array([[1, 0], [1, 0], [0, 1], [1, 1]], dtype=bool)
    clustering = metrics.Clustering(np.arange(4), np.zeros(4, int), np.array([0, 0, 1, 1]), "average",
                                    "euclidean", 0.0, 0.0)
    # predicted pairs (0,1)+ and (2,3)+ -> P = 1; positives (0,1),(0,3),(1,3),(2,3) -> R = 1/2
    result = metrics.f_beta_clusters(features, membership, clusterings=[clustering])
    assert result.mean == pytest.approx(1.25 * 0.5 / (0.25 + 0.5))


def test_metrics_raise_nonfinite():
    features, membership = _random_case()
    features[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        metrics.average_precision(features, membership)


def test_real_standard_random_profiles_ap_near_prevalence(standards_dir):
    kegg = standards.from_modules_json(standards_dir / "icon_yeast-KEGG-pathway-modules.json")
    proteins = sorted(set().union(*kegg.values()))[:500]
    kept, _ = standards.restrict(kegg, proteins)
    membership, _ = metrics.membership_matrix(kept, proteins)
    features = np.random.default_rng(0).normal(size=(len(proteins), 32))
    prevalence = metrics.prevalence(membership)
    assert metrics.average_precision(features, membership) == pytest.approx(prevalence, rel=0.15)


def test_real_standard_one_hot_profiles_score_near_one(standards_dir):
    complexes = standards.from_modules_json(standards_dir / "icon_yeast-IntAct-complex-modules.json")
    proteins = sorted(set().union(*complexes.values()))[:400]
    kept, _ = standards.restrict(complexes, proteins)
    membership, _ = metrics.membership_matrix(kept, proteins)
    universe = membership.any(axis=1)
    noise = np.random.default_rng(1).normal(scale=1e-3, size=membership.shape)
    features = (membership + noise)[universe]
    member = membership[universe]
    assert metrics.average_precision(features, member) > 0.9
    assert metrics.ami(features, member, n_samples=2, seed=0).mean > 0.9
