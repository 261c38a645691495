"""Convert the original DeepLoc TF1 checkpoint (``model.ckpt-5000``) to a Keras ``.keras`` model.

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

Any other variable, a duplicate, a missing weight or a shape that does not fit the
architecture stops the conversion with one line naming the variable. Layouts need no
transposition: conv kernels are HWIO and dense kernels [in, out] in both, and the NHWC
flatten order is the same. The result is the ``kraus2017`` preset built with
``image_shape=(64, 64, channels)``, so it takes raw 64x64 crops (percentile stretch and
centre crop inside the model) and works with 5-crop test-time augmentation.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from ..core.errors import InputError, file_error
from ..core.outputs import atomic_path, check_output, remove_path

__all__ = ["convert_checkpoint", "map_checkpoint_variables"]

logger = logging.getLogger(__name__)

_LAYER_SCOPE = re.compile(r"^(conv_[1-8]|fc_[12]|final_layer)(_batch_norm)?$")
_KERAS_NAME = {"final_layer": "logits"}
_IGNORED = re.compile(r"(/Adam(_1)?$)|(^|/)beta[12]_power$|^Variable(_\d+)?$|(^|/)global_step$")


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


def _check_checkpoint_files(checkpoint: str | os.PathLike) -> None:
    """Refuse, before TensorFlow loads, a path that is neither a checkpoint prefix nor a folder of checkpoints."""
    path = Path(checkpoint)
    if path.is_dir() and (path / "checkpoint").is_file():
        return
    index = path.with_name(path.name + ".index")
    if not index.is_file():
        raise file_error(checkpoint, f"not a readable TensorFlow checkpoint (no file {index.name} in "
                                     f"{path.parent}); expected the prefix of model.ckpt-N.index / .data-*")


def convert_checkpoint(checkpoint: str | os.PathLike, out: str | os.PathLike, *, num_classes: int | None = None,
                       overwrite: bool = False) -> Path:
    """Convert the original DeepLoc TF1 checkpoint into a Keras ``.keras`` model file.

    Parameters
    ----------
    checkpoint : str or os.PathLike
        Checkpoint prefix, e.g. ``pretrained_models/model.ckpt-5000`` (the ``.index`` and
        ``.data-*`` files beside it), or a directory with a ``checkpoint`` file.
    out : str or os.PathLike
        Output file, ending in ``.keras``; written atomically.
    num_classes : int or None, default None
        Expected classes; None takes them from ``final_layer``'s kernel (19 for the
        released model). A mismatch is refused.
    overwrite : bool, default False
        Replace an existing ``out``.

    Returns
    -------
    pathlib.Path
        ``out``.

    Raises
    ------
    InputError
        For an unreadable checkpoint, an unmatched, duplicate or missing variable, a shape
        that does not fit, a class-count mismatch or an ``out`` not ending in ``.keras``.
    OutputExistsError
        If ``out`` exists and ``overwrite`` is False.

    Examples
    --------
    >>> convert_checkpoint("missing/model.ckpt-5000", "deeploc.keras")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    deeploc_keras.core.errors.InputError: missing/model.ckpt-5000: not a readable TensorFlow checkpoint ...
    """
    out = Path(out)
    if out.suffix != ".keras":
        raise InputError(f"output must end in .keras; Received: out={os.fspath(out)!r}")
    check_output(out, overwrite=overwrite)
    _check_checkpoint_files(checkpoint)

    import numpy as np

    from .._tensorflow import load_tensorflow

    tf = load_tensorflow()

    from .deeploc import CONV_FILTERS, build_deeploc

    try:
        reader = tf.train.load_checkpoint(os.fspath(checkpoint))
        variables = tf.train.list_variables(os.fspath(checkpoint))
    except (tf.errors.OpError, ValueError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise file_error(checkpoint, f"not a readable TensorFlow checkpoint ({detail}); expected the prefix "
                                     f"of model.ckpt-N.index / .data-*") from None
    shapes = dict(variables)
    slots = map_checkpoint_variables(variables)

    for needed in (("conv_1", "kernel"), ("logits", "kernel")):
        if needed not in slots:
            raise file_error(checkpoint, f"no variable for {needed[0]}.{needed[1]} "
                                         f"(expected e.g. conv_1/weights/Variable)")
    conv1 = shapes[slots[("conv_1", "kernel")]]
    logits = shapes[slots[("logits", "kernel")]]
    if len(conv1) != 4 or len(logits) != 2:
        raise file_error(checkpoint, f"conv_1 kernel {conv1} / final_layer kernel {logits} are not "
                                     f"[3,3,in,out] / [in,out]")
    found_classes = int(logits[1])
    if num_classes is not None and num_classes != found_classes:
        raise file_error(checkpoint, f"the checkpoint has {found_classes} classes; Received: num_classes={num_classes}")
    width = conv1[3] / CONV_FILTERS[0]
    model = build_deeploc(found_classes, "kraus2017", width, image_shape=(64, 64, int(conv1[2])), seed=0)

    expected = {}
    for layer in model.layers:
        for weight in layer.weights:
            expected[(layer.name, weight.name)] = weight
    missing = sorted(f"{k[0]}.{k[1]}" for k in expected if k not in slots and k[0] != "augment")
    if missing:
        raise file_error(checkpoint, f"no variable for {', '.join(missing[:4])}"
                                     f"{' ...' if len(missing) > 4 else ''}")
    for key, name in slots.items():
        weight = expected.get(key)
        if weight is None:
            raise file_error(checkpoint, f"variable {name!r} maps to {key[0]}.{key[1]}, which the model lacks")
        if tuple(shapes[name]) != tuple(weight.shape):
            raise file_error(checkpoint, f"variable {name!r} has shape {tuple(shapes[name])}; expected "
                                         f"{tuple(weight.shape)} for {key[0]}.{key[1]} (width {width:g})")
        weight.assign(np.asarray(reader.get_tensor(name), dtype="float32"))
        logger.debug("%s -> %s.%s %s", name, key[0], key[1], tuple(weight.shape))
    logger.info("converted %d variables (%d classes, width %g) from %s", len(slots), found_classes, width,
                os.fspath(checkpoint))

    with atomic_path(out, overwrite=overwrite) as tmp:
        staged = tmp.with_name(tmp.name + ".keras")  # Keras insists on the suffix
        try:
            model.save(staged)
            os.replace(staged, tmp)
        finally:
            remove_path(staged)
    return out
