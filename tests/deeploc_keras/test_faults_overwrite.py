"""``--overwrite`` deletes only what is the command's own (issue 27 §1).

Each test puts an input of the command, or a file the command did not write, in the
output folder, runs the command with ``--overwrite`` and checks the one error line, the
exit code and that every file is still there, byte for byte.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from deeploc_keras.cli import main
from deeploc_keras.core.profiles import ProfileWriter

TRAIN = ["--width", "0.0625", "--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "32", "--mixed-precision",
         "off", "--no-xla", "--lr", "1e-3", "--seed", "0"]


def _invoke(*args) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path -> bytes)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def screen(tmp_path_factory) -> Path:
    """A tiny simulated screen (cells.h5, proteins.csv, standards/), the input folder the cases reuse."""
    out = tmp_path_factory.mktemp("sim") / "screen"
    result = _invoke("simulate", "--out", out, "--proteins", "20", "--cells-per-protein", "4", "--plates", "2")
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def user_folder(screen, tmp_path) -> Path:
    """A user's folder holding a copy of the screen and a notes file (inputs and foreign files)."""
    folder = tmp_path / "D"
    shutil.copytree(screen, folder)
    (folder / "notes.txt").write_text("my notes")
    return folder


def test_train_overwrite_raises_on_a_folder_holding_its_store(user_folder, one_line):
    before = _snapshot(user_folder)
    result = _invoke("train", user_folder / "cells.h5", "--out", user_folder, "--overwrite", *TRAIN)
    one_line(result, f"{user_folder}: holds {user_folder / 'cells.h5'}, an input of train")
    assert _snapshot(user_folder) == before


def test_train_overwrite_raises_on_a_run_holding_a_foreign_file(screen, tmp_path, one_line):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"command": "train", "config": {}}))
    (run / "history.csv").write_text("epoch,loss\n")
    (run / "thesis.tex").write_text("years of work")
    before = _snapshot(run)
    result = _invoke("train", screen / "cells.h5", "--out", run, "--overwrite", *TRAIN)
    one_line(result, f"{run}: holds 'thesis.tex', which train did not write")
    assert _snapshot(run) == before


def test_train_resume_raises_on_a_folder_that_holds_no_run(user_folder, one_line):
    before = _snapshot(user_folder)
    result = _invoke("train", user_folder / "cells.h5", "--out", user_folder, "--resume", *TRAIN)
    one_line(result, f"{user_folder}: holds no interrupted train run to resume")
    assert _snapshot(user_folder) == before


def test_reproduce_overwrite_raises_on_a_folder_holding_its_inputs(user_folder, one_line):
    before = _snapshot(user_folder)
    result = _invoke("reproduce", "--out", user_folder, "--overwrite", "--preset", "smoke", "--store",
                     user_folder / "cells.h5", "--standards", user_folder / "standards")
    one_line(result, f"{user_folder}: holds {user_folder / 'cells.h5'}, an input of reproduce")
    assert _snapshot(user_folder) == before


def test_reproduce_overwrite_of_the_current_folder_raises_and_keeps_it(tmp_path, monkeypatch, one_line):
    (tmp_path / "thesis.tex").write_text("years of work")
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "f1.pdf").write_bytes(b"%PDF")
    before = _snapshot(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = _invoke("reproduce", "--out", ".", "--overwrite", "--preset", "smoke")
    one_line(result, ".: was not written by reproduce (it holds no reproduce.json naming it)")
    assert _snapshot(tmp_path) == before


def _profiles(path: Path, proteins: list[str]) -> Path:
    features = np.random.default_rng(0).normal(size=(len(proteins), 4))
    with ProfileWriter(path, info={"method": "Demo"}) as writer:
        writer.write(pd.DataFrame({"Metadata_Protein": proteins}), features, [f"f_{i}" for i in range(4)])
    return path


def test_score_overwrite_raises_on_a_folder_holding_its_profiles(tmp_path, one_line):
    folder = tmp_path / "D"
    folder.mkdir()
    proteins = [f"P{i}" for i in range(12)]
    _profiles(folder / "proteins.parquet", proteins)
    standard = tmp_path / "groups.gmt"
    standard.write_text("".join(f"G{g}\tna\t" + "\t".join(proteins[g::3]) + "\n" for g in range(3)))
    before = _snapshot(folder)
    result = _invoke("score", folder / "proteins.parquet", "--standards", standard, "--out", folder, "--overwrite",
                     "--permutations", "0")
    one_line(result, f"{folder}: holds {folder / 'proteins.parquet'}, an input of score")
    assert _snapshot(folder) == before
    scores = tmp_path / "scores"
    for _ in range(2):  # its own output is replaced
        result = _invoke("score", folder / "proteins.parquet", "--standards", standard, "--out", scores,
                         "--overwrite", "--permutations", "0", "--metric", "average_precision")
        assert result.exit_code == 0, result.output
    assert json.loads((scores / "score.json").read_text())["command"] == "score"


def test_plot_monitor_overwrite_raises_on_the_run_folder(tmp_path, one_line):
    run = tmp_path / "run"
    run.mkdir()
    (run / "best.keras").write_bytes(b"PK\x03\x04 a model")
    pd.DataFrame({"epoch": [1, 2], "seed": 0, "standard": "s", "metric": "f_beta", "value": [0.1, 0.2],
                  "prevalence": 0.05}).to_csv(run / "monitor.csv", index=False)
    before = _snapshot(run)
    result = _invoke("plot", "monitor", run / "monitor.csv", "--out", run, "--overwrite")
    one_line(result, f"{run}: holds {run / 'monitor.csv'}, an input of plot monitor")
    assert _snapshot(run) == before


def test_simulate_overwrite_raises_on_a_user_file_and_replaces_its_own(screen, tmp_path, one_line):
    out = tmp_path / "screen"
    shutil.copytree(screen, out)
    (out / "notes.txt").write_text("my notes")
    before = _snapshot(out)
    args = ["simulate", "--out", out, "--proteins", "20", "--cells-per-protein", "4", "--plates", "2", "--seed", "1",
            "--overwrite"]
    one_line(_invoke(*args), f"{out}: holds 'notes.txt', which simulate did not write")
    assert _snapshot(out) == before
    (out / "notes.txt").unlink()
    result = _invoke(*args)
    assert result.exit_code == 0, result.output
    assert _snapshot(out)["cells.h5"] != before["cells.h5"]  # seed 1: a new screen replaced its own


@pytest.mark.parametrize("command", ["extract", "predict"])
def test_extract_and_predict_into_a_run_keep_its_record(untrained_run, tiny_store, tmp_path, command, one_line):
    run = tmp_path / "run"
    shutil.copytree(untrained_run, run)
    record = (run / "config.json").read_bytes()
    args = [command, tiny_store, "--out", run, "--model", run / "best.keras", "--batch-size", "64"]
    for extra in ([], ["--overwrite"]):
        result = _invoke(*args, *extra)
        assert result.exit_code == 0, result.output
    assert (run / "config.json").read_bytes() == record  # the training run's record is untouched
    assert json.loads((run / f"{command}.json").read_text())["command"] == command
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "cells.parquet").write_bytes(b"someone else's table")
    one_line(_invoke(command, tiny_store, "--out", foreign, "--model", run / "best.keras", "--overwrite"),
             f"{foreign / 'cells.parquet'}: was not written by {command}")
    assert (foreign / "cells.parquet").read_bytes() == b"someone else's table"


