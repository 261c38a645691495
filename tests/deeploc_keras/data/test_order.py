"""Tests of the order of cells (deeploc_keras.data.order): pure numpy, no TensorFlow."""

from __future__ import annotations

import numpy as np
import pytest

from deeploc_keras.core.errors import InputError
from deeploc_keras.data.order import (
    MixedOrder,
    PairOrder,
    balanced_weights,
    mixed_order,
    pair_indices,
    parse_shard,
    shard_cells,
    window_cells,
)


def test_mixed_order_windows_do_not_depend_on_the_order_they_are_built_in():
    indices = np.arange(0, 900, 3)
    order = MixedOrder(indices, chunk_cells=64, slice_cells=8, window_cells=64, seed=2)
    backwards = [order.window(1, w) for w in reversed(range(order.n_windows))][::-1]
    listed = list(mixed_order(indices, chunk_cells=64, slice_cells=8, window_cells=64, seed=2, epoch=1))
    assert order.n_windows == len(listed) == 5
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
               for a, b in zip(backwards, listed, strict=True))


def test_mixed_order_deals_one_cell_per_slice_per_round():
    indices = np.arange(0, 400, 2)  # every other row: slices of 8 rows hold 4 selected cells
    windows = list(mixed_order(indices, chunk_cells=64, slice_cells=8, window_cells=100, seed=1, epoch=2))
    assert [len(r) for r, _ in windows] == [100, 100]
    for rows, positions in windows:
        assert np.array_equal(indices[positions], rows)
        slices = rows // 8
        n_slices = len(np.unique(slices))
        assert len(np.unique(slices[:n_slices])) == n_slices  # the first round: every slice once
    again = list(mixed_order(indices, chunk_cells=64, slice_cells=8, window_cells=100, seed=1, epoch=2))
    other = list(mixed_order(indices, chunk_cells=64, slice_cells=8, window_cells=100, seed=1, epoch=3))
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(windows, again, strict=True))
    assert not np.array_equal(windows[0][0], other[0][0])


def test_mixed_order_slices_never_cross_a_chunk():
    indices = np.arange(100)
    (rows, _), = mixed_order(indices, chunk_cells=10, slice_cells=4, window_cells=100, seed=0)
    per_chunk_slices = {(r // 10, r % 10 // 4) for r in rows}
    assert len(per_chunk_slices) == 30  # 3 slices (4 + 4 + 2 rows) in each of 10 chunks
    assert len(np.unique(rows[:30] // 10 * 3 + rows[:30] % 10 // 4)) == 30


def test_shard_cells_by_contiguous_chunks():
    idx = np.array([0, 1, 5, 17, 18, 40])
    parts = [shard_cells(idx, chunk_cells=16, shard=(i, 2)).tolist() for i in range(2)]
    assert parts == [[0, 1, 5, 17, 18], [40]]


@pytest.mark.parametrize("text", ["2/2", "a/b", "1", "-1/3", "0/0"])
def test_parse_shard_raises_on_bad_shard(text):
    with pytest.raises(InputError, match="shard"):
        parse_shard(text)


def test_pair_indices_never_self_nor_other_protein():
    rng = np.random.default_rng(0)
    proteins = rng.choice([f"P{k}" for k in range(40)], size=500).astype("U8")
    proteins[:3] = ["ONE_A", "ONE_B", "ONE_C"]
    _, inverse, counts = np.unique(proteins, return_inverse=True, return_counts=True)
    single = counts[inverse] == 1
    assert single[:3].all()
    for epoch in range(100):
        target = pair_indices(proteins, seed=7, epoch=epoch)
        assert (target[single] == -1).all()
        paired = np.flatnonzero(~single)
        assert (target[paired] != paired).all()
        assert (proteins[target[paired]] == proteins[paired]).all()


def test_pair_indices_draws_every_other_cell_uniformly():
    proteins = np.array(["A"] * 4 + ["B"] * 2)
    draws = np.stack([pair_indices(proteins, seed=3, epoch=e) for e in range(3000)])
    counts = np.stack([np.bincount(draws[:, 0], minlength=6)])[0]
    assert counts[0] == 0 and counts[4:].sum() == 0
    np.testing.assert_allclose(counts[1:4] / 3000, 1 / 3, atol=0.04)
    assert (draws[:, 4] == 5).all() and (draws[:, 5] == 4).all()


def test_pair_indices_redraws_each_epoch_deterministically():
    proteins = np.repeat([f"P{k}" for k in range(10)], 20)
    first = pair_indices(proteins, seed=1, epoch=0)
    assert np.array_equal(first, pair_indices(proteins, seed=1, epoch=0))
    assert not np.array_equal(first, pair_indices(proteins, seed=1, epoch=1))
    assert not np.array_equal(first, pair_indices(proteins, seed=2, epoch=0))


def test_pair_order_targets_are_pair_indices_of_the_epoch():
    proteins = np.repeat([f"P{k}" for k in range(5)], [1, 3, 4, 2, 6])
    order = PairOrder(proteins, seed=4)
    sources, targets, flips = order.epoch(2)
    expected = pair_indices(proteins, seed=4, epoch=2)
    assert np.array_equal(np.sort(sources), np.flatnonzero(expected >= 0))
    assert np.array_equal(targets, expected[sources])
    assert flips.shape == (len(sources), 4) and flips.any()


def test_pair_order_without_shuffle_or_augment_keeps_selection_order_and_no_flips():
    proteins = np.repeat(["A", "B"], 4)
    sources, _, flips = PairOrder(proteins, seed=1, shuffle=False, augment=False).epoch(0)
    assert sources.tolist() == list(range(8))
    assert not flips.any()


def test_balanced_weights_give_every_class_the_same_total():
    labels = np.array([0] * 6 + [1] * 3 + [3])
    totals = np.bincount(labels, weights=balanced_weights(labels))
    assert totals[[0, 1, 3]] == pytest.approx([1.0, 1.0, 1.0]) and totals[2] == 0


@pytest.mark.parametrize(("window", "batch", "n", "expected"), [(4096, 128, 10_000, 4096), (700, 50, 1200, 700),
                                                                 (700, 32, 1200, 704), (4096, 16, 40, 48)])
def test_window_cells_is_whole_batches_no_larger_than_needed(window, batch, n, expected):
    assert window_cells(window, batch, n) == expected
