"""The grounded hierarchy: shipped annotation, real ORFs and groups, GO-slim CC apart from the class labels."""

from __future__ import annotations

import hashlib
import json
import lzma
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import deeploc_keras
from deeploc_keras.core.errors import InputError
from deeploc_keras.data.synthetic.annotations import (
    ANNOTATION_FILES,
    CC_TERM_SIZES,
    package_annotations,
    read_annotations,
    subset_annotations,
)
from deeploc_keras.data.synthetic.compartments import label_agreement
from deeploc_keras.data.synthetic.grounded import HUH_CLASSES, hierarchy_from_annotations
from deeploc_keras.data.synthetic.hierarchy import LOCALIZATION_CLASSES

PRESET_SIZES = {"smoke": 48, "cpu": 240}  # proteins of the reproduce presets that simulate


def _shipped(name: str) -> bytes:
    return lzma.decompress((package_annotations() / (name + ".xz")).read_bytes())


@pytest.fixture(scope="module")
def cpu_hierarchy():
    return hierarchy_from_annotations(PRESET_SIZES["cpu"], seed=0)


def test_package_annotations_ship_inside_the_package():
    folder = Path(str(package_annotations()))
    assert folder.is_relative_to(Path(deeploc_keras.__file__).parent)
    shipped = sorted(p.name for p in folder.iterdir())
    assert shipped == sorted([n + ".xz" for n in ANNOTATION_FILES.values()] + ["PROVENANCE.md"])
    provenance = (folder / "PROVENANCE.md").read_text()
    total = 0
    for name in ANNOTATION_FILES.values():
        size = (folder / (name + ".xz")).stat().st_size
        total += size
        assert re.search(rf"`{re.escape(name)}\.xz` \| {size:,} \|", provenance), name
    assert f"Total: {total:,} bytes" in provenance and total < 200_000
    for word in ("licence", "CC BY 4.0", "MIT", "2024-02-19", "2007-02-01", "Huh"):
        assert word in provenance


def test_hierarchy_from_package_data(cpu_hierarchy):
    h = cpu_hierarchy
    assert len(h.proteins) == 240 and len(set(h.proteins)) == 240
    assert all(re.fullmatch(r"Y[A-P][LR]\d{3}[WC](-[A-Z])?", p) for p in h.proteins)
    assert h.class_names == list(LOCALIZATION_CLASSES)  # all 17 classes at the cpu preset's size
    assert sorted(h.groups) == ["bioprocess", "cellular_component", "complex", "pathway"]
    assert all(name.startswith("GO:") for name in h.groups["bioprocess"])
    assert all(not name.startswith("sce") for name in h.groups["pathway"])  # SGD pathways, not KEGG
    assert all(name.startswith("CPX-") for name in h.groups["complex"])
    assert all(2 <= len(m) <= 10 for m in h.groups["complex"].values())


@pytest.mark.parametrize("preset", sorted(PRESET_SIZES))
def test_every_standard_has_groups_at_the_preset_sizes(preset):
    for seed in (0, 1):
        h = hierarchy_from_annotations(PRESET_SIZES[preset], seed=seed)
        counts = {level: sum(len(m) >= 2 for m in groups.values()) for level, groups in h.groups.items()}
        assert min(counts.values()) >= (5 if preset == "smoke" else 25), counts


def test_hierarchy_reproducible_by_seed(cpu_hierarchy):
    again = hierarchy_from_annotations(240, seed=0)
    assert again.proteins == cpu_hierarchy.proteins and again.groups == cpu_hierarchy.groups
    assert np.array_equal(again.theta, cpu_hierarchy.theta) and np.array_equal(again.second, cpu_hierarchy.second)
    other = hierarchy_from_annotations(240, seed=1)
    assert other.proteins != cpu_hierarchy.proteins


def test_cellular_component_is_go_slim_not_the_labels(cpu_hierarchy):
    h = cpu_hierarchy
    slim = pd.read_csv(lzma.open(package_annotations() / "sgd_go_slim_mapping_2024.tab.xz", "rt"), sep="\t",
                       header=None, dtype=str, keep_default_na=False)
    terms = set(slim.loc[slim[3] == "C", 4])
    cc = h.groups["cellular_component"]
    assert len(cc) >= 30 and set(cc) <= terms
    assert not set(cc) & set(LOCALIZATION_CLASSES)
    agreement = label_agreement(h.compartment, h.class_names, cc)
    assert agreement["discordant"] > 0.1
    assert agreement["same_class_given_positive"] < 0.9 and agreement["positive_given_same_class"] < 0.9


def test_classes_follow_the_huh_table(cpu_hierarchy):
    h = cpu_hierarchy
    huh = pd.read_csv(lzma.open(package_annotations() / "huh2003_yeastgfp.csv.xz", "rt")).set_index("yORF")
    for i, orf in enumerate(h.proteins):
        flagged = {HUH_CLASSES[c] for c in HUH_CLASSES if huh.loc[orf, c] == "T"}
        assert h.class_names[h.compartment[i]] in flagged
        if h.second[i] >= 0:
            assert h.class_names[h.second[i]] in flagged - {h.class_names[h.compartment[i]]}
    assert 0 < (h.second >= 0).mean() <= 0.2


