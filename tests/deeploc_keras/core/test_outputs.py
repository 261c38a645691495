"""Tests of safe outputs (deeploc_keras.core.outputs): refusal, atomic rename, stale partials, kept outputs."""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import pytest

from deeploc_keras import outputs
from deeploc_keras.core.errors import DISK_FULL, InputError, OutputExistsError
from deeploc_keras.core.outputs import (
    atomic_path,
    check_output,
    kept_notes,
    kept_on_interrupt,
    partial_path,
    remove_path,
    remove_stale_partials,
)


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
