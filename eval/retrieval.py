"""Per-group retrieval: the mAP of each group, its permutation p-value and FDR, as copairs computes them (numpy).

Each member i of a group g is one query: it ranks every other protein of the
universe by similarity (:attr:`eval.metrics.Ranking.partner_order`); the other
members of g are the positives, every protein outside g is a negative (one group
against the rest, so a member of i's other groups that is not in g is a negative
of this query). AP_{i,g} is copairs' average precision of that ranking and the
group's mAP is the mean over its members.

The p-value is copairs' (``copairs.map.mean_average_precision``): every query has
the configuration (``n_members - 1`` positives, ``n_universe - 1`` ranked); for
each distinct configuration, in sorted order, copairs draws a seed from
``numpy.random.default_rng(seed).integers(8096, size=n_configurations)`` and a
null of ``n_permutations`` APs of random rankings (:func:`null_average_precision`,
float32); a group's null is the mean of its members' null rows, and
``p = (#[null > mAP] + 1) / (n_permutations + 1)``. q-values are the
Benjamini-Hochberg adjustment over the groups of one call (copairs'
``multipletests(method="fdr_bh")``). Since every member of a group has the same
configuration, its null is that of a single query, as in copairs.

References
----------
Kalinin A. A. et al. (2025) A versatile information retrieval framework for evaluating profile strength and
similarity (copairs).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from eval import metrics as _metrics
from eval import significance as _significance

__all__ = ["ALPHA", "GroupRetrieval", "group_average_precision", "null_average_precision", "group_retrieval",
           "fraction_retrieved"]

#: false discovery rate below which a group counts as retrieved
ALPHA = 0.05
#: copairs draws each configuration's seed below this bound
_SEED_BOUND = 8096


@dataclass(frozen=True)
class GroupRetrieval:
    """Per-group retrieval of one representation on one standard (arrays over the groups, in column order).

    Attributes
    ----------
    n_members : numpy.ndarray of int
        Members of each group in the universe.
    mean_average_precision : numpy.ndarray of float
        mAP of each group (NaN for a group with fewer than 2 members).
    p_value, q_value : numpy.ndarray of float
        Permutation p-value and its Benjamini-Hochberg adjustment (NaN where the mAP is).
    """

    n_members: np.ndarray
    mean_average_precision: np.ndarray
    p_value: np.ndarray
    q_value: np.ndarray


def group_average_precision(
    features: np.ndarray, membership: np.ndarray, *, ranking: _metrics.Ranking | None = None
) -> list[np.ndarray]:
    """AP of each member of each group retrieving the group's other members among the whole universe.

    Parameters
    ----------
    features : array_like, shape (n, d)
    membership : array_like of bool, shape (n, k)
    ranking : eval.metrics.Ranking, optional
        Of these inputs, to reuse its per-protein rankings.

    Returns
    -------
    list of numpy.ndarray
        One array per group (column of ``membership``): the AP of each member, in row
        order (empty for a group with fewer than 2 members in the universe).

    Examples
    --------
    >>> x = [[1, 2, 3], [1, 2, 4], [3, 2, 1], [4, 2, 1]]
    >>> [ap.round(4).tolist() for ap in group_average_precision(x, [[1, 1], [1, 0], [0, 1], [0, 1]])]
    [[1.0, 1.0], [0.5833, 0.8333, 0.8333]]
    """
    ranking = _metrics._ranking(features, membership, ranking)
    rank = ranking.partner_rank
    values = []
    for column in ranking.membership.T:
        members = np.flatnonzero(column)
        m = len(members)
        if m < 2:
            values.append(np.empty(0))
            continue
        # each member's own rank is n - 1, the largest: sorted last and dropped
        positions = np.sort(rank[np.ix_(members, members)], axis=1)[:, : m - 1]
        values.append((np.arange(1, m) / (positions + 1.0)).sum(axis=1) / (m - 1))
    return values


def null_average_precision(n_positives: int, n_total: int, *, n_permutations: int, seed: int) -> np.ndarray:
    """APs of random rankings with ``n_positives`` among ``n_total`` (``copairs.compute.random_ap``, float32).

    Parameters
    ----------
    n_positives, n_total : int
    n_permutations : int
    seed : int

    Returns
    -------
    numpy.ndarray of float32, shape (n_permutations,)
        Read-only (shared between calls with the same arguments).

    Examples
    --------
    >>> null_average_precision(1, 1, n_permutations=3, seed=0).tolist()
    [1.0, 1.0, 1.0]
    >>> null = null_average_precision(2, 10, n_permutations=4000, seed=1)
    >>> null.dtype, round(float(null.mean()), 2)
    (dtype('float32'), 0.37)
    """
    return _null(int(n_positives), int(n_total), int(n_permutations), int(seed))


@lru_cache(maxsize=4096)
def _null(n_positives: int, n_total: int, n_permutations: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dtype = np.uint16 if n_total < 2**16 else np.uint32
    ranks = np.tile(np.arange(n_total, dtype=dtype), (n_permutations, 1))
    rng.permuted(ranks, axis=1, out=ranks)
    ranks = np.sort(ranks[:, :n_positives], axis=1)
    precision = np.arange(1, n_positives + 1, dtype=np.float32) / (ranks + 1)
    null = (precision.sum(axis=1) / n_positives).astype(np.float32)
    null.flags.writeable = False
    return null


def group_retrieval(
    features: np.ndarray,
    membership: np.ndarray,
    *,
    n_permutations: int = 1000,
    seed: int = 0,
    ranking: _metrics.Ranking | None = None,
) -> GroupRetrieval:
    """mAP of each group with copairs' permutation p-value and Benjamini-Hochberg q-value.

    Parameters
    ----------
    features : array_like, shape (n, d)
    membership : array_like of bool, shape (n, k)
    n_permutations : int, default 1000
        Size of each null distribution (copairs' ``null_size``); the smallest p-value is
        ``1 / (n_permutations + 1)``.
    seed : int, default 0
        copairs' ``seed``.
    ranking : eval.metrics.Ranking, optional
        Of these inputs, to reuse its per-protein rankings.

    Returns
    -------
    GroupRetrieval

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> groups = np.repeat(np.eye(4, dtype=bool), 5, axis=0)
    >>> x = groups @ rng.normal(size=(4, 8)) + 0.3 * rng.normal(size=(20, 8))
    >>> result = group_retrieval(x, groups, n_permutations=200)
    >>> result.mean_average_precision.round(2).tolist(), result.q_value.round(4).tolist()
    ([1.0, 1.0, 1.0, 1.0], [0.005, 0.005, 0.005, 0.005])
    """
    ranking = _metrics._ranking(features, membership, ranking)
    aps = group_average_precision(features, membership, ranking=ranking)
    n_members = np.array([len(ap) for ap in aps], dtype=np.int64)
    n_total = len(ranking.features) - 1
    scored = np.flatnonzero(n_members >= 2)
    configurations = np.unique(n_members[scored] - 1)
    seeds = np.random.default_rng(seed).integers(_SEED_BOUND, size=len(configurations))
    seed_of = dict(zip(configurations.tolist(), seeds.tolist(), strict=True))
    mean_ap = np.full(len(aps), np.nan)
    p_value = np.full(len(aps), np.nan)
    for g in scored:
        m = n_members[g]
        null = null_average_precision(m - 1, n_total, n_permutations=n_permutations, seed=seed_of[m - 1])
        null = np.repeat(null[None], m, axis=0).mean(axis=0)  # copairs: the mean of the members' null rows
        mean_ap[g] = aps[g].mean()
        p_value[g] = (np.count_nonzero(null > np.float32(mean_ap[g])) + 1) / (n_permutations + 1)
    return GroupRetrieval(n_members, mean_ap, p_value, _significance.benjamini_hochberg(p_value))


def fraction_retrieved(q_values: np.ndarray, *, alpha: float = ALPHA) -> float:
    """Share of the tested groups (known q-value) with ``q < alpha``; NaN if none was tested.

    Examples
    --------
    >>> fraction_retrieved(np.array([0.01, 0.2, np.nan, 0.04]))
    0.6666666666666666
    """
    q_values = np.asarray(q_values, dtype=np.float64)
    known = q_values[~np.isnan(q_values)]
    return float((known < alpha).mean()) if known.size else float("nan")
