"""The oracle gate read from a scored run: its criteria, thresholds and sentences."""

import numpy as np
import pandas as pd
import pytest

from deeploc_keras.study.gate import GATE_COLUMNS, gate_sentences, oracle_gate
from deeploc_keras.study.oracle import GATE_STANDARDS

ORACLE, OTHER = "Oracle", "DeepLoc"


def _scores(p_values: dict[str, float]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A summary and a channels table holding the oracle's rows beside another representation's."""
    shared = [s for s in GATE_STANDARDS if not s.startswith("function_")]
    channel = [s for s in GATE_STANDARDS if s.startswith("function_")]
    summary = pd.DataFrame([{"representation": name, "standard": s, "metric": metric, "value": 0.4,
                             "chance": 0.3, "p_null": p_values[s] if name == ORACLE else 0.9}
                            for name in (OTHER, ORACLE) for s in shared
                            for metric in ("average_precision", "average_precision_within")])
    channels = pd.DataFrame([{"representation": name, "standard": s, "value": 0.5, "chance": 0.45,
                              "p_null": p_values[s] if name == ORACLE else 0.9} for name in (OTHER, ORACLE)
                             for s in channel])
    return summary, channels


def test_oracle_gate_reads_only_the_oracles_rows_and_applies_each_threshold():
    recovery = pd.DataFrame({"parameter": ["foci", "size", "grain"], "r2": [0.5, 0.499, 0.9],
                             "channel": ["label_aligned", "label_aligned", "label_orthogonal"]})
    p_values = dict(zip(GATE_STANDARDS, [0.01, 0.05, 0.049, 0.001, 0.2], strict=True))
    summary, channels = _scores(p_values)
    gate = oracle_gate(recovery, summary, channels, representation=ORACLE)
    assert list(gate.columns) == list(GATE_COLUMNS)
    assert gate[gate["criterion"] == "r2"]["passes"].tolist() == [True, False, True]  # R² >= 0.5 passes
    within = gate[gate["criterion"] == "within_ap"].set_index("name")
    assert list(within.index) == list(GATE_STANDARDS)
    assert within["p_null"].to_dict() == p_values  # the oracle's, never DeepLoc's 0.9
    assert within["passes"].tolist() == [True, False, True, True, False]  # p < 0.05 passes, 0.05 does not
    assert within.loc["function_label_orthogonal", "channel"] == "label_orthogonal"
    assert within.loc["pathway", "channel"] == "" and within["chance"].notna().all()
    assert gate.loc[gate["criterion"] == "r2", "p_null"].isna().all()


def test_oracle_gate_raises_when_a_gate_standard_was_not_scored():
    summary, channels = _scores(dict.fromkeys(GATE_STANDARDS, 0.01))
    recovery = pd.DataFrame({"parameter": ["foci"], "channel": ["label_aligned"], "r2": [0.7]})
    with pytest.raises(ValueError, match="function_label_aligned"):
        oracle_gate(recovery, summary, channels[channels["standard"] != "function_label_aligned"],
                    representation=ORACLE)


def test_gate_sentences_say_pass_only_when_every_criterion_passes():
    recovery = pd.DataFrame({"parameter": ["foci", "grain"], "channel": ["label_aligned", "label_orthogonal"],
                             "r2": [0.8, 0.7]})
    passing = oracle_gate(recovery, *_scores(dict.fromkeys(GATE_STANDARDS, 0.001)), representation=ORACLE)
    sentences = gate_sentences(passing)
    assert sentences[0].startswith("The oracle gate passes on this screen: 7 of 7 criteria pass")
    assert sentences[1].startswith("Label-aligned channel: recovered: R² of foci 0.800")
    assert sentences[2].startswith("Label-orthogonal channel: recovered: R² of grain 0.700")
    assert "bioprocess 0.400 (chance 0.300, p = 0.001, significant)" in sentences[3]
    failing = passing.assign(passes=np.where(passing["name"] == "grain", False, passing["passes"]))
    assert gate_sentences(failing)[0].startswith("The oracle gate fails on this screen: 6 of 7 criteria pass")
    assert gate_sentences(failing)[2].startswith("Label-orthogonal channel: not recovered")


def test_gate_sentences_read_the_table_back_from_csv(tmp_path):
    recovery = pd.DataFrame({"parameter": ["foci"], "channel": ["label_aligned"], "r2": [0.8]})
    gate = oracle_gate(recovery, *_scores(dict.fromkeys(GATE_STANDARDS, 0.001)), representation=ORACLE)
    gate.to_csv(tmp_path / "oracle_gate.csv", index=False)
    assert gate_sentences(pd.read_csv(tmp_path / "oracle_gate.csv")) == gate_sentences(gate)
