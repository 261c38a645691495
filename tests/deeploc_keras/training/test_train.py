"""Tests of training (deeploc_keras.training.train): callbacks, records, resume, NaN, sweep, precision, devices."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from deeploc_keras.cli import main
from deeploc_keras.core.errors import InputError, OutputExistsError
from deeploc_keras.data.store import CellStore
from deeploc_keras.models.info import read_model_info
from deeploc_keras.training.config import TrainConfig, resolve_mixed_precision
from deeploc_keras.training.methods import PCI_LEARNING_RATES, get_method
from deeploc_keras.training.train import NonFiniteLossError, _select, selected_runs, train

FAST = {"width": 0.125, "batch_size": 32, "mixed_precision": "off", "verbose": 0, "jit_compile": False}


class _Interrupt(keras.callbacks.Callback):
    """Simulates a killed run: raises when epoch ``at`` begins."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at = at

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            raise KeyboardInterrupt


class _Poison(keras.callbacks.Callback):
    """Makes the weights NaN when epoch ``at`` begins."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at = at

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            layer = self.model.get_layer("conv_1")
            layer.kernel.assign(np.full(layer.kernel.shape, np.nan, dtype="float32"))


class _TrainedModels(keras.callbacks.Callback):
    """Records which model object each run trains."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[int] = []

    def on_train_begin(self, logs=None):
        self.ids.append(id(self.model))


@pytest.fixture(scope="module")
def trained_run(tiny_store, tmp_path_factory):
    out = tmp_path_factory.mktemp("train") / "run"
    result = train(tiny_store, out, epochs=3, steps_per_epoch=4, learning_rate=1e-3, seed=0, **{**FAST, "jit_compile": True})
    return out, result


def test_train_lowers_loss_and_logs_every_epoch(trained_run):
    out, result = trained_run
    history = pd.read_csv(out / "history.csv")
    assert list(history["epoch"]) == [0, 1, 2]
    assert history["loss"].iloc[-1] < history["loss"].iloc[0]
    assert result["best_val_loss"] == pytest.approx(history["val_loss"].min())
    assert (out / "best.keras").is_file() and not (out / "backup").exists()


def test_train_records_its_configuration(trained_run):
    out, _ = trained_run
    record = json.loads((out / "config.json").read_text())
    assert record["command"] == "train" and record["seed"] == 0
    assert record["config"]["preset"] == "study" and record["config"]["learning_rate"] == 1e-3
    assert record["config"]["early_stopping_patience"] is None and record["config"]["jit_compile"] is True
    assert len(record["inputs"]["store"]) == 64


def test_train_saves_a_model_that_says_what_it_is(trained_run):
    out, _ = trained_run
    info = read_model_info(out / "best.keras")
    assert info["method"] == "deeploc" and info["class_names"] == ["C0", "C1", "C2", "C3"]
    assert info["image_shape"] == [64, 64, 2] and not (out / "model_card.json").exists()
    model = keras.saving.load_model(out / "best.keras")
    assert model.output.shape == (None, 4) and model.get_layer("fc_2") is not None


def test_train_resumes_after_interruption(tiny_store, tmp_path):
    out = tmp_path / "run"
    options = {**FAST, "epochs": 3, "steps_per_epoch": 1, "learning_rate": 1e-3}
    with pytest.raises(KeyboardInterrupt):
        train(tiny_store, out, callbacks=[_Interrupt(1)], **options)
    assert (out / "backup").is_dir()
    assert list(pd.read_csv(out / "history.csv")["epoch"]) == [0]
    with pytest.raises(OutputExistsError):
        train(tiny_store, out, **options)
    with pytest.raises(InputError, match=r"config\.json: was written with other values of \['learning_rate'\]"):
        train(tiny_store, out, resume=True, **{**options, "learning_rate": 1e-2})
    assert TrainConfig.read(out / "config.json").learning_rate == 1e-3
    result = train(tiny_store, out, resume=True, **options)
    assert result["resumed"]
    assert list(pd.read_csv(out / "history.csv")["epoch"]) == [0, 1, 2]
    assert not (out / "backup").exists()


