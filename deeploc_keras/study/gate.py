"""The oracle gate of a simulated screen, read from a scored ``reproduce`` run.

The oracle (:mod:`deeploc_keras.study.oracle`) is a network of DeepLoc's kind trained on the
cells to regress the generator's function parameters. The screen can answer the study's
question only if that network reads each function channel from the images: the gate asks
R² >= :data:`~deeploc_keras.study.oracle.GATE_R2` of its per-protein means of held-out cells
for every parameter that carries function, and a within-compartment AP of its profile above
the within-class permutation null (p < :data:`~deeploc_keras.study.oracle.GATE_ALPHA`) on
each standard scored within compartments and on each channel standard.

- :func:`oracle_gate`: one row per criterion, from the oracle's parameter recovery and the
  scores of its ladder row (``summary.csv``, ``channels.csv``).
- :func:`gate_sentences`: the verdict in words, per function channel.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data.synthetic.channels import CHANNEL_STANDARDS
from .oracle import GATE_ALPHA, GATE_R2, GATE_STANDARDS
from .references import ORACLE

__all__ = ["GATE_COLUMNS", "oracle_gate", "gate_sentences"]

#: Columns of :func:`oracle_gate` (``scores/oracle_gate.csv`` of a reproduce run on a simulated screen).
GATE_COLUMNS = ("criterion", "name", "channel", "value", "chance", "p_null", "threshold", "passes")


def oracle_gate(recovery: pd.DataFrame, summary: pd.DataFrame, channels: pd.DataFrame, *,
                representation: str = ORACLE) -> pd.DataFrame:
    """Every criterion of the oracle gate with its measured value and verdict.

    Parameters
    ----------
    recovery : pandas.DataFrame
        :func:`~deeploc_keras.study.oracle.parameter_recovery` of the oracle's profile (``parameter``,
        ``channel``, ``r2``).
    summary : pandas.DataFrame
        ``summary.csv`` of the score step (the ``average_precision_within`` rows of ``representation``).
    channels : pandas.DataFrame
        ``channels.csv`` of the score step (the channel standards' rows of ``representation``).
    representation : str, default the oracle's ladder row
        The row whose scores are read.

    Returns
    -------
    pandas.DataFrame
        :data:`GATE_COLUMNS`: ``criterion`` is ``"r2"`` (one row per parameter, ``value`` its R²,
        ``threshold`` :data:`~deeploc_keras.study.oracle.GATE_R2`) or ``"within_ap"`` (one row per gate
        standard, ``value`` the within-compartment AP, ``chance`` and ``p_null`` its within-class null,
        ``threshold`` :data:`~deeploc_keras.study.oracle.GATE_ALPHA`); ``channel`` is the function channel a
        parameter or channel standard belongs to, empty for a standard that moves both.

    Raises
    ------
    ValueError
        If a gate standard has no within-compartment score of ``representation``.

    Examples
    --------
    >>> recovery = pd.DataFrame({"parameter": ["size"], "channel": ["label_aligned"], "r2": [0.62]})
    >>> within = pd.DataFrame({"representation": "O", "metric": "average_precision_within", "value": 0.4,
    ...                        "chance": 0.3, "p_null": 0.01, "standard": ["bioprocess", "pathway", "complex"]})
    >>> chans = pd.DataFrame({"representation": "O", "standard": list(CHANNEL_STANDARDS), "value": 0.5,
    ...                       "chance": 0.4, "p_null": [0.001, 0.2]})
    >>> gate = oracle_gate(recovery, within, chans, representation="O")
    >>> gate[["criterion", "name", "passes"]].to_dict("records")[-1]
    {'criterion': 'within_ap', 'name': 'function_label_orthogonal', 'passes': False}
    >>> bool(gate["passes"].iloc[0])
    True
    """
    rows = [{"criterion": "r2", "name": r.parameter, "channel": r.channel, "value": float(r.r2), "chance": np.nan,
             "p_null": np.nan, "threshold": GATE_R2, "passes": bool(r.r2 >= GATE_R2)} for r in recovery.itertuples()]
    within = summary[(summary["representation"] == representation)
                     & (summary["metric"] == "average_precision_within")]
    scored = pd.concat([within, channels[channels["representation"] == representation]], ignore_index=True)
    scored = scored.drop_duplicates("standard").set_index("standard")
    missing = [name for name in GATE_STANDARDS if name not in scored.index]
    if missing:
        raise ValueError(f"no within-compartment score of {representation!r} on {missing}")
    for name in GATE_STANDARDS:
        score = scored.loc[name]
        rows.append({"criterion": "within_ap", "name": name, "channel": CHANNEL_STANDARDS.get(name, ""),
                     "value": float(score["value"]), "chance": float(score["chance"]),
                     "p_null": float(score["p_null"]), "threshold": GATE_ALPHA,
                     "passes": bool(score["p_null"] < GATE_ALPHA)})
    return pd.DataFrame(rows, columns=list(GATE_COLUMNS))


def gate_sentences(gate: pd.DataFrame) -> list[str]:
    """The gate's verdict in words: overall, then per function channel, then per standard.

    Parameters
    ----------
    gate : pandas.DataFrame
        :func:`oracle_gate`'s table (read back from CSV, an empty ``channel`` may be NaN).

    Returns
    -------
    list of str

    Examples
    --------
    >>> gate = pd.DataFrame({"criterion": ["r2", "r2", "within_ap"], "name": ["size", "grain", "complex"],
    ...                      "channel": ["label_aligned", "label_orthogonal", ""], "value": [0.62, 0.3, 0.4],
    ...                      "chance": [np.nan, np.nan, 0.3], "p_null": [np.nan, np.nan, 0.01],
    ...                      "threshold": [0.5, 0.5, 0.05], "passes": [True, False, True]})
    >>> import textwrap
    >>> print(textwrap.fill(gate_sentences(gate)[0], 100))
    The oracle gate fails on this screen: 2 of 3 criteria pass (R² >= 0.5 of per-protein means of held-
    out cells on 1 of 2 function parameters; within-compartment AP above the within-class null, p <
    0.05, on 1 of 1 standards).
    >>> gate_sentences(gate)[2]
    'Label-orthogonal channel: not recovered: R² of grain 0.300.'
    """
    gate = gate.assign(channel=gate["channel"].fillna(""))
    r2, within = gate[gate["criterion"] == "r2"], gate[gate["criterion"] == "within_ap"]
    verdict = "passes" if gate["passes"].all() else "fails"
    sentences = [f"The oracle gate {verdict} on this screen: {int(gate['passes'].sum())} of {len(gate)} criteria pass "
                 f"(R² >= {GATE_R2:g} of per-protein means of held-out cells on {int(r2['passes'].sum())} of "
                 f"{len(r2)} function parameters; within-compartment AP above the within-class null, "
                 f"p < {GATE_ALPHA:g}, on {int(within['passes'].sum())} of {len(within)} standards)."]
    for channel in dict.fromkeys(c for c in gate["channel"] if c):
        rows = gate[gate["channel"] == channel]
        parts = [f"R² of {r.name} {r.value:.3f}" if r.criterion == "r2"
                 else f"AP within compartment on {r.name} {r.value:.3f} (chance {r.chance:.3f}, p = {r.p_null:.4g})"
                 for r in rows.itertuples()]
        state = "recovered" if rows["passes"].all() else "not recovered"
        sentences.append(f"{channel.replace('_', '-').capitalize()} channel: {state}: {', '.join(parts)}.")
    shared = within[within["channel"] == ""]
    if not shared.empty:
        sentences.append("Standards moved by both channels, oracle's AP within compartment: " + "; ".join(
            f"{r.name} {r.value:.3f} (chance {r.chance:.3f}, p = {r.p_null:.4g}, "
            f"{'significant' if r.passes else 'not significant'})" for r in shared.itertuples()) + ".")
    return sentences
