"""Reference representations: untrained networks, the labels, the generating parameters, PCI's mean-image MSE."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from deeploc_keras.core.errors import InputError
from deeploc_keras.core.profiles import read_profiles
from deeploc_keras.core.records import write_run_record
from deeploc_keras.data.store import CellStore
from deeploc_keras.models.info import read_model_info
from deeploc_keras.study.references import generating_profiles, label_profiles, mean_target_mse, untrained_model
from deeploc_keras.training.config import TrainConfig


def _store(path, images, proteins, labels, splits, class_names=("ER", "NUCLEI", "VACUOLE")):
    with CellStore.create(path, class_names=list(class_names)) as writer:
        writer.append(images, {"protein": proteins, "label": labels, "split": splits})
    return path


def test_label_profiles_are_the_class_shares_of_each_proteins_test_cells(tmp_path):
    rng = np.random.default_rng(0)
    n = 40
    proteins = rng.choice(["A", "B", "C", "D"], size=n)
    labels = rng.integers(-1, 3, size=n)
    splits = rng.integers(0, 3, size=n)
    store = _store(tmp_path / "cells.h5", np.zeros((n, 64, 64, 2), np.uint16), proteins, labels, splits)
    table = read_profiles(label_profiles(store, tmp_path / "labels"))
    cells = pd.DataFrame({"protein": proteins, "label": labels, "split": splits})
    test = cells[(cells["split"] == 2) & (cells["label"] >= 0)]
    expected = pd.crosstab(test["protein"], test["label"], normalize="index").reindex(columns=[0, 1, 2], fill_value=0)
    assert table.meta["Metadata_Protein"].tolist() == expected.index.tolist()
    np.testing.assert_allclose(table.features, expected.to_numpy())
    assert table.feature_names == ["Labels_ER", "Labels_NUCLEI", "Labels_VACUOLE"]
    assert table.method == "Labels"


def test_label_profiles_refuse_a_split_without_labelled_cells(tmp_path):
    store = _store(tmp_path / "cells.h5", np.zeros((4, 64, 64, 2), np.uint16), ["A", "A", "B", "B"],
                   [0, 1, -1, -1], [0, 0, 2, 2])
    with pytest.raises(InputError, match="no labelled cells in split 'test'"):
        label_profiles(store, tmp_path / "labels")
    assert not (tmp_path / "labels" / "proteins.parquet").exists()


def _proteins_csv(path):
    pd.DataFrame({"protein": ["P1", "P2", "P3"], "localization": ["ER", "NUCLEI", "VACUOLE"],
                  "second_localization": ["VACUOLE", "", ""], "mix": [0.3, 0.0, 0.0],
                  "theta_size": [0.1, -0.2, 0.3], "theta_count": [1.0, 2.0, -1.0]}).to_csv(path, index=False)
    return path


def test_generating_profiles_mix_the_two_classes_and_append_theta(tmp_path):
    csv = _proteins_csv(tmp_path / "proteins.csv")
    table = read_profiles(generating_profiles(csv, tmp_path / "gen", class_names=["ER", "NUCLEI", "VACUOLE", "DEAD"],
                                              proteins=["P3", "P1"]))
    assert table.meta["Metadata_Protein"].tolist() == ["P3", "P1"]
    np.testing.assert_allclose(table.features, [[0, 0, 1, 0, 0.3, -1.0], [0.7, 0, 0.3, 0, 0.1, 1.0]], rtol=1e-6)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"class_names": ["ER", "NUCLEI"]}, "classes \\['VACUOLE'\\] are not among"),
    ({"class_names": ["ER", "NUCLEI", "VACUOLE"], "proteins": ["P1", "P9"]}, "has no row for 1 proteins"),
])
def test_generating_profiles_refuse_foreign_classes_and_proteins(tmp_path, kwargs, message):
    csv = _proteins_csv(tmp_path / "proteins.csv")
    with pytest.raises(InputError, match=message):
        generating_profiles(csv, tmp_path / "gen", **kwargs)
    assert not (tmp_path / "gen").exists()


def _pci_run(run_dir, store, seed):
    cfg = TrainConfig(method="pci", preset=None, epochs=1, batch_size=8, learning_rate=1e-3, beta_1=0.5, seed=seed,
                      width=0.0625, jit_compile=False, store=str(store), out=str(run_dir))
    run_dir.mkdir(parents=True)
    write_run_record(run_dir / "config.json", command="train", config=cfg.to_dict(), seed=seed)
    (run_dir / "best.keras").write_bytes(b"")  # a finished run (untrained_model builds from config.json)
    return run_dir


def _disk_and_ring():
    yy, xx = np.mgrid[:64, :64]
    r = np.hypot(yy - 31.5, xx - 31.5)
    disk, ring = (r < 12).astype(float), ((r > 16) & (r < 24)).astype(float)
    return disk, ring


@pytest.fixture
def two_protein_store(tmp_path):
    disk, ring = _disk_and_ring()
    marker = 1000 * (np.hypot(*np.mgrid[:64, :64] - 31.5) < 28)
    images = np.stack([np.stack([100 + 1000 * g, marker], -1) for g in [disk] * 12 + [ring] * 12]).astype(np.uint16)
    splits = ([0] * 8 + [1] * 4) * 2
    return _store(tmp_path / "cells.h5", images, ["A"] * 12 + ["B"] * 12, [0] * 24, splits)


def test_mean_target_mse_is_the_val_error_of_the_mean_training_target(tmp_path, two_protein_store):
    run = _pci_run(tmp_path / "pci", two_protein_store, seed=0)
    disk, ring = _disk_and_ring()
    # min-max scaled targets are the disk and the ring (flip-symmetric); the training mean is their average
    expected = float((((disk - ring) / 2) ** 2).mean())
    assert mean_target_mse(run, two_protein_store) == pytest.approx(expected, rel=1e-5)


def test_untrained_model_is_seeded_random_weights_extract_reads_as_pci(tmp_path, two_protein_store):
    from deeploc_keras.inference.extract import extract

    first = untrained_model(_pci_run(tmp_path / "pci0", two_protein_store, seed=0), two_protein_store, tmp_path / "u0")
    again = untrained_model(tmp_path / "pci0", two_protein_store, tmp_path / "u0b")
    other = untrained_model(_pci_run(tmp_path / "pci1", two_protein_store, seed=1), two_protein_store, tmp_path / "u1")
    profiles = [read_profiles(extract(two_protein_store, tmp_path / f"p{k}", method="pci", model_path=path,
                                      split="all")["proteins"]).features for k, path in enumerate((first, again, other))]
    np.testing.assert_array_equal(profiles[0], profiles[1])
    assert not np.allclose(profiles[0], profiles[2])
    assert read_model_info(first)["method"] == "pci" and not (tmp_path / "u0" / "model_card.json").exists()


def test_untrained_model_refuses_a_directory_without_a_run(tmp_path, two_protein_store):
    with pytest.raises(InputError, match="holds no finished training run"):
        untrained_model(tmp_path, two_protein_store, tmp_path / "u")
