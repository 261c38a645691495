"""Tests for deeploc_keras.data.pairs: PCI pair sampling and its tf.data stream."""

from __future__ import annotations

import numpy as np
import pytest

from deeploc_keras.core.errors import InputError
from deeploc_keras.data.pairs import flip_in_place, pair_dataset
from deeploc_keras.data.store import CellStore

N_PROTEINS, N_CELLS = 6, 12


def _coded_image(protein: int, rank: int) -> np.ndarray:
    """A crop whose pixels spell (protein, rank) in both channels, readable under any flip."""
    image = np.full((64, 64, 2), 100, np.uint16)
    image[0, protein] = 1100  # -> 1.0 after min-max
    image[1, 10 + rank] = 600  # -> 0.5
    image[..., 1] //= 2  # marker: same code, other scale (min-max undoes it)
    return image


def _decode(channel: np.ndarray) -> tuple[int, int, bool, bool]:
    """(protein, rank, up_down, left_right) of one scaled channel (64, 64)."""
    up_down = channel[32:].sum() > channel[:32].sum()
    left_right = channel[:, 32:].sum() > channel[:, :32].sum()
    channel = channel[::-1] if up_down else channel
    channel = channel[:, ::-1] if left_right else channel
    return int(np.argmax(channel[0])), int(np.argmax(channel[1])) - 10, bool(up_down), bool(left_right)


@pytest.fixture(scope="module")
def coded_store(tmp_path_factory):
    """6 proteins x 12 train cells, a singleton protein, and 3 val cells of protein 0."""
    path = tmp_path_factory.mktemp("pairs") / "coded.h5"
    images, proteins = [], []
    for p in range(N_PROTEINS):
        for r in range(N_CELLS):
            images.append(_coded_image(p, r))
            proteins.append(f"P{p}")
    images.append(_coded_image(N_PROTEINS, 0))
    proteins.append("SINGLE")
    split = [0] * len(proteins) + [1] * 3
    images += [_coded_image(0, 20 + r) for r in range(3)]
    proteins += ["P0"] * 3
    with CellStore.create(path, seed=0) as store:
        store.append(np.stack(images), {"protein": proteins, "split": split})
    return path


def _epoch(pairs) -> list[tuple]:
    """Decode one epoch: (source, source marker, target marker, target protein) codes per cell."""
    rows = []
    for (source, marker), protein in pairs.dataset:
        source, marker, protein = source.numpy(), marker.numpy(), protein.numpy()
        for i in range(len(source)):
            rows.append((_decode(source[i, ..., 0]), _decode(source[i, ..., 1]),
                         _decode(marker[i, ..., 0]), _decode(protein[i, ..., 0])))
    return rows


def test_pair_dataset_counts_and_skips_singletons(coded_store):
    pairs = pair_dataset(coded_store, batch_size=16, seed=0)
    assert pairs.n_cells == N_PROTEINS * N_CELLS
    assert pairs.skipped_proteins == 1
    assert pairs.steps_per_epoch == N_PROTEINS * N_CELLS // 16
    (source, marker), protein = next(iter(pairs.dataset))
    assert source.shape == (16, 64, 64, 2) and marker.shape == protein.shape == (16, 64, 64, 1)
    assert source.dtype == marker.dtype == protein.dtype == "float32"
    for tensor in (source, marker, protein):
        values = tensor.numpy()
        assert values.min(axis=(1, 2)).max() == 0.0 and values.max(axis=(1, 2)).min() == 1.0


def test_pair_dataset_pairs_other_cells_of_same_protein(coded_store):
    pairs = pair_dataset(coded_store, batch_size=8, seed=0)
    seen_targets = set()
    for _ in range(3):
        rows = _epoch(pairs)
        assert len(rows) == pairs.steps_per_epoch * 8
        for source, source_marker, target_marker, target_protein in rows:
            assert source[:2] == source_marker[:2]  # both channels of one cell
            assert source[2:] == source_marker[2:]  # flipped together
            assert target_marker == target_protein  # the target's channels: same cell, same flips
            assert target_protein[0] == source[0]  # same protein
            assert target_protein[1] != source[1]  # another cell
            assert source[0] < N_PROTEINS  # the singleton never appears
            seen_targets.add(target_protein[:2])
    assert len(seen_targets) > 0.8 * N_PROTEINS * N_CELLS  # targets spread over the cells, not a fixed few


