"""tf.data input pipelines that read the cell store and hand raw integer batches to the model.

Training batches follow :class:`~deeploc_keras.data.order.MixedOrder`: slices of
consecutive rows permuted over the whole store, cut into windows of whole batches,
dealt so consecutive batches draw from as many slices as a window holds
(:mod:`deeploc_keras.data.order` describes it). Each window is read with the store's
:class:`~deeploc_keras.data.reader.RowReader` straight into a pooled, 64-byte-aligned
block of whole batches, which TensorFlow takes without copying and slices into
batches; ``readers`` windows are read at the same time (a ``tf.data`` map of parallel
calls, deterministic order, :func:`~deeploc_keras.data.sources.source_dataset`). A
window's deal is drawn by the call that reads it, so an epoch starts without
computing its whole order, and ``repeat=True`` runs through the epochs in one
iteration instead of restarting the pipeline.

Inference: the selected cells in store order, batched, with their row numbers;
``shard=(i, n)`` keeps the i-th of n contiguous ranges of chunks
(:func:`~deeploc_keras.data.order.shard_cells`).

Intensity scaling, cropping and augmentation are Keras layers inside the model;
the pipeline never converts pixels.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.errors import InputError, check_positive_int, file_error
from .order import (
    DEFAULT_SHUFFLE_WINDOW,
    DEFAULT_SLICE_CELLS,
    MixedOrder,
    balanced_weights,
    parse_shard,
    shard_cells,
    window_cells,
)
from .reader import RowReader
from .sources import Source, source_dataset
from .store import SPLIT_CHOICES, CellStore

if TYPE_CHECKING:  # TensorFlow is imported when a dataset is built, so the CLI starts fast
    import tensorflow as tf

__all__ = ["SPLIT_CHOICES", "DEFAULT_READERS", "StoreData", "training_dataset", "inference_dataset", "predict_batches"]

logger = logging.getLogger(__name__)

#: Windows read at the same time.
DEFAULT_READERS = 1
#: Alignment (bytes) that lets TensorFlow use numpy blocks and their batch slices without copying.
_ALIGN = 64


@dataclass(frozen=True)
class StoreData:
    """A dataset over store cells and its size.

    Attributes
    ----------
    dataset : tf.data.Dataset
        Training: ``(images, labels)`` or ``images`` batches. Inference:
        ``(cell_index, images)`` batches in store order.
    n_cells : int
        Cells per epoch.
    batch_size : int
    steps_per_epoch : int
        Batches per epoch (the last one may be short).
    """

    dataset: tf.data.Dataset  # noqa: F821 - TYPE_CHECKING import
    n_cells: int
    batch_size: int
    steps_per_epoch: int


def _aligned_empty(shape: tuple[int, ...], dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """An uninitialised array whose data starts on a ``_ALIGN``-byte boundary, and the array owning its memory."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    owner = np.empty(nbytes + _ALIGN, dtype=np.uint8)
    offset = -owner.ctypes.data % _ALIGN
    return owner[offset:offset + nbytes].view(dtype).reshape(shape), owner


class _BufferPool:
    """Aligned buffers of one shape, handed out again once nothing references them.

    TensorFlow wraps an aligned numpy array that a ``numpy_function`` returns
    without copying it and keeps the array alive as long as a tensor (or a slice
    of it) does; every numpy view of a buffer holds a reference to its owner. A
    buffer is reused only when its owner's reference count is back to the count
    it had when it was created, so live batches are never overwritten, and fresh
    memory (page faults dominate the cost of a large new allocation) is rarely
    needed. :meth:`get` hands out a new view under a lock, so parallel readers
    never share a buffer.
    """

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.shape, self.dtype = shape, dtype
        self._buffers: list[np.ndarray] = []
        self._owners: list[np.ndarray] = []
        self._free_refs = 0
        self._lock = threading.Lock()

    def _refs(self, k: int) -> int:
        return sys.getrefcount(self._owners[k])

    def get(self) -> np.ndarray:
        with self._lock:
            for k, buffer in enumerate(self._buffers):
                if self._refs(k) == self._free_refs:
                    return buffer[:]
            self._grow()
            self._free_refs = self._refs(-1)  # only the pool refers to the new buffer now
            logger.debug("buffer pool: %d buffers of %s", len(self._buffers), self.shape)
            return self._buffers[-1][:]

    def _grow(self) -> None:
        buffer, owner = _aligned_empty(self.shape, self.dtype)
        self._buffers.append(buffer)
        self._owners.append(owner)


