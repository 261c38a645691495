"""Within-class AP and mAP against scikit-learn on each class's proteins, written out here."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from eval import metrics


def _case(seed: int, n: int = 50, ties: bool = False):
    """Overlapping groups; classes overlapping too (some proteins in two classes, some in none)."""
    rng = np.random.default_rng(seed)
    membership = rng.random((n, 6)) < 0.2
    strata = rng.random((n, 3)) < 0.4
    strata[:4] = False
    x = rng.normal(size=(n, 8)) + 0.7 * membership @ rng.normal(size=(6, 8)) + strata @ rng.normal(size=(3, 8))
    if ties:
        x = np.round(x)
        x[:, 0], x[:, 1] = -20.0, 20.0
    membership[-3:] = False  # outside the universe
    assert (strata.sum(axis=1) > 1).any()
    return x, membership, strata


def _classes(x, membership, strata):
    """Per class, its universe proteins' correlations and co-membership (written out with numpy)."""
    universe = membership.any(axis=1)
    for column in strata.T:
        rows = np.flatnonzero(universe & column)
        if len(rows) >= 2:
            m = membership[rows].astype(int)
            yield np.round(np.corrcoef(x[rows]), 12), m @ m.T > 0


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_average_precision_within_is_the_mean_over_classes_of_sklearn_ap(seed, ties):
    x, membership, strata = _case(seed, ties=ties)
    expected = []
    for corr, co in _classes(x, membership, strata):
        i, j = np.triu_indices(len(corr), 1)
        if co[i, j].any():
            expected.append(average_precision_score(co[i, j], corr[i, j]))
    assert len(expected) == 3
    assert metrics.average_precision_within(x, membership, strata) == pytest.approx(np.mean(expected), abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mean_average_precision_within_is_the_mean_over_classes_of_sklearn_map(seed):
    x, membership, strata = _case(seed)
    expected = []
    for corr, co in _classes(x, membership, strata):
        per_protein = [average_precision_score(co[i, others], corr[i, others]) for i in range(len(corr))
                       if co[i, (others := np.arange(len(corr)) != i)].any()]
        if per_protein:
            expected.append(np.mean(per_protein))
    assert metrics.mean_average_precision_within(x, membership, strata) == pytest.approx(np.mean(expected),
                                                                                          abs=1e-12)


def test_prevalence_within_is_the_mean_of_the_classes_prevalence():
    x, membership, strata = _case(3)
    expected = [co[np.triu_indices(len(co), 1)].mean() for _, co in _classes(x, membership, strata)]
    assert metrics.prevalence(membership, strata=strata) == pytest.approx(np.mean([e for e in expected if e > 0]))


def test_within_scores_ignore_what_the_classes_explain():
    # two compartments; groups nest in them; a representation that knows only the compartment
    rng = np.random.default_rng(0)
    compartment = np.repeat([0, 1], 20)
    strata = np.eye(2, dtype=bool)[compartment]
    membership = np.eye(4, dtype=bool)[compartment * 2 + np.tile(np.repeat([0, 1], 10), 2)]
    knows_compartment = strata + 0.01 * rng.normal(size=(40, 2))
    pooled = metrics.average_precision(knows_compartment, membership)
    within = metrics.average_precision_within(knows_compartment, membership, strata)
    assert pooled > 0.4 and abs(within - metrics.prevalence(membership, strata=strata)) < 0.15


def test_within_scores_are_nan_without_a_class_of_two():
    x, membership, _ = _case(0)
    strata = np.zeros((len(x), 2), dtype=bool)
    strata[5, 0] = True
    assert np.isnan(metrics.average_precision_within(x, membership, strata))
    assert np.isnan(metrics.mean_average_precision_within(x, membership, strata))


def test_ranking_classes_slice_the_universe_similarities():
    x, membership, strata = _case(4)
    ranking = metrics.Ranking(x, membership)
    for column, rows, part in ranking.classes(strata):
        assert strata[ranking.universe][rows, column].all()
        np.testing.assert_array_equal(part.similarity, ranking.similarity[np.ix_(rows, rows)])


def test_average_precision_within_raises_strata_of_another_length():
    x, membership, strata = _case(0)
    with pytest.raises(ValueError, match="strata must be"):
        metrics.average_precision_within(x, membership, strata[:-1])
