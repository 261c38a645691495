"""Tests of eval.retrieval against copairs itself (per-group mAP, permutation p-values, BH FDR)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eval import metrics, retrieval


def _case(n=70, k=9, seed=0):
    """Overlapping groups of several sizes (pairs too) with some signal, plus proteins outside every group."""
    rng = np.random.default_rng(seed)
    membership = rng.random((n, k)) < np.linspace(0.06, 0.3, k)
    membership[:5] = False  # outside the universe
    membership[5:7, 0], membership[7:, 0] = True, False  # a group of two
    membership[5:8, 1] = True  # at least three
    assert (membership.sum(axis=0) >= 2).all()
    features = rng.normal(size=(n, 12)) + 0.8 * membership @ rng.normal(size=(k, 12))
    return features, membership


def _copairs_groups(features, membership, *, null_size, seed, cache_dir):
    """copairs on the universe: per group, its members' queries (positives: the other members, negatives: the
    proteins outside the group), all queries in one ``mean_average_precision`` call."""
    copairs_map = pytest.importorskip("copairs.map")
    universe = membership.any(axis=1)
    x, m = features[universe], membership[universe]
    frames = []
    for g in range(m.shape[1]):
        label = np.where(m[:, g], f"g{g}", [f"other{i}" for i in range(len(x))])  # only members pair up
        meta = pd.DataFrame({"label": label})
        ap = copairs_map.average_precision(meta, x, pos_sameby=["label"], pos_diffby=[], neg_sameby=[],
                                           neg_diffby=["label"], distance="correlation", progress_bar=False)
        frames.append(ap[m[:, g]].assign(group=g))
    scores = pd.concat(frames, ignore_index=True)
    result = copairs_map.mean_average_precision(scores, sameby=["group"], null_size=null_size, threshold=0.05,
                                                seed=seed, progress_bar=False, cache_dir=cache_dir)
    return scores, result.set_index("group").sort_index()


def test_group_retrieval_equals_copairs(tmp_path):
    features, membership = _case()
    scores, expected = _copairs_groups(features, membership, null_size=500, seed=3, cache_dir=tmp_path)
    ours = retrieval.group_retrieval(features, membership, n_permutations=500, seed=3)
    aps = retrieval.group_average_precision(features, membership)
    for g, ap in enumerate(aps):
        np.testing.assert_allclose(ap, scores.loc[scores["group"] == g, "average_precision"], atol=1e-9)
    universe = membership.any(axis=1)
    assert ours.n_members.tolist() == membership[universe].sum(axis=0).tolist()
    assert expected.index.tolist() == list(range(membership.shape[1]))
    np.testing.assert_allclose(ours.mean_average_precision, expected["mean_average_precision"], atol=1e-9)
    np.testing.assert_allclose(ours.p_value, expected["p_value"], atol=1e-9)
    np.testing.assert_allclose(ours.q_value, expected["corrected_p_value"], atol=1e-9)
    assert 0 < (ours.q_value < 0.05).sum() < len(ours.q_value)  # some retrieved, some not: a mix-up would show


def test_null_average_precision_equals_copairs_random_ap():
    compute = pytest.importorskip("copairs.compute")
    for n_positives, n_total, seed in ((1, 40, 0), (7, 300, 11), (25, 61, 4)):
        ours = retrieval.null_average_precision(n_positives, n_total, n_permutations=300, seed=seed)
        np.testing.assert_array_equal(ours, compute.random_ap(300, n_positives, n_total, seed))


def test_group_average_precision_hand_worked():
    # protein 0 ranks 1, 2, 3 (1 is closest); group {0, 2}: 0 finds 2 at rank 2 -> AP 1/2
    features = np.array([[0, 1, 2, 3.0], [0, 1, 2, 3.1], [0, 1, 2.5, 3], [3, 0, 1, 2.0]])
    aps = retrieval.group_average_precision(features, [[1, 1], [0, 1], [1, 0], [0, 0]])
    sim = np.corrcoef(features)
    rank_of_2_for_0 = 1 + int((sim[0, [1, 3]] > sim[0, 2]).sum())
    rank_of_0_for_2 = 1 + int((sim[2, [1, 3]] > sim[2, 0]).sum())
    np.testing.assert_allclose(aps[0], [1 / rank_of_2_for_0, 1 / rank_of_0_for_2])
    assert rank_of_2_for_0 == 2


def test_fraction_retrieved_counts_q_below_alpha():
    q = np.array([0.001, 0.049, 0.05, 0.5, np.nan])
    assert retrieval.fraction_retrieved(q) == pytest.approx(2 / 4)
    assert np.isnan(retrieval.fraction_retrieved(np.array([np.nan])))


def test_group_retrieval_reuses_a_ranking():
    features, membership = _case(seed=2)
    ranking = metrics.Ranking(features, membership)
    a = retrieval.group_retrieval(features, membership, n_permutations=100, ranking=ranking)
    b = retrieval.group_retrieval(features, membership, n_permutations=100)
    np.testing.assert_array_equal(a.p_value, b.p_value)
    np.testing.assert_array_equal(a.mean_average_precision, b.mean_average_precision)
