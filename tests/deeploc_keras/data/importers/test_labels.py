"""The Huh 2003 labels CSV: one class per protein, checked against pandas; the real-data example's data steps."""

from __future__ import annotations

import lzma
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile
from click.testing import CliRunner

from deeploc_keras.cli import main
from deeploc_keras.core.errors import InputError
from deeploc_keras.data.importers.labels import LABEL_CLASSES, huh2003_labels
from deeploc_keras.data.store import CellStore
from deeploc_keras.data.synthetic.annotations import HUH_CATEGORIES

REPO = Path(__file__).resolve().parents[4]
SHARED = REPO.parent / "shared" / "data" / "standards"
HUH = SHARED / "huh2003_yeastgfp.csv.xz"
needs_huh = pytest.mark.skipif(not HUH.is_file(), reason=f"shared Huh 2003 table not found at {HUH}")

#: Huh category -> class, written out here (not taken from the package)
_CLASS_OF = {
    "mitochondrion": "MITOCHONDRIA", "vacuole": "VACUOLE", "spindle pole": "SPINDLEPOLE",
    "cell periphery": "CELLPERIPHERY", "vacuolar membrane": "VACUOLARMEMBRANE", "ER": "ER",
    "nuclear periphery": "NUCLEARPERIPHERY", "endosome": "ENDOSOME", "bud neck": "BUDNECK", "microtubule": "SPINDLE",
    "peroxisome": "PEROXISOME", "lipid particle": "PEROXISOME", "actin": "ACTIN", "nucleolus": "NUCLEOLUS",
    "cytoplasm": "CYTOPLASM", "nucleus": "NUCLEI", "bud": "BUDTIP", "punctate composite": "GOLGI", "Golgi": "GOLGI",
    "late Golgi": "GOLGI", "early Golgi": "GOLGI", "ER to Golgi": "GOLGI",
}  # fmt: skip


def _expected(path: Path, multi: str) -> pd.DataFrame:
    """The rule with pandas: melt the T flags, map to classes, pick the rarest class of each ORF."""
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    table = table[table["ambiguous"] != "T"]
    long = table.melt(id_vars=["yORF"], value_vars=list(_CLASS_OF), var_name="category", value_name="flag")
    long = long[long["flag"] == "T"].assign(label=lambda f: f["category"].map(_CLASS_OF))
    long = long[["yORF", "label"]].drop_duplicates()
    frequency = long["label"].value_counts()
    order = {c: k for k, c in enumerate(LABEL_CLASSES)}
    long = long.assign(rank=long["label"].map(frequency), tie=long["label"].map(order))
    n_classes = long.groupby("yORF")["label"].transform("size")
    if multi == "drop":
        long = long[n_classes == 1]
    chosen = long.sort_values(["yORF", "rank", "tie"]).drop_duplicates("yORF")
    position = {orf: k for k, orf in enumerate(table["yORF"])}
    chosen = chosen.assign(pos=chosen["yORF"].map(position)).sort_values("pos")
    return pd.DataFrame({"protein": chosen["yORF"].to_numpy(), "label": chosen["label"].to_numpy()})


@needs_huh
@pytest.mark.parametrize("multi", ["rarest", "drop"])
def test_huh2003_labels_equal_a_pandas_computation(multi):
    got = huh2003_labels(HUH, multi=multi)
    expected = _expected(HUH, multi)
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected.reset_index(drop=True))
    assert set(got["label"]) <= set(LABEL_CLASSES) and len(LABEL_CLASSES) == 17
    assert got["protein"].is_unique
    assert set(LABEL_CLASSES) - set(got["label"]) == (set() if multi == "rarest" else {"BUDTIP"})
    table = pd.read_csv(HUH, dtype=str, keep_default_na=False)
    assert not set(got["protein"]) & set(table.loc[table["ambiguous"] == "T", "yORF"])


@needs_huh
def test_huh2003_labels_with_aliases_label_gene_names_too():
    aliases = {"TFC3": "YAL001C", "FUN24": "YAL001C", "NOTHERE": "YZZ999W", "YAL001C": "YAL001C"}
    got = huh2003_labels(HUH, aliases=aliases).set_index("protein")["label"]
    assert got["TFC3"] == got["FUN24"] == got["YAL001C"] == "NUCLEI"  # TFC3: nucleus + cytoplasm -> the rarer
    assert "NOTHERE" not in got and got.index.is_unique


def test_huh2003_labels_raise_on_bad_input(tmp_path):
    bad = tmp_path / "huh.csv"
    bad.write_text("yORF,ambiguous\nYAL001C,F\n")
    with pytest.raises(InputError, match=r"huh\.csv: not the Huh 2003 YeastGFP table: missing columns"):
        huh2003_labels(bad)
    with pytest.raises(InputError, match="unknown multi rule 'all'"):
        huh2003_labels(bad, multi="all")