def test_train_raises_on_nan_loss_and_keeps_checkpoint(tiny_store, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(NonFiniteLossError, match=r"loss became NaN at epoch 2; last good checkpoint kept at .*best\.keras"):
        train(tiny_store, out, epochs=2, steps_per_epoch=1, learning_rate=1e-3, callbacks=[_Poison(1)], **FAST)
    model = keras.saving.load_model(out / "best.keras")
    assert np.isfinite(model.get_layer("conv_1").kernel.numpy()).all()


def test_sweep_chooses_the_rate_of_minimal_mean_val_loss():
    """The single best run is at 1e-3, but 1e-4 has the lower mean over seeds: 1e-4 is chosen."""
    losses = {(1e-3, 0): 0.1, (1e-3, 1): 0.9, (1e-4, 0): 0.4, (1e-4, 1): 0.3, (1e-5, 0): 0.5, (1e-5, 1): 0.6}
    runs = [{"dir": f"lr{lr:g}_seed{seed}", "lr": lr, "seed": seed, "best_val_loss": loss}
            for (lr, seed), loss in losses.items()]
    table = _select(runs)
    means = pd.Series(losses).groupby(level=0).mean()
    assert list(table["mean_val_loss"]) == [means[lr] for lr, _ in losses]
    assert means.idxmin() == 1e-4 and pd.Series(losses).idxmin() == (1e-3, 0)
    assert list(table.loc[table["selected"], "dir"]) == ["lr0.0001_seed0", "lr0.0001_seed1"]
    assert list(table.loc[table["best"], "dir"]) == ["lr0.0001_seed1"]


SWEEP_RATES, SWEEP_SEEDS = (1e-3, 1e-5), (0, 1)


@pytest.fixture(scope="module")
def sweep_run(tiny_store, tiny_standards, tmp_path_factory):
    """A 2 rates x 2 seeds sweep with the monitor: (run directory, result, models trained, options)."""
    out = tmp_path_factory.mktemp("sweep") / "sweep"
    options = dict(epochs=2, steps_per_epoch=1, monitor=tiny_standards, **{**FAST, "width": 0.0625})
    trained = _TrainedModels()
    result = train(tiny_store, out, lr_sweep=True, sweep_rates=SWEEP_RATES, seeds=SWEEP_SEEDS, callbacks=[trained],
                   **options)
    best = {(lr, seed): pd.read_csv(out / f"lr{lr:g}_seed{seed}" / "history.csv")["val_loss"].min()
            for lr in SWEEP_RATES for seed in SWEEP_SEEDS}
    return out, result, trained, options, best


def _chosen(best):
    """Independently: the rate of minimal mean over the seeds of every run's minimal val_loss."""
    return pd.Series(best).groupby(level=0).mean().idxmin()


def test_train_lr_sweep_keeps_every_run_in_its_table(sweep_run):
    out, _, _, _, best = sweep_run
    table = pd.read_csv(out / "sweep.csv")
    assert sorted(zip(table["lr"], table["seed"], strict=True)) == sorted(best)
    for lr, seed in best:
        assert (out / f"lr{lr:g}_seed{seed}" / "best.keras").is_file()
        assert len(pd.read_csv(out / f"lr{lr:g}_seed{seed}" / "history.csv")) == 2  # no cut-off


def test_train_lr_sweep_chooses_the_rate_of_minimal_mean_val_loss(sweep_run):
    out, result, _, _, best = sweep_run
    table, chosen = pd.read_csv(out / "sweep.csv"), _chosen(best)
    assert table.loc[table["selected"], "lr"].unique().tolist() == [chosen] and table["selected"].sum() == 2
    assert result["lr"] == chosen and result["seed"] == min(SWEEP_SEEDS, key=lambda s: best[(chosen, s)])
    assert [r["seed"] for r in result["selected"]] == [0, 1] and {r["lr"] for r in result["selected"]} == {chosen}
    assert selected_runs(out) == [out / f"lr{chosen:g}_seed{s}" for s in SWEEP_SEEDS]


def test_train_lr_sweep_root_holds_the_best_run_of_the_chosen_rate(sweep_run):
    out, result, _, _, best = sweep_run
    winner = out / f"lr{result['lr']:g}_seed{result['seed']}" / "best.keras"
    assert (out / "best.keras").read_bytes() == winner.read_bytes()
    root = json.loads((out / "config.json").read_text())
    assert root["config"]["learning_rate"] == _chosen(best) and root["seed"] == root["config"]["seed"] == result["seed"]
    assert root["config"]["lr_sweep"] is True and root["config"]["sweep_rates"] == list(SWEEP_RATES)


def test_train_lr_sweep_records_each_run_as_a_single_run(sweep_run):
    out, _, _, _, best = sweep_run
    for lr, seed in best:
        sub = TrainConfig.read(out / f"lr{lr:g}_seed{seed}" / "config.json")
        assert (sub.learning_rate, sub.seed, sub.lr_sweep, sub.early_stopping_patience) == (lr, seed, False, None)


def test_train_lr_sweep_monitor_gathers_the_runs_of_the_chosen_rate(sweep_run):
    out, _, _, _, best = sweep_run
    monitor = pd.read_csv(out / "monitor.csv")  # Figure 3 data: one line per run at the chosen rate
    assert set(monitor["lr"]) == {_chosen(best)} and sorted(monitor["seed"].unique()) == [0, 1]
    assert sorted(monitor["epoch"].unique()) == [1, 2] and monitor["prevalence"].between(0, 1).all()


def test_train_lr_sweep_runs_equal_the_same_runs_trained_alone(sweep_run, tiny_store, tmp_path):
    out, _, trained, options, _ = sweep_run
    assert len(trained.ids) == 4 and len(set(trained.ids)) == 1  # every run trains the first run's model
    alone = tmp_path / "alone"
    train(tiny_store, alone, learning_rate=1e-5, seed=1, **options)
    for name in ("history.csv", "monitor.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(out / "lr1e-05_seed1" / name), pd.read_csv(alone / name))
    a, b = keras.saving.load_model(out / "lr1e-05_seed1" / "best.keras"), keras.saving.load_model(alone / "best.keras")
    assert a.get_config() == b.get_config() and a.get_layer("augment").get_config()["seed"] == 1
    for x, y in zip([*a.variables, *a.optimizer.variables], [*b.variables, *b.optimizer.variables], strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y), err_msg=x.path)
    assert float(a.optimizer.learning_rate) == pytest.approx(1e-5)


def test_train_pci_lr_sweep_uses_the_pci_rates(tiny_store, tmp_path):
    out = tmp_path / "pci"
    result = train(tiny_store, out, method="pci", lr_sweep=True, seeds=(0,), epochs=1, steps_per_epoch=1,
                   **{**FAST, "width": 0.0625, "batch_size": 8})
    table = pd.read_csv(out / "sweep.csv")
    assert tuple(table["lr"]) == PCI_LEARNING_RATES == (3e-4, 1e-4, 3e-5)
    assert result["lr"] == table.loc[table["best_val_loss"].idxmin(), "lr"] and table["selected"].sum() == 1
    assert read_model_info(out / "best.keras")["method"] == "pci"


def test_train_patience_only_when_asked(tiny_store, tmp_path):
    result = CliRunner().invoke(main, ["train", str(tiny_store), "--out", str(tmp_path / "run"), "--epochs", "1",
                                       "--steps-per-epoch", "1", "--width", "0.0625", "--batch-size", "16",
                                       "--mixed-precision", "off", "--no-xla", "--patience", "2"])
    assert result.exit_code == 0, result.output
    assert TrainConfig.read(tmp_path / "run" / "config.json").early_stopping_patience == 2


def test_train_bfloat16_on_cpu_with_monitor(tiny_store, tiny_standards, tmp_path):
    out = tmp_path / "bf16"
    train(tiny_store, out, epochs=2, steps_per_epoch=2, learning_rate=1e-3, monitor=tiny_standards,
          **{**FAST, "mixed_precision": "bfloat16"})
    assert keras.mixed_precision.global_policy().name == "float32"
    assert json.loads((out / "config.json").read_text())["config"]["dtype_policy"] == "mixed_bfloat16"
    model = keras.saving.load_model(out / "best.keras")
    assert model.get_layer("conv_1").dtype_policy.name == "mixed_bfloat16"
    assert model.output.dtype == "float32"
    monitor = pd.read_csv(out / "monitor.csv")
    assert list(monitor.columns) == ["epoch", "seed", "standard", "metric", "value", "prevalence"]
    assert sorted(monitor["epoch"].unique()) == [1, 2] and (monitor["standard"] == "classes").all()
    assert monitor["value"].notna().all()


@pytest.mark.slow
def test_train_pci_writes_run(tiny_store, tmp_path):
    out = tmp_path / "pci"
    train(tiny_store, out, method="pci", epochs=2, steps_per_epoch=2, **{**FAST, "batch_size": 16})
    history = pd.read_csv(out / "history.csv")
    assert len(history) == 2 and np.isfinite(history["val_loss"]).all()
    assert read_model_info(out / "best.keras")["method"] == "pci"
    assert keras.saving.load_model(out / "best.keras").get_layer("rfpconv1_1") is not None


@pytest.mark.slow
def test_train_mirrored_strategy_on_two_logical_cpus(tiny_store, tmp_path):
    out = tmp_path / "mirror"
    script = textwrap.dedent(f"""
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from deeploc_keras.training.train import train
        result = train({str(tiny_store)!r}, {str(out)!r}, devices=2, epochs=1, steps_per_epoch=2, learning_rate=1e-3,
                       width=0.125, batch_size=32, mixed_precision="off", verbose=0)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (out / "best.keras").is_file()
    config = json.loads((out / "config.json").read_text())["config"]
    assert config["devices"] == 2
    assert [name[-5:] for name in config["device_names"]] == ["CPU:0", "CPU:1"]


def test_resolve_mixed_precision_auto_is_off_without_gpu():
    import tensorflow as tf

    expected = "mixed_float16" if tf.config.list_physical_devices("GPU") else "float32"
    assert resolve_mixed_precision("auto") == expected
    assert resolve_mixed_precision("float16") == "mixed_float16"


def test_train_raises_on_store_without_labels(tmp_path, store_factory):
    path = store_factory(tmp_path / "u.h5", labels=False)
    with pytest.raises(InputError, match="no cell has a label"):
        train(path, tmp_path / "run", **FAST)
    assert not (tmp_path / "run").exists()


def test_train_raises_on_single_class(tmp_path, store_factory):
    path = store_factory(tmp_path / "one.h5", n_classes=1)
    with pytest.raises(InputError, match="at least 2 are needed"):
        train(path, tmp_path / "run", **FAST)


def test_train_raises_on_unknown_proteins_for_pci(tmp_path, store_factory):
    path = store_factory(tmp_path / "np.h5", proteins=False)
    with pytest.raises(InputError, match="protein ids are 'unknown'"):
        train(path, tmp_path / "run", method="pci", **FAST)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("option", "message"), [
    ({"method": "vae"}, "unknown method 'vae'"),
    ({"method": "cellprofiler"}, "unknown method 'cellprofiler'; expected one of \\['deeploc', 'pci', 'pifia'\\]"),
    ({"lr_sweep": True, "seed": 3}, "pass seeds, not seed"),
    ({"epochs": 0}, "epochs must be a positive integer"),
    ({"method": "pci", "class_balanced": True}, "class_balanced sampling needs labels"),
    ({"mixed_precision": "int8"}, "unknown mixed_precision"),
    ({"preset": "nope"}, "unknown preset 'nope'"),
    ({"learning_rate": 1e-3, "lr_sweep": True}, "either learning_rate \\(--lr\\) or lr_sweep"),
    ({"lr": 1e-3}, "unknown training options \\['lr'\\]"),
    ({"devices": 64}, "devices=64 requested"),
])
def test_train_raises_on_bad_options(tiny_store, tmp_path, option, message):
    with pytest.raises(InputError, match=message):
        train(tiny_store, tmp_path / "run", **{**FAST, **option})
    assert not (tmp_path / "run").exists()


def test_train_cli_raises_on_existing_output(trained_run, tiny_store):
    out, _ = trained_run
    before = (out / "best.keras").stat().st_mtime_ns
    result = CliRunner().invoke(main, ["train", str(tiny_store), "--out", str(out), "--width", "0.125"])
    assert result.exit_code == 2
    assert "output already exists; pass --overwrite" in result.output
    assert (out / "best.keras").stat().st_mtime_ns == before


def test_train_cli_raises_on_store_without_labels(tmp_path, store_factory):
    path = store_factory(tmp_path / "u.h5", labels=False)
    result = CliRunner().invoke(main, ["train", str(path), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and "no cell has a label" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_train_pci_validation_pairs_are_the_same_every_epoch(tiny_store):
    cfg = TrainConfig.from_preset("pci", batch_size=16)
    with CellStore.open(tiny_store) as store:
        _, val, _ = get_method("pci").datasets(store, cfg, 0)
        epochs = [np.concatenate([target.numpy() for _, target in val]) for _ in range(2)]
    assert np.array_equal(epochs[0], epochs[1])


def test_train_cli_model_is_a_deprecated_alias_of_method(tmp_path, store_factory):
    path = store_factory(tmp_path / "np.h5", proteins=False)
    result = CliRunner().invoke(main, ["train", str(path), "--out", str(tmp_path / "run"), "--model", "pci"])
    assert result.exit_code == 2
    assert "DeprecationWarning: `train --model` is deprecated" in result.output
    assert "protein ids are 'unknown'" in result.output  # the pci requirement: --model chose the method
    clash = CliRunner().invoke(main, ["train", str(path), "--out", str(tmp_path / "run"), "--model", "pci",
                                      "--method", "deeploc"])
    assert clash.exit_code == 2 and "contradicts --method deeploc" in clash.output
