"""Within-stratum AP and mAP against scikit-learn on the pairs that share a stratum, written out here."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from eval import metrics


def _case(seed: int, n: int = 40, ties: bool = False):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6))
    if ties:
        x[n // 2:] = x[: n - n // 2]  # duplicated profiles: tied correlations
    membership = rng.random((n, 5)) < 0.25
    membership[-3:] = False  # outside the universe
    strata = rng.random((n, 3)) < 0.4
    return x, membership, strata


def _pairs_sharing(x, membership, strata):
    universe = membership.any(axis=1)
    x, membership, strata = x[universe], membership[universe], strata[universe]
    corr = np.corrcoef(x)
    i, j = np.triu_indices(len(x), 1)
    shared = (strata[i] & strata[j]).any(axis=1)
    labels = (membership[i] & membership[j]).any(axis=1)
    return corr[i, j][shared], labels[shared], x, membership, strata, corr


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_average_precision_within_is_sklearn_on_the_pairs_sharing_a_stratum(seed, ties):
    x, membership, strata = _case(seed, ties=ties)
    scores, labels, *_ = _pairs_sharing(x, membership, strata)
    expected = average_precision_score(labels, np.round(scores, 12))
    assert metrics.average_precision_within(x, membership, strata) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mean_average_precision_within_is_the_mean_of_sklearn_per_protein(seed):
    x, membership, strata = _case(seed)
    _, _, xu, mu, su, corr = _pairs_sharing(x, membership, strata)
    values = []
    for i in range(len(xu)):
        candidates = [j for j in range(len(xu)) if j != i and (su[i] & su[j]).any()]
        y = np.array([(mu[i] & mu[j]).any() for j in candidates])
        if y.any():
            values.append(average_precision_score(y, corr[i, candidates]))
    assert metrics.mean_average_precision_within(x, membership, strata) == pytest.approx(np.mean(values), abs=1e-12)


def test_prevalence_within_counts_only_pairs_sharing_a_stratum():
    x, membership, strata = _case(3)
    _, labels, *_ = _pairs_sharing(x, membership, strata)
    assert metrics.prevalence(membership, strata=strata) == pytest.approx(labels.mean())


def test_within_scores_ignore_what_the_strata_explain():
    # two compartments; groups nest in them; a representation that knows only the compartment
    rng = np.random.default_rng(0)
    compartment = np.repeat([0, 1], 20)
    strata = np.eye(2, dtype=bool)[compartment]
    membership = np.eye(4, dtype=bool)[compartment * 2 + np.tile(np.repeat([0, 1], 10), 2)]
    knows_compartment = strata + 0.01 * rng.normal(size=(40, 2))
    pooled = metrics.average_precision(knows_compartment, membership)
    within = metrics.average_precision_within(knows_compartment, membership, strata)
    chance = metrics.prevalence(membership, strata=strata)
    assert pooled > 0.4 and abs(within - chance) < 0.15


def test_within_scores_are_nan_without_a_shared_stratum():
    x, membership, _ = _case(0)
    strata = np.zeros((len(x), 2), dtype=bool)
    strata[0, 0] = True
    assert np.isnan(metrics.average_precision_within(x, membership, strata))
    assert np.isnan(metrics.mean_average_precision_within(x, membership, strata))


def test_within_scores_refuse_strata_of_another_length():
    x, membership, strata = _case(0)
    with pytest.raises(ValueError, match="strata must be"):
        metrics.average_precision_within(x, membership, strata[:-1])
