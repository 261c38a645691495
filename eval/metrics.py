"""The study's metrics as vectorized numpy kernels (no I/O, no pandas, no logging).

Every function takes ``features`` (proteins x dimensions) and ``membership``
(proteins x groups, boolean). The *universe* of a standard is the proteins in at
least one group; proteins outside it take no part. Pairs are the unordered pairs
of the universe (the upper triangle); a pair is positive iff the two proteins
share a group. Similarity is the Pearson correlation of the two profiles.

The ``*_within`` kernels also take ``strata`` (proteins x strata, boolean; e.g. the
localization classes): only the pairs of proteins sharing a stratum count, as
positives or negatives. A :class:`Ranking` holds the pair ranking and the
per-protein rankings of one input, so that every kernel given it (``ranking=``)
reuses them instead of ranking again.

References
----------
Forster D. T. et al. (2022) BIONIC: biological network integration using convolutions. Nat. Methods 19:1250-1261
(pooled co-annotation AP, maximal F, module-detection AMI protocol).
Kalinin A. A. et al. (2025) A versatile information retrieval framework for evaluating profile strength and
similarity (copairs; per-profile mean average precision).
Vinh N. X., Epps J., Bailey J. (2010) Information theoretic measures for clusterings comparison. JMLR 11:2837-2854.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from scipy.cluster.hierarchy import inconsistent, linkage, maxdists, maxinconsts
from scipy.sparse.csgraph import connected_components
from scipy.spatial.distance import pdist
from scipy.special import gammaln

__all__ = [
    "METRICS",
    "SAMPLED_METRICS",
    "WITHIN_METRICS",
    "LINKAGE_METHODS",
    "DISTANCE_METRICS",
    "Clustering",
    "Ranking",
    "SampledScore",
    "membership_matrix",
    "similarity",
    "pair_labels",
    "prevalence",
    "average_precision",
    "average_precision_within",
    "mean_average_precision",
    "mean_average_precision_within",
    "protein_average_precision",
    "ranked_pairs",
    "f_beta",
    "sample_nonoverlapping_groups",
    "adjusted_mutual_info",
    "ami",
    "f_beta_clusters",
    "compute_metrics",
    "WITHIN_METRICS",
    "average_precision_within",
    "mean_average_precision_within",
]

#: linkage methods searched by :func:`ami` (BIONIC's)
LINKAGE_METHODS = ("average", "single", "complete")
#: distances searched by :func:`ami` (BIONIC's; ``scipy.spatial.distance.pdist`` names)
DISTANCE_METRICS = ("euclidean", "cosine")

_MAP_CHUNK = 256
#: correlations are rounded to this many decimals before ranking, so float noise does not split ties
_TIE_DECIMALS = 12


@dataclass(frozen=True)
class Clustering:
    """The flat clustering chosen for one AMI sample.

    Attributes
    ----------
    proteins : numpy.ndarray of int
        Row indices (into ``features``) of the sampled proteins.
    truth : numpy.ndarray of int
        Sampled group (column of ``membership``) of each protein.
    labels : numpy.ndarray of int
        Cluster of each protein (0-based, numbered by first appearance; the partition of
        ``fcluster(linkage(pdist(features[proteins], metric), method), threshold)``).
    method, metric : str
        Linkage method and distance.
    threshold : float
        ``fcluster`` threshold (inconsistency criterion), the first of BIONIC's thresholds giving ``labels``.
    score : float
        AMI of ``labels`` against ``truth``.
    """

    proteins: np.ndarray
    truth: np.ndarray
    labels: np.ndarray
    method: str
    metric: str
    threshold: float
    score: float


@dataclass(frozen=True)
class SampledScore:
    """A score over seeded samples: mean, sd (ddof=1; 0 for one sample), per-sample values, clusterings."""

    mean: float
    sd: float
    values: np.ndarray
    clusterings: tuple[Clustering, ...]


def membership_matrix(groups: Mapping[str, Iterable[str]], proteins: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Boolean proteins x groups matrix of a standard (ids not in ``proteins`` are ignored).

    Parameters
    ----------
    groups : mapping of str to iterable of str
    proteins : sequence of str
        Row order.

    Returns
    -------
    membership : numpy.ndarray of bool, shape (len(proteins), len(groups))
    names : list of str
        Column order (sorted group names).

    Examples
    --------
    >>> m, names = membership_matrix({"b": {"P2"}, "a": {"P1", "P2"}}, ["P1", "P2", "P3"])
    >>> m.astype(int).tolist(), names
    ([[1, 0], [1, 1], [0, 0]], ['a', 'b'])
    """
    index = {p: i for i, p in enumerate(proteins)}
    names = sorted(groups)
    membership = np.zeros((len(proteins), len(names)), dtype=bool)
    for j, name in enumerate(names):
        rows = [index[p] for p in groups[name] if p in index]
        membership[rows, j] = True
    return membership, names


