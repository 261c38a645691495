"""tf.data input pipelines that read the cell store chunk by chunk and hand raw integer batches to the model.

Training: the HDF5 chunks holding the selected cells are visited in an order
shuffled per epoch, a window of consecutive chunks is read with whole-slice
``h5py`` reads, its cells are permuted (or class-balanced resampled) with one
vectorized numpy draw, and the stream is cut into batches; ``tf.data`` prefetches
them. Every draw comes from ``numpy.random.default_rng([seed, epoch])``, so the
order is the same for the same seed and different from one epoch to the next.
There is no per-cell Python: a generator step moves a whole window or batch.

Inference: the selected cells in store order, batched, with their row numbers;
``shard=(i, n)`` keeps the i-th of n contiguous ranges of chunks, so the shards
of a split partition it exactly.

Intensity scaling, cropping and augmentation are Keras layers inside the model;
the pipeline never converts pixels.
"""

from __future__ import annotations

import contextlib
import logging
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import h5py
import numpy as np

from .errors import InputError, check_positive_int, file_error, reading
from .store import SPLIT_CHOICES, CellStore, check_finite

if TYPE_CHECKING:  # TensorFlow is imported when a dataset is built, so the CLI starts fast
    import tensorflow as tf

__all__ = [
    "SPLIT_CHOICES",
    "DEFAULT_SHUFFLE_WINDOW",
    "StoreData",
    "select_cells",
    "shard_cells",
    "parse_shard",
    "training_dataset",
    "inference_dataset",
]

logger = logging.getLogger(__name__)

#: Cells read and permuted together (rounded up to whole chunks).
DEFAULT_SHUFFLE_WINDOW = 4096
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


def select_cells(store: CellStore, split: str = "train", *, labelled: bool = False) -> np.ndarray:
    """:meth:`CellStore.select` of an open ``store``, the training split by default.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "s.h5"
    >>> with CellStore.create(path, class_names=["A", "B"]) as w:
    ...     w.append(np.zeros((4, 64, 64, 2), np.uint16),
    ...              {"protein": ["P"] * 4, "label": [0, 1, -1, 0], "split": [0, 1, 0, 0]})
    >>> with CellStore.open(path) as s:
    ...     select_cells(s, "train").tolist(), select_cells(s, "train", labelled=True).tolist()
    ([0, 2, 3], [0, 3])
    """
    return store.select(split, labelled=labelled)


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


def _chunk_groups(indices: np.ndarray, chunk_cells: int) -> list[np.ndarray]:
    """Split sorted row numbers into one array per HDF5 chunk."""
    if indices.size == 0:
        return []
    chunk_of = indices // chunk_cells
    cuts = np.flatnonzero(np.diff(chunk_of)) + 1
    return np.split(indices, cuts)


