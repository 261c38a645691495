"""PIFiA (Razdaibiedina et al. 2024): the DeepLoc-like CNN trained on protein identity, as a Keras functional model.

Layer for layer as ``pifia_network`` in ``arazd/pifia`` (``model/models.py``), with its
attribute names as layer names, so the authors' TF2 checkpoint maps one to one
(:func:`deeploc_keras.models.convert.convert_pifia_checkpoint`):

=====================================  =====================================================
``conv1``..``conv8``                   3x3 VALID convs with bias, 64, 64, 128, 128, 256 x 4
                                       filters (times ``width``); each followed by
                                       ``bn<k>`` (Keras-default BatchNormalization:
                                       momentum 0.99, epsilon 1e-3) and ``relu<k>``
``pool1``, ``pool2``, ``pool3``        2x2 max-pools, stride 2, VALID, after conv2, conv4, conv8
``flatten``                            64x64 input -> 2x2x256 = 1,024 values
``d1``                                 dense 128, ReLU
``d2``                                 dense 64, ReLU: **the feature layer**
``dropout``                            rate 0.02 (training only)
``d3``                                 dense, one linear logit per protein
=====================================  =====================================================

Weights start from Keras' defaults (Glorot-uniform kernels, zero biases), seeded. With
``image_shape`` the model takes raw store crops: ``channels`` keeps the channels the
network reads (:class:`~deeploc_keras.models.layers_pifia.SelectChannels`; the study's
PIFiA reads GFP only), ``preprocess`` min-max scales and standardizes each crop
(:class:`~deeploc_keras.models.layers_pifia.ImageStandardize`, the code's rule) and
``augment`` flips it up-down and left-right at random in training
(:class:`~deeploc_keras.models.layers.CellAugment`; no crop, no rotation). The logits leave
the model in float32 under any mixed-precision policy (``logits_float32``).

References
----------
Razdaibiedina, A. et al. (2024). PIFiA: self-supervised approach for protein functional
annotation from single-cell imaging data. Molecular Systems Biology 20, 521-548.
"""

from __future__ import annotations

import logging
import math
import numbers
from collections.abc import Sequence

import keras

from ..core.errors import InputError
from .cell_model import CellModel
from .info import model_info
from .layers import CellAugment
from .layers_pifia import ImageStandardize, SelectChannels

__all__ = ["build_pifia", "pifia_feature_model", "protein_channel", "PIFIA_CONV_FILTERS", "PIFIA_DENSE_UNITS",
           "PIFIA_DROPOUT", "PIFIA_PARAMS", "PIFIA_LAYERS"]

logger = logging.getLogger(__name__)

#: Filters of conv1 ... conv8 at width 1.0.
PIFIA_CONV_FILTERS = (64, 64, 128, 128, 256, 256, 256, 256)
#: Units of d1 and d2 (the feature layer) of the published model (``--dense1_size 128 --num_features 64``).
PIFIA_DENSE_UNITS = (128, 64)
#: Dropout after d2 of the published training command.
PIFIA_DROPOUT = 0.02
#: Exact (total, trainable) parameters of the published model: width 1.0, one channel, 4,049 proteins.
PIFIA_PARAMS = (2_732_689, 2_729_873)
#: Layers whose output :func:`pifia_feature_model` can read.
PIFIA_LAYERS = ("d1", "d2", "d3")
#: A max-pool follows these convolutions.
_POOL_AFTER = {2: "pool1", 4: "pool2", 8: "pool3"}


def protein_channel(channel_names: Sequence[str] | None) -> int:
    """Index of the protein (GFP) channel among a store's channels: ``GFP`` if named, else the first.

    Examples
    --------
    >>> protein_channel(["RFP", "GFP"]), protein_channel(["mCherry", "DAPI"]), protein_channel(None)
    (1, 0, 0)
    """
    names = [str(name).upper() for name in channel_names or []]
    return names.index("GFP") if "GFP" in names else 0


def _check_args(num_classes: int, width: float, image_shape: Sequence[int] | None,
                channels: Sequence[int] | None, dropout: float) -> tuple[tuple[int, ...] | None, tuple[int, ...]]:
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 2:
        raise InputError(f"num_classes must be an int >= 2 (proteins); Received: num_classes={num_classes!r}")
    if not isinstance(width, (int, float)) or not math.isfinite(width) or width <= 0:
        raise InputError(f"width must be a finite number > 0; Received: width={width!r}")
    if not 0 <= dropout < 1:
        raise InputError(f"dropout must be in [0, 1); Received: dropout={dropout!r}")
    shape = None
    if image_shape is not None:
        shape = tuple(image_shape)
        if len(shape) != 3 or not all(isinstance(d, numbers.Integral) and d > 0 for d in shape):
            raise InputError(f"image_shape must be (height, width, channels) of positive ints; "
                             f"Received: image_shape={image_shape!r}")
        shape = tuple(int(d) for d in shape)
    chosen = (0,) if channels is None else tuple(int(c) for c in channels)
    return shape, chosen


