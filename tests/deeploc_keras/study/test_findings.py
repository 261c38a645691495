"""What a scored run says: the points against the baselines, the test family, the ladder, the chance row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from deeploc_keras.study.findings import (
    channel_sentences,
    compare_with_study,
    family_sentences,
    ladder_sentences,
    null_definitions,
    scores_with_intervals,
    standard_sizes,
    study_agreement,
    within_sentences,
)
from eval.catalog import METRICS
from eval.score import NULL

ROLES = {"DeepLoc": "method", "PCI": "baseline", "CellProfiler": "baseline"}


def _summary(methods=("DeepLoc",)) -> pd.DataFrame:
    rows = []
    values = {"DeepLoc": 0.6, "PCI": 0.5, "CellProfiler": 0.2, "PIFiA": 0.65}
    for representation in (*methods, "PCI", "CellProfiler"):
        for standard in ("cellular_component", "complex"):
            for metric in ("average_precision", "ami", "f_beta"):
                bonus = 0.2 if (representation == "PCI" and standard == "complex" and metric == "ami") else 0.0
                rows.append({"representation": representation, "role": ROLES.get(representation, "method"),
                             "standard": standard, "metric": metric, "value": values[representation] + bonus,
                             "sd": float("nan"), "n_proteins": 10, "n_groups": 3, "prevalence": 0.1, "chance": 0.1,
                             "chance_low": 0.08, "chance_high": 0.12})
    return pd.DataFrame(rows)


def _tests(summary: pd.DataFrame, q: float = 0.01) -> pd.DataFrame:
    """Every test the family holds for ``summary`` (each method x baseline x point; AMI against its null), at q."""
    rows = []
    for method in summary.loc[summary["role"] == "method", "representation"].unique():
        for (standard, metric), _ in summary.groupby(["standard", "metric"], sort=False):
            against = ["PCI", "CellProfiler"] + ([NULL] if METRICS[metric].null_tested else [])
            rows += [{"representation": method, "against": a, "standard": standard, "metric": metric,
                      "test": "permutation" if a == NULL else "sign flip" if metric == "ami" else "paired bootstrap",
                      "difference": 0.1, "n_resamples": 1000, "p_min": 1 / 1001, "p_value": q, "q_value": q}
                     for a in against]
    return pd.DataFrame(rows)


def test_study_agreement_counts_a_point_only_ahead_of_every_baseline_with_every_test():
    summary = _summary()
    tests = _tests(summary)
    points = study_agreement(summary, tests).set_index(["standard", "metric"])
    assert points.loc[("complex", "ami"), "baseline"] == "PCI" and not points.loc[("complex", "ami"), "ahead"]
    assert points.loc[("complex", "f_beta"), "significant"]
    missing_null = tests[~((tests["against"] == NULL) & (tests["standard"] == "complex"))]
    again = study_agreement(summary.assign(value=np.where(summary["representation"] == "PCI", 0.5,
                                                          summary["value"])), missing_null)
    ami = again.set_index(["standard", "metric"]).loc[("complex", "ami")]
    assert ami["ahead"] and not ami["tested"] and not ami["significant"]  # AMI without its null test: not counted


def test_study_agreement_places_any_method_named_by_its_role():
    summary = _summary(methods=("DeepLoc", "PIFiA"))
    points = study_agreement(summary, _tests(summary))
    assert set(points["method"]) == {"DeepLoc", "PIFiA"}
    assert points.loc[points["method"] == "PIFiA", "agrees"].isna().all()  # the study made no claim about it
    assert points.loc[(points["method"] == "DeepLoc") & (points["metric"] == "ami"), "agrees"].tolist() == [True, False]


def test_compare_with_study_counts_where_deeploc_leads_and_what_passes():
    summary = _summary()
    sentences = compare_with_study(summary, _tests(summary))
    assert sentences[0].startswith("cellular_component: DeepLoc ahead of every baseline on 3 of 3 metrics")
    assert "PCI reaches 83 % of DeepLoc" in sentences[0]
    assert "AMI 0.600 vs PCI 0.700" in sentences[1]
    assert sentences[-1].startswith("Overall DeepLoc is ahead of every baseline on 5 of 6 standard x metric points, "
                                    "significantly on 5 (")
    untested = compare_with_study(summary)
    assert "significantly on 0" in untested[-1] and "shown without a test, not counted" in untested[-1]


def test_family_sentences_state_the_family_its_size_smallest_p_and_passes():
    summary = _summary()
    tests = _tests(summary)
    tests.loc[:3, "q_value"] = 0.2
    sentences = family_sentences(tests, summary)
    assert "each method (DeepLoc) against each baseline (PCI, CellProfiler)" in sentences[0]
    assert "never tested against each other" in sentences[0]
    assert sentences[1].startswith(f"{len(tests)} tests: ") and f"{len(tests) - 4} of {len(tests)} pass" in sentences[1]
    assert "smallest attainable p 1/1001 = 0.000999" in sentences[1]
    assert sentences[2] == (f"One test alone would pass a Bonferroni bound below 0.05/{len(tests)} = 0.0036: the "
                            "paired bootstrap and the sign flip and the permutation can reach it.")  # 1/1001 < 0.0036
    coarse = tests.assign(p_min=np.where(tests["test"] == "paired bootstrap", 1 / 1001, 1 / 101))
    assert family_sentences(coarse, summary)[2].endswith(": the paired bootstrap can reach it.")
    assert "no test of this family can reach it" in family_sentences(coarse.assign(p_min=0.01), summary)[2]


def test_family_sentences_report_the_between_run_sd_beside_the_tests():
    summary = _summary().assign(runs_sd=0.05)
    summary.loc[summary["metric"] == "f_beta", "runs_sd"] = 0.5
    sentences = family_sentences(_tests(summary), summary)
    assert "exceeds the method's sd over its runs in 8 of the 12 passing tests" in sentences[-1]


def test_ladder_says_where_a_learned_representation_does_not_beat_its_references():
    summary = _summary()
    extra = summary[summary["representation"] == "PCI"].assign(representation="PCI untrained", role="reference")
    extra["value"] = np.where(extra["metric"] == "average_precision", 0.9, extra["value"] - 0.1)
    extra.loc[(extra["standard"] == "complex") & (extra["metric"] == "ami"), "value"] = 0.7
    pixels = summary[summary["representation"] == "CellProfiler"].assign(representation="Pixel statistics",
                                                                         role="reference", value=0.55)
    sentences = ladder_sentences(pd.concat([summary, extra, pixels], ignore_index=True),
                                 pci_learning={"best_val_mse": 0.02, "mean_image_val_mse": 0.015, "epochs": 4})
    assert sentences[0].startswith("PCI's best validation MSE (0.02000 over 4 epochs) is NOT below")
    assert ("PCI does NOT beat its untrained network (random weights, same configuration) on 3 of 6: "
            "cellular_component AP (pooled pairs) 0.500 vs 0.900; complex AP (pooled pairs) 0.500 vs 0.900; "
            "complex AMI 0.700 vs 0.700.") in sentences  # a tie is not beating
    assert "DeepLoc beats the pixel statistics on all 6 standard x metric points." in sentences
    assert any(s.startswith("PCI does NOT beat the pixel statistics on 5 of 6") for s in sentences)


def test_ladder_places_a_ceiling_reference_by_its_rung(monkeypatch):
    from deeploc_keras.study import findings
    from deeploc_keras.study.references import REFERENCES, Reference

    oracle = Reference("Oracle", "ceiling", "a CNN trained on the generating parameters")
    monkeypatch.setattr(findings, "REFERENCES", (*REFERENCES, oracle))
    summary = _summary()
    ceiling = summary[summary["representation"] == "PCI"].assign(representation="Oracle", role="reference", value=0.9)
    sentences = ladder_sentences(pd.concat([summary, ceiling], ignore_index=True))
    assert ("Ceiling (Oracle: a CNN trained on the generating parameters): DeepLoc's AP (pooled pairs) is "
            "cellular_component 0.600 of 0.900; complex 0.600 of 0.900.") in sentences


def test_within_sentences_give_interval_chance_and_test():
    summary = pd.DataFrame({"representation": ["DeepLoc", "PCI"], "role": ["method", "baseline"],
                            "standard": ["complex"] * 2, "metric": ["average_precision_within"] * 2,
                            "value": [0.4, 0.3], "ci_low": [0.3, 0.2], "ci_high": [0.5, 0.4], "chance": [0.25, 0.25],
                            "chance_low": [0.2, 0.2], "chance_high": [0.3, 0.3]})
    tests = pd.DataFrame({"representation": ["DeepLoc"], "against": ["PCI"], "standard": ["complex"],
                          "metric": ["average_precision_within"], "q_value": [0.004]})
    assert within_sentences(summary, tests) == [
        "AP within compartment, complex: DeepLoc 0.400 [0.300, 0.500] (chance 0.250 [0.200, 0.300]), ahead of every "
        "baseline: q = 0.004."]


def test_scores_with_intervals_chance_row_is_the_measured_null():
    summary = _summary()
    summary.loc[summary["representation"] == "PCI", ["chance", "chance_low", "chance_high"]] = [0.2, 0.15, 0.3]
    frame = scores_with_intervals(summary, ["average_precision"])
    assert frame["representation"].tolist()[-1] == "chance"
    chance = frame.iloc[-1]["complex AP (pooled pairs)"]
    assert chance == "0.133 [0.080, 0.300]"  # the mean of the null means, the null's range over the rows
    assert frame["kind"].tolist() == ["compared", "compared", "compared", "chance"]


def test_null_definitions_name_each_metrics_null():
    texts = null_definitions(["average_precision", "average_precision_within"])
    assert texts[0].startswith("AP (pooled pairs): permuted profiles")
    assert "within-class permutation" in texts[1]


def test_standard_sizes_warn_when_a_standard_is_too_small():
    summary = _summary()
    sizes = standard_sizes(summary.assign(n_proteins=np.where(summary["standard"] == "complex", 10, 100),
                                          n_groups=np.where(summary["standard"] == "complex", 3, 20)))
    assert sizes["positive_pairs"].tolist() == [495, 4]
    assert sizes["warning"].tolist()[0] == "" and "too small to mean anything" in sizes["warning"].tolist()[1]


def test_compare_with_study_needs_a_method_and_a_baseline():
    summary = _summary()
    assert compare_with_study(summary[summary["representation"] == "DeepLoc"]) == [
        "The comparison needs a method and at least one baseline."]


@pytest.mark.parametrize("metric", ["ami", "average_precision"])
def test_every_tested_metric_has_a_null_definition(metric):
    assert METRICS[metric].null_definition != "none"


def test_channel_sentences_say_which_channel_each_method_and_baseline_captured():
    rows = [("M", "method", "label_aligned", 0.001), ("M", "method", "label_orthogonal", 0.001),
            ("B", "baseline", "label_aligned", 0.002), ("B", "baseline", "label_orthogonal", 0.6),
            ("C", "baseline", "label_aligned", 0.5), ("C", "baseline", "label_orthogonal", 0.7),
            ("R", "reference", "label_aligned", 0.001), ("R", "reference", "label_orthogonal", 0.001)]
    channels = pd.DataFrame(rows, columns=["representation", "role", "channel", "p_null"]).assign(value=0.4,
                                                                                                  chance=0.3)
    sentences = channel_sentences(channels)
    assert len(sentences) == 3  # references are not judged
    assert sentences[0].startswith("M captured both function channels: label-aligned (AP within compartment 0.400")
    assert sentences[1].startswith("B captured the label-aligned channel (") and "but not the label-orthogonal" in \
        sentences[1]
    assert sentences[2].startswith("C captured neither function channel")
    # Benjamini-Hochberg over the six tests: 0.04 alone passes 0.05, among larger p-values it does not
    channels.loc[3, "p_null"] = 0.04
    assert "but not the label-orthogonal" in channel_sentences(channels)[1]
