"""The study's metrics as vectorized numpy kernels (no I/O, no pandas, no logging).

Every function takes ``features`` (proteins x dimensions) and ``membership``
(proteins x groups, boolean). The *universe* of a standard is the proteins in at
least one group; proteins outside it take no part. Pairs are the unordered pairs
of the universe (the upper triangle); a pair is positive iff the two proteins
share a group. Similarity is the Pearson correlation of the two profiles.

The ``*_within`` kernels also take ``strata`` (proteins x classes, boolean; the
localization classes): each class's proteins are scored on their own and the class
values averaged. A :class:`Ranking` holds the pair ranking and the per-protein
rankings of one input, so that every kernel given it (``ranking=``) reuses them
instead of ranking again. ``numba`` compiles the one loop numpy cannot vectorize
(the mutual information of AMI's null draws).

References
----------
Forster D. T. et al. (2022) BIONIC: biological network integration using convolutions. Nat. Methods 19:1250-1261
(pooled co-annotation AP, maximal F, module-detection AMI protocol).
Kalinin A. A. et al. (2025) A versatile information retrieval framework for evaluating profile strength and
similarity (copairs; per-profile mean average precision).
Vinh N. X., Epps J., Bailey J. (2010) Information theoretic measures for clusterings comparison. JMLR 11:2837-2854.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numba
import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from scipy.cluster.hierarchy import inconsistent, linkage, maxdists, maxinconsts
from scipy.sparse.csgraph import connected_components
from scipy.spatial.distance import pdist
from scipy.special import gammaln

__all__ = [
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
    "class_average_precision",
    "mean_average_precision",
    "mean_average_precision_within",
    "class_mean_average_precision",
    "protein_average_precision",
    "ranked_pairs",
    "f_beta",
    "sample_nonoverlapping_groups",
    "adjusted_mutual_info",
    "ami",
    "f_beta_clusters",
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
    """A score over seeded samples: mean, sd (ddof=1; 0 for one sample), per-sample values, clusterings,
    and the mean over samples of each null draw (None without a null)."""

    mean: float
    sd: float
    values: np.ndarray
    clusterings: tuple[Clustering, ...]
    null: np.ndarray | None = None


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
    """Fraction of positive pairs in the universe (the AP of a uniformly random ranking of the pairs).

    Parameters
    ----------
    membership : array_like of bool, shape (n, k)
    strata : array_like of bool, shape (n, c), optional
        The mean over the classes of the within metrics (:func:`average_precision_within`: 2 or more
        proteins of the universe and a positive pair) of each class's own prevalence.

    Examples
    --------
    >>> prevalence([[1, 0], [1, 0], [0, 1]])
    0.3333333333333333
    >>> prevalence([[1, 0], [1, 0], [0, 1], [0, 1]], strata=[[1, 0], [1, 0], [1, 1], [0, 1]])
    0.6666666666666666
    """
    membership = np.asarray(membership).astype(bool)
    if strata is None:
        return float(pair_labels(membership).mean())
    universe = membership.any(axis=1)
    strata = _check_strata(strata, len(membership))[universe]
    values = []
    for column in strata.T:
        labels = pair_labels(membership[universe][column]) if column.sum() >= 2 else np.zeros(0, dtype=bool)
        if labels.any():
            values.append(labels.mean())
    return float(np.mean(values)) if values else float("nan")


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
        self._classes: dict[bytes, tuple[tuple[int, np.ndarray, Ranking], ...]] = {}

    @cached_property
    def similarity(self) -> np.ndarray:
        """Pearson correlations of the universe, rounded to 12 decimals (so float noise does not split ties)."""
        return np.round(similarity(self.features), _TIE_DECIMALS)

    @cached_property
    def co_membership(self) -> np.ndarray:
        """n x n bool: do two proteins share a group."""
        return _co_membership(self.membership)

    @cached_property
    def pair_order(self) -> np.ndarray:
        """Condensed pair indices (``numpy.triu_indices`` order) by decreasing similarity (ties in no set order)."""
        i, j = np.triu_indices(len(self.features), 1)
        return np.argsort(self.similarity[i, j])[::-1]  # the metrics count tied pairs together

    @cached_property
    def pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(i, j, labels, last)`` of :func:`ranked_pairs`."""
        i, j = np.triu_indices(len(self.features), 1)
        i, j = i[self.pair_order], j[self.pair_order]
        scores = self.similarity[i, j]
        labels = self.co_membership[i, j]
        last = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]
        return i, j, labels, last

    @cached_property
    def pair_position(self) -> np.ndarray:
        """Position in :attr:`pairs` of each condensed pair index (the inverse of :attr:`pair_order`; int32/int64)."""
        order = self.pair_order
        position = np.empty(len(order), dtype=np.int32 if len(order) < 2**31 else np.int64)
        position[order] = np.arange(len(order), dtype=position.dtype)
        return position

    def subset(self, rows: np.ndarray) -> Ranking:
        """The ranking of some of the universe's proteins (``rows``, indices into the universe), sharing similarities.

        Examples
        --------
        >>> ranking = Ranking([[1, 2, 3], [1, 2, 4], [3, 2, 1]], [[1], [1], [1]])
        >>> ranking.subset(np.array([0, 2])).similarity.tolist() == ranking.similarity[[[0], [2]], [0, 2]].tolist()
        True
        """
        part = Ranking.__new__(Ranking)
        part.universe = np.ones(len(rows), dtype=bool)
        part.features, part.membership = self.features[rows], self.membership[rows]
        part._classes = {}
        part.__dict__["similarity"] = self.similarity[np.ix_(rows, rows)]
        return part

    def classes(self, strata: np.ndarray) -> tuple[tuple[int, np.ndarray, Ranking], ...]:
        """The classes of the within metrics, each with 2 or more proteins of the universe (computed once per strata).

        Parameters
        ----------
        strata : array_like of bool, shape (n_input_rows, c)
            Class membership of each input row.

        Returns
        -------
        tuple of (column, rows, ranking)
            The class's column in ``strata``, its rows in the universe and their :meth:`subset` ranking.

        Examples
        --------
        >>> ranking = Ranking([[1, 2, 3], [1, 2, 4], [3, 2, 1], [0, 2, 1]], [[1], [1], [1], [1]])
        >>> [(c, rows.tolist()) for c, rows, _ in ranking.classes([[1, 0], [1, 1], [0, 0], [1, 0]])]
        [(0, [0, 1, 3])]
        """
        strata = _check_strata(strata, len(self.universe))
        key = str(strata.shape).encode() + np.packbits(strata).tobytes()
        if key not in self._classes:
            inside = strata[self.universe]
            self._classes[key] = tuple((c, rows, self.subset(rows)) for c, rows in
                                       enumerate(map(np.flatnonzero, inside.T)) if len(rows) >= 2)
        return self._classes[key]

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

    @cached_property
    def protein_ap(self) -> np.ndarray:
        """:func:`protein_average_precision` of the universe (read-only)."""
        order, co = self.partner_order, self.co_membership
        n = len(co)
        ranks = np.arange(1, n, dtype=np.float64)
        values = []
        for start in range(0, n, _MAP_CHUNK):
            rows = slice(start, min(start + _MAP_CHUNK, n))
            rel = np.take_along_axis(co[rows], order[rows], axis=1)
            precision = np.cumsum(rel, axis=1) / ranks
            with np.errstate(invalid="ignore", divide="ignore"):
                values.append(np.where(rel, precision, 0.0).sum(axis=1) / rel.sum(axis=1))
        values = np.concatenate(values)
        values.flags.writeable = False
        return values

    @cached_property
    def has_positive_pair(self) -> bool:
        """Whether two proteins of the universe share a group."""
        return bool(np.triu(self.co_membership, 1).any())


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


