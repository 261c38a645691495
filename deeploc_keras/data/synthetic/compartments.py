"""The cellular_component standard of a simulated screen, kept apart from the class labels.

A classifier learns the localization classes; if the cellular_component standard
were those classes, scoring it would only replay the labels. The grounded
hierarchy takes GO-slim CC annotations of its real ORFs instead; the fully
synthetic one draws GO-like terms from the classes with broader parent terms,
sub-compartments that follow bioprocesses, and a share of discordant
annotations (:data:`CC_DISCORDANCE`). :func:`label_agreement` measures how far
a standard agrees with the labels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["CLASS_TERMS", "CC_DISCORDANCE", "synthetic_cellular_component", "label_agreement"]

#: Each localization class -> its own GO term, then broader or closely related GO terms (GO-slim names).
CLASS_TERMS: dict[str, tuple[str, ...]] = {
    "ACTIN": ("actin cortical patch", "cell cortex", "cytoskeleton"),
    "BUDNECK": ("cellular bud neck", "cellular bud", "site of polarized growth"),
    "BUDTIP": ("cellular bud tip", "cellular bud", "site of polarized growth"),
    "CELLPERIPHERY": ("plasma membrane", "cell periphery", "cell cortex"),
    "CYTOPLASM": ("cytoplasm", "cytosol"),
    "ENDOSOME": ("endosome", "endomembrane system"),
    "ER": ("endoplasmic reticulum", "endomembrane system"),
    "GOLGI": ("Golgi apparatus", "endomembrane system"),
    "MITOCHONDRIA": ("mitochondrion",),
    "NUCLEARPERIPHERY": ("nuclear envelope", "nucleus", "endomembrane system"),
    "NUCLEI": ("nucleus",),
    "NUCLEOLUS": ("nucleolus", "nucleus"),
    "PEROXISOME": ("peroxisome",),
    "SPINDLE": ("spindle", "microtubule", "cytoskeleton"),
    "SPINDLEPOLE": ("spindle pole body", "microtubule organizing center", "cytoskeleton"),
    "VACUOLARMEMBRANE": ("vacuolar membrane", "vacuole", "endomembrane system"),
    "VACUOLE": ("vacuole",),
}
#: Synthetic CC: share of proteins annotated only with the broader terms of their class ("coarse"), with
#: the terms of another class instead of their own ("other", discordant with the image), and with another
#: class's own term in addition ("extra").
CC_DISCORDANCE: dict[str, float] = {"coarse": 0.15, "other": 0.10, "extra": 0.10}


def synthetic_cellular_component(
    compartment: np.ndarray,
    second: np.ndarray,
    class_names: Sequence[str],
    bioprocesses: Sequence[Sequence[int]],
    rng: np.random.Generator,
) -> dict[str, list[int]]:
    """GO-like CC terms of synthetic proteins: own, parent and sub-compartment terms, with discordance.

    Every protein gets the terms of its classes (:data:`CLASS_TERMS`); with the
    :data:`CC_DISCORDANCE` shares its primary own term is left out (only broader
    terms remain), its primary class's terms are replaced by another class's, or
    another class's own term is added. The proteins of a class
    whose bioprocesses fall into one sub-compartment (``<term> subdomain <k>``,
    bioprocesses dealt round-robin, one per two bioprocesses) share that term too.

    Parameters
    ----------
    compartment, second : numpy.ndarray of int, shape (n,)
        Primary class and second class (-1 if none), indices into ``class_names``.
    class_names : sequence of str
        Names from :data:`CLASS_TERMS`.
    bioprocesses : sequence of sequence of int
        Member indices of each bioprocess.
    rng : numpy.random.Generator

    Returns
    -------
    dict of str -> list of int
        Term -> sorted member indices (terms with >= 2 members).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> cc = synthetic_cellular_component(np.array([0, 0, 1, 1]), np.full(4, -1), ["NUCLEI", "NUCLEOLUS"],
    ...                                   [[0, 1], [2, 3]], rng)
    >>> cc["nucleus"]
    [0, 1, 2, 3]
    """
    n = len(compartment)
    terms: list[set[str]] = [set() for _ in range(n)]
    own = [CLASS_TERMS[c][0] for c in class_names]
    draw = rng.random((3, n))
    coarse = draw[0] < CC_DISCORDANCE["coarse"]
    replaced = (draw[1] < CC_DISCORDANCE["other"]) & (len(class_names) > 1)
    extra = (draw[2] < CC_DISCORDANCE["extra"]) & (len(class_names) > 1)
    other = (compartment + rng.integers(1, max(len(class_names), 2), n)) % len(class_names)
    for i in range(n):
        annotated = other[i] if replaced[i] else compartment[i]
        terms[i].update(CLASS_TERMS[class_names[annotated]][1 if coarse[i] else 0:])
        if second[i] >= 0:
            terms[i].update(CLASS_TERMS[class_names[second[i]]])
        if extra[i]:
            terms[i].add(own[other[i]])
    for k in range(len(class_names)):
        in_class = [b for b in bioprocesses if sum(compartment[i] == k for i in b) * 2 > len(b)]
        n_sub = len(in_class) // 2
        for j, members in enumerate(in_class if n_sub >= 2 else []):
            for i in members:
                if compartment[i] == k and own[k] in terms[i]:
                    terms[i].add(f"{own[k]} subdomain {j % n_sub + 1}")
    groups: dict[str, list[int]] = {}
    for i, ts in enumerate(terms):
        for t in ts:
            groups.setdefault(t, []).append(i)
    return {t: m for t, m in sorted(groups.items()) if len(m) >= 2}


def label_agreement(
    compartment: np.ndarray,
    class_names: Sequence[str],
    cellular_component: Mapping[str, Sequence[int]],
) -> dict[str, float]:
    """How far a cellular_component standard agrees with the primary localization classes.

    Pairs are the protein pairs of the standard's universe (proteins in >= 1 group);
    a pair is positive when the two share a group.

    Parameters
    ----------
    compartment : numpy.ndarray of int, shape (n,)
        Primary class of each protein.
    class_names : sequence of str
        Class names (keys of :data:`CLASS_TERMS` count for ``class_term_share``).
    cellular_component : mapping of str -> sequence of int
        Group -> member indices.

    Returns
    -------
    dict of str -> float
        ``proteins`` (share of proteins in the universe), ``prevalence`` (positive pair share: the AP of
        a random ranking), ``same_class_given_positive`` and ``positive_given_same_class`` (pair shares),
        ``label_ap`` (average precision of ranking the pairs by "same class", ties counted as sklearn
        does), ``class_term_share`` (share of universe proteins carrying a term of their class, see
        :data:`CLASS_TERMS`) and ``discordant`` (1 - ``class_term_share``). With labels as the standard
        ``same_class_given_positive`` and ``label_ap`` are 1.

    Examples
    --------
    >>> out = label_agreement(np.array([0, 0, 1, 1]), ["NUCLEI", "VACUOLE"], {"nucleus": [0, 1, 2]})
    >>> out["prevalence"], out["same_class_given_positive"], out["class_term_share"]
    (1.0, 0.3333333333333333, 0.6666666666666666)
    """
    n = len(compartment)
    member = np.zeros((n, len(cellular_component)), bool)
    for j, idx in enumerate(cellular_component.values()):
        member[list(idx), j] = True
    universe = np.flatnonzero(member.any(axis=1))
    m = member[universe].astype(np.int64)
    positive = (m @ m.T) > 0
    same = compartment[universe][:, None] == compartment[universe][None, :]
    upper = np.triu_indices(len(universe), 1)
    pos, sam = positive[upper], same[upper]
    prevalence = float(pos.mean()) if pos.size else float("nan")
    precision_same = float(pos[sam].mean()) if sam.any() else prevalence
    recall_same = float(sam[pos].sum() / max(pos.sum(), 1))
    label_ap = recall_same * precision_same + (1 - recall_same) * prevalence if sam.any() and not sam.all() \
        else prevalence
    names = list(cellular_component)
    carried = [
        any(names[j] in CLASS_TERMS.get(class_names[compartment[i]], ()) for j in np.flatnonzero(member[i]))
        for i in universe
    ]
    share = float(np.mean(carried)) if carried else float("nan")
    return {
        "proteins": float(len(universe) / max(n, 1)),
        "prevalence": prevalence,
        "same_class_given_positive": recall_same,
        "positive_given_same_class": precision_same,
        "label_ap": float(label_ap),
        "class_term_share": share,
        "discordant": 1 - share,
    }
