"""Presets are data: every preset is consistent, and the original's facts are recorded exactly."""

from __future__ import annotations

import dataclasses

import pytest

from deeploc_keras.core.errors import InputError
from deeploc_keras.models.presets import (
    INITIALIZERS,
    INTENSITIES,
    PRESET_NAMES,
    PRESETS,
    STUDY_LEARNING_RATES,
    get_preset,
)


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_preset_is_consistent(name):
    p = get_preset(name)
    assert p.name == name and p.description
    assert p.intensity in INTENSITIES and p.initializers in INITIALIZERS
    assert p.padding in ("same", "valid")
    assert p.tta in ("center", "5crop")
    assert set(p.rotations) <= {0, 1, 2, 3} and p.rotations
    size = 64
    crop = p.crop_size or size
    assert crop + p.crop_offsets - 1 <= size
    assert p.input_size == crop
    assert p.tta == "center" or p.crop_size is not None
    assert p.trainable_params_19 > 0
    assert p.learning_rate > 0 and p.batch_size > 0 and p.epochs > 0


def test_kraus2017_matches_original():
    p = get_preset("kraus2017")
    assert (p.crop_size, p.crop_offsets, p.rotations, p.flips) == (60, 4, (0, 1, 2), True)
    assert (p.learning_rate, p.lr_decay, p.adam_epsilon, p.batch_size) == (0.1, (25, 0.96), 1e-8, 128)
    assert (p.batchnorm_momentum, p.tta, p.trainable_params_19) == (0.5, "5crop", 10_991_417)


def test_study_preset_is_the_study_protocol():
    p = get_preset("study")
    assert p.lr_sweep == STUDY_LEARNING_RATES == (1e-3, 6e-4, 3e-4, 1e-4, 5e-5)
    assert p.rotations == (0, 1, 2, 3) and p.flips and p.intensity == "standardize"
    assert (p.crop_size, p.input_size, p.padding, p.tta) == (None, 64, "same", "center")
    assert p.batchnorm_momentum == 0.99  # the Keras default of the study's code
    assert p.epochs == 30 and p.early_stopping_patience is None  # no cut-off: the minimal val-loss checkpoint
    for fact in ("64x64", "no random crop", "0.99", "30 epochs without a cut-off", "mean validation loss"):
        assert fact in p.description, fact


def test_razdaibiedina2022_is_the_studys_code():
    """arazd/protein_representation_learning: keras_models.deep_loc, dataset_utils.py, train.py."""
    p = get_preset("razdaibiedina2022")
    assert (p.padding, p.dense_batchnorm, p.initializers, p.batchnorm_momentum) == ("valid", False, "keras", 0.99)
    assert (p.intensity, p.crop_size, p.flips, p.rotations) == ("image_standardize", None, True, (0,))
    assert p.lr_sweep == STUDY_LEARNING_RATES and p.epochs == 30 and p.early_stopping_patience is None
    assert p.trainable_params_19 == 3_125_011
    for fact in ("VALID", "no BatchNorm", "Keras-default", "flips only"):
        assert fact in p.description, fact


def test_kraus2017_description_names_its_protocol():
    p = get_preset("kraus2017")
    for fact in ("random 60x60 crop", "momentum 0.5", "5-crop TTA"):
        assert fact in p.description, fact


def test_presets_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        PRESETS["kraus2017"].batch_size = 1


def test_get_preset_raises_unknown_name():
    with pytest.raises(InputError, match=r"unknown preset 'deeploc'; expected one of \['kraus2017', 'study'"):
        get_preset("deeploc")
