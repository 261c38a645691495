"""Tests of the functional hierarchy (synthetic and grounded in real annotation)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from deeploc_keras.core.errors import InputError
from deeploc_keras.data.synthetic.compartments import CLASS_TERMS, label_agreement
from deeploc_keras.data.synthetic.hierarchy import LOCALIZATION_CLASSES, make_hierarchy


def _within_group_correlation(theta, groups):
    z = (theta - theta.mean(0)) / theta.std(0)
    corr = np.corrcoef(z)
    vals = [corr[i, j] for m in groups.values() for a, i in enumerate(m) for j in m[a + 1:]]
    return float(np.mean(vals))


def test_make_hierarchy_levels_nest_and_are_skewed():
    h = make_hierarchy(400, seed=0)
    assert set(np.asarray(h.class_names)[h.compartment]) == set(LOCALIZATION_CLASSES)
    sizes = np.array([len(m) for m in h.groups["bioprocess"].values()])
    assert sizes.max() >= 3 * np.median(sizes)  # skewed
    bios = [set(m) for m in h.groups["bioprocess"].values()]
    for members in h.groups["complex"].values():
        assert 2 <= len(members) <= 10
        assert any(set(members) <= b for b in bios)
    counts = np.bincount(np.concatenate([m for m in h.groups["bioprocess"].values()]), minlength=400)
    assert (counts >= 1).all() and (counts >= 2).any()  # overlapping memberships
    assert 0 < (h.second >= 0).mean() < 0.3


def test_make_hierarchy_complex_signal_beats_shuffled():
    h = make_hierarchy(400, seed=0)
    real = _within_group_correlation(h.theta, h.groups["complex"])
    perm = np.random.default_rng(0).permutation(400)
    shuffled = _within_group_correlation(h.theta[perm], h.groups["complex"])
    assert real > shuffled + 0.2
    # finer levels share less: complex partners correlate more than bioprocess partners, who exceed random
    assert _within_group_correlation(h.theta, h.groups["bioprocess"]) > shuffled


def test_make_hierarchy_raises_too_many_complexes():
    with pytest.raises(InputError, match="more complexes than proteins allow"):
        make_hierarchy(10, n_complexes=6)


def test_make_hierarchy_raises_unknown_class():
    with pytest.raises(InputError, match="GOLGIX"):
        make_hierarchy(10, classes=["GOLGIX"])


def test_make_hierarchy_raises_nonpositive_count():
    with pytest.raises(InputError, match="proteins must be an integer >= 1"):
        make_hierarchy(0)


def test_make_hierarchy_cellular_component_is_not_the_labels():
    h = make_hierarchy(400, seed=0)
    cc = h.groups["cellular_component"]
    names = np.asarray(h.class_names)
    # parent terms span classes, sub-compartment terms split them
    assert {"NUCLEI", "NUCLEOLUS", "NUCLEARPERIPHERY"} <= set(names[h.compartment[cc["nucleus"]]])
    assert any("subdomain" in t for t in cc)
    assert not set(cc) & set(LOCALIZATION_CLASSES)
    own = {c: CLASS_TERMS[c][0] for c in h.class_names}
    carries_own = np.array([i in cc.get(own[names[c]], []) for i, c in enumerate(h.compartment)])
    # discordance: coarse (15 %) and other-class (10 %) annotations drop the own term
    assert 0.15 < 1 - carries_own.mean() < 0.35
    agreement = label_agreement(h.compartment, h.class_names, cc)
    assert agreement["discordant"] > 0.05 and agreement["same_class_given_positive"] < 0.6


def test_make_hierarchy_unchanged_by_the_cellular_component_stream():
    a, b = make_hierarchy(200, seed=3), make_hierarchy(200, seed=3)
    assert a.groups == b.groups and np.array_equal(a.theta, b.theta)
    assert make_hierarchy(200, seed=4).groups["cellular_component"] != a.groups["cellular_component"]


def test_label_agreement_matches_sklearn():
    h = make_hierarchy(150, seed=1)
    cc = h.groups["cellular_component"]
    out = label_agreement(h.compartment, h.class_names, cc)
    universe = sorted({i for m in cc.values() for i in m})
    terms = [{t for t, m in cc.items() if i in m} for i in universe]
    y, score = [], []
    for a in range(len(universe)):
        for b in range(a + 1, len(universe)):
            y.append(bool(terms[a] & terms[b]))
            score.append(float(h.compartment[universe[a]] == h.compartment[universe[b]]))
    y, score = np.array(y), np.array(score)
    assert out["prevalence"] == pytest.approx(y.mean())
    assert out["label_ap"] == pytest.approx(average_precision_score(y, score), abs=1e-12)
    assert out["same_class_given_positive"] == pytest.approx(score[y].mean())
    assert out["proteins"] == pytest.approx(len(universe) / 150)
