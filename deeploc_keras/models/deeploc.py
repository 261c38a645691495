"""The original DeepLoc CNN (Kraus et al. 2017) as a Keras functional model, its embedding and 5-crop TTA.

Layer for layer as the TF1 original (``DeepLoc_train.py``/``nn_layers.py``): eight 3x3
convolutions ``conv_1`` ... ``conv_8`` and three 2x2 max-pools, then ``fc_1``, ``fc_2`` and
``logits``; every conv/dense layer keeps its bias and is followed by BatchNormalization
(momentum 0.5, epsilon 1e-3; also on the logits) and ReLU (not after the logits). The
layer names are the original scope names, so checkpoint weights map one to one
(:mod:`deeploc_keras.models.convert`). The logits leave the model in float32 under any
mixed-precision policy (``logits_float32``).

With ``image_shape`` the model takes the raw store crops (e.g. 64x64x2 uint16 counts) and
starts with the preset's preprocessing as Keras layers (``preprocess`` and ``augment``,
see :mod:`deeploc_keras.models.layers`), so intensity scaling, cropping and augmentation run on
the device inside the same flat graph.

References
----------
Kraus, O. Z. et al. (2017). Automated analysis of high-content microscopy data with
deep learning. Molecular Systems Biology 13, 924.
"""

from __future__ import annotations

import logging
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import keras

from ..core.errors import InputError
from .cell_model import CellModel
from .info import model_info
from .layers import (
    CellAugment,
    CropAverage,
    FixedCrops,
    PercentileStretch,
    Standardize,
    TiledMaxPooling2D,
    five_crop_offsets,
)
from .layers_pifia import ImageStandardize
from .presets import INITIALIZERS, INTENSITIES, TTA_MODES, DeepLocPreset, get_preset

__all__ = ["build_deeploc", "embedding_model", "tta_model", "trainable_params", "CONV_FILTERS", "FC_UNITS"]

logger = logging.getLogger(__name__)

#: Filters of conv_1 ... conv_8 at width 1.0.
CONV_FILTERS = (64, 64, 128, 128, 256, 256, 256, 256)
#: Units of fc_1 and fc_2 at width 1.0.
FC_UNITS = (512, 512)
#: A max-pool follows these convolutions.
_POOL_AFTER = {2: "pool_1", 4: "pool_2", 8: "pool_3"}


def _scaled(units: int, width: float) -> int:
    return max(1, round(units * width))


def _resolve_preset(preset: str | DeepLocPreset) -> DeepLocPreset:
    return preset if isinstance(preset, DeepLocPreset) else get_preset(preset)


def _check_build_args(num_classes: int, width: float, image_shape: Sequence[int] | None) -> tuple[int, ...] | None:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise InputError(f"num_classes must be an int >= 2; Received: num_classes={num_classes!r}")
    if not isinstance(width, (int, float)) or not math.isfinite(width) or width <= 0:
        raise InputError(f"width must be a finite number > 0; Received: width={width!r}")
    if image_shape is None:
        return None
    shape = tuple(image_shape)
    if len(shape) != 3 or not all(isinstance(d, numbers.Integral) and d > 0 for d in shape):
        raise InputError(f"image_shape must be (height, width, channels) of positive ints; "
                         f"Received: image_shape={image_shape!r}")
    return tuple(int(d) for d in shape)


def _preprocessing(preset: DeepLocPreset, seed: int | None) -> tuple[keras.layers.Layer, keras.layers.Layer]:
    layers = {"stretch": PercentileStretch, "standardize": Standardize, "image_standardize": ImageStandardize}
    if preset.intensity not in layers:
        raise InputError(f"preset {preset.name!r}: unknown intensity {preset.intensity!r}; "
                         f"expected one of {list(INTENSITIES)}")
    preprocess = layers[preset.intensity](name="preprocess")
    augment = CellAugment(crop_size=preset.crop_size, crop_offsets=preset.crop_offsets, flips=preset.flips,
                          rotations=preset.rotations, seed=seed, name="augment")
    return preprocess, augment


def _initializers(preset: DeepLocPreset, seed: int | None) -> tuple[Callable[[int], Any], Any]:
    """The kernel initialiser of layer ``i`` (one derived seed per layer) and the bias initialiser of a preset."""
    if preset.initializers not in INITIALIZERS:
        raise InputError(f"preset {preset.name!r}: unknown initializers {preset.initializers!r}; "
                         f"expected one of {list(INITIALIZERS)}")

    def init(i: int) -> keras.initializers.Initializer:
        layer_seed = None if seed is None else seed + i
        if preset.initializers == "keras":
            return keras.initializers.GlorotUniform(seed=layer_seed)
        return keras.initializers.TruncatedNormal(stddev=0.1, seed=layer_seed)

    return init, "zeros" if preset.initializers == "keras" else keras.initializers.Constant(0.1)


