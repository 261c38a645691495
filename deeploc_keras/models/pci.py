"""Paired Cell Inpainting (Lu et al. 2019): the self-supervised baseline of the study.

The model sees a *source* cell (protein and marker channels) and only the marker
channel of a *target* cell of the same protein, and paints the target's protein
channel. Layer for layer as ``yeast_model/pair_model.py`` of the original:

========================  ==========================================================
source encoder            conv1_1 96 → BN → pool1 → conv2_1 256 → BN → pool2 →
                          conv3_1 384 → BN → conv4_1 384 → BN → conv5_1 256 → BN
target-marker encoder     rfpconv1_1 16 → BN → rfppool1 → rfpconv2_1 32 → BN →
                          rfppool2 → rfpconv3_1 32 → BN
merge                     concatenate → 288 channels at 16×16
decoder                   conv6_1 256 → conv7_1 384 → conv8_1 384 → up1 ×2 →
                          conv9_1 256 → up2 ×2 → conv10_1 96 → target_protein 1×1
========================  ==========================================================

Every conv is 3×3 SAME with the ReLU inside the conv; the default Keras
BatchNormalization follows the ReLU (encoders only); the output is a linear 1×1
conv in float32. Features (:func:`pci_feature_model`) are the ReLU output of one
source-encoder conv *before* its BN, max-pooled over space.

References
----------
Lu, Kraus, Cooper & Moses (2019). Learning unsupervised feature representations for
single cell microscopy images with paired cell inpainting. PLoS Comput Biol 15(9): e1007348.
"""

from __future__ import annotations

import keras

from ..core.errors import InputError
from .cell_model import CellModel
from .info import model_info
from .layers import TiledMaxPooling2D
from .layers_pci import PerCropMinMax

__all__ = ["PCI_FEATURE_LAYERS", "PCI_PARAMS", "build_pci", "pci_feature_model"]

#: Source-encoder convs whose (pre-BN) ReLU output can serve as features, and their widths at width 1.0.
PCI_FEATURE_LAYERS = {"conv1_1": 96, "conv2_1": 256, "conv3_1": 384, "conv4_1": 384, "conv5_1": 256}
#: Exact (total, trainable) parameters at width 1.0.
PCI_PARAMS = (7_323_521, 7_320_609)

# (name, filters, followed by) for each branch; "bn" = BatchNormalization, "pool" = BN then 2x2 max-pool
_SOURCE = (("conv1_1", 96, "pool1"), ("conv2_1", 256, "pool2"), ("conv3_1", 384, None),
           ("conv4_1", 384, None), ("conv5_1", 256, None))
_MARKER = (("rfpconv1_1", 16, "rfppool1"), ("rfpconv2_1", 32, "rfppool2"), ("rfpconv3_1", 32, None))
_DECODER = (("conv6_1", 256, None), ("conv7_1", 384, None), ("conv8_1", 384, "up1"),
            ("conv9_1", 256, "up2"), ("conv10_1", 96, None))  # fmt: skip


