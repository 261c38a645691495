"""The oracle: DeepLoc's trunk regressing the function parameters, its profiles, and the gate on a small screen."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from deeploc_keras.core.errors import InputError
from deeploc_keras.core.profiles import read_profiles
from deeploc_keras.data.store import CellStore
from deeploc_keras.data.synthetic import simulate_screen
from deeploc_keras.data.synthetic.parameters import FUNCTION_CHANNELS, PARAMETER_NAMES
from deeploc_keras.study.gate import oracle_gate
from deeploc_keras.study.oracle import (
    GATE_ALPHA,
    GATE_R2,
    GATE_STANDARDS,
    oracle_profiles,
    parameter_recovery,
    theta_table,
    train_oracle,
    within_significance,
)
from eval.standards import load_standard

#: The small screen of these tests: few proteins, a 60/20/20 split (8 held-out cells each), a narrow short oracle.
SMALL_SCREEN = {"proteins": 60, "cells_per_protein": 40, "seed": 0, "split_fractions": (0.6, 0.2, 0.2)}
SMALL_ORACLE = {"width": 0.0625, "epochs": 2, "batch_size": 64, "seed": 0}


@pytest.fixture(scope="module")
def gate(tmp_path_factory):
    root = tmp_path_factory.mktemp("oracle")
    screen = simulate_screen(root / "screen", **SMALL_SCREEN)
    run = train_oracle(screen.store, screen.proteins_csv, root / "oracle", **SMALL_ORACLE)
    profiles = oracle_profiles(run, screen.store, root / "profiles")
    return screen, run, profiles


def test_oracle_profiles_average_the_heldout_cells(gate):
    screen, run, profiles = gate
    table = read_profiles(profiles)
    assert table.feature_names == [f"Oracle_theta_{p}" for p in PARAMETER_NAMES]
    assert table.info["method"] == "Oracle" and table.info["split"] == "heldout"
    with CellStore.open(screen.store) as store:
        heldout = store.cells.iloc[store.select("heldout")]
        n_train = len(store.select("train"))
    counts = heldout.groupby("protein").size()
    assert table.meta.set_index("Metadata_Protein")["Metadata_Count"].to_dict() == counts.to_dict()
    assert counts.min() >= 0.4 * SMALL_SCREEN["cells_per_protein"] - 1
    record = json.loads((run / "oracle.json").read_text())
    assert record["train_cells"] == n_train and record["parameters"] == list(PARAMETER_NAMES)
    history = pd.read_csv(run / "history.csv")
    assert len(history) == SMALL_ORACLE["epochs"] and history["loss"].iloc[-1] < history["loss"].iloc[0]


def _gate(screen, features: np.ndarray, proteins: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The oracle gate's two measures: R² per parameter, and the within-class permutation test per standard."""
    names = [f"Oracle_theta_{p}" for p in PARAMETER_NAMES]
    profiles = pd.DataFrame(features, columns=names).assign(Metadata_Protein=proteins)
    return (parameter_recovery(profiles, screen.proteins_csv),
            within_significance(profiles, screen.outdir, n_null=99, seed=0))


def _verdict(recovery: pd.DataFrame, within: pd.DataFrame) -> pd.DataFrame:
    """The gate's verdict as reproduce reads it, from the within-compartment scores of :func:`_gate`."""
    scores = within.rename(columns={"ap_within": "value"}).assign(representation="Oracle")
    return oracle_gate(recovery, scores.assign(metric="average_precision_within"), scores, representation="Oracle")