def _huh_table(path: Path, rows: dict[str, tuple[str, set[str]]]) -> Path:
    lines = [",".join(["yORF", "gene name", "ambiguous", *HUH_CATEGORIES])]
    lines += [",".join([orf, gene, "F", *("T" if c in where else "F" for c in HUH_CATEGORIES)])
              for orf, (gene, where) in rows.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def _crops(root: Path, proteins: list[str], cells: int = 10) -> Path:
    rng = np.random.default_rng(0)
    for protein in proteins:
        folder = root / protein
        folder.mkdir(parents=True)
        for k in range(cells):
            for channel in ("gfp", "rfp"):
                tifffile.imwrite(folder / f"{protein}_1_rfp_{k}_{channel}.tif",
                                 rng.integers(100, 4000, (64, 64), dtype=np.uint16))
    return root


_ROWS = {"YAL001C": ("TFC3", {"nucleus", "cytoplasm"}), "YAL002W": ("VPS8", {"endosome"}),
         "YAL003W": ("EFB1", {"cytoplasm"}), "YAL004W": ("", set())}


def test_labels_cli_and_tiff_folders_import_give_a_labelled_per_protein_split(tmp_path):
    huh = _huh_table(tmp_path / "huh.csv", _ROWS)
    runner = CliRunner()
    result = runner.invoke(main, ["standards", "labels", "--from", "huh2003", str(huh), "--out", str(tmp_path / "l.csv")])
    assert result.exit_code == 0, result.output
    assert "3 proteins, 3 classes" in result.output
    again = runner.invoke(main, ["standards", "labels", "--from", "huh2003", str(huh), "--out", str(tmp_path / "l.csv")])
    assert again.exit_code == 2 and "already exists" in again.output
    crops = _crops(tmp_path / "crops", ["YAL001C", "YAL002W", "YAL003W", "YAL004W"])
    store = tmp_path / "wt2.h5"
    result = runner.invoke(main, ["import", str(crops), str(store), "--format", "tiff-folders", "--labels",
                                  str(tmp_path / "l.csv"), "--seed", "0"])
    assert result.exit_code == 0, result.output
    with CellStore.open(store) as cells_store:
        cells = cells_store.cells
        names = cells_store.class_names
    assert names == ["CYTOPLASM", "ENDOSOME", "NUCLEI"]
    labels = {p: {names[k] if k >= 0 else None for k in g} for p, g in cells.groupby("protein")["label"]}
    assert labels == {"YAL001C": {"NUCLEI"}, "YAL002W": {"ENDOSOME"}, "YAL003W": {"CYTOPLASM"}, "YAL004W": {None}}
    for _, group in cells.groupby("protein"):  # the per-protein 80/10/10 split
        assert sorted(np.bincount(group["split"], minlength=3)) == [1, 1, 8]


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash not found")
def test_real_wt2_example_prepares_the_store_and_standards(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "yeastgfp.csv.xz").write_bytes(lzma.compress(_huh_table(tmp_path / "huh.csv", _ROWS).read_bytes()))
    (work / "SGD_features.tab").write_text(
        "S1\tORF\tVerified\tYAL001C\tTFC3\tFUN24\n".replace("\n", "\t" * 10 + "\n"))
    orfs = list(_ROWS)
    slim = [f"{orf}\tG{k}\tS{k}\t{aspect}\t{term}\tGO:{k:07d}\tORF|Verified"
            for k, orf in enumerate(orfs + [f"YBR{k:03d}W" for k in range(10)])
            for aspect, term in (("C", "nucleus"), ("P", "transcription"))]
    (work / "go_slim_mapping.tab").write_text("\n".join(slim) + "\n")
    (work / "yeast-KEGG-pathway-modules.json").write_text('{"sce01": ["YAL001C", "YAL002W"]}')
    (work / "yeast-IntAct-complex-modules.json").write_text('{"CPX-1": ["YAL002W", "YAL003W"]}')
    crops = _crops(tmp_path / "crops", orfs)
    env = {**os.environ, "CROPS": str(crops), "WORK": str(work), "PREPARE_ONLY": "1", "PYTHONPATH": str(REPO),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(["bash", str(REPO / "examples" / "real_wt2_gpu.sh")], env=env, capture_output=True,
                          text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    labels = pd.read_csv(work / "labels.csv")
    assert dict(zip(labels["protein"], labels["label"], strict=True)) == {
        "YAL001C": "NUCLEI", "YAL002W": "ENDOSOME", "YAL003W": "CYTOPLASM", "TFC3": "NUCLEI", "FUN24": "NUCLEI"}
    with CellStore.open(work / "wt2.h5") as store:
        assert len(store) == 40 and store.class_names == ["CYTOPLASM", "ENDOSOME", "NUCLEI"]
    assert sorted(p.name for p in (work / "standards").iterdir()) == [
        "bioprocess.gmt", "cellular_component.gmt", "complex.gmt", "pathway.gmt"]


def test_import_labels_from_huh2003_labels_every_real_toy_protein(pci_toy_dir, standards_dir, tmp_path):
    aliases = standards_dir / "sgd_SGD_features.tsv"
    result = CliRunner().invoke(main, ["import", str(pci_toy_dir), "--out", str(tmp_path / "toy.h5"), "--format",
                                       "tiff-folders", "--labels-from", "huh2003", "--aliases", str(aliases)])
    assert result.exit_code == 0, result.output
    with CellStore.open(tmp_path / "toy.h5") as store:
        names = np.asarray(store.class_names)
        got = {p: set(names[g]) for p, g in store.cells.groupby("protein")["label"]}
    # independent: gene -> ORF from the SGD table, then the rule computed with pandas on the shipped Huh table
    sgd = pd.read_csv(aliases, sep="\t", header=None, usecols=[3, 4], names=["orf", "gene"], dtype=str, skiprows=1)
    orf_of = dict(zip(sgd["gene"], sgd["orf"], strict=False))
    expected = _expected(REPO / "deeploc_keras/data/synthetic/data/huh2003_yeastgfp.csv.xz", "rarest")
    label_of = dict(zip(expected["protein"], expected["label"], strict=True))
    assert got == {gene: {label_of[orf_of[gene]]} for gene in ("AAC1", "AAC3", "AAH1", "AAP1", "AAR2")}
    assert len({label for labels in got.values() for label in labels}) >= 2  # enough classes to train
