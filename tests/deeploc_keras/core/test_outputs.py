"""Tests of safe outputs (deeploc_keras.core.outputs): refusal, atomic rename, stale partials, kept outputs."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys

import pytest

from deeploc_keras import outputs
from deeploc_keras.core.errors import DISK_FULL, InputError, OutputExistsError
from deeploc_keras.core.outputs import (
    atomic_path,
    check_output,
    check_own_outputs,
    kept_notes,
    kept_on_interrupt,
    partial_path,
    publish,
    remove_path,
    remove_stale_partials,
    writing_dir,
)
from deeploc_keras.core.ownership import read_record, write_owner_record


def _dead_pid() -> int:
    """The id of a process that has exited (and been reaped)."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return int(proc.stdout)


def _partial_of(path, pid: int):
    """A partial sibling of ``path`` named as process ``pid`` of this host would name it."""
    name = partial_path(path).name.replace(f"-{os.getpid()}-", f"-{pid}-")
    return path.with_name(name)


def test_check_output_raises_on_existing_path(tmp_path):
    existing = tmp_path / "out.csv"
    existing.write_text("old")
    with pytest.raises(OutputExistsError, match=r"out\.csv: output already exists; pass --overwrite"):
        check_output(existing)
    assert check_output(existing, overwrite=True) == existing
    assert check_output(tmp_path / "new" / "deeper" / "x.csv") == tmp_path / "new" / "deeper" / "x.csv"


def test_check_output_raises_when_a_parent_is_a_file(tmp_path):
    blocker = tmp_path / "run"
    blocker.write_text("not a folder")
    with pytest.raises(InputError, match=r"run: is a file, but a folder is needed here for .*best\.keras"):
        check_output(blocker / "sub" / "best.keras")


def test_partial_path_is_hidden_sibling_named_for_this_process(tmp_path):
    first, second = partial_path(tmp_path / "a.h5"), partial_path(tmp_path / "a.h5")
    assert first.parent == tmp_path and first != second
    assert first.name.startswith(".a.h5.") and first.name.endswith(".partial")
    assert f"-{os.getpid()}-" in first.name


def test_atomic_path_renames_only_on_success(tmp_path):
    out = tmp_path / "deep" / "table.csv"
    with atomic_path(out) as tmp:
        assert tmp.parent == out.parent and not out.exists()
        tmp.write_text("new")
    assert out.read_text() == "new"
    assert os.listdir(out.parent) == ["table.csv"]


def test_atomic_path_failure_keeps_old_output_and_removes_partial(tmp_path):
    out = tmp_path / "table.csv"
    out.write_text("old")
    with pytest.raises(RuntimeError, match="boom"), atomic_path(out, overwrite=True) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert out.read_text() == "old" and os.listdir(tmp_path) == ["table.csv"]
    with pytest.raises(KeyboardInterrupt), atomic_path(out, overwrite=True) as tmp:
        tmp.mkdir()
        (tmp / "part").write_text("half")
        raise KeyboardInterrupt
    assert out.read_text() == "old" and os.listdir(tmp_path) == ["table.csv"]


def test_atomic_path_raises_on_existing_before_writing(tmp_path):
    out = tmp_path / "table.csv"
    out.write_text("old")
    body_ran = False
    with pytest.raises(OutputExistsError):
        with atomic_path(out):
            body_ran = True
    assert not body_ran and out.read_text() == "old"


def test_atomic_path_overwrite_replaces_a_directory(tmp_path):
    out = tmp_path / "profiles"
    out.mkdir()
    (out / "stale.parquet").write_text("old")
    with atomic_path(out, overwrite=True) as tmp:
        tmp.mkdir()
        (tmp / "cells.parquet").write_text("new")
    assert sorted(os.listdir(out)) == ["cells.parquet"]


def test_atomic_path_raises_disk_full_as_one_line(tmp_path):
    out = tmp_path / "cells.h5"
    with pytest.raises(InputError) as info, atomic_path(out) as tmp:
        tmp.write_text("half")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert str(info.value) == f"{out}: {DISK_FULL}"
    assert isinstance(info.value.__cause__, OSError)
    assert os.listdir(tmp_path) == []


def test_remove_stale_partials_removes_only_dead_processes_partials(tmp_path):
    out = tmp_path / "cells.h5"
    dead_file = _partial_of(out, _dead_pid())
    dead_file.write_text("half")
    dead_dir = _partial_of(out, _dead_pid())
    dead_dir.mkdir()
    (dead_dir / "chunk").write_text("half")
    own = partial_path(out)
    own.write_text("being written")
    alive = _partial_of(out, os.getppid())
    alive.write_text("being written elsewhere")
    other_output = _partial_of(tmp_path / "other.h5", _dead_pid())
    other_output.write_text("not ours")
    lookalike = tmp_path / f"{dead_file.name}.bak"
    lookalike.write_text("not a partial")
    removed = remove_stale_partials(out)
    assert sorted(removed) == sorted([dead_file, dead_dir])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in (own, alive, other_output, lookalike))


def test_remove_stale_partials_of_missing_folder_is_empty(tmp_path):
    assert remove_stale_partials(tmp_path / "absent" / "cells.h5") == []


def test_atomic_path_clears_stale_partials_first(tmp_path):
    out = tmp_path / "cells.h5"
    stale = _partial_of(out, _dead_pid())
    stale.write_text("half")
    with atomic_path(out) as tmp:
        tmp.write_text("done")
    assert os.listdir(tmp_path) == ["cells.h5"]


