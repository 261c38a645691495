"""One representation on one standard: the shared computations, each done once, keyed by protein id."""

from __future__ import annotations

import numpy as np
import pytest

from eval import significance
from eval.evaluation import Evaluation


def _case(n=30, seed=0):
    rng = np.random.default_rng(seed)
    membership = rng.random((n, 4)) < 0.3
    membership[~membership.any(axis=1), 0] = True
    return rng.normal(size=(n, 5)), membership, [f"P{i}" for i in range(n)]


def test_evaluation_computes_shared_passes_once():
    x, membership, ids = _case()
    evaluation = Evaluation(x, membership, ids=ids, n_bootstrap=10, n_null=5)
    assert evaluation.pooled_bootstrap is evaluation.pooled_bootstrap and evaluation.search is evaluation.search
    ap, f = significance.bootstrap_pooled(x, membership, significance.bootstrap_weights(ids, n_resamples=10))
    np.testing.assert_allclose(evaluation.pooled_bootstrap[0], ap)
    np.testing.assert_allclose(evaluation.pooled_bootstrap[1], f)
    assert evaluation.pooled_null[0].shape == (5,) and evaluation.search.null.shape == (5,)


def test_evaluation_resamples_and_draws_follow_the_protein_ids():
    x, membership, ids = _case()
    order = np.random.default_rng(1).permutation(len(ids))
    a = Evaluation(x, membership, ids=ids, n_bootstrap=10, n_null=5)
    b = Evaluation(x[order], membership[order], ids=[ids[i] for i in order], n_bootstrap=10, n_null=5)
    np.testing.assert_allclose(a.pooled_bootstrap[0], b.pooled_bootstrap[0], atol=1e-12)
    np.testing.assert_allclose(a.pooled_null[0], b.pooled_null[0], atol=1e-12)


def test_evaluation_raises_ids_of_another_length():
    x, membership, ids = _case()
    with pytest.raises(ValueError, match="ids must name the 30 rows"):
        Evaluation(x, membership, ids=ids[:-1])


def test_evaluation_raises_rows_outside_the_universe():
    x, membership, ids = _case()
    membership[3] = False
    with pytest.raises(ValueError, match="universe's proteins only"):
        Evaluation(x, membership, ids=ids)


def test_evaluation_raises_within_metric_without_strata():
    x, membership, ids = _case()
    with pytest.raises(ValueError, match="pass strata"):
        _ = Evaluation(x, membership, ids=ids).classes
