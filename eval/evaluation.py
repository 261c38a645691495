"""One representation on one standard: what the metrics share, each computed once on first use.

An :class:`Evaluation` holds the representation's :class:`eval.metrics.Ranking` on the
standard's universe and the settings of its resamples and nulls; the metric records of
:mod:`eval.catalog` read from it. Whatever several records need is computed once: the
AMI search (with its null draws), one pass of the pooled bootstrap and one of the pooled
null for both AP and F-beta, the per-protein APs, and, for the within metrics, each
localization class's ranking with its resamples and its own within-class null.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property

import numpy as np

from eval import metrics as _metrics
from eval import nulls as _nulls
from eval import significance as _significance

__all__ = ["Evaluation"]


class Evaluation:
    """The shared computations of one representation on one standard's universe.

    Parameters
    ----------
    features : array_like, shape (n, d)
        Profiles of the universe's proteins (every row in a group).
    membership : array_like of bool, shape (n, k)
    ids : sequence of str
        Protein ids of the rows: resamples and null draws are keyed by them, so representations
        of the same proteins get the same ones.
    strata : array_like of bool, shape (n, c), optional
        Localization classes of the rows (the within metrics).
    seed : int, default 0
        Seed of the AMI samples, the bootstrap resamples and the null draws.
    n_jobs : int, default 1
        Processes for the AMI samples.
    n_bootstrap : int, default 0
        Bootstrap resamples of the proteins (:func:`eval.significance.bootstrap_weights`).
    n_null : int, default 0
        Draws of each null (:mod:`eval.nulls`; AMI: :func:`eval.metrics.ami`'s ``n_null``).

    Examples
    --------
    >>> x = [[1, 2, 3], [1, 2, 4], [3, 2, 1], [4, 2, 1]]
    >>> e = Evaluation(x, [[1, 0], [1, 0], [0, 1], [0, 1]], ids=list("abcd"), n_bootstrap=3, n_null=2)
    >>> e.pooled_bootstrap[0].shape, e.pooled_null[0].shape
    ((3,), (2,))
    """

    def __init__(self, features: np.ndarray, membership: np.ndarray, *, ids: Sequence[str],
                 strata: np.ndarray | None = None, seed: int = 0, n_jobs: int = 1, n_bootstrap: int = 0,
                 n_null: int = 0) -> None:
        self.ranking = _metrics.Ranking(features, membership)
        if not self.ranking.universe.all():
            raise ValueError("an Evaluation takes the universe's proteins only (every row in a group)")
        self.ids = [str(i) for i in ids]
        if len(self.ids) != len(self.ranking.features):
            raise ValueError(f"ids must name the {len(self.ranking.features)} rows. Received: {len(self.ids)} ids")
        self.strata = None if strata is None else np.asarray(strata).astype(bool)
        self.seed, self.n_jobs, self.n_bootstrap, self.n_null = seed, n_jobs, n_bootstrap, n_null

    @property
    def features(self) -> np.ndarray:
        return self.ranking.features

    @property
    def membership(self) -> np.ndarray:
        return self.ranking.membership

    @cached_property
    def search(self) -> _metrics.SampledScore:
        """BIONIC's AMI search (:func:`eval.metrics.ami`), with ``n_null`` null draws."""
        return _metrics.ami(self.features, self.membership, seed=self.seed, n_jobs=self.n_jobs, n_null=self.n_null)

    @cached_property
    def weights(self) -> np.ndarray:
        """Bootstrap resamples (n_bootstrap x n), keyed by protein id."""
        return _significance.bootstrap_weights(self.ids, n_resamples=self.n_bootstrap, seed=self.seed)

    @cached_property
    def permutations(self) -> np.ndarray:
        """Null draws of the permuted-profile null (n_null x n), keyed by protein id."""
        return _nulls.null_permutations(self.ids, n_draws=self.n_null, seed=self.seed)

    @cached_property
    def pooled_bootstrap(self) -> tuple[np.ndarray, np.ndarray]:
        """Pooled AP and F0.5 of each resample (one pass)."""
        return _significance.bootstrap_pooled(self.features, self.membership, self.weights, ranking=self.ranking)

    @cached_property
    def pooled_null(self) -> tuple[np.ndarray, np.ndarray]:
        """Pooled AP and F0.5 of each null draw (one pass)."""
        return _nulls.null_pooled(self.ranking, self.permutations)

    @cached_property
    def protein_null(self) -> np.ndarray:
        """mAP of each null draw."""
        return _nulls.null_protein_average_precision(self.ranking, self.permutations)

    @cached_property
    def classes(self) -> tuple[tuple[int, np.ndarray, _metrics.Ranking], ...]:
        """The localization classes with 2 or more proteins: (column of ``strata``, rows, ranking)."""
        if self.strata is None:
            raise ValueError("the within metrics score each localization class; pass strata")
        return self.ranking.classes(self.strata)

    @cached_property
    def class_permutations(self) -> list[np.ndarray]:
        """Each class's within-class null draws (:func:`eval.nulls.class_permutations`), in :attr:`classes` order."""
        return [perm for _, perm in _nulls.class_permutations(self.strata, self.ids, n_draws=self.n_null,
                                                              seed=self.seed)]

    def class_resampled(self, kernel: Callable[[_metrics.Ranking, np.ndarray], np.ndarray]) -> np.ndarray:
        """Mean over classes of ``kernel(class ranking, the resamples' weights of its proteins)``, per resample."""
        values = [kernel(part, self.weights[:, rows]) for _, rows, part in self.classes]
        return _mean_over_classes(values, self.n_bootstrap)

    def class_null(self, kernel: Callable[[_metrics.Ranking, np.ndarray], np.ndarray]) -> np.ndarray:
        """Mean over classes of ``kernel(class ranking, its within-class null draws)``, per draw."""
        values = [kernel(part, perm) for (_, _, part), perm in zip(self.classes, self.class_permutations,
                                                                   strict=True)]
        return _mean_over_classes(values, self.n_null)


def _mean_over_classes(values: list[np.ndarray], n: int) -> np.ndarray:
    """Per column, the mean over the classes with a defined value (NaN where none has one)."""
    if not values:
        return np.full(n, np.nan)
    stacked = np.vstack(values)
    known = np.isfinite(stacked)
    with np.errstate(invalid="ignore"):
        return np.where(known, stacked, 0.0).sum(axis=0) / known.sum(axis=0)