def _aligned_empty(shape: tuple[int, ...], dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """An uninitialised array whose data starts on a ``_ALIGN``-byte boundary, and the array owning its memory."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    owner = np.empty(nbytes + _ALIGN, dtype=np.uint8)
    offset = -owner.ctypes.data % _ALIGN
    return owner[offset:offset + nbytes].view(dtype).reshape(shape), owner


class _BufferPool:
    """Aligned buffers of one shape, handed out again once nothing references them.

    TensorFlow wraps an aligned numpy array that a generator yields without
    copying it and keeps the array alive as long as a tensor (or a slice of it)
    does; every numpy view of a buffer holds a reference to its owner. A buffer is
    reused only when its owner's reference count is back to the count it had
    when it was created, so live batches are never overwritten, and fresh memory
    (page faults dominate the cost of a large new allocation) is rarely needed.
    """

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.shape, self.dtype = shape, dtype
        self._buffers: list[np.ndarray] = []
        self._owners: list[np.ndarray] = []
        self._free_refs = 0

    def _refs(self, k: int) -> int:
        return sys.getrefcount(self._owners[k])

    def get(self) -> np.ndarray:
        for k, buffer in enumerate(self._buffers):
            if self._refs(k) == self._free_refs:
                return buffer
        self._grow()
        self._free_refs = self._refs(-1)  # only the pool refers to the new buffer now
        logger.debug("buffer pool: %d buffers of %s", len(self._buffers), self.shape)
        return self._buffers[-1]

    def _grow(self) -> None:
        buffer, owner = _aligned_empty(self.shape, self.dtype)
        self._buffers.append(buffer)
        self._owners.append(owner)


def _read_window(dset: h5py.Dataset, groups: list[np.ndarray], buffer: np.ndarray) -> np.ndarray:
    """Read the chunk groups into ``buffer`` (one slice per chunk); positions of their cells in ``buffer``."""
    pos, local = 0, []
    for rows in groups:
        start, stop = int(rows[0]), int(rows[-1]) + 1
        with reading(dset.file.filename, f"/images rows {start}-{stop - 1}"):
            dset.read_direct(buffer, np.s_[start:stop], np.s_[pos:pos + stop - start])
        check_finite(buffer[pos:pos + stop - start], dset.file.filename, np.arange(start, stop))
        local.append(rows - start + pos)
        pos += stop - start
    return np.concatenate(local)


class _Batcher:
    """Cut a stream of cells into batches, stacked as ``(n_batches, batch_size, ...)`` blocks.

    Each :meth:`push` gathers the given cells with one ``numpy.take`` into a
    pooled aligned block after the cells carried over from the previous push,
    returns the full batches (TensorFlow slices them without copying) and keeps
    the remainder for the next push; :meth:`flush` returns the last short batch.
    """

    def __init__(self, pool: _BufferPool, *, batch_size: int) -> None:
        self._batch = batch_size
        self._pool = pool
        image_shape, dtype = pool.shape[1:], pool.dtype
        self._carry = np.empty((batch_size, *image_shape), dtype)
        self._carry_n = 0
        self._carry_extras: tuple[np.ndarray, ...] | None = None

    def push(self, source: np.ndarray, positions: np.ndarray,
             extras: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...] | None:
        """Append ``source[positions]`` and the per-cell ``extras``; the completed batches or None."""
        r, b = self._carry_n, self._batch
        total = r + len(positions)
        full = total // b * b
        out = self._pool.get()
        out[:r] = self._carry[:r]
        np.take(source, positions, axis=0, out=out[r:total], mode="clip")  # "clip": no buffered copy
        if self._carry_extras is not None:
            extras = tuple(np.concatenate([c, e]) for c, e in zip(self._carry_extras, extras, strict=True))
        self._carry[:total - full] = out[full:total]
        self._carry_n = total - full
        self._carry_extras = tuple(e[full:] for e in extras)
        if not full:
            return None
        n = full // b
        return (out[:full].reshape(n, b, *out.shape[1:]), *(e[:full].reshape(n, b) for e in extras))

    def flush(self) -> tuple[np.ndarray, ...] | None:
        """The cells left over as one short batch (a block of one), or None."""
        r, self._carry_n = self._carry_n, 0
        extras, self._carry_extras = self._carry_extras, None
        if not r:
            return None
        return (self._carry[None, :r].copy(), *(e[None] for e in extras))


class _Buffers:
    """Read windows and batch pools of one dataset, reused from epoch to epoch (one set per live iterator)."""

    def __init__(self, image_shape: tuple[int, ...], dtype: np.dtype, *, window_cells: int, batch_size: int) -> None:
        self._shape, self._dtype = (window_cells, *image_shape), dtype
        self._capacity = math.ceil((window_cells + batch_size) / batch_size) * batch_size
        self._free: list[tuple[np.ndarray, _BufferPool]] = []

    @contextlib.contextmanager
    def acquire(self) -> Iterator[tuple[np.ndarray, _BufferPool]]:
        """A read window and a block pool, returned to the cache afterwards."""
        if self._free:
            pair = self._free.pop()
        else:
            pair = (np.empty(self._shape, self._dtype), _BufferPool((self._capacity, *self._shape[1:]), self._dtype))
        try:
            yield pair
        finally:
            self._free.append(pair)


def _windows(groups: list[np.ndarray], order: np.ndarray, window_chunks: int) -> Iterator[list[np.ndarray]]:
    """Consecutive runs of ``window_chunks`` chunk groups in ``order``."""
    for start in range(0, len(order), window_chunks):
        yield [groups[k] for k in order[start:start + window_chunks]]


def _unstack(dataset: tf.data.Dataset) -> tf.data.Dataset:  # noqa: F821 - TYPE_CHECKING import
    """Slice ``(n, b, ...)`` blocks into their batches (zero-copy for aligned slices)."""
    import tensorflow as tf

    return dataset.flat_map(lambda *block: tf.data.Dataset.from_tensor_slices(block if len(block) > 1 else block[0]))


def _inverse_class_frequency(labels: np.ndarray) -> np.ndarray:
    """Sampling weight of each class index: 1 / its number of cells among ``labels``."""
    classes, counts = np.unique(labels, return_counts=True)
    weights = np.zeros(int(classes.max()) + 1)
    weights[classes] = 1.0 / counts
    return weights


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
) -> StoreData:
    """Batches of raw crops (and labels) for ``model.fit``.

    Parameters
    ----------
    store : CellStore
        An open store (its file is reopened read-only by the generator).
    split : {"train", "val", "test", "all"}, default "train"
    batch_size : int, default 128
    seed : int, default 0
        Seed of the chunk order, the window permutation and balanced draws;
        epoch ``e`` uses ``numpy.random.default_rng([seed, e])``.
    shuffle : bool, default True
        False reads cells in store order (validation).
    shuffle_window : int, default 4096
        Cells read and permuted together, rounded up to whole chunks.
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

    Returns
    -------
    StoreData
        ``dataset`` yields ``images`` with the store's dtype, shape (b, H, W, C),
        and int32 ``labels`` of shape (b,).

    Raises
    ------
    InputError
        If the selection is empty or ``class_balanced`` is asked without labels.

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

    check_positive_int("batch_size", batch_size)
    if class_balanced and not labels:
        raise InputError("class_balanced sampling needs labels; pass labels=True")
    indices = select_cells(store, split, labelled=labels)
    if indices.size == 0:
        what = "labelled cells" if labels else "cells"
        raise file_error(store.path, f"no {what} in split {split!r}")
    chunk_cells = store.chunk_cells
    groups = _chunk_groups(indices, chunk_cells)
    all_labels = store.cells["label"].to_numpy().astype(np.int32)
    weights = _inverse_class_frequency(all_labels[indices]) if class_balanced else None
    window_chunks = max(1, math.ceil(shuffle_window / chunk_cells))
    path = str(store.path)
    epoch_counter = [int(initial_epoch)]

    image_shape, dtype = tuple(store.image_shape), np.dtype(store.dtype)
    buffers = _Buffers(image_shape, dtype, window_cells=window_chunks * chunk_cells, batch_size=batch_size)

    def generate() -> Iterator[tuple[np.ndarray, ...]]:
        epoch = epoch_counter[0]
        epoch_counter[0] += 1
        rng = np.random.default_rng([seed, epoch])
        order = rng.permutation(len(groups)) if shuffle else np.arange(len(groups))
        with buffers.acquire() as (window, pool), h5py.File(path, "r") as h5:
            batcher = _Batcher(pool, batch_size=batch_size)
            for rows in _windows(groups, order, window_chunks):
                positions = _read_window(h5["images"], rows, window)
                ids = np.concatenate(rows)
                if weights is not None:
                    p = weights[all_labels[ids]]
                    pick = rng.choice(len(ids), size=len(ids), replace=True, p=p / p.sum())
                    positions, ids = positions[pick], ids[pick]
                elif shuffle:
                    pick = rng.permutation(len(ids))
                    positions, ids = positions[pick], ids[pick]
                block = batcher.push(window, positions, (all_labels[ids],) if labels else ())
                if block is not None:
                    yield block
            block = batcher.flush()
            if block is not None:
                yield block

    image_spec = tf.TensorSpec((None, None, *image_shape), tf.as_dtype(dtype))
    signature = (image_spec, tf.TensorSpec((None, None), tf.int32)) if labels else (image_spec,)
    dataset = _unstack(tf.data.Dataset.from_generator(generate, output_signature=signature))
    steps = math.ceil(len(indices) / batch_size)
    if repeat:
        dataset = dataset.repeat()
    else:
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(steps))
    dataset = dataset.prefetch(tf.data.AUTOTUNE)
    logger.debug("training dataset: %d cells, %d chunks, batch %d", len(indices), len(groups), batch_size)
    return StoreData(dataset, int(len(indices)), int(batch_size), steps)


