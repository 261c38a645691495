"""Per-crop, per-channel min-max scaling: the intensity normalisation of Paired Cell Inpainting.

Lu et al. (2019) stretch every channel of every crop to [0, 1] on its own
(``skimage.exposure.rescale_intensity`` with ``in_range='image'``). The same
arithmetic serves the pair sampler (:mod:`deeploc_keras.data.pairs`) and the feature
model (:func:`deeploc_keras.models.pci.pci_feature_model`), so training and
extraction see identical inputs.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

__all__ = ["minmax_scale", "PerCropMinMax"]


def minmax_scale(images: Any) -> Any:
    """Scale every channel of every crop to [0, 1] by its own minimum and maximum.

    A constant channel (maximum equal to minimum) becomes all zeros.

    Parameters
    ----------
    images : tensor or array, shape (n, H, W, C), any real dtype
        Raw crops (e.g. uint16 camera counts).

    Returns
    -------
    tensor, shape (n, H, W, C), float32

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[[[10, 5]], [[30, 5]]]], dtype=np.uint16)  # (1, 2, 1, 2)
    >>> np.asarray(minmax_scale(x))[0, :, 0, :].tolist()
    [[0.0, 0.0], [1.0, 0.0]]
    """
    x = ops.cast(images, "float32")
    lo = ops.min(x, axis=(1, 2), keepdims=True)
    return ops.divide_no_nan(x - lo, ops.max(x, axis=(1, 2), keepdims=True) - lo)


@keras.saving.register_keras_serializable(package="deeploc_keras")
class PerCropMinMax(keras.layers.Layer):
    """Keras layer applying :func:`minmax_scale` (computed in float32).

    It accepts crops of any real dtype (uint16 counts included) and computes in
    float32 whatever the global dtype policy, so 16-bit counts cannot overflow
    float16; the next layer casts to its own compute dtype.

    Parameters
    ----------
    **kwargs
        Standard layer arguments (``name``, ...); ``dtype`` defaults to float32.

    Examples
    --------
    >>> import numpy as np
    >>> layer = PerCropMinMax()
    >>> out = layer(np.array([[[[2.0]], [[4.0]]]]))
    >>> np.asarray(out).ravel().tolist()
    [0.0, 1.0]
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.supports_masking = False

    def call(self, inputs: Any) -> Any:
        return minmax_scale(inputs)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)
