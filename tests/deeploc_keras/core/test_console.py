"""The console: a smoke-size run fits on one screen; -q, -v after the command, one vocabulary, deprecations."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
from click.testing import CliRunner

from deeploc_keras.cli import main
from deeploc_keras.core.console import (
    DEFAULT,
    QUIET,
    _epoch_estimate,
    _NativeFilter,
    progress,
    set_verbosity,
    status,
    verbosity,
)

ROOT = Path(__file__).resolve().parents[3]
CLI = [sys.executable, "-c", "from deeploc_keras.cli import main; main()"]


def _run(args: list[str], tmp: Path) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in ("TF_CPP_MIN_LOG_LEVEL",
                                                                          "ABSL_MIN_LOG_LEVEL")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, cwd=tmp, timeout=900)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """simulate + train + extract at the smallest size, as a user runs them in a shell (real stdout/stderr)."""
    tmp = tmp_path_factory.mktemp("smoke")
    steps = [
        ["simulate", "--out", "screen", "--proteins", "40", "--cells-per-protein", "10"],
        ["train", "screen/cells.h5", "--out", "run", "--width", "0.0625", "--epochs", "2", "--steps-per-epoch", "1",
         "--batch-size", "16", "--no-xla", "--mixed-precision", "off"],
        ["extract", "screen/cells.h5", "--out", "profiles", "--model", "run/best.keras"],
    ]
    return tmp, [_run(step, tmp) for step in steps]


def test_smoke_run_console_fits_on_one_screen(smoke_run):
    _, runs = smoke_run
    for done in runs:
        assert done.returncode == 0, done.stderr[-3000:]
    stdout = [line for done in runs for line in done.stdout.splitlines()]
    stderr = [line for done in runs for line in done.stderr.splitlines()]
    assert len(stdout) + len(stderr) < 40, "\n".join(stdout + stderr)
    assert len(stdout) == 3, stdout  # one summary line per command, nothing else on stdout
    text = "\n".join(stdout + stderr)
    for noise in ("INFO", "I0000", "Epoch 1/", "cuda", "absl", "retracing"):
        assert noise not in text, text


def test_extract_summary_names_the_split_and_the_store_size(smoke_run):
    _, runs = smoke_run
    line = runs[2].stdout.strip()
    assert line.startswith("Wrote profiles/cells.parquet and profiles/proteins.parquet:"), line
    assert "of 400 cells, split test; --split all for every cell" in line, line


def test_quiet_prints_nothing_and_verbose_goes_after_the_command(smoke_run):
    tmp, _ = smoke_run
    quiet = _run(["export", "profiles/proteins.parquet", "--out", "p.h5ad", "-q"], tmp)
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == "", quiet.stderr
    verbose = _run(["-v", "export", "profiles/cells.parquet", "-v", "--out", "c.h5ad"], tmp)
    assert verbose.returncode == 0, verbose.stderr
    assert verbose.stdout.startswith("Wrote c.h5ad:")


def test_errors_still_show_with_quiet(tmp_path):
    result = CliRunner().invoke(main, ["inspect", "-q", str(tmp_path / "missing.h5")])
    assert result.exit_code == 2 and result.output.startswith("Error: ")


def _one_protein_folder(root: Path) -> Path:
    (root / "YAL001C").mkdir(parents=True)
    for cell in range(3):
        for channel in ("gfp", "rfp"):
            tifffile.imwrite(root / "YAL001C" / f"YAL001C_1_rfp_{cell}_{channel}.tif", np.ones((64, 64), np.uint16))
    return root


def test_import_positional_output_is_deprecated_but_works(tmp_path):
    source = _one_protein_folder(tmp_path / "tiffs")
    result = CliRunner().invoke(main, ["import", str(source), str(tmp_path / "old.h5"), "--format", "tiff-folders"])
    assert result.exit_code == 0, result.output
    assert "DeprecationWarning: `import OUT.h5` as a positional argument is deprecated" in result.stderr
    assert (tmp_path / "old.h5").is_file()
    new = CliRunner().invoke(main, ["import", str(source), "--out", str(tmp_path / "new.h5"), "--format",
                                    "tiff-folders", "--channels", "GFP", "--channels", "RFP"])
    assert new.exit_code == 0 and new.stderr == "", new.output
    assert "3 cells, 1 proteins" in new.stdout and "split by cell" in new.stdout


def test_lists_are_repeatable_and_comma_separated_alike(tmp_path):
    source = _one_protein_folder(tmp_path / "tiffs")
    runs = [CliRunner().invoke(main, ["import", str(source), "--out", str(tmp_path / f"{k}.h5"), "--format",
                                      "tiff-folders", *channels])
            for k, channels in enumerate((["--channels", "A,B"], ["--channels", "A", "--channels", "B"]))]
    from deeploc_keras.data.store import CellStore

    for k, result in enumerate(runs):
        assert result.exit_code == 0, result.output
        with CellStore.open(tmp_path / f"{k}.h5") as store:
            assert store.channel_names == ["A", "B"]


def test_progress_is_off_when_quiet_or_not_a_terminal():
    set_verbosity(QUIET)
    try:
        assert verbosity() == QUIET and progress(total=2).disable
    finally:
        set_verbosity(DEFAULT)
    assert progress(total=2).disable  # pytest's stderr is not a terminal


def _run_on_terminal(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run the CLI with stdin, stdout and stderr on a pseudo-terminal, as in an interactive shell."""
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 24 rows x 100 columns
    env = {key: value for key, value in os.environ.items() if key not in ("TF_CPP_MIN_LOG_LEVEL",
                                                                          "ABSL_MIN_LOG_LEVEL")}
    env["PYTHONPATH"] = str(ROOT)
    process = subprocess.Popen([*CLI, *args], stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env)
    os.close(slave)
    output = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the terminal closed: the process is done
            break
        if not chunk:
            break
        output += chunk
    os.close(master)
    return process.wait(timeout=300), output.decode("utf-8", "replace")


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_cli_on_a_terminal_draws_progress_bars(tmp_path):
    code, output = _run_on_terminal(["simulate", "--out", "screen", "--proteins", "40", "--cells-per-protein", "10"],
                                    tmp_path)
    assert code == 0, output
    assert "\rsimulate:" in output and "400/400" in output, output
    bars = [redraw for line in output.splitlines() for redraw in line.split("\r") if redraw.startswith("simulate:")]
    assert bars and max(map(len, bars)) <= 100  # fits the terminal's width
    assert "screen: 400 cells of 40 proteins" in output, output