def inference_dataset(
    store: CellStore,
    *,
    split: str = "test",
    batch_size: int = 256,
    shard: str | tuple[int, int] | None = None,
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

    check_positive_int("batch_size", batch_size)
    indices = shard_cells(select_cells(store, split), chunk_cells=store.chunk_cells, shard=parse_shard(shard))
    if indices.size == 0:
        where = f"split {split!r}" + (f", shard {shard}" if shard is not None else "")
        raise file_error(store.path, f"no cells in {where}")
    groups = _chunk_groups(indices, store.chunk_cells)
    path = str(store.path)
    image_shape, dtype = tuple(store.image_shape), np.dtype(store.dtype)
    window_chunks = max(1, math.ceil(DEFAULT_SHUFFLE_WINDOW / store.chunk_cells))
    buffers = _Buffers(image_shape, dtype, window_cells=window_chunks * store.chunk_cells, batch_size=batch_size)

    def generate() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        with buffers.acquire() as (window, pool), h5py.File(path, "r") as h5:
            batcher = _Batcher(pool, batch_size=batch_size)
            for rows in _windows(groups, np.arange(len(groups)), window_chunks):
                block = batcher.push(window, _read_window(h5["images"], rows, window), (np.concatenate(rows),))
                if block is not None:
                    yield block[1], block[0]
            block = batcher.flush()
            if block is not None:
                yield block[1], block[0]

    signature = (tf.TensorSpec((None, None), tf.int64), tf.TensorSpec((None, None, *image_shape), tf.as_dtype(dtype)))
    steps = math.ceil(len(indices) / batch_size)
    dataset = (_unstack(tf.data.Dataset.from_generator(generate, output_signature=signature))
               .apply(tf.data.experimental.assert_cardinality(steps))
               .prefetch(tf.data.AUTOTUNE))
    return StoreData(dataset, int(len(indices)), int(batch_size), steps)