def build_deeploc(num_classes: int = 19, preset: str | DeepLocPreset = "kraus2017", width: float = 1.0, *,
                  image_shape: Sequence[int] | None = None, seed: int | None = None,
                  class_names: Sequence[str] | None = None, channel_names: Sequence[str] | None = None) -> CellModel:
    """Build the DeepLoc CNN as a Keras functional model.

    Parameters
    ----------
    num_classes : int, default 19
        Output classes (the store's class list), >= 2.
    preset : str or DeepLocPreset, default "kraus2017"
        One of :data:`~deeploc_keras.models.presets.PRESET_NAMES` (or a preset object):
        padding, input size, BatchNorm on dense layers, BN momentum and preprocessing.
    width : float, default 1.0
        Multiplies the conv filters and the FC widths (rounded, at least 1); < 1 gives
        CPU-sized variants.
    image_shape : (int, int, int) or None, default None
        None: the input is the preprocessed crop, ``(input_size, input_size, 2)`` float32.
        Otherwise the raw store crop ``(H, W, C)`` (uint16 or float32 data; input name
        ``cells``), followed by the layers ``preprocess`` (stretch or standardization)
        and ``augment`` (random crop/flips/rot90 in training, centre crop otherwise). The
        stretch runs on the whole cell before the crop (the original); standardization
        runs on each crop after it (the study's per-crop rule).
    seed : int or None, default None
        Seeds the weight initialisers (one derived seed per layer) and the augmentation.
    class_names, channel_names : sequence of str, optional
        Recorded in the model's ``info`` (``class_names`` must have ``num_classes`` entries).

    Returns
    -------
    CellModel
        A functional Keras model named ``deeploc``; outputs the logits, float32, shape
        ``(batch, num_classes)``; ``info`` records method, preset, width, classes, channels
        and input shape (saved in the ``.keras`` file).

    Raises
    ------
    InputError
        For an unknown preset, ``num_classes < 2``, ``width <= 0``, a bad ``image_shape`` or
        ``class_names`` of another length.

    Examples
    --------
    >>> trainable_params(build_deeploc(19))
    10991417
    >>> build_deeploc(5, width=0.125, image_shape=(64, 64, 2)).get_layer("pool_3").output.shape
    (None, 8, 8, 32)
    >>> build_deeploc(2, width=0.125, class_names=["ER", "GOLGI"]).info["class_names"]
    ['ER', 'GOLGI']
    """
    p = _resolve_preset(preset)
    shape = _check_build_args(num_classes, width, image_shape)
    if class_names is not None and len(class_names) != num_classes:
        raise InputError(f"class_names must have num_classes={num_classes} entries; "
                         f"Received: {len(class_names)} class_names")

    init, bias = _initializers(p, seed)
    if shape is None:
        inputs = keras.Input((p.input_size, p.input_size, 2), dtype="float32", name="crops")
        x = inputs
    else:
        inputs = keras.Input(shape, dtype="float32", name="cells")
        preprocess, augment = _preprocessing(p, seed)
        # the original stretches the whole 64x64 cell before cropping; the study standardizes each crop
        x = augment(preprocess(inputs)) if p.intensity == "stretch" else preprocess(augment(inputs))
    for k, filters in enumerate(CONV_FILTERS, start=1):
        x = keras.layers.Conv2D(_scaled(filters, width), 3, padding=p.padding, kernel_initializer=init(k),
                                bias_initializer=bias, name=f"conv_{k}")(x)
        x = keras.layers.BatchNormalization(momentum=p.batchnorm_momentum, epsilon=1e-3, name=f"conv_{k}_bn")(x)
        x = keras.layers.ReLU(name=f"conv_{k}_relu")(x)
        if k in _POOL_AFTER:
            x = TiledMaxPooling2D(2, 2, padding=p.padding, name=_POOL_AFTER[k])(x)
    x = keras.layers.Flatten(name="flatten")(x)
    dense = [(f"fc_{i}", _scaled(units, width)) for i, units in enumerate(FC_UNITS, start=1)]
    for i, (name, units) in enumerate([*dense, ("logits", num_classes)], start=len(CONV_FILTERS) + 1):
        x = keras.layers.Dense(units, kernel_initializer=init(i), bias_initializer=bias, name=name)(x)
        if p.dense_batchnorm:
            x = keras.layers.BatchNormalization(momentum=p.batchnorm_momentum, epsilon=1e-3, name=f"{name}_bn")(x)
        if name != "logits":
            x = keras.layers.ReLU(name=f"{name}_relu")(x)
    outputs = keras.layers.Activation("linear", dtype="float32", name="logits_float32")(x)
    info = model_info(method="deeploc", preset=p.name, width=width, class_names=class_names,
                      channel_names=channel_names, image_shape=shape or (p.input_size, p.input_size, 2))
    model = CellModel(inputs, outputs, name="deeploc", info=info)
    logger.debug("built deeploc preset=%s width=%s classes=%d params=%d", p.name, width, num_classes,
                 model.count_params())
    return model


def trainable_params(model: keras.Model) -> int:
    """Number of trainable parameters of a model.

    Examples
    --------
    >>> trainable_params(build_deeploc(19, width=0.125)) < 10_991_417
    True
    """
    return int(sum(math.prod(w.shape) for w in model.trainable_weights))


