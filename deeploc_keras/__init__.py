"""deeploc-keras: DeepLoc (Kraus et al. 2017) in TensorFlow/Keras, its baselines and functional scoring.

Heavy names (anything that needs TensorFlow) are imported lazily, so importing the
package, or running ``deeploc-keras score --help``, starts fast. Importing the package
registers its custom Keras objects (at once if Keras is loaded, else when it is), so
``keras.saving.load_model("RUN/best.keras")`` works after ``import deeploc_keras`` alone;
:func:`load_model` also restores the ``info`` of a model saved by an older version.

Examples
--------
>>> import deeploc_keras
>>> deeploc_keras.__version__ == deeploc_keras._version.__version__
True
"""

from __future__ import annotations

import importlib
from typing import Any

from . import _moved, _registration
from ._version import __version__

__all__ = ["__version__", "CellStore", "assign_splits", "build_pci", "build_deeploc", "build_pifia", "embedding_model",
           "import_cells", "load_model", "read_model_info", "simulate_screen"]

#: public name -> module that defines it (imported on first access)
_LAZY = {
    "CellStore": "deeploc_keras.data.store",
    "assign_splits": "deeploc_keras.data.store",
    "build_pci": "deeploc_keras.models.pci",
    "build_deeploc": "deeploc_keras.models.deeploc",
    "build_pifia": "deeploc_keras.models.pifia",
    "embedding_model": "deeploc_keras.models.deeploc",
    "import_cells": "deeploc_keras.data.importers",
    "load_model": "deeploc_keras.models.loading",
    "read_model_info": "deeploc_keras.models.info",
    "simulate_screen": "deeploc_keras.data.synthetic",
}


_moved.install()
_registration.install()


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'deeploc_keras' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
