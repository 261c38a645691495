"""Each null draw equals the metric computed independently (scikit-learn, BIONIC's loop) on the permuted profiles."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, precision_recall_curve

from eval import metrics, nulls

sys.path.insert(0, str(Path(__file__).parent))
from test_metrics import _bionic_module_detection  # noqa: E402  (BIONIC's loop, written out once)


def _case(seed=0, n=40, ties=False):
    rng = np.random.default_rng(seed)
    membership = rng.random((n, 5)) < 0.2
    membership[~membership.any(axis=1), 0] = True
    x = rng.normal(size=(n, 6)) + membership @ rng.normal(size=(5, 6))
    if ties:
        x = np.round(x)
        x[:, 0], x[:, 1] = -9.0, 9.0
    return x, membership


def _pairs(x, membership):
    upper = np.triu_indices(len(x), 1)
    m = membership.astype(int)
    return (m @ m.T > 0)[upper], np.round(np.corrcoef(x), 12)[upper]


@pytest.mark.parametrize("ties", [False, True])
def test_null_pooled_is_sklearn_on_the_permuted_profiles(ties):
    x, membership = _case(1, ties=ties)
    perm = nulls.null_permutations([f"P{i}" for i in range(len(x))], n_draws=6, seed=2)
    ap, f = nulls.null_pooled(metrics.Ranking(x, membership), perm)
    for d in range(len(perm)):
        labels, scores = _pairs(x[perm[d]], membership)
        assert ap[d] == pytest.approx(average_precision_score(labels, scores), abs=1e-12)
        precision, recall, _ = precision_recall_curve(labels, scores)
        with np.errstate(invalid="ignore"):
            assert f[d] == pytest.approx(np.nanmax(1.25 * precision * recall / (0.25 * precision + recall)), abs=1e-12)
    assert len(set(np.round(ap, 9))) > 1


def test_null_protein_average_precision_is_sklearn_per_protein_on_the_permuted_profiles():
    x, membership = _case(3)
    perm = nulls.null_permutations([f"P{i}" for i in range(len(x))], n_draws=4, seed=5)
    values = nulls.null_protein_average_precision(metrics.Ranking(x, membership), perm)
    m = membership.astype(int)
    co = m @ m.T > 0
    for d in range(len(perm)):
        corr = np.corrcoef(x[perm[d]])
        expected = [average_precision_score(co[i, others], corr[i, others]) for i in range(len(x))
                    if co[i, (others := np.arange(len(x)) != i)].any()]
        assert values[d] == pytest.approx(np.mean(expected), abs=1e-12)


def test_null_permutations_are_permutations_keyed_by_protein_id():
    ids = [f"P{i}" for i in range(30)]
    perm = nulls.null_permutations(ids, n_draws=20, seed=7)
    assert (np.sort(perm, axis=1) == np.arange(30)).all()
    order = np.random.default_rng(0).permutation(30)
    shuffled = nulls.null_permutations([ids[i] for i in order], n_draws=20, seed=7)
    for d in range(20):  # the same protein takes the same protein's profile whatever the row order
        assert [ids[order[k]] for k in shuffled[d]] == [ids[k] for k in perm[d][order]]


def test_within_class_null_keeps_each_proteins_class():
    rng = np.random.default_rng(4)
    strata = rng.random((60, 4)) < 0.3
    strata[:5] = False
    draws = nulls.class_permutations(strata, [f"P{i}" for i in range(60)], n_draws=50, seed=1)
    assert [len(rows) for rows, _ in draws] == [int(c.sum()) for c in strata.T if c.sum() >= 2]
    for (rows, perm), column in zip(draws, (c for c in strata.T if c.sum() >= 2), strict=True):
        source = rows[perm]  # the protein whose profile each protein of the class takes, per draw
        assert column[source].all() and (np.sort(source, axis=1) == rows).all()
        assert (source != rows).any()


def test_within_class_null_value_is_sklearn_on_profiles_shuffled_within_the_class():
    x, membership = _case(6, n=50)
    strata = np.zeros((50, 2), dtype=bool)
    strata[:25, 0], strata[20:, 1] = True, True
    ranking = metrics.Ranking(x, membership)
    draws = nulls.class_permutations(strata, [f"P{i}" for i in range(50)], n_draws=3, seed=0)
    for (column, rows, part), (same_rows, perm) in zip(ranking.classes(strata), draws, strict=True):
        np.testing.assert_array_equal(rows, same_rows)
        ap, _ = nulls.null_pooled(part, perm)
        for d in range(3):
            shuffled = x.copy()
            shuffled[rows] = x[rows[perm[d]]]  # profiles move among the proteins of the class only
            labels, scores = _pairs(shuffled[rows], membership[rows])
            assert ap[d] == pytest.approx(average_precision_score(labels, scores), abs=1e-12), column


def test_ami_null_is_bionic_best_cut_on_profiles_shuffled_within_each_sample():
    rng = np.random.default_rng(6)
    x, membership = rng.normal(size=(60, 6)), rng.random((60, 8)) < 0.1
    result = metrics.ami(x, membership, n_samples=2, seed=3, n_null=3)
    per_sample = []
    for sample in range(2):
        truth = metrics.sample_nonoverlapping_groups(membership, seed=3 + sample)
        proteins = np.flatnonzero(truth >= 0)
        draws = np.random.default_rng([3 + sample, 1]).permuted(np.tile(np.arange(len(proteins)), (3, 1)), axis=1)
        # modules shuffled by a draw (protein u takes the module of d[u]) = profiles shuffled by its inverse
        per_sample.append([_bionic_module_detection(x[proteins][np.argsort(d)], truth[proteins]) for d in draws])
    np.testing.assert_allclose(result.null, np.mean(per_sample, axis=0), atol=1e-9)


def test_permutation_summary_smallest_p_is_one_over_draws_plus_one():
    null = np.linspace(0.0, 0.2, 999)
    summary = nulls.permutation_summary(0.5, null)
    assert summary["p_null"] == 1 / 1000
    assert summary["chance"] == pytest.approx(0.1)
    assert nulls.permutation_summary(0.1, null)["p_null"] == pytest.approx((500 + 1) / 1000)
