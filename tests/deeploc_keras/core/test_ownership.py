"""Which outputs are a command's own (deeploc_keras.core.ownership): records, inputs, foreign files."""

from __future__ import annotations

import json

import pytest

from deeploc_keras.core.errors import InputError
from deeploc_keras.core.ownership import (
    check_not_an_input,
    check_replaceable,
    check_resumable,
    read_record,
    record_name,
    write_owner_record,
)


def test_record_names_are_the_commands_own():
    names = [record_name(c) for c in ("train", "extract", "extract --method cellprofiler", "predict", "score",
                                      "plot tsne", "plot monitor", "simulate", "reproduce")]
    assert names == ["config.json", "extract.json", "extract.json", "predict.json", "score.json", "plot_tsne.json",
                     "plot_monitor.json", "simulate.json", "reproduce.json"]


def test_read_record_reads_the_old_config_json_of_a_command(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"command": "extract --method cellprofiler"}))
    assert read_record(tmp_path, "extract")["command"] == "extract --method cellprofiler"
    assert read_record(tmp_path, "predict") is None
    (tmp_path / "config.json").write_text("{ half a record")
    assert read_record(tmp_path, "extract") is None


def test_check_replaceable_accepts_what_the_record_lists_and_the_named_patterns(tmp_path):
    (tmp_path / "summary.csv").write_text("x")
    (tmp_path / "lr0.001_seed0").mkdir()
    (tmp_path / ".summary.csv.lock").write_text("{}")  # a lock beside an output is not foreign
    write_owner_record(tmp_path, "score", outputs=["summary.csv"])
    with pytest.raises(InputError, match="holds 'lr0.001_seed0', which score did not write"):
        check_replaceable(tmp_path, command="score")
    check_replaceable(tmp_path, command="score", names=["lr*_seed*"])


def test_check_not_an_input_raises_on_an_input_inside_or_equal(tmp_path):
    store = tmp_path / "run" / "cells.h5"
    store.parent.mkdir()
    store.write_text("store")
    with pytest.raises(InputError, match=r"run: holds .*cells\.h5, an input of train"):
        check_not_an_input(tmp_path / "run", [store, None], command="train")
    with pytest.raises(InputError, match=r"cells\.h5: is .*cells\.h5, an input of import"):
        check_not_an_input(store, [store], command="import")
    check_not_an_input(tmp_path / "other", [store, tmp_path / "absent.h5"], command="train")


def test_check_resumable_raises_on_a_folder_without_the_run_record(tmp_path):
    (tmp_path / "cells.h5").write_text("store")
    with pytest.raises(InputError, match="holds no interrupted train run to resume"):
        check_resumable(tmp_path, command="train")
    check_resumable(tmp_path / "absent", command="train")
