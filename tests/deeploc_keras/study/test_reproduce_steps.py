"""``deeploc-keras reproduce``: refusals of bad input, presets, and the resumable training step (no full run)."""

from __future__ import annotations

import dataclasses
import math

import keras
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from deeploc_keras.cli import main
from deeploc_keras.data.store import CellStore
from deeploc_keras.study import reproduce
from deeploc_keras.study.reproduce import REPRODUCE_PRESETS, _Layout, _train_pci
from deeploc_keras.training.train import train


def _invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def test_reproduce_raises_on_foreign_output_directory(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    result = _invoke("reproduce", "--out", str(tmp_path), "--preset", "smoke")
    assert result.exit_code == 2 and "holds no reproduce run" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_reproduce_raises_on_store_without_standards(tmp_path):
    result = _invoke("reproduce", "--out", str(tmp_path / "run"), "--store", str(tmp_path / "cells.h5"))
    assert result.exit_code == 2 and "--standards" in result.output
    assert not (tmp_path / "run").exists()


def test_reproduce_raises_on_paper_without_inputs(tmp_path):
    result = _invoke("reproduce", "--out", str(tmp_path / "run"), "--preset", "paper")
    assert result.exit_code == 2 and "--store" in result.output


def test_reproduce_raises_on_unknown_proteins(tmp_path):
    store = tmp_path / "cells.h5"
    with CellStore.create(store, class_names=["A", "B"]) as writer:
        writer.append(np.zeros((4, 64, 64, 2), np.uint16), {"label": [0, 1, 0, 1]})
    standards = tmp_path / "standards"
    standards.mkdir()
    result = _invoke("reproduce", "--out", str(tmp_path / "run"), "--store", str(store), "--standards",
                     str(standards))
    assert result.exit_code == 2 and "unknown" in result.output and str(store) in result.output
    assert not (tmp_path / "run").exists()


def test_reproduce_presets_cellprofiler_feature_sets():
    from cellprofiler_features.measure import FeatureConfig, feature_columns
    from deeploc_keras.study.reproduce import REPRODUCE_PRESETS

    counts = {name: len(feature_columns(["GFP", "RFP"], FeatureConfig.preset(preset.cp_features)))
              for name, preset in REPRODUCE_PRESETS.items()}
    assert counts == {"smoke": 265, "cpu": 265, "paper": 431}


def test_reproduce_refuses_resume_with_overwrite(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "reproduce.json").write_text("{}")
    result = _invoke("reproduce", "--out", str(out), "--preset", "smoke", "--resume", "--overwrite")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == ["Error: pass either --resume (continue the run in --out) or "
                                                  "--overwrite (delete it and start again), not both"]
    assert sorted(p.name for p in out.iterdir()) == ["reproduce.json"]


class _Interrupt(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt


def test_reproduce_train_step_resumes_an_interrupted_training(tiny_store, tmp_path):
    config = dataclasses.replace(REPRODUCE_PRESETS["smoke"], pci_epochs=2, pci_width=0.0625, mixed_precision="off")
    layout = _Layout(out=tmp_path, store=tiny_store, standard_files={})
    run_dir = layout.runs / "pci"
    with pytest.raises(KeyboardInterrupt):  # the step as _train_pci runs it, stopped after epoch 1
        train(tiny_store, run_dir, method="pci", epochs=2, width=0.0625, mixed_precision="off", seed=0, learning_rate=config.pci_lr,
              jit_compile=config.jit_compile, callbacks=[_Interrupt()])
    first_epoch = (run_dir / "history.csv").read_text()
    (run_dir / "mark").write_text("the directory is resumed, not deleted")
    _train_pci(layout, config, seed=0)
    assert (run_dir / "mark").is_file() and not (run_dir / "backup").exists()
    history = (run_dir / "history.csv").read_text()
    assert history.startswith(first_epoch) and list(pd.read_csv(run_dir / "history.csv")["epoch"]) == [0, 1]


def test_reproduce_paper_sweeps_pci_like_deeploc(monkeypatch, tmp_path):
    """In `paper`, PCI is trained as a sweep over the study's five rates x the same seeds as DeepLoc (train is
    recorded, not run)."""
    from deeploc_keras.models.presets import STUDY_LEARNING_RATES

    calls = _recorded_trainings(monkeypatch)
    paper = reproduce.REPRODUCE_PRESETS["paper"]
    reproduce._train_pci(_paper_layout(tmp_path), paper, seed=0)
    assert calls[-1].method == "pci" and calls[-1].lr_sweep is True
    assert calls[-1].sweep_rates == STUDY_LEARNING_RATES == paper.sweep_rates
    assert calls[-1].seeds == paper.seeds == (0, 1, 2)


def test_reproduce_paper_trains_the_studys_deeploc_network(monkeypatch, tmp_path):
    calls = _recorded_trainings(monkeypatch)
    reproduce._train_deeploc(_paper_layout(tmp_path), reproduce.REPRODUCE_PRESETS["paper"], seed=0)
    assert calls[-1].method == "deeploc" and calls[-1].preset == "razdaibiedina2022"


def test_reproduce_trains_pifia_once_with_the_published_protocol_in_paper(monkeypatch, tmp_path):
    """`paper` trains full-size PIFiA with its published defaults (30 epochs, lr 3e-4 with cosine decay, batch
    128); the CPU presets shrink it."""
    calls = _recorded_trainings(monkeypatch)
    reproduce._train_pifia(_paper_layout(tmp_path), reproduce.REPRODUCE_PRESETS["paper"], seed=7)
    paper = calls[-1]
    assert (paper.method, paper.lr_sweep, paper.seed) == ("pifia", False, 7)
    assert (paper.epochs, paper.learning_rate, paper.batch_size, paper.width) == (30, 3e-4, 128, 1.0)
    cpu = reproduce.REPRODUCE_PRESETS["cpu"]
    reproduce._train_pifia(_paper_layout(tmp_path), cpu, seed=0)
    assert (calls[-1].epochs, calls[-1].width, calls[-1].learning_rate) == (cpu.pifia_epochs, cpu.pifia_width,
                                                                           cpu.pifia_lr)
    assert cpu.pifia_width < 1.0 and cpu.pifia_epochs < 30


def test_reproduce_cpu_trains_the_measured_deeploc_and_pci(monkeypatch, tmp_path):
    """`cpu` trains the configurations docs/training.md measured on its screen: DeepLoc one `study` run at batch
    32 (four times the protocol's updates per epoch) whose rate decays once per epoch, PCI one run (train is
    recorded, not run)."""
    calls = _recorded_trainings(monkeypatch)
    cpu = reproduce.REPRODUCE_PRESETS["cpu"]
    reproduce._train_deeploc(_paper_layout(tmp_path), cpu, seed=0)
    deeploc = calls[-1]
    assert (deeploc.preset, deeploc.width, deeploc.epochs, deeploc.batch_size) == ("study", 0.125, 12, 32)
    assert (deeploc.lr_sweep, deeploc.sweep_rates, deeploc.seeds) == (True, (2e-3,), (0,))
    train_cells = cpu.proteins * round(cpu.cells_per_protein * cpu.split_fractions[0])
    assert deeploc.lr_decay == (math.ceil(train_cells / cpu.batch_size), 0.83)  # one decay step per epoch
    reproduce._train_pci(_paper_layout(tmp_path), cpu, seed=0)
    pci = calls[-1]
    assert (pci.lr_sweep, pci.width, pci.epochs, pci.learning_rate) == (False, 0.0625, 5, 3e-3)


@pytest.mark.parametrize("step", ["_train_deeploc", "_train_pci"])
def test_reproduce_seed_offsets_the_seeds_of_every_sweep(monkeypatch, tmp_path, step):
    calls = _recorded_trainings(monkeypatch)
    getattr(reproduce, step)(_paper_layout(tmp_path), reproduce.REPRODUCE_PRESETS["paper"], seed=7)
    assert calls[-1].lr_sweep is True and calls[-1].seeds == (7, 8, 9)


def test_reproduce_seed_is_the_seed_of_a_single_pci_run(monkeypatch, tmp_path):
    calls = _recorded_trainings(monkeypatch)
    reproduce._train_pci(_paper_layout(tmp_path), reproduce.REPRODUCE_PRESETS["smoke"], seed=7)
    assert calls[-1].lr_sweep is False and calls[-1].seed == 7


def _recorded_trainings(monkeypatch) -> list:
    """The configurations reproduce's training steps hand to ``train`` (recorded, not trained)."""
    calls = []
    monkeypatch.setattr(reproduce, "train", lambda store, out, config, **kwargs: calls.append(config))
    return calls


def _paper_layout(tmp_path):
    return reproduce._Layout(out=tmp_path, store=tmp_path / "cells.h5",
                             standard_files={"cellular_component": tmp_path / "standards" / "cc.gmt"})


def test_reproduce_steps_print_a_line_each_with_elapsed_time_and_the_rest(monkeypatch, tmp_path, capsys):
    module = reproduce
    clock = iter([0.0, 60.0, 100.0, 400.0])
    monkeypatch.setattr(module.time, "perf_counter", lambda: next(clock))
    (tmp_path / "run").mkdir()
    run = module._Run(tmp_path / "run", {"store": "cells.h5"})
    run.step("train_deeploc", lambda: None)
    run.step("train_pci", lambda: None)
    run.step("train_pci", lambda: None)
    lines = capsys.readouterr().err.splitlines()
    # 11 steps with a store (no simulate, no oracle); the rest scaled from the steps done by their usual shares
    later = [s for s in module.STEP_NAMES if s not in ("simulate", "train_deeploc", "train_oracle")]
    rest = 60 * sum(module._STEP_SECONDS[s] for s in later) / module._STEP_SECONDS["train_deeploc"]
    assert lines[0] == f"reproduce [1/11] train_deeploc: 60 s; elapsed 60 s, about {module.format_seconds(rest)} left"
    assert lines[1].startswith("reproduce [2/11] train_pci: 5.0 min; elapsed 6.0 min, about ")
    assert lines[2] == "reproduce [2/11] train_pci: finished before, skipped"
