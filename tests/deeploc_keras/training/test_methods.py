"""Tests of the method table (deeploc_keras.training.methods): its entries register their custom Keras layers."""

from __future__ import annotations

import json
import subprocess
import sys

from deeploc_keras.training.methods import METHODS


def test_register_keras_objects_registers_every_methods_custom_layers():
    script = ("import json, keras\n"
              "from deeploc_keras._registration import register_keras_objects\n"
              "names = ['PerCropMinMax', 'PercentileStretch', 'Standardize', 'CellAugment', 'FixedCrops',"
              " 'CropAverage', 'CellModel']\n"
              "before = [keras.saving.get_registered_object('deeploc_keras>' + n) is not None for n in names]\n"
              "modules = register_keras_objects()\n"
              "after = [keras.saving.get_registered_object('deeploc_keras>' + n) is not None for n in names]\n"
              "print(json.dumps([before, after, modules]))\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    before, after, modules = json.loads(proc.stdout.strip().splitlines()[-1])
    assert all(before) and all(after)  # importing the package registers them already (keras loaded first)
    assert set(modules) >= {spec.layers_module for spec in METHODS.values() if spec.layers_module is not None}


def test_every_learned_method_names_its_layers_module():
    for spec in METHODS.values():
        assert (spec.layers_module is not None) == (spec.feature_model is not None), spec.name
