"""Resume from any instant, atomic run files and one writer per run (issue 27 §2, §3).

Real processes are killed (SIGINT, SIGTERM, SIGKILL) at random instants and the run is
resumed; a reader checks ``best.keras`` while it is rewritten; a second writer is started
on a run being written.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from deeploc_keras.cli import main
from deeploc_keras.training.train import train

CLI = [sys.executable, "-c", "from deeploc_keras.cli import main; main()"]
OPTIONS = {"width": 0.0625, "batch_size": 32, "mixed_precision": "off", "jit_compile": False, "epochs": 3, "learning_rate": 1e-3,
           "seed": 0}
ARGS = ["--width", "0.0625", "--batch-size", "32", "--mixed-precision", "off", "--no-xla", "--epochs", "3", "--lr",
        "1e-3", "--seed", "0", "-q"]
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)


def _weights(model_file: Path) -> list[np.ndarray]:
    return [np.asarray(w) for w in keras.saving.load_model(model_file).get_weights()]


def _wait_for(path: Path, process: subprocess.Popen, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{path} never appeared: {process.communicate()[1][-3000:]}")
        time.sleep(0.05)


def _interrupted_at_random(command: list[str], started: Path, seconds: float, seed: int) -> str:
    """Run ``command``; once ``started`` exists, wait a random time below ``seconds``, send a random signal."""
    rng = np.random.default_rng(seed)
    sig, delay = SIGNALS[int(rng.integers(len(SIGNALS)))], float(rng.uniform(0, seconds))
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _wait_for(started, process)
    time.sleep(delay)
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=600)
    assert "Traceback" not in stderr, stderr[-3000:]
    assert process.returncode in (0, 130, 143, -signal.SIGKILL), stderr[-3000:]
    return f"{signal.Signals(sig).name} after {delay:.2f} s (exit {process.returncode})"


@pytest.fixture(scope="module")
def reference(tiny_store, tmp_path_factory):
    """The uninterrupted run: its folder and how long it trained."""
    out = tmp_path_factory.mktemp("whole") / "run"
    start = time.monotonic()
    train(tiny_store, out, verbose=0, **OPTIONS)
    return out, time.monotonic() - start


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_train_killed_at_a_random_instant_resumes_to_the_uninterrupted_run(reference, tiny_store, tmp_path, seed):
    whole, seconds = reference
    out = tmp_path / "run"
    how = _interrupted_at_random([*CLI, "train", str(tiny_store), "--out", str(out), *ARGS], out / "config.json",
                                 seconds, seed)
    result = train(tiny_store, out, resume=True, verbose=0, **OPTIONS)
    assert (out / "history.csv").read_text() == (whole / "history.csv").read_text(), how
    assert all(np.array_equal(a, b) for a, b in zip(_weights(out / "best.keras"), _weights(whole / "best.keras"),
                                                    strict=True)), how
    assert result["epochs"] == 3
    assert sorted(os.listdir(out)) == ["best.keras", "config.json", "history.csv"], how
    assert os.listdir(tmp_path) == ["run"], how  # no partial, lock or set-aside left


def test_ctrl_c_in_the_first_epoch_advises_resume_which_finishes_the_run(reference, tiny_store, tmp_path):
    whole, _ = reference
    out = tmp_path / "run"
    process = subprocess.Popen([*CLI, "train", str(tiny_store), "--out", str(out), *ARGS], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    _wait_for(out / "backup", process)  # made when training begins (RunBackup.on_train_begin)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=600)
    assert process.returncode == 130, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    assert stderr.strip().splitlines()[-1] == (f"Interrupted; temporary files were removed; kept {out / 'backup'} "
                                               "(resume with --resume)."), stderr[-3000:]
    assert not list((out / "backup").iterdir()), stderr[-3000:]  # no epoch had finished: Ctrl-C came in epoch 1
    history = out / "history.csv"
    assert not history.exists() or len(history.read_text().splitlines()) <= 1
    resumed = CliRunner().invoke(main, ["train", str(tiny_store), "--out", str(out), *ARGS, "--resume"])
    assert resumed.exit_code == 0, resumed.output[-3000:]
    assert history.read_text() == (whole / "history.csv").read_text()
    assert all(np.array_equal(a, b) for a, b in zip(_weights(out / "best.keras"), _weights(whole / "best.keras"),
                                                    strict=True))
    assert sorted(os.listdir(out)) == ["best.keras", "config.json", "history.csv"]


_KILLED_WHILE_SAVING = textwrap.dedent("""
    import os, signal, sys
    import keras
    from deeploc_keras.training.train import train

    def save_half_then_die(self, filepath, *args, **kwargs):
        with open(filepath, "wb") as handle:  # the checkpoint is half written when the kill comes
            handle.write(b"PK\\x03\\x04 half a model")
        os.kill(os.getpid(), signal.SIGKILL)

    keras.Model.save = save_half_then_die
    train(sys.argv[1], sys.argv[2], verbose=0, width=0.0625, batch_size=32, mixed_precision="off", jit_compile=False,
          epochs=3, learning_rate=1e-3, seed=0)
