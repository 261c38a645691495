"""Tests of the functional hierarchy (synthetic and grounded in real annotation)."""

from __future__ import annotations

import numpy as np
import pytest

from deeploc_keras.errors import InputError
from deeploc_keras.synthetic.hierarchy import LOCALIZATION_CLASSES, hierarchy_from_annotations, make_hierarchy


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


def test_hierarchy_from_annotations_uses_real_groups(standards_dir):
    h = hierarchy_from_annotations(standards_dir, 300, seed=0)
    assert len(h.proteins) == 300 and h.proteins[0].startswith("Y")
    assert "nucleus" in h.class_names and "cytoplasm" in h.class_names
    assert len(h.groups["complex"]) >= 10
    assert all(2 <= len(m) <= 10 for m in h.groups["complex"].values())


def test_hierarchy_from_annotations_raises_missing_file(tmp_path):
    with pytest.raises(InputError, match="missing annotation file"):
        hierarchy_from_annotations(tmp_path, 10)
