"""Tests of the chunked tf.data pipeline (deeploc_keras.data.pipeline)."""

from __future__ import annotations

import numpy as np
import pytest

from deeploc_keras.core.errors import InputError
from deeploc_keras.data.pipeline import inference_dataset, training_dataset
from deeploc_keras.data.store import CellStore


def _ids(images) -> np.ndarray:
    """Row numbers that the tiny store encodes in pixel (0, 0, 1)."""
    return np.asarray(images)[:, 0, 0, 1].astype(np.int64) - 1


def _epoch(dataset) -> tuple[np.ndarray, np.ndarray]:
    ids, labels = [], []
    for images, y in dataset:
        ids.append(_ids(images))
        labels.append(y.numpy())
    return np.concatenate(ids), np.concatenate(labels)


def test_training_dataset_visits_every_train_cell_once_per_epoch(tiny_store):
    with CellStore.open(tiny_store) as store:
        data = training_dataset(store, batch_size=20, seed=3)
        train = store.select("train", labelled=True)
        first, labels = _epoch(data.dataset)
        second, _ = _epoch(data.dataset)
        truth = store.cells["label"].to_numpy()
        chunk = store.chunk_cells
    assert data.n_cells == len(train) and data.steps_per_epoch == -(-len(train) // 20)
    for ids in (first, second):
        assert np.array_equal(np.sort(ids), train)
    assert np.array_equal(labels, truth[first])
    assert not np.array_equal(first, second)
    # shuffled across chunks, not only within the chunk order
    assert not np.array_equal(first // chunk, np.sort(first // chunk))


def test_training_dataset_same_seed_same_order(tiny_store):
    with CellStore.open(tiny_store) as store:
        a = [_epoch(training_dataset(store, batch_size=16, seed=7).dataset)[0]]
        ds_b = training_dataset(store, batch_size=16, seed=7).dataset
        b = [_epoch(ds_b)[0], _epoch(ds_b)[0]]
        other = _epoch(training_dataset(store, batch_size=16, seed=8).dataset)[0]
        resumed = _epoch(training_dataset(store, batch_size=16, seed=7, initial_epoch=1).dataset)[0]
    assert np.array_equal(a[0], b[0])
    assert not np.array_equal(a[0], other)
    assert np.array_equal(resumed, b[1])


def test_training_dataset_yields_raw_integers_in_store_dtype(tiny_store):
    with CellStore.open(tiny_store) as store:
        images, labels = next(iter(training_dataset(store, batch_size=8, seed=0).dataset))
        ids = _ids(images)
        expected = store.images(ids)
    assert images.dtype.name == "uint16" and labels.dtype.name == "int32"
    assert np.array_equal(images.numpy(), expected)


def test_training_dataset_without_shuffle_is_store_order(tiny_store):
    with CellStore.open(tiny_store) as store:
        ids, _ = _epoch(training_dataset(store, split="val", batch_size=5, shuffle=False).dataset)
        assert np.array_equal(ids, store.select("val", labelled=True))


def test_training_dataset_labels_false_yields_images_only(tmp_path, store_factory):
    path = store_factory(tmp_path / "u.h5", labels=False)
    with CellStore.open(path) as store:
        batch = next(iter(training_dataset(store, batch_size=4, labels=False).dataset))
    assert batch.shape == (4, 64, 64, 2)


def test_training_dataset_class_balanced_balances(tmp_path, store_factory):
    path = store_factory(tmp_path / "imb.h5", imbalanced=True, cells_per_protein=40, chunk_cells=32)
    with CellStore.open(path) as store:
        plain = training_dataset(store, batch_size=64, seed=0)
        balanced = training_dataset(store, batch_size=64, seed=0, class_balanced=True)
        plain_labels = np.concatenate([_epoch(plain.dataset)[1] for _ in range(3)])
        bal_labels = np.concatenate([_epoch(balanced.dataset)[1] for _ in range(3)])
        ids, labels = _epoch(balanced.dataset)
        truth = store.cells["label"].to_numpy()
    plain_frac = np.bincount(plain_labels, minlength=4) / len(plain_labels)
    bal_frac = np.bincount(bal_labels, minlength=4) / len(bal_labels)
    assert plain_frac[0] == pytest.approx(0.5, abs=0.01)  # 3:1:1:1
    assert np.abs(bal_frac - 0.25).max() < 0.05
    assert len(bal_labels) == len(plain_labels)
    assert np.array_equal(labels, truth[ids])


def test_inference_dataset_is_ordered_and_shards_partition(tiny_store):
    with CellStore.open(tiny_store) as store:
        full = inference_dataset(store, split="all", batch_size=10)
        rows = np.concatenate([idx.numpy() for idx, _ in full.dataset])
        parts = [np.concatenate([idx.numpy() for idx, _ in inference_dataset(
            store, split="all", batch_size=10, shard=(i, 3)).dataset]) for i in range(3)]
        idx, images = next(iter(full.dataset))
        assert np.array_equal(images.numpy(), store.images(idx.numpy()))
        n = len(store)
    assert np.array_equal(rows, np.arange(n))
    assert np.array_equal(np.concatenate(parts), rows)
    assert all(len(p) % 16 == 0 for p in parts)  # whole chunks


def test_training_dataset_targets_replace_the_labels_and_select_the_cells(tiny_store):
    with CellStore.open(tiny_store) as store:
        targets = np.where(np.arange(len(store)) % 3 == 0, -1, np.arange(len(store)) % 7).astype(np.int32)
        ids, labels = _epoch(training_dataset(store, batch_size=16, seed=0, targets=targets).dataset)
        train = store.select("train")
    assert sorted(ids.tolist()) == sorted(train[targets[train] >= 0].tolist())
    np.testing.assert_array_equal(labels, targets[ids])


def test_training_dataset_raises_on_targets_of_another_length(tiny_store):
    with CellStore.open(tiny_store) as store, pytest.raises(InputError, match="one value per store cell"):
        training_dataset(store, targets=np.zeros(3, np.int32))


def test_training_dataset_raises_on_unknown_split(tiny_store):
    with CellStore.open(tiny_store) as store, pytest.raises(InputError, match="unknown split 'dev'"):
        training_dataset(store, split="dev")


def test_training_dataset_raises_on_empty_split(tmp_path, store_factory):
    path = store_factory(tmp_path / "u.h5", labels=False)
    with CellStore.open(path) as store, pytest.raises(InputError, match="no labelled cells in split 'train'"):
        training_dataset(store)


def test_training_dataset_raises_on_bad_batch_size(tiny_store):
    with CellStore.open(tiny_store) as store, pytest.raises(InputError, match="batch_size"):
        training_dataset(store, batch_size=0)


def _protein_ordered_store(path, *, n_proteins=40, cells_per_protein=250, chunk_cells=512):
    """Cells appended protein by protein through CellStore.append; label = protein number; tiny crops."""
    names = [f"P{k:02d}" for k in range(n_proteins)]
    with CellStore.create(path, image_shape=(4, 4, 1), channel_names=["GFP"], class_names=names,
                          chunk_cells=chunk_cells, seed=0) as store:
        for k, name in enumerate(names):
            rows = np.arange(k * cells_per_protein, (k + 1) * cells_per_protein)
            images = np.broadcast_to((rows % 65536).astype(np.uint16)[:, None, None, None], (len(rows), 4, 4, 1))
            store.append(images, {"protein": [name] * len(rows), "label": [k] * len(rows)})
    return path


def _median_distinct(batches, batch_size):
    return float(np.median([len(np.unique(b)) for b in batches if len(b) == batch_size]))


def test_training_batches_of_a_protein_ordered_store_mix_as_a_full_permutation(tmp_path):
    path = _protein_ordered_store(tmp_path / "ordered.h5")
    with CellStore.open(path) as store:
        data = training_dataset(store, split="all", batch_size=128, seed=0)
        epoch = [(x.numpy()[:, 0, 0, 0], y.numpy()) for x, y in data.dataset]
    labels = np.concatenate([y for _, y in epoch])
    rows = np.concatenate([x for x, _ in epoch]).astype(np.int64)
    assert np.array_equal(np.sort(rows), np.arange(len(labels)))  # every cell once
    assert np.array_equal(labels, rows // 250)  # labels travel with their images
    full = np.random.default_rng(0).permutation(labels)
    full_batches = [full[i:i + 128] for i in range(0, len(full), 128)]
    pipeline = _median_distinct([y for _, y in epoch], 128)
    assert pipeline >= 0.9 * _median_distinct(full_batches, 128)


def test_repeated_stream_is_the_epochs_one_after_another(tiny_store):
    with CellStore.open(tiny_store) as store:
        epochs = training_dataset(store, batch_size=16, seed=4, initial_epoch=2)
        expected = [_ids(x) for _ in range(3) for x, _ in epochs.dataset]
        stream = training_dataset(store, batch_size=16, seed=4, initial_epoch=2, repeat=True)
        steps = stream.steps_per_epoch
        got = [_ids(x) for x, _ in stream.dataset.take(3 * steps)]
        again = [_ids(x) for x, _ in stream.dataset.take(steps)]
        n = stream.n_cells
    assert n % 16 != 0  # every epoch ends with a short batch
    assert [len(b) for b in got] == [len(b) for b in expected]
    assert all(np.array_equal(a, b) for a, b in zip(got, expected, strict=True))
    # a new iteration starts after every epoch the first one read (some read ahead of the consumer)
    assert not any(np.array_equal(again[0], got[k * steps]) for k in range(3))
    assert np.array_equal(np.sort(np.concatenate(again)), np.sort(np.concatenate(got[:steps])))


def test_training_order_does_not_depend_on_the_number_of_readers(tiny_store):
    with CellStore.open(tiny_store) as store:
        orders = [_epoch(training_dataset(store, batch_size=16, seed=5, shuffle_window=48, slice_cells=4,
                                          readers=k).dataset)[0] for k in (1, 3)]
    assert np.array_equal(orders[0], orders[1])


@pytest.mark.parametrize("option", ["readers", "slice_cells"])
def test_training_dataset_raises_on_bad_option(tiny_store, option):
    with CellStore.open(tiny_store) as store, pytest.raises(InputError, match=option):
        training_dataset(store, **{option: 0})


_FAULTS_AFTER = """
import resource, sys
import numpy as np
import tensorflow as tf

def fresh_page_faults(n):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(n):
        block = np.ones(3 << 17)  # 3 MiB (768 pages): mmapped afresh each time once the threshold is pinned
        del block
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

if sys.argv[1] == "from_generator":
    for _ in tf.data.Dataset.from_generator(lambda: iter([np.zeros(2)]), output_signature=tf.TensorSpec((2,))):
        pass
else:
    from deeploc_keras.data.pairs import pair_dataset
    from deeploc_keras.data.pipeline import inference_dataset, training_dataset
    from deeploc_keras.data.store import CellStore
    with CellStore.open(sys.argv[2]) as store:
        for data in (training_dataset(store, split="all", batch_size=8), inference_dataset(store, split="all")):
            for _ in data.dataset:
                pass
    for _ in pair_dataset(sys.argv[2], split="all", batch_size=4).dataset:
        pass
fresh_page_faults(2)
print(fresh_page_faults(20))
"""


def test_pipelines_leave_the_process_allocator_as_it_was(tiny_store):
    """Building a ``Dataset.from_generator`` makes TensorFlow pin glibc's mmap threshold for the whole process
    (every later large allocation then faults in fresh pages); the store pipelines must not build one."""
    import os
    import subprocess
    import sys

    pages = {}
    for kind in ("from_generator", "pipelines"):
        done = subprocess.run([sys.executable, "-c", _FAULTS_AFTER, kind, str(tiny_store)], capture_output=True,
                              text=True, check=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        pages[kind] = int(done.stdout.split()[-1])
    if pages["from_generator"] < 10 * 768:
        pytest.skip(f"this TensorFlow leaves glibc's mmap threshold alone ({pages['from_generator']} page faults)")
    assert pages["pipelines"] < 2 * 768, pages


@pytest.mark.parametrize(("compression", "chunk_cells", "warned"), [("lzf", 64, True), ("lzf", 32, False),
                                                                     (None, 64, False)])
def test_training_dataset_warns_when_compressed_chunks_exceed_a_slice(tmp_path, caplog, compression, chunk_cells,
                                                                       warned):
    path = tmp_path / "s.h5"
    with CellStore.create(path, class_names=["A"], chunk_cells=chunk_cells, compression=compression) as writer:
        writer.append(np.zeros((64, 64, 64, 2), np.uint16), {"label": [0] * 64, "protein": ["P"] * 64})
    with CellStore.open(path) as store, caplog.at_level("WARNING", logger="deeploc_keras.data.pipeline"):
        assert store.compression == compression
        training_dataset(store, split="all", batch_size=16)
        training_dataset(store, split="all", batch_size=16, shuffle=False)  # store order: whole chunks, no warning
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == int(warned), messages
    if warned:
        assert str(path) in messages[0] and "chunks of 64 cells" in messages[0] and "--chunk-cells 32" in messages[0]
