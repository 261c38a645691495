"""Within-class permutation null of the within-compartment AP, for benchmarks/learnability.py.

A stand-in until eval's own within-class null is used here: each draw permutes the
profiles among the proteins of the same localization class (so the class structure
stays and only what a profile says beyond its class is destroyed), and recomputes
:func:`eval.metrics.average_precision_within`. p = (1 + #{null >= observed}) / (1 + draws).
"""

from __future__ import annotations

import numpy as np

from eval import metrics


def class_permutation(classes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A permutation of ``range(len(classes))`` that maps each row to a row of the same class."""
    perm = np.arange(len(classes))
    for c in np.unique(classes):
        rows = np.flatnonzero(classes == c)
        perm[rows] = rng.permutation(rows)
    return perm


def within_class_null(features: np.ndarray, membership: np.ndarray, strata: np.ndarray, classes: np.ndarray, *,
                      n_permutations: int = 200, seed: int = 0) -> dict[str, float]:
    """Observed within-compartment AP, its null mean and sd, and the one-sided permutation p-value.

    Parameters
    ----------
    features : numpy.ndarray, shape (n, d)
        Profiles of the standard's universe.
    membership : numpy.ndarray of bool, shape (n, k)
        Group membership (the standard).
    strata : numpy.ndarray of bool, shape (n, c)
        Localization classes (primary and second) defining the within-compartment pairs.
    classes : numpy.ndarray, shape (n,)
        Primary class of each protein: profiles are permuted within these.
    n_permutations : int, default 200
    seed : int, default 0
    """
    observed = metrics.average_precision_within(features, membership, strata)
    rng = np.random.default_rng(seed)
    null = np.array([metrics.average_precision_within(features[class_permutation(classes, rng)], membership, strata)
                     for _ in range(n_permutations)])
    return {"ap_within": float(observed), "null_mean": float(null.mean()), "null_sd": float(null.std()),
            "p": float((1 + (null >= observed).sum()) / (1 + n_permutations)),
            "prevalence": float(metrics.prevalence(membership, strata=strata))}
