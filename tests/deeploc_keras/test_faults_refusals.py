"""Faults that showed as bugs, and refusals that left files behind (issue 27 §5).

Each case gets one ``Error:`` line, exit code 2, no traceback, and leaves nothing a
corrected rerun would trip over. Full disks and read-only folders are real tmpfs
mounts in a user namespace; signals and a dying Dask scheduler are real processes.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from deeploc_keras.cli import main
from deeploc_keras.core.profiles import ProfileWriter
from deeploc_keras.data.store import CellStore

CLI = [sys.executable, "-c", "from deeploc_keras.cli import main; main()"]
TRAIN = ["--width", "0.0625", "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "32", "--mixed-precision",
         "off", "--no-xla", "--lr", "1e-3", "-q"]


def _invoke(*args) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


def _profiles(path: Path, n: int = 12) -> Path:
    features = np.random.default_rng(0).normal(size=(n, 4))
    with ProfileWriter(path, info={"method": "Demo"}) as writer:
        writer.write(pd.DataFrame({"Metadata_Protein": [f"P{i}" for i in range(n)]}), features,
                     [f"f_{i}" for i in range(4)])
    return path


def _standard(path: Path, n: int = 12, name: str = "G") -> Path:
    path.write_text("".join(f"{name}{g}\tna\t" + "\t".join(f"P{i}" for i in range(g, n, 3)) + "\n" for g in range(3)))
    return path


# ---------------------------------------------------------------- bad values, one line each

def test_score_raises_on_profiles_whose_distances_overflow(tmp_path, one_line):
    profiles = tmp_path / "proteins.csv"
    features = np.random.default_rng(0).normal(size=(12, 4)) * 1e300
    pd.DataFrame({"Metadata_Protein": [f"P{i}" for i in range(12)],
                  **{f"f_{i}": features[:, i] for i in range(4)}}).to_csv(profiles, index=False)
    one_line(_invoke("score", profiles, "--standards", _standard(tmp_path / "g.gmt"), "--out", tmp_path / "scores"),
             f"{profiles}: 12 profiles have values beyond +-", "where distances between profiles overflow")
    assert not (tmp_path / "scores").exists()


def test_names_with_invalid_tex_are_drawn_as_written(tmp_path):
    odd = "$\\undefinedcmd{$"
    profiles = _profiles(tmp_path / "proteins.parquet", n=30)
    result = _invoke("score", profiles, "--standards", _standard(tmp_path / "g.gmt", n=30), "--out",
                     tmp_path / "scores", "--name", odd, "--permutations", "0")
    assert result.exit_code == 0, result.output
    assert pd.read_csv(tmp_path / "scores" / "summary.csv")["representation"].unique().tolist() == [odd]
    assert odd in (tmp_path / "scores" / "figure1_summary.svg").read_text()
    labels = pd.DataFrame({"Metadata_Protein": [f"P{i}" for i in range(30)], "Metadata_Label": ["A", "B", "C"] * 10})
    labelled = tmp_path / "labelled.parquet"
    with ProfileWriter(labelled, info={"method": "Demo"}) as writer:
        writer.write(labels, np.random.default_rng(1).normal(size=(30, 4)), [f"f_{i}" for i in range(4)])
    result = _invoke("plot", "tsne", labelled, "--processes", _standard(tmp_path / "bp.gmt", n=30, name=odd),
                     "--perplexity", "5", "--out", tmp_path / "tsne")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "tsne" / "figure2_tsne.png").is_file()


@pytest.mark.parametrize("seed", ["-5", str(2**32)])
@pytest.mark.parametrize("command", ["import", "simulate", "train", "train --seeds", "score", "plot tsne",
                                     "reproduce"])
def test_seeds_out_of_range_are_refused_before_anything_is_written(tiny_store, tmp_path, command, seed):
    out = tmp_path / "out"
    args = {"import": ["import", tiny_store, "--format", "deeploc-hdf5", "--out", out / "x.h5", "--seed", seed],
            "simulate": ["simulate", "--out", out, "--seed", seed],
            "train": ["train", tiny_store, "--out", out, "--seed", seed],
            "train --seeds": ["train", tiny_store, "--out", out, "--lr-sweep", "--seeds", f"0,{seed}"],
            "score": ["score", tiny_store, "--standards", tiny_store, "--out", out, "--seed", seed],
            "plot tsne": ["plot", "tsne", tiny_store, "--processes", tiny_store, "--out", out, "--seed", seed],
            "reproduce": ["reproduce", "--out", out, "--seed", seed]}[command]
    result = _invoke(*args)
    assert result.exit_code == 2, result.output
    assert "Invalid value for" in result.output and "--seed" in result.output and "Traceback" not in result.output
    assert not out.exists()


@pytest.mark.parametrize(("option", "expected"), [
    (["--devices", "foo"], "unknown device 'foo'"),
    (["--lr", "nan"], "lr must be a positive finite number"),
    (["--lr", "inf"], "Invalid value for '--lr'"),
])
def test_train_refuses_bad_options_before_writing(tiny_store, tmp_path, option, expected):
    out = tmp_path / "run"
    args = [a for a in TRAIN if a not in ("--lr", "1e-3")] if option[0] == "--lr" else TRAIN
    result = _invoke("train", tiny_store, "--out", out, *args, *option)
    assert result.exit_code == 2, result.output
    assert expected in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_train_raises_on_crops_too_small_for_valid_convolutions(tmp_path, one_line):
    from deeploc_keras.models.deeploc import build_deeploc

    store = tmp_path / "small.h5"
    rng = np.random.default_rng(0)
    with CellStore.create(store, image_shape=(32, 32, 2), class_names=["A", "B"], chunk_cells=16) as writer:
        writer.append(rng.integers(0, 4000, (80, 32, 32, 2)).astype(np.uint16),
                      {"protein": [f"P{i % 8}" for i in range(80)], "label": [i % 2 for i in range(80)]})
    one_line(_invoke("train", store, "--out", tmp_path / "run", "--preset", "razdaibiedina2022", *TRAIN),
             f"{store}: crops are 32x32, but preset 'razdaibiedina2022' (valid convolutions) needs inputs of at "
             "least 52x52")
    assert not (tmp_path / "run").exists()
    build_deeploc(2, preset="razdaibiedina2022", width=0.0625, image_shape=(52, 52, 2))  # the smallest it builds
    with pytest.raises(ValueError):
        build_deeploc(2, preset="razdaibiedina2022", width=0.0625, image_shape=(51, 51, 2))


def test_batch_sizes_beyond_the_cells_read_one_short_batch(untrained_run, tiny_store, tmp_path):
    huge = str(10**9)
    result = _invoke("extract", tiny_store, "--out", tmp_path / "p", "--model", untrained_run / "best.keras",
                     "--batch-size", huge)
    assert result.exit_code == 0, result.output
    result = _invoke("train", tiny_store, "--out", tmp_path / "run", "--width", "0.0625", "--epochs", "1",
                     "--batch-size", huge, "--mixed-precision", "off", "--no-xla", "--lr", "1e-3")
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(tmp_path / "run" / "history.csv")) == 1


def test_reproduce_resume_raises_on_a_truncated_state(tmp_path, one_line):
    out = tmp_path / "run"
    out.mkdir()
    (out / "reproduce.json").write_text('{"command": "reproduce", "config": {"preset": "smo')
    one_line(_invoke("reproduce", "--out", out, "--resume", "--preset", "smoke"),
             f"{out / 'reproduce.json'}: cannot read the run's state (corrupt or truncated file?)")
    assert os.listdir(out) == ["reproduce.json"]


# ---------------------------------------------------------------- Dask schedulers

def test_cellprofiler_raises_on_a_malformed_scheduler_address_and_writes_nothing(tiny_store, tmp_path, one_line):
    out = tmp_path / "cp"
    one_line(_invoke("extract", tiny_store, "--out", out, "--method", "cellprofiler", "--scheduler", "foo"),
             "cannot reach the Dask scheduler at 'foo': missing port number")
    assert not out.exists()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_cellprofiler_raises_on_an_unreachable_scheduler_and_writes_nothing(tiny_store, tmp_path, one_line):
    address = f"tcp://127.0.0.1:{_free_port()}"  # well formed, nothing listening
    out = tmp_path / "cp"
    env = {**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"}
    result = subprocess.run([*CLI, "extract", str(tiny_store), "--out", str(out), "--method", "cellprofiler",
                             "--scheduler", address], capture_output=True, text=True, timeout=300, env=env)
    one_line(result, f"cannot reach the Dask scheduler at '{address}'", "after 2 s")
    assert os.listdir(tmp_path) == []  # no out folder, no .chunks/, no lock


@pytest.mark.slow
def test_cellprofiler_raises_when_the_scheduler_dies_mid_run_and_keeps_its_chunks(store_factory, tmp_path, one_line):
    store = store_factory(tmp_path / "cells.h5", cells_per_protein=100, chunk_cells=64)
    address = f"tcp://127.0.0.1:{_free_port()}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                  "--port", address.rsplit(":", 1)[1], "--no-dashboard"], **quiet)
    worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                               "--nworkers", "1", "--no-dashboard"], **quiet)
    out = tmp_path / "cp"
    run = subprocess.Popen([*CLI, "extract", str(store), "--out", str(out), "--method", "cellprofiler", "--split",
                            "all", "--scheduler", address], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True)
    try:
        deadline = time.monotonic() + 300
        while not list((out / ".chunks").glob("chunk_*.parquet")) and run.poll() is None:
            assert time.monotonic() < deadline, "no chunk was measured"
            time.sleep(0.1)
        scheduler.kill()
        run.wait(timeout=300)
    finally:
        for process in (scheduler, worker, run):
            process.kill()
            process.wait()
    result = subprocess.CompletedProcess(run.args, run.returncode, "", run.stderr.read())
    one_line(result, f"the Dask scheduler at {address} stopped answering mid-run",
             "the chunks measured so far are kept: run again to resume")
    assert list((out / ".chunks").glob("chunk_*.parquet")) and not (out / "cells.parquet").exists()


# ---------------------------------------------------------------- full disks and read-only folders

def _can_mount_tmpfs() -> bool:
    if not shutil.which("unshare") or sys.platform != "linux":
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True)
    return probe.returncode == 0


needs_tmpfs = pytest.mark.skipif(not _can_mount_tmpfs(), reason="needs unshare and a user-namespace tmpfs mount")


def _on_small_disk(tmp_path: Path, size: str, *commands: str) -> list[subprocess.CompletedProcess]:
    """Run each shell line in one mount namespace where ``DISK`` is a fresh tmpfs of ``size``; their results."""
    disk, logs = tmp_path / "disk", tmp_path / "logs"
    disk.mkdir()
    logs.mkdir()
    lines = [f"mount -t tmpfs -o size={size} tmpfs {disk} || exit 99"]
    lines += [f"{command.replace('DISK', str(disk))} > {logs}/out{i} 2> {logs}/err{i}; echo $? > {logs}/rc{i}"
              for i, command in enumerate(commands)]
    subprocess.run(["unshare", "-rm", "sh", "-c", "\n".join(lines)], check=True, timeout=900,
                   env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    return [subprocess.CompletedProcess(command, int((logs / f"rc{i}").read_text()), (logs / f"out{i}").read_text(),
                                        (logs / f"err{i}").read_text()) for i, command in enumerate(commands)]


def _cli_line(*args) -> str:
    return " ".join([sys.executable, "-c", "'from deeploc_keras.cli import main; main()'", *map(str, args)])


@needs_tmpfs
def test_extract_on_a_full_disk_names_the_file_and_leaves_nothing(untrained_run, tiny_store, tmp_path, one_line):
    extract = _cli_line("extract", tiny_store, "--out", "DISK/p", "--model", untrained_run / "best.keras", "--split",
                        "all")
    result, listing = _on_small_disk(tmp_path, "16k", extract, "ls -A DISK")
    one_line(result, f"{tmp_path / 'disk' / 'p' / 'cells.parquet'}: no space left on device")
    assert listing.stdout.split() == []


@needs_tmpfs
def test_cellprofiler_on_a_full_disk_names_the_file_and_resumes_once_there_is_space(tiny_store, tmp_path, one_line):
    extract = _cli_line("extract", tiny_store, "--out", "DISK/cp", "--method", "cellprofiler", "--workers", "1",
                        "--split", "all")
    full, grown, listing = _on_small_disk(tmp_path, "48k", extract, f"mount -o remount,size=64m DISK && {extract}",
                                          "ls -A DISK/cp")
    line = one_line(full, "no space left on device")
    assert str(tmp_path / "disk" / "cp") in line
    assert grown.returncode == 0, grown.stderr[-3000:]
    assert "cells.parquet" in listing.stdout.split() and ".chunks" not in listing.stdout.split()


@needs_tmpfs
def test_train_on_a_full_disk_names_the_file_and_resumes_once_there_is_space(tiny_store, tmp_path, one_line):
    train = _cli_line("train", tiny_store, "--out", "DISK/run", *TRAIN[:2], "--epochs", "2", *TRAIN[4:])
    full, resumed, listing = _on_small_disk(tmp_path, "160k", train, f"mount -o remount,size=64m DISK && {train} "
                                            "--resume", "ls -A DISK/run")
    line = one_line(full, "no space left on device", "the run so far is kept: continue it with --resume")
    assert str(tmp_path / "disk" / "run") in line
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert sorted(listing.stdout.split()) == ["best.keras", "config.json", "history.csv"]


@needs_tmpfs
def test_export_onto_a_read_only_folder_names_the_file(tmp_path, one_line):
    profiles = _profiles(tmp_path / "proteins.parquet")
    export = _cli_line("export", profiles, "--out", "DISK/p.h5ad")
    result, listing = _on_small_disk(tmp_path, "1m", f"mount -o remount,ro DISK && {export}", "ls -A DISK")
    one_line(result, f"{tmp_path / 'disk' / 'p.h5ad'}: read-only file system; write to another folder")
    assert listing.stdout.split() == []


# ---------------------------------------------------------------- signals and worker processes

def _session(sid: int) -> list[int]:
    """Live processes of session ``sid``."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                pids.append(int(entry))
    return pids


