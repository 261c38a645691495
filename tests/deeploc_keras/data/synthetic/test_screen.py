"""Tests of the synthetic screen: determinism, store validity, standards, CLI, bad input, montage."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from deeploc_keras.cli import main
from deeploc_keras.core.errors import InputError, OutputExistsError
from deeploc_keras.data.store import CHONG_CLASS_NAMES, CellStore
from deeploc_keras.data.synthetic import simulate_screen
from deeploc_keras.data.synthetic.camera import DIFFICULTIES
from deeploc_keras.data.synthetic.montage import write_montage
from deeploc_keras.data.synthetic.screen import BLOCK_CELLS, HIERARCHY_CHOICES, STANDARD_NAMES, cells_per_protein_counts

SMALL = {"proteins": 40, "cells_per_protein": 8, "plates": 2}
SYNTHETIC = {**SMALL, "hierarchy": "synthetic"}


def _read_gmt(path):
    groups = {}
    for line in path.read_text().splitlines():
        name, _, *members = line.split("\t")
        groups[name] = members
    return groups


def _digest(outdir):
    with CellStore.open(outdir / "cells.h5") as store:
        images = store.images()
        cells = store.cells
    h = hashlib.sha256(images.tobytes())
    h.update(pd.util.hash_pandas_object(cells, index=False).to_numpy().tobytes())
    for name in STANDARD_NAMES:
        h.update((outdir / "standards" / f"{name}.gmt").read_bytes())
    h.update((outdir / "proteins.csv").read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def screen(tmp_path_factory):
    return simulate_screen(tmp_path_factory.mktemp("sim") / "screen", seed=0, **SMALL)


@pytest.fixture(scope="module")
def synthetic_screen(tmp_path_factory):
    return simulate_screen(tmp_path_factory.mktemp("sim") / "synthetic", seed=0, **SYNTHETIC)


@pytest.mark.parametrize("kind", ["screen", "synthetic_screen"])
def test_simulate_screen_writes_valid_store(kind, request):
    screen = request.getfixturevalue(kind)
    with CellStore.open(screen.store) as store:
        assert len(store) == 320
        assert store.dtype == np.uint16
        assert store.image_shape == (64, 64, 2)
        class_names = store.class_names
        store.require_labels()
        store.require_proteins()
        cells = store.cells
        images = store.images(slice(0, 64))
    if kind == "synthetic_screen":
        assert class_names == list(CHONG_CLASS_NAMES)
        assert cells["protein"].str.match(r"^YSIM\d{4}$").all()
    else:  # real systematic ORF names, classes a subset of the 17 in their order, then DEAD, GHOST
        assert cells["protein"].str.match(r"^Y[A-P][LR]\d{3}[WC](-[A-Z])?$").all()
        assert class_names == [c for c in CHONG_CLASS_NAMES if c in class_names]
        assert class_names[-2:] == ["DEAD", "GHOST"]
    assert cells["protein"].nunique() == 40
    assert set(cells["split"]) == {0, 1, 2}
    assert cells["plate"].nunique() == 2
    assert images.min() >= 60  # camera offset 100 minus read noise
    proteins = pd.read_csv(screen.proteins_csv)
    first_label = cells.groupby("protein")["label"].agg(lambda s: s.mode().iloc[0])
    names = np.asarray(class_names)
    assert (names[first_label.loc[proteins["protein"]].to_numpy()] == proteins["localization"].to_numpy()).all()
    localization = _read_gmt(screen.localization)
    assert set(localization) == set(proteins["localization"]) | set(proteins["second_localization"].dropna())


@pytest.mark.parametrize("kind", ["screen", "synthetic_screen"])
def test_simulate_screen_standards_shapes(kind, request):
    screen = request.getfixturevalue(kind)
    ids = set(pd.read_csv(screen.proteins_csv)["protein"])
    gmts = {name: _read_gmt(screen.standards[name]) for name in STANDARD_NAMES}
    assert all(gmts[name] for name in STANDARD_NAMES)
    for members in gmts["complex"].values():
        assert 2 <= len(members) <= 10
    for name in STANDARD_NAMES:
        assert set().union(*map(set, gmts[name].values())) <= ids
        assert all(len(m) >= 2 for m in gmts[name].values())
    # the cellular_component standard is not the class labels
    labels = {frozenset(m) for m in _read_gmt(screen.localization).values()}
    assert {frozenset(m) for m in gmts["cellular_component"].values()} != labels
    assert not set(gmts["cellular_component"]) & set(CHONG_CLASS_NAMES)


def test_grounded_screen_names_its_bioprocesses_in_the_gmt(screen):
    lines = [line.split("\t") for line in screen.standards["bioprocess"].read_text().splitlines()]
    named = [(group, description) for group, description, *_ in lines if description != group]
    assert len(named) >= 0.9 * len(lines) and all(group.startswith("GO:") for group, _ in named)
    assert all(description and not description.startswith("GO:") for _, description in named)


def test_simulate_screen_synthetic_groups_nest(synthetic_screen):
    screen = synthetic_screen
    gmts = {name: _read_gmt(screen.standards[name]) for name in STANDARD_NAMES}
    # nesting: every complex lies inside one bioprocess
    bios = [set(m) for m in gmts["bioprocess"].values()]
    assert all(any(set(c) <= b for b in bios) for c in gmts["complex"].values())
    # pathways span several bioprocesses
    assert max(sum(bool(set(p) & b) for b in bios) for p in gmts["pathway"].values()) >= 2


@pytest.mark.parametrize(("kind", "options"), [("screen", SMALL), ("synthetic_screen", SYNTHETIC)])
def test_simulate_screen_deterministic(kind, options, request, tmp_path):
    screen = request.getfixturevalue(kind)
    again = simulate_screen(tmp_path / "again", seed=0, **options)
    assert _digest(again.outdir) == _digest(screen.outdir)
    other = simulate_screen(tmp_path / "other", seed=1, **options)
    with CellStore.open(other.store) as a, CellStore.open(screen.store) as b:
        assert not np.array_equal(a.images(slice(0, 16)), b.images(slice(0, 16)))
    for name in STANDARD_NAMES:
        assert other.standards[name].read_bytes() != screen.standards[name].read_bytes()


def test_simulate_screen_chunk_size_does_not_change_results(screen, tmp_path):
    assert screen.n_cells > BLOCK_CELLS  # several render blocks
    chunked = simulate_screen(tmp_path / "chunked", seed=0, chunk_cells=37, **SMALL)
    assert _digest(chunked.outdir) == _digest(screen.outdir)


def test_simulate_screen_raises_nonpositive_counts(tmp_path):
    for bad in ({"proteins": 0}, {"cells_per_protein": -1}, {"plates": 0}):
        with pytest.raises(InputError, match="positive integer"):
            simulate_screen(tmp_path / "x", **{**SMALL, **bad})
    assert not (tmp_path / "x").exists()


def test_cells_per_protein_counts_lognormal():
    assert cells_per_protein_counts(5, 7).tolist() == [7] * 5
    counts = cells_per_protein_counts(4000, 30, 0.8, seed=3)
    assert counts.min() >= 4
    assert counts.max() > 3 * 30  # a heavy right tail
    assert 27 < counts.mean() < 33  # mean preserved (before the floor of 4 cells)
    assert np.array_equal(counts, cells_per_protein_counts(4000, 30, 0.8, seed=3))
    assert not np.array_equal(counts, cells_per_protein_counts(4000, 30, 0.8, seed=4))


def test_simulate_screen_cells_per_protein_spread(tmp_path):
    kwargs = {**SMALL, "cells_per_protein_spread": 1.0, "proteins": 30}
    out = simulate_screen(tmp_path / "spread", seed=5, **kwargs)
    expected = cells_per_protein_counts(30, SMALL["cells_per_protein"], 1.0, seed=5)
    assert out.n_cells == expected.sum()
    proteins = pd.read_csv(out.proteins_csv)
    assert proteins["cells"].tolist() == expected.tolist()
    with CellStore.open(out.store) as store:
        assert len(store) == expected.sum()
        per_protein = store.cells.groupby("protein").size()
    assert per_protein.loc[proteins["protein"]].tolist() == expected.tolist()
    assert per_protein.min() >= 4 and per_protein.nunique() > 3
    again = simulate_screen(tmp_path / "again", seed=5, chunk_cells=29, **kwargs)
    assert _digest(again.outdir) == _digest(out.outdir)


def test_simulate_screen_raises_negative_spread(tmp_path):
    with pytest.raises(InputError, match="cells_per_protein_spread must be in"):
        simulate_screen(tmp_path / "x", cells_per_protein_spread=-0.5, **SMALL)
    assert not (tmp_path / "x").exists()


def test_simulate_command_raises_negative_spread(tmp_path):
    result = CliRunner().invoke(main, ["simulate", "--out", str(tmp_path / "bad"), "--cells-per-protein-spread", "-1"])
    assert result.exit_code == 2
    assert "Invalid value for '--cells-per-protein-spread'" in result.output
    assert not (tmp_path / "bad").exists()


def test_simulate_screen_raises_too_many_complexes(tmp_path):
    with pytest.raises(InputError, match="more complexes than proteins allow"):
        simulate_screen(tmp_path / "x", complexes=30, **SYNTHETIC)
    assert not (tmp_path / "x").exists()
    with pytest.raises(InputError, match="4 proteins are too few"):  # no bioprocess of 2 proteins
        simulate_screen(tmp_path / "x", proteins=4, cells_per_protein=2, seed=1, hierarchy="synthetic")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("hierarchy", ["grounded", "synthetic"])
def test_simulate_command_raises_too_few_proteins_without_naming_unset_options(tmp_path, hierarchy):
    result = CliRunner().invoke(main, ["simulate", "--out", str(tmp_path / "one"), "--proteins", "1", "--hierarchy", hierarchy])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert result.output.startswith("Error: 1 proteins are too few for the functional standards")
    assert result.output.strip().endswith("Received: --proteins 1")  # the CLI speaks its own spelling
    assert result.output.count("--") == 1  # no option the user never set
    assert not (tmp_path / "one").exists()


def test_simulate_screen_raises_unknown_class(tmp_path):
    with pytest.raises(InputError, match="classes must be distinct names"):
        simulate_screen(tmp_path / "x", classes=["NUCLEI", "GOLGIX"], **SYNTHETIC)


def test_simulate_screen_raises_synthetic_option_on_grounded(tmp_path):
    with pytest.raises(InputError, match="classes, complexes apply to the synthetic hierarchy only"):
        simulate_screen(tmp_path / "x", classes=["NUCLEI"], complexes=3, **SMALL)
    with pytest.raises(InputError, match="hierarchy must be one of"):
        simulate_screen(tmp_path / "x", hierarchy="real", **SMALL)
    with pytest.raises(InputError, match="need hierarchy='grounded'"):
        simulate_screen(tmp_path / "x", annotations=tmp_path, **SYNTHETIC)
    assert not (tmp_path / "x").exists()


def test_simulate_screen_raises_existing_output(screen):
    with pytest.raises(OutputExistsError):
        simulate_screen(screen.outdir, **SMALL)


def test_simulate_screen_class_subset_and_no_artefacts(tmp_path):
    out = simulate_screen(tmp_path / "sub", classes=["NUCLEI", "CYTOPLASM"], dead_ghost_fraction=0,
                          proteins=6, cells_per_protein=3, complexes=1, hierarchy="synthetic")
    assert out.class_names == ["NUCLEI", "CYTOPLASM"]


def test_simulate_command_writes_outputs(tmp_path):
    result = CliRunner().invoke(main, ["simulate", "--out", str(tmp_path / "cli"), "--proteins", "20",
                                       "--cells-per-protein", "3", "--seed", "2", "--difficulty", "hard"])
    assert result.exit_code == 0, result.output
    assert "60 cells of 20 proteins" in result.output
    spread = CliRunner().invoke(main, ["simulate", "--out", str(tmp_path / "spread"), "--proteins", "20",
                                       "--cells-per-protein", "6", "--cells-per-protein-spread", "0.7"])
    assert spread.exit_code == 0, spread.output
    n_cells = int(cells_per_protein_counts(20, 6, 0.7, seed=0).sum())
    assert f"{n_cells} cells of 20 proteins" in spread.output
    assert (tmp_path / "cli" / "standards" / "complex.gmt").is_file()


def test_simulate_command_choices_match_library():
    command = main.commands["simulate"]
    choice = next(p for p in command.params if p.name == "difficulty").type
    assert list(choice.choices) == list(DIFFICULTIES)
    for name in ("simulate", "reproduce"):
        choice = next(p for p in main.commands[name].params if p.name == "hierarchy")
        assert list(choice.type.choices) == list(HIERARCHY_CHOICES) and choice.default == "grounded"


def test_simulate_command_synthetic_hierarchy(tmp_path):
    result = CliRunner().invoke(main, ["simulate", "--out", str(tmp_path / "s"), "--proteins", "12", "--cells-per-protein",
                                       "2", "--hierarchy", "synthetic"])
    assert result.exit_code == 0, result.output
    assert pd.read_csv(tmp_path / "s" / "proteins.csv")["protein"].str.startswith("YSIM").all()


def test_simulate_command_raises_nonpositive_count(tmp_path):
    result = CliRunner().invoke(main, ["simulate", "--out", str(tmp_path / "bad"), "--proteins", "0"])
    assert result.exit_code == 2
    assert "Invalid value" in result.output
    assert not (tmp_path / "bad").exists()


def test_simulate_command_raises_annotation_dir_missing(tmp_path):
    result = CliRunner().invoke(main, ["simulate", "--out", str(tmp_path / "bad"), "--annotations", str(tmp_path / "none")])
    assert result.exit_code == 2
    assert "annotation directory not found" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "bad").exists()


def test_simulate_command_raises_annotation_file_missing(tmp_path):
    annotations = tmp_path / "ann"
    annotations.mkdir()
    (annotations / "huh2003_yeastgfp.csv.xz").write_bytes(b"")
    result = CliRunner().invoke(main, ["simulate", "--out", str(tmp_path / "out"), "--annotations", str(annotations)])
    assert result.exit_code == 2
    assert "missing annotation file" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_write_montage_png(screen, tmp_path):
    png = write_montage(screen.store, tmp_path / "montage.png", per_class=3)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image

    grid = matplotlib.image.imread(png)
    assert grid.shape[0] > grid.shape[1]  # one row per class
