"""A trained model for inference: which method it was trained as, loaded as such, and its default test-time crops.

The method and the preset of a model are read one way, from its ``info``
(:func:`deeploc_keras.models.info.read_model_info`: the ``.keras`` file, or the
``model_card.json`` an older version wrote beside it); a model that records no method
is known by the signature layer of its method (:attr:`~deeploc_keras.training.methods.Method.signature_layer`).
Loading no TensorFlow until :func:`load_trained` is called.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..core.errors import InputError, file_error
from ..models.presets import PRESETS
from ..training.methods import METHODS, Method

__all__ = ["model_method", "load_trained", "default_tta"]


def model_method(info: Mapping[str, Any], layer_names: Iterable[str] = ()) -> str | None:
    """The learned method a model was trained as: the one its ``info`` records, else the one whose layer it has.

    Parameters
    ----------
    info : mapping
        The model's ``info`` (:func:`deeploc_keras.models.info.read_model_info`).
    layer_names : iterable of str, default ()
        The names of its layers (only needed for a model whose ``info`` records no method).

    Returns
    -------
    str or None
        A method of :data:`~deeploc_keras.training.methods.METHODS` with a feature model; None when
        neither tells.

    Examples
    --------
    >>> model_method({"method": "pci"}), model_method({}, ["input", "fc_2"]), model_method({})
    ('pci', 'deeploc', None)
    """
    recorded = info.get("method")
    if recorded in METHODS and METHODS[recorded].feature_model is not None:
        return recorded
    names = set(layer_names)
    return next((spec.name for spec in METHODS.values()
                 if spec.signature_layer is not None and spec.signature_layer in names), None)


def load_trained(model_path: str | os.PathLike | None, method: str, *,
                 fix: str = "pass --method {found}") -> tuple[Any, Path]:
    """Load ``RUN/best.keras`` as a model of ``method``.

    Parameters
    ----------
    model_path : str or os.PathLike or None
        The model file (None: refused, ``method`` needs one).
    method : str
        The method the model must be a model of.
    fix : str, default "pass --method {found}"
        What the message for a model of another method (``{found}``) tells to do.

    Returns
    -------
    model : keras.Model
        With its ``info``.
    path : pathlib.Path

    Raises
    ------
    InputError
        No path, a missing or unreadable file, or a model of another method (or of none).
    """
    from ..models.loading import load_model

    if model_path is None:
        raise InputError(f"method {method!r} needs a trained model; pass model_path (--model RUN/best.keras)")
    path = Path(model_path)
    model = load_model(path)
    found = model_method(model.info, (layer.name for layer in model.layers))
    if found is None:
        learned = [spec for spec in METHODS.values() if spec.signature_layer is not None]
        raise file_error(path, f"is not a model of {[spec.name for spec in learned]} (no layer "
                               f"{' or '.join(repr(spec.signature_layer) for spec in learned)})")
    if found != method:
        raise file_error(path, f"is a {found!r} model, not {method!r}; " + fix.format(found=found))
    return model, path


def default_tta(spec: Method, info: Mapping[str, Any]) -> str | None:
    """The test-time crops of a model when none are asked for: its preset's (the first mode without a preset).

    Parameters
    ----------
    spec : Method
    info : mapping
        The model's ``info``.

    Returns
    -------
    str or None
        None for a method without test-time crops.

    Examples
    --------
    >>> deeploc = METHODS["deeploc"]
    >>> default_tta(deeploc, {"preset": "kraus2017"}), default_tta(deeploc, {}), default_tta(METHODS["pci"], {})
    ('5crop', 'center', None)
    """
    if not spec.tta_modes:
        return None
    preset = PRESETS.get(info.get("preset") or "")
    return preset.tta if preset is not None else spec.tta_modes[0]
