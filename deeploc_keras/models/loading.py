"""Load a saved model of this package, with what it is (its ``info``).

The package's custom Keras objects are registered by ``import deeploc_keras`` (which importing
this module implies; :mod:`deeploc_keras._registration`), so the file loads without ``custom_objects``.

Examples
--------
>>> import pathlib, tempfile
>>> from deeploc_keras.models.pci import build_pci
>>> path = pathlib.Path(tempfile.mkdtemp()) / "pci.keras"
>>> build_pci(0.0625, seed=0, channel_names=["GFP", "RFP"]).save(path)
>>> model = load_model(path)
>>> model.info["method"], model.info["channel_names"]
('pci', ['GFP', 'RFP'])
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import keras

from ..core.errors import file_error, reading
from .info import read_model_info

__all__ = ["load_model"]


def load_model(path: str | os.PathLike, *, compile: bool = False) -> keras.Model:
    """Load a ``.keras`` model file of DeepLoc or PCI.

    Parameters
    ----------
    path : str or os.PathLike
        E.g. ``RUN/best.keras``.
    compile : bool, default False
        Restore the optimizer and loss too (only to continue training).

    Returns
    -------
    keras.Model
        A :class:`~deeploc_keras.models.cell_model.CellModel`; its ``info`` (method, preset,
        width, class names, channel names, image shape) comes from the file, or from
        ``model_card.json`` beside a file written by an older version (empty if neither).

    Raises
    ------
    InputError
        If the file is missing or not a loadable Keras model.
    """
    path = Path(path)
    if not path.is_file():
        raise file_error(path, "no such model file")
    info: dict[str, Any] = read_model_info(path)
    with reading(path, "as a Keras model"):
        model = keras.saving.load_model(path, compile=compile)
    if not getattr(model, "info", None):
        model.info = info
    return model