""")


def test_sigkill_while_best_keras_is_written_leaves_no_truncated_checkpoint(reference, tiny_store, tmp_path):
    whole, _ = reference
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-c", _KILLED_WHILE_SAVING, str(tiny_store), str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert not (out / "best.keras").exists()  # never a half file under the final name
    assert [p for p in out.iterdir() if p.name.endswith(".partial")]  # the half-written one, under a temporary name
    train(tiny_store, out, resume=True, verbose=0, **OPTIONS)
    assert not [p for p in out.iterdir() if p.name.endswith(".partial")]
    assert all(np.array_equal(a, b) for a, b in zip(_weights(out / "best.keras"), _weights(whole / "best.keras"),
                                                    strict=True))


_KILLED_IN_EPOCH_TWO = textwrap.dedent("""
    import json, os, signal, sys
    import keras
    from deeploc_keras.training.train import train

    class KillInEpochTwo(keras.callbacks.Callback):  # after epoch 1's backup, one step into epoch 2
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if self.epoch == 1:
                os.kill(os.getpid(), signal.SIGKILL)

    train(sys.argv[1], sys.argv[2], callbacks=[KillInEpochTwo()], **json.loads(sys.argv[3]))
""")


def test_pifia_killed_in_its_second_epoch_resumes_to_the_uninterrupted_run(tiny_store, tmp_path):
    """PIFiA's dropout draws continue where the backup left them (Keras' weight files leave its seed state out)."""
    options = {"method": "pifia", "width": 0.0625, "batch_size": 32, "steps_per_epoch": 2, "epochs": 2,
               "mixed_precision": "off", "jit_compile": False, "seed": 0, "verbose": 0}
    whole, out = tmp_path / "whole", tmp_path / "run"
    train(tiny_store, whole, **options)
    killed = subprocess.run([sys.executable, "-c", _KILLED_IN_EPOCH_TWO, str(tiny_store), str(out),
                             json.dumps(options)], capture_output=True, text=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert [p.name for p in (out / "backup").iterdir()] == ["epoch-0001.weights.h5"]
    train(tiny_store, out, resume=True, **options)
    assert (out / "history.csv").read_text() == (whole / "history.csv").read_text()
    assert all(np.array_equal(a, b) for a, b in zip(_weights(out / "best.keras"), _weights(whole / "best.keras"),
                                                    strict=True))


_SAVES_EVERY_EPOCH = textwrap.dedent("""
    import sys
    from deeploc_keras.cli import main
    from deeploc_keras.training.callbacks import FiniteModelCheckpoint

    FiniteModelCheckpoint._should_save_model = lambda self, *args: True  # rewrite best.keras after every epoch
    main()
""")


def test_second_writer_is_refused_and_readers_always_see_a_whole_checkpoint(tiny_store, tmp_path, one_line):
    out = tmp_path / "run"
    args = ["train", str(tiny_store), "--out", str(out), "--width", "0.0625", "--batch-size", "32", "--mixed-precision",
            "off", "--no-xla", "--epochs", "6", "--steps-per-epoch", "2", "--lr", "1e-3", "--seed", "0", "-q"]
    writer = subprocess.Popen([sys.executable, "-c", _SAVES_EVERY_EPOCH, *args], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    _wait_for(out / "best.keras", writer)
    second = CliRunner().invoke(main, [*args, "--resume"])
    one_line(second, f"{out}: another run (pid {writer.pid} on ")
    reads, versions = 0, set()
    while writer.poll() is None:
        try:
            data = (out / "best.keras").read_bytes()
        except FileNotFoundError:
            continue
        with zipfile.ZipFile(io.BytesIO(data)) as archive:  # a whole zip at every read
            assert archive.testzip() is None
        reads += 1
        versions.add(hash(data))
    assert writer.returncode == 0, writer.stderr.read()[-3000:]
    assert reads > 0 and len(versions) >= 2, (reads, len(versions))
    assert len(pd.read_csv(out / "history.csv")) == 6
    assert json.loads((out / "config.json").read_text())["command"] == "train"


_TINY_REPRODUCE = textwrap.dedent("""
    import signal, sys
    from deeploc_keras.study.reproduce import REPRODUCE_PRESETS, ReproducePreset, reproduce

    REPRODUCE_PRESETS["tiny"] = ReproducePreset(**{json})

    def terminated(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminated)
    try:
        reproduce(sys.argv[1], preset="tiny", resume="--resume" in sys.argv)
    except KeyboardInterrupt:
        sys.exit(130)