def class_average_precision(ranking: Ranking) -> float:
    """Pooled AP of one class's ranking (:meth:`Ranking.classes`); NaN when no two of its proteins share a group.

    Examples
    --------
    >>> class_average_precision(Ranking([[1, 2, 3], [1, 2, 4], [3, 2, 1]], [[1, 0], [0, 1], [0, 1]]))
    0.5
    """
    _, _, labels, last = ranking.pairs
    return _step_ap(labels, last) if ranking.has_positive_pair else float("nan")


def class_mean_average_precision(ranking: Ranking) -> float:
    """mAP of one class's ranking (:meth:`Ranking.classes`); NaN when no protein has a positive partner in it.

    Examples
    --------
    >>> class_mean_average_precision(Ranking([[1, 2, 3], [1, 2, 4], [3, 2, 1]], [[1, 0], [0, 1], [0, 1]]))
    0.75
    """
    return _nanmean(ranking.protein_ap)


def average_precision_within(
    features: np.ndarray, membership: np.ndarray, strata: np.ndarray, *, ranking: Ranking | None = None
) -> float:
    """Mean over localization classes of the pooled AP among the proteins of each class.

    For each class (column of ``strata``) with 2 or more proteins of the universe,
    :func:`average_precision` on those proteins alone: every pair of them is ranked by
    similarity, positive when it shares a group. The value is the mean over the classes
    with a positive pair, each class counting once whatever its size: what a representation
    tells about the groups among proteins of one compartment. A protein in several classes
    takes part in each; one in none takes no part. NaN when no class has a positive pair.

    Parameters
    ----------
    features : array_like, shape (n, d)
    membership : array_like of bool, shape (n, k)
    strata : array_like of bool, shape (n, c)
        Localization classes of each row of ``features``.
    ranking : Ranking, optional
        Of ``features`` and ``membership``; the classes' rankings are sliced from it.

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
    ranking = _ranking(features, membership, ranking)
    return _nanmean(np.array([class_average_precision(part) for _, _, part in ranking.classes(strata)]))


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
    ranking: Ranking | None = None,
) -> np.ndarray:
    """AP of each protein of the universe ranking all the others (NaN for a protein with no positive).

    All j != i of the universe are ranked by similarity (descending; ties by
    partner index); a partner is positive when it shares any group with i;
    AP_i is the mean of precision@k at the ranks of the positives.

    Parameters
    ----------
    features : array_like, shape (n, d)
    membership : array_like of bool, shape (n, k)
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
    """
    return _ranking(features, membership, ranking).protein_ap.copy()


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
    return _nanmean(_ranking(features, membership, ranking).protein_ap)


def mean_average_precision_within(
    features: np.ndarray, membership: np.ndarray, strata: np.ndarray, *, ranking: Ranking | None = None
) -> float:
    """Mean over localization classes of the mAP among the proteins of each class.

    For each class (as :func:`average_precision_within`), :func:`mean_average_precision` on its
    proteins alone: each ranks the other proteins of the class. The mean over the classes where
    a protein has a positive partner (NaN if none has).

    Parameters
    ----------
    features : array_like, shape (n, d)
    membership : array_like of bool, shape (n, k)
    strata : array_like of bool, shape (n, c)
        Localization classes of each row of ``features``.
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
    ranking = _ranking(features, membership, ranking)
    return _nanmean(np.array([class_mean_average_precision(part) for _, _, part in ranking.classes(strata)]))


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
    return _expected_mutual_info_sizes(ua.astype(np.int64), ca.astype(np.float64), ub.astype(np.int64),
                                       cb.astype(np.float64), int(n), gammaln(np.arange(n + 2, dtype=np.float64)))


