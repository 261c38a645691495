"""The previous releases' import paths are the modules in their layer folders (deeploc_keras._moved)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

from deeploc_keras._moved import MOVED, moved_to


@pytest.mark.parametrize("old", sorted(MOVED))
def test_old_path_is_the_same_module_as_the_new_one(old):
    assert importlib.import_module(old) is importlib.import_module(MOVED[old])


def test_old_path_module_keeps_its_own_name_and_spec():
    import deeploc_keras.store as old

    assert old.__name__ == "deeploc_keras.data.store"
    assert old.__spec__.name == "deeploc_keras.data.store"


def test_submodule_of_a_moved_package_is_not_loaded_twice():
    from deeploc_keras.importers.tiff_folders import import_tiff_folders

    from deeploc_keras.data.importers import tiff_folders

    assert import_tiff_folders is tiff_folders.import_tiff_folders
    assert moved_to("deeploc_keras.importers.tiff_folders") == "deeploc_keras.data.importers.tiff_folders"
    assert moved_to("deeploc_keras.models.deeploc") is None


def test_old_paths_work_in_a_fresh_interpreter_without_tensorflow():
    script = ("import json, sys\nfrom deeploc_keras.store import CellStore\nfrom deeploc_keras.train import train\n"
              "print(json.dumps([CellStore.__module__, train.__module__, 'tensorflow' in sys.modules]))")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == ["deeploc_keras.data.store",
                                                                 "deeploc_keras.training.train", False]


def test_every_old_path_has_a_module_at_its_new_home():
    missing = [new for new in MOVED.values() if importlib.util.find_spec(new) is None]
    assert not missing