def test_cli_without_a_terminal_draws_no_bar(tmp_path):
    done = _run(["simulate", "--out", "screen", "--proteins", "40", "--cells-per-protein", "10"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and "400 cells" in done.stdout


def test_native_filter_passes_a_bar_at_once_and_drops_native_lines_split_across_reads():
    native = _NativeFilter()
    assert native.feed(b"\rtrain:  10%|#") == b"\rtrain:  10%|#"  # not held until a newline
    assert native.feed(b"     | 1/10\n") == b"     | 1/10\n"
    assert native.feed(b"I0000 00:00:1712.5  4242 cuda_") == b""  # may be a native line: wait for its end
    assert native.feed(b"dnn.cc:31] loaded\nWarning: kept\n") == b"Warning: kept\n"
    assert native.feed(b"W0000 00:00:1.0 1 x.cc:1] hi\n", show_all=True) == b"W0000 00:00:1.0 1 x.cc:1] hi\n"
    assert native.feed(b"E0000 00:00:1.0 1 x.cc:1] unfinished") == b"" and native.rest() == b""


def test_status_lines_show_by_default_not_with_quiet(capsys):
    status("reproduce [1/2] simulate: 12 s")
    set_verbosity(QUIET)
    try:
        status("hidden")
    finally:
        set_verbosity(DEFAULT)
    assert capsys.readouterr().err == "reproduce [1/2] simulate: 12 s\n"


def test_epoch_estimate_states_time_per_epoch_and_run():
    assert _epoch_estimate("train", 2.0, 600, 30, 10) == (
        "train: about 20.0 min per epoch (600 steps x 2.00 s, timed on step 2), 6.7 h for 20 epochs")
    assert _epoch_estimate("train", 2.0, None, 30, 0) is None


def test_epoch_progress_callback_states_the_epoch_time_after_the_second_step(monkeypatch, capsys):
    import keras

    from deeploc_keras.core import console

    monkeypatch.setattr(console, "_EPOCH_ESTIMATE_FROM_S", 0.0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.zeros((12, 3), np.float32)
    model.fit(x, x[:, :1], batch_size=4, epochs=2, verbose=0, callbacks=[console.epoch_progress_callback("fit")])
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("fit: about "), lines
    assert "per epoch (3 steps x " in lines[0] and "for 2 epochs; on a CPU, a smaller --width trains faster" in lines[0]
