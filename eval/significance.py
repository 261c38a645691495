"""Uncertainty and significance of scores: bootstrap over proteins, paired comparisons, FDR (numpy kernels).

A bootstrap resample draws the universe's proteins with replacement; it is kept
as the number of times each protein is drawn (``weights``), so every statistic
reuses the similarity ranking of the full universe:

- pooled AP and F-beta of a resample are those of its pairs of distinct draws:
  the pair (i, j) of proteins counts ``w_i * w_j`` times (copies of one protein
  are not a pair);
- mAP of a resample is the mean of the drawn proteins' AP (each protein keeps the
  AP of its ranking of the full universe).

Resamples are keyed by protein id: two representations with the same universe get
the same resamples, so their bootstrap values are paired, and :func:`paired_p_value`
tests one against the other on them. Scores computed on AMI's module samples are
paired by sample instead (:func:`sign_flip_p_value`).

References
----------
Efron B., Tibshirani R. (1993) An Introduction to the Bootstrap. Chapman & Hall (percentile intervals).
Benjamini Y., Hochberg Y. (1995) Controlling the false discovery rate. J. R. Stat. Soc. B 57:289-300.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np
from scipy.stats import false_discovery_control

from eval import metrics as _metrics

__all__ = [
    "bootstrap_weights",
    "bootstrap_pooled",
    "bootstrap_mean",
    "percentile_interval",
    "paired_p_value",
    "sign_flip_p_value",
    "benjamini_hochberg",
]

#: resamples handled together by one thread of the pooled bootstrap (their int16 weights of 4,000 proteins: 1 MB)
_BLOCK = 128
#: universe size up to which the weighted pair counts of a resample fit int32 (sum of w_i w_j <= n**2 / 2)
_MAX_PROTEINS = 46_000

def bootstrap_weights(ids: Sequence[str], *, n_resamples: int, seed: int = 0) -> np.ndarray:
    """How many times each protein is drawn in each of ``n_resamples`` bootstrap resamples.

    The draws are made over the sorted ids, so the same set of ids in any row order
    gets the same resamples.

    Parameters
    ----------
    ids : sequence of str
        The universe's protein ids, in row order (unique).
    n_resamples : int
    seed : int, default 0

    Returns
    -------
    numpy.ndarray of int16, shape (n_resamples, len(ids))
        Each row sums to ``len(ids)``.

    Examples
    --------
    >>> w = bootstrap_weights(["b", "a", "c"], n_resamples=4, seed=1)
    >>> w.sum(axis=1).tolist()
    [3, 3, 3, 3]
    >>> (bootstrap_weights(["a", "c", "b"], n_resamples=4, seed=1)[:, [2, 0, 1]] == w).all()
    np.True_
    """
    ids = np.asarray([str(i) for i in ids])
    n = len(ids)
    order = np.argsort(ids, kind="stable")
    draws = np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))
    counts = np.bincount((draws + n * np.arange(n_resamples)[:, None]).ravel(), minlength=n_resamples * n)
    weights = np.empty((n_resamples, n), dtype=np.int16)
    weights[:, order] = counts.reshape(n_resamples, n)
    return weights


def bootstrap_pooled(
    features: np.ndarray,
    membership: np.ndarray,
    weights: np.ndarray,
    *,
    beta: float = 0.5,
    ranking: _metrics.Ranking | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Pooled AP and maximal F-beta of each resample, from one ranking of the universe's pairs.

    Parameters
    ----------
    features : array_like, shape (n, d)
    membership : array_like of bool, shape (n, k)
        Every row in a group (the universe), as ``weights`` counts them.
    weights : array_like of int, shape (n_resamples, n)
        From :func:`bootstrap_weights`.
    beta : float, default 0.5
    ranking : eval.metrics.Ranking, optional
        Of these inputs, to reuse the point estimates' ranking.

    Returns
    -------
    ap, f : numpy.ndarray, shape (n_resamples,)
        NaN for a resample without a positive pair (the AP of nothing to retrieve is undefined).

    Examples
    --------
    >>> x = [[1, 2, 3], [1, 2, 4], [3, 2, 1], [4, 2, 1]]
    >>> ap, f = bootstrap_pooled(x, [[1, 0], [1, 0], [0, 1], [0, 1]], [[1, 1, 1, 1], [2, 0, 1, 1]])
    >>> ap.round(4).tolist(), f.round(4).tolist()
    ([1.0, 1.0], [1.0, 1.0])
    """
    ranking = _metrics._ranking(features, membership, ranking)
    weights = np.asarray(weights)
    n = len(ranking.universe)
    if weights.ndim != 2 or weights.shape[1] != n or not ranking.universe.all():
        raise ValueError(f"weights must be (resamples, {n}) over proteins that are all in a group. "
                         f"Received: weights.shape={weights.shape}, {int(ranking.universe.sum())} in a group")
    if n > _MAX_PROTEINS:
        raise ValueError(f"the pooled bootstrap counts weighted pairs in int32: at most {_MAX_PROTEINS} proteins. "
                         f"Received: {n}")
    i, j, labels, last = ranking.pairs
    starts = np.r_[0, last[:-1] + 1]
    holds_positive = np.add.reduceat(labels, starts) > 0
    if not holds_positive.any():
        return np.full(len(weights), np.nan), np.full(len(weights), np.nan)
    stop = last[holds_positive][-1] + 1
    evaluate = np.zeros(stop, dtype=bool)
    evaluate[last[holds_positive]] = True
    index = np.int16 if n < 2**15 else np.int32
    n_blocks = -(-len(weights) // _BLOCK)
    blocks = np.zeros((n_blocks * _BLOCK, n), dtype=np.int16)
    blocks[: len(weights)] = weights
    blocks = np.ascontiguousarray(blocks.reshape(n_blocks, _BLOCK, n).transpose(0, 2, 1))
    ap, f = _weighted_pooled(i[:stop].astype(index), j[:stop].astype(index), labels[:stop], evaluate,
                             np.flatnonzero(labels[:stop]), blocks, beta)
    return ap.ravel()[: len(weights)], f.ravel()[: len(weights)]


@numba.njit(cache=True, parallel=True)
def _weighted_pooled(i, j, labels, evaluate, positive, blocks, beta):
    """AP and max F-beta of each resample over the ranked pairs, the pair (i, j) weighted ``w_i * w_j``.

    ``blocks[b, p, c]`` is the weight of protein p in resample ``b * _BLOCK + c`` (a block's weights stay
    in cache while one thread walks the pairs once); the curve is evaluated at the end of each tie
    group holding a positive (``evaluate``). Weighted pair counts stay below ``n**2 / 2`` (int32 up to
    46,000 proteins; larger universes are refused by :func:`bootstrap_pooled`).
    """
    n_blocks, _, width = blocks.shape
    ap, f = np.full((n_blocks, width), np.nan), np.full((n_blocks, width), np.nan)
    b2 = beta * beta
    for block in numba.prange(n_blocks):
        w = blocks[block]
        total = np.zeros(width, dtype=np.int32)
        for q in positive:
            a, b = w[i[q]], w[j[q]]
            for c in range(width):
                total[c] += np.int32(a[c]) * np.int32(b[c])
        drawn = np.zeros(width, dtype=np.int32)
        hits = np.zeros(width, dtype=np.int32)
        before = np.zeros(width, dtype=np.int32)
        area = np.zeros(width)
        best = np.zeros(width)
        for q in range(len(i)):
            a, b = w[i[q]], w[j[q]]
            if labels[q]:
                for c in range(width):
                    pair = np.int32(a[c]) * np.int32(b[c])
                    drawn[c] += pair
                    hits[c] += pair
            else:
                for c in range(width):
                    drawn[c] += np.int32(a[c]) * np.int32(b[c])
            if evaluate[q]:
                for c in range(width):
                    if total[c] == 0 or drawn[c] == 0:
                        continue
                    precision = hits[c] / drawn[c]
                    recall = hits[c] / total[c]
                    area[c] += (hits[c] - before[c]) * precision
                    before[c] = hits[c]
                    denominator = b2 * precision + recall
                    if denominator > 0:
                        best[c] = max(best[c], (1 + b2) * precision * recall / denominator)
        for c in range(width):
            if total[c] > 0:
                ap[block, c] = area[c] / total[c]
                f[block, c] = best[c]
    return ap, f


def bootstrap_mean(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Mean of ``values`` over each resample's draws, NaN values left out (per-protein AP -> mAP).

    Examples
    --------
    >>> bootstrap_mean(np.array([1.0, 0.0, np.nan]), np.array([[1, 1, 1], [2, 0, 1]])).tolist()
    [0.5, 1.0]
    """
    values = np.asarray(values, dtype=np.float64)
    known = ~np.isnan(values)
    weights = np.asarray(weights, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return weights @ np.where(known, values, 0.0) / (weights @ known)


def percentile_interval(values: np.ndarray, *, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval.

    Examples
    --------
    >>> percentile_interval(np.arange(101.0))
    (2.5, 97.5)
    """
    tail = round((1 - level) / 2 * 100, 10)
    low, high = np.nanpercentile(np.asarray(values, dtype=np.float64), [tail, 100 - tail])
    return float(low), float(high)


def paired_p_value(values: np.ndarray, reference: np.ndarray) -> float:
    """One-sided bootstrap p-value of "``values`` is not above ``reference``" from paired resample values.

    ``p = (#[d <= 0] + 1) / (B + 1)`` with ``d = values - reference`` over the B resamples where both
    are defined; the smallest attainable p is ``1 / (B + 1)``. NaN without such a resample.

    Examples
    --------
    >>> paired_p_value(np.full(999, 0.6), np.full(999, 0.5))
    0.001
    >>> paired_p_value(np.array([0.6, 0.4, np.nan, 0.7]), np.full(4, 0.5))
    0.5
    """
    d = np.asarray(values, dtype=np.float64) - np.asarray(reference, dtype=np.float64)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return float("nan")
    return float((np.count_nonzero(d <= 0) + 1) / (d.size + 1))


def sign_flip_p_value(values: np.ndarray, reference: np.ndarray) -> float:
    """Exact one-sided sign-flip p-value of "``values`` is not above ``reference``" over paired samples.

    Under no difference each paired difference is as likely negative as positive: p is the share
    of the ``2**S`` sign assignments whose mean difference is at least the observed one (S paired
    samples, e.g. AMI's module samples, at most 20); the smallest attainable p is ``1 / 2**S``.

    Examples
    --------
    >>> sign_flip_p_value(np.full(10, 0.3), np.full(10, 0.1))
    0.0009765625
    >>> sign_flip_p_value(np.array([0.3, 0.1]), np.array([0.1, 0.3]))
    0.75
    """
    d = np.asarray(values, dtype=np.float64) - np.asarray(reference, dtype=np.float64)
    if d.size == 0 or d.size > 20 or not np.isfinite(d).all():
        raise ValueError(f"sign_flip_p_value takes 1 to 20 finite paired differences. Received: {d.size}")
    signs = 1 - 2 * ((np.arange(2**d.size)[:, None] >> np.arange(d.size)) & 1)
    flipped = signs @ d
    return float(np.count_nonzero(flipped >= d.sum() - 1e-12) / len(flipped))


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (``scipy.stats.false_discovery_control``); NaN stays NaN.

    Examples
    --------
    >>> benjamini_hochberg(np.array([0.01, np.nan, 0.04, 0.03])).round(3).tolist()
    [0.03, nan, 0.04, 0.04]
    """
    p_values = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full_like(p_values, np.nan)
    known = ~np.isnan(p_values)
    if known.any():
        adjusted[known] = false_discovery_control(p_values[known], method="bh")
    return adjusted
