"""What a saved model is, read from its ``.keras`` file without loading TensorFlow.

A model built by this package is a :class:`~deeploc_keras.models.cell_model.CellModel`; its
``info`` dict travels in the ``config.json`` member of the ``.keras`` zip archive. Older run
directories kept the same facts beside the model in ``RUN/model_card.json``;
:func:`read_model_info` falls back to that file.

Examples
--------
>>> import json, pathlib, tempfile, zipfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "best.keras"
>>> config = {"class_name": "CellModel", "config": {"info": {"method": "pci", "width": 0.5}}}
>>> with zipfile.ZipFile(path, "w") as archive:
...     archive.writestr("config.json", json.dumps(config))
>>> read_model_info(path)["method"]
'pci'
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

from ..core.errors import file_error, reading

__all__ = ["INFO_KEYS", "model_info", "read_model_info"]

#: Keys of a model's ``info``.
INFO_KEYS = ("method", "preset", "width", "class_names", "channel_names", "image_shape")


def model_info(*, method: str, preset: str | None, width: float, class_names: list[str] | None = None,
               channel_names: list[str] | None = None, image_shape: tuple[int, ...] | None = None) -> dict[str, Any]:
    """The ``info`` dict of a model, JSON-ready.

    Examples
    --------
    >>> model_info(method="deeploc", preset="study", width=0.5, class_names=["ER", "GOLGI"])["class_names"]
    ['ER', 'GOLGI']
    """
    return {"method": method, "preset": preset, "width": float(width),
            "class_names": [str(c) for c in class_names or []],
            "channel_names": [str(c) for c in channel_names or []],
            "image_shape": None if image_shape is None else [int(d) for d in image_shape]}


def read_model_info(path: str | os.PathLike) -> dict[str, Any]:
    """The ``info`` of a saved model: from the ``.keras`` file, else ``model_card.json`` beside it.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.keras`` file.

    Returns
    -------
    dict
        The keys of :data:`INFO_KEYS` that are known; empty for a model that records nothing
        (e.g. a plain Keras model without a model card).

    Raises
    ------
    InputError
        If the file is not a ``.keras`` archive or the model card is not JSON.
    """
    path = Path(path)
    with reading(path, "as a Keras model"), zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
    info = (config.get("config") or {}).get("info")
    if isinstance(info, dict) and info.get("method"):
        return dict(info)
    card = path.parent / "model_card.json"
    if card.is_file():
        with reading(card):
            try:
                data = json.loads(card.read_text())
            except json.JSONDecodeError as exc:
                raise file_error(card, f"is not JSON ({exc})") from None
        return {key: data[key] for key in INFO_KEYS if key in data}
    return {}
