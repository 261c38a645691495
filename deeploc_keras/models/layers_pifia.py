"""The input rule of the Razdaibiedina et al. code: the channels the network reads, and their standardization.

``arazd/pifia`` (``model/dataset_utils.py``) and ``arazd/protein_representation_learning``
(``models/dataset_utils.py``) prepare every crop the same way: each channel is min-max
scaled to [0, 1] on its own, the channels are stacked, and the stack is standardized
with ``tf.image.per_image_standardization`` (mean and standard deviation over all its
pixels *and* channels together; the deviation is bounded below by ``1/sqrt(pixels x
channels)``). By default the code reads the GFP channel only; ``use_rfp`` adds RFP.

- :class:`SelectChannels` keeps the store channels the network reads (e.g. GFP of a
  GFP/RFP store);
- :class:`ImageStandardize` is the min-max then per-image standardization above.

Both compute in float32 under any dtype policy and register under the package name
``deeploc_keras``, so a saved model loads without ``custom_objects``.

References
----------
Razdaibiedina, A. et al. (2024). PIFiA: self-supervised approach for protein functional
annotation from single-cell imaging data. Molecular Systems Biology 20, 521-548.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from ..core.errors import InputError

__all__ = ["SelectChannels", "ImageStandardize", "image_standardize"]


def image_standardize(images: Any) -> Any:
    """Min-max scale each channel of each crop to [0, 1], then standardize each crop over all its values.

    ``(m - mean(m)) / max(std(m), 1 / sqrt(H * W * C))`` for ``m`` the min-max scaled crop,
    mean and (population) standard deviation taken over its height, width and channels,
    as ``tf.image.per_image_standardization``. A constant channel scales to zeros (the
    original divides by zero there).

    Parameters
    ----------
    images : tensor or array, shape (n, H, W, C), any real dtype

    Returns
    -------
    tensor, shape (n, H, W, C), float32

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([0, 10, 20, 30], dtype=np.uint16).reshape(1, 2, 2, 1)  # std 0.37 of 0, 1/3, 2/3, 1 < 1/sqrt(4)
    >>> np.round(np.asarray(image_standardize(x), dtype=float).ravel(), 4).tolist()
    [-1.0, -0.3333, 0.3333, 1.0]
    """
    x = ops.cast(images, "float32")
    lo = ops.min(x, axis=(1, 2), keepdims=True)
    scaled = ops.divide_no_nan(x - lo, ops.max(x, axis=(1, 2), keepdims=True) - lo)
    mean = ops.mean(scaled, axis=(1, 2, 3), keepdims=True)
    std = ops.std(scaled, axis=(1, 2, 3), keepdims=True)
    count = float(x.shape[1] * x.shape[2] * x.shape[3])
    return (scaled - mean) / ops.maximum(std, count ** -0.5)


def _check_rank4(shape: Sequence, layer: str) -> None:
    if len(shape) != 4:
        raise InputError(f"{layer} expects batches of shape (cells, height, width, channels); "
                         f"Received: shape={tuple(shape)}")


@keras.saving.register_keras_serializable(package="deeploc_keras")
class SelectChannels(keras.layers.Layer):
    """Keep some channels of each crop, in the given order.

    Parameters
    ----------
    channels : sequence of int
        Indices of the kept channels (distinct, >= 0, below the input's channel count).
    **kwargs
        Standard layer arguments (``name``, ...); ``dtype`` defaults to float32.

    Raises
    ------
    InputError
        For an empty, repeated or negative index, or (when built) one past the input's channels.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.stack([np.zeros((1, 2, 2)), np.ones((1, 2, 2))], axis=-1)
    >>> SelectChannels(channels=[1])(x).numpy()[..., 0].tolist()
    [[[1.0, 1.0], [1.0, 1.0]]]
    """

    def __init__(self, *, channels: Sequence[int], **kwargs: Any) -> None:
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        channels = tuple(int(c) for c in channels)
        if not channels or min(channels) < 0 or len(set(channels)) != len(channels):
            raise InputError(f"channels must be distinct indices >= 0; Received: channels={list(channels)}")
        self.channels = channels

    def build(self, input_shape: tuple) -> None:
        _check_rank4(input_shape, "SelectChannels")
        if input_shape[3] is not None and max(self.channels) >= input_shape[3]:
            raise InputError(f"channel {max(self.channels)} is not among the input's {input_shape[3]} channels; "
                             f"Received: channels={list(self.channels)}")
        super().build(input_shape)

    def call(self, inputs: Any) -> Any:
        x = ops.cast(inputs, "float32")
        if self.channels == tuple(range(x.shape[3])):
            return x
        return ops.take(x, list(self.channels), axis=3)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (*input_shape[:3], len(self.channels))

    def get_config(self) -> dict:
        return {**super().get_config(), "channels": list(self.channels)}


@keras.saving.register_keras_serializable(package="deeploc_keras")
class ImageStandardize(keras.layers.Layer):
    """Keras layer applying :func:`image_standardize` (computed in float32).

    Parameters
    ----------
    **kwargs
        Standard layer arguments (``name``, ...); ``dtype`` defaults to float32.

    Examples
    --------
    >>> import numpy as np
    >>> y = ImageStandardize()(np.arange(32, dtype="float32").reshape(1, 4, 4, 2)).numpy()
    >>> round(float(y.mean()), 6), round(float(y.std()), 4)
    (0.0, 1.0)
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)

    def build(self, input_shape: tuple) -> None:
        _check_rank4(input_shape, "ImageStandardize")
        super().build(input_shape)

    def call(self, inputs: Any) -> Any:
        return image_standardize(inputs)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)
