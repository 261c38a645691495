"""Preprocessing Keras layers that run at the start of the DeepLoc model (on the device).

The input pipeline hands raw integer crops to the model; these layers turn them into
what the network sees, on whole batches with TensorFlow ops (no per-cell Python):

- :class:`PercentileStretch` -- the original DeepLoc per-cell, per-channel percentile
  stretch (``preprocess_images.stretchVector``);
- :class:`Standardize` -- per-cell, per-channel mean 0 / variance 1 (the study);
- :class:`CellAugment` -- random crop, flips and rot90 per cell in training, a centre
  crop at inference;
- :class:`FixedCrops` and :class:`CropAverage` -- fixed test-time crops stacked along
  the batch axis and their average (DeepLoc's 5-crop test-time augmentation);
- :class:`TiledMaxPooling2D` -- Keras' ``MaxPooling2D`` for windows that tile the input
  (pool size = strides), computed as a reshape and a max (no window ops).

The preprocessing layers compute in float32 whatever the global dtype policy (raw 16-bit
counts do not fit float16); all layers serialize with a complete ``get_config`` and are registered under the
package name ``deeploc_keras``, so a saved ``.keras`` model loads without
``custom_objects`` once this module is imported (``deeploc_keras.models.deeploc``
imports it).

References
----------
Kraus, O. Z. et al. (2017). Automated analysis of high-content microscopy data with
deep learning. Molecular Systems Biology 13, 924.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from ..core.errors import InputError

__all__ = ["PercentileStretch", "Standardize", "CellAugment", "FixedCrops", "CropAverage", "TiledMaxPooling2D",
           "five_crop_offsets"]

_PACKAGE = "deeploc_keras"
#: Key of :class:`CellAugment`'s random state among its saved variables.
_RANDOM_STATE = "random_state"


def five_crop_offsets(size: int, crop_size: int) -> tuple[tuple[int, int], ...]:
    """The (row, col) offsets of DeepLoc's five test-time crops: centre, then the four corners.

    Parameters
    ----------
    size : int
        Side of the square input (64 in the original).
    crop_size : int
        Side of the crops (60 in the original).

    Returns
    -------
    tuple of (int, int)
        ``(d//2, d//2), (0, 0), (0, d), (d, 0), (d, d)`` with ``d = size - crop_size``.

    Raises
    ------
    InputError
        If ``crop_size`` is not in ``1..size``.

    Examples
    --------
    >>> five_crop_offsets(64, 60)
    ((2, 2), (0, 0), (0, 4), (4, 0), (4, 4))
    """
    if not 1 <= crop_size <= size:
        raise InputError(f"crop_size must be in 1..{size}; Received: crop_size={crop_size}")
    d = size - crop_size
    return ((d // 2, d // 2), (0, 0), (0, d), (d, 0), (d, d))


def _float_layer_kwargs(kwargs: dict) -> dict:
    """Preprocessing runs in float32 under any mixed-precision policy."""
    kwargs.setdefault("dtype", "float32")
    return kwargs


def _check_rank4(shape: Sequence, layer: str) -> None:
    if len(shape) != 4:
        raise InputError(f"{layer} expects batches of shape (cells, height, width, channels); "
                         f"Received: shape={tuple(shape)}")


def _built_size(x: tf.Tensor, built: tuple | None, layer: str) -> tf.Tensor:
    """``x`` with the height and width ``built`` (a layer's build size): unknown sizes take them (checked when
    run), another known size is refused in one line."""
    size = tuple(x.shape[1:3])
    if built is None or None in built or size == tuple(built):
        return x
    if None in size:
        return tf.ensure_shape(x, (None, *built, None))
    raise InputError(f"crops are {size[0]}x{size[1]} but this model takes {built[0]}x{built[1]} crops ({layer}); "
                     "give crops of the model's size (import --crop-size) or train a model on these")


def _dihedral_table() -> np.ndarray:
    """``table[ud, lr, k]`` = (transpose, reverse rows, reverse cols), applied in that order, equal to an
    up-down flip (``ud``), then a left-right flip (``lr``), then ``np.rot90(., k)`` on (rows, cols)."""
    probe = np.arange(9).reshape(3, 3)
    table = np.zeros((2, 2, 4, 3), np.int32)
    for ud, lr, k in np.ndindex(2, 2, 4):
        target = np.rot90(probe[::-1 if ud else 1, ::-1 if lr else 1], k)
        table[ud, lr, k] = next(code for code in np.ndindex(2, 2, 2)
                                if np.array_equal(_apply_code(probe, code), target))
    return table


def _apply_code(image: np.ndarray, code: tuple[int, int, int]) -> np.ndarray:
    transpose, rows, cols = code
    image = image.T if transpose else image
    return image[::-1 if rows else 1, ::-1 if cols else 1]


#: The one transform (transpose?, reverse rows?, reverse cols?) of each (up-down flip, left-right flip, rot90 k).
_DIHEDRAL = _dihedral_table()


@keras.saving.register_keras_serializable(package=_PACKAGE)
class PercentileStretch(keras.layers.Layer):
    """The original DeepLoc intensity stretch, per cell and per channel.

    For each cell and channel, over all its pixels: ``lo``/``hi`` are the ``lower``/``upper``
    percentiles (linear interpolation, as ``np.percentile``); values above ``hi`` are
    clipped to ``hi`` (values below ``lo`` are *not* clipped); ``lo`` is subtracted; the
    result is divided by ``hi - lo`` only where ``hi - lo > min_range``.

    Parameters
    ----------
    lower, upper : float, default 0.1, 99.9
        Percentiles in [0, 100], ``lower < upper``.
    min_range : float, default 1.0
        Divide only where ``hi - lo`` exceeds this (the original's raw-count rule).
    **kwargs
        Passed to :class:`keras.layers.Layer` (``name``, ...).

    Raises
    ------
    InputError
        For percentiles outside [0, 100] or ``lower >= upper``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1) * 10
    >>> y = PercentileStretch(lower=0, upper=100)(x).numpy()
    >>> float(y.min()), float(y.max())
    (0.0, 1.0)
    """

    def __init__(self, *, lower: float = 0.1, upper: float = 99.9, min_range: float = 1.0, **kwargs) -> None:
        super().__init__(**_float_layer_kwargs(kwargs))
        if not (0.0 <= float(lower) < float(upper) <= 100.0):
            raise InputError(f"percentiles must satisfy 0 <= lower < upper <= 100; "
                             f"Received: lower={lower}, upper={upper}")
        self.lower = float(lower)
        self.upper = float(upper)
        self.min_range = float(min_range)

    def _percentiles(self, flat: tf.Tensor, n: int) -> tuple[tf.Tensor, tf.Tensor]:
        """Linear-interpolated lower/upper percentiles of ``flat`` (..., n) via top_k."""
        out = []
        for q in (self.lower, self.upper):
            pos = q / 100.0 * (n - 1)
            i0 = int(pos)
            i1 = min(i0 + 1, n - 1)
            frac = pos - i0
            if i1 < n // 2:  # ascending order statistics i0, i1: the smallest i1 + 1 values
                smallest = -tf.math.top_k(-flat, k=i1 + 1, sorted=True).values
                v0, v1 = smallest[..., i0], smallest[..., i1]
            else:  # the largest n - i0 values, descending
                largest = tf.math.top_k(flat, k=n - i0, sorted=True).values
                v0, v1 = largest[..., n - 1 - i0], largest[..., n - 1 - i1]
            out.append(v0 + (v1 - v0) * frac)
        return out[0], out[1]

    def build(self, input_shape):
        _check_rank4(input_shape, "PercentileStretch")
        self._size = tuple(input_shape[1:3])
        super().build(input_shape)

    def call(self, inputs):
        x = tf.cast(inputs, "float32")
        _check_rank4(x.shape, "PercentileStretch")
        x = _built_size(x, getattr(self, "_size", None), self.name)
        h, w = x.shape[1], x.shape[2]
        n = h * w
        flat = tf.reshape(tf.transpose(x, [0, 3, 1, 2]), [-1, x.shape[3], n])
        lo, hi = self._percentiles(flat, n)
        lo = lo[:, None, None, :]
        hi = hi[:, None, None, :]
        span = hi - lo
        y = tf.minimum(x, hi) - lo
        return tf.where(span > self.min_range, y / tf.where(span > self.min_range, span, 1.0), y)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "lower": self.lower, "upper": self.upper, "min_range": self.min_range}


#: Magnitude above which :class:`Standardize` rescales a crop before its moments (squares stay below float32's max).
_LARGE = float(2**56)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Standardize(keras.layers.Layer):
    """Per-cell, per-channel standardization to mean 0 and variance 1.

    ``(x - mean) / max(std, epsilon)`` over the spatial axes of each cell and channel
    (like ``tf.image.per_image_standardization``, but channel by channel).

    Parameters
    ----------
    epsilon : float, default 1e-6
        Lower bound of the standard deviation (constant channels map to 0), > 0.
    **kwargs
        Passed to :class:`keras.layers.Layer`.

    Raises
    ------
    InputError
        For ``epsilon <= 0``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).integers(0, 4000, (2, 8, 8, 2)).astype("uint16")
    >>> y = Standardize()(x).numpy()
    >>> bool(np.allclose(y.mean(axis=(1, 2)), 0, atol=1e-5)), bool(np.allclose(y.var(axis=(1, 2)), 1, atol=1e-4))
    (True, True)
    """

    def __init__(self, *, epsilon: float = 1e-6, **kwargs) -> None:
        super().__init__(**_float_layer_kwargs(kwargs))
        if not float(epsilon) > 0:
            raise InputError(f"epsilon must be > 0; Received: epsilon={epsilon}")
        self.epsilon = float(epsilon)

    def call(self, inputs):
        x = tf.cast(inputs, "float32")
        _check_rank4(x.shape, "Standardize")
        # a crop with values beyond 2**56 is divided by its largest magnitude first (the result is the same), so
        # its sum and squared deviations stay finite in float32; other crops are divided by 1 (bit for bit the same)
        peak = tf.reduce_max(tf.abs(x), axis=[1, 2], keepdims=True)
        scale = tf.where(peak > _LARGE, peak, tf.ones_like(peak))
        x = x / scale
        mean, var = tf.nn.moments(x, axes=[1, 2], keepdims=True)
        return (x - mean) / tf.maximum(tf.sqrt(var), self.epsilon / scale)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CellAugment(keras.layers.Layer):
    """DeepLoc's augmentation: per-cell random crop, flips and rot90 (training); centre crop (inference).

    In training each cell gets its own row and column crop offsets drawn from
    ``range(crop_offsets)``, then (if ``flips``) an up-down and a left-right flip with
    probability 0.5 each, then a counter-clockwise ``rot90`` (as ``np.rot90``) with ``k``
    drawn uniformly from ``rotations``. At inference the crop is the centre one, at offset
    ``(size - crop_size) // 2``, and nothing else changes. The state of the random draws is
    saved with the weights (``save_weights``, ``.keras``), so a training run restored from
    its backup draws what the uninterrupted run would have drawn.

    Parameters
    ----------
    crop_size : int or None, default 60
        Output side; None keeps the input size (no crop).
    crop_offsets : int, default 4
        Training offsets are drawn from ``range(crop_offsets)`` (the original: 4, so 0-3);
        ``crop_size + crop_offsets - 1`` must not exceed the input size.
    flips : bool, default True
    rotations : sequence of int, default (0, 1, 2)
        Allowed ``k`` in {0, 1, 2, 3} (the original: 0-2).
    seed : int or None, default None
        Seed of the random draws.
    **kwargs
        Passed to :class:`keras.layers.Layer`.

    Raises
    ------
    InputError
        For a crop size < 1, ``crop_offsets < 1``, an empty or invalid ``rotations``,
        and (when built) offsets that leave the input or odd ``k`` on a non-square crop.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(2 * 64 * 64 * 2, dtype="float32").reshape(2, 64, 64, 2)
    >>> aug = CellAugment(crop_size=60, seed=0)
    >>> aug(x, training=True).shape, bool((aug(x).numpy() == x[:, 2:62, 2:62]).all())
    (TensorShape([2, 60, 60, 2]), True)
    """

    def __init__(self, *, crop_size: int | None = 60, crop_offsets: int = 4, flips: bool = True,
                 rotations: Sequence[int] = (0, 1, 2), seed: int | None = None, **kwargs) -> None:
        super().__init__(**_float_layer_kwargs(kwargs))
        if crop_size is not None and int(crop_size) < 1:
            raise InputError(f"crop_size must be a positive int or None; Received: crop_size={crop_size}")
        if int(crop_offsets) < 1:
            raise InputError(f"crop_offsets must be >= 1 (offsets are drawn from range(crop_offsets)); "
                             f"Received: crop_offsets={crop_offsets}")
        rotations = tuple(int(k) for k in rotations)
        if not rotations or any(k not in (0, 1, 2, 3) for k in rotations) or len(set(rotations)) != len(rotations):
            raise InputError(f"rotations must be distinct k in {{0, 1, 2, 3}}; Received: rotations={rotations}")
        self.crop_size = None if crop_size is None else int(crop_size)
        self.crop_offsets = int(crop_offsets)
        self.flips = bool(flips)
        self.rotations = rotations
        self.seed = seed
        self._seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        _check_rank4(input_shape, "CellAugment")
        h, w = input_shape[1], input_shape[2]
        ch, cw = self._crop_shape(h, w)
        if ch + self.crop_offsets - 1 > h or cw + self.crop_offsets - 1 > w:
            raise InputError(f"crop_size {ch}x{cw} with offsets range({self.crop_offsets}) leaves the "
                             f"{h}x{w} input; Received: input_shape={tuple(input_shape)}")
        if ch != cw and any(k % 2 for k in self.rotations):
            raise InputError(f"odd rot90 needs a square crop; Received: crop {ch}x{cw}, rotations={self.rotations}")
        self._size = (h, w)
        super().build(input_shape)

    def _crop_shape(self, h: int, w: int) -> tuple[int, int]:
        return (h, w) if self.crop_size is None else (self.crop_size, self.crop_size)

    def call(self, inputs, training=None):
        x = _built_size(tf.cast(inputs, "float32"), getattr(self, "_size", None), self.name)
        h, w = x.shape[1], x.shape[2]
        ch, cw = self._crop_shape(h, w)
        if not training:
            r0, c0 = (h - ch) // 2, (w - cw) // 2
            return x[:, r0:r0 + ch, c0:c0 + cw, :]
        batch = tf.shape(x)[0]
        offsets = keras.random.randint((batch, 2), 0, self.crop_offsets, seed=self._seed_generator, dtype="int32")
        if self.crop_offsets > 1:
            rows = offsets[:, :1] + tf.range(ch)[None, :]
            cols = offsets[:, 1:] + tf.range(cw)[None, :]
            x = tf.gather(x, rows, axis=1, batch_dims=1)
            x = tf.gather(x, cols, axis=2, batch_dims=1)
        else:
            x = x[:, :ch, :cw, :]
        zeros = tf.zeros((batch,), "int32")
        flips = keras.random.randint((batch, 2), 0, 2, seed=self._seed_generator, dtype="int32") if self.flips \
            else tf.stack([zeros, zeros], axis=1)
        k = zeros
        if self.rotations != (0,):
            choice = keras.random.randint((batch,), 0, len(self.rotations), seed=self._seed_generator, dtype="int32")
            k = tf.gather(tf.constant(self.rotations, "int32"), choice)
        return self._transform(x, tf.gather_nd(tf.constant(_DIHEDRAL), tf.stack([flips[:, 0], flips[:, 1], k], 1)))

    def _transform(self, x: tf.Tensor, codes: tf.Tensor) -> tf.Tensor:
        """Apply each cell's (transpose?, reverse rows?, reverse cols?) with one select per part that can occur."""
        possible = _DIHEDRAL[:2 if self.flips else 1, :2 if self.flips else 1][..., list(self.rotations), :]
        for part in range(3):
            if not possible[..., part].any():
                continue
            changed = tf.transpose(x, [0, 2, 1, 3]) if part == 0 else tf.reverse(x, [part])
            x = tf.where(codes[:, part, None, None, None] > 0, changed, x)
        return x

    def compute_output_shape(self, input_shape):
        ch, cw = self._crop_shape(input_shape[1], input_shape[2])
        return (input_shape[0], ch, cw, input_shape[3])

    def save_own_variables(self, store) -> None:
        """Save the random state with the weights, so a run restored from a backup continues the same draws."""
        super().save_own_variables(store)
        store[_RANDOM_STATE] = self._seed_generator.state

    def load_own_variables(self, store) -> None:
        """Restore the random state (files written before it was saved keep the state of the seed)."""
        if _RANDOM_STATE in store:
            self._seed_generator.state.assign(store[_RANDOM_STATE])

    def get_config(self) -> dict:
        return {**super().get_config(), "crop_size": self.crop_size, "crop_offsets": self.crop_offsets,
                "flips": self.flips, "rotations": list(self.rotations), "seed": self.seed}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class FixedCrops(keras.layers.Layer):
    """Fixed crops of every cell, stacked along the batch axis (crop-major).

    For ``n`` offsets and a batch of ``B`` cells the output has ``n * B`` rows: all cells
    at the first offset, then all at the second, ... (:class:`CropAverage` undoes this).

    Parameters
    ----------
    crop_size : int
        Side of the square crops, >= 1.
    offsets : sequence of (int, int)
        (row, col) top-left corners, at least one.
    **kwargs
        Passed to :class:`keras.layers.Layer`.

    Raises
    ------
    InputError
        For an empty offset list, a crop size < 1, or (when built) a crop that leaves the input.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.zeros((3, 64, 64, 2), "float32")
    >>> FixedCrops(crop_size=60, offsets=five_crop_offsets(64, 60))(x).shape
    TensorShape([15, 60, 60, 2])
    """

    def __init__(self, *, crop_size: int, offsets: Sequence[Sequence[int]], **kwargs) -> None:
        super().__init__(**_float_layer_kwargs(kwargs))
        offsets = tuple((int(r), int(c)) for r, c in offsets)
        if int(crop_size) < 1 or not offsets or any(r < 0 or c < 0 for r, c in offsets):
            raise InputError(f"FixedCrops needs crop_size >= 1 and at least one non-negative (row, col) offset; "
                             f"Received: crop_size={crop_size}, offsets={offsets}")
        self.crop_size = int(crop_size)
        self.offsets = offsets

    def build(self, input_shape):
        _check_rank4(input_shape, "FixedCrops")
        limit = max(max(r, c) for r, c in self.offsets) + self.crop_size
        if limit > min(input_shape[1], input_shape[2]):
            raise InputError(f"crops of {self.crop_size} at offsets {self.offsets} leave the input; "
                             f"Received: input_shape={tuple(input_shape)}")
        super().build(input_shape)

    def call(self, inputs):
        x = tf.cast(inputs, "float32")
        s = self.crop_size
        return tf.concat([x[:, r:r + s, c:c + s, :] for r, c in self.offsets], axis=0)

    def compute_output_shape(self, input_shape):
        batch = None if input_shape[0] is None else input_shape[0] * len(self.offsets)
        return (batch, self.crop_size, self.crop_size, input_shape[3])

    def get_config(self) -> dict:
        return {**super().get_config(), "crop_size": self.crop_size, "offsets": [list(o) for o in self.offsets]}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CropAverage(keras.layers.Layer):
    """Average crop-major stacked rows (the output of :class:`FixedCrops` after a network) per cell.

    Parameters
    ----------
    num_crops : int
        Crops per cell, >= 1.
    softmax : bool, default False
        Average softmax probabilities instead of raw values (the original's 5-crop rule
        for the logits).
    **kwargs
        Passed to :class:`keras.layers.Layer`.

    Raises
    ------
    InputError
        For ``num_crops < 1``.

    Examples
    --------
    >>> import numpy as np
    >>> CropAverage(num_crops=2)(np.array([[0.0], [1.0], [2.0], [3.0]], "float32")).numpy().ravel().tolist()
    [1.0, 2.0]
    """

    def __init__(self, *, num_crops: int, softmax: bool = False, **kwargs) -> None:
        super().__init__(**_float_layer_kwargs(kwargs))
        if int(num_crops) < 1:
            raise InputError(f"num_crops must be >= 1; Received: num_crops={num_crops}")
        self.num_crops = int(num_crops)
        self.softmax = bool(softmax)

    def call(self, inputs):
        x = tf.cast(inputs, "float32")
        if self.softmax:
            x = tf.nn.softmax(x, axis=-1)
        x = tf.reshape(x, [self.num_crops, -1, *x.shape[1:]])
        return tf.reduce_mean(x, axis=0)

    def compute_output_shape(self, input_shape):
        batch = None if input_shape[0] is None else input_shape[0] // self.num_crops
        return (batch, *input_shape[1:])

    def get_config(self) -> dict:
        return {**super().get_config(), "num_crops": self.num_crops, "softmax": self.softmax}


