"""The import layering of docs/architecture.md, checked in fresh interpreters (``sys.modules`` after import)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

#: The shared core every package may import; it imports none of eval, cellprofiler_features or TensorFlow.
CORE = ("deeploc_keras.core.errors", "deeploc_keras.core.outputs", "deeploc_keras.core.ownership", "deeploc_keras.core.locking",
        "deeploc_keras.core.profiles", "deeploc_keras.core.records", "deeploc_keras.core.console",
        "deeploc_keras.core.processing", "deeploc_keras.core.lifetime", "deeploc_keras.data.store",
        "deeploc_keras.data.reader")
#: The data engine's rooms that load no TensorFlow: the order of cells, and the sources (TF loads on use).
DATA_ENGINE = ("deeploc_keras.data.order", "deeploc_keras.data.sources")
EVAL = ("eval", "eval.catalog", "eval.evaluation", "eval.metrics", "eval.nulls", "eval.significance", "eval.standards",
        "eval.score", "eval.plots")
CELLPROFILER = ("cellprofiler_features", "cellprofiler_features.masks", "cellprofiler_features.measure",
                "cellprofiler_features.pca", "cellprofiler_features.runner")
#: Orchestration modules that must import without TensorFlow (the CLI starts fast; TF loads on use).
LIGHT_APP = ("deeploc_keras", "deeploc_keras.cli", "deeploc_keras._registration", "deeploc_keras._moved",
             "deeploc_keras._tensorflow", "deeploc_keras.training.methods", "deeploc_keras.training.config",
             "deeploc_keras.training.train", "deeploc_keras.models.presets", "deeploc_keras.models.info",
             "deeploc_keras.inference.extract", "deeploc_keras.inference.predict", "deeploc_keras.inference.export",
             "deeploc_keras.inference.trained", "deeploc_keras.study.reproduce", "deeploc_keras.study.report",
             "deeploc_keras.study.findings", "deeploc_keras.study.references", "deeploc_keras.study.ladder", "deeploc_keras.study.pixel_stats",
             "deeploc_keras.data.importers", "deeploc_keras.data.importers.labels", "deeploc_keras.data.synthetic")
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
    (DATA_ENGINE, ("eval", "cellprofiler_features", *HEAVY)),
    (EVAL, ("cellprofiler_features", *HEAVY)),
    (CELLPROFILER, ("eval", *HEAVY)),
    (LIGHT_APP, HEAVY),
], ids=["core", "data-engine", "eval", "cellprofiler_features", "light-app"])
def test_package_group_does_not_load_forbidden_packages(group, forbidden):
    loaded = _loaded_after_import(group)
    assert set(group) <= loaded
    assert not _roots(loaded) & set(forbidden), sorted(_roots(loaded) & set(forbidden))


def test_layering_test_sees_tensorflow_when_it_is_imported():
    assert "tensorflow" in _roots(_loaded_after_import(("deeploc_keras.models.layers",)))


def test_core_names_every_module_of_the_core_package():
    core = Path(__file__).resolve().parents[1] / "deeploc_keras" / "core"
    modules = {f"deeploc_keras.core.{path.stem}" for path in core.glob("*.py") if path.stem != "__init__"}
    assert modules <= set(CORE), sorted(modules - set(CORE))
