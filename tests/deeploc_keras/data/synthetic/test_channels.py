"""Channel standards: proteins of a class grouped by one function channel, written with every simulated screen."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from deeploc_keras.data.synthetic import simulate_screen
from deeploc_keras.data.synthetic.channels import CHANNEL_STANDARDS, channel_groups
from deeploc_keras.data.synthetic.parameters import FUNCTION_CHANNELS, PARAMETER_NAMES


def _spread(theta: np.ndarray, groups: dict[str, list[int]], names: tuple[str, ...]) -> float:
    """Mean within-group variance (unbiased) of the named parameters."""
    columns = [PARAMETER_NAMES.index(p) for p in names]
    return float(np.mean([theta[np.ix_(rows, columns)].var(axis=0, ddof=1).mean() for rows in groups.values()]))


@pytest.mark.parametrize("channel", list(FUNCTION_CHANNELS))
def test_channel_groups_are_tight_in_their_channel_only(channel):
    rng = np.random.default_rng(1)
    theta = rng.normal(size=(120, len(PARAMETER_NAMES)))
    classes = np.repeat(["A", "B", "C"], 40)
    groups = channel_groups(theta, classes, channel, seed=0)
    other = next(c for c in FUNCTION_CHANNELS if c != channel)
    assert all(len(set(classes[rows])) == 1 and len(rows) >= 2 for rows in groups.values())
    assert 15 <= len(groups) <= 21
    # grouped by this channel: its parameters vary far less within a group than the other channel's (about 1)
    assert _spread(theta, groups, FUNCTION_CHANNELS[channel]) < 0.6 * _spread(theta, groups, FUNCTION_CHANNELS[other])
    assert 0.75 < _spread(theta, groups, FUNCTION_CHANNELS[other]) < 1.25


def test_channel_groups_skip_classes_too_small_for_two_groups():
    theta = np.random.default_rng(0).normal(size=(7, len(PARAMETER_NAMES)))
    groups = channel_groups(theta, ["A"] * 4 + ["B"] * 3, "label_orthogonal")
    assert groups and all(name.startswith("A_label_orthogonal_") for name in groups)


def test_channel_groups_raises_unknown_channel():
    with pytest.raises(ValueError, match="channel must be one of"):
        channel_groups(np.zeros((4, len(PARAMETER_NAMES))), ["A"] * 4, "texture")


def test_simulate_screen_writes_the_channel_standards(tmp_path):
    screen = simulate_screen(tmp_path / "screen", proteins=60, cells_per_protein=2, seed=0)
    table = pd.read_csv(screen.proteins_csv, keep_default_na=False).set_index("protein")
    for name, channel in CHANNEL_STANDARDS.items():
        lines = (screen.outdir / "standards" / f"{name}.gmt").read_text().splitlines()
        groups = {line.split("\t")[0]: line.split("\t")[2:] for line in lines}
        assert len(groups) >= 2
        for group, members in groups.items():
            assert len(members) >= 2 and f"_{channel}_" in group
            assert table.loc[members, "localization"].nunique() == 1