def build_pifia(num_classes: int, width: float = 1.0, *, image_shape: Sequence[int] | None = None,
                channels: Sequence[int] | None = None, dense_units: Sequence[int] = PIFIA_DENSE_UNITS,
                dropout: float = PIFIA_DROPOUT, seed: int | None = None, protein_ids: Sequence[str] | None = None,
                channel_names: Sequence[str] | None = None) -> CellModel:
    """Build the PIFiA network as a Keras functional model.

    Parameters
    ----------
    num_classes : int
        Proteins the softmax is over (4,049 in the published model), >= 2.
    width : float, default 1.0
        Multiplies the conv filters (``int(filters * width)``, at least 1; the original's
        ``width_factor``); the dense layers keep ``dense_units``. < 1 gives CPU-sized variants.
    image_shape : (int, int, int) or None, default None
        None: the input is the standardized crop, ``(64, 64, len(channels))`` float32.
        Otherwise the raw store crop ``(H, W, C)`` (input name ``cells``), followed by the
        layers ``channels``, ``preprocess`` and ``augment`` (module docstring).
    channels : sequence of int, optional
        Store channels the network reads (with ``image_shape``), default ``(0,)``:
        :func:`protein_channel` picks the GFP channel of a store.
    dense_units : (int, int), default (128, 64)
        Units of ``d1`` and ``d2`` (the original's ``dense1_size`` and ``num_features``).
    dropout : float, default 0.02
        Dropout rate after ``d2`` in training.
    seed : int or None, default None
        Seeds the initialisers (one derived seed per layer) and the augmentation.
    protein_ids : sequence of str, optional
        The protein of each output, recorded in the model's ``info`` as its classes.
    channel_names : sequence of str, optional
        The store's channel names, recorded in ``info``.

    Returns
    -------
    CellModel
        A functional model named ``pifia``; float32 logits ``(batch, num_classes)``.

    Raises
    ------
    InputError
        For ``num_classes < 2``, ``width <= 0``, a dropout outside [0, 1), a bad
        ``image_shape``, bad ``channels``, or ``protein_ids`` of another length.

    Examples
    --------
    >>> model = build_pifia(4049)
    >>> model.count_params(), model.get_layer("flatten").output.shape
    (2732689, (None, 1024))
    >>> build_pifia(5, width=0.125, image_shape=(64, 64, 2)).get_layer("d2").output.shape
    (None, 64)
    """
    shape, chosen = _check_args(num_classes, width, image_shape, channels, dropout)
    if protein_ids is not None and len(protein_ids) != num_classes:
        raise InputError(f"protein_ids must have num_classes={num_classes} entries; "
                         f"Received: {len(protein_ids)} protein_ids")

    def init(i: int) -> keras.initializers.Initializer:
        return keras.initializers.GlorotUniform(seed=None if seed is None else seed + i)

    if shape is None:
        inputs = keras.Input((64, 64, len(chosen)), dtype="float32", name="crops")
        x = inputs
    else:
        inputs = keras.Input(shape, dtype="float32", name="cells")
        x = SelectChannels(channels=chosen, name="channels")(inputs)
        x = ImageStandardize(name="preprocess")(x)
        x = CellAugment(crop_size=None, crop_offsets=1, flips=True, rotations=(0,), seed=seed,
                        name="augment")(x)
    for k, filters in enumerate(PIFIA_CONV_FILTERS, start=1):
        x = keras.layers.Conv2D(max(1, int(filters * width)), 3, padding="valid", kernel_initializer=init(k),
                                name=f"conv{k}")(x)
        x = keras.layers.BatchNormalization(name=f"bn{k}")(x)
        x = keras.layers.ReLU(name=f"relu{k}")(x)
        if k in _POOL_AFTER:
            x = keras.layers.MaxPooling2D(2, 2, padding="valid", name=_POOL_AFTER[k])(x)
    x = keras.layers.Flatten(name="flatten")(x)
    for i, (name, units) in enumerate(zip(("d1", "d2"), dense_units, strict=True), start=len(PIFIA_CONV_FILTERS) + 1):
        x = keras.layers.Dense(int(units), activation="relu", kernel_initializer=init(i), name=name)(x)
    x = keras.layers.Dropout(dropout, seed=seed, name="dropout")(x)
    x = keras.layers.Dense(num_classes, kernel_initializer=init(len(PIFIA_CONV_FILTERS) + 3), name="d3")(x)
    outputs = keras.layers.Activation("linear", dtype="float32", name="logits_float32")(x)
    info = model_info(method="pifia", preset=None, width=width, class_names=protein_ids,
                      channel_names=channel_names, image_shape=shape or (64, 64, len(chosen)))
    model = CellModel(inputs, outputs, name="pifia", info=info)
    logger.debug("built pifia width=%s proteins=%d params=%d", width, num_classes, model.count_params())
    return model


def pifia_feature_model(model: keras.Model, layer: str = "d2") -> keras.Model:
    """The submodel from ``model.input`` to a dense layer's output, in float32 (no second forward pass).

    Parameters
    ----------
    model : keras.Model
        A model from :func:`build_pifia` (or loaded from its ``.keras`` file).
    layer : {"d1", "d2", "d3"}, default "d2"
        ``d2``: the 64-d features after ReLU (the original's ``get_features``); ``d3``: the logits.

    Returns
    -------
    keras.Model
        Shares the weights of ``model``.

    Raises
    ------
    InputError
        For another layer.

    Examples
    --------
    >>> pifia_feature_model(build_pifia(5, width=0.125)).output.shape
    (None, 64)
    """
    if layer not in PIFIA_LAYERS:
        raise InputError(f"layer {layer!r} is not a PIFiA feature layer; expected one of {list(PIFIA_LAYERS)}")
    out = model.get_layer(layer).output
    if out.dtype != "float32":
        out = keras.layers.Activation("linear", dtype="float32", name=f"{layer}_float32")(out)
    return keras.Model(model.input, out, name=f"{model.name}_features_{layer}")
