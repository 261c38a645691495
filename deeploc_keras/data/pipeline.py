"""tf.data input pipelines that read the cell store and hand raw integer batches to the model.

Training batches mix the whole store as a full shuffle does, for a store in any
row order (one written protein by protein included), while every read stays a
contiguous run of rows:

1. the selected cells are cut into *slices* of ``slice_cells`` consecutive rows
   (never across an HDF5 chunk) and the slices are permuted over the whole
   selection, per epoch;
2. the permuted sequence is cut into *windows* of ``shuffle_window`` cells (a
   multiple of the batch size), each holding about ``shuffle_window /
   slice_cells`` slices from all over the store;
3. inside a window the cells are *dealt*: each round takes one cell of every
   slice, in a random order, so consecutive batches draw their cells from as
   many distinct slices as the window has (``class_balanced`` resamples the
   window with replacement first);
4. each window is read with :class:`~deeploc_keras.data.reader.RowReader` straight
   into a pooled, 64-byte-aligned block of whole batches, which TensorFlow takes
   without copying and slices into batches; ``readers`` windows are read at the
   same time (a ``tf.data`` map of parallel calls, deterministic order). A
   window's deal is drawn by the call that reads it (:class:`MixedOrder`), so
   an epoch starts without computing its whole order, and ``repeat=True`` runs
   through the epochs in one iteration instead of restarting the pipeline.

The slice permutation draws from ``numpy.random.default_rng([seed, epoch])`` and
window ``w`` from ``default_rng([seed, epoch, 1, w])``, so an epoch's order is a
function of the seed and the epoch number alone (a resumed run gets the same
batches) and differs from one epoch to the next.

Inference: the selected cells in store order, batched, with their row numbers;
``shard=(i, n)`` keeps the i-th of n contiguous ranges of chunks, so the shards
of a split partition it exactly.

Intensity scaling, cropping and augmentation are Keras layers inside the model;
the pipeline never converts pixels.
"""

from __future__ import annotations

import functools
import logging
import math
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..core.errors import InputError, file_error
from .reader import SharedReader
from .store import SPLIT_CHOICES, CellStore, check_finite

if TYPE_CHECKING:  # TensorFlow is imported when a dataset is built, so the CLI starts fast
    import tensorflow as tf

__all__ = [
    "SPLIT_CHOICES",
    "DEFAULT_SHUFFLE_WINDOW",
    "DEFAULT_SLICE_CELLS",
    "DEFAULT_READERS",
    "StoreData",
    "MixedOrder",
    "mixed_order",
    "shard_cells",
    "parse_shard",
    "training_dataset",
    "inference_dataset",
    "epoch_stream",
]

logger = logging.getLogger(__name__)

#: Cells read and dealt together (rounded up to a multiple of the batch size).
DEFAULT_SHUFFLE_WINDOW = 4096
#: Consecutive store rows read as one slice when mixing (a window holds ~128 slices).
DEFAULT_SLICE_CELLS = 32
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


