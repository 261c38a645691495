"""Pairs of cells of the same protein for Paired Cell Inpainting, as a tf.data pipeline.

For every source cell of a split, the target is drawn uniformly from the *other*
cells of the same protein in that split and redrawn every epoch (Lu et al. 2019,
``sample_pair_equally``); proteins with fewer than 2 cells are skipped. The draws
are :class:`~deeploc_keras.data.order.PairOrder`'s; each batch's sources and
targets are read together (batches in parallel ``tf.data`` map calls, in order,
:func:`~deeploc_keras.data.sources.source_dataset`), sorted by row, with the store's
:class:`~deeploc_keras.data.reader.RowReader` (one ``preadv`` per run of adjacent
rows on an uncompressed store) and flipped independently for source and target in
place (numpy views, exact); tf.data then min-max scales every crop and channel.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from ..core.errors import InputError, check_positive_int, file_error
from ..models.layers_pci import minmax_scale
from .order import PairOrder
from .reader import RowReader
from .sources import Source, source_dataset
from .store import CellStore

__all__ = ["PairData", "pair_dataset", "flip_in_place"]

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
    readers: int | None = None,
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
    readers : int, optional
        Batches read at the same time (default: as many as tf.data tunes; the batches do not depend on it).

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
    check_positive_int("batch_size", batch_size)
    check_positive_int("readers", readers, optional=True)
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
    order = PairOrder(proteins, seed=seed, shuffle=shuffle, augment=augment)
    draws = _PairDraws(store.reader(), rows, order, image_shape=store.image_shape, dtype=store.dtype,
                       batch_size=batch_size, steps=steps, initial_epoch=initial_epoch, redraw=redraw)
    spec = tf.as_dtype(store.dtype)
    shape = (None, *store.image_shape)
    dataset = (source_dataset(draws, (spec, spec), (shape, shape), parallel=readers or tf.data.AUTOTUNE)
               .apply(tf.data.experimental.assert_cardinality(steps))
               .map(_prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
               .prefetch(tf.data.AUTOTUNE))
    logger.info("PCI pairs, split %s: %d cells of %d proteins, %d steps of %d", split, n_cells,
                len(names) - skipped, steps, batch_size)
    return PairData(dataset=dataset, steps_per_epoch=steps, n_cells=n_cells, skipped_proteins=skipped)


class _PairDraws(Source):
    """The batches of pairs of every epoch: the draws of a :class:`~deeploc_keras.data.order.PairOrder`, read
    with the store's reader and flipped.

    Each iteration of the stream calls :meth:`start_epoch` once (the next epoch, or always
    ``initial_epoch`` without ``redraw``); :meth:`read` may run in several threads at once.
    """

    def __init__(self, reader: RowReader, rows: np.ndarray, order: PairOrder, *, image_shape: tuple[int, ...],
                 dtype: np.dtype, batch_size: int, steps: int, initial_epoch: int, redraw: bool) -> None:
        self._reader, self._rows, self._order = reader, rows, order
        self._batch_size, self.steps_per_epoch = batch_size, steps
        self._image_shape, self._dtype = tuple(image_shape), dtype
        self._epochs = itertools.count(initial_epoch) if redraw else itertools.repeat(initial_epoch)
        self._lock = threading.Lock()

    def start_epoch(self) -> tuple[np.int64, np.int64]:
        with self._lock:
            epoch = next(self._epochs)
            self._order.epoch(epoch)
        return np.int64(epoch), np.int64(self.steps_per_epoch)

    def read(self, epoch: np.int64, step: np.int64) -> tuple[np.ndarray, np.ndarray]:
        """Sources and targets (raw, flipped) of batch ``step`` of ``epoch``."""
        with self._lock:
            sources, targets, flips = self._order.epoch(int(epoch))
        part = slice(int(step) * self._batch_size, (int(step) + 1) * self._batch_size)
        k = len(sources[part])
        images = np.empty((2 * k, *self._image_shape), self._dtype)
        self._reader.read_into(images, np.concatenate([self._rows[sources[part]], self._rows[targets[part]]]))
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
