"""What a store-reading dataset is made of: a :class:`Source` of numbered steps, streamed by :func:`source_dataset`.

A source knows the order of one kind of input (:mod:`deeploc_keras.data.order`) and reads
its steps with the store's reader (:meth:`deeploc_keras.data.store.CellStore.reader`): the
windows of batches of :mod:`deeploc_keras.data.pipeline`, the pairs of cells of
:mod:`deeploc_keras.data.pairs`. :func:`source_dataset` turns any source into a
``tf.data`` dataset whose every iteration is the source's next epoch, its steps read by
parallel ``tf.data`` map calls in order. ``Dataset.from_generator`` is not used, because
building one pins glibc's mmap threshold for the whole process (TensorFlow's Python 3.11
patch), after which every large allocation of the process (HDF5's chunk buffers among them)
faults in fresh pages.

This module loads TensorFlow only when a dataset is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:  # TensorFlow is imported when a dataset is built, so the CLI starts fast
    import tensorflow as tf

__all__ = ["Source", "source_dataset"]


class Source(Protocol):
    """The steps of a dataset's epochs, read from a store.

    Each iteration of a dataset calls :meth:`start_epoch` once; :meth:`read` may run in
    several threads at once and returns the same arrays for the same ``(epoch, step)``
    whatever the threads' timing.
    """

    #: Steps of one epoch.
    steps_per_epoch: int

    def start_epoch(self) -> tuple[np.int64, np.int64]:
        """The epoch number of a new iteration, and its number of steps."""

    def read(self, epoch: np.int64, step: np.int64) -> tuple[np.ndarray, ...]:
        """The arrays of step ``step`` of ``epoch``."""


def source_dataset(
    source: Source,
    dtypes: Sequence[tf.DType],
    shapes: Sequence[tuple[int | None, ...]],
    *,
    parallel: int,
    repeat: bool = False,
) -> tf.data.Dataset:
    """The steps of ``source`` as dataset elements; each iteration is its next epoch (with ``repeat``, all of them).

    Parameters
    ----------
    source : Source
    dtypes : sequence of tf.DType
        The dtypes of the arrays :meth:`Source.read` returns.
    shapes : sequence of tuple
        Their static shapes (None where a size varies).
    parallel : int
        Steps read at the same time (``tf.data.AUTOTUNE`` allowed); the order stays the steps' order.
    repeat : bool, default False
        One iteration runs through epoch after epoch, so no epoch waits for a new iterator.

    Returns
    -------
    tf.data.Dataset
        Tuples of tensors, one per step.
    """
    import tensorflow as tf

    per_epoch = source.steps_per_epoch

    def read(first_epoch: tf.Tensor, step: tf.Tensor) -> tuple[tf.Tensor, ...]:
        arrays = tf.numpy_function(source.read, [first_epoch + step // per_epoch, step % per_epoch], list(dtypes),
                                   stateful=True)
        for array, shape in zip(arrays, shapes, strict=True):
            array.set_shape(shape)
        return tuple(arrays)

    def steps(first_epoch: tf.Tensor, n: tf.Tensor) -> tf.data.Dataset:
        counter = tf.data.Dataset.counter() if repeat else tf.data.Dataset.range(n)
        return counter.map(lambda step: read(first_epoch, step), num_parallel_calls=parallel, deterministic=True)

    starts = tf.data.Dataset.from_tensors(0).map(  # start_epoch runs once per iteration
        lambda _: tuple(tf.numpy_function(source.start_epoch, [], (tf.int64, tf.int64), stateful=True)))
    return starts.flat_map(steps)
