"""Register the package's Keras objects with Keras, without importing TensorFlow first.

The modules that define custom Keras objects are :class:`~deeploc_keras.models.cell_model.CellModel`'s
and each method's :attr:`~deeploc_keras.training.methods.Method.layers_module` (:func:`keras_object_modules`),
so a new method registers its layers through its one entry in the method table.
``import deeploc_keras`` calls :func:`install`: if Keras is already imported, these modules are
imported at once (their ``register_keras_serializable`` decorators run); otherwise a
meta-path hook imports them right after Keras itself finishes importing. Either way,
``keras.saving.load_model("RUN/best.keras")`` finds every custom object after
``import deeploc_keras`` alone, and the package import stays fast.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from types import ModuleType
from typing import Any

__all__ = ["keras_object_modules", "install", "register_keras_objects"]


def keras_object_modules() -> tuple[str, ...]:
    """The modules whose import registers the package's custom Keras objects.

    Examples
    --------
    >>> keras_object_modules()
    ('deeploc_keras.models.cell_model', 'deeploc_keras.models.layers', 'deeploc_keras.models.layers_pci', 'deeploc_keras.models.layers_pifia')
    """
    from .training.methods import METHODS

    methods = (spec.layers_module for spec in METHODS.values() if spec.layers_module is not None)
    return tuple(dict.fromkeys(("deeploc_keras.models.cell_model", *methods)))


def register_keras_objects() -> tuple[str, ...]:
    """Import every module that registers a custom Keras object (loads Keras and TensorFlow).

    Returns
    -------
    tuple of str
        The modules imported (:func:`keras_object_modules`).
    """
    modules = keras_object_modules()
    for name in modules:
        importlib.import_module(name)
    return modules


class _RegisteringLoader(importlib.abc.Loader):
    """Keras' own loader, followed by :func:`register_keras_objects` once Keras has loaded."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        _uninstall_hook()
        register_keras_objects()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class _KerasImportHook(importlib.abc.MetaPathFinder):
    """Finds ``keras`` with the other finders and wraps its loader (it leaves ``sys.meta_path`` once Keras loads)."""

    def __init__(self) -> None:
        self._searching = False

    def find_spec(self, fullname: str, path: Any, target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != "keras" or self._searching:
            return None
        self._searching = True
        try:
            spec = importlib.util.find_spec("keras")
        finally:
            self._searching = False
        if spec is not None and spec.loader is not None:
            spec.loader = _RegisteringLoader(spec.loader)
        return spec


def _uninstall_hook() -> None:
    sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, _KerasImportHook)]


def install() -> None:
    """Register now if Keras is loaded, else as soon as it is (idempotent)."""
    if "keras" in sys.modules:
        register_keras_objects()
    elif not any(isinstance(finder, _KerasImportHook) for finder in sys.meta_path):
        sys.meta_path.insert(0, _KerasImportHook())