def build_pci(width: float = 1.0, *, seed: int | None = None, image_size: int = 64,
              channel_names: tuple[str, ...] | list[str] | None = None) -> CellModel:
    """Build the Paired Cell Inpainting model.

    Parameters
    ----------
    width : float, default 1.0
        Multiplier of every conv's filters (at least 1 each); 1.0 is the original,
        e.g. 0.125 makes a CPU-sized variant for tests and demos.
    seed : int, optional
        Seed of the Glorot-uniform kernel initialisers (layer k uses ``seed + k``);
        None draws from Keras' global generator.
    image_size : int, default 64
        Height and width of the crops; must be divisible by 4.
    channel_names : sequence of str, optional
        Recorded in the model's ``info`` (saved in the ``.keras`` file).

    Returns
    -------
    CellModel
        A functional Keras model named ``pci``; inputs ``source`` (image_size, image_size, 2: protein, marker)
        and ``target_marker`` (image_size, image_size, 1), floats in [0, 1]; output
        ``target_protein`` (image_size, image_size, 1), linear, float32 under mixed
        precision. 7,323,521 parameters (7,320,609 trainable) at width 1.0.

    Raises
    ------
    InputError
        If ``width`` is not positive or ``image_size`` is not a positive multiple of 4.

    References
    ----------
    Lu et al. (2019), PLoS Comput Biol 15(9): e1007348 (``yeast_model/pair_model.py``).

    Examples
    --------
    >>> model = build_pci(0.125, seed=0)
    >>> [t.shape for t in model.inputs], model.output.shape
    ([(None, 64, 64, 2), (None, 64, 64, 1)], (None, 64, 64, 1))
    >>> build_pci().count_params()
    7323521
    """
    if not width > 0:
        raise InputError(f"width must be positive. Received: width={width}")
    if image_size < 4 or image_size % 4:
        raise InputError(f"image_size must be a positive multiple of 4. Received: image_size={image_size}")
    counter = iter(range(10**6))

    def conv(name: str, filters: int) -> keras.layers.Conv2D:
        init = "glorot_uniform" if seed is None else keras.initializers.GlorotUniform(seed=seed + next(counter))
        return keras.layers.Conv2D(max(1, round(filters * width)), 3, padding="same", activation="relu",
                                   kernel_initializer=init, name=name)

    def encoder(x: keras.KerasTensor, spec: tuple) -> keras.KerasTensor:
        for name, filters, pool in spec:
            x = conv(name, filters)(x)
            x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
            if pool:
                x = TiledMaxPooling2D(2, name=pool)(x)
        return x

    source = keras.Input((image_size, image_size, 2), name="source")
    target_marker = keras.Input((image_size, image_size, 1), name="target_marker")
    x = keras.layers.Concatenate(name="merge")([encoder(source, _SOURCE), encoder(target_marker, _MARKER)])
    for name, filters, up in _DECODER:
        x = conv(name, filters)(x)
        if up:
            x = keras.layers.UpSampling2D(2, name=up)(x)
    init = "glorot_uniform" if seed is None else keras.initializers.GlorotUniform(seed=seed + next(counter))
    out = keras.layers.Conv2D(1, 1, kernel_initializer=init, dtype="float32", name="target_protein")(x)
    info = model_info(method="pci", preset=None, width=width, channel_names=channel_names,
                      image_shape=(image_size, image_size, 2))
    return CellModel([source, target_marker], out, name="pci", info=info)


def pci_feature_model(model: keras.Model, layer: str = "conv4_1") -> keras.Model:
    """Per-cell PCI features: min-max scaling, the source encoder up to ``layer``, spatial max pool.

    The encoder is a submodel of ``model`` ending at the ReLU output of ``layer``
    (before its BatchNormalization), so it shares the trained weights; the target
    encoder and decoder are not used.

    Parameters
    ----------
    model : keras.Model
        A model from :func:`build_pci` (trained or not), e.g. loaded from ``RUN/best.keras``.
    layer : {"conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"}, default "conv4_1"
        Source-encoder conv to read; the original recommends conv3_1 or conv4_1.

    Returns
    -------
    keras.Model
        Input ``crops`` (H, W, 2) raw crops of any real dtype (uint16 counts or floats;
        each crop and channel is min-max scaled to [0, 1] inside the model); output
        (n, filters) float32: 96, 256, 384, 384 or 256 features at width 1.0.

    Raises
    ------
    InputError
        If ``layer`` is not one of :data:`PCI_FEATURE_LAYERS`, or ``model`` lacks it.

    Examples
    --------
    >>> import numpy as np
    >>> features = pci_feature_model(build_pci(0.125, seed=0), "conv3_1")
    >>> features.predict(np.ones((3, 64, 64, 2), np.uint16), verbose=0).shape
    (3, 48)
    """
    if layer not in PCI_FEATURE_LAYERS:
        raise InputError(f"unknown PCI feature layer; expected one of {list(PCI_FEATURE_LAYERS)}. "
                         f"Received: layer={layer!r}")
    try:
        source = model.get_layer("source").output
        conv_out = model.get_layer(layer).output
    except ValueError:
        raise InputError(f"model {model.name!r} is not a PCI model: it has no 'source' input or layer "
                         f"{layer!r}; build it with build_pci or train with --model pci") from None
    encoder = keras.Model(source, conv_out, name=f"pci_encoder_{layer}")
    crops = keras.Input(tuple(source.shape[1:]), name="crops")
    x = PerCropMinMax(name="minmax")(crops)
    x = encoder(x)
    x = keras.layers.GlobalMaxPooling2D(dtype="float32", name=f"{layer}_maxpool")(x)
    return keras.Model(crops, x, name=f"pci_features_{layer}")
