"""Forward-pass FLOPs of a Keras model, counted analytically from its layer shapes.

Every ``Conv2D`` and ``Dense`` layer costs two FLOPs (a multiply and an add) per
kernel weight per output position: ``2 * kernel.size * prod(output.shape[1:-1])``.
Nested models are walked layer by layer. Biases, BatchNormalization, activations,
pooling, upsampling and the preprocessing layers are left out: for DeepLoc and Paired
Cell Inpainting they add under 1 % (a few FLOPs per activation against hundreds of
multiply-adds per output of a 3x3 convolution). A training step costs about three
forward passes (forward, gradient of the activations, gradient of the weights).
"""

from __future__ import annotations

import math

import keras

__all__ = ["forward_flops", "TRAINING_FLOPS_FACTOR"]

#: Training FLOPs per forward FLOP (forward + backward through activations and weights).
TRAINING_FLOPS_FACTOR = 3


def _layer_flops(layer: keras.layers.Layer) -> int:
    if isinstance(layer, keras.Model):
        return sum(_layer_flops(inner) for inner in layer.layers)
    if not isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
        return 0
    positions = layer.output.shape[1:-1]
    if any(d is None for d in positions):
        raise ValueError(f"layer {layer.name!r} has an unknown spatial output shape; build the model with a fixed "
                         f"input size. Received: output shape {tuple(layer.output.shape)}")
    return 2 * math.prod(layer.kernel.shape) * math.prod(positions)


def forward_flops(model: keras.Model) -> int:
    """FLOPs of one forward pass of one input row through ``model``'s conv and dense layers.

    Parameters
    ----------
    model : keras.Model
        A functional model with fixed spatial input sizes (e.g. from
        :func:`~deeploc_keras.models.deeploc.build_deeploc` or
        :func:`~deeploc_keras.models.pci.build_pci`). Each layer is counted once, as
        applied in the model's graph; a model that runs a shared layer several times per
        row (test-time crops) is undercounted by that factor.

    Returns
    -------
    int
        ``sum(2 * kernel.size * output positions)`` over ``Conv2D`` and ``Dense`` layers.

    Raises
    ------
    ValueError
        If a counted layer's spatial output size is unknown.

    Examples
    --------
    >>> inputs = keras.Input((8, 8, 3))
    >>> x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    >>> outputs = keras.layers.Dense(2)(keras.layers.Flatten()(x))
    >>> forward_flops(keras.Model(inputs, outputs)) == 2 * (3 * 3 * 3 * 4 * 8 * 8 + 8 * 8 * 4 * 2)
    True
    >>> from deeploc_keras.models.deeploc import build_deeploc
    >>> round(forward_flops(build_deeploc(19, "kraus2017", image_shape=(64, 64, 2))) / 1e9, 3)
    1.618
    """
    return sum(_layer_flops(layer) for layer in model.layers)