def test_cellprofiler_overwrite_keeps_the_previous_result_until_the_new_one_is_complete(tiny_store, tmp_path,
                                                                                       monkeypatch):
    from cellprofiler_features import runner

    out = tmp_path / "cp"
    runner.extract_cellprofiler(tiny_store, out, split="test", workers=1, chunk_cells=8)
    before = _snapshot(out)
    real = runner._write_chunk
    written = []

    def interrupted(*args, **kwargs):
        if written:
            raise KeyboardInterrupt
        written.append(real(*args, **kwargs))

    monkeypatch.setattr(runner, "_write_chunk", interrupted)
    with pytest.raises(KeyboardInterrupt):
        runner.extract_cellprofiler(tiny_store, out, split="test", workers=1, chunk_cells=8, rescale=True,
                                    overwrite=True)
    kept = {name: data for name, data in _snapshot(out).items() if not name.startswith(".chunks/")}
    assert kept == before  # the previous result, whole
    monkeypatch.setattr(runner, "_write_chunk", real)
    summary = runner.extract_cellprofiler(tiny_store, out, split="test", workers=1, chunk_cells=8, rescale=True,
                                          overwrite=True)
    assert summary["chunks"]["resumed"] == 1 and not (out / ".chunks").exists()
    assert json.loads((out / "extract.json").read_text())["config"]["rescale"] is True


@pytest.mark.parametrize("command", ["import", "export", "standards build"])
def test_overwrite_raises_when_the_output_is_the_input(screen, tmp_path, command, one_line):
    source = {"import": tmp_path / "cells.h5", "export": tmp_path / "proteins.parquet",
              "standards build": tmp_path / "groups.json"}[command]
    if command == "import":
        shutil.copy(screen / "cells.h5", source)
    elif command == "export":
        pd.DataFrame({"Metadata_Protein": ["A", "B"], "f_0": [1.0, 2.0]}).to_parquet(source)
    else:
        source.write_text(json.dumps({"G1": ["YAL001C", "YAL002W"]}))
    before = source.read_bytes()
    args = {"import": ["import", source, "--format", "deeploc-hdf5", "--out", source],
            "export": ["export", source, "--out", source],
            "standards build": ["standards", "build", "--from", "modules-json", source, "--out", source]}[command]
    one_line(_invoke(*args, "--overwrite"), f"{source}: is {source}, an input of")
    assert source.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == [source.name]


def test_train_overwrite_keeps_the_previous_run_until_the_new_one_finishes(tiny_store, tmp_path):
    import keras

    from deeploc_keras.training.train import train

    class Interrupt(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            raise KeyboardInterrupt

    options = {"width": 0.0625, "epochs": 1, "steps_per_epoch": 1, "batch_size": 32, "mixed_precision": "off",
               "jit_compile": False, "learning_rate": 1e-3, "verbose": 0}
    run = tmp_path / "run"
    train(tiny_store, run, seed=0, **options)
    previous = _snapshot(run)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_store, run, seed=1, overwrite=True, callbacks=[Interrupt()], **options)
    aside = [p for p in tmp_path.iterdir() if p.name.endswith(".previous")]
    assert len(aside) == 1 and _snapshot(aside[0]) == previous  # the finished run, whole, until a run finishes
    train(tiny_store, run, seed=1, resume=True, **options)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert json.loads((run / "config.json").read_text())["seed"] == 1