def _wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_sigkill_of_score_leaves_no_worker_alive(tmp_path):
    n = 400
    profiles = _profiles(tmp_path / "proteins.parquet", n=n)
    standard = tmp_path / "g.gmt"
    standard.write_text("".join(f"G{g}\tna\t" + "\t".join(f"P{i}" for i in range(g, n, 40)) + "\n" for g in range(40)))
    process = subprocess.Popen([*CLI, "score", str(profiles), "--standards", str(standard), "--out",
                                str(tmp_path / "scores"), "--metric", "ami"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_until(lambda: len(_session(process.pid)) >= 3 or process.poll() is not None, 300, "no worker started")
        assert process.poll() is None, "score finished before its workers could be seen"
        process.kill()
        process.wait()
        _wait_until(lambda: not _session(process.pid), 20, f"workers outlived score: {_session(process.pid)}")
    finally:
        for pid in _session(process.pid):
            os.kill(pid, signal.SIGKILL)
    assert not (tmp_path / "scores").exists()


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_ctrl_c_of_cellprofiler_prints_one_line_and_no_worker_traceback(store_factory, tmp_path):
    store = store_factory(tmp_path / "cells.h5", cells_per_protein=60, chunk_cells=64)
    process = subprocess.Popen([*CLI, "extract", str(store), "--out", str(tmp_path / "cp"), "--method",
                                "cellprofiler", "--workers", "2", "--split", "all"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _wait_until(lambda: len(_session(process.pid)) >= 5, 120, "the workers did not start")  # run, tracker, server, 2
        time.sleep(1)
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole foreground group
        _, stderr = process.communicate(timeout=120)
        _wait_until(lambda: not _session(process.pid), 20, "workers outlived the run")
    finally:
        for pid in _session(process.pid):
            os.kill(pid, signal.SIGKILL)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert [line for line in stderr.splitlines() if line.strip()] == [
        "Interrupted; temporary files were removed; no partial output was kept."], stderr