def _tiled_extent(size: int, pool: int, padding: str) -> tuple[int, int, int]:
    """(rows before, rows after, output size) that make ``size`` whole windows, as TensorFlow's SAME/VALID pools do."""
    if padding == "valid":
        out = size // pool
        return 0, out * pool - size, out
    out = -(-size // pool)
    total = out * pool - size
    return total // 2, total - total // 2, out


@keras.saving.register_keras_serializable(package=_PACKAGE)
class TiledMaxPooling2D(keras.layers.MaxPooling2D):
    """Keras' ``MaxPooling2D`` computed as a reshape and a max where the windows tile the input.

    With ``pool_size == strides`` (non-overlapping windows) and channels-last data the
    input is padded with -inf (``"same"``) or cut (``"valid"``) to whole windows exactly
    as TensorFlow's pool does, reshaped to ``(batch, rows, pool, cols, pool, channels)``
    and reduced with a max. The output equals ``MaxPooling2D``'s bit for bit. The
    gradient of a window goes to its maximum; where several elements of a window are
    exactly equal to the maximum it is split among them (``MaxPooling2D`` gives it all to
    the first). After a ReLU the tied elements are the zeros, whose gradient the ReLU
    sets to zero either way. XLA compiles the window operations of ``MaxPooling2D``'s
    gradient into slow scatter loops on the CPU (~10x this layer's cost for DeepLoc's
    pools); this form compiles into element-wise loops. Other configurations call
    ``MaxPooling2D``.

    Parameters
    ----------
    *args, **kwargs
        Those of :class:`keras.layers.MaxPooling2D`.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(2, 15, 15, 3)).astype("float32")
    >>> ours = TiledMaxPooling2D(2, 2, padding="same")(x).numpy()
    >>> bool((ours == keras.layers.MaxPooling2D(2, 2, padding="same")(x).numpy()).all()), ours.shape
    (True, (2, 8, 8, 3))
    """

    def call(self, inputs):
        rank4 = len(inputs.shape) == 4 and self.data_format == "channels_last"
        if not rank4 or tuple(self.pool_size) != tuple(self.strides) or None in inputs.shape[1:]:
            return super().call(inputs)
        (ph, pw), (_, h, w, c) = self.pool_size, inputs.shape
        top, bottom, rows = _tiled_extent(h, ph, self.padding)
        left, right, cols = _tiled_extent(w, pw, self.padding)
        x = inputs
        if min(bottom, right) < 0:
            x = x[:, :rows * ph, :cols * pw, :]
        if max(top, bottom, left, right) > 0:
            pads = [[0, 0], [top, max(bottom, 0)], [left, max(right, 0)], [0, 0]]
            x = tf.pad(x, pads, constant_values=float("-inf"))
        return tf.reduce_max(tf.reshape(x, [-1, rows, ph, cols, pw, c]), axis=[2, 4])