@pytest.fixture(scope="module")
def originals(standards_dir, tmp_path_factory):
    """The original files of the shipped annotation: the shared copies, and SGD's pathway file (shipped whole,
    absent from ../shared) checked against the md5 PROVENANCE.md records for the original."""
    folder = tmp_path_factory.mktemp("originals")
    for name in ("huh2003_yeastgfp.csv.xz", "icon_yeast-IntAct-complex-modules.json", "sgd_go_slim_mapping_2024.tab",
                 "sgd_SGD_features.tsv"):
        (folder / name).symlink_to(standards_dir / name)
    pathways = _shipped(ANNOTATION_FILES["pathway"])
    assert hashlib.md5(pathways).hexdigest() in (package_annotations() / "PROVENANCE.md").read_text()
    (folder / ANNOTATION_FILES["pathway"]).write_bytes(pathways)
    return folder


def test_shipped_subset_equals_subset_of_shared(originals, tmp_path):
    written = subset_annotations(originals, tmp_path)
    assert sorted(written) == sorted(n + ".xz" for n in ANNOTATION_FILES.values())
    for name in ANNOTATION_FILES.values():
        assert lzma.decompress((tmp_path / (name + ".xz")).read_bytes()) == _shipped(name), name
    original, shipped = read_annotations(originals), read_annotations()
    assert original.orfs == shipped.orfs and np.array_equal(original.categories, shipped.categories)
    assert original.modules == shipped.modules and original.cc_terms == shipped.cc_terms
    assert original.process_terms == shipped.process_terms and original.process_names() == shipped.process_names()


def _localized(standards_dir):
    huh = pd.read_csv(standards_dir / "huh2003_yeastgfp.csv.xz", dtype=str)
    return set(huh.loc[huh[list(HUH_CLASSES)].eq("T").any(axis=1) & huh["ambiguous"].ne("T"), "yORF"])


def _slim_terms(standards_dir, aspect, key, localized):
    """GO-slim terms of an aspect (by name or GO id) -> localized ORFs, from the shared SGD file."""
    slim = pd.read_csv(standards_dir / "sgd_go_slim_mapping_2024.tab", sep="\t", header=None, dtype=str,
                       keep_default_na=False, quoting=3)
    rows = slim[(slim[3] == aspect) & slim[6].str.startswith("ORF") & slim[0].isin(localized)
                & ~slim[4].str.lower().isin({"cellular component", "biological process", "biological_process",
                                              "other"})]
    return {term: set(rows.loc[rows[key] == term, 0]) for term in rows[key].unique()}, rows


def _restricted(groups, chosen, lo=2, hi=10**9):
    return {k: set(v) & chosen for k, v in groups.items() if lo <= len(set(v) & chosen) <= hi}


def test_groups_match_an_independent_restriction_of_shared(standards_dir, originals, cpu_hierarchy):
    h = cpu_hierarchy
    chosen = set(h.proteins)
    localized = _localized(standards_dir)
    assert chosen <= localized
    lo, hi = CC_TERM_SIZES
    ids = np.asarray(h.proteins)
    groups = {level: {t: set(ids[m]) for t, m in h.groups[level].items()} for level in h.groups}
    for aspect, level, key in (("C", "cellular_component", 4), ("P", "bioprocess", 5)):
        terms, _ = _slim_terms(standards_dir, aspect, key, localized)
        assert groups[level] == _restricted({t: m for t, m in terms.items() if lo <= len(m) <= hi}, chosen), level
    complexes = json.loads((standards_dir / "icon_yeast-IntAct-complex-modules.json").read_text())
    assert groups["complex"] == _restricted(complexes, chosen, hi=10)
    features = pd.read_csv(standards_dir / "sgd_SGD_features.tsv", sep="\t", dtype=str, keep_default_na=False)
    features = features[features["Type"] == "ORF"]
    gene_to_orf = {**dict(zip(features["Name"], features["Name"], strict=True)),
                   **{g: o for g, o in zip(features["Gene"], features["Name"], strict=True) if g}}
    pathways = pd.read_csv(originals / ANNOTATION_FILES["pathway"], sep="\t", header=None, dtype=str,
                           keep_default_na=False)
    pathway_orfs = pathways.assign(orf=pathways[3].str.upper().map(gene_to_orf)).dropna(subset=["orf"])
    expected = {name: set(rows["orf"]) for name, rows in pathway_orfs.groupby(0)}
    assert groups["pathway"] == _restricted(expected, chosen)


def test_bioprocess_groups_are_named_by_their_go_slim_terms(standards_dir, cpu_hierarchy):
    _, rows = _slim_terms(standards_dir, "P", 5, _localized(standards_dir))
    names = dict(zip(rows[5], rows[4], strict=True))
    described = cpu_hierarchy.descriptions["bioprocess"]
    assert set(described) == set(cpu_hierarchy.groups["bioprocess"])
    assert all(re.fullmatch(r"GO:\d{7}", group) and described[group] == names[group] for group in described)


def test_read_annotations_raises_missing_file(tmp_path):
    (tmp_path / "huh2003_yeastgfp.csv.xz").write_bytes(b"")
    with pytest.raises(InputError, match="missing annotation file"):
        read_annotations(tmp_path)


def test_hierarchy_from_annotations_raises_too_many_proteins():
    with pytest.raises(InputError, match="localized proteins are annotated"):
        hierarchy_from_annotations(10_000)
