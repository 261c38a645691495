"""Null distributions of the metrics: the same metric on permuted profiles (numpy and numba kernels).

A null draw keeps the standard and the representation's profiles and breaks their
association: protein ``u`` takes the profile of protein ``perm[u]`` for a uniformly
random permutation ``perm`` of the universe (the *permuted-profile null*). The metric
is then computed exactly as on the real profiles, so the null's mean is the metric's
chance level for this representation and standard, and its spread is what chance alone
can give. Within a localization class the permutation moves profiles only among the
proteins of that class (the *within-class null*; :func:`class_permutations`).

The kernels reuse the representation's own ranking (:class:`eval.metrics.Ranking`): the
profiles of a draw are the same set, so the pair of proteins ``(a, b)`` of the draw has
the similarity of the pair ``(perm[a], perm[b])`` of the representation, and its per-protein
rankings are the representation's rankings relabelled. Per draw this costs the standard's
positive pairs, not all pairs.

Draws are made over the sorted protein ids (like :func:`eval.significance.bootstrap_weights`),
so two representations of the same proteins get the same draws.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np

from eval import metrics as _metrics

__all__ = ["null_permutations", "class_permutations", "null_pooled", "null_protein_average_precision",
           "permutation_summary"]

#: de Bruijn sequence and table: the index of the lowest set bit of a 64-bit word
_DE_BRUIJN = np.uint64(0x03F79D71B4CB0A89)
_DE_BRUIJN_INDEX = np.array([0, 1, 48, 2, 57, 49, 28, 3, 61, 58, 50, 42, 38, 29, 17, 4, 62, 55, 59, 36, 53, 51, 43,
                             22, 45, 39, 33, 30, 24, 18, 12, 5, 63, 47, 56, 27, 60, 41, 37, 16, 54, 35, 52, 21, 44,
                             32, 23, 11, 46, 26, 40, 15, 34, 20, 31, 10, 25, 14, 19, 9, 13, 8, 7, 6], dtype=np.int64)
#: draws handled by one thread of the kernels (each thread keeps one bitmap of the pairs)
_CHUNK = 8


def null_permutations(ids: Sequence[str], *, n_draws: int, seed: int | Sequence[int] = 0) -> np.ndarray:
    """Seeded uniform permutations of the proteins: draw ``d`` gives protein ``u`` the profile of ``perm[d, u]``.

    The draws are made over the sorted ids, so the same set of ids in any row order gets the
    same null (paired across representations by protein).

    Parameters
    ----------
    ids : sequence of str
        The universe's protein ids, in row order (unique).
    n_draws : int
    seed : int or sequence of int, default 0
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    numpy.ndarray of int32, shape (n_draws, len(ids))
        Each row a permutation of ``range(len(ids))``.

    Examples
    --------
    >>> perm = null_permutations(["b", "a", "c"], n_draws=2, seed=1)
    >>> sorted(perm[0].tolist()) == [0, 1, 2]
    True
    >>> other = null_permutations(["a", "c", "b"], n_draws=2, seed=1)
    >>> ids, again = ["b", "a", "c"], ["a", "c", "b"]
    >>> [ids[k] for k in perm[0]] == [again[k] for k in other[0][[2, 0, 1]]]
    True
    """
    ids = np.asarray([str(i) for i in ids])
    order = np.argsort(ids, kind="stable").astype(np.int32)
    n = len(ids)
    draws = np.random.default_rng(seed).permuted(np.tile(np.arange(n, dtype=np.int32), (n_draws, 1)), axis=1)
    perm = np.empty((n_draws, n), dtype=np.int32)
    perm[:, order] = order[draws]
    return perm


def class_permutations(strata: np.ndarray, ids: Sequence[str], *, n_draws: int,
                       seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """The within-class null: for each class, permutations of its proteins only.

    Parameters
    ----------
    strata : array_like of bool, shape (n, c)
        Class membership of each protein (a protein may be in several classes or none).
    ids : sequence of str
        Protein ids, in row order.
    n_draws : int
    seed : int, default 0
        Class ``k`` draws with :func:`null_permutations` seeded ``[seed, k]``.

    Returns
    -------
    list of (rows, perm)
        Per class (column of ``strata``) with at least 2 proteins: its rows (int, ascending) and
        ``perm`` (n_draws x len(rows)), positions into ``rows``: in draw ``d`` the protein
        ``rows[i]`` takes the profile of ``rows[perm[d, i]]``, a protein of the same class.

    Examples
    --------
    >>> strata = [[1, 0], [0, 1], [1, 0], [1, 1]]
    >>> [(rows.tolist(), perm.shape) for rows, perm in class_permutations(strata, list("abcd"), n_draws=3)]
    [([0, 2, 3], (3, 3)), ([1, 3], (3, 2))]
    """
    strata = np.asarray(strata).astype(bool)
    ids = [str(i) for i in ids]
    out = []
    for k, column in enumerate(strata.T):
        rows = np.flatnonzero(column)
        if len(rows) >= 2:
            out.append((rows, null_permutations([ids[r] for r in rows], n_draws=n_draws, seed=[seed, k])))
    return out


def _positive_pairs(ranking: _metrics.Ranking) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.nonzero(np.triu(ranking.co_membership, 1))
    return a.astype(np.int32), b.astype(np.int32)


def null_pooled(ranking: _metrics.Ranking, perm: np.ndarray, *, beta: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Pooled AP and maximal F-beta of each null draw, from the representation's pair ranking.

    Draw ``d`` scores the profiles ``features[perm[d]]`` against the standard: the pair (a, b)
    has the similarity of the representation's pair (perm[a], perm[b]); ties are grouped as
    :func:`eval.metrics.average_precision` groups them.

    Parameters
    ----------
    ranking : eval.metrics.Ranking
        Of the representation on the standard's universe.
    perm : array_like of int, shape (n_draws, n_universe)
        From :func:`null_permutations`.
    beta : float, default 0.5

    Returns
    -------
    ap, f : numpy.ndarray, shape (n_draws,)
        NaN when the standard has no positive pair.

    Examples
    --------
    >>> x = [[1, 2, 3], [1, 2, 4], [3, 2, 1], [4, 2, 1]]
    >>> ranking = _metrics.Ranking(x, [[1, 0], [1, 0], [0, 1], [0, 1]])
    >>> ap, f = null_pooled(ranking, [[0, 1, 2, 3], [0, 2, 1, 3]])
    >>> ap.round(4).tolist(), f.round(4).tolist()
    ([1.0, 0.3333], [1.0, 0.3846])
    """
    perm = np.ascontiguousarray(perm, dtype=np.int32)
    a, b = _positive_pairs(ranking)
    if len(a) == 0:
        return np.full(len(perm), np.nan), np.full(len(perm), np.nan)
    _, _, _, last = ranking.pairs
    group_end = np.repeat(last, np.diff(last, prepend=-1)).astype(np.int32)
    return _pooled_null(a, b, ranking.pair_position, group_end, len(ranking.features), perm, beta)


