"""Faults a hostile user hits: corrupt files, NaN pixels, wrong shapes, signals, full disks, dead parents.

Each test builds the bad input, runs the command (click's CliRunner or a real
process) and checks the one error line, the exit code and what is on disk after.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from deeploc_keras.cli import main
from deeploc_keras.core.errors import InputError
from deeploc_keras.core.outputs import atomic_path, partial_path
from deeploc_keras.data.store import CellStore

CLI = [sys.executable, "-c", "from deeploc_keras.cli import main; main()"]


def _one_line(result, *fragments: str, code: int = 2) -> str:
    output = result.output if hasattr(result, "output") else result.stderr
    exit_code = result.exit_code if hasattr(result, "exit_code") else result.returncode
    assert exit_code == code, output
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def _float_store(path: Path, *, n: int = 64, channels: int = 2, chunk_cells: int = 16, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    names = ["GFP", "RFP"][:channels]
    with CellStore.create(path, dtype="float32", image_shape=(64, 64, channels), channel_names=names,
                          class_names=["A", "B"], chunk_cells=chunk_cells, seed=seed) as store:
        store.append(rng.random((n, 64, 64, channels)).astype(np.float32),
                     {"protein": [f"P{i % 4}" for i in range(n)], "label": [i % 2 for i in range(n)]})
    return path


@pytest.fixture(scope="module")
def deeploc_model(tmp_path_factory):
    """An untrained width-0.0625 DeepLoc (study preset, 2 classes, 64x64x2) saved as RUN/best.keras."""
    from deeploc_keras.models.deeploc import build_deeploc

    run = tmp_path_factory.mktemp("run")
    build_deeploc(2, preset="study", width=0.0625, image_shape=(64, 64, 2), seed=0).save(run / "best.keras")
    (run / "model_card.json").write_text(json.dumps({"method": "deeploc", "preset": "study"}))
    return run / "best.keras"


# ---------------------------------------------------------------- corrupt files (§3)

def test_inspect_raises_on_corrupt_gzip_chunk(tmp_path):
    store = tmp_path / "gz.h5"
    rng = np.random.default_rng(0)
    with CellStore.create(store, class_names=["A", "B"], chunk_cells=16, compression="gzip") as writer:
        writer.append(rng.integers(0, 4000, (64, 64, 64, 2)).astype(np.uint16), {"protein": ["P"] * 64})
    with h5py.File(store, "r") as h5:
        chunk = h5["images"].id.get_chunk_info(1)
    with open(store, "r+b") as raw:
        raw.seek(chunk.byte_offset + chunk.size // 2)
        raw.write(b"\0" * 64)
    before = store.read_bytes()
    line = _one_line(CliRunner().invoke(main, ["inspect", str(store)]), str(store), "/images rows 16-31",
                     "filter returned failure during read")
    assert line.startswith(f"Error: {store}: cannot read")
    assert store.read_bytes() == before


def test_inspect_raises_on_nan_pixels(tmp_path):
    store = _float_store(tmp_path / "nan.h5")
    with h5py.File(store, "r+") as h5:
        h5["images"][40, 3, 3, 0] = np.nan
        h5["images"][41, 0, 0, 1] = np.inf
    _one_line(CliRunner().invoke(main, ["inspect", str(store)]), str(store), "2 cell(s) hold NaN or inf pixels",
              "rows [40, 41]")


def _corrupt_zip_member(path: Path) -> str:
    """Overwrite bytes in the middle of the largest member's data, keeping its recorded CRC."""
    with zipfile.ZipFile(path) as archive:
        info = max(archive.infolist(), key=lambda i: i.compress_size)
    with open(path, "r+b") as raw:
        raw.seek(info.header_offset + 26)
        name_len, extra_len = np.frombuffer(raw.read(4), dtype="<u2")
        raw.seek(info.header_offset + 30 + int(name_len) + int(extra_len) + info.compress_size // 2)
        raw.write(b"\xff" * 32)
    return info.filename


def test_extract_raises_on_corrupt_keras(tmp_path, deeploc_model):
    store = _float_store(tmp_path / "cells.h5")
    run = tmp_path / "run"
    shutil.copytree(deeploc_model.parent, run)
    _corrupt_zip_member(run / "best.keras")
    out = tmp_path / "prof"
    result = CliRunner().invoke(main, ["extract", str(store), "--out", str(out), "--model", str(run / "best.keras"),
                                       "--split", "all"])
    line = _one_line(result, f"{run / 'best.keras'}: cannot read as a Keras model (corrupt or truncated file?)")
    assert "CRC" in line or "decompress" in line or "zip" in line.lower()
    assert not out.exists()


def test_extract_raises_on_channel_mismatch_naming_both_shapes(tmp_path, deeploc_model):
    store = _float_store(tmp_path / "one.h5", channels=1)
    out = tmp_path / "prof"
    result = CliRunner().invoke(main, ["extract", str(store), "--out", str(out), "--model", str(deeploc_model),
                                       "--split", "all"])
    _one_line(result, f"{store}: crops are (64, 64, 1)", f"{deeploc_model} expects (64, 64, 2)")
    assert not out.exists()


def test_extract_raises_on_nan_pixels_read_in_the_pipeline(tmp_path, deeploc_model):
    store = _float_store(tmp_path / "nan.h5")
    with h5py.File(store, "r+") as h5:
        h5["images"][50, 1, 1, 1] = np.nan
    out = tmp_path / "prof"
    result = CliRunner().invoke(main, ["extract", str(store), "--out", str(out), "--model", str(deeploc_model),
                                       "--split", "all", "--batch-size", "16"])
    _one_line(result, f"{store}: 1 cell(s) hold NaN or inf pixels (rows [50])")
    assert not (out / "cells.parquet").exists() and not (out / "proteins.parquet").exists()


def test_train_raises_on_nan_pixels_and_keeps_no_checkpoint(tmp_path):
    store = _float_store(tmp_path / "nan.h5", n=96)
    with h5py.File(store, "r+") as h5:
        h5["images"][7, 0, 0, 0] = np.nan
    run = tmp_path / "run"
    result = CliRunner().invoke(main, ["train", str(store), "--out", str(run), "--width", "0.0625", "--epochs", "1",
                                       "--batch-size", "16", "--no-xla"])
    _one_line(result, f"{store}: 1 cell(s) hold NaN or inf pixels (rows [7])")
    assert not (run / "best.keras").exists()


def test_finite_model_checkpoint_skips_nan_epochs(tmp_path):
    import keras

    from deeploc_keras.training.callbacks import FiniteModelCheckpoint

    x = np.full((8, 3), np.nan, np.float32)
    y = np.zeros((8, 1), np.float32)

    def fit(callback):
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        model.fit(x, y, validation_data=(x, y), epochs=1, verbose=0, callbacks=[callback])

    fit(keras.callbacks.ModelCheckpoint(str(tmp_path / "plain.keras"), monitor="val_loss", save_best_only=True))
    assert (tmp_path / "plain.keras").exists()  # Keras itself keeps a NaN first epoch
    fit(FiniteModelCheckpoint(str(tmp_path / "finite.keras"), monitor="val_loss", save_best_only=True))
    assert not (tmp_path / "finite.keras").exists()


# ---------------------------------------------------------------- user errors vs bugs (§3)

def test_cli_reports_bug_with_traceback_and_exit_1(tmp_path, monkeypatch):
    store = _float_store(tmp_path / "cells.h5")

    def broken(self):
        raise KeyError("channel_ranges")

    monkeypatch.setattr(CellStore, "summary", broken)
    result = CliRunner().invoke(main, ["inspect", str(store)])
    assert result.exit_code == 1
    assert "internal error" in result.output and "Traceback" in result.output
    assert "KeyError: 'channel_ranges'" in result.output
    assert not any(line.startswith("Error:") for line in result.output.splitlines())


def test_cli_output_under_a_regular_file(tmp_path):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("x")
    store = _float_store(tmp_path / "cells.h5")
    result = CliRunner().invoke(main, ["simulate", "--out", str(blocker / "screen"), "--proteins", "20",
                                       "--cells-per-protein", "2"])
    line = _one_line(result, f"{blocker}: is a file, but a folder is needed here")
    assert "Errno" not in line
    out = blocker / "prof"
    result = CliRunner().invoke(main, ["score", str(store), "--standards", str(tmp_path), "--out", str(out)])
    assert "Errno" not in result.output and result.exit_code == 2
    assert blocker.read_text() == "x"


def test_cli_file_errors_name_the_file_without_errno(tmp_path):
    missing = tmp_path / "nope.h5"
    line = _one_line(CliRunner().invoke(main, ["inspect", str(missing)]), str(missing))
    assert "Errno" not in line


def test_atomic_path_names_output_on_disk_full(tmp_path):
    out = tmp_path / "cells.parquet"
    with pytest.raises(InputError, match=rf"{out}: no space left on device"):
        with atomic_path(out) as tmp:
            tmp.write_text("half")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert list(tmp_path.iterdir()) == []


def test_store_abort_removes_partial_even_when_close_fails(tmp_path):
    out = tmp_path / "cells.h5"
    store = CellStore.create(out, class_names=["A"])
    store.append(np.zeros((4, 64, 64, 2), np.uint16))
    real_close = store._h5.close

    def failing_close():
        real_close()
        raise OSError(errno.ENOSPC, "No space left on device")

    store._h5.close = failing_close
    with pytest.raises(InputError, match=rf"{out}: no space left on device"):
        store.close()
    assert list(tmp_path.iterdir()) == []


def _can_mount_tmpfs() -> bool:
    if not shutil.which("unshare") or sys.platform != "linux":
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(not _can_mount_tmpfs(), reason="needs unshare and a user-namespace tmpfs mount")
def test_import_on_full_disk_names_output_and_leaves_nothing(tmp_path):
    source = _float_store(tmp_path / "src.h5", n=256, chunk_cells=64)
    with h5py.File(source) as h5, h5py.File(tmp_path / "deeploc.hdf5", "w") as out:
        images = h5["images"][:]
        out["data1"] = images.transpose(0, 3, 1, 2).reshape(len(images), -1).astype(np.float64)
        out["Index1"] = np.eye(19, dtype=np.uint8)[np.arange(len(images)) % 19]
    disk = tmp_path / "disk"
    disk.mkdir()
    script = (f"mount -t tmpfs -o size=2m tmpfs {disk} && "
              f"{shutil.which('deeploc-keras')} import {tmp_path / 'deeploc.hdf5'} {disk / 'cells.h5'} "
              f"--format deeploc-hdf5; rc=$?; ls -a {disk}; exit $rc")
    result = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}, timeout=300)
    _one_line(result, f"{disk / 'cells.h5'}: no space left on device")
    assert result.stdout.split() == [".", ".."]  # no partial, no output on the full disk