def _block_names(model: keras.Model) -> list[str]:
    names = [layer.name for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    return [n for n in names if not n.endswith(("_bn", "_relu", "_float32"))]


def _end_layer(model: keras.Model, layer: str) -> str:
    names = {lyr.name for lyr in model.layers}
    if layer not in names:
        raise InputError(f"layer {layer!r} is not in model {model.name!r}; expected one of {_block_names(model)}")
    for candidate in (f"{layer}_relu", f"{layer}_bn", layer):
        if candidate in names:
            return candidate
    raise AssertionError("unreachable")  # pragma: no cover


def _as_float32(x, name: str):
    if x.dtype == "float32":
        return x
    return keras.layers.Activation("linear", dtype="float32", name=name)(x)


def embedding_model(model: keras.Model, layer: str = "fc_2") -> keras.Model:
    """The submodel from ``model.input`` to a named layer's activations (no second forward pass).

    Parameters
    ----------
    model : keras.Model
        A model from :func:`build_deeploc` (or loaded from its ``.keras`` file).
    layer : str, default "fc_2"
        A layer name; the output is that of ``<layer>_relu`` if it exists, else
        ``<layer>_bn``, else ``<layer>`` (``fc_2``: 512-d after BatchNorm and ReLU).

    Returns
    -------
    keras.Model
        Shares the weights of ``model``; float32 output.

    Raises
    ------
    InputError
        If ``layer`` is not in the model (the message lists the valid names).

    Examples
    --------
    >>> model = build_deeploc(5, width=0.125)
    >>> embedding_model(model).output.shape
    (None, 64)
    """
    end = _end_layer(model, layer)
    out = _as_float32(model.get_layer(end).output, f"{end}_float32")
    return keras.Model(model.input, out, name=f"{model.name}_embedding_{layer}")


def tta_model(model: keras.Model, layer: str = "fc_2", tta: str = "5crop") -> keras.Model:
    """Test-time augmentation: the layer's activations averaged over fixed crops of each cell.

    ``5crop`` (the original deploy rule): the preprocessed raw crop is cut at the five
    fixed offsets of :func:`~deeploc_keras.models.layers.five_crop_offsets` ((2, 2), (0, 0),
    (0, 4), (4, 0), (4, 4) for 64 -> 60), all crops run through the model's own (shared)
    layers up to ``layer`` in one batch, and the outputs are averaged per cell. ``center``
    uses the single centre crop. For ``layer="logits"`` the softmax probabilities are
    averaged (as the original), in both modes.

    Parameters
    ----------
    model : keras.Model
        Built by :func:`build_deeploc` with ``image_shape`` (it has ``preprocess`` and
        ``augment`` layers).
    layer : str, default "fc_2"
        As in :func:`embedding_model`.
    tta : {"center", "5crop"}, default "5crop"

    Returns
    -------
    keras.Model
        Raw crops in, float32 ``(batch, features)`` out.

    Raises
    ------
    InputError
        For an unknown mode or layer, a model without preprocessing layers, or ``5crop``
        on a preset without a crop.

    Examples
    --------
    >>> model = build_deeploc(5, width=0.125, image_shape=(64, 64, 2))
    >>> tta_model(model, "logits").output.shape
    (None, 5)
    """
    if tta not in TTA_MODES:
        raise InputError(f"unknown tta {tta!r}; expected one of {list(TTA_MODES)}")
    names = [lyr.name for lyr in model.layers]
    if "preprocess" not in names or "augment" not in names:
        raise InputError(f"tta_model needs a model built with image_shape (layers 'preprocess' and 'augment'); "
                         f"model {model.name!r} has neither")
    end = _end_layer(model, layer)
    if end == "logits_float32":
        end = names[names.index(end) - 1]
    if names.index(end) <= names.index("augment"):
        raise InputError(f"layer {layer!r} comes before the crop; expected a layer after 'augment'")
    size = model.input.shape[1]
    crop = model.get_layer("augment").crop_size
    if crop is None:
        if tta == "5crop":
            raise InputError("tta='5crop' needs a preset with a crop (crop_size); use tta='center'")
        offsets, crop = ((0, 0),), size
    else:
        offsets = five_crop_offsets(size, crop)
        offsets = offsets if tta == "5crop" else offsets[:1]
    inputs = keras.Input(model.input.shape[1:], dtype="float32", name="cells")
    before_crop = names.index("preprocess") < names.index("augment")
    x = model.get_layer("preprocess")(inputs) if before_crop else inputs
    x = FixedCrops(crop_size=crop, offsets=offsets, name="tta_crops")(x)
    for name in names[names.index("augment") + 1:names.index(end) + 1]:
        x = model.get_layer(name)(x)
    x = CropAverage(num_crops=len(offsets), softmax=layer == "logits", name="tta_mean")(x)
    return keras.Model(inputs, x, name=f"{model.name}_tta_{tta}_{layer}")