@numba.njit(cache=True)
def _lowest_bit(word):
    return _DE_BRUIJN_INDEX[((word & (~word + np.uint64(1))) * _DE_BRUIJN) >> np.uint64(58)]


@numba.njit(cache=True, parallel=True)
def _pooled_null(a, b, position, group_end, n, perm, beta):
    """AP and max F-beta per draw: the positives' positions set in a bitmap, read back in rank order."""
    n_draws, n_positive = len(perm), len(a)
    n_words = (len(position) + 63) // 64
    ap, f = np.empty(n_draws), np.empty(n_draws)
    b2 = beta * beta
    for chunk in numba.prange((n_draws + _CHUNK - 1) // _CHUNK):
        bits = np.zeros(n_words, dtype=np.uint64)
        for d in range(chunk * _CHUNK, min((chunk + 1) * _CHUNK, n_draws)):
            p = perm[d]
            for k in range(n_positive):
                x, y = np.int64(p[a[k]]), np.int64(p[b[k]])
                if x > y:
                    x, y = y, x
                q = position[n * x - x * (x + 1) // 2 + y - x - 1]
                bits[q >> 6] |= np.uint64(1) << np.uint64(q & 63)
            tp, before, end = 0, 0, -1
            area, best = 0.0, 0.0
            for w in range(n_words):
                word = bits[w]
                bits[w] = 0
                while word:
                    q = w * 64 + _lowest_bit(word)
                    word &= word - np.uint64(1)
                    if group_end[q] != end:
                        if end >= 0:
                            precision, recall = tp / (end + 1), tp / n_positive
                            area += (tp - before) * precision
                            before = tp
                            best = max(best, (1 + b2) * precision * recall / (b2 * precision + recall))
                        end = group_end[q]
                    tp += 1
            precision, recall = tp / (end + 1), 1.0
            area += (tp - before) * precision
            best = max(best, (1 + b2) * precision * recall / (b2 * precision + recall))
            ap[d], f[d] = area / n_positive, best
    return ap, f


def null_protein_average_precision(ranking: _metrics.Ranking, perm: np.ndarray) -> np.ndarray:
    """mAP (:func:`eval.metrics.mean_average_precision`) of each null draw, from the per-protein rankings.

    In draw ``d`` protein u ranks its partners v by the similarity of the representation's
    ``perm[d, u]`` and ``perm[d, v]``: the rank of ``perm[d, v]`` in the representation's ranking of
    ``perm[d, u]``'s partners. Tied similarities are ordered by the index of the protein whose
    profile is drawn (:func:`eval.metrics.mean_average_precision` on ``features[perm[d]]`` orders them
    by the drawing protein's index): the same null in distribution, equal draw by draw without ties.

    Parameters
    ----------
    ranking : eval.metrics.Ranking
    perm : array_like of int, shape (n_draws, n_universe)

    Returns
    -------
    numpy.ndarray, shape (n_draws,)
        NaN when no protein has a positive partner.

    Examples
    --------
    >>> x = [[1, 2, 3], [1, 2, 4], [3, 2, 1], [4, 2, 1]]
    >>> ranking = _metrics.Ranking(x, [[1, 0], [1, 0], [0, 1], [0, 1]])
    >>> null_protein_average_precision(ranking, [[0, 1, 2, 3], [0, 2, 1, 3]]).round(4).tolist()
    [1.0, 0.4167]
    """
    perm = np.ascontiguousarray(perm, dtype=np.int32)
    co = ranking.co_membership.copy()
    np.fill_diagonal(co, False)
    counts = co.sum(axis=1)
    if not counts.any():
        return np.full(len(perm), np.nan)
    pointer = np.r_[0, np.cumsum(counts)].astype(np.int64)
    partners = np.nonzero(co)[1].astype(np.int32)
    return _protein_null(ranking.partner_rank, pointer, partners, perm)


@numba.njit(cache=True, parallel=True)
def _protein_null(rank, pointer, partners, perm):
    n_draws, n = perm.shape
    out = np.empty(n_draws)
    widest = 0
    for u in range(n):
        widest = max(widest, pointer[u + 1] - pointer[u])
    for d in numba.prange(n_draws):
        p = perm[d]
        found = np.empty(widest, dtype=np.int32)
        total, counted = 0.0, 0
        for u in range(n):
            k = pointer[u + 1] - pointer[u]
            if k == 0:
                continue
            row = rank[p[u]]
            for t in range(k):
                found[t] = row[p[partners[pointer[u] + t]]]
            ordered = np.sort(found[:k])
            value = 0.0
            for t in range(k):
                value += (t + 1) / (ordered[t] + 1.0)
            total += value / k
            counted += 1
        out[d] = total / counted
    return out


def permutation_summary(value: float, null: np.ndarray, *, level: float = 0.95) -> dict[str, float]:
    """The null's mean, its central ``level`` interval, and the permutation p-value of ``value`` against it.

    ``p = (#[null >= value] + 1) / (n_draws + 1)`` over the finite draws (one-sided: the
    representation is better than its null); the smallest attainable p is ``1 / (n_draws + 1)``.

    Returns
    -------
    dict
        ``chance``, ``chance_low``, ``chance_high`` and ``p_null`` (NaN without finite draws or value).

    Examples
    --------
    >>> permutation_summary(0.9, np.linspace(0.0, 0.5, 99))["p_null"]
    0.01
    """
    null = np.asarray(null, dtype=np.float64)
    null = null[np.isfinite(null)]
    if null.size == 0:
        return {"chance": np.nan, "chance_low": np.nan, "chance_high": np.nan, "p_null": np.nan}
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(null, [tail, 100 - tail])
    p = (np.count_nonzero(null >= value) + 1) / (null.size + 1) if np.isfinite(value) else np.nan
    return {"chance": float(null.mean()), "chance_low": float(low), "chance_high": float(high), "p_null": float(p)}