""")
TINY = {"description": "interrupt test", "proteins": 16, "cells_per_protein": 20, "deeploc_preset": "study",
        "deeploc_width": 0.0625, "deeploc_epochs": 1, "sweep_rates": [1e-3], "seeds": [0], "batch_size": 32,
        "pci_width": 0.0625, "pci_epochs": 1, "pci_lr": 1e-3, "pifia_width": 0.0625, "pifia_epochs": 2, "pifia_lr": 1e-3,
        "oracle_epochs": 1, "cp_workers": 1, "n_bootstrap": 5, "jit_compile": False, "mixed_precision": "off"}


@pytest.fixture(scope="module")
def tiny_reproduce(tmp_path_factory):
    """The script of a reproduce run of a tiny preset, and the uninterrupted run (folder, seconds)."""
    script = _TINY_REPRODUCE.replace("{json}", repr({k: tuple(v) if isinstance(v, list) else v
                                                     for k, v in TINY.items()}))
    out = tmp_path_factory.mktemp("reproduce") / "whole"
    start = time.monotonic()
    subprocess.run([sys.executable, "-c", script, str(out)], check=True, capture_output=True, timeout=1200)
    return script, out, time.monotonic() - start


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0])  # each seed costs a whole reproduce run
def test_reproduce_killed_at_a_random_instant_resumes_to_the_uninterrupted_run(tiny_reproduce, tmp_path, seed):
    script, whole, seconds = tiny_reproduce
    out = tmp_path / "run"
    how = _interrupted_at_random([sys.executable, "-c", script, str(out)], out / "reproduce.json", seconds, seed)
    resumed = subprocess.run([sys.executable, "-c", script, str(out), "--resume"], capture_output=True, text=True,
                             timeout=1200)
    assert resumed.returncode == 0, f"{how}: {resumed.stderr[-3000:]}"
    assert (out / "summary.csv").read_text() == (whole / "summary.csv").read_text(), how
    steps = json.loads((out / "reproduce.json").read_text())["steps"]
    assert list(steps) == list(json.loads((whole / "reproduce.json").read_text())["steps"]), how
    monitor = out / "runs" / "deeploc" / "monitor.csv"  # Figure 3's points: every epoch, none dropped on resume
    assert sorted(set(pd.read_csv(monitor)["epoch"])) == list(range(1, TINY["deeploc_epochs"] + 1)), how
    assert monitor.read_text() == (whole / "runs" / "deeploc" / "monitor.csv").read_text(), how
    assert sorted(os.listdir(tmp_path)) == ["run"], how


_HOLD = textwrap.dedent("""
    import sys, time
    from deeploc_keras.core.locking import output_lock
    with output_lock(sys.argv[1]):
        print("held", flush=True)
        time.sleep(300)
""")


@pytest.mark.parametrize("command", ["extract", "extract cellprofiler", "predict", "reproduce --resume", "score",
                                     "simulate", "merge-shards"])
def test_a_second_writer_of_any_command_is_refused_in_one_line(untrained_run, tiny_store, tmp_path, command,
                                                               one_line):
    out = tmp_path / "out"
    if command == "reproduce --resume":
        out.mkdir()
        (out / "reproduce.json").write_text(json.dumps({"command": "reproduce", "config": {}, "steps": {}}))
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(out)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    model = ["--model", str(untrained_run / "best.keras")]
    args = {"extract": ["extract", tiny_store, "--out", out, *model],
            "extract cellprofiler": ["extract", tiny_store, "--out", out, "--method", "cellprofiler", "--workers", "1"],
            "predict": ["predict", tiny_store, "--out", out, *model],
            "reproduce --resume": ["reproduce", "--out", out, "--resume", "--preset", "smoke"],
            "score": ["score", tiny_store, "--standards", tiny_store, "--out", out],
            "simulate": ["simulate", "--out", out, "--proteins", "20", "--cells-per-protein", "4"],
            "merge-shards": ["extract", tiny_store, "--out", out, "--merge-shards"]}[command]
    if command == "merge-shards":
        assert CliRunner().invoke(main, [*map(str, args[:4]), *model, "--shard", "0/1"]).exit_code == 0
    if command == "score":
        args[1] = tmp_path / "p.csv"
        pd.DataFrame({"Metadata_Protein": [f"P{i}" for i in range(6)], "f": np.arange(6.0),
                      "g": 2 * np.arange(6.0) + 1}).to_csv(args[1], index=False)
        args[3] = tmp_path / "s.gmt"
        args[3].write_text("A\tna\tP0\tP1\tP2\nB\tna\tP3\tP4\tP5\n")
    before = sorted(p.name for p in out.iterdir()) if out.exists() else None
    try:
        one_line(CliRunner().invoke(main, [str(a) for a in args]),
                 f"another run (pid {holder.pid} on ", "is writing this output")
    finally:
        holder.kill()
        holder.wait()
    assert (sorted(p.name for p in out.iterdir()) if out.exists() else None) == before


def test_a_resume_on_other_cpus_warns(tiny_store, tmp_path, caplog):
    from deeploc_keras.training.train import validate_train

    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(tiny_store, out, verbose=0, callbacks=[_StopAtOnce()], **OPTIONS)
    record = json.loads((out / "config.json").read_text())
    record["environment"]["threads"]["cpus"] = 999
    (out / "config.json").write_text(json.dumps(record))
    with caplog.at_level("WARNING", logger="deeploc_keras.training.train"):
        validate_train(tiny_store, out, resume=True, verbose=0, **OPTIONS)
    assert "the run started with {'cpus': 999}" in caplog.text
    assert "equal the uninterrupted run's only with the same thread configuration" in caplog.text


class _StopAtOnce(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        raise KeyboardInterrupt