#: One window of an epoch: (store rows in batch order, per-cell extras returned beside the images).
_Window = tuple[np.ndarray, tuple[np.ndarray, ...]]


class _WindowSource(Source):
    """The windows of a dataset's epochs, read into pooled blocks of whole batches.

    An epoch is ``n_windows + 1`` steps: step ``w < n_windows`` builds window
    ``w`` with ``window(epoch, w)`` and fills a block with its whole batches; the
    last step reads the cells after the epoch's last whole batch (a block of one
    short batch, or of none), from the last window, which is built once. Each
    iteration of the dataset calls :meth:`start_epoch` once, which hands out the
    first epoch no step has read yet; :meth:`read` may run in several threads at once.
    """

    def __init__(self, reader: RowReader, window: Callable[[int, int], _Window], *, n_cells: int,
                 image_shape: tuple[int, ...], dtype: np.dtype, window_cells: int, batch_size: int,
                 initial_epoch: int) -> None:
        self._reader, self._image_shape, self._batch_size = reader, image_shape, batch_size
        self._window, self._n_windows = window, -(-int(n_cells) // window_cells)
        self._last_window = functools.lru_cache(maxsize=2)(lambda epoch: window(epoch, self._n_windows - 1))
        self._rest = int(n_cells) % batch_size
        # whole batches of a window: never more rows than the cells hold (a batch size above them reads one short batch)
        self._pool = _BufferPool((min(window_cells, int(n_cells) // batch_size * batch_size), *image_shape), dtype)
        self._next_epoch = int(initial_epoch)
        self._lock = threading.Lock()

    @property
    def steps_per_epoch(self) -> int:
        """Steps of an epoch: its windows, then its rest."""
        return self._n_windows + 1

    def start_epoch(self) -> tuple[np.int64, np.int64]:
        with self._lock:
            epoch = self._next_epoch
            self._next_epoch += 1
        return np.int64(epoch), np.int64(self.steps_per_epoch)

    def read(self, epoch: np.int64, step: np.int64) -> tuple[np.ndarray, ...]:
        """Step ``step`` of ``epoch``: images (f, b, H, W, C), then the extras (f, b)."""
        epoch, step = int(epoch), int(step)
        with self._lock:
            self._next_epoch = max(self._next_epoch, epoch + 1)
        b = self._batch_size
        if step < self._n_windows:
            rows, extra = self._window(epoch, step) if step < self._n_windows - 1 else self._last_window(epoch)
            full = len(rows) // b * b
            block = self._pool.get()[:full]
            rows, extra = rows[:full], tuple(e[:full] for e in extra)
        else:
            rows, extra = self._last_window(epoch)
            rows, extra = rows[len(rows) - self._rest:], tuple(e[len(e) - self._rest:] for e in extra)
            block, b = _aligned_empty((self._rest, *self._image_shape), self._pool.dtype)[0], max(self._rest, 1)
        self._reader.read_into(block, rows)
        return block.reshape(-1, b, *self._image_shape), *(e.reshape(-1, b) for e in extra)


def _block_dataset(
    store: CellStore,
    window: Callable[[int, int], _Window],
    *,
    n_cells: int,
    extras: tuple[tf.DType, ...],  # noqa: F821 - TYPE_CHECKING import
    window_cells: int,
    batch_size: int,
    readers: int,
    initial_epoch: int,
    repeat: bool,
) -> tf.data.Dataset:  # noqa: F821 - TYPE_CHECKING import
    """Batches ``(images, *extras)`` of the windows ``window(epoch, w)``; every iteration is the next epoch.

    The steps of an epoch are read by ``readers`` parallel calls in order, each into a
    block of whole batches that TensorFlow takes without copying and slices into batches;
    with ``repeat`` one iteration runs through epoch after epoch.
    """
    import tensorflow as tf

    image_shape = tuple(store.image_shape)
    source = _WindowSource(store.reader(), window, n_cells=n_cells, image_shape=image_shape, dtype=store.dtype,
                           window_cells=window_cells, batch_size=batch_size, initial_epoch=initial_epoch)
    blocks = source_dataset(source, (tf.as_dtype(store.dtype), *extras),
                            ((None, None, *image_shape), *((None, None) for _ in extras)),
                            parallel=readers, repeat=repeat)

    def batches(*block: tf.Tensor) -> tf.data.Dataset:
        return tf.data.Dataset.from_tensor_slices(block if extras else block[0])

    return blocks.flat_map(batches)


def _check_options(batch_size: int, readers: int, slice_cells: int = 1) -> None:
    for name, value in (("batch_size", batch_size), ("readers", readers), ("slice_cells", slice_cells)):
        check_positive_int(name, value)


def _training_selection(store: CellStore, split: str, *, labels: bool,
                        targets: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The rows a training dataset reads and every row's int32 class (the label column, or ``targets``)."""
    if targets is None:
        indices = store.select(split, labelled=labels)
        all_labels = store.cells["label"].to_numpy().astype(np.int32)
    else:
        all_labels = np.asarray(targets, dtype=np.int32)
        if all_labels.shape != (len(store),):
            raise InputError(f"targets must hold one value per store cell; Received: shape={all_labels.shape} for "
                             f"{len(store)} cells")
        indices = store.select(split)
        indices = indices[all_labels[indices] >= 0]
    if indices.size == 0:
        what = "labelled cells" if labels else "cells"
        raise file_error(store.path, f"no {what} in split {split!r}")
    return indices, all_labels


def training_dataset(
    store: CellStore,
    *,
    split: str = "train",
    batch_size: int = 128,
    seed: int = 0,
    shuffle: bool = True,
    shuffle_window: int = DEFAULT_SHUFFLE_WINDOW,
    class_balanced: bool = False,
    labels: bool = True,
    repeat: bool = False,
    initial_epoch: int = 0,
    slice_cells: int = DEFAULT_SLICE_CELLS,
    readers: int | None = None,
    targets: np.ndarray | None = None,
) -> StoreData:
    """Batches of raw crops (and labels) for ``model.fit``, mixed over the whole store.

    Parameters
    ----------
    store : CellStore
        An open store, read through its :meth:`~deeploc_keras.data.store.CellStore.reader` (keep it open
        while the dataset is read).
    split : {"train", "val", "test", "all"}, default "train"
    batch_size : int, default 128
    seed : int, default 0
        Seed of the slice permutation, the deal and balanced draws; an epoch's
        order depends only on ``seed`` and the epoch number (see :class:`~deeploc_keras.data.order.MixedOrder`).
    shuffle : bool, default True
        False reads cells in store order (validation).
    shuffle_window : int, default 4096
        Cells dealt together, rounded up to whole batches; a window holds about
        ``shuffle_window / slice_cells`` slices, which bounds the distinct
        slices (and so proteins) a batch can draw from.
    class_balanced : bool, default False
        Resample each window with replacement, each cell weighted by the inverse
        frequency of its class in the split, so classes are drawn equally often
        in expectation; an epoch keeps the split's size.
    labels : bool, default True
        Yield ``(images, labels)`` (only labelled cells) or only ``images``.
    repeat : bool, default False
        Repeat forever (for a fixed ``steps_per_epoch``); each pass is a new epoch.
    initial_epoch : int, default 0
        Epoch number of the first pass (a resumed run gets the draws it would have had).
    slice_cells : int, default 32
        Consecutive store rows read as one slice. On a compressed store a slice
        smaller than a chunk decompresses the chunk once per slice; write
        compressed stores with ``chunk_cells`` equal to ``slice_cells``.
    readers : int, optional
        Windows read at the same time (default :data:`DEFAULT_READERS`; the batch order does not depend on it).
    targets : numpy.ndarray, optional
        One integer target per store row (e.g. a protein's index) that replaces the
        label column; only the split's cells with a target >= 0 are read.

    Returns
    -------
    StoreData
        ``dataset`` yields ``images`` with the store's dtype, shape (b, H, W, C),
        and int32 ``labels`` (or ``targets``) of shape (b,).

    Raises
    ------
    InputError
        If the selection is empty, an option is out of range or
        ``class_balanced`` is asked without labels.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "s.h5"
    >>> with CellStore.create(path, class_names=["A", "B"], chunk_cells=4) as w:
    ...     w.append(np.zeros((10, 64, 64, 2), np.uint16),
    ...              {"protein": ["P"] * 10, "label": [0, 1] * 5, "split": [0] * 10})
    >>> with CellStore.open(path) as s:
    ...     data = training_dataset(s, batch_size=4, seed=0)
    ...     [tuple(x.shape) for x, y in data.dataset]
    [(4, 64, 64, 2), (4, 64, 64, 2), (2, 64, 64, 2)]
    """
    import tensorflow as tf

    readers = DEFAULT_READERS if readers is None else readers
    _check_options(batch_size, readers, slice_cells)
    if class_balanced and not labels:
        raise InputError("class_balanced sampling needs labels; pass labels=True")
    indices, all_labels = _training_selection(store, split, labels=labels, targets=targets)
    weights = balanced_weights(all_labels[indices]) if class_balanced else None
    size = window_cells(shuffle_window, batch_size, len(indices))
    chunk_cells = store.chunk_cells
    if shuffle and store.compression is not None and chunk_cells > slice_cells:
        logger.warning("%s: its %s-compressed chunks of %d cells are decompressed once per slice of %d cells (%dx "
                       "the work), so training reads it far slower than an uncompressed store; re-import it without "
                       "--compression, or with --chunk-cells %d", store.path, store.compression, chunk_cells,
                       slice_cells, -(-chunk_cells // slice_cells), slice_cells)

    order = MixedOrder(indices, chunk_cells=chunk_cells, seed=seed, slice_cells=slice_cells,
                       window_cells=size, weights=weights) if shuffle or weights is not None else None

    def window(epoch: int, w: int) -> _Window:
        rows = order.window(epoch, w)[0] if order is not None else indices[w * size:(w + 1) * size]
        return rows, ((all_labels[rows],) if labels else ())

    dataset = _block_dataset(store, window, n_cells=len(indices), extras=(tf.int32,) if labels else (),
                             window_cells=size, batch_size=batch_size, readers=readers, initial_epoch=initial_epoch,
                             repeat=repeat)
    steps = math.ceil(len(indices) / batch_size)
    if not repeat:
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(steps))
    dataset = dataset.prefetch(tf.data.AUTOTUNE)
    logger.debug("training dataset: %d cells, window %d, slice %d, batch %d", len(indices), size,
                 slice_cells, batch_size)
    return StoreData(dataset, int(len(indices)), int(batch_size), steps)


def inference_dataset(
    store: CellStore,
    *,
    split: str = "test",
    batch_size: int = 256,
    shard: str | tuple[int, int] | None = None,
    readers: int = DEFAULT_READERS,
) -> StoreData:
    """Batches of ``(cell_index, images)`` in store order, for extraction.

    Parameters
    ----------
    store : CellStore
        An open store (keep it open while the dataset is read).
    split : {"train", "val", "test", "all"}, default "test"
    batch_size : int, default 256
    shard : "i/n" or (i, n), optional
        Keep the i-th (0-based) of n contiguous chunk ranges (see :func:`~deeploc_keras.data.order.shard_cells`).
    readers : int, default 1
        Windows read at the same time (the order stays the store order).

    Returns
    -------
    StoreData
        ``dataset`` yields int64 row numbers (b,) and raw crops (b, H, W, C).

    Raises
    ------
    InputError
        If the selection (or the shard) holds no cell.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "s.h5"
    >>> with CellStore.create(path, chunk_cells=4) as w:
    ...     w.append(np.zeros((10, 64, 64, 2), np.uint16), {"split": [2] * 10})
    >>> with CellStore.open(path) as s:
    ...     [idx.numpy().tolist() for idx, _ in inference_dataset(s, batch_size=4, shard="1/2").dataset]
    [[8, 9]]
    """
    import tensorflow as tf

    _check_options(batch_size, readers)
    indices = shard_cells(store.select(split), chunk_cells=store.chunk_cells, shard=parse_shard(shard))
    if indices.size == 0:
        where = f"split {split!r}" + (f", shard {shard}" if shard is not None else "")
        raise file_error(store.path, f"no cells in {where}")
    size = window_cells(DEFAULT_SHUFFLE_WINDOW, batch_size, len(indices))

    def window(epoch: int, w: int) -> _Window:
        rows = indices[w * size:(w + 1) * size]
        return rows, (rows,)

    blocks = _block_dataset(store, window, n_cells=len(indices), extras=(tf.int64,), window_cells=size,
                            batch_size=batch_size, readers=readers, initial_epoch=0, repeat=False)
    steps = math.ceil(len(indices) / batch_size)
    dataset = (blocks.map(lambda images, rows: (rows, images))
               .apply(tf.data.experimental.assert_cardinality(steps))
               .prefetch(tf.data.AUTOTUNE))
    return StoreData(dataset, int(len(indices)), int(batch_size), steps)


def predict_batches(model: Any, data: StoreData, *, desc: str | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The store rows and the model's outputs of every batch of an :func:`inference_dataset`, in store order.

    The one loop that takes batches through a model (extract, predict and the training monitor
    turn its outputs into profiles).

    Parameters
    ----------
    model : keras.Model
        Raw crops in (e.g. a feature model of :attr:`deeploc_keras.training.methods.Method.feature_model`).
    data : StoreData
        Of :func:`inference_dataset`.
    desc : str, optional
        Name of a progress bar over the cells (shown on a terminal); none without.

    Yields
    ------
    rows : numpy.ndarray of int64, shape (b,)
    outputs : numpy.ndarray of float32, shape (b, ...)

    Examples
    --------
    >>> import tempfile, pathlib, keras
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "s.h5"
    >>> with CellStore.create(path, chunk_cells=4) as w:
    ...     w.append(np.arange(5 * 64 * 64 * 2).reshape(5, 64, 64, 2) % 7, {"split": [2] * 5})
    >>> means = keras.Sequential([keras.Input((64, 64, 2)), keras.layers.GlobalAveragePooling2D()])
    >>> with CellStore.open(path) as s:
    ...     [(rows.tolist(), out.shape) for rows, out in predict_batches(means, inference_dataset(s, batch_size=3))]
    [([0, 1, 2], (3, 2)), ([3, 4], (2, 2))]
    """
    from ..core.console import progress

    with progress(total=data.n_cells, desc=desc, unit="cell") if desc else contextlib.nullcontext() as bar:
        for index, images in data.dataset:
            rows = index.numpy()
            yield rows, np.asarray(model.predict_on_batch(images), dtype=np.float32)
            if bar is not None:
                bar.update(len(rows))
