"""Resume: an interrupted run continues to the uninterrupted history and weights exactly; backups survive kills."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from deeploc_keras.cli import main
from deeploc_keras.training.train import train

FAST = {"width": 0.0625, "batch_size": 32, "mixed_precision": "off", "verbose": 0, "jit_compile": False,
        "epochs": 3, "learning_rate": 1e-3, "seed": 0}
OPTIONS = {"deeploc": {**FAST, "preset": "study"}, "pci": {**FAST, "method": "pci", "batch_size": 16},
           # 3 steps per epoch of a 5-batch pass: epoch 2 starts one batch into the second pass
           "deeploc_steps": {**FAST, "steps_per_epoch": 3}}


class _Interrupt(keras.callbacks.Callback):
    """Ctrl-C at the end of epoch ``at`` (before its backup), at its start (after the previous backup) or after its
    second batch (``"batch"``)."""

    def __init__(self, at: int, when: str) -> None:
        super().__init__()
        self.at, self.when, self.epoch = at, when, 0

    def on_epoch_end(self, epoch, logs=None):
        if self.when == "end" and epoch == self.at:
            raise KeyboardInterrupt

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        if self.when == "begin" and epoch == self.at:
            raise KeyboardInterrupt

    def on_train_batch_end(self, batch, logs=None):
        if self.when == "batch" and self.epoch == self.at and batch == 1:
            raise KeyboardInterrupt


class _FinalWeights(keras.callbacks.Callback):
    def on_train_end(self, logs=None):
        self.weights = [np.array(w) for w in self.model.get_weights()]


def _finished(store, out, options, *interrupts):
    for interrupt in interrupts:
        with pytest.raises(KeyboardInterrupt):
            train(store, out, callbacks=[interrupt], resume=(out / "backup").exists(), **options)
        assert (out / "backup").is_dir()
    final = _FinalWeights()
    result = train(store, out, callbacks=[final], resume=bool(interrupts), **options)
    assert result["resumed"] is bool(interrupts)
    assert not (out / "backup").exists()
    return pd.read_csv(out / "history.csv"), final.weights


@pytest.fixture(scope="module")
def uninterrupted(tiny_store, tmp_path_factory):
    """method -> (history, final weights) of the uninterrupted run, trained on first use."""
    runs = {}

    def get(method):
        if method not in runs:
            runs[method] = _finished(tiny_store, tmp_path_factory.mktemp(f"whole_{method}") / "run", OPTIONS[method])
        return runs[method]

    return get


@pytest.mark.parametrize(("method", "when"), [("deeploc", "end"), ("deeploc", "begin"), ("pci", "end"),
                                             ("deeploc_steps", "end")])
def test_resume_gives_the_uninterrupted_history_and_weights_exactly(uninterrupted, tiny_store, tmp_path, method,
                                                                    when):
    history, weights = uninterrupted(method)
    out = tmp_path / "run"
    resumed_history, resumed_weights = _finished(tiny_store, out, OPTIONS[method], _Interrupt(1, when))
    assert list(resumed_history["epoch"]) == [0, 1, 2]
    assert np.array_equal(resumed_history.to_numpy(), history.to_numpy())
    assert len(resumed_weights) == len(weights)
    assert all(np.array_equal(a, b) for a, b in zip(resumed_weights, weights, strict=True))


def _backups(out):
    return sorted(p.name for p in (out / "backup").glob("epoch-*.weights.h5"))


def test_resume_falls_back_to_the_older_backup_when_the_newest_is_unreadable(uninterrupted, tiny_store, tmp_path):
    method = "deeploc"
    history, weights = uninterrupted(method)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(tiny_store, out, callbacks=[_Interrupt(2, "begin")], **OPTIONS[method])
    assert _backups(out) == ["epoch-0001.weights.h5", "epoch-0002.weights.h5"]
    newest = out / "backup" / "epoch-0002.weights.h5"
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])  # as a disk fault leaves it
    final = _FinalWeights()
    train(tiny_store, out, callbacks=[final], resume=True, **OPTIONS[method])
    assert np.array_equal(pd.read_csv(out / "history.csv").to_numpy(), history.to_numpy())
    assert all(np.array_equal(a, b) for a, b in zip(final.weights, weights, strict=True))


def test_resume_without_a_readable_backup_names_the_file_in_one_line(tiny_store, tmp_path):
    out = tmp_path / "run"
    options = {**OPTIONS["deeploc"], "epochs": 2}
    with pytest.raises(KeyboardInterrupt):
        train(tiny_store, out, callbacks=[_Interrupt(1, "begin")], **options)
    only = out / "backup" / "epoch-0001.weights.h5"
    only.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    history = (out / "history.csv").read_bytes()
    result = CliRunner().invoke(main, ["train", str(tiny_store), "--out", str(out), "--resume", "--width", "0.0625",
                                       "--batch-size", "32", "--mixed-precision", "off", "--no-xla", "--epochs", "2",
                                       "--lr", "1e-3", "--seed", "0"])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {only}: cannot read as a training backup")
    assert "pass --overwrite to train again from the start" in lines[0]
    assert (out / "history.csv").read_bytes() == history and only.is_file()


_KILLED_IN_BACKUP = textwrap.dedent("""
    import os, signal, sys
    import keras
    from deeploc_keras.training.train import train

    original = keras.Model.save_weights

    def save_then_die(self, filepath, *args, **kwargs):
        original(self, filepath, *args, **kwargs)
        if "epoch-0002" in os.fspath(filepath):  # the second backup is half written when the kill comes
            with open(filepath, "r+b") as handle:
                handle.truncate(os.path.getsize(filepath) // 2)
            os.kill(os.getpid(), signal.SIGKILL)

    keras.Model.save_weights = save_then_die
    train(sys.argv[1], sys.argv[2], epochs=3, width=0.0625, batch_size=32, mixed_precision="off", verbose=0,
          jit_compile=False, learning_rate=1e-3, seed=0)
""")


def test_sigkill_during_a_backup_write_leaves_a_readable_backup(uninterrupted, tiny_store, tmp_path):
    method = "deeploc"
    history, weights = uninterrupted(method)
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-c", _KILLED_IN_BACKUP, str(tiny_store), str(out)], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert _backups(out) == ["epoch-0001.weights.h5"]  # the half-written one never got a backup's name
    final = _FinalWeights()
    train(tiny_store, out, callbacks=[final], resume=True, **OPTIONS[method])
    assert np.array_equal(pd.read_csv(out / "history.csv").to_numpy(), history.to_numpy())
    assert all(np.array_equal(a, b) for a, b in zip(final.weights, weights, strict=True))
    assert not (out / "backup").exists()


def test_resume_after_an_interrupt_in_the_first_epoch_gives_the_uninterrupted_run(uninterrupted, tiny_store,
                                                                                  tmp_path):
    history, weights = uninterrupted("deeploc")
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(tiny_store, out, callbacks=[_Interrupt(0, "batch")], **OPTIONS["deeploc"])
    assert not (out / "history.csv").exists()  # no epoch finished: no log, not an empty one
    assert (out / "backup").is_dir() and _backups(out) == []
    final = _FinalWeights()
    assert train(tiny_store, out, callbacks=[final], resume=True, **OPTIONS["deeploc"])["resumed"] is True
    assert np.array_equal(pd.read_csv(out / "history.csv").to_numpy(), history.to_numpy())
    assert all(np.array_equal(a, b) for a, b in zip(final.weights, weights, strict=True))


def test_resume_keeps_the_monitor_rows_of_the_finished_epochs(tiny_store, tiny_standards, tmp_path):
    options = {**OPTIONS["deeploc"], "epochs": 2, "monitor": tiny_standards}
    whole, out = tmp_path / "whole", tmp_path / "run"
    train(tiny_store, whole, **options)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_store, out, callbacks=[_Interrupt(1, "begin")], **options)
    assert set(pd.read_csv(out / "monitor.csv")["epoch"]) == {1}
    train(tiny_store, out, resume=True, **options)
    assert (out / "monitor.csv").read_text() == (whole / "monitor.csv").read_text()
    assert set(pd.read_csv(out / "monitor.csv")["epoch"]) == {1, 2}
    threads = json.loads((out / "config.json").read_text())["environment"]["threads"]
    assert threads["cpus"] >= 1 and threads["intra_op_threads"] is not None
