"""Tests of profile tables (deeploc_keras.core.profiles): names, metadata, Parquet writing, reading, protein means."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from deeploc_keras._version import __version__
from deeploc_keras.core.errors import InputError, OutputExistsError
from deeploc_keras.core.profiles import (
    PARQUET_METADATA_KEY,
    ProfileWriter,
    ProteinMeans,
    aggregate_proteins,
    cell_metadata,
    feature_names,
    read_profiles,
)
from deeploc_keras.data.store import CellStore


def _meta(proteins, **columns) -> pd.DataFrame:
    return pd.DataFrame({"Metadata_Protein": list(proteins), **columns})


def test_feature_names_drop_layer_underscores():
    assert feature_names("PCI", "conv4_1", 3) == ["PCI_conv41_0000", "PCI_conv41_0001", "PCI_conv41_0002"]
    assert feature_names("DeepLoc", "fc_2", 0) == []


def test_cell_metadata_from_store_cells(tmp_path):
    path = tmp_path / "s.h5"
    with CellStore.create(path, class_names=["A", "B"], chunk_cells=4) as writer:
        writer.append(np.zeros((4, 64, 64, 2), np.uint16), {
            "protein": ["P1", "P2", "P3", "P1"], "label": [1, 0, -1, 1], "split": [0, 1, 2, 2],
            "plate": ["p1"] * 4, "well": ["A01", "A02", "B01", "B02"], "field": ["1", "1", "2", "2"],
            "x": [1.5, 2.5, 3.5, 4.5], "y": [10.0, 20.0, 30.0, 40.0]})
    with CellStore.open(path) as store:
        rows = store.cells.iloc[[1, 2, 3]]
        meta = cell_metadata(rows, store.class_names, index=np.array([1, 2, 3]))
    assert list(meta.columns) == ["Metadata_CellIndex", "Metadata_Protein", "Metadata_Label", "Metadata_Split",
                                  "Metadata_Plate", "Metadata_Well", "Metadata_Field", "Metadata_X", "Metadata_Y"]
    assert meta["Metadata_CellIndex"].tolist() == [1, 2, 3] and meta["Metadata_CellIndex"].dtype == np.int64
    assert meta["Metadata_Protein"].tolist() == ["P2", "P3", "P1"]
    assert meta["Metadata_Label"].tolist() == ["A", "", "B"]
    assert meta["Metadata_Split"].tolist() == ["val", "test", "test"]
    assert meta["Metadata_Well"].tolist() == ["A02", "B01", "B02"]
    assert meta["Metadata_X"].dtype == np.float32 and meta["Metadata_Y"].tolist() == [20.0, 30.0, 40.0]
    assert cell_metadata(rows, ["A", "B"])["Metadata_CellIndex"].tolist() == [0, 1, 2]


def test_profile_writer_streams_row_groups_and_records_info(tmp_path):
    out = tmp_path / "cells.parquet"
    with ProfileWriter(out, info={"method": "DeepLoc", "layer": "fc_2"}) as writer:
        writer.write(_meta(["A", "B"]), np.array([[1, 2], [3, 4]]), ["f_0", "f_1"])
        assert not out.exists()
        writer.write(_meta(["C"]), np.array([[5, 6]]), ["f_0", "f_1"])
    assert writer.rows == 3
    parquet = pq.ParquetFile(out)
    assert parquet.num_row_groups == 2
    info = json.loads(parquet.schema_arrow.metadata[PARQUET_METADATA_KEY])
    assert info == {"method": "DeepLoc", "layer": "fc_2", "package_version": __version__,
                    "feature_columns": ["f_0", "f_1"]}
    profiles = read_profiles(out)
    assert profiles.method == "DeepLoc" and profiles.feature_names == ["f_0", "f_1"]
    assert profiles.meta["Metadata_Protein"].tolist() == ["A", "B", "C"]
    np.testing.assert_array_equal(profiles.features, [[1, 2], [3, 4], [5, 6]])
    assert parquet.schema_arrow.field("f_0").type == "float"


def test_profile_writer_raises_on_shape_mismatch(tmp_path):
    out = tmp_path / "cells.parquet"
    with pytest.raises(InputError, match=r"features must be \(rows, 2\) matching 2 metadata rows. Received: \(2, 3\)"):
        with ProfileWriter(out, info={}) as writer:
            writer.write(_meta(["A", "B"]), np.zeros((2, 3)), ["f_0", "f_1"])
    assert list(tmp_path.iterdir()) == []


def test_profile_writer_raises_on_no_rows(tmp_path):
    out = tmp_path / "cells.parquet"
    with pytest.raises(InputError, match="no rows to write"):
        with ProfileWriter(out, info={}):
            pass
    assert list(tmp_path.iterdir()) == []


def test_profile_writer_abort_keeps_existing_file(tmp_path):
    out = tmp_path / "cells.parquet"
    with ProfileWriter(out, info={}) as writer:
        writer.write(_meta(["A"]), np.ones((1, 1)), ["f"])
    with pytest.raises(OutputExistsError):
        ProfileWriter(out, info={})
    with pytest.raises(KeyboardInterrupt), ProfileWriter(out, info={}, overwrite=True) as writer:
        writer.write(_meta(["B"]), np.zeros((1, 1)), ["f"])
        raise KeyboardInterrupt
    assert read_profiles(out).meta["Metadata_Protein"].tolist() == ["A"]
    assert [p.name for p in tmp_path.iterdir()] == ["cells.parquet"]


def test_read_profiles_raises_on_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"absent\.parquet: no such file"):
        read_profiles(tmp_path / "absent.parquet")


def test_read_profiles_raises_on_non_parquet(tmp_path):
    path = tmp_path / "table.parquet"
    path.write_text("protein,f\nA,1\n")
    with pytest.raises(InputError, match=r"table\.parquet: not a readable Parquet file"):
        read_profiles(path)


def test_read_profiles_raises_on_no_feature_column(tmp_path):
    path = tmp_path / "meta.parquet"
    _meta(["A"], Metadata_Label=["x"]).to_parquet(path)
    with pytest.raises(InputError, match=r"meta\.parquet: no feature columns"):
        read_profiles(path)


def test_read_profiles_raises_on_text_feature(tmp_path):
    path = tmp_path / "text.parquet"
    _meta(["A"], f=["high"]).to_parquet(path)
    with pytest.raises(InputError, match=r"text\.parquet: columns \['f'\] are not numeric; feature columns must be numeric"):
        read_profiles(path)


def test_read_profiles_of_foreign_parquet_has_unknown_method(tmp_path):
    path = tmp_path / "foreign.parquet"
    _meta(["A", "B"], f=[1.0, 2.0]).to_parquet(path)
    profiles = read_profiles(path)
    assert profiles.method == "unknown" and profiles.info == {}
    np.testing.assert_array_equal(profiles.features, [[1.0], [2.0]])


def test_protein_means_match_nanmean_in_any_blocking():
    rng = np.random.default_rng(1)
    proteins = rng.choice(["A", "B", "C", "unknown"], size=50)
    values = rng.normal(size=(50, 4))
    values[rng.random((50, 4)) < 0.2] = np.nan
    values[proteins == "C", 1] = np.inf
    finite = np.where(np.isfinite(values), values, np.nan)
    with np.errstate(invalid="ignore"), pytest.warns(RuntimeWarning, match="Mean of empty slice"):
        expected = {p: np.nanmean(finite[proteins == p], axis=0) for p in ("A", "B", "C")}
    for cuts in ([50], [1, 20, 49, 50], list(range(1, 51))):
        means = ProteinMeans()
        start = 0
        for stop in cuts:
            means.add(proteins[start:stop], values[start:stop])
            start = stop
        known, matrix, cells = means.result()
        assert known == ["A", "B", "C"]
        np.testing.assert_allclose(matrix, np.stack([expected[p] for p in known]), rtol=1e-12)
        assert cells.tolist() == [int((proteins == p).sum()) for p in known]
    assert np.isnan(matrix[2, 1])


def test_protein_means_of_unknown_proteins_only_are_empty():
    means = ProteinMeans()
    means.add(["unknown"], np.ones((1, 3)))
    known, matrix, cells = means.result()
    assert known == [] and matrix.shape == (0, 3) and cells.shape == (0,)


def test_aggregate_proteins_matches_pandas_groupby(tmp_path):
    rng = np.random.default_rng(0)
    cells, proteins_out = tmp_path / "cells.parquet", tmp_path / "proteins.parquet"
    proteins = np.array(["B", "A", "unknown", "C", "A", "B", "B", "C", "A", "unknown", "C", "A"])
    labels = np.array(["x", "y", "x", "z", "y", "x", "y", "z", "x", "x", "z", "y"])
    plates = np.array(["p2", "p1", "p1", "p3", "p9", "p1", "p1", "p3", "p1", "p1", "p3", "p1"])
    values = rng.normal(size=(12, 3))
    values[4, 0] = np.nan  # A's first feature averages over its three finite cells
    values[[3, 7, 10], 2] = np.nan  # C's last feature has no finite cell
    names = ["f_0", "f_1", "f_2"]
    with ProfileWriter(cells, info={"method": "DeepLoc", "layer": "fc_2"}) as writer:
        for rows in (slice(0, 5), slice(5, 9), slice(9, 12)):  # three row groups
            meta = _meta(proteins[rows], Metadata_Label=labels[rows], Metadata_Plate=plates[rows])
            writer.write(meta, values[rows], names)
    table = aggregate_proteins(cells, proteins_out, info={"note": "test"})

    frame = pd.DataFrame(values, columns=names).assign(protein=proteins, label=labels, plate=plates)
    frame = frame[frame["protein"] != "unknown"]
    groups = frame.groupby("protein", sort=True)
    expected = groups[names].mean()
    assert table["Metadata_Protein"].tolist() == ["A", "B", "C"]
    np.testing.assert_allclose(table[names].to_numpy(), expected.to_numpy(), rtol=1e-6)
    assert np.isnan(table.loc[2, "f_2"])
    assert table["Metadata_Label"].tolist() == groups["label"].agg(lambda s: s.mode().iloc[0]).tolist()
    assert table["Metadata_Plate"].tolist() == groups["plate"].first().tolist()
    assert table["Metadata_Count"].tolist() == groups.size().tolist() == [4, 3, 3]

    written = read_profiles(proteins_out)
    assert written.info["level"] == "protein" and written.info["method"] == "DeepLoc"
    assert written.info["note"] == "test" and written.feature_names == names
    np.testing.assert_allclose(written.features, expected.to_numpy(), rtol=1e-6)
    with pytest.raises(OutputExistsError):
        aggregate_proteins(cells, proteins_out)


def test_aggregate_proteins_without_label_or_plate_columns(tmp_path):
    cells = tmp_path / "cells.parquet"
    with ProfileWriter(cells, info={}) as writer:
        writer.write(_meta(["A", "A", "B"]), np.array([[1.0], [3.0], [5.0]]), ["f"])
    table = aggregate_proteins(cells, tmp_path / "proteins.parquet")
    assert table["Metadata_Label"].tolist() == ["", ""] and table["Metadata_Plate"].tolist() == ["", ""]
    assert table["f"].tolist() == [2.0, 5.0]


def test_aggregate_proteins_raises_on_unknown_proteins_only(tmp_path):
    cells = tmp_path / "cells.parquet"
    with ProfileWriter(cells, info={}) as writer:
        writer.write(_meta(["unknown", "unknown"]), np.ones((2, 2)), ["f_0", "f_1"])
    with pytest.raises(InputError, match=r"cells\.parquet: every cell's protein is 'unknown'"):
        aggregate_proteins(cells, tmp_path / "proteins.parquet")
    assert not (tmp_path / "proteins.parquet").exists()
