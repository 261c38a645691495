"""Pairs of cells of the same protein for Paired Cell Inpainting, as a tf.data pipeline.

For every source cell of a split, the target is drawn uniformly from the *other*
cells of the same protein in that split and redrawn every epoch (Lu et al. 2019,
``sample_pair_equally``); proteins with fewer than 2 cells are skipped. Index
draws are vectorized numpy (:func:`pair_indices`); each batch's sources and
targets are read together (batches in parallel ``tf.data`` map calls, in order), sorted by row, with
:class:`~deeploc_keras.data.reader.RowReader` (one ``preadv`` per run of adjacent
rows on an uncompressed store) and flipped independently for source and target in
place (numpy views, exact); tf.data then min-max scales every crop and channel.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import threading
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from ..core.errors import InputError, file_error
from ..models.layers_pci import minmax_scale
from .pipeline import epoch_stream
from .reader import SharedReader
from .store import CellStore

__all__ = ["PairData", "pair_indices", "pair_dataset", "flip_in_place"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PairData:
    """A PCI training or validation stream.

    Attributes
    ----------
    dataset : tf.data.Dataset
        One epoch of ``((source (b, H, W, 2), target_marker (b, H, W, 1)), target_protein
        (b, H, W, 1))`` float32 batches; every new iteration is the next epoch (fresh
        targets, order and flips), so pass it to ``Model.fit`` as is.
    steps_per_epoch : int
        Batches per epoch (full batches; one smaller batch when there are fewer cells than a batch).
    n_cells : int
        Source cells per epoch (cells of the split whose protein has at least 2 cells there).
    skipped_proteins : int
        Proteins of the split with fewer than 2 cells (no pair possible).
    """

    dataset: tf.data.Dataset
    steps_per_epoch: int
    n_cells: int
    skipped_proteins: int


def pair_indices(proteins: np.ndarray | list[str], *, seed: int = 0, epoch: int = 0) -> np.ndarray:
    """Draw one target per cell, uniformly among the other cells of the same protein.

    Vectorized: cells are grouped by protein, and the cell of rank ``r`` in a group
    of ``n`` gets rank ``(r + 1 + u) % n`` with ``u`` uniform in ``[0, n - 2]``, which
    never returns ``r`` itself.

    Parameters
    ----------
    proteins : array-like of str, shape (N,)
        Protein id of every cell.
    seed : int, default 0
        Seed of the draw (non-negative).
    epoch : int, default 0
        Epoch number (non-negative); each epoch gets its own deterministic draw.

    Returns
    -------
    numpy.ndarray of int64, shape (N,)
        Index of each cell's target, or -1 where its protein has a single cell.

    Examples
    --------
    >>> pair_indices(["a", "b", "a", "c"], seed=0).tolist()
    [2, -1, 0, -1]
    >>> t = pair_indices(["p"] * 5, seed=1, epoch=3)
    >>> bool((t != range(5)).all() and (t >= 0).all())
    True
    """
    proteins = np.asarray(proteins)
    n = len(proteins)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    _, codes = np.unique(proteins, return_inverse=True)
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_codes)) + 1]
    counts = np.diff(np.r_[starts, n])
    start, size = np.repeat(starts, counts), np.repeat(counts, counts)
    rank = np.arange(n) - start
    offset = np.random.default_rng([seed, epoch]).integers(0, np.maximum(size - 1, 1))
    target_sorted = np.where(size >= 2, order[start + (rank + 1 + offset) % size], -1)
    target = np.empty(n, dtype=np.int64)
    target[order] = target_sorted
    return target


def pair_dataset(
    store: CellStore | str | os.PathLike,
    *,
    split: str = "train",
    batch_size: int = 64,
    seed: int = 0,
    shuffle: bool = True,
    augment: bool | None = None,
    initial_epoch: int = 0,
    redraw: bool = True,
) -> PairData:
    """Stream PCI training pairs from a cell store.

    Parameters
    ----------
    store : CellStore or path
        A 2-channel store (channel 0 protein, channel 1 marker) with protein ids;
        cells whose protein is ``unknown`` are left out.
    split : {"train", "val", "test", "all"}, default "train"
        Which cells to pair (targets come from the same split).
    batch_size : int, default 64
        Cells per batch (the original uses 64).
    seed : int, default 0
        Seed of the target draws, the order and the flips; epoch ``e`` uses ``(seed, e)``.
    shuffle : bool, default True
        Shuffle the source order every epoch (targets are redrawn either way).
    augment : bool, optional
        Independent random up-down and left-right flips of source and target;
        default: True for ``split="train"``, False otherwise.
    initial_epoch : int, default 0
        Epoch number of the first iteration (to resume a run with the same draws).
    redraw : bool, default True
        New targets, order and flips at every iteration (epoch); False repeats the
        draws of ``initial_epoch`` every time (a fixed validation set).

    Returns
    -------
    PairData

    Raises
    ------
    InputError
        If every protein is ``unknown``, the store does not have 2 channels, no
        protein of the split has 2 cells, or an option is out of range.

    References
    ----------
    Lu et al. (2019), PLoS Comput Biol 15(9): e1007348 (``yeast_model/dataset.py``).

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "cells.h5"
    >>> with CellStore.create(path, seed=0) as s:
    ...     s.append(np.arange(20 * 64 * 64 * 2).reshape(20, 64, 64, 2) % 500,
    ...              {"protein": ["A"] * 10 + ["B"] * 9 + ["C"], "split": [0] * 20})
    >>> pairs = pair_dataset(path, batch_size=4)
    >>> pairs.n_cells, pairs.steps_per_epoch, pairs.skipped_proteins
    (19, 4, 1)
    >>> (source, marker), protein = next(iter(pairs.dataset))
    >>> source.shape, marker.shape, protein.shape
    (TensorShape([4, 64, 64, 2]), TensorShape([4, 64, 64, 1]), TensorShape([4, 64, 64, 1]))
    """
    if not isinstance(store, CellStore):
        store = CellStore.open(store)
    if batch_size < 1:
        raise InputError(f"batch_size must be positive. Received: batch_size={batch_size}")
    if seed < 0 or initial_epoch < 0:
        raise InputError(f"seed and initial_epoch must be non-negative. Received: seed={seed}, "
                         f"initial_epoch={initial_epoch}")
    store.require_proteins()
    if store.image_shape[2] != 2:
        raise file_error(store.path, f"PCI needs 2 channels (protein, marker). Received: image_shape={store.image_shape}")
    rows = store.select(split, known_protein=True)
    augment = split == "train" if augment is None else augment
    proteins = store.cells["protein"].to_numpy().astype(str)[rows]
    names, counts = np.unique(proteins, return_counts=True)
    skipped = int((counts < 2).sum())
    n_cells = int(counts[counts >= 2].sum())
    if n_cells == 0:
        raise file_error(store.path, f"no protein has 2 or more cells in split {split!r} "
                                     f"({len(names)} proteins); PCI needs pairs of cells of one protein")
    if skipped:
        logger.info("split %s: skipped %d proteins with fewer than 2 cells", split, skipped)
    if store.compression is not None:
        logger.warning("%s: PCI pairs read cells at random and every read of this %s-compressed store decompresses a "
                       "whole chunk of %d cells, so PCI training will wait for its input; re-import it without "
                       "--compression", store.path, store.compression, store.chunk_cells)
    steps = max(1, n_cells // batch_size)
    draws = _PairDraws(store.path, rows, proteins, image_shape=store.image_shape, dtype=store.dtype, seed=seed,
                       shuffle=shuffle, augment=augment, batch_size=batch_size, steps=steps,
                       initial_epoch=initial_epoch, redraw=redraw)
    spec = tf.as_dtype(store.dtype)

    def read(epoch: tf.Tensor, step: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        source, target = tf.numpy_function(draws.read, [epoch, step], (spec, spec), stateful=True)
        source.set_shape((None, *store.image_shape))
        target.set_shape((None, *store.image_shape))
        return source, target

    def epoch(epoch: tf.Tensor, n: tf.Tensor) -> tf.data.Dataset:
        return tf.data.Dataset.range(n).map(lambda i: read(epoch, i), num_parallel_calls=tf.data.AUTOTUNE,
                                            deterministic=True)

    dataset = (epoch_stream(draws.start_epoch, epoch).apply(tf.data.experimental.assert_cardinality(steps))
               .map(_prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
               .prefetch(tf.data.AUTOTUNE))
    logger.info("PCI pairs, split %s: %d cells of %d proteins, %d steps of %d", split, n_cells,
                len(names) - skipped, steps, batch_size)
    return PairData(dataset=dataset, steps_per_epoch=steps, n_cells=n_cells, skipped_proteins=skipped)


class _PairDraws:
    """The draws of every epoch (targets, source order, flips) and the reads of its batches.

    Each iteration of the stream calls :meth:`start_epoch` once; :meth:`read` may run
    in several threads at once (a ``tf.data`` map), sharing one reader.
    """

    def __init__(self, path: str | os.PathLike, rows: np.ndarray, proteins: np.ndarray, *,
                 image_shape: tuple[int, ...], dtype: np.dtype, seed: int, shuffle: bool, augment: bool,
                 batch_size: int, steps: int, initial_epoch: int, redraw: bool) -> None:
        self._rows, self._proteins, self._batch_size, self._steps = rows, proteins, batch_size, steps
        self._image_shape, self._dtype = tuple(image_shape), dtype
        self._seed, self._shuffle, self._augment = seed, shuffle, augment
        self._epochs = itertools.count(initial_epoch) if redraw else itertools.repeat(initial_epoch)
        self._draw = functools.lru_cache(maxsize=2)(self._draw_epoch)
        self._reader = SharedReader(path)
        self._lock = threading.Lock()

    def _draw_epoch(self, epoch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        target = pair_indices(self._proteins, seed=self._seed, epoch=epoch)
        source = np.flatnonzero(target >= 0)
        rng = np.random.default_rng([self._seed, epoch, 1])
        if self._shuffle:
            source = rng.permutation(source)
        flips = rng.random((len(source), 4)) < 0.5 if self._augment else np.zeros((len(source), 4), bool)
        return source, target, flips

    def start_epoch(self) -> tuple[np.int64, np.int64]:
        with self._lock:
            epoch = next(self._epochs)
            self._draw(epoch)
        return np.int64(epoch), np.int64(self._steps)

    def read(self, epoch: np.int64, step: np.int64) -> tuple[np.ndarray, np.ndarray]:
        """Sources and targets (raw, flipped) of batch ``step`` of ``epoch``."""
        with self._lock:
            source, target, flips = self._draw(int(epoch))
        part = slice(int(step) * self._batch_size, (int(step) + 1) * self._batch_size)
        sources = source[part]
        k = len(sources)
        images = np.empty((2 * k, *self._image_shape), self._dtype)
        self._reader.get().read_into(images, np.concatenate([self._rows[sources], self._rows[target[sources]]]))
        flip_in_place(images, up_down=np.r_[flips[part, 0], flips[part, 2]],
                      left_right=np.r_[flips[part, 1], flips[part, 3]])
        return images[:k], images[k:]


def flip_in_place(images: np.ndarray, *, up_down: np.ndarray, left_right: np.ndarray) -> None:
    """Flip crop ``j`` of ``images`` (n, H, W, C) up-down where ``up_down[j]``, left-right where ``left_right[j]``.

    Examples
    --------
    >>> x = np.arange(8).reshape(2, 2, 2, 1)
    >>> flip_in_place(x, up_down=np.array([True, False]), left_right=np.array([True, True]))
    >>> x[..., 0].tolist()
    [[[3, 2], [1, 0]], [[5, 4], [7, 6]]]
    """
    rows = np.flatnonzero(up_down)
    images[rows] = images[rows, ::-1]
    rows = np.flatnonzero(left_right)
    images[rows] = images[rows, :, ::-1]


def _prepare(source: tf.Tensor, target: tf.Tensor) -> tuple:
    """Scale the raw (flipped) crops; the model's inputs and target."""
    source, target = minmax_scale(source), minmax_scale(target)
    return (source, target[..., 1:2]), target[..., 0:1]
