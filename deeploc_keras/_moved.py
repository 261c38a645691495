"""The import paths of the previous releases, kept working after the modules moved into layer folders.

Each old module path (``deeploc_keras.store``, ``deeploc_keras.train``, ...) is the same module object
as its new home (``deeploc_keras.data.store``, ``deeploc_keras.training.train``, ...): a meta-path
finder installed by ``import deeploc_keras`` imports the new module and registers it under the old name
too, submodules of moved packages included. The new paths are the ones the documentation uses.

Examples
--------
>>> import deeploc_keras.store, deeploc_keras.data.store
>>> deeploc_keras.store is deeploc_keras.data.store
True
>>> moved_to("deeploc_keras.importers.tiff_folders")
'deeploc_keras.data.importers.tiff_folders'
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from types import ModuleType
from typing import Any

__all__ = ["MOVED", "moved_to", "install"]

#: old module path -> its home since the modules were grouped by layer
MOVED = {
    "deeploc_keras.errors": "deeploc_keras.core.errors",
    "deeploc_keras.outputs": "deeploc_keras.core.outputs",
    "deeploc_keras.records": "deeploc_keras.core.records",
    "deeploc_keras.console": "deeploc_keras.core.console",
    "deeploc_keras.processing": "deeploc_keras.core.processing",
    "deeploc_keras.lifetime": "deeploc_keras.core.lifetime",
    "deeploc_keras.profiles": "deeploc_keras.core.profiles",
    "deeploc_keras.store": "deeploc_keras.data.store",
    "deeploc_keras.pipeline": "deeploc_keras.data.pipeline",
    "deeploc_keras.pairs": "deeploc_keras.data.pairs",
    "deeploc_keras.importers": "deeploc_keras.data.importers",
    "deeploc_keras.synthetic": "deeploc_keras.data.synthetic",
    "deeploc_keras.train": "deeploc_keras.training.train",
    "deeploc_keras.train_config": "deeploc_keras.training.config",
    "deeploc_keras.methods": "deeploc_keras.training.methods",
    "deeploc_keras.extract": "deeploc_keras.inference.extract",
    "deeploc_keras.predict": "deeploc_keras.inference.predict",
    "deeploc_keras.export": "deeploc_keras.inference.export",
    "deeploc_keras.reproduce": "deeploc_keras.study.reproduce",
    "deeploc_keras.ladder": "deeploc_keras.study.ladder",
    "deeploc_keras.references": "deeploc_keras.study.references",
    "deeploc_keras.report": "deeploc_keras.study.report",
    "deeploc_keras.pixel_stats": "deeploc_keras.study.pixel_stats",
}


def moved_to(name: str) -> str | None:
    """The new path of an old module path (or of a submodule of a moved package); None if it did not move."""
    head = name
    while head:
        if head in MOVED:
            return MOVED[head] + name[len(head):]
        head = head.rpartition(".")[0]
    return None


class _AliasLoader(importlib.abc.Loader):
    """Loads an old path as the module at its new path (one module object under both names)."""

    def __init__(self, target: str) -> None:
        self._target = target
        self._own_spec: importlib.machinery.ModuleSpec | None = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(self._target)
        self._own_spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        module.__spec__ = self._own_spec  # importlib gave it the old path's spec; it keeps its own


class _MovedFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any, target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        new = moved_to(fullname)
        if new is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(new))


def install() -> None:
    """Put the finder of the old paths first on ``sys.meta_path`` (idempotent)."""
    if not any(isinstance(finder, _MovedFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _MovedFinder())
