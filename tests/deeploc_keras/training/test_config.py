"""Tests of the training configuration (deeploc_keras.training.config): defaults, overrides, records, resume keys."""

from __future__ import annotations

import json

import pytest

from deeploc_keras.core.errors import InputError
from deeploc_keras.models.presets import PRESETS
from deeploc_keras.training.config import TrainConfig
from deeploc_keras.training.methods import PCI_DEFAULTS

#: The ``config`` of a ``RUN/config.json`` written by the previous release (a kraus2017 run at lr 1e-3).
PREVIOUS_RECORD = {
    "method": "deeploc", "preset": "kraus2017", "epochs": 3, "batch_size": 32, "learning_rate": 0.001,
    "lr_decay": [25, 0.96], "adam_epsilon": 1e-08, "beta_1": 0.9, "early_stopping_patience": None,
    "sweep_rates": [], "lr_sweep": False, "seeds": [0], "seed": 0, "width": 0.125, "mixed_precision": "off",
    "dtype_policy": "float32", "devices": None, "device_names": None, "monitor": None, "aliases": None,
    "tensorboard": False, "class_balanced": False, "jit_compile": False, "steps_per_epoch": 4, "verbose": 0,
    "store": "/data/cells.h5", "out": "/runs/run",
}


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_from_preset_takes_the_training_protocol_of_the_preset(preset):
    spec = PRESETS[preset]
    cfg = TrainConfig.from_preset("deeploc", preset)
    assert (cfg.preset, cfg.epochs, cfg.batch_size, cfg.learning_rate, cfg.lr_decay, cfg.adam_epsilon) == (
        spec.name, spec.epochs, spec.batch_size, spec.learning_rate, spec.lr_decay, spec.adam_epsilon)
    assert (cfg.early_stopping_patience, cfg.sweep_rates, cfg.seed) == (spec.early_stopping_patience, spec.lr_sweep, 0)


def test_from_preset_pci_takes_the_pci_defaults_and_no_preset():
    cfg = TrainConfig.from_preset("pci", "kraus2017")
    assert cfg.preset is None
    assert {key: getattr(cfg, key) for key in PCI_DEFAULTS} == dict(PCI_DEFAULTS)


def test_from_preset_options_override_the_defaults_and_none_keeps_them():
    cfg = TrainConfig.from_preset("deeploc", "kraus2017", batch_size=7, learning_rate=1e-3, epochs=None)
    assert (cfg.batch_size, cfg.learning_rate, cfg.epochs, cfg.lr_decay) == (7, 1e-3, 30, (25, 0.96))


def test_from_preset_sweep_leaves_rate_and_seed_to_the_sweep():
    sweep = TrainConfig.from_preset(lr_sweep=True, seeds=[1, 2], sweep_rates=[1e-3, 1e-4])
    assert (sweep.learning_rate, sweep.seed, sweep.seeds, sweep.sweep_rates) == (None, None, (1, 2), (1e-3, 1e-4))


@pytest.mark.parametrize(("options", "message"), [
    ({"lr_sweep": True, "learning_rate": 1e-3}, r"either learning_rate \(--lr\) or lr_sweep"),
    ({"lr_sweep": True, "seed": 3}, "pass seeds, not seed"),
    ({"lr": 1e-3}, r"unknown training options \['lr'\]"),
    ({"early_stopping_patience": 0}, "patience must be a positive integer"),
    ({"aliases": "SGD_features.tab"}, "pass them with monitor"),
    ({"preset": "nope"}, "unknown preset 'nope'"),
    ({"preset": "kraus2017", "lr_sweep": True}, "lr_sweep needs seeds and sweep_rates"),
    ({"method": "cellprofiler"}, r"unknown method 'cellprofiler'; expected one of \['deeploc', 'pci', 'pifia'\]"),
])
def test_from_preset_raises_on_options_that_do_not_go_together(options, message):
    with pytest.raises(InputError, match=message):
        TrainConfig.from_preset(**options)


def test_train_config_raises_on_a_preset_of_a_method_without_presets():
    with pytest.raises(InputError, match="unknown preset 'study' for method 'pci'; expected one of \\[None\\]"):
        TrainConfig(method="pci", preset="study", epochs=1, batch_size=8, learning_rate=1e-4)


def test_config_round_trips_through_its_json_record():
    cfg = TrainConfig.from_preset(lr_sweep=True, seeds=(1, 2), devices=("/CPU:0",))
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


def test_a_record_of_the_previous_release_reads_and_resumes_as_the_same_options():
    recorded = TrainConfig.from_dict(PREVIOUS_RECORD)
    again = TrainConfig.from_preset("deeploc", "kraus2017", epochs=3, batch_size=32, learning_rate=1e-3, width=0.125,
                                    steps_per_epoch=4, jit_compile=False, verbose=0, mixed_precision="off")
    assert recorded.differences(again) == []
    assert recorded.to_dict().items() >= PREVIOUS_RECORD.items()


def test_differences_name_what_is_trained_not_the_machine():
    cfg = TrainConfig.from_preset()
    other = TrainConfig.from_preset(learning_rate=1e-3, width=0.5, mixed_precision="off", verbose=1)
    assert cfg.differences(other) == ["learning_rate", "width"]


def test_input_options_are_what_every_dataset_of_the_run_takes():
    cfg = TrainConfig.from_preset("pci", batch_size=16, seed=3, readers=2)
    assert cfg.input_options == {"batch_size": 16, "seed": 3, "readers": 2}


@pytest.mark.parametrize("method", ["deeploc", "pci"])
def test_readers_reach_every_dataset_of_a_run(method, monkeypatch, tiny_store):
    from deeploc_keras.data import pairs, pipeline
    from deeploc_keras.data.store import CellStore
    from deeploc_keras.training.methods import get_method

    seen = []
    for module, name in ((pipeline, "training_dataset"), (pairs, "pair_dataset")):
        original = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, _f=original, **kw: seen.append(kw["readers"]) or _f(*a, **kw))
    cfg = TrainConfig.from_preset(method, batch_size=16, readers=2)
    with CellStore.open(tiny_store) as store:
        get_method(method).datasets(store, cfg, 0)
    assert seen == [2, 2]  # training and validation


def test_a_resumed_run_may_change_its_readers():
    assert TrainConfig.from_preset(readers=4).differences(TrainConfig.from_preset()) == []


def test_from_preset_records_paths_as_strings(tmp_path):
    cfg = TrainConfig.from_preset(monitor=tmp_path / "standards", aliases=tmp_path / "SGD_features.tab")
    assert cfg.monitor == str(tmp_path / "standards") and json.loads(json.dumps(cfg.to_dict()))["aliases"] == str(
        tmp_path / "SGD_features.tab")