def test_pair_dataset_redraws_every_epoch_and_is_reproducible(coded_store):
    pairs = pair_dataset(coded_store, batch_size=8, seed=5)
    first, second = _epoch(pairs), _epoch(pairs)
    assert first != second
    assert _epoch(pair_dataset(coded_store, batch_size=8, seed=5)) == first
    assert _epoch(pair_dataset(coded_store, batch_size=8, seed=5, initial_epoch=1)) == second


def test_pair_dataset_batches_do_not_depend_on_the_number_of_readers(coded_store):
    assert _epoch(pair_dataset(coded_store, batch_size=8, seed=5, readers=1)) == _epoch(
        pair_dataset(coded_store, batch_size=8, seed=5, readers=3)) == _epoch(pair_dataset(coded_store, batch_size=8,
                                                                                          seed=5))


def test_pair_dataset_raises_on_bad_readers(coded_store):
    with pytest.raises(InputError, match="readers must be a positive integer"):
        pair_dataset(coded_store, readers=0)


def test_pair_dataset_without_redraw_repeats_its_pairs(coded_store):
    pairs = pair_dataset(coded_store, batch_size=8, seed=5, redraw=False)
    assert _epoch(pairs) == _epoch(pairs)


def test_pair_dataset_flips_only_when_augmenting(coded_store):
    flips = {row[0][2:] for row in _epoch(pair_dataset(coded_store, batch_size=8, seed=0))}
    assert flips == {(False, False), (False, True), (True, False), (True, True)}
    plain = _epoch(pair_dataset(coded_store, split="val", batch_size=8, shuffle=False))
    assert {row[0][2:] for row in plain} == {(False, False)}
    assert [row[0][1] for row in plain] == [20, 21, 22]  # in order, one small batch


def test_flip_in_place_equals_numpy_flip_of_each_crop():
    rng = np.random.default_rng(3)
    images = rng.integers(0, 4000, (9, 64, 64, 2), dtype=np.uint16)
    up_down, left_right = rng.random(9) < 0.5, rng.random(9) < 0.5
    expected = []
    for image, ud, lr in zip(images, up_down, left_right, strict=True):
        image = np.flip(image, axis=0) if ud else image
        expected.append((np.flip(image, axis=1) if lr else image).copy())
    flip_in_place(images, up_down=up_down, left_right=left_right)
    np.testing.assert_array_equal(images, np.stack(expected))


def test_pair_dataset_raises_unknown_proteins(tmp_path):
    path = tmp_path / "anon.h5"
    with CellStore.create(path, seed=0) as store:
        store.append(np.ones((4, 64, 64, 2), np.uint16))
    with pytest.raises(InputError, match="anon.h5: protein ids are 'unknown'"):
        pair_dataset(path)


def test_pair_dataset_raises_no_pairs(tmp_path):
    path = tmp_path / "singles.h5"
    with CellStore.create(path, seed=0) as store:
        store.append(np.ones((3, 64, 64, 2), np.uint16), {"protein": ["A", "B", "C"], "split": [0, 0, 0]})
    with pytest.raises(InputError, match="no protein has 2 or more cells in split 'train'"):
        pair_dataset(path)


def test_pair_dataset_raises_unknown_split(coded_store):
    with pytest.raises(InputError, match=r"unknown split 'valid'; split must be one of \['train', 'val', 'test', 'heldout', 'all'\]"):
        pair_dataset(coded_store, split="valid")


def test_pair_dataset_raises_wrong_channels(tmp_path):
    path = tmp_path / "three.h5"
    with CellStore.create(path, image_shape=(64, 64, 3), channel_names=["G", "R", "B"], seed=0) as store:
        store.append(np.ones((4, 64, 64, 3), np.uint16), {"protein": ["A"] * 4})
    with pytest.raises(InputError, match="PCI needs 2 channels"):
        pair_dataset(path)


@pytest.mark.parametrize("compression", ["lzf", None])
def test_pair_dataset_warns_on_a_compressed_store(tmp_path, caplog, compression):
    path = tmp_path / "s.h5"
    with CellStore.create(path, chunk_cells=8, compression=compression, seed=0) as writer:
        writer.append(np.zeros((16, 64, 64, 2), np.uint16), {"protein": ["A"] * 8 + ["B"] * 8, "split": [0] * 16})
    with caplog.at_level("WARNING", logger="deeploc_keras.data.pairs"):
        pair_dataset(path, batch_size=4)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == (compression is not None), messages
    if compression:
        assert str(path) in messages[0] and "lzf-compressed" in messages[0] and "chunk of 8 cells" in messages[0]