def parse_shard(shard: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """Parse ``"i/n"`` (0-based shard i of n) into a tuple.

    Parameters
    ----------
    shard : str, tuple of int or None

    Returns
    -------
    tuple (i, n) or None

    Raises
    ------
    InputError
        Unless ``0 <= i < n``.

    Examples
    --------
    >>> parse_shard("1/4")
    (1, 4)
    """
    if shard is None:
        return None
    if isinstance(shard, str):
        try:
            i, n = (int(v) for v in shard.split("/"))
        except ValueError:
            raise InputError(f"shard must be 'i/n' with integers (0-based i). Received: shard={shard!r}") from None
    else:
        i, n = (int(v) for v in shard)
    if n < 1 or not 0 <= i < n:
        raise InputError(f"shard i/n needs 0 <= i < n (i is 0-based). Received: shard={i}/{n}")
    return i, n


def shard_cells(indices: np.ndarray, *, chunk_cells: int, shard: tuple[int, int] | None) -> np.ndarray:
    """Keep the cells in the i-th of n contiguous ranges of store chunks.

    The chunks that hold any selected cell are cut into n near-equal contiguous
    ranges, so every shard reads whole chunks and the shards, concatenated in
    order, give back ``indices``. When fewer chunks than shards hold cells, the
    cells themselves are cut into n near-equal ranges, so no shard is left empty
    while there are at least n cells.

    Parameters
    ----------
    indices : numpy.ndarray of int, sorted
        Selected row numbers.
    chunk_cells : int
        Cells per HDF5 chunk.
    shard : tuple (i, n) or None
        None keeps everything.

    Returns
    -------
    numpy.ndarray of int64

    Examples
    --------
    >>> idx = np.arange(10)
    >>> [shard_cells(idx, chunk_cells=2, shard=(i, 2)).tolist() for i in range(2)]
    [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9]]
    >>> [shard_cells(idx, chunk_cells=16, shard=(i, 2)).tolist() for i in range(2)]
    [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
    """
    indices = np.asarray(indices, dtype=np.int64)
    if shard is None:
        return indices
    i, n = shard
    chunk_of = indices // chunk_cells
    chunks = np.unique(chunk_of)
    if len(chunks) < n:
        return np.array_split(indices, n)[i]
    bounds = np.ceil(np.linspace(0, len(chunks), n + 1)).astype(int)
    mine = chunks[bounds[i]:bounds[i + 1]]
    return indices[np.isin(chunk_of, mine)]


def _slice_starts(indices: np.ndarray, chunk_cells: int, slice_cells: int) -> np.ndarray:
    """Positions in sorted ``indices`` where a slice starts (``slice_cells`` rows, never across a chunk)."""
    per_chunk = -(-chunk_cells // slice_cells)
    key = indices // chunk_cells * per_chunk + indices % chunk_cells // slice_cells
    return np.r_[0, np.flatnonzero(np.diff(key)) + 1].astype(np.int64)


def _deal(slice_of: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A permutation taking, round after round, one cell of every slice in a random order."""
    n = len(slice_of)
    grouped = np.lexsort((rng.random(n), slice_of))  # cells by slice, in a random order inside each
    ids = slice_of[grouped]
    starts = np.r_[0, np.flatnonzero(np.diff(ids)) + 1]
    rank = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    return grouped[np.lexsort((rng.random(n), rank))]


class MixedOrder:
    """The training order of any epoch, computed one window at a time (see the module docstring).

    An epoch's slice permutation is drawn once (the last two epochs are kept);
    each window's deal is drawn when the window is asked for, so the windows of
    an epoch can be built in parallel and the first batch does not wait for the
    whole epoch's order.

    Parameters
    ----------
    indices : numpy.ndarray of int, sorted
        Selected row numbers.
    chunk_cells : int
        Cells per HDF5 chunk (slices never cross a chunk).
    seed : int, default 0
        With the epoch number, the only source of the order.
    slice_cells : int, default 32
        Consecutive rows per slice.
    window_cells : int, default 4096
        Cells per window (every window but the last has exactly this many).
    weights : numpy.ndarray, optional
        Per-cell sampling weights (aligned with ``indices``): each window is then
        resampled with replacement with probabilities proportional to them.

    Examples
    --------
    >>> order = MixedOrder(np.arange(64), chunk_cells=16, slice_cells=4, window_cells=32, seed=0)
    >>> order.n_windows
    2
    >>> rows, positions = order.window(epoch=0, window=0)
    >>> len(np.unique(rows[:8] // 4))  # 8 cells from 8 different slices of 4 rows
    8
    """

    def __init__(self, indices: np.ndarray, *, chunk_cells: int, seed: int = 0,
                 slice_cells: int = DEFAULT_SLICE_CELLS, window_cells: int = DEFAULT_SHUFFLE_WINDOW,
                 weights: np.ndarray | None = None) -> None:
        self.indices = np.asarray(indices, dtype=np.int64)
        n = len(self.indices)
        self._starts = _slice_starts(self.indices, chunk_cells, slice_cells) if n else np.empty(0, np.int64)
        self._lengths = np.diff(np.r_[self._starts, n])
        self._seed, self._window_cells, self._weights = seed, int(window_cells), weights
        self.n_windows = -(-n // self._window_cells)
        self._slices = functools.lru_cache(maxsize=2)(self._epoch_slices)

    def _epoch_slices(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """Positions in ``indices`` of the epoch's cells in slice-permuted order, and each one's slice number."""
        n = len(self.indices)
        perm = np.random.default_rng([self._seed, epoch]).permutation(len(self._starts))
        lengths = self._lengths[perm]
        before = np.r_[0, np.cumsum(lengths)[:-1]]
        positions = np.repeat(self._starts[perm] - before, lengths) + np.arange(n)
        return positions, np.repeat(np.arange(len(self._starts)), lengths)

    def window(self, epoch: int, window: int) -> tuple[np.ndarray, np.ndarray]:
        """Window ``window`` of epoch ``epoch``: store rows in batch order, and their positions in ``indices``."""
        positions, slice_of = self._slices(int(epoch))
        start = int(window) * self._window_cells
        rng = np.random.default_rng([self._seed, int(epoch), 1, int(window)])
        pos, sid = positions[start:start + self._window_cells], slice_of[start:start + self._window_cells]
        if self._weights is not None:
            p = self._weights[pos]
            pick = rng.choice(len(pos), size=len(pos), replace=True, p=p / p.sum())
            pos, sid = pos[pick], sid[pick]
        pos = pos[_deal(sid, rng)]
        return self.indices[pos], pos


def mixed_order(
    indices: np.ndarray,
    *,
    chunk_cells: int,
    seed: int = 0,
    epoch: int = 0,
    slice_cells: int = DEFAULT_SLICE_CELLS,
    window_cells: int = DEFAULT_SHUFFLE_WINDOW,
    weights: np.ndarray | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The training order of one epoch, window by window (the windows of :class:`MixedOrder`).

    Parameters
    ----------
    indices, chunk_cells, seed, slice_cells, window_cells, weights
        As for :class:`MixedOrder`.
    epoch : int, default 0
        With ``seed``, the only source of the order.

    Yields
    ------
    rows : numpy.ndarray of int64
        Store rows of a window, in batch order.
    positions : numpy.ndarray of int64
        Their positions in ``indices``.

    Examples
    --------
    >>> idx = np.arange(64)
    >>> windows = list(mixed_order(idx, chunk_cells=16, slice_cells=4, window_cells=32, seed=0))
    >>> [len(rows) for rows, _ in windows]
    [32, 32]
    >>> bool(np.array_equal(np.sort(np.concatenate([r for r, _ in windows])), idx))
    True
    """
    order = MixedOrder(indices, chunk_cells=chunk_cells, seed=seed, slice_cells=slice_cells,
                       window_cells=window_cells, weights=weights)
    for w in range(order.n_windows):
        yield order.window(epoch, w)


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


class _WindowSource:
    """The windows of a dataset's epochs, read into pooled blocks of whole batches.

    An epoch is ``n_windows + 1`` steps: step ``w < n_windows`` builds window
    ``w`` with ``window(epoch, w)`` and fills a block with its whole batches; the
    last step reads the cells after the epoch's last whole batch (a block of one
    short batch, or of none), from the last window, which is built once. Each iteration of the dataset calls
    :meth:`start_epoch` once, which hands out the first epoch no step has read
    yet; :meth:`read` may run in several threads at once. The store is opened
    once, on the first read, and closed with the source.
    """

    def __init__(self, path: str, window: Callable[[int, int], _Window], *, n_cells: int,
                 image_shape: tuple[int, ...], dtype: np.dtype, window_cells: int, batch_size: int,
                 initial_epoch: int) -> None:
        self._path, self._image_shape, self._batch_size = path, image_shape, batch_size
        self._window, self._n_windows = window, -(-int(n_cells) // window_cells)
        self._last_window = functools.lru_cache(maxsize=2)(lambda epoch: window(epoch, self._n_windows - 1))
        self._rest = int(n_cells) % batch_size
        # whole batches of a window: never more rows than the cells hold (a batch size above them reads one short batch)
        self._pool = _BufferPool((min(window_cells, int(n_cells) // batch_size * batch_size), *image_shape), dtype)
        self._next_epoch = int(initial_epoch)
        self._lock = threading.Lock()
        self._reader = SharedReader(path)

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
        self._reader.get().read_into(block, rows)
        check_finite(block, self._path, rows)
        return block.reshape(-1, b, *self._image_shape), *(e.reshape(-1, b) for e in extra)


def _block_dataset(
    path: str,
    window: Callable[[int, int], _Window],
    *,
    n_cells: int,
    image_shape: tuple[int, ...],
    dtype: np.dtype,
    extras: tuple[tf.DType, ...],  # noqa: F821 - TYPE_CHECKING import
    window_cells: int,
    batch_size: int,
    readers: int,
    initial_epoch: int,
    repeat: bool,
) -> tf.data.Dataset:  # noqa: F821 - TYPE_CHECKING import
    """Batches ``(images, *extras)`` of the windows ``window(epoch, w)``; every iteration is the next epoch.

    The steps of an epoch are read by a ``tf.data`` map of ``readers`` parallel
    calls in order, each into a block of whole batches that TensorFlow takes
    without copying and slices into batches; with ``repeat`` one iteration runs
    through epoch after epoch, so no epoch waits for a new iterator.
    ``Dataset.from_generator`` is not used, because building one pins glibc's
    mmap threshold for the whole process (TensorFlow's Python 3.11 patch), after
    which every large allocation of the process (HDF5's chunk buffers among
    them) faults in fresh pages.
    """
    import tensorflow as tf

    source = _WindowSource(path, window, n_cells=n_cells, image_shape=image_shape, dtype=dtype,
                           window_cells=window_cells, batch_size=batch_size, initial_epoch=initial_epoch)
    outputs = (tf.as_dtype(dtype), *extras)
    per_epoch = source.steps_per_epoch

    def read(first_epoch: tf.Tensor, step: tf.Tensor) -> tuple[tf.Tensor, ...]:
        block, *extra = tf.numpy_function(source.read, [first_epoch + step // per_epoch, step % per_epoch],
                                          outputs, stateful=True)
        block.set_shape((None, None, *image_shape))
        for tensor in extra:
            tensor.set_shape((None, None))
        return block, *extra

    def steps(first_epoch: tf.Tensor, n: tf.Tensor) -> tf.data.Dataset:
        counter = tf.data.Dataset.counter() if repeat else tf.data.Dataset.range(n)
        return counter.map(lambda step: read(first_epoch, step), num_parallel_calls=readers, deterministic=True)

    def batches(*block: tf.Tensor) -> tf.data.Dataset:
        return tf.data.Dataset.from_tensor_slices(block if extras else block[0])

    return epoch_stream(source.start_epoch, steps).flat_map(batches)


def epoch_stream(
    start_epoch: Callable[[], tuple[np.int64, np.int64]],
    elements: Callable[[tf.Tensor, tf.Tensor], tf.data.Dataset],  # noqa: F821 - TYPE_CHECKING import
) -> tf.data.Dataset:  # noqa: F821 - TYPE_CHECKING import
    """The elements ``elements(epoch, n)`` of ``(epoch, n) = start_epoch()``; every iteration is the next epoch.

    ``start_epoch`` runs once per iteration of the dataset, in a ``numpy_function``
    (no ``Dataset.from_generator``, see :func:`_block_dataset`).
    """
    import tensorflow as tf

    starts = tf.data.Dataset.from_tensors(0).map(
        lambda _: tuple(tf.numpy_function(start_epoch, [], (tf.int64, tf.int64), stateful=True)))
    return starts.flat_map(elements)


def _check_options(batch_size: int, readers: int, slice_cells: int = 1) -> None:
    if int(batch_size) < 1:
        raise InputError(f"batch_size must be a positive integer. Received: batch_size={batch_size}")
    if int(readers) < 1:
        raise InputError(f"readers must be a positive integer. Received: readers={readers}")
    if int(slice_cells) < 1:
        raise InputError(f"slice_cells must be a positive integer. Received: slice_cells={slice_cells}")


def _window_cells(window: int, batch_size: int, n_cells: int) -> int:
    """``window`` rounded up to whole batches, no larger than the selection needs."""
    return max(1, min(math.ceil(window / batch_size), math.ceil(n_cells / batch_size))) * batch_size


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
    readers: int = DEFAULT_READERS,
) -> StoreData:
    """Batches of raw crops (and labels) for ``model.fit``, mixed over the whole store.

    Parameters
    ----------
    store : CellStore
        An open store (its file is reopened read-only by the readers).
    split : {"train", "val", "test", "all"}, default "train"
    batch_size : int, default 128
    seed : int, default 0
        Seed of the slice permutation, the deal and balanced draws; an epoch's
        order depends only on ``seed`` and the epoch number (see :func:`mixed_order`).
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
    readers : int, default 1
        Windows read at the same time (the batch order does not depend on it).

    Returns
    -------
    StoreData
        ``dataset`` yields ``images`` with the store's dtype, shape (b, H, W, C),
        and int32 ``labels`` of shape (b,).

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

    _check_options(batch_size, readers, slice_cells)
    if class_balanced and not labels:
        raise InputError("class_balanced sampling needs labels; pass labels=True")
    indices = store.select(split, labelled=labels)
    if indices.size == 0:
        what = "labelled cells" if labels else "cells"
        raise file_error(store.path, f"no {what} in split {split!r}")
    all_labels = store.cells["label"].to_numpy().astype(np.int32)
    weights = None
    if class_balanced:
        sel = all_labels[indices]
        classes, counts = np.unique(sel, return_counts=True)
        inverse = np.zeros(int(classes.max()) + 1)
        inverse[classes] = 1.0 / counts
        weights = inverse[sel]
    window_cells = _window_cells(shuffle_window, batch_size, len(indices))
    chunk_cells = store.chunk_cells
    if shuffle and store.compression is not None and chunk_cells > slice_cells:
        logger.warning("%s: its %s-compressed chunks of %d cells are decompressed once per slice of %d cells (%dx "
                       "the work), so training reads it far slower than an uncompressed store; re-import it without "
                       "--compression, or with --chunk-cells %d", store.path, store.compression, chunk_cells,
                       slice_cells, -(-chunk_cells // slice_cells), slice_cells)

    order = MixedOrder(indices, chunk_cells=chunk_cells, seed=seed, slice_cells=slice_cells,
                       window_cells=window_cells, weights=weights) if shuffle or weights is not None else None

    def window(epoch: int, w: int) -> _Window:
        rows = order.window(epoch, w)[0] if order is not None else indices[w * window_cells:(w + 1) * window_cells]
        return rows, ((all_labels[rows],) if labels else ())

    dataset = _block_dataset(str(store.path), window, n_cells=len(indices), image_shape=tuple(store.image_shape),
                             dtype=store.dtype, extras=(tf.int32,) if labels else (), window_cells=window_cells,
                             batch_size=batch_size, readers=readers, initial_epoch=initial_epoch, repeat=repeat)
    steps = math.ceil(len(indices) / batch_size)
    if not repeat:
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(steps))
    dataset = dataset.prefetch(tf.data.AUTOTUNE)
    logger.debug("training dataset: %d cells, window %d, slice %d, batch %d", len(indices), window_cells,
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
        An open store.
    split : {"train", "val", "test", "all"}, default "test"
    batch_size : int, default 256
    shard : "i/n" or (i, n), optional
        Keep the i-th (0-based) of n contiguous chunk ranges (see :func:`shard_cells`).
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
    window_cells = _window_cells(DEFAULT_SHUFFLE_WINDOW, batch_size, len(indices))

    def window(epoch: int, w: int) -> _Window:
        rows = indices[w * window_cells:(w + 1) * window_cells]
        return rows, (rows,)

    blocks = _block_dataset(str(store.path), window, n_cells=len(indices), image_shape=tuple(store.image_shape),
                            dtype=store.dtype, extras=(tf.int64,), window_cells=window_cells, batch_size=batch_size,
                            readers=readers, initial_epoch=0, repeat=False)
    steps = math.ceil(len(indices) / batch_size)
    dataset = (blocks.map(lambda images, rows: (rows, images))
               .apply(tf.data.experimental.assert_cardinality(steps))
               .prefetch(tf.data.AUTOTUNE))
    return StoreData(dataset, int(len(indices)), int(batch_size), steps)
