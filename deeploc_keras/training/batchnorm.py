"""BatchNorm moving statistics that describe the trained network: how converged they are, and re-estimating them.

Keras' ``BatchNormalization`` normalizes a training batch by its own statistics and
keeps, for inference, an exponential moving average of them: after ``n`` updates with
momentum ``m`` a moving statistic still holds ``m ** n`` of the value it had ``n`` steps
before (:func:`initial_share`). With the study's momentum 0.99, an epoch of 60 steps (the
``cpu`` screen of an earlier version at batch 128) leaves 55 % of the statistics of the epoch's
start, and a run of 2 epochs 30 % of the initial values (mean 0, variance 1): validation, the checkpoint choice,
extraction and the monitor would then normalize with statistics of no network that ever
existed. On the study's ~8 million training cells an epoch has 62,500 steps and the moving
averages converge.

:func:`reestimate_batchnorm` replaces every BatchNorm layer's moving mean and variance by
the statistics of its inputs over a sample of training cells ("precise BatchNorm", Wu &
Johnson 2021): one forward pass in which the BatchNorm layers normalize by the batch
statistics (as in training) and every other layer runs in inference mode (no random
augmentation), each layer's batch means and variances combined into the population mean
and variance of the sample. No trainable weight, optimizer state or random state changes.
:class:`BatchNormReestimation` runs it at the end of every epoch before validation, so
the validation loss, the checkpoint and whatever reads the model after the epoch see the
re-estimated statistics.

References
----------
Ioffe, S. & Szegedy, C. (2015). Batch normalization. ICML.
Wu, Y. & Johnson, J. (2021). Rethinking "batch" in BatchNorm. arXiv:2105.07576.
"""

from __future__ import annotations

import functools
import logging
import weakref
from collections.abc import Iterable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from ..core.errors import InputError

__all__ = ["UNCONVERGED_SHARE", "REESTIMATION_CELLS", "initial_share", "batchnorm_layers", "epoch_share",
           "warn_unconverged", "reestimate_batchnorm", "BatchNormReestimation"]

logger = logging.getLogger(__name__)

#: Share of an older value a moving statistic may keep and still count as converged.
UNCONVERGED_SHARE = 0.05
#: Training cells the statistics are re-estimated on (32 batches of 128; at most one epoch's batches).
REESTIMATION_CELLS = 4096

#: The statistics pass of each model, traced once per model object (a sweep's shared model included).
_PROBES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def initial_share(momentum: float, steps: int) -> float:
    """Share of the value a moving average had ``steps`` updates ago that it still holds: ``momentum ** steps``.

    Parameters
    ----------
    momentum : float
        The moving average's momentum, in [0, 1) (Keras ``BatchNormalization(momentum=...)``).
    steps : int
        Updates (training steps), >= 0.

    Returns
    -------
    float

    Raises
    ------
    InputError
        For a momentum outside [0, 1) or negative steps.

    Examples
    --------
    >>> round(initial_share(0.99, 120), 3)  # 2 epochs of 60 steps
    0.299
    >>> initial_share(0.99, 62_500) < UNCONVERGED_SHARE  # one epoch of the study's 8 million cells
    True
    """
    if not 0.0 <= float(momentum) < 1.0:
        raise InputError(f"momentum must be in [0, 1); Received: momentum={momentum}")
    if int(steps) < 0:
        raise InputError(f"steps must be >= 0; Received: steps={steps}")
    return float(momentum) ** int(steps)


def batchnorm_layers(model: keras.Model) -> list[keras.layers.BatchNormalization]:
    """The ``BatchNormalization`` layers of a model, nested models included, in layer order.

    Examples
    --------
    >>> from deeploc_keras.models.deeploc import build_deeploc
    >>> [layer.name for layer in batchnorm_layers(build_deeploc(3, width=0.125))][:2]
    ['conv_1_bn', 'conv_2_bn']
    """
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            found.append(layer)
        elif isinstance(layer, keras.Model):
            found.extend(batchnorm_layers(layer))
    return found