def test_kept_notes_list_existing_kept_outputs_only(tmp_path, monkeypatch):
    monkeypatch.setattr(outputs, "_kept", {})
    backup = tmp_path / "backup"
    backup.mkdir()
    kept_on_interrupt(backup, "resume with --resume")
    kept_on_interrupt(tmp_path / "gone", "never written")
    assert kept_notes() == [f"{backup} (resume with --resume)"]


def test_remove_path_removes_files_trees_and_links(tmp_path):
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "f").write_text("x")
    target = tmp_path / "target"
    target.mkdir()
    link = tmp_path / "link"
    link.symlink_to(target, target_is_directory=True)
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    single = tmp_path / "single"
    single.write_text("x")
    for path in (tree, link, dangling, single, tmp_path / "absent"):
        remove_path(path)
    assert os.listdir(tmp_path) == ["target"]


# ---------------------------------------------------------------- own outputs only, published without clobbering

def _owned(folder, command="score", extra=()):
    folder.mkdir()
    (folder / "summary.csv").write_text("a,b\n")
    write_owner_record(folder, command)
    for name in extra:
        (folder / name).write_text("someone else's")
    return folder


def test_atomic_path_owner_replaces_its_own_folder_and_records_it(tmp_path):
    out = _owned(tmp_path / "scores")
    with atomic_path(out, overwrite=True, owner="score") as tmp:
        tmp.mkdir()
        (tmp / "summary.csv").write_text("new\n")
    assert (out / "summary.csv").read_text() == "new\n"
    assert read_record(out, "score")["outputs"] == ["summary.csv"]
    assert sorted(os.listdir(tmp_path)) == ["scores"]


@pytest.mark.parametrize("case", ["foreign file", "no record", "other command", "holds an input", "is an input"])
def test_atomic_path_raises_on_a_folder_that_is_not_its_own(tmp_path, case):
    out = tmp_path / "scores"
    inputs = []
    if case == "foreign file":
        _owned(out, extra=["thesis.tex"])
    elif case == "no record":
        out.mkdir()
        (out / "summary.csv").write_text("x")
    elif case == "other command":
        _owned(out, command="plot monitor")
    else:
        _owned(out)
        inputs = [out / "summary.csv"] if case == "holds an input" else [out]
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    expected = {"foreign file": r"holds 'thesis\.tex', which score did not write",
                "no record": r"was not written by score \(it holds no score\.json naming it\)",
                "other command": r"was not written by score", "holds an input": r"holds .*summary\.csv, an input of score",
                "is an input": r"scores: is .*scores, an input of score"}[case]
    with pytest.raises(InputError, match=expected), atomic_path(out, overwrite=True, owner="score",
                                                                inputs=inputs) as tmp:
        tmp.mkdir()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(os.listdir(tmp_path)) == ["scores"]


def test_publish_never_replaces_an_output_that_appeared_after_the_check(tmp_path):
    out = tmp_path / "cells.parquet"
    with pytest.raises(OutputExistsError), atomic_path(out) as tmp:
        tmp.write_text("mine")
        out.write_text("a concurrent writer's")  # appears between the check and the rename
    assert out.read_text() == "a concurrent writer's" and os.listdir(tmp_path) == ["cells.parquet"]


def test_publish_exchanges_a_replaced_folder_in_one_step(tmp_path):
    out, new = tmp_path / "out", tmp_path / "new"
    out.mkdir()
    (out / "old").write_text("old")
    new.mkdir()
    (new / "fresh").write_text("new")
    publish(new, out, replace=True)
    assert os.listdir(out) == ["fresh"] and not new.exists()


def test_check_own_outputs_raises_on_files_it_did_not_write(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"command": "train"}))
    (tmp_path / "cells.parquet").write_text("x")
    with pytest.raises(OutputExistsError):
        check_own_outputs(tmp_path, ["cells.parquet", "extract.json"], command="extract")
    with pytest.raises(InputError, match=r"cells\.parquet: was not written by extract \(no extract\.json"):
        check_own_outputs(tmp_path, ["cells.parquet", "extract.json"], command="extract", overwrite=True)
    write_owner_record(tmp_path, "extract")
    check_own_outputs(tmp_path, ["cells.parquet", "extract.json"], command="extract", overwrite=True)


def test_writing_dir_sets_the_previous_run_aside_until_the_new_one_finishes(tmp_path):
    run = _owned(tmp_path / "run", command="train")
    with pytest.raises(KeyboardInterrupt), writing_dir(run, command="train", overwrite=True, names=["summary.csv"]):
        (run / "config.json").write_text(json.dumps({"command": "train"}))
        raise KeyboardInterrupt
    aside = [p for p in tmp_path.iterdir() if p.name.endswith(".previous")]
    assert len(aside) == 1 and (aside[0] / "summary.csv").read_text() == "a,b\n"  # the previous run is kept
    assert os.listdir(run) == ["config.json"]  # the new, unfinished one stays to resume
    assert any(str(aside[0]) in note for note in kept_notes())
    with writing_dir(run, command="train", resume=True):
        pass
    assert sorted(os.listdir(tmp_path)) == ["run"]


def test_writing_dir_raises_on_replacing_the_current_folder(tmp_path, monkeypatch):
    run = _owned(tmp_path / "run", command="train")
    monkeypatch.chdir(run)
    with pytest.raises(InputError, match="holds the current folder"), writing_dir(".", command="train",
                                                                                   overwrite=True,
                                                                                   names=["summary.csv"]):
        pass
    assert sorted(os.listdir(run)) == ["config.json", "summary.csv"]
