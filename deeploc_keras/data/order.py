"""The order in which cells are read: pure numpy, a function of the seed and the epoch alone.

Training (:class:`MixedOrder`) mixes the whole store as a full shuffle does, for a
store in any row order (one written protein by protein included), while every read
stays a contiguous run of rows:

1. the selected cells are cut into *slices* of ``slice_cells`` consecutive rows
   (never across an HDF5 chunk) and the slices are permuted over the whole
   selection, per epoch;
2. the permuted sequence is cut into *windows* of ``window_cells`` cells (a
   multiple of the batch size, :func:`window_cells`), each holding about
   ``window_cells / slice_cells`` slices from all over the store;
3. inside a window the cells are *dealt*: each round takes one cell of every
   slice, in a random order, so consecutive batches draw their cells from as
   many distinct slices as the window has (with ``weights``, e.g.
   :func:`balanced_weights`, the window is resampled with replacement first).

The slice permutation draws from ``numpy.random.default_rng([seed, epoch])`` and
window ``w`` from ``default_rng([seed, epoch, 1, w])``, so an epoch's order is a
function of the seed and the epoch number alone (a resumed run gets the same
batches) and differs from one epoch to the next.

Paired Cell Inpainting (:class:`PairOrder`): every source cell gets a target drawn
uniformly from the other cells of its protein (:func:`pair_indices`), redrawn every
epoch, with the source order and the flips of the epoch.

Inference: the selected cells in store order; :func:`shard_cells` keeps the i-th of
n contiguous ranges of chunks, so the shards of a split partition it exactly.

This module imports no TensorFlow.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator

import numpy as np

from ..core.errors import InputError

__all__ = [
    "DEFAULT_SHUFFLE_WINDOW",
    "DEFAULT_SLICE_CELLS",
    "MixedOrder",
    "mixed_order",
    "window_cells",
    "balanced_weights",
    "PairOrder",
    "pair_indices",
    "shard_cells",
    "parse_shard",
]

#: Cells read and dealt together (rounded up to a multiple of the batch size).
DEFAULT_SHUFFLE_WINDOW = 4096
#: Consecutive store rows read as one slice when mixing (a window holds ~128 slices).
DEFAULT_SLICE_CELLS = 32


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


def window_cells(window: int, batch_size: int, n_cells: int) -> int:
    """``window`` rounded up to whole batches, no larger than ``n_cells`` needs.

    Examples
    --------
    >>> window_cells(700, 32, 1200), window_cells(4096, 32, 100)
    (704, 128)
    """
    return max(1, min(math.ceil(window / batch_size), math.ceil(n_cells / batch_size))) * batch_size


def balanced_weights(labels: np.ndarray) -> np.ndarray:
    """Per-cell sampling weights that draw every class equally often: the inverse of its class's count.

    Parameters
    ----------
    labels : numpy.ndarray of int, shape (n,)
        Class indices (non-negative).

    Returns
    -------
    numpy.ndarray of float64, shape (n,)

    Examples
    --------
    >>> balanced_weights(np.array([0, 0, 0, 2])).tolist()
    [0.3333333333333333, 0.3333333333333333, 0.3333333333333333, 1.0]
    """
    classes, counts = np.unique(labels, return_counts=True)
    inverse = np.zeros(int(classes.max()) + 1)
    inverse[classes] = 1.0 / counts
    return inverse[labels]


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

    References
    ----------
    Lu et al. (2019), PLoS Comput Biol 15(9): e1007348 (``sample_pair_equally``).

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


class PairOrder:
    """The pairs of any epoch for Paired Cell Inpainting: sources in batch order, their targets, their flips.

    Epoch ``e`` draws the targets with :func:`pair_indices` from ``(seed, e)`` and the
    source order and the flips from ``default_rng([seed, e, 1])`` (the last two epochs
    are kept).

    Parameters
    ----------
    proteins : numpy.ndarray of str, shape (n,)
        Protein id of every selected cell.
    seed : int, default 0
        Non-negative.
    shuffle : bool, default True
        Permute the sources every epoch (else in selection order).
    augment : bool, default True
        Draw independent up-down and left-right flips of source and target (else none).

    Examples
    --------
    >>> order = PairOrder(np.array(["a", "a", "b", "c", "c"]), seed=0)
    >>> sources, targets, flips = order.epoch(0)
    >>> sources.tolist(), targets.tolist(), flips.shape
    ([4, 1, 3, 0], [3, 0, 4, 1], (4, 4))
    """

    def __init__(self, proteins: np.ndarray, *, seed: int = 0, shuffle: bool = True, augment: bool = True) -> None:
        self._proteins, self._seed, self._shuffle, self._augment = proteins, seed, shuffle, augment
        self._epochs = functools.lru_cache(maxsize=2)(self._draw)

    def _draw(self, epoch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        target = pair_indices(self._proteins, seed=self._seed, epoch=epoch)
        source = np.flatnonzero(target >= 0)
        rng = np.random.default_rng([self._seed, epoch, 1])
        if self._shuffle:
            source = rng.permutation(source)
        flips = rng.random((len(source), 4)) < 0.5 if self._augment else np.zeros((len(source), 4), bool)
        return source, target[source], flips

    def epoch(self, epoch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Epoch ``epoch``'s sources (positions in ``proteins``, in batch order), their targets, and flips.

        The flips are (n, 4) booleans: source up-down, source left-right, target up-down,
        target left-right.
        """
        return self._epochs(int(epoch))
