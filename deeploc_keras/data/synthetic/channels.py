"""Channel standards of a simulated screen: proteins grouped by one function channel, within their class.

The screen's biological standards (bioprocess, pathway, complex) move both function
channels (:data:`~deeploc_keras.data.synthetic.parameters.FUNCTION_CHANNELS`): each group
adds one random direction to all eight parameters, so a score on them cannot say which
channel a representation captured. A channel standard can. Within each localization class
(the protein's primary class), its proteins are grouped by k-means on the parameters of one
channel only, about :data:`GROUP_SIZE` proteins a group: two proteins of a group share a class
and are close in that channel, whatever the other channel says. The within-compartment AP of
a representation on it, against the within-class permutation null, measures that channel alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .parameters import FUNCTION_CHANNELS, PARAMETER_NAMES

__all__ = ["CHANNEL_STANDARDS", "GROUP_SIZE", "channel_groups"]

#: Standard name -> the function channel it groups by (files ``standards/<name>.gmt`` of a screen).
CHANNEL_STANDARDS: dict[str, str] = {f"function_{channel}": channel for channel in FUNCTION_CHANNELS}
#: Proteins per group, on average (k-means with ``round(n / GROUP_SIZE)`` clusters, at least 2, per class).
GROUP_SIZE = 6


def channel_groups(theta: np.ndarray, classes: Sequence[str], channel: str, *, group_size: int = GROUP_SIZE,
                   seed: int = 0) -> dict[str, list[int]]:
    """Groups of proteins of one class that are close in one function channel.

    Parameters
    ----------
    theta : numpy.ndarray, shape (n, N_PARAMETERS)
        The proteins' function parameters.
    classes : sequence of str
        Each protein's primary localization class.
    channel : str
        A key of :data:`~deeploc_keras.data.synthetic.parameters.FUNCTION_CHANNELS`.
    group_size : int, default GROUP_SIZE
    seed : int, default 0
        Seed of the k-means initialisations.

    Returns
    -------
    dict of str -> list of int
        ``<class>_<channel>_<k>`` -> row indices (ascending); groups of 2 or more proteins, from classes of
        at least 4 proteins (two groups or more, so a class holds pairs of both kinds).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> theta = rng.normal(size=(12, 8))
    >>> groups = channel_groups(theta, ["NUCLEI"] * 8 + ["VACUOLE"] * 4, "label_aligned")
    >>> sorted(groups)[0], all(len(v) >= 2 for v in groups.values())
    ('NUCLEI_label_aligned_0', True)
    >>> all(max(v) < 8 for k, v in groups.items() if k.startswith("NUCLEI"))
    True
    """
    from sklearn.cluster import KMeans

    if channel not in FUNCTION_CHANNELS:
        raise ValueError(f"channel must be one of {list(FUNCTION_CHANNELS)}. Received: {channel!r}")
    columns = [PARAMETER_NAMES.index(p) for p in FUNCTION_CHANNELS[channel]]
    classes = np.asarray(classes, dtype=object)
    groups: dict[str, list[int]] = {}
    for name in sorted(set(classes)):
        rows = np.flatnonzero(classes == name)
        if len(rows) < 4:
            continue
        k = max(2, round(len(rows) / group_size))
        labels = KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(theta[np.ix_(rows, columns)])
        for g in range(k):
            members = rows[labels == g]
            if len(members) >= 2:
                groups[f"{name}_{channel}_{g}"] = members.tolist()
    return groups