def _validate(features: np.ndarray, membership: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Check shapes and finiteness; return float64 features and boolean membership of the universe."""
    features, membership, universe = _universe(features, membership)
    return features[universe], membership[universe]


def _universe(features: np.ndarray, membership: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check shapes and finiteness; return float64 features, boolean membership and the universe mask."""
    features = np.asarray(features, dtype=np.float64)
    membership = np.asarray(membership).astype(bool, copy=False)
    if features.ndim != 2 or features.shape[0] == 0 or features.shape[1] == 0:
        raise ValueError(f"features must be a non-empty 2-D array (proteins, dims). Received: shape={features.shape}")
    if membership.ndim != 2 or membership.shape[0] != features.shape[0]:
        raise ValueError(f"membership must be (proteins, groups) with {features.shape[0]} rows. "
                         f"Received: shape={membership.shape}")
    if not np.isfinite(features).all():
        raise ValueError("features contain NaN or infinite values")
    universe = membership.any(axis=1)
    if universe.sum() < 2:
        raise ValueError("fewer than 2 proteins are in a group; nothing to score")
    return features, membership, universe


def similarity(features: np.ndarray) -> np.ndarray:
    """Pearson correlation between every pair of rows.

    Parameters
    ----------
    features : array_like, shape (n, d)

    Returns
    -------
    numpy.ndarray, shape (n, n)

    Raises
    ------
    ValueError
        If a row is constant (its correlation is undefined).

    Examples
    --------
    >>> similarity([[1, 2, 3], [3, 2, 1]]).round(6).tolist()
    [[1.0, -1.0], [-1.0, 1.0]]
    """
    x = np.asarray(features, dtype=np.float64)
    x = x - x.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError(f"constant feature rows have no correlation: rows {np.flatnonzero(norms[:, 0] == 0)[:5].tolist()}")
    x /= norms
    return x @ x.T


def _co_membership(membership: np.ndarray) -> np.ndarray:
    """n x n boolean: do proteins i and j share a group (sparse product)."""
    m = sp.csr_matrix(membership.astype(np.int32))
    return (m @ m.T).toarray() > 0


def pair_labels(membership: np.ndarray) -> np.ndarray:
    """Labels of the unordered pairs of the universe: True iff the pair shares a group.

    Pairs are in ``numpy.triu_indices(n_universe, 1)`` order.

    Parameters
    ----------
    membership : array_like of bool, shape (n, k)

    Returns
    -------
    numpy.ndarray of bool, shape (n_universe * (n_universe - 1) / 2,)

    Examples
    --------
    >>> pair_labels([[1, 0], [1, 0], [0, 1], [0, 0]]).tolist()
    [True, False, False]
    """
    membership = np.asarray(membership).astype(bool)
    membership = membership[membership.any(axis=1)]
    return _co_membership(membership)[np.triu_indices(len(membership), 1)]


def prevalence(membership: np.ndarray, *, strata: np.ndarray | None = None) -> float:
    """Fraction of positive pairs in the universe (the AP of a random ranking).

    Parameters
    ----------
    membership : array_like of bool, shape (n, k)
    strata : array_like of bool, shape (n, c), optional
        Counts only the pairs that share a stratum (see :func:`average_precision_within`).

    Examples
    --------
    >>> prevalence([[1, 0], [1, 0], [0, 1]])
    0.3333333333333333
    >>> prevalence([[1, 0], [1, 0], [0, 1]], strata=[[1], [1], [1]])
    0.3333333333333333
    """
    membership = np.asarray(membership).astype(bool)
    labels = pair_labels(membership)
    if strata is None:
        return float(labels.mean())
    universe = membership.any(axis=1)
    shared = _co_membership(_check_strata(strata, len(membership))[universe])[np.triu_indices(universe.sum(), 1)]
    return float(labels[shared].mean()) if shared.any() else float("nan")


def _check_strata(strata: np.ndarray, n: int) -> np.ndarray:
    strata = np.asarray(strata)
    if strata.ndim != 2 or strata.shape[0] != n:
        raise ValueError(f"strata must be (proteins, strata) of booleans with {n} rows. Received: shape={strata.shape}")
    return strata.astype(bool, copy=False)


class Ranking:
    """The similarity rankings of one representation on one standard's universe, computed once and shared.

    Every kernel of this module accepts one as ``ranking=`` (built from the same
    ``features`` and ``membership``) instead of ranking the pairs again; each part is
    computed on first use.

    Parameters
    ----------
    features : array_like, shape (n, d)
    membership : array_like of bool, shape (n, k)
        The universe is the rows in at least one group.

    Attributes
    ----------
    universe : numpy.ndarray of bool, shape (n,)
        Which input rows are in the universe.
    features, membership : numpy.ndarray
        The universe's rows (float64, bool).

    Examples
    --------
    >>> ranking = Ranking([[1, 2, 3], [1, 2, 4], [3, 2, 1], [5, 5, 5.1]], [[1], [1], [1], [0]])
    >>> ranking.universe.tolist(), ranking.partner_order.tolist()
    ([True, True, True, False], [[1, 2], [0, 2], [1, 0]])
    """

    def __init__(self, features: np.ndarray, membership: np.ndarray) -> None:
        features, membership, universe = _universe(features, membership)
        self.universe = universe
        self.features, self.membership = features[universe], membership[universe]
        self._by_strata: dict[tuple[str, bytes], np.ndarray] = {}

    @cached_property
    def similarity(self) -> np.ndarray:
        """Pearson correlations of the universe, rounded to 12 decimals (so float noise does not split ties)."""
        return np.round(similarity(self.features), _TIE_DECIMALS)

    @cached_property
    def co_membership(self) -> np.ndarray:
        """n x n bool: do two proteins share a group."""
        return _co_membership(self.membership)

    @cached_property
    def pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(i, j, labels, last)`` of :func:`ranked_pairs`."""
        i, j = np.triu_indices(len(self.features), 1)
        scores = self.similarity[i, j]
        order = np.argsort(scores)[::-1]  # the metrics count tied pairs together: their order is immaterial
        i, j, scores = i[order], j[order], scores[order]
        labels = self.co_membership[i, j]
        last = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]
        return i, j, labels, last

    @cached_property
    def partner_order(self) -> np.ndarray:
        """Each protein's partners by decreasing similarity, ties by index (n x (n - 1), int32)."""
        n = len(self.features)
        order = np.empty((n, n - 1), dtype=np.int32)
        for start in range(0, n, _MAP_CHUNK):
            rows = slice(start, min(start + _MAP_CHUNK, n))
            sim = self.similarity[rows].copy()
            sim[np.arange(sim.shape[0]), np.arange(rows.start, rows.stop)] = -np.inf
            order[rows] = np.argsort(-sim, axis=1, kind="stable")[:, : n - 1]
        return order

    @cached_property
    def partner_rank(self) -> np.ndarray:
        """Rank (0-based) of partner j in protein i's :attr:`partner_order` (n x n, int32; ``n - 1`` on the diagonal)."""
        n = len(self.features)
        rank = np.empty((n, n), dtype=np.int32)
        rows = np.arange(n)[:, None]
        rank[rows, self.partner_order] = np.arange(n - 1, dtype=np.int32)
        rank[rows[:, 0], rows[:, 0]] = n - 1
        return rank

    def _memo(self, kind: str, strata: np.ndarray | None, compute: Callable[[], np.ndarray]) -> np.ndarray:
        key = (kind, b"" if strata is None else str(strata.shape).encode() + np.packbits(strata).tobytes())
        if key not in self._by_strata:
            self._by_strata[key] = compute()
        return self._by_strata[key]

    def shared_strata(self, strata: np.ndarray) -> np.ndarray:
        """n x n bool over the universe: do two proteins share a stratum (``strata`` has one row per input row)."""
        strata = _check_strata(strata, len(self.universe))
        return self._memo("shared", strata, lambda: _co_membership(strata[self.universe]))

    def protein_average_precision(self, strata: np.ndarray | None = None) -> np.ndarray:
        """:func:`protein_average_precision` of the universe (computed once per ``strata``)."""
        if strata is not None:
            strata = _check_strata(strata, len(self.universe))
        return self._memo("protein_ap", strata, lambda: self._protein_ap(strata))

    def _protein_ap(self, strata: np.ndarray | None) -> np.ndarray:
        order, co = self.partner_order, self.co_membership
        allowed = None if strata is None else self.shared_strata(strata)
        n = len(co)
        ranks = np.arange(1, n, dtype=np.float64)
        values = []
        for start in range(0, n, _MAP_CHUNK):
            rows = slice(start, min(start + _MAP_CHUNK, n))
            rel = np.take_along_axis(co[rows], order[rows], axis=1)
            if allowed is None:
                seen = ranks
            else:
                kept = np.take_along_axis(allowed[rows], order[rows], axis=1)
                rel &= kept
                seen = np.maximum(np.cumsum(kept, axis=1), 1)
            precision = np.cumsum(rel, axis=1) / seen
            with np.errstate(invalid="ignore", divide="ignore"):
                values.append(np.where(rel, precision, 0.0).sum(axis=1) / rel.sum(axis=1))
        values = np.concatenate(values)
        values.flags.writeable = False
        return values

    def pairs_within(self, strata: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """:attr:`pairs` restricted to the pairs that share a stratum (ties kept together)."""
        i, j, labels, last = self.pairs
        keep = self.shared_strata(strata)[i, j]
        tie_group = np.repeat(np.arange(len(last)), np.diff(last, prepend=-1))[keep]
        return i[keep], j[keep], labels[keep], np.r_[np.flatnonzero(np.diff(tie_group)), len(tie_group) - 1]


def _ranking(features: np.ndarray, membership: np.ndarray, ranking: Ranking | None) -> Ranking:
    return Ranking(features, membership) if ranking is None else ranking


def ranked_pairs(
    features: np.ndarray, membership: np.ndarray, *, ranking: Ranking | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The pairs of the universe by decreasing similarity, as the pooled metrics rank them.

    Parameters
    ----------
    features : array_like, shape (n, d)
    membership : array_like of bool, shape (n, k)
    ranking : Ranking, optional
        Of these inputs, to reuse its ranking.

    Returns
    -------
    i, j : numpy.ndarray of int, shape (n_pairs,)
        Rows (into the universe, the proteins in a group, in input order) of each pair, i < j;
        tied pairs in no particular order (every metric counts a run of ties together).
    labels : numpy.ndarray of bool, shape (n_pairs,)
        Whether the pair shares a group.
    last : numpy.ndarray of int
        Position of the last pair of each run of tied similarities (12 decimals).

    Examples
    --------
    >>> i, j, labels, last = ranked_pairs([[1, 2, 3], [1, 2, 4], [3, 2, 1]], [[1], [1], [1]])
    >>> list(zip(i.tolist(), j.tolist())), labels.tolist(), last.tolist()
    ([(0, 1), (1, 2), (0, 2)], [True, True, True], [0, 1, 2])
    """
    return _ranking(features, membership, ranking).pairs


def _curve(labels: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True and false positives at each distinct similarity threshold (descending)."""
    tps = np.cumsum(labels, dtype=np.int64)[last]
    return tps, last + 1 - tps


def _step_ap(labels: np.ndarray, last: np.ndarray) -> float:
    if len(labels) == 0:
        return float("nan")
    tps, fps = _curve(labels, last)
    if tps[-1] == 0:
        return 0.0
    precision = tps / (tps + fps)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def average_precision(features: np.ndarray, membership: np.ndarray, *, ranking: Ranking | None = None) -> float:
    """Pooled average precision over all pairs of the universe (scikit-learn's step-wise AP).

    AP = sum_n (R_n - R_{n-1}) P_n over distinct similarity thresholds, tied
    scores grouped (``sklearn.metrics.average_precision_score`` on the pairs).
    Correlations are rounded to 12 decimals first, so that pairs tied in exact
    arithmetic stay tied despite floating-point noise.

    Parameters
    ----------
    features : array_like, shape (n, d)
    membership : array_like of bool, shape (n, k)
    ranking : Ranking, optional
        Of these inputs, to reuse its ranking.

    Returns
    -------
    float

    Examples
    --------
    >>> x = [[1, 2, 3], [1, 2, 4], [3, 2, 1], [4, 2, 1]]
    >>> round(average_precision(x, [[1, 0], [1, 0], [0, 1], [0, 1]]), 6)
    1.0
    """
    _, _, labels, last = _ranking(features, membership, ranking).pairs
    return _step_ap(labels, last)


def average_precision_within(
    features: np.ndarray, membership: np.ndarray, strata: np.ndarray, *, ranking: Ranking | None = None
) -> float:
    """Pooled average precision over the pairs of the universe that share a stratum (e.g. a localization class).

    :func:`average_precision` on the pairs (i, j) of the universe whose rows of
    ``strata`` share a True column; all other pairs are neither positives nor
    negatives. A protein with several strata pairs with every protein sharing any of
    them; one with none takes no part. So a pair is positive iff it shares a group
    and a stratum, negative iff it shares a stratum and no group: what the
    representation tells about the groups beyond the strata. NaN if no pair shares
    a stratum.

    Parameters
    ----------
    features : array_like, shape (n, d)
    membership : array_like of bool, shape (n, k)
    strata : array_like of bool, shape (n, c)
        Stratum (localization class) membership of each row of ``features``.
    ranking : Ranking, optional

    Returns
    -------
    float

    Examples
    --------
    >>> x = [[1, 2, 3], [1, 2, 4], [3, 2, 1], [4, 2, 1]]
    >>> membership = [[1, 0], [0, 1], [1, 0], [0, 1]]
    >>> round(average_precision(x, membership), 4)
    0.3333
    >>> average_precision_within(x, membership, [[1, 0], [0, 1], [1, 0], [0, 1]])
    1.0
    """
    _, _, labels, last = _ranking(features, membership, ranking).pairs_within(strata)
    return _step_ap(labels, last)


def f_beta(features: np.ndarray, membership: np.ndarray, *, beta: float = 0.5,
           ranking: Ranking | None = None) -> float:
    """Maximum over similarity thresholds of F-beta on the pooled pairs.

    F_beta = (1 + beta^2) P R / (beta^2 P + R), at every distinct threshold of
    the pooled precision-recall curve (BIONIC's maximal F1, with beta = 0.5).

    Parameters
    ----------
    features : array_like, shape (n, d)
    membership : array_like of bool, shape (n, k)
    beta : float, default 0.5
    ranking : Ranking, optional
        Of these inputs, to reuse its ranking.

    Returns
    -------
    float

    Examples
    --------
    >>> x = [[1, 2, 3], [1, 2, 4], [3, 2, 1], [4, 2, 1]]
    >>> round(f_beta(x, [[1, 0], [1, 0], [0, 1], [0, 1]]), 6)
    1.0
    """
    _, _, labels, last = _ranking(features, membership, ranking).pairs
    tps, fps = _curve(labels, last)
    precision = tps / (tps + fps)
    recall = tps / max(tps[-1], 1)
    return float(np.max(_f_score(precision, recall, beta)))


def _f_score(precision: np.ndarray, recall: np.ndarray, beta: float) -> np.ndarray:
    b2 = beta * beta
    denominator = b2 * precision + recall
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (1 + b2) * precision * recall / np.where(denominator > 0, denominator, 1), 0.0)


def protein_average_precision(
    features: np.ndarray,
    membership: np.ndarray,
    *,
    strata: np.ndarray | None = None,
    ranking: Ranking | None = None,
) -> np.ndarray:
    """AP of each protein of the universe ranking all the others (NaN for a protein with no positive).

    All j != i of the universe are ranked by similarity (descending; ties by
    partner index); a partner is positive when it shares any group with i;
    AP_i is the mean of precision@k at the ranks of the positives. With
    ``strata``, only the partners sharing a stratum with i are ranked.

    Parameters
    ----------
    features : array_like, shape (n, d)
    membership : array_like of bool, shape (n, k)
    strata : array_like of bool, shape (n, c), optional
        Stratum (localization class) membership of each row (see :func:`average_precision_within`).
    ranking : Ranking, optional
        Of these inputs, to reuse its ranking.

    Returns
    -------
    numpy.ndarray of float, shape (n_universe,)

    Examples
    --------
    >>> x = [[1, 2, 3], [1, 2, 4], [3, 2, 1], [4, 2, 1]]
    >>> protein_average_precision(x, [[1, 0], [0, 1], [1, 0], [0, 0]]).round(4).tolist()
    [0.5, nan, 0.5]
    >>> protein_average_precision(x, [[1, 0], [0, 1], [1, 0], [0, 0]], strata=[[1], [0], [1], [0]]).tolist()
    [1.0, nan, 1.0]
    """
    return _ranking(features, membership, ranking).protein_average_precision(strata).copy()


def mean_average_precision(features: np.ndarray, membership: np.ndarray, *, ranking: Ranking | None = None) -> float:
    """Mean over proteins of the AP of each protein's ranking of all other proteins (copairs semantics).

    The mean of :func:`protein_average_precision` over the proteins with at least
    one positive partner (one that shares any group).

    Parameters
    ----------
    features : array_like, shape (n, d)
    membership : array_like of bool, shape (n, k)
    ranking : Ranking, optional
        Of these inputs, to reuse its ranking.

    Returns
    -------
    float

    Examples
    --------
    >>> x = [[1, 2, 3], [1, 2, 4], [3, 2, 1], [4, 2, 1]]
    >>> round(mean_average_precision(x, [[1, 0], [1, 0], [0, 1], [0, 1]]), 6)
    1.0
    """
    return _nanmean(protein_average_precision(features, membership, ranking=ranking))


def mean_average_precision_within(
    features: np.ndarray, membership: np.ndarray, strata: np.ndarray, *, ranking: Ranking | None = None
) -> float:
    """:func:`mean_average_precision` where each protein ranks only the partners sharing a stratum with it.

    The mean of ``protein_average_precision(..., strata=strata)`` over the proteins
    with a positive partner in one of their strata (NaN if none has).

    Parameters
    ----------
    features : array_like, shape (n, d)
    membership : array_like of bool, shape (n, k)
    strata : array_like of bool, shape (n, c)
        Stratum (localization class) membership of each row (see :func:`average_precision_within`).
    ranking : Ranking, optional

    Returns
    -------
    float

    Examples
    --------
    >>> x = [[1, 2, 3], [1, 2, 4], [3, 2, 1], [4, 2, 1]]
    >>> mean_average_precision_within(x, [[1, 0], [0, 1], [1, 0], [0, 1]], [[1, 0], [0, 1], [1, 0], [0, 1]])
    1.0
    """
    return _nanmean(protein_average_precision(features, membership, strata=strata, ranking=ranking))


def _nanmean(values: np.ndarray) -> float:
    known = values[~np.isnan(values)]
    return float(known.mean()) if known.size else float("nan")


def sample_nonoverlapping_groups(membership: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """Draw a set of non-overlapping groups (BIONIC's module sampling).

    Proteins are visited in a random order; an unassigned protein picks one of
    its groups at random, which is accepted only if none of its members is
    already assigned; all its members then take that group.

    Parameters
    ----------
    membership : array_like of bool, shape (n, k)
    seed : int, default 0

    Returns
    -------
    numpy.ndarray of int, shape (n,)
        The accepted group (column) of each protein, -1 for proteins left out.

    Examples
    --------
    >>> sample_nonoverlapping_groups([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1]], seed=1)[3:].tolist()
    [2, 2]
    """
    membership = np.asarray(membership).astype(bool)
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(column) for column in membership.T]
    assigned = np.full(len(membership), -1, dtype=np.int64)
    for protein in rng.permutation(len(membership)):
        if assigned[protein] >= 0:
            continue
        own = np.flatnonzero(membership[protein])
        if own.size == 0:
            continue
        group = own[rng.integers(own.size)]
        if (assigned[members[group]] < 0).all():
            assigned[members[group]] = group
    return assigned


def _entropy(counts: np.ndarray, n: int) -> float:
    p = counts[counts > 0] / n
    return float(-(p * np.log(p)).sum())


def _expected_mutual_info(a: np.ndarray, b: np.ndarray, n: int) -> float:
    """Expected mutual information of two labelings with cluster sizes ``a`` and ``b`` (hypergeometric model).

    Grouped by distinct sizes, so the cost depends on the number of distinct sizes, not of clusters.
    """
    ua, ca = np.unique(a, return_counts=True)
    ub, cb = np.unique(b, return_counts=True)
    ai, bj = ua[:, None, None].astype(np.float64), ub[None, :, None].astype(np.float64)
    nij = np.arange(1, min(ua.max(), ub.max()) + 1, dtype=np.float64)[None, None, :]
    valid = (nij >= np.maximum(1, ai + bj - n)) & (nij <= np.minimum(ai, bj))
    nij_v = np.where(valid, nij, 1.0)
    log_term = np.log(n * nij_v) - np.log(ai) - np.log(bj)
    log_prob = (gammaln(ai + 1) + gammaln(bj + 1) + gammaln(n - ai + 1) + gammaln(n - bj + 1) - gammaln(n + 1)
                - gammaln(nij_v + 1) - gammaln(ai - nij_v + 1) - gammaln(bj - nij_v + 1)
                - gammaln(np.where(valid, n - ai - bj + nij_v, 1.0) + 1))
    terms = np.where(valid, nij_v / n * log_term * np.exp(np.where(valid, log_prob, -np.inf)), 0.0)
    return float((terms.sum(axis=2) * ca[:, None] * cb[None, :]).sum())


@dataclass(frozen=True)
class _Agreement:
    """What AMI needs of two labelings (codes 0..): cluster sizes, mutual information and entropies."""

    a: np.ndarray
    b: np.ndarray
    mi: float
    h_true: float
    h_pred: float

    @property
    def bound(self) -> float:
        """NMI (arithmetic), an upper bound of AMI since the expected MI is >= 0."""
        mean_h = (self.h_true + self.h_pred) / 2
        return 1.0 if mean_h == 0 else self.mi / mean_h


def _agreement(truth: np.ndarray, labels: np.ndarray) -> _Agreement:
    """Sizes, MI and entropies from the non-zero cells of the contingency table (codes 0.., no gaps)."""
    n = len(truth)
    a, b = np.bincount(truth), np.bincount(labels)
    cells, nij = np.unique(truth.astype(np.int64) * len(b) + labels, return_counts=True)
    rows, cols = np.divmod(cells, len(b))
    nij = nij.astype(np.float64)
    mi = float((nij / n * (np.log(nij) + np.log(n) - np.log(a[rows]) - np.log(b[cols]))).sum())
    return _Agreement(a, b, max(mi, 0.0), _entropy(a, n), _entropy(b, n))


def _ami(agreement: _Agreement) -> float:
    a, b = agreement.a, agreement.b
    n = int(a.sum())
    if len(a) == len(b) == 1 or len(a) == len(b) == n:
        return 1.0
    emi = _expected_mutual_info(a, b, n)
    denominator = (agreement.h_true + agreement.h_pred) / 2 - emi
    eps = np.finfo(np.float64).eps
    denominator = min(denominator, -eps) if denominator < 0 else max(denominator, eps)
    return float((agreement.mi - emi) / denominator)


def adjusted_mutual_info(truth: np.ndarray, labels: np.ndarray) -> float:
    """Adjusted mutual information (arithmetic normalization), equal to scikit-learn's.

    Parameters
    ----------
    truth, labels : array_like of int, shape (n,)

    Returns
    -------
    float

    Examples
    --------
    >>> round(adjusted_mutual_info([0, 0, 1, 0, 1], [5, 5, 7, 7, 7]), 6)
    0.251267
    """
    truth = np.unique(np.asarray(truth), return_inverse=True)[1].ravel()
    labels = np.unique(np.asarray(labels), return_inverse=True)[1].ravel()
    return _ami(_agreement(truth, labels))


def _canonical(labels: np.ndarray) -> np.ndarray:
    """Relabel a partition 0, 1, ... in order of first appearance (equal partitions get equal labels)."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    return np.argsort(np.argsort(first))[inverse.ravel()]


def _merge_edges(link: np.ndarray) -> np.ndarray:
    """One leaf-to-leaf edge per merge of a linkage (a representative leaf of each side)."""
    n = len(link) + 1
    representative = np.empty(2 * n - 1, dtype=np.int64)
    representative[:n] = np.arange(n)
    pairs = link[:, :2].astype(np.int64)
    for j, (a, _) in enumerate(pairs):
        representative[n + j] = representative[a]
    return representative[pairs]


def _inconsistency_cuts(link: np.ndarray, n_thresholds: int) -> list[tuple[float, np.ndarray]]:
    """The distinct partitions ``fcluster(link, t)`` gives over BIONIC's thresholds, with the first t of each.

    BIONIC cuts at ``t`` in ``numpy.linspace(0, max(maxdists(link)), n_thresholds)`` with scipy's default
    criterion (``'inconsistent'``, depth 2), which keeps a merge iff the largest inconsistency coefficient
    of its subtree (``maxinconsts``, from the inconsistency table computed once) is <= t. That value never
    decreases towards the root, so the kept merges are closed under descendants and the flat clusters are
    the connected components of the kept merges; thresholds keeping the same number of merges give the
    same partition, which is built once.
    """
    monocrit = maxinconsts(link, inconsistent(link))
    thresholds = np.linspace(0.0, np.max(maxdists(link)), n_thresholds)
    order = np.argsort(monocrit, kind="stable")
    n_kept = np.searchsorted(monocrit[order], thresholds, side="right")
    edges = _merge_edges(link)[order]
    n = len(link) + 1
    _, first = np.unique(n_kept, return_index=True)
    cuts = []
    for index in first:
        m = n_kept[index]
        graph = sp.coo_matrix((np.ones(m), (edges[:m, 0], edges[:m, 1])), shape=(n, n))
        cuts.append((float(thresholds[index]), connected_components(graph, directed=False)[1]))
    return cuts


def _best_clustering(
    condensed: Mapping[str, np.ndarray],
    truth: np.ndarray,
    proteins: np.ndarray,
    methods: Sequence[str],
    n_thresholds: int,
) -> Clustering:
    """BIONIC's search on one sample: the first clustering (method, distance, threshold order) of maximal AMI.

    Identical partitions are scored once; exact AMI is computed in decreasing order of its NMI bound,
    until the bound falls below the best AMI found.
    """
    first: dict[bytes, tuple[int, str, str, float, np.ndarray]] = {}
    for method in methods:
        for metric, distance in condensed.items():
            for threshold, labels in _inconsistency_cuts(linkage(distance, method=method), n_thresholds):
                labels = _canonical(labels)
                first.setdefault(labels.tobytes(), (len(first), method, metric, threshold, labels))
    candidates = [(_agreement(truth, entry[-1]), entry) for entry in first.values()]
    candidates.sort(key=lambda c: (-c[0].bound, c[1][0]))
    best, best_score = None, -np.inf
    for agreement, entry in candidates:
        if agreement.bound < best_score:
            break
        score = _ami(agreement)
        if score > best_score or (score == best_score and entry[0] < best[0]):
            best, best_score = entry, score
    _, method, metric, threshold, labels = best
    return Clustering(proteins, truth, labels, method, metric, threshold, best_score)


def _sample_distances(condensed: np.ndarray, n: int, rows: np.ndarray) -> np.ndarray:
    """The condensed distances among ``rows`` (sorted) taken from the condensed matrix of all ``n`` rows."""
    i, j = np.triu_indices(len(rows), 1)
    i, j = rows[i], rows[j]
    return condensed[n * i - i * (i + 1) // 2 + j - i - 1]


def ami(
    features: np.ndarray,
    membership: np.ndarray,
    *,
    n_samples: int = 10,
    n_thresholds: int = 500,
    methods: Sequence[str] = LINKAGE_METHODS,
    distances: Sequence[str] = DISTANCE_METRICS,
    seed: int = 0,
    n_jobs: int = 1,
) -> SampledScore:
    """Module-detection AMI exactly as BIONIC computes it (``bioniceval/evals/module_detection.py``).

    For each of ``n_samples`` seeded samples of non-overlapping groups
    (:func:`sample_nonoverlapping_groups`, seeds ``seed``, ``seed + 1``, ...): for
    each linkage method x distance, ``pdist`` (NaN set to 0), ``linkage``, then for
    ``t`` in ``numpy.linspace(0, max(maxdists(link)), n_thresholds)``,
    ``fcluster(link, t)`` with scipy's default criterion (``'inconsistent'``,
    depth 2) and the adjusted mutual information (arithmetic normalization) of the
    flat clusters against the sampled groups. The sample's score is the best AMI,
    starting from 0 (never negative). Distances are computed once for the proteins
    of all samples (``pdist`` treats each pair on its own, so they are the sample's
    own); each distinct partition is scored once.

    Parameters
    ----------
    features : array_like, shape (n, d)
    membership : array_like of bool, shape (n, k)
    n_samples : int, default 10
    n_thresholds : int, default 500
    methods : sequence of str, default :data:`LINKAGE_METHODS`
    distances : sequence of str, default :data:`DISTANCE_METRICS`
    seed : int, default 0
    n_jobs : int, default 1
        Processes that score the samples (``joblib``; -1 for all cores). The result does not depend on it.

    Returns
    -------
    SampledScore
        Mean and sd over samples, per-sample values, and each sample's clustering of maximal AMI
        (the first in method, distance, threshold order; its own ``score`` may be <= 0 when the
        sample's value is 0).

    Examples
    --------
    >>> x = [[1, 2, 3], [1, 2, 4], [3, 2, 1], [4, 2, 1]]
    >>> ami(x, [[1, 0], [1, 0], [0, 1], [0, 1]], n_samples=2).values.round(6).tolist()
    [1.0, 1.0]
    """
    features = np.asarray(features, dtype=np.float64)
    membership = np.asarray(membership).astype(bool)
    _validate(features, membership)
    samples = [sample_nonoverlapping_groups(membership, seed=seed + sample) for sample in range(n_samples)]
    pooled = np.flatnonzero(np.any([assigned >= 0 for assigned in samples], axis=0))
    condensed = {metric: np.nan_to_num(pdist(features[pooled], metric=metric)) for metric in distances}
    tasks = []
    for assigned in samples:
        proteins = np.flatnonzero(assigned >= 0)
        truth = np.unique(assigned[proteins], return_inverse=True)[1].ravel()
        rows = np.searchsorted(pooled, proteins)
        own = {metric: _sample_distances(d, len(pooled), rows) for metric, d in condensed.items()}
        tasks.append((own, truth, proteins, tuple(methods), n_thresholds))
    if n_jobs == 1 or n_samples == 1:
        clusterings = [_best_clustering(*task) for task in tasks]
    else:
        clusterings = Parallel(n_jobs=n_jobs)(delayed(_best_clustering)(*task) for task in tasks)
    values = np.array([max(clustering.score, 0.0) for clustering in clusterings])
    return _sampled(values, tuple(clusterings))


def _sampled(values: np.ndarray, clusterings: tuple[Clustering, ...]) -> SampledScore:
    sd = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return SampledScore(float(values.mean()), sd, values, clusterings)


def f_beta_clusters(
    features: np.ndarray,
    membership: np.ndarray,
    *,
    beta: float = 0.5,
    clusterings: Sequence[Clustering] | None = None,
    seed: int = 0,
    n_jobs: int = 1,
) -> SampledScore:
    """Pair-counting F-beta of the clusterings chosen for AMI.

    In each AMI sample, a pair of sampled proteins is predicted positive when
    the two are in the same cluster and truly positive when they share any group
    of ``membership``.

    Parameters
    ----------
    features : array_like, shape (n, d)
    membership : array_like of bool, shape (n, k)
    beta : float, default 0.5
    clusterings : sequence of Clustering, optional
        From :func:`ami` (computed with ``seed`` and ``n_jobs`` when omitted).
    seed : int, default 0
    n_jobs : int, default 1

    Returns
    -------
    SampledScore

    Examples
    --------
    >>> x = [[1, 2, 3], [1, 2, 4], [3, 2, 1], [4, 2, 1]]
    >>> round(f_beta_clusters(x, [[1, 0], [1, 0], [0, 1], [0, 1]], seed=0).mean, 6)
    1.0
    """
    membership = np.asarray(membership).astype(bool)
    if clusterings is None:
        clusterings = ami(features, membership, seed=seed, n_jobs=n_jobs).clusterings
    values = []
    for clustering in clusterings:
        upper = np.triu_indices(len(clustering.proteins), 1)
        truth = _co_membership(membership[clustering.proteins])[upper]
        predicted = (clustering.labels[:, None] == clustering.labels[None, :])[upper]
        tp = np.count_nonzero(truth & predicted)
        precision = tp / max(np.count_nonzero(predicted), 1)
        recall = tp / max(np.count_nonzero(truth), 1)
        values.append(float(_f_score(np.asarray(precision), np.asarray(recall), beta)))
    return _sampled(np.asarray(values), tuple(clusterings))


#: metric name -> kernel: the closed vocabulary of scoring, in table order
METRICS: Mapping[str, Callable[..., float | SampledScore]] = MappingProxyType({
    "average_precision": average_precision,
    "mean_average_precision": mean_average_precision,
    "ami": ami,
    "f_beta": f_beta,
    "f_beta_clusters": f_beta_clusters,
    "average_precision_within": average_precision_within,
    "mean_average_precision_within": mean_average_precision_within,
})
#: the metrics computed on AMI's seeded samples (mean and sd over samples)
SAMPLED_METRICS = ("ami", "f_beta_clusters")
#: the metrics counting only the pairs that share a stratum (their kernels take ``strata``)
WITHIN_METRICS = ("average_precision_within", "mean_average_precision_within")


def compute_metrics(
    features: np.ndarray,
    membership: np.ndarray,
    names: Sequence[str],
    *,
    strata: np.ndarray | None = None,
    seed: int = 0,
    n_jobs: int = 1,
    ranking: Ranking | None = None,
) -> dict[str, float | SampledScore]:
    """Each named metric from its own kernel in :data:`METRICS`, sharing one :class:`Ranking` and one AMI search.

    Parameters
    ----------
    features : array_like, shape (n, d)
    membership : array_like of bool, shape (n, k)
    names : sequence of str
        Keys of :data:`METRICS`.
    strata : array_like of bool, shape (n, c), optional
        Strata of the :data:`WITHIN_METRICS` (needed when one is named).
    seed : int, default 0
        Seed of the AMI samples.
    n_jobs : int, default 1
        Processes for the AMI samples.
    ranking : Ranking, optional
        Of these inputs (built here when omitted); the pair ranking and the per-protein
        rankings are computed once for all metrics.

    Returns
    -------
    dict of str to float or SampledScore
        One entry per name: what ``METRICS[name]`` returns on these inputs (the sampled metrics
        with ``seed`` and ``n_jobs``, the within metrics with ``strata``).

    Raises
    ------
    KeyError
        For a name not in :data:`METRICS`.
    ValueError
        For a within metric without ``strata``.

    Examples
    --------
    >>> x = [[1, 2, 3], [1, 2, 4], [3, 2, 1], [4, 2, 1]]
    >>> result = compute_metrics(x, [[1, 0], [1, 0], [0, 1], [0, 1]], ["f_beta", "average_precision"])
    >>> {name: round(value, 6) for name, value in result.items()}
    {'f_beta': 1.0, 'average_precision': 1.0}
    """
    ranking = _ranking(features, membership, ranking)
    results: dict[str, float | SampledScore] = {}
    searched = None
    for name in names:
        kernel = METRICS[name]
        if name in WITHIN_METRICS:
            if strata is None:
                raise ValueError(f"{name} counts the pairs sharing a stratum; pass strata")
            results[name] = kernel(features, membership, strata, ranking=ranking)
        elif name not in SAMPLED_METRICS:
            results[name] = kernel(features, membership, ranking=ranking)
        else:
            if searched is None:
                searched = ami(features, membership, seed=seed, n_jobs=n_jobs)
            results[name] = (searched if kernel is ami
                             else kernel(features, membership, clusterings=searched.clusterings))
    return results