@numba.njit(cache=True)
def _expected_mutual_info_sizes(ua, ca, ub, cb, n, lgamma):
    """The expected mutual information summed over pairs of distinct sizes (``lgamma[k]`` = log Gamma(k))."""
    emi = 0.0
    for i in range(len(ua)):
        ai = ua[i]
        for j in range(len(ub)):
            bj = ub[j]
            const = lgamma[ai + 1] + lgamma[bj + 1] + lgamma[n - ai + 1] + lgamma[n - bj + 1] - lgamma[n + 1]
            total = 0.0
            for nij in range(max(1, ai + bj - n), min(ai, bj) + 1):
                log_prob = const - lgamma[nij + 1] - lgamma[ai - nij + 1] - lgamma[bj - nij + 1] - lgamma[
                    n - ai - bj + nij + 1]
                total += nij / n * (np.log(n * nij) - np.log(ai) - np.log(bj)) * np.exp(log_prob)
            emi += total * ca[i] * cb[j]
    return emi


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
    null_draws: np.ndarray | None = None,
) -> tuple[Clustering, np.ndarray | None]:
    """BIONIC's search on one sample: the first clustering (method, distance, threshold order) of maximal AMI.

    Identical partitions are scored once; exact AMI is computed in decreasing order of its NMI bound,
    until the bound falls below the best AMI found. With ``null_draws`` (permutations of the sample's
    proteins), also the best AMI over the same partitions with the modules shuffled by each draw.
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
    null = None if null_draws is None else _null_best_ami(truth, [entry[-1] for entry in first.values()], null_draws)
    return Clustering(proteins, truth, labels, method, metric, threshold, best_score), null


def _null_best_ami(truth: np.ndarray, partitions: Sequence[np.ndarray], draws: np.ndarray) -> np.ndarray:
    """Per draw, the best AMI (floored at 0) of the partitions against ``truth[draw]``.

    Shuffling the modules over the sample's proteins by ``draw`` is clustering the profiles shuffled
    by its inverse: hierarchical clustering does not depend on the order of its rows, so the candidate
    partitions are those of the sample, relabelled. Cluster sizes, entropies and the expected mutual
    information do not change with the draw; only the mutual information is computed per draw.
    """
    n = len(truth)
    a = np.bincount(truth)
    labels = np.stack(partitions).astype(np.int32)
    sizes = [np.bincount(row) for row in labels]
    h_true = _entropy(a, n)
    h_pred = np.array([_entropy(b, n) for b in sizes])
    trivial = np.array([len(a) == len(b) == 1 or len(a) == len(b) == n for b in sizes])
    emi = np.array([0.0 if t else _expected_mutual_info(a, b, n) for t, b in zip(trivial, sizes, strict=True)])
    order = np.argsort(labels, axis=1, kind="stable").astype(np.int32)
    bounds = np.zeros((len(labels), n + 1), dtype=np.int64)
    for k, b in enumerate(sizes):
        bounds[k, 1: len(b) + 1] = np.cumsum(b)
    mi = _permuted_mutual_info(truth.astype(np.int32), order, bounds, np.array([len(b) for b in sizes]), a,
                               np.ascontiguousarray(draws, dtype=np.int32))
    eps = np.finfo(np.float64).eps
    denominator = (h_true + h_pred) / 2 - emi
    denominator = np.where(denominator < 0, np.minimum(denominator, -eps), np.maximum(denominator, eps))
    scores = np.where(trivial, 1.0, (mi - emi) / denominator)
    return np.maximum(scores.max(axis=1), 0.0)


@numba.njit(cache=True)
def _permuted_mutual_info(truth, order, bounds, n_clusters, a, draws):
    """Mutual information of each partition (members ``order[k]`` grouped by cluster) with ``truth[draw]``."""
    n = len(truth)
    log = np.zeros(n + 1)
    for k in range(1, n + 1):
        log[k] = np.log(k)
    log_a = log[a]
    count = np.zeros(len(a), dtype=np.int64)
    out = np.zeros((len(draws), len(order)))
    for d in range(len(draws)):
        shuffled = truth[draws[d]]
        for k in range(len(order)):
            members = order[k]
            total = 0.0
            for c in range(n_clusters[k]):
                start, stop = bounds[k, c], bounds[k, c + 1]
                for q in range(start, stop):
                    count[shuffled[members[q]]] += 1
                log_b = log[stop - start]
                for q in range(start, stop):
                    i = shuffled[members[q]]
                    m = count[i]
                    if m > 0:
                        total += m * (log[m] + log[n] - log_a[i] - log_b)
                        count[i] = 0
            out[d, k] = max(total / n, 0.0)
    return out


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
    n_null: int = 0,
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
    n_null : int, default 0
        Draws of the permuted-profile null: in each draw the profiles of each sample are shuffled
        among its proteins (sample ``s`` draws with ``numpy.random.default_rng([seed + s, 1])``) and the
        best AMI is searched again (the same partitions, relabelled: see ``_null_best_ami``).

    Returns
    -------
    SampledScore
        Mean and sd over samples, per-sample values, and each sample's clustering of maximal AMI
        (the first in method, distance, threshold order; its own ``score`` may be <= 0 when the
        sample's value is 0); with ``n_null``, ``null`` holds the mean over samples of each draw.

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
        draws = (np.random.default_rng([seed + len(tasks), 1]).permuted(
            np.tile(np.arange(len(proteins)), (n_null, 1)), axis=1) if n_null else None)
        tasks.append((own, truth, proteins, tuple(methods), n_thresholds, draws))
    if n_jobs == 1 or n_samples == 1:
        found = [_best_clustering(*task) for task in tasks]
    else:
        found = Parallel(n_jobs=n_jobs)(delayed(_best_clustering)(*task) for task in tasks)
    clusterings = tuple(clustering for clustering, _ in found)
    values = np.array([max(clustering.score, 0.0) for clustering in clusterings])
    null = np.mean([draws for _, draws in found], axis=0) if n_null else None
    return _sampled(values, clusterings, null)


def _sampled(values: np.ndarray, clusterings: tuple[Clustering, ...], null: np.ndarray | None = None) -> SampledScore:
    sd = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return SampledScore(float(values.mean()), sd, values, clusterings, null)


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
