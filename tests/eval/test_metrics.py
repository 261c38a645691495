"""Tests of eval.metrics against independent computations (scikit-learn, copairs, hand-worked cases)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.cluster.hierarchy import fcluster, linkage, maxdists
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


def _bionic_module_detection(features, labels, n_thresholds=500):
    """BIONIC's ``evaluate_features`` written out: best AMI over linkages x distances x inconsistency cuts."""
    best, memo = 0, {}
    for method in ("average", "single", "complete"):
        for metric in ("euclidean", "cosine"):
            distance = pdist(features, metric=metric)
            np.nan_to_num(distance, copy=False)
            link = linkage(distance, method=method)
            for t in np.linspace(0, np.max(maxdists(link)), num=n_thresholds):
                cluster_labels = fcluster(link, t)
                key = cluster_labels.tobytes()
                if key not in memo:  # the same sklearn call on the same labels, once
                    memo[key] = adjusted_mutual_info_score(labels, cluster_labels)
                if memo[key] > best:
                    best = memo[key]
    return best


def _check_ami_is_bionic(features, membership, *, seed, n_samples=10, n_thresholds=500):
    result = metrics.ami(features, membership, n_samples=n_samples, n_thresholds=n_thresholds, seed=seed)
    assert len(result.values) == n_samples
    for sample, clustering in enumerate(result.clusterings):
        truth = metrics.sample_nonoverlapping_groups(membership, seed=seed + sample)
        proteins = np.flatnonzero(truth >= 0)
        np.testing.assert_array_equal(clustering.proteins, proteins)
        expected = _bionic_module_detection(features[proteins], truth[proteins], n_thresholds)
        assert abs(result.values[sample] - expected) < 1e-9
        link = linkage(np.nan_to_num(pdist(features[proteins], metric=clustering.metric)), clustering.method)
        chosen = fcluster(link, clustering.threshold)
        assert adjusted_mutual_info_score(chosen, clustering.labels) == pytest.approx(1.0)
        assert clustering.score == pytest.approx(adjusted_mutual_info_score(truth[proteins], chosen), abs=1e-9)
    assert result.mean == pytest.approx(result.values.mean())
    assert result.sd == pytest.approx(result.values.std(ddof=1) if n_samples > 1 else 0.0)
    return result


def test_ami_equals_bionic_loop_synthetic():
    features, membership = _random_case(n=60, d=6, k=8, p=0.1, seed=6)
    _check_ami_is_bionic(features, membership, seed=3, n_samples=1)


def test_ami_is_never_negative_and_independent_of_n_jobs():
    features, membership = _random_case(n=40, d=5, k=6, p=0.15, seed=8)  # pure noise: AMI near 0
    serial = metrics.ami(features, membership, n_samples=4, seed=2)
    parallel = metrics.ami(features, membership, n_samples=4, seed=2, n_jobs=2)
    assert (serial.values >= 0).all()
    np.testing.assert_array_equal(serial.values, parallel.values)
    for a, b in zip(serial.clusterings, parallel.clusterings, strict=True):
        np.testing.assert_array_equal(a.labels, b.labels)


def test_ami_equals_bionic_loop_on_real_modules(standards_dir):
    complexes = standards.from_modules_json(standards_dir / "icon_yeast-IntAct-complex-modules.json")
    rng = np.random.default_rng(11)
    proteins = sorted(rng.choice(sorted(set().union(*complexes.values())), size=200, replace=False).tolist())
    kept, _ = standards.restrict(complexes, proteins)
    membership, _ = metrics.membership_matrix(kept, proteins)
    # complex signal, noise and a shared offset (cosine and euclidean disagree); 50 thresholds keep it fast
    features = 0.8 * membership @ rng.normal(size=(membership.shape[1], 16)) + rng.normal(size=(len(proteins), 16)) + 2
    result = _check_ami_is_bionic(features, membership, seed=5, n_thresholds=50)
    assert 0.2 < result.mean < 1


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


def _ap_of_ranking(similarities, relevant):
    order = np.argsort(-similarities, kind="stable")
    rel = relevant[order]
    return float((np.cumsum(rel) / np.arange(1, len(rel) + 1))[rel].mean())


def test_mean_average_precision_overlapping_groups_vs_copairs_multilabel():
    copairs_multilabel = pytest.importorskip("copairs.map.multilabel").average_precision
    rng = np.random.default_rng(13)
    n = 30
    membership = rng.random((n, 5)) < 0.3
    membership[~membership.any(axis=1), 0] = True
    features = rng.normal(size=(n, 8)) + membership @ rng.normal(size=(5, 8))
    sim = np.corrcoef(features)
    shared = (membership.astype(int) @ membership.T.astype(int)) > 0
    assert (membership.sum(axis=1) > 1).sum() >= 5  # proteins in several groups
    assert (~shared).any(axis=1).all()  # every protein has a negative (copairs needs one per query)
    # ours: one ranking per protein over all others; positives = proteins sharing any group
    ours = [_ap_of_ranking(np.delete(sim[i], i), np.delete(shared[i], i)) for i in range(n)]
    assert metrics.mean_average_precision(features, membership) == pytest.approx(np.mean(ours), abs=1e-12)
    # copairs multilabel: one ranking per (protein, group); positives = that group's other members,
    # negatives = proteins sharing no group; members of the protein's other groups are left out
    meta = pd.DataFrame({"protein": np.arange(n),
                         "groups": [[f"g{j}" for j in np.flatnonzero(row)] for row in membership]})
    result = copairs_multilabel(meta, features, pos_sameby=["groups"], pos_diffby=[], neg_sameby=[],
                                neg_diffby=["groups"], multilabel_col="groups", distance="correlation",
                                progress_bar=False)
    expected = {}
    for i in range(n):
        for g in np.flatnonzero(membership[i]):
            keep = (membership[:, g] | ~shared[i]) & (np.arange(n) != i)
            if membership[keep, g].any():
                expected[(i, f"g{g}")] = _ap_of_ranking(sim[i, keep], membership[keep, g])
    theirs = {(i, g): ap for i, g, ap in zip(result["protein"], result["groups"], result["average_precision"], strict=True)}
    assert theirs.keys() == expected.keys()
    for key, value in expected.items():
        assert theirs[key] == pytest.approx(value, abs=1e-6)
    # the two definitions differ on these overlapping groups
    assert abs(np.mean(list(theirs.values())) - metrics.mean_average_precision(features, membership)) > 1e-3
