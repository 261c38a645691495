"""Tests of the sources of the data engine (deeploc_keras.data.sources): any Source streams as a tf.data dataset."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import tensorflow as tf

from deeploc_keras.data.pairs import _PairDraws
from deeploc_keras.data.pipeline import _WindowSource
from deeploc_keras.data.sources import Source, source_dataset


class _Counting(Source):
    """Step s of epoch e is the array [e, s]; it records the epochs started."""

    steps_per_epoch = 3

    def __init__(self) -> None:
        self.started: list[int] = []
        self._lock = threading.Lock()

    def start_epoch(self) -> tuple[np.int64, np.int64]:
        with self._lock:
            self.started.append(len(self.started))
            return np.int64(self.started[-1]), np.int64(self.steps_per_epoch)

    def read(self, epoch: np.int64, step: np.int64) -> tuple[np.ndarray, ...]:
        return (np.array([epoch, step], np.int64),)


def _steps(dataset, n=None) -> list[list[int]]:
    dataset = dataset if n is None else dataset.take(n)
    return [element[0].numpy().tolist() for element in dataset]


@pytest.mark.parametrize("parallel", [1, 3, tf.data.AUTOTUNE])
def test_every_iteration_is_the_next_epoch_in_step_order(parallel):
    source = _Counting()
    dataset = source_dataset(source, (tf.int64,), ((2,),), parallel=parallel)
    assert _steps(dataset) == [[0, 0], [0, 1], [0, 2]]
    assert _steps(dataset) == [[1, 0], [1, 1], [1, 2]]


def test_a_repeated_stream_runs_through_the_epochs_in_one_iteration():
    source = _Counting()
    dataset = source_dataset(source, (tf.int64,), ((2,),), parallel=2, repeat=True)
    assert _steps(dataset, 7) == [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2], [2, 0]]
    assert source.started == [0]


def test_the_window_and_pair_sources_are_sources():
    assert Source in _WindowSource.__mro__ and Source in _PairDraws.__mro__