def _class_permutation(classes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A permutation of the rows that maps each row to a row of the same class."""
    perm = np.arange(len(classes))
    for c in np.unique(classes):
        rows = np.flatnonzero(classes == c)
        perm[rows] = rng.permutation(rows)
    return perm


@pytest.fixture(scope="module")
def readout_screen(tmp_path_factory):
    """The cpu preset's 240 proteins, one cell each (the gate's measures need proteins, not cells)."""
    return simulate_screen(tmp_path_factory.mktemp("readout") / "screen", proteins=240, cells_per_protein=1, seed=0)


def test_oracle_gate_on_a_small_screen(readout_screen):
    """The gate passes for profiles that carry the parameters (the generator's theta read with per-protein noise
    of a third of their sd: R² about 0.9), fails on exactly the parameter whose readout is replaced by noise, and
    fails for the profiles permuted among proteins of a class."""
    screen = readout_screen
    proteins = pd.read_csv(screen.proteins_csv)["protein"].astype(str).tolist()
    truth = theta_table(screen.proteins_csv).loc[proteins].to_numpy()
    rng = np.random.default_rng(0)
    readout = truth + rng.normal(0, 1, truth.shape) * truth.std(axis=0) / 3
    recovery, within = _gate(screen, readout, proteins)
    assert set(recovery["channel"]) == set(FUNCTION_CHANNELS)
    assert (recovery["r2"] >= GATE_R2).all() and recovery["passes"].all(), recovery.to_dict("records")
    assert list(within["standard"]) == list(GATE_STANDARDS)
    assert within["passes"].all() and (within["p_null"] < GATE_ALPHA).all(), within.to_dict("records")
    verdict = _verdict(recovery, within)
    assert verdict["name"].tolist() == [*PARAMETER_NAMES, *GATE_STANDARDS] and verdict["passes"].all()
    blind = readout.copy()
    blind[:, PARAMETER_NAMES.index("partner")] = rng.permutation(blind[:, PARAMETER_NAMES.index("partner")])
    verdict = _verdict(*_gate(screen, blind, proteins))
    assert verdict.loc[~verdict["passes"], "name"].tolist() == ["partner"], verdict.to_dict("records")
    classes = pd.read_csv(screen.proteins_csv).set_index("protein").loc[proteins, "localization"].to_numpy()
    shuffled = readout[_class_permutation(classes, rng)]
    recovery, within = _gate(screen, shuffled, proteins)
    assert not recovery["passes"].any(), recovery.to_dict("records")
    assert not within["passes"].all() and within["p_null"].median() > GATE_ALPHA, within.to_dict("records")
    assert not _verdict(recovery, within)["passes"].any()


def test_within_significance_is_the_score_of_the_within_metric(gate):
    """The gate's p-values are those ``score`` reports for the within-compartment AP (one engine, one null)."""
    from eval.score import score_representation

    screen, _, profiles = gate
    table = read_profiles(profiles)
    within = within_significance(profiles, screen.outdir, standards=("complex",), n_null=49, seed=3)
    other = score_representation(table.meta["Metadata_Protein"].astype(str).tolist(), table.features,
                                 {"complex": load_standard(screen.standards["complex"])},
                                 metrics=["average_precision_within"], n_null=49, seed=3,
                                 localization=load_standard(screen.localization))
    assert within["ap_within"].tolist() == other["value"].tolist()
    assert within["p_null"].tolist() == other["p_null"].tolist()


def test_within_significance_raises_missing_standard(gate, tmp_path):
    _, _, profiles = gate
    (tmp_path / "standards").mkdir()
    (tmp_path / "localization.gmt").write_text("A\tA\tx\ty\n")
    with pytest.raises(InputError, match="complex.gmt.*no such file"):
        within_significance(profiles, tmp_path, standards=("complex",))


def test_parameter_recovery_matches_an_independent_r2(gate):
    from sklearn.metrics import r2_score

    screen, _, profiles = gate
    recovery = parameter_recovery(profiles, screen.proteins_csv).set_index("parameter")
    table = read_profiles(profiles)
    truth = theta_table(screen.proteins_csv).loc[table.meta["Metadata_Protein"].astype(str)]
    for k, name in enumerate(PARAMETER_NAMES):
        assert recovery.loc[name, "r2"] == pytest.approx(r2_score(truth[f"theta_{name}"], table.features[:, k]),
                                                         abs=1e-5)


def test_theta_table_raises_missing_columns(tmp_path):
    path = tmp_path / "proteins.csv"
    pd.DataFrame({"protein": ["A"], "mix": [0.1]}).to_csv(path, index=False)
    with pytest.raises(InputError, match="no protein and theta_"):
        theta_table(path)


def test_train_oracle_raises_protein_without_parameters(gate, tmp_path):
    screen, _, _ = gate
    table = pd.read_csv(screen.proteins_csv)
    table.iloc[1:].to_csv(tmp_path / "proteins.csv", index=False)
    with pytest.raises(InputError, match="proteins without parameters"):
        train_oracle(screen.store, tmp_path / "proteins.csv", tmp_path / "oracle", epochs=1)
    assert not (tmp_path / "oracle").exists()


def test_oracle_profiles_raises_not_an_oracle(gate, tmp_path):
    screen, _, _ = gate
    with pytest.raises(InputError, match="holds no oracle.keras"):
        oracle_profiles(tmp_path, screen.store, tmp_path / "profiles")


def test_parameter_recovery_raises_profiles_without_theta(gate):
    screen, _, _ = gate
    frame = pd.DataFrame({"Metadata_Protein": ["A"], "DeepLoc_fc2_0000": [np.float32(1.0)]})
    with pytest.raises(InputError, match="no <Method>_theta_<name> columns"):
        parameter_recovery(frame, screen.proteins_csv)
