"""Convert the authors' checkpoints to Keras ``.keras`` models: the original DeepLoc and PIFiA.

``source="deeploc"``: the original DeepLoc TF1 checkpoint (``model.ckpt-5000``).
Variables are matched by scope name *and* shape. The scope is the first path component
that names a layer (``conv_1`` ... ``conv_8``, ``fc_1``, ``fc_2``, ``final_layer``, also as
``<layer>_batch_norm``, the variable scope the original's batch norm opens); the role
comes from the rest of the name:

============================================================  ==============================
TF1 variable (``L`` = layer scope)                             Keras weight
============================================================  ==============================
``L/weights/Variable``  [3,3,in,out] or [in,out]               ``L.kernel`` (final_layer -> ``logits``)
``L/biases/Variable``   [out]                                  ``L.bias``
``.../L_batch_norm/gamma``                                     ``L_bn.gamma``
``.../L_batch_norm/beta``                                      ``L_bn.beta``
``.../moments/(Squeeze|mean)/ExponentialMovingAverage``        ``L_bn.moving_mean``
``.../moments/(Squeeze_1|variance)/ExponentialMovingAverage``  ``L_bn.moving_variance``
``.../Adam``, ``.../Adam_1``, ``beta1_power``, ``beta2_power``,  ignored (optimizer state,
top-level ``Variable``/``global_step``                         global step)
============================================================  ==============================

The result is the ``kraus2017`` preset built with ``image_shape=(64, 64, channels)``, so it
takes raw 64x64 crops (percentile stretch and centre crop inside the model) and works with
5-crop test-time augmentation.

``source="pifia"``: the TF2 object-based checkpoint of ``pifia_network`` that ``arazd/pifia``
ships (``model/pretrained_weights/pifia_weights_i0``, written by ``model.save_weights``).
Its variables are ``<attribute>/<weight>/.ATTRIBUTES/VARIABLE_VALUE`` for the attributes
``conv1``..``conv8`` (kernel, bias), ``bn1``..``bn8`` (gamma, beta, moving_mean,
moving_variance) and ``d1``..``d3`` (kernel, bias); they map to the layers of the same names
of :func:`~deeploc_keras.models.pifia.build_pifia` (a ``model/`` prefix, as a
``tf.train.Checkpoint(model=...)`` writes, is accepted; the object graph and optimizer slots
are skipped). Width, input channels, the dense sizes and the number of proteins are read
from the shapes. The model takes raw 64x64 store crops of ``input_channels`` channels and
feeds the network the first of them (the GFP channel of a GFP/RFP store; two for a
checkpoint trained with ``use_rfp``).

Either way, every expected variable is checked (names and shapes) before any value is read;
any other variable, a duplicate, a missing weight, a shape that does not fit the
architecture or a missing data shard stops the conversion with one line naming it, and
nothing is written. Layouts need no transposition: conv kernels are HWIO and dense kernels
[in, out] in TensorFlow and Keras alike, and the NHWC flatten order is the same.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import InputError, file_error
from ..core.outputs import atomic_path, check_output, remove_path

__all__ = ["CHECKPOINT_SOURCES", "convert_checkpoint", "map_checkpoint_variables", "map_pifia_variables",
           "pifia_variable_shapes"]

logger = logging.getLogger(__name__)

_LAYER_SCOPE = re.compile(r"^(conv_[1-8]|fc_[12]|final_layer)(_batch_norm)?$")
_KERAS_NAME = {"final_layer": "logits"}
_IGNORED = re.compile(r"(/Adam(_1)?$)|(^|/)beta[12]_power$|^Variable(_\d+)?$|(^|/)global_step$")
#: Values of ``source``: the checkpoint formats :func:`convert_checkpoint` reads.
CHECKPOINT_SOURCES = ("deeploc", "pifia")
_PIFIA_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
_PIFIA_VARIABLE = re.compile(r"^(?:model/)?(conv[1-8]|bn[1-8]|d[1-3])/(\w+)/\.ATTRIBUTES/VARIABLE_VALUE$")
_PIFIA_ROLES = {"conv": ("kernel", "bias"), "bn": ("gamma", "beta", "moving_mean", "moving_variance"),
                "d": ("kernel", "bias")}
_PIFIA_IGNORED = re.compile(r"^_CHECKPOINTABLE_OBJECT_GRAPH$|\.OPTIMIZER_SLOT/|^optimizer/|^save_counter/")


def _role(name: str) -> str | None:
    parts = name.split("/")
    if parts[-1] == "ExponentialMovingAverage":
        stat = parts[-2]
        if "variance" in stat or stat == "Squeeze_1":
            return "moving_variance"
        if "mean" in stat or stat == "Squeeze":
            return "moving_mean"
        return None
    if "weights" in parts[:-1]:
        return "kernel"
    if "biases" in parts[:-1]:
        return "bias"
    if parts[-1] in ("gamma", "beta"):
        return parts[-1]
    return None


def map_checkpoint_variables(variables: list[tuple[str, list[int]]]) -> dict[tuple[str, str], str]:
    """Map TF1 DeepLoc checkpoint variable names to (Keras layer, weight) slots.

    Parameters
    ----------
    variables : list of (str, list of int)
        ``tf.train.list_variables`` output: (name, shape) pairs.

    Returns
    -------
    dict
        ``(keras_layer_name, weight_name) -> tf1_variable_name``; ``weight_name`` is one of
        kernel, bias, gamma, beta, moving_mean, moving_variance (BN slots live on
        ``<layer>_bn``). Optimizer slots and the global step are skipped.

    Raises
    ------
    InputError
        For a variable that matches no slot, or two variables for one slot.

    Examples
    --------
    >>> map_checkpoint_variables([("conv_1/weights/Variable", [3, 3, 2, 64]),
    ...                           ("conv_1/weights/Variable/Adam", [3, 3, 2, 64]),
    ...                           ("final_layer/batch_norm/final_layer_batch_norm/gamma", [19])])
    {('conv_1', 'kernel'): 'conv_1/weights/Variable', ('logits_bn', 'gamma'): 'final_layer/batch_norm/final_layer_batch_norm/gamma'}
    """
    slots: dict[tuple[str, str], str] = {}
    for name, _shape in variables:
        if _IGNORED.search(name):
            continue
        scope = next((m for m in map(_LAYER_SCOPE.match, name.split("/")) if m), None)
        role = _role(name)
        if scope is None or role is None:
            raise InputError(f"unmatched checkpoint variable {name!r}: expected <layer>/weights|biases/..., "
                             f"<layer>_batch_norm/gamma|beta or a moments ExponentialMovingAverage under "
                             f"conv_1..conv_8, fc_1, fc_2, final_layer")
        layer = _KERAS_NAME.get(scope.group(1), scope.group(1))
        key = (layer, role) if role in ("kernel", "bias") else (f"{layer}_bn", role)
        if key in slots:
            raise InputError(f"checkpoint variables {slots[key]!r} and {name!r} both map to {key[0]}.{key[1]}")
        slots[key] = name
    return slots


def map_pifia_variables(variables: list[tuple[str, list[int]]]) -> dict[tuple[str, str], str]:
    """Map the variables of a PIFiA TF2 object checkpoint to (Keras layer, weight) slots.

    Parameters
    ----------
    variables : list of (str, list of int)
        ``tf.train.list_variables`` output: (name, shape) pairs.

    Returns
    -------
    dict
        ``(layer, weight) -> variable name``, e.g. ``("bn1", "moving_mean")``; the object graph,
        optimizer slots and the save counter are skipped.

    Raises
    ------
    InputError
        For a variable that matches no slot, or two variables for one slot.

    Examples
    --------
    >>> map_pifia_variables([("_CHECKPOINTABLE_OBJECT_GRAPH", []),
    ...                      ("bn1/moving_mean/.ATTRIBUTES/VARIABLE_VALUE", [64]),
    ...                      ("model/d3/kernel/.ATTRIBUTES/VARIABLE_VALUE", [64, 4049])])
    {('bn1', 'moving_mean'): 'bn1/moving_mean/.ATTRIBUTES/VARIABLE_VALUE', ('d3', 'kernel'): 'model/d3/kernel/.ATTRIBUTES/VARIABLE_VALUE'}
    """
    slots: dict[tuple[str, str], str] = {}
    for name, _shape in variables:
        if _PIFIA_IGNORED.search(name):
            continue
        match = _PIFIA_VARIABLE.match(name)
        if match is None or match.group(2) not in _PIFIA_ROLES[match.group(1).rstrip("0123456789")]:
            raise InputError(f"unmatched checkpoint variable {name!r}: expected conv1..conv8/kernel|bias, "
                             f"bn1..bn8/gamma|beta|moving_mean|moving_variance or d1..d3/kernel|bias, each "
                             f"followed by {_PIFIA_SUFFIX}")
        key = (match.group(1), match.group(2))
        if key in slots:
            raise InputError(f"checkpoint variables {slots[key]!r} and {name!r} both map to {key[0]}.{key[1]}")
        slots[key] = name
    return slots


def pifia_variable_shapes(model: Any) -> dict[str, tuple[int, ...]]:
    """The checkpoint variables a PIFiA model's weights correspond to, with their shapes.

    Parameters
    ----------
    model : keras.Model
        A model from :func:`~deeploc_keras.models.pifia.build_pifia`.

    Returns
    -------
    dict
        ``"<layer>/<weight>/.ATTRIBUTES/VARIABLE_VALUE" -> shape`` for every weight of the
        layers ``conv1``..``conv8``, ``bn1``..``bn8`` and ``d1``..``d3``, as ``model.save_weights``
        of the original ``pifia_network`` names them.

    Examples
    --------
    >>> from deeploc_keras.models.pifia import build_pifia
    >>> shapes = pifia_variable_shapes(build_pifia(4049))
    >>> len(shapes), shapes["d3/kernel/.ATTRIBUTES/VARIABLE_VALUE"]
    (54, (64, 4049))
    """
    shapes = {}
    for layer in model.layers:
        prefix = layer.name.rstrip("0123456789")
        if prefix in _PIFIA_ROLES and layer.name != prefix:
            for weight in layer.weights:
                shapes[f"{layer.name}/{weight.name}{_PIFIA_SUFFIX}"] = tuple(int(d) for d in weight.shape)
    return shapes


def _check_checkpoint_files(checkpoint: str | os.PathLike) -> None:
    """Refuse, before TensorFlow loads, a path that is neither a checkpoint prefix nor a folder of checkpoints."""
    path = Path(checkpoint)
    if path.is_dir() and (path / "checkpoint").is_file():
        return
    index = path.with_name(path.name + ".index")
    if not index.is_file():
        raise file_error(checkpoint, f"not a readable TensorFlow checkpoint (no file {index.name} in "
                                     f"{path.parent}); expected the prefix of the .index / .data-* files")


def _check_shards(checkpoint: str | os.PathLike, source: str) -> None:
    """Refuse a checkpoint prefix whose ``.data-<i>-of-<n>`` shards are not all present (before any is read)."""
    path = Path(checkpoint)
    if path.is_dir():
        return
    found = {m.group(1): m for m in (re.match(r".*\.data-(\d+)-of-(\d+)$", p.name)
                                     for p in path.parent.glob(f"{path.name}.data-*")) if m}
    counts = {int(m.group(2)) for m in found.values()}
    total = max(counts) if counts else 1
    missing = [f"{path.name}.data-{i:05d}-of-{total:05d}" for i in range(total) if f"{i:05d}" not in found]
    if missing:
        where = " (clone arazd/pifia: model/pretrained_weights/ holds it)" if source == "pifia" else ""
        raise file_error(checkpoint, f"the weight shard {', '.join(missing)} is missing beside the index{where}")


def _open_checkpoint(checkpoint: str | os.PathLike) -> tuple[Any, list[tuple[str, list[int]]]]:
    """The checkpoint's reader and its (name, shape) list; one line naming the file if it cannot be read."""
    from .._tensorflow import load_tensorflow

    tf = load_tensorflow()
    try:
        return tf.train.load_checkpoint(os.fspath(checkpoint)), tf.train.list_variables(os.fspath(checkpoint))
    except (tf.errors.OpError, ValueError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise file_error(checkpoint, f"not a readable TensorFlow checkpoint ({detail}); expected the prefix "
                                     f"of the .index / .data-* files") from None


def _assign(model: Any, slots: dict[tuple[str, str], str], shapes: dict[str, list[int]], reader: Any, *,
            checkpoint: str | os.PathLike, source: str) -> None:
    """Check every weight of the model's conv, dense and BatchNorm layers against the checkpoint (names, shapes),
    then assign the values."""
    import keras

    kinds = (keras.layers.Conv2D, keras.layers.Dense, keras.layers.BatchNormalization)
    expected = {(layer.name, weight.name): weight for layer in model.layers if isinstance(layer, kinds)
                for weight in layer.weights}
    missing = sorted(f"{k[0]}.{k[1]}" for k in expected if k not in slots)
    if missing:
        raise file_error(checkpoint, f"no variable for {', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''}")
    for key, name in slots.items():
        weight = expected.get(key)
        if weight is None:
            raise file_error(checkpoint, f"variable {name!r} maps to {key[0]}.{key[1]}, which the model lacks")
        if tuple(shapes[name]) != tuple(weight.shape):
            raise file_error(checkpoint, f"variable {name!r} has shape {tuple(shapes[name])}; expected "
                                         f"{tuple(weight.shape)} for {key[0]}.{key[1]}")
    _check_shards(checkpoint, source)
    for key, name in slots.items():
        expected[key].assign(np.asarray(reader.get_tensor(name), dtype="float32"))
        logger.debug("%s -> %s.%s %s", name, key[0], key[1], tuple(expected[key].shape))


def _shape(checkpoint: str | os.PathLike, slots: dict[tuple[str, str], str], shapes: dict[str, list[int]],
           key: tuple[str, str], rank: int, example: str) -> list[int]:
    if key not in slots:
        raise file_error(checkpoint, f"no variable for {key[0]}.{key[1]} (expected e.g. {example})")
    shape = shapes[slots[key]]
    if len(shape) != rank:
        raise file_error(checkpoint, f"{slots[key]!r} has shape {shape}; expected rank {rank}")
    return [int(d) for d in shape]


def _check_classes(checkpoint: str | os.PathLike, found: int, num_classes: int | None) -> None:
    if num_classes is not None and num_classes != found:
        raise file_error(checkpoint, f"the checkpoint has {found} classes; Received: num_classes={num_classes}")


def _deeploc_model(checkpoint: str | os.PathLike, reader: Any, variables: list[tuple[str, list[int]]], *,
                   num_classes: int | None) -> Any:
    from .deeploc import CONV_FILTERS, build_deeploc

    shapes = dict(variables)
    slots = map_checkpoint_variables(variables)
    conv1 = _shape(checkpoint, slots, shapes, ("conv_1", "kernel"), 4, "conv_1/weights/Variable")
    logits = _shape(checkpoint, slots, shapes, ("logits", "kernel"), 2, "final_layer/weights/Variable")
    _check_classes(checkpoint, logits[1], num_classes)
    width = conv1[3] / CONV_FILTERS[0]
    model = build_deeploc(logits[1], "kraus2017", width, image_shape=(64, 64, conv1[2]), seed=0)
    _assign(model, slots, shapes, reader, checkpoint=checkpoint, source="deeploc")
    logger.info("converted %d variables (%d classes, width %g) from %s", len(slots), logits[1], width,
                os.fspath(checkpoint))
    return model


def _pifia_model(checkpoint: str | os.PathLike, reader: Any, variables: list[tuple[str, list[int]]], *,
                 num_classes: int | None, input_channels: int) -> Any:
    from .pifia import PIFIA_CONV_FILTERS, build_pifia

    shapes = dict(variables)
    slots = map_pifia_variables(variables)
    example = "conv1/kernel" + _PIFIA_SUFFIX
    conv1 = _shape(checkpoint, slots, shapes, ("conv1", "kernel"), 4, example)
    d1, d2, d3 = (_shape(checkpoint, slots, shapes, (f"d{k}", "kernel"), 2, example) for k in (1, 2, 3))
    _check_classes(checkpoint, d3[1], num_classes)
    if conv1[2] > input_channels:
        raise file_error(checkpoint, f"the network reads {conv1[2]} channels; Received: input_channels="
                                     f"{input_channels}")
    width = conv1[3] / PIFIA_CONV_FILTERS[0]
    model = build_pifia(d3[1], width, image_shape=(64, 64, input_channels), channels=tuple(range(conv1[2])),
                        dense_units=(d1[1], d2[1]), seed=0)
    _assign(model, slots, shapes, reader, checkpoint=checkpoint, source="pifia")
    logger.info("converted %d PIFiA variables (%d proteins, width %g, %d channel(s)) from %s", len(slots), d3[1],
                width, conv1[2], os.fspath(checkpoint))
    return model


def convert_checkpoint(checkpoint: str | os.PathLike, out: str | os.PathLike, *, source: str = "deeploc",
                       num_classes: int | None = None, input_channels: int = 2, overwrite: bool = False) -> Path:
    """Convert the original DeepLoc TF1 checkpoint or the PIFiA TF2 checkpoint into a Keras ``.keras`` model file.

    Parameters
    ----------
    checkpoint : str or os.PathLike
        Checkpoint prefix, e.g. ``pretrained_models/model.ckpt-5000`` or
        ``pifia/model/pretrained_weights/pifia_weights_i0`` (the ``.index`` and ``.data-*``
        files beside it), or a directory with a ``checkpoint`` file.
    out : str or os.PathLike
        Output file, ending in ``.keras``; written atomically.
    source : {"deeploc", "pifia"}, default "deeploc"
        The checkpoint's format (:data:`CHECKPOINT_SOURCES`, module docstring).
    num_classes : int or None, default None
        Expected classes (proteins for ``pifia``); None takes them from the last layer's
        kernel (19 for DeepLoc, 4,049 for PIFiA). A mismatch is refused.
    input_channels : int, default 2
        ``pifia``: channels of the store crops the model will read (the network reads the
        first one(s): GFP). DeepLoc's input channels come from the checkpoint.
    overwrite : bool, default False
        Replace an existing ``out``.

    Returns
    -------
    pathlib.Path
        ``out``.

    Raises
    ------
    InputError
        For an unknown ``source``, an unreadable checkpoint or a missing data shard, an
        unmatched, duplicate or missing variable, a shape that does not fit, a class-count
        mismatch or an ``out`` not ending in ``.keras``.
    OutputExistsError
        If ``out`` exists and ``overwrite`` is False.

    Examples
    --------
    >>> convert_checkpoint("missing/model.ckpt-5000", "deeploc.keras")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    deeploc_keras.core.errors.InputError: missing/model.ckpt-5000: not a readable TensorFlow checkpoint ...
    """
    if source not in CHECKPOINT_SOURCES:
        raise InputError(f"unknown checkpoint source {source!r}; expected one of {list(CHECKPOINT_SOURCES)}")
    out = Path(out)
    if out.suffix != ".keras":
        raise InputError(f"output must end in .keras; Received: out={os.fspath(out)!r}")
    check_output(out, overwrite=overwrite)
    _check_checkpoint_files(checkpoint)
    reader, variables = _open_checkpoint(checkpoint)
    if source == "pifia":
        model = _pifia_model(checkpoint, reader, variables, num_classes=num_classes, input_channels=input_channels)
    else:
        model = _deeploc_model(checkpoint, reader, variables, num_classes=num_classes)
    with atomic_path(out, overwrite=overwrite) as tmp:
        staged = tmp.with_name(tmp.name + ".keras")  # Keras insists on the suffix
        try:
            model.save(staged)
            os.replace(staged, tmp)
        finally:
            remove_path(staged)
    return out