def epoch_share(model: keras.Model, steps_per_epoch: int) -> float:
    """The largest share of its value at an epoch's start that a BatchNorm moving statistic keeps at the epoch's end.

    Parameters
    ----------
    model : keras.Model
    steps_per_epoch : int
        Training steps (moving-average updates) per epoch.

    Returns
    -------
    float
        ``max(momentum) ** steps_per_epoch`` over the model's BatchNorm layers; 0.0 without BatchNorm.

    Examples
    --------
    >>> from deeploc_keras.models.deeploc import build_deeploc
    >>> round(epoch_share(build_deeploc(3, "study", width=0.125), 60), 3)
    0.547
    """
    momenta = [float(layer.momentum) for layer in batchnorm_layers(model)]
    return initial_share(max(momenta), steps_per_epoch) if momenta else 0.0


@functools.cache
def _log_unconverged(momentum: float, steps_per_epoch: int, share: float) -> None:
    logger.warning("BatchNorm momentum %g over %d steps per epoch keeps %.0f%% of the moving statistics' values at "
                   "the epoch's start (more than %.0f%%): they are re-estimated on up to %d training cells before each "
                   "validation (docs/training.md, \"BatchNorm statistics\")", momentum, steps_per_epoch, 100 * share,
                   100 * UNCONVERGED_SHARE, REESTIMATION_CELLS)


def warn_unconverged(model: keras.Model, steps_per_epoch: int) -> bool:
    """Whether an epoch leaves the model's moving statistics unconverged (:func:`epoch_share` > 5 %); warn if so.

    The warning is logged once per process for each momentum and epoch length.

    Examples
    --------
    >>> from deeploc_keras.models.deeploc import build_deeploc
    >>> warn_unconverged(build_deeploc(3, "study", width=0.125), 62_500)
    False
    """
    share = epoch_share(model, steps_per_epoch)
    if share <= UNCONVERGED_SHARE:
        return False
    _log_unconverged(max(float(layer.momentum) for layer in batchnorm_layers(model)), int(steps_per_epoch), share)
    return True


