"""Tests of eval.score and the ``score`` command: tables, outputs, bad input."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy.stats import median_abs_deviation

from deeploc_keras.cli import main
from deeploc_keras.core.errors import InputError
from deeploc_keras.core.profiles import ProfileWriter
from eval import score as scoring
from eval import standards

STANDARD = {"g1": {"P0", "P1", "P2"}, "g2": {"P3", "P4", "P5"}, "g3": {"P2", "P6", "P7"}}


def _features(n=10, d=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d))


def _write(path, features, proteins, method="Toy"):
    with ProfileWriter(path, info={"method": method}) as writer:
        writer.write(pd.DataFrame({"Metadata_Protein": proteins}), features, [f"f_{i}" for i in range(features.shape[1])])
    return path


def test_score_representation_table():
    proteins = [f"P{i}" for i in range(10)]
    table = scoring.score_representation(proteins, _features(), {"toy": STANDARD}, seed=1)
    assert list(table.columns) == list(scoring.SUMMARY_COLUMNS)
    assert table["metric"].tolist() == [m for m in scoring.METRICS if not m.endswith("_within")]
    assert (table["n_proteins"] == 8).all() and (table["n_groups"] == 3).all()
    assert table["prevalence"].iloc[0] == pytest.approx(9 / 28)  # 3 pairs per group, none shared
    assert table.set_index("metric")["sd"].notna().to_dict() == {
        "average_precision": False, "mean_average_precision": False, "ami": True, "f_beta": False,
        "f_beta_clusters": True}


def test_score_representation_raises_nan_rows():
    features = _features()
    features[[2, 5], 0] = np.nan
    with pytest.raises(InputError, match="2 profiles contain NaN.*P2, P5"):
        scoring.score_representation([f"P{i}" for i in range(10)], features, {"toy": STANDARD})


def test_score_representation_raises_constant_rows():
    features = _features()
    features[4] = 1.0
    with pytest.raises(InputError, match="constant.*P4"):
        scoring.score_representation([f"P{i}" for i in range(10)], features, {"toy": STANDARD})


def test_score_representation_raises_duplicate_proteins():
    proteins = [f"P{i}" for i in range(9)] + ["P0"]
    with pytest.raises(InputError, match="several rows.*P0"):
        scoring.score_representation(proteins, _features(), {"toy": STANDARD})


def test_score_representation_raises_no_group_of_two():
    with pytest.raises(InputError, match="standard 'tiny': 0 groups have 2 or more"):
        scoring.score_representation([f"P{i}" for i in range(10)], _features(), {"tiny": {"g": {"P1", "X9"}}})


def test_score_representation_raises_zero_overlap():
    with pytest.raises(InputError, match="standard 'orfs': no protein id.*YAL001C.*P0"):
        scoring.score_representation([f"P{i}" for i in range(10)], _features(), {"orfs": {"g": {"YAL001C"}}})


def test_score_representation_raises_unknown_metric():
    with pytest.raises(InputError, match="unknown metric auc"):
        scoring.score_representation([f"P{i}" for i in range(10)], _features(), {"toy": STANDARD}, metrics=["auc"])


def test_score_writes_outputs(tmp_path):
    proteins = [f"P{i}" for i in range(10)]
    a = _write(tmp_path / "a.parquet", _features(seed=0), proteins, method="DeepLoc")
    b = _write(tmp_path / "b.parquet", _features(seed=1), proteins, method="CellProfiler")
    (tmp_path / "std").mkdir()
    standards.write_gmt(STANDARD, tmp_path / "std" / "toy.gmt")
    out = tmp_path / "scores"
    summary = scoring.score([a, b], [tmp_path / "std"], out, metrics=["average_precision", "ami", "f_beta"],
                            n_bootstrap=50, n_null=20)
    assert set(summary["representation"]) == {"DeepLoc", "CellProfiler"}
    written = pd.read_csv(out / "summary.csv")
    assert list(written.columns) == ["representation", *scoring.SUMMARY_COLUMNS, "normalize",
                                     *scoring.COMPARISON_COLUMNS]
    assert len(written) == 8 and (written["normalize"] == "none").all()
    assert (written["metric"] == scoring.RETRIEVAL_METRIC).sum() == 2
    groups = pd.read_csv(out / "groups.csv")
    assert list(groups.columns) == list(scoring.GROUPS_COLUMNS)
    assert sorted(groups["group"]) == ["g1", "g1", "g2", "g2", "g3", "g3"] and (groups["n_members"] == 3).all()
    coverage = pd.read_csv(out / "coverage.csv")
    assert list(coverage.columns) == list(scoring.COVERAGE_COLUMNS)
    assert coverage["n_proteins_kept"].tolist() == [8, 8]
    for suffix in ("png", "svg", "csv"):
        assert (out / f"figure1_summary.{suffix}").stat().st_size > 0


def _scaled_features(n=12, seed=0):
    """Features on very different scales (raw Pearson is dominated by the large one), one with MAD 0."""
    x = _features(n=n, d=6, seed=seed) * np.array([1000.0, 1, 1, 0.01, 5, 1])
    x[: n // 2 + 1, 5] = 2.0
    return x


@pytest.mark.parametrize("normalize", ["standardize", "robust"])
def test_score_representation_normalize_equals_scoring_scaled_features(normalize):
    proteins = [f"P{i}" for i in range(12)]
    x = _scaled_features()
    if normalize == "standardize":
        expected_x = (x - x.mean(axis=0)) / x.std(axis=0)
    else:
        x_kept = x[:, :5]  # the sixth feature has MAD 0: dropped
        expected_x = (x_kept - np.median(x_kept, axis=0)) / (1.4826 * median_abs_deviation(x_kept, axis=0))
    metrics = ["average_precision", "mean_average_precision", "f_beta"]
    table = scoring.score_representation(proteins, x, {"toy": STANDARD}, metrics=metrics, normalize=normalize)
    expected = scoring.score_representation(proteins, expected_x, {"toy": STANDARD}, metrics=metrics)
    np.testing.assert_allclose(table["value"], expected["value"], rtol=1e-9)
    raw = scoring.score_representation(proteins, x, {"toy": STANDARD}, metrics=metrics)
    assert not np.allclose(table["value"], raw["value"])  # the normalization is not a no-op here


def test_score_representation_raises_unknown_normalize():
    with pytest.raises(InputError, match="normalize must be one of .* Received: normalize=.zscore."):
        scoring.score_representation([f"P{i}" for i in range(10)], _features(), {"toy": STANDARD}, normalize="zscore")


def test_score_cli_normalize_recorded_in_summary(tmp_path):
    proteins = [f"P{i}" for i in range(12)]
    profile = _write(tmp_path / "a.parquet", _scaled_features(), proteins)
    standards.write_gmt(STANDARD, tmp_path / "toy.gmt")
    args = ["score", str(profile), "--standards", str(tmp_path / "toy.gmt"), "--metric", "average_precision"]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "robust"), "--normalize", "robust",
                                       "--permutations", "0"])
    assert result.exit_code == 0, result.output
    assert "normalize: robust" in result.output
    written = pd.read_csv(tmp_path / "robust" / "summary.csv")
    assert written["normalize"].tolist() == ["robust"] and not (tmp_path / "robust" / "groups.csv").exists()
    expected = scoring.score_representation(proteins, _scaled_features(), {"toy": STANDARD},
                                            metrics=["average_precision"], normalize="robust")
    assert written["value"].iloc[0] == pytest.approx(expected["value"].iloc[0], rel=1e-6)
    bad = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "bad"), "--normalize", "zscore"])
    assert bad.exit_code == 2 and "zscore" in bad.output and not (tmp_path / "bad").exists()


def test_score_cli(tmp_path):
    proteins = [f"P{i}" for i in range(10)]
    profile = _write(tmp_path / "a.parquet", _features(), proteins)
    standards.write_gmt(STANDARD, tmp_path / "toy.gmt")
    out = tmp_path / "scores"
    args = ["score", str(profile), "--standards", str(tmp_path / "toy.gmt"), "--out", str(out), "--name", "mine",
            "--metric", "average_precision", "--metric", "mean_average_precision"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "mine" in result.output and (out / "summary.csv").exists()
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 2 and "already exists" in again.output


def test_score_cli_prints_each_score_with_its_measured_chance(tmp_path):
    profile = _write(tmp_path / "a.parquet", _features(), [f"P{i}" for i in range(10)])
    standards.write_gmt(STANDARD, tmp_path / "toy.gmt")
    result = CliRunner().invoke(main, ["score", str(profile), "--standards", str(tmp_path / "toy.gmt"), "--out",
                                       str(tmp_path / "out"), "--metric", "average_precision,f_beta", "--null", "20",
                                       "--permutations", "0"])
    assert result.exit_code == 0, result.output
    summary = pd.read_csv(tmp_path / "out" / "summary.csv").set_index("metric")
    assert "average_precision (chance)" in result.output and "f_beta (chance)" in result.output
    row = summary.loc["average_precision"]
    assert f"{row['value']:.4f} ({row['chance']:.4f})" in result.output


def test_score_cli_skips_an_unusable_standard_and_exits_2_when_none_is_left(tmp_path, caplog):
    profile = _write(tmp_path / "a.parquet", _features(), [f"P{i}" for i in range(10)])
    standards.write_gmt(STANDARD, tmp_path / "toy.gmt")
    standards.write_gmt({"a": {"P0", "P1", "P2"}, "b": {"P0", "P1", "P2"}}, tmp_path / "three.gmt")
    args = ["score", str(profile), "--metric", "average_precision", "--permutations", "0", "--null", "0"]
    with caplog.at_level("WARNING", logger="eval.score"):
        kept = CliRunner().invoke(main, [*args, "--standards", f"{tmp_path / 'toy.gmt'},{tmp_path / 'three.gmt'}",
                                         "--out", str(tmp_path / "kept")])
    assert kept.exit_code == 0, kept.output
    assert "skipped standard 'three': every pair of its 3 profiled proteins shares a group" in caplog.text
    assert set(pd.read_csv(tmp_path / "kept" / "summary.csv")["standard"]) == {"toy"}
    none = CliRunner().invoke(main, [*args, "--standards", str(tmp_path / "three.gmt"), "--out", str(tmp_path / "no")])
    assert none.exit_code == 2 and "no standard can be scored" in none.output and "Traceback" not in none.output
    assert not (tmp_path / "no").exists()


def test_score_cli_raises_nan_profiles(tmp_path):
    features = _features()
    features[3, 1] = np.nan
    profile = _write(tmp_path / "nan.parquet", features, [f"P{i}" for i in range(10)])
    standards.write_gmt(STANDARD, tmp_path / "toy.gmt")
    out = tmp_path / "scores"
    result = CliRunner().invoke(main, ["score", str(profile), "--standards", str(tmp_path / "toy.gmt"), "--out", str(out)])
    assert result.exit_code == 2
    assert "nan.parquet" in result.output and "P3" in result.output and not out.exists()


def test_score_cli_raises_duplicate_names(tmp_path):
    proteins = [f"P{i}" for i in range(10)]
    a = _write(tmp_path / "a.parquet", _features(), proteins)
    b = _write(tmp_path / "b.parquet", _features(seed=2), proteins)
    standards.write_gmt(STANDARD, tmp_path / "toy.gmt")
    out = tmp_path / "scores"
    result = CliRunner().invoke(main, ["score", str(a), str(b), "--standards", str(tmp_path / "toy.gmt"),
                                       "--out", str(out)])
    assert result.exit_code == 2 and "names must be unique" in result.output and not out.exists()


def test_score_help_does_not_import_tensorflow():
    code = ("import sys; from click.testing import CliRunner; import eval.score, eval.plots, deeploc_keras.cli as c; "
            "r = CliRunner().invoke(c.main, ['score', '--help']); assert r.exit_code == 0, r.output; "
            "print(any(m.split('.')[0] in ('tensorflow', 'keras') for m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("order_seed", [0, 1, 2])
def test_score_representation_rows_equal_direct_kernel_calls(order_seed):
    from eval import metrics

    rng = np.random.default_rng(order_seed)
    names = list(rng.permutation(list(scoring.METRICS)))
    proteins = [f"P{i}" for i in range(10)]
    features = _features(seed=3)
    localization = {"nucleus": {"P0", "P1", "P3", "P4", "P6"}, "cytoplasm": {"P1", "P2", "P5", "P7", "P9"}}
    table = scoring.score_representation(proteins, features, {"toy": STANDARD}, metrics=names, seed=4,
                                         localization=localization)
    assert table["metric"].tolist() == names
    membership, _ = metrics.membership_matrix(STANDARD, proteins)
    strata, _ = metrics.membership_matrix(localization, proteins)
    universe = membership.any(axis=1)
    x, m, s = features[universe], membership[universe], strata[universe]
    direct = {"average_precision": metrics.average_precision(x, m),
              "mean_average_precision": metrics.mean_average_precision(x, m),
              "f_beta": metrics.f_beta(x, m),
              "ami": metrics.ami(x, m, seed=4).mean,
              "f_beta_clusters": metrics.f_beta_clusters(x, m, seed=4).mean,
              "average_precision_within": metrics.average_precision_within(x, m, s),
              "mean_average_precision_within": metrics.mean_average_precision_within(x, m, s)}
    assert set(direct) == set(scoring.METRICS)
    assert len(set(np.round(list(direct.values()), 9))) == len(direct)  # distinct values: a mix-up would show
    for row in table.itertuples():
        assert row.value == pytest.approx(direct[row.metric], abs=1e-12), row.metric


def _bootstrap(x, membership, weights):
    from eval import metrics, significance

    ap, f = significance.bootstrap_pooled(x, membership, weights)
    mean = significance.bootstrap_mean(metrics.protein_average_precision(x, membership), weights)
    return {"average_precision": ap, "f_beta": f, "mean_average_precision": mean}


def test_score_tests_each_method_against_each_baseline_on_paired_resamples(tmp_path):
    from eval import metrics, significance

    proteins = [f"P{i}" for i in range(30)]
    groups = {f"g{k}": {f"P{i}" for i in range(30) if i % 5 == k or i == 3 * k} for k in range(5)}
    membership, _ = metrics.membership_matrix(groups, proteins)
    rng = np.random.default_rng(0)
    signal = membership @ rng.normal(size=(5, 8))
    reps = {"good": signal + 0.5 * rng.normal(size=(30, 8)), "base1": rng.normal(size=(30, 8)),
            "base2": signal + 3.0 * rng.normal(size=(30, 8))}
    order = rng.permutation(30)  # one file lists the proteins in another order: resamples follow the ids
    paths = [_write(tmp_path / "good.parquet", reps["good"][order], [proteins[i] for i in order]),
             _write(tmp_path / "base1.parquet", reps["base1"], proteins),
             _write(tmp_path / "base2.parquet", reps["base2"], proteins)]
    names = ["average_precision", "f_beta", "mean_average_precision"]
    summary = scoring.score(paths, {"toy": groups}, tmp_path / "out", names=list(reps), metrics=names, n_bootstrap=50,
                            n_null=0, n_permutations=0, compare_to=["base1", "base2"], seed=3)
    rows = summary.set_index(["representation", "metric"])
    weights = significance.bootstrap_weights(proteins, n_resamples=50, seed=3)
    boot = {rep: _bootstrap(x, membership, weights) for rep, x in reps.items()}
    tests = pd.read_csv(tmp_path / "out" / "tests.csv")
    assert list(tests.columns) == list(scoring.TEST_COLUMNS)
    assert sorted(zip(tests["against"], tests["metric"], strict=True)) == sorted(
        (b, m) for b in ("base1", "base2") for m in names)  # never baseline against baseline
    assert (tests["representation"] == "good").all() and (tests["test"] == "paired bootstrap").all()
    for test in tests.itertuples():
        assert test.p_value == pytest.approx(significance.paired_p_value(boot["good"][test.metric],
                                                                         boot[test.against][test.metric]))
        assert test.p_min == pytest.approx(1 / 51) and test.n_resamples == 50
    np.testing.assert_allclose(tests["q_value"], significance.benjamini_hochberg(tests["p_value"].to_numpy()))
    for metric in names:
        best = max(("base1", "base2"), key=lambda b: rows.loc[(b, metric), "value"])
        for rep in reps:
            row = rows.loc[(rep, metric)]
            low, high = significance.percentile_interval(boot[rep][metric])
            assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high), abs=1e-12)
        assert rows.loc[("good", metric), "compared_to"] == best and rows.loc[("good", metric), "role"] == "method"
        chosen = tests[(tests["against"] == best) & (tests["metric"] == metric)].iloc[0]
        assert rows.loc[("good", metric), "q_value"] == pytest.approx(chosen["q_value"])
        assert pd.isna(rows.loc[("base1", metric), "compared_to"]) and np.isnan(rows.loc[("base2", metric), "p_value"])
    assert rows.loc[("good", "average_precision"), "p_value"] < 0.05


def test_score_chance_is_the_metric_on_permuted_profiles():
    from sklearn.metrics import average_precision_score

    from eval import metrics, nulls

    proteins = [f"P{i}" for i in range(10)]
    features = _features(seed=7)
    table = scoring.score_representation(proteins, features, {"toy": STANDARD}, seed=2, n_null=30,
                                         metrics=["average_precision", "ami"]).set_index("metric")
    membership, _ = metrics.membership_matrix(STANDARD, proteins)
    universe = membership.any(axis=1)
    x, m = features[universe], membership[universe].astype(int)
    perm = nulls.null_permutations([p for p, u in zip(proteins, universe, strict=True) if u], n_draws=30, seed=2)
    upper = np.triu_indices(len(x), 1)
    null = [average_precision_score((m @ m.T > 0)[upper], np.round(np.corrcoef(x[d]), 12)[upper]) for d in perm]
    row = table.loc["average_precision"]
    assert row["chance"] == pytest.approx(np.mean(null), abs=1e-12)
    assert (row["chance_low"], row["chance_high"]) == pytest.approx(tuple(np.percentile(null, [2.5, 97.5])))
    assert row["p_null"] == pytest.approx((np.sum(np.array(null) >= row["value"]) + 1) / 31)
    ami = table.loc["ami"]
    assert ami["chance"] > 0.0 and np.isfinite(ami["p_null"])  # a best cut of shuffled profiles is above 0


def test_score_skips_an_unusable_standard_with_a_warning_and_scores_the_rest(caplog):
    proteins = [f"P{i}" for i in range(10)]
    everyone = {"a": {"P0", "P1", "P2"}, "b": {"P0", "P1", "P2"}}  # 3 proteins, every pair positive
    with caplog.at_level("WARNING", logger="eval.score"):
        table = scoring.score_representation(proteins, _features(), {"toy": STANDARD, "all_positive": everyone},
                                             metrics=["average_precision"])
    assert table["standard"].tolist() == ["toy"]
    assert "standard 'all_positive': every pair of its 3 profiled proteins shares a group" in caplog.text


def test_score_representation_raises_when_no_standard_can_be_scored():
    everyone = {"a": {"P0", "P1", "P2"}, "b": {"P0", "P1", "P2"}}
    with pytest.raises(InputError, match="no standard can be scored: standard 'x': every pair .* nothing to rank.*"
                                         "standard 'y': 1 group"):
        scoring.score_representation([f"P{i}" for i in range(10)], _features(), {"x": everyone,
                                     "y": {"g": {"P1", "P2"}}}, metrics=["average_precision"])


def test_score_raises_compare_to_unknown_or_without_bootstrap(tmp_path):
    proteins = [f"P{i}" for i in range(10)]
    a = _write(tmp_path / "a.parquet", _features(), proteins, method="A")
    with pytest.raises(InputError, match="--compare-to B is not a representation"):
        scoring.score([a], {"toy": STANDARD}, tmp_path / "out", compare_to=["B"], n_bootstrap=10)
    with pytest.raises(InputError, match="--compare-to needs bootstrap"):
        scoring.score([a], {"toy": STANDARD}, tmp_path / "out", compare_to=["A"], n_bootstrap=0)
    assert not (tmp_path / "out").exists()


def test_score_cli_bootstrap_and_compare_to(tmp_path):
    proteins = [f"P{i}" for i in range(10)]
    a = _write(tmp_path / "a.parquet", _features(seed=0), proteins)
    b = _write(tmp_path / "b.parquet", _features(seed=1), proteins)
    standards.write_gmt(STANDARD, tmp_path / "toy.gmt")
    out = tmp_path / "scores"
    result = CliRunner().invoke(main, ["score", str(a), str(b), "--standards", str(tmp_path / "toy.gmt"), "--out",
                                       str(out), "--name", "A", "--name", "B", "--metric", "average_precision",
                                       "--bootstrap", "20", "--compare-to", "B", "--permutations", "0"])
    assert result.exit_code == 0, result.output
    written = pd.read_csv(out / "summary.csv").set_index("representation")
    assert written.loc["A", "compared_to"] == "B" and 0 < written.loc["A", "p_value"] <= 1
    assert written["ci_low"].notna().all()
    refused = CliRunner().invoke(main, ["score", str(a), "--standards", str(tmp_path / "toy.gmt"), "--out",
                                        str(tmp_path / "other"), "--compare-to", "Toy", "--bootstrap", "0"])
    assert refused.exit_code == 2 and "--compare-to needs bootstrap" in refused.output


def _labelled(path, features, proteins, labels):
    with ProfileWriter(path, info={"method": "Toy"}) as writer:
        writer.write(pd.DataFrame({"Metadata_Protein": proteins, "Metadata_Label": labels}), features,
                     [f"f_{i}" for i in range(features.shape[1])])
    return path


def test_score_localization_file_and_metadata_give_the_within_metrics(tmp_path):
    from sklearn.metrics import average_precision_score

    from eval import metrics

    proteins = [f"P{i}" for i in range(12)]
    labels = ["nucleus", "nucleus", "cytoplasm", "nucleus", "cytoplasm", "", "cytoplasm", "nucleus",
              "cytoplasm", "nucleus", "ER", "ER"]
    features = _features(n=12, seed=5)
    profile = _labelled(tmp_path / "a.parquet", features, proteins, labels)
    localization = {}
    for protein, label in zip(proteins, labels, strict=True):
        if label:
            localization.setdefault(label, set()).add(protein)
    standards.write_gmt(localization, tmp_path / "localization.gmt")
    names = ["average_precision_within", "mean_average_precision_within"]
    by_file = scoring.score([profile], {"toy": STANDARD}, tmp_path / "file", metrics=names, n_permutations=0,
                            localization=tmp_path / "localization.gmt")
    by_metadata = scoring.score([profile], {"toy": STANDARD}, tmp_path / "meta", metrics=names, n_permutations=0,
                                localization="metadata")
    np.testing.assert_array_equal(by_file["value"], by_metadata["value"])
    membership, _ = metrics.membership_matrix(STANDARD, proteins)
    universe = membership.any(axis=1)
    codes = np.array(labels)[universe]
    corr, m = np.corrcoef(features[universe]), membership[universe].astype(int)
    co = m @ m.T > 0
    per_class, prevalence = [], []
    for label in ("nucleus", "cytoplasm", "ER"):  # each class's proteins on their own (ER: outside the universe)
        rows = np.flatnonzero(codes == label)
        i, j = np.triu_indices(len(rows), 1)
        positive = co[np.ix_(rows, rows)][i, j]
        if positive.any():
            per_class.append(average_precision_score(positive, corr[np.ix_(rows, rows)][i, j]))
            prevalence.append(positive.mean())
    assert len(per_class) == 2
    row = by_file.set_index("metric").loc["average_precision_within"]
    assert row["value"] == pytest.approx(np.mean(per_class), abs=1e-12)
    assert row["prevalence"] == pytest.approx(np.mean(prevalence))
    pooled = scoring.score_representation(proteins, features, {"toy": STANDARD}, metrics=["average_precision"])
    assert pooled["prevalence"].iloc[0] != pytest.approx(row["prevalence"])


def test_score_raises_within_metric_without_localization():
    with pytest.raises(InputError, match="metric average_precision_within scores each localization class"):
        scoring.score_representation([f"P{i}" for i in range(10)], _features(), {"toy": STANDARD},
                                     metrics=["average_precision_within"])


def test_score_cli_localization_metadata_raises_without_label_column(tmp_path):
    profile = _write(tmp_path / "nolabel.parquet", _features(), [f"P{i}" for i in range(10)])
    standards.write_gmt(STANDARD, tmp_path / "toy.gmt")
    out = tmp_path / "scores"
    result = CliRunner().invoke(main, ["score", str(profile), "--standards", str(tmp_path / "toy.gmt"), "--out",
                                       str(out), "--localization", "metadata"])
    assert result.exit_code == 2 and "nolabel.parquet" in result.output and "Metadata_Label" in result.output
    assert not out.exists()
    standards.write_gmt({"nucleus": {"P0", "P1", "P3", "P4"}, "cytoplasm": {"P2", "P5", "P6", "P7"}},
                        tmp_path / "loc.gmt")
    result = CliRunner().invoke(main, ["score", str(profile), "--standards", str(tmp_path / "toy.gmt"), "--out",
                                       str(out), "--localization", str(tmp_path / "loc.gmt"), "--permutations", "0"])
    assert result.exit_code == 0, result.output
    written = pd.read_csv(out / "summary.csv")
    assert {"average_precision_within", "mean_average_precision_within"} <= set(written["metric"])


def test_score_groups_csv_equals_group_retrieval_and_fraction_row(tmp_path):
    from eval import metrics, retrieval

    proteins = [f"P{i}" for i in range(30)]
    groups = {f"g{k}": {f"P{i}" for i in range(30) if i % 6 == k} for k in range(6)}
    membership, names = metrics.membership_matrix(groups, proteins)
    rng = np.random.default_rng(1)
    features = 2 * membership[:, :3] @ rng.normal(size=(3, 8)) + 0.5 * rng.normal(size=(30, 8))  # g0-g2 only
    profile = _write(tmp_path / "a.parquet", features, proteins, method="Rep")
    result = CliRunner().invoke(main, ["score", str(profile), "--standards", str(_gmt(tmp_path, groups)), "--out",
                                       str(tmp_path / "out"), "--metric", "average_precision", "--permutations",
                                       "300", "--seed", "2"])
    assert result.exit_code == 0, result.output
    written = pd.read_csv(tmp_path / "out" / "groups.csv")
    expected = retrieval.group_retrieval(features, membership, n_permutations=300, seed=2)
    assert written["group"].tolist() == names and (written["representation"] == "Rep").all()
    np.testing.assert_allclose(written["mAP"], expected.mean_average_precision, rtol=1e-9)
    np.testing.assert_allclose(written["p_value"], expected.p_value, rtol=1e-9)
    np.testing.assert_allclose(written["q_value"], expected.q_value, rtol=1e-9)
    assert (written["q_value"] < 0.05).sum() == 3  # the three groups with a signal
    summary = pd.read_csv(tmp_path / "out" / "summary.csv").set_index("metric")
    assert summary.loc[scoring.RETRIEVAL_METRIC, "value"] == pytest.approx(0.5)


def _gmt(tmp_path, groups):
    path = tmp_path / "toy.gmt"
    standards.write_gmt(groups, path)
    return path


def test_score_within_metrics_nan_when_no_pair_shares_a_class():
    proteins = [f"P{i}" for i in range(10)]
    one_each = {f"c{i}": {f"P{i}"} for i in range(10)}  # every protein alone in its class
    table = scoring.score_representation(proteins, _features(), {"toy": STANDARD}, localization=one_each,
                                         metrics=["average_precision", "average_precision_within",
                                                  "mean_average_precision_within"], n_bootstrap=5)
    rows = table.set_index("metric")
    assert rows.loc["average_precision", "value"] > 0 and np.isfinite(rows.loc["average_precision", "ci_low"])
    for metric in ("average_precision_within", "mean_average_precision_within"):
        assert np.isnan(rows.loc[metric, ["value", "ci_low", "ci_high", "prevalence"]].astype(float)).all()


def test_score_references_are_drawn_as_references_and_compared_only_as_named_baselines(tmp_path):
    from eval import metrics, significance

    proteins = [f"P{i}" for i in range(8)]  # all in a group
    membership, _ = metrics.membership_matrix(STANDARD, proteins)
    rng = np.random.default_rng(1)
    reps = {"mine": membership @ rng.normal(size=(3, 6)) + 0.5 * rng.normal(size=(8, 6)),
            "base": rng.normal(size=(8, 6)), "ladder": membership @ rng.normal(size=(3, 6)) + rng.normal(size=(8, 6))}
    paths = [_write(tmp_path / f"{rep}.parquet", x, proteins) for rep, x in reps.items()]
    kwargs = {"names": [None, "base", "ladder"], "metrics": ["average_precision"], "n_bootstrap": 40, "n_null": 0,
              "n_permutations": 0}
    summary = scoring.score(paths, {"toy": STANDARD}, tmp_path / "out", references=["ladder"], compare_to=["base"],
                            **kwargs)
    rows = summary.set_index("representation")
    assert list(rows.index) == ["Toy", "base", "ladder"]  # None: the recorded method
    assert rows.loc["Toy", "compared_to"] == "base" and np.isfinite(rows.loc["Toy", "p_value"])
    assert pd.isna(rows.loc["ladder", "compared_to"]) and np.isnan(rows.loc["ladder", "p_value"])
    weights = significance.bootstrap_weights(proteins, n_resamples=40, seed=0)
    boot = {rep: significance.bootstrap_pooled(x, membership, weights)[0] for rep, x in reps.items()}
    assert rows.loc["Toy", "p_value"] == pytest.approx(significance.paired_p_value(boot["mine"], boot["base"]))
    assert rows.loc["Toy", "q_value"] == pytest.approx(rows.loc["Toy", "p_value"])  # a family of one test
    assert rows["role"].to_dict() == {"Toy": "method", "base": "baseline", "ladder": "reference"}
    figure = pd.read_csv(tmp_path / "out" / "figure1_summary.csv")
    assert set(figure["representation"]) == {"Toy", "base", "ladder"}
    named = scoring.score(paths, {"toy": STANDARD}, tmp_path / "named", references=["ladder"],
                          compare_to=["base", "ladder"], **kwargs).set_index("representation")
    best = "ladder" if named.loc["ladder", "value"] > named.loc["base", "value"] else "base"
    assert named.loc["Toy", "compared_to"] == best
    with pytest.raises(InputError, match="reference 'chance' is not a representation"):
        scoring.score(paths, {"toy": STANDARD}, tmp_path / "bad", references=["chance"], **kwargs)
    assert not (tmp_path / "bad").exists()