def test_broken_pipe_is_quiet(tmp_path):
    store = tmp_path / "many.h5"
    with CellStore.create(store, image_shape=(8, 8, 2), chunk_cells=512) as writer:
        writer.append(np.zeros((6000, 8, 8, 2), np.uint16), {"protein": [f"P{i:05d}" for i in range(6000)]})
    result = subprocess.run(["bash", "-c", f"{shutil.which('deeploc-keras')} inspect --json {store} | head -1; "
                                           "echo ${PIPESTATUS[0]}"], capture_output=True, text=True, timeout=120)
    assert result.stdout.splitlines()[0] == "{"
    assert result.stdout.splitlines()[-1] in {"0", "141"}
    assert "Broken" not in result.stderr and "Traceback" not in result.stderr and "Error" not in result.stderr


# ---------------------------------------------------------------- signals (§4)

def _simulate(out: Path, *extra: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([*CLI, "simulate", "--out", str(out), "--proteins", "400", "--cells-per-protein", "60", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def _wait_for_partial(folder: Path, process: subprocess.Popen, timeout: float = 120) -> list[Path]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        found = [p for p in folder.iterdir() if p.name.endswith(".partial")]
        if found and any((p / "cells.h5").exists() or any(p.glob(".cells.h5.*")) for p in found if p.is_dir()):
            return found
        time.sleep(0.2)
    pytest.fail("no partial output appeared")


def test_sigterm_removes_temporary_files(tmp_path):
    out = tmp_path / "screen"
    process = _simulate(out)
    _wait_for_partial(tmp_path, process)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr
    assert "Terminated; temporary files were removed; no partial output was kept." in stderr
    assert "Traceback" not in stderr
    assert list(tmp_path.iterdir()) == []


def test_sigkill_partials_are_removed_by_the_next_run(tmp_path):
    out = tmp_path / "screen"
    process = _simulate(out)
    stale = _wait_for_partial(tmp_path, process)
    process.kill()
    process.wait()
    assert all(p.exists() for p in stale) and str(process.pid) in stale[0].name
    result = CliRunner().invoke(main, ["simulate", "--out", str(out), "--proteins", "20", "--cells-per-protein", "2"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["screen"]
    assert not [p for p in out.rglob("*.partial")]


def test_partials_of_live_processes_are_kept(tmp_path):
    out = tmp_path / "cells.h5"
    live = partial_path(out)  # this process is alive: its partial is not stale
    live.write_text("being written")
    with atomic_path(out) as tmp:
        tmp.write_text("done")
    assert live.exists() and out.read_text() == "done"


# ---------------------------------------------------------------- workers (§4)

def _session_processes(sid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(entry))
    return pids


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_cellprofiler_workers_exit_with_their_parent(tmp_path, store_factory, sig):
    store = store_factory(tmp_path / "cells.h5", cells_per_protein=60, chunk_cells=64)
    log = open(tmp_path / "stderr.txt", "w")
    process = subprocess.Popen([*CLI, "extract", str(store), "--out", str(tmp_path / "cp"), "--method",
                                "cellprofiler", "--workers", "2", "--split", "all"], stdout=subprocess.DEVNULL,
                               stderr=log, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while len(_session_processes(process.pid)) < 5 and time.monotonic() < deadline:  # run, tracker, server, 2
            time.sleep(0.2)
        assert len(_session_processes(process.pid)) >= 5, "the workers did not start"
        time.sleep(1)
        process.send_signal(sig)
        process.wait(timeout=60)
        deadline = time.monotonic() + 15
        while _session_processes(process.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = _session_processes(process.pid)
        assert left == [], f"still running after the parent died: {left}"
    finally:
        for pid in _session_processes(process.pid):
            os.kill(pid, signal.SIGKILL)
        log.close()
    assert not (tmp_path / "cp" / "cells.parquet").exists()


# ---------------------------------------------------------------- shards (§4)

def test_extract_shards_of_a_one_chunk_split_merge(tmp_path, store_factory, deeploc_model):
    store = store_factory(tmp_path / "cells.h5", chunk_cells=512, n_classes=2)
    out = tmp_path / "prof"
    for i in range(2):
        result = CliRunner().invoke(main, ["extract", str(store), "--out", str(out), "--model", str(deeploc_model),
                                           "--split", "test", "--shard", f"{i}/2"])
        assert result.exit_code == 0, result.output
    merged = CliRunner().invoke(main, ["extract", str(store), "--out", str(out), "--merge-shards"])
    assert merged.exit_code == 0, merged.output
    import pyarrow.parquet as pq

    with CellStore.open(store) as cells:
        expected = np.flatnonzero(cells.cells["split"].to_numpy() == 2)
    index = pq.read_table(out / "cells.parquet", columns=["Metadata_CellIndex"]).column(0).to_numpy()
    assert np.array_equal(index, expected)


def test_interrupt_message_names_what_was_kept(tmp_path, monkeypatch):
    from deeploc_keras import outputs

    store = _float_store(tmp_path / "cells.h5")
    backup = tmp_path / "run" / "backup"
    backup.mkdir(parents=True)

    def interrupted(self):
        outputs.kept_on_interrupt(backup, "resume with --resume")
        outputs.kept_on_interrupt(tmp_path / "never-written", "not shown")
        raise KeyboardInterrupt

    monkeypatch.setattr(CellStore, "summary", interrupted)
    monkeypatch.setattr(outputs, "_kept", {})
    result = CliRunner().invoke(main, ["inspect", str(store)])
    assert result.exit_code == 130
    assert result.output.strip() == (f"Interrupted; temporary files were removed; kept {backup} "
                                     "(resume with --resume).")