def _probe(model: keras.Model, jit_compile: bool) -> tuple[Any, list[keras.layers.BatchNormalization]]:
    """A traced function returning each BatchNorm layer's batch mean and variance (float32) for one batch.

    The model's own layers are called again on new inputs: BatchNorm layers in training mode
    (normalized by the batch), every other layer in inference mode.
    """
    cached = _PROBES.get(model)
    if cached is not None:
        return cached
    layers: list[keras.layers.BatchNormalization] = []
    moments: list[Any] = []

    def call(layer: keras.layers.Layer, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(layer, keras.layers.BatchNormalization):
            return layer(*args, **{**kwargs, "training": False})
        x = keras.ops.cast(args[0], "float32")
        rank = len(x.shape)
        kept = {int(a) % rank for a in np.atleast_1d(layer.axis)}
        mean, variance = keras.ops.moments(x, axes=[i for i in range(rank) if i not in kept])
        layers.append(layer)
        moments.extend([mean, variance])
        return layer(*args, **{**kwargs, "training": True})

    clone = keras.models.clone_model(model, clone_function=lambda layer: layer, call_function=call, recursive=True)
    stats = keras.Model(clone.inputs, moments, name=f"{model.name}_batchnorm_statistics")
    function = tf.function(lambda x: stats(x, training=None), jit_compile=jit_compile, reduce_retracing=True)
    _PROBES[model] = (function, layers)
    return function, layers


def _inputs(element: Any) -> Any:
    """The model inputs of a dataset element: ``x`` of ``(x, y)`` / ``(x, y, w)``, else the element itself."""
    return element[0] if isinstance(element, tuple) and len(element) in (2, 3) else element


def reestimate_batchnorm(model: keras.Model, batches: Iterable[Any], *, jit_compile: bool = True) -> int:
    """Set every BatchNorm layer's moving mean and variance to the statistics of its inputs over ``batches``.

    One forward pass over ``batches``: the BatchNorm layers normalize by the batch statistics
    (as in training), every other layer runs in inference mode (augmentation off, so no random
    draw is made). Each BatchNorm layer's per-batch means and (biased) variances are combined
    into the mean and variance over all its inputs (the law of total variance, weighted by batch
    size); these become its moving statistics. Trainable weights, the optimizer and every other
    variable keep their values.

    Parameters
    ----------
    model : keras.Model
        A functional model (nested functional models included).
    batches : iterable
        Batches of the model's inputs: arrays, tensors or a ``tf.data.Dataset``; an
        ``(x, y)`` or ``(x, y, sample_weight)`` element uses ``x``. Use training cells
        and the training batch size, so that the batch statistics are those of training.
    jit_compile : bool, default True
        Compile the pass with XLA (not under a distribution strategy).

    Returns
    -------
    int
        Number of input rows (cells) the statistics were computed on.

    Raises
    ------
    InputError
        If ``batches`` is empty.

    Examples
    --------
    >>> import numpy as np, keras
    >>> inputs = keras.Input((3,))
    >>> model = keras.Model(inputs, keras.layers.BatchNormalization(name="bn")(inputs))
    >>> x = np.random.default_rng(0).normal(5.0, 2.0, (64, 3)).astype("float32")
    >>> reestimate_batchnorm(model, [x[:32], x[32:]], jit_compile=False)
    64
    >>> bool(np.allclose(model.get_layer("bn").moving_mean.numpy(), x.mean(axis=0), atol=1e-5))
    True
    """
    batchnorms = batchnorm_layers(model)
    if not batchnorms:
        return 0
    function, layers = _probe(model, jit_compile and not tf.distribute.has_strategy())
    first = [np.zeros(layer.moving_mean.shape, np.float64) for layer in layers]
    second = [np.zeros(layer.moving_mean.shape, np.float64) for layer in layers]
    rows = 0
    for element in batches:
        x = _inputs(element)
        n = int(tf.nest.flatten(x)[0].shape[0])
        values = [np.asarray(v, np.float64) for v in function(x)]
        for k in range(len(layers)):
            mean, variance = values[2 * k], values[2 * k + 1]
            first[k] += n * mean
            second[k] += n * (variance + mean ** 2)
        rows += n
    if rows == 0:
        raise InputError("reestimate_batchnorm needs at least one batch; Received: no batches")
    for layer, s1, s2 in zip(layers, first, second, strict=True):
        mean = s1 / rows
        layer.moving_mean.assign(mean.astype(np.float32))
        layer.moving_variance.assign(np.maximum(s2 / rows - mean ** 2, 0.0).astype(np.float32))
    return rows


class BatchNormReestimation(keras.callbacks.Callback):
    """Re-estimate the BatchNorm moving statistics at the end of every epoch, before validation.

    Runs :func:`reestimate_batchnorm` on ``batches`` when the epoch's validation begins
    (``on_test_begin`` inside ``fit``), or at the epoch's end when there is no validation,
    before the callbacks that follow it (checkpoint, monitor, backup) read the model.

    Parameters
    ----------
    batches : iterable
        Training batches (a ``tf.data.Dataset`` is iterated anew each epoch); their
        first component is the model input.
    jit_compile : bool, default True
        As in :func:`reestimate_batchnorm`.

    Examples
    --------
    >>> import numpy as np, keras
    >>> inputs = keras.Input((3,))
    >>> model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.BatchNormalization(name="bn")(inputs)))
    >>> model.compile("sgd", "mse")
    >>> x = np.random.default_rng(0).normal(5.0, 2.0, (64, 3)).astype("float32")
    >>> callback = BatchNormReestimation([x], jit_compile=False)
    >>> _ = model.fit(x, np.zeros(64), epochs=1, verbose=0, callbacks=[callback])
    >>> bool(np.allclose(model.get_layer("bn").moving_variance.numpy(), x.var(axis=0), rtol=1e-4))
    True
    """

    def __init__(self, batches: Iterable[Any], *, jit_compile: bool = True) -> None:
        super().__init__()
        self._batches = batches
        self._jit_compile = bool(jit_compile)
        self._done = False

    def _reestimate(self) -> None:
        if not self._done:
            cells = reestimate_batchnorm(self.model, self._batches, jit_compile=self._jit_compile)
            logger.debug("BatchNorm moving statistics re-estimated on %d training cells", cells)
            self._done = True

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._done = False

    def on_test_begin(self, logs: dict | None = None) -> None:
        self._reestimate()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._reestimate()
