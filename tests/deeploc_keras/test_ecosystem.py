"""Profiles read by the profiling ecosystem unchanged: pycytominer, AnnData, and score's inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from deeploc_keras.cli import main
from deeploc_keras.core.errors import InputError, OutputExistsError
from deeploc_keras.core.profiles import ProfileWriter, aggregate_proteins, feature_columns, feature_names, read_profiles
from deeploc_keras.inference.export import export_profiles, to_anndata

pycytominer = pytest.importorskip("pycytominer")
anndata = pytest.importorskip("anndata")


@pytest.fixture(scope="module")
def profile_dir(tmp_path_factory):
    """cells.parquet and proteins.parquet of 12 proteins x 5 cells, DeepLoc-named features."""
    out = tmp_path_factory.mktemp("profiles") / "deeploc"
    out.mkdir()
    rng = np.random.default_rng(0)
    proteins = np.repeat([f"Y{i:02d}" for i in range(12)], 5)
    features = rng.normal(size=(60, 6)) + np.repeat(rng.normal(size=(12, 6)), 5, axis=0) * 3
    features[:, 5] = 1.0  # a constant feature (removed by variance_threshold)
    meta = pd.DataFrame({"Metadata_CellIndex": np.arange(60), "Metadata_Protein": proteins,
                         "Metadata_Label": np.where(np.arange(60) < 30, "ER", "GOLGI"),
                         "Metadata_Plate": "p1"})
    with ProfileWriter(out / "cells.parquet", info={"method": "deeploc", "layer": "fc_2", "split": "test"}) as w:
        w.write(meta, features, feature_names("DeepLoc", "fc_2", 6))
    aggregate_proteins(out / "cells.parquet", out / "proteins.parquet")
    return out


def test_pycytominer_infer_misses_learned_features_and_feature_columns_fixes_it(profile_dir):
    cells = pd.read_parquet(profile_dir / "cells.parquet")
    with pytest.raises(Exception):  # noqa: B017 - pycytominer infers only Cells_/Cytoplasm_/Nuclei_ prefixes
        pycytominer.aggregate(cells, strata=["Metadata_Protein"], features="infer")
    features = feature_columns(cells)
    assert features == [f"DeepLoc_fc2_{i:04d}" for i in range(6)]
    aggregated = pycytominer.aggregate(cells, strata=["Metadata_Protein"], features=features, operation="mean")
    ours = pd.read_parquet(profile_dir / "proteins.parquet")
    assert np.allclose(aggregated.sort_values("Metadata_Protein")[features].to_numpy(), ours[features].to_numpy())
    normalized = pycytominer.normalize(ours, features=features, meta_features=["Metadata_Protein"],
                                       method="standardize")
    values = ours[features].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = (values - values.mean(axis=0)) / values.std(axis=0)
    assert np.allclose(normalized[features[:5]].to_numpy(), expected[:, :5])
    selected = pycytominer.feature_select(ours, features=features, operation=["variance_threshold"])
    assert feature_columns(selected) == features[:5]


def test_to_anndata_holds_features_metadata_and_provenance(profile_dir, tmp_path):
    result = export_profiles(profile_dir / "proteins.parquet", tmp_path / "proteins.h5ad")
    adata = anndata.read_h5ad(result["path"])
    ours = read_profiles(profile_dir / "proteins.parquet")
    assert adata.shape == (12, 6) == (result["n_obs"], result["n_vars"])
    assert list(adata.var_names) == ours.feature_names
    assert list(adata.obs_names) == list(ours.meta["Metadata_Protein"])
    assert np.allclose(adata.X, ours.features)
    assert list(adata.obs["Metadata_Count"]) == [5] * 12
    assert adata.uns["deeploc_keras"]["method"] == "deeploc" and adata.uns["deeploc_keras"]["level"] == "protein"
    cells = to_anndata(profile_dir / "cells.parquet")
    assert cells.shape == (60, 6) and list(cells.obs_names[:2]) == ["0", "1"]
    assert set(cells.obs["Metadata_Label"]) == {"ER", "GOLGI"}


def test_export_refuses_existing_file_and_a_folder(profile_dir, tmp_path):
    (tmp_path / "x.h5ad").write_text("keep")
    with pytest.raises(OutputExistsError):
        export_profiles(profile_dir / "proteins.parquet", tmp_path / "x.h5ad")
    with pytest.raises(InputError, match="is a folder"):
        export_profiles(profile_dir, tmp_path / "y.h5ad")
    assert (tmp_path / "x.h5ad").read_text() == "keep" and not (tmp_path / "y.h5ad").exists()


def test_cli_export_h5ad(profile_dir, tmp_path):
    result = CliRunner().invoke(main, ["export", str(profile_dir / "cells.parquet"), "--format", "h5ad",
                                       "--out", str(tmp_path / "cells.h5ad")])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"Wrote {tmp_path / 'cells.h5ad'}: 60 x 6 (h5ad)"


def test_read_profiles_reads_csv_and_dataframes_alike(profile_dir, tmp_path):
    frame = pd.read_parquet(profile_dir / "proteins.parquet")
    frame.to_csv(tmp_path / "mine.csv", index=False)
    from_csv, from_frame = read_profiles(tmp_path / "mine.csv"), read_profiles(frame)
    assert np.allclose(from_csv.features, from_frame.features) and from_csv.feature_names == from_frame.feature_names
    renamed = frame.rename(columns={"Metadata_Protein": "orf"})
    assert "orf" in read_profiles(renamed, metadata_columns=["orf"]).meta


def test_score_takes_csv_dataframes_an_id_column_and_names_from_files(profile_dir, tmp_path):
    from eval.score import score

    frame = pd.read_parquet(profile_dir / "proteins.parquet")
    other = frame.rename(columns={"Metadata_Protein": "orf"})
    other.drop(columns=["Metadata_Label", "Metadata_Plate", "Metadata_Count"]).to_csv(tmp_path / "mine.csv",
                                                                                       index=False)
    standard = {"loc": {"ER": {f"Y{i:02d}" for i in range(6)}, "GOLGI": {f"Y{i:02d}" for i in range(6, 12)}}}
    summary = score([tmp_path / "mine.csv", other], standard, tmp_path / "scores", id_column="orf",
                    metrics=["average_precision"])
    assert list(summary["representation"].unique()) == ["mine", "profiles2"]
    values = summary.groupby("representation")["value"].first()
    assert values["mine"] == pytest.approx(values["profiles2"])
    with pytest.raises(InputError, match=r"mine.csv: columns \['orf'\] are not numeric; .* --id-column"):
        score([tmp_path / "mine.csv"], standard, tmp_path / "again", metrics=["average_precision"])
    frame.drop(columns=["Metadata_Protein"]).to_csv(tmp_path / "noid.csv", index=False)
    with pytest.raises(InputError, match="noid.csv: no Metadata_Protein column"):
        score([tmp_path / "noid.csv"], standard, tmp_path / "again", metrics=["average_precision"])
