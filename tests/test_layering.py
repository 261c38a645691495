"""The import layering of docs/architecture.md, checked in fresh interpreters (``sys.modules`` after import)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

#: The shared core every package may import; it imports none of eval, cellprofiler_features or TensorFlow.
CORE = ("deeploc_keras.core.errors", "deeploc_keras.core.outputs", "deeploc_keras.core.profiles", "deeploc_keras.core.records",
        "deeploc_keras.data.store", "deeploc_keras.core.console")
EVAL = ("eval", "eval.catalog", "eval.evaluation", "eval.metrics", "eval.nulls", "eval.significance", "eval.standards",
        "eval.score", "eval.plots")
CELLPROFILER = ("cellprofiler_features", "cellprofiler_features.masks", "cellprofiler_features.measure",
                "cellprofiler_features.pca", "cellprofiler_features.runner")
#: Orchestration modules that must import without TensorFlow (the CLI starts fast; TF loads on use).
LIGHT_APP = ("deeploc_keras", "deeploc_keras.cli", "deeploc_keras.training.methods", "deeploc_keras.training.config",
             "deeploc_keras.models.presets", "deeploc_keras.training.train", "deeploc_keras.inference.extract",
             "deeploc_keras.study.reproduce", "deeploc_keras.study.report", "deeploc_keras.study.findings",
             "deeploc_keras.study.references", "deeploc_keras.study.ladder",
             "deeploc_keras._tensorflow", "deeploc_keras.inference.predict", "deeploc_keras.inference.export",
             "deeploc_keras.models.info")
HEAVY = ("tensorflow", "keras")


def _loaded_after_import(modules: tuple[str, ...]) -> set[str]:
    script = ("import importlib, json, sys\n"
              f"for name in {list(modules)!r}:\n"
              "    importlib.import_module(name)\n"
              "print(json.dumps(sorted(sys.modules)))\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


def _roots(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


@pytest.mark.parametrize(("group", "forbidden"), [
    (CORE, ("eval", "cellprofiler_features", *HEAVY)),
    (EVAL, ("cellprofiler_features", *HEAVY)),
    (CELLPROFILER, ("eval", *HEAVY)),
    (LIGHT_APP, HEAVY),
], ids=["core", "eval", "cellprofiler_features", "light-app"])
def test_package_group_does_not_load_forbidden_packages(group, forbidden):
    loaded = _loaded_after_import(group)
    assert set(group) <= loaded
    assert not _roots(loaded) & set(forbidden), sorted(_roots(loaded) & set(forbidden))


def test_layering_test_sees_tensorflow_when_it_is_imported():
    assert "tensorflow" in _roots(_loaded_after_import(("deeploc_keras.models.layers",)))
