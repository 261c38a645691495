"""Keras callbacks of :func:`deeploc_keras.train.train`: NaN guard with the epoch, and the per-epoch monitor."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd

from eval.score import score_representation

from .errors import InputError
from .pipeline import inference_dataset
from .store import UNKNOWN_PROTEIN, CellStore

__all__ = ["TerminateOnNaNEpoch", "FiniteModelCheckpoint", "MonitorScores"]

logger = logging.getLogger(__name__)

#: Metrics scored after every epoch (the study's Figure 3 follows the F-score; AMI is too slow per epoch).
MONITOR_METRICS = ("average_precision", "f_beta")


class TerminateOnNaNEpoch(keras.callbacks.TerminateOnNaN):
    """Keras' TerminateOnNaN that also remembers the epoch where the loss went bad."""

    def __init__(self) -> None:
        super().__init__()
        self.epoch = 0
        self.nan_epoch: int | None = None

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch = epoch

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        super().on_batch_end(batch, logs)
        if self.model.stop_training and self.nan_epoch is None and not np.isfinite((logs or {}).get("loss", 0.0)):
            self.nan_epoch = self.epoch


class FiniteModelCheckpoint(keras.callbacks.ModelCheckpoint):
    """Keras' ModelCheckpoint that never saves an epoch whose loss or monitored value is NaN or infinite.

    (Keras saves the first epoch unconditionally under ``save_best_only``, NaN included.)
    """

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        values = [logs.get(key) for key in ("loss", self.monitor)]
        if any(v is not None and not np.isfinite(float(v)) for v in values):
            logger.warning("epoch %d: loss or %s is not finite; no checkpoint saved", epoch + 1, self.monitor)
            return
        super().on_epoch_end(epoch, logs)


class MonitorScores(keras.callbacks.Callback):
    """After every epoch: embed val/test cells, average per protein, score against standards."""

    def __init__(self, store: CellStore, standards: dict, feature_model_fn: Any, *, path: Path, seed: int,
                 batch_size: int, aliases: dict[str, str] | None = None) -> None:
        super().__init__()
        self._store, self._standards, self._fn = store, standards, feature_model_fn
        self._path, self._seed, self._batch_size, self._aliases = path, seed, batch_size, aliases

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        features_model = self._fn(self.model)
        proteins = self._store.cells["protein"].to_numpy(dtype=str)
        sums: dict[str, np.ndarray] = {}
        counts: dict[str, int] = {}
        for split in ("val", "test"):
            try:
                data = inference_dataset(self._store, split=split, batch_size=self._batch_size)
            except InputError:
                continue
            for index, images in data.dataset:
                feats = np.asarray(features_model.predict_on_batch(images), dtype=np.float64)
                names = proteins[index.numpy()]
                uniq, inverse = np.unique(names, return_inverse=True)
                block = np.zeros((len(uniq), feats.shape[1]))
                np.add.at(block, inverse, feats)
                for k, name in enumerate(uniq):
                    sums[name] = sums.get(name, 0.0) + block[k]
                    counts[name] = counts.get(name, 0) + int((inverse == k).sum())
        known = sorted(p for p in sums if p != UNKNOWN_PROTEIN)
        if not known:
            return
        matrix = np.stack([sums[p] / counts[p] for p in known])
        score_logger = logging.getLogger("eval.score")
        level = score_logger.level
        score_logger.setLevel(logging.WARNING)  # one summary line per epoch below, not one per metric
        try:
            table = score_representation(known, matrix, self._standards, metrics=MONITOR_METRICS, seed=self._seed,
                                         aliases=self._aliases)
        finally:
            score_logger.setLevel(level)
        rows = pd.DataFrame({"epoch": epoch, "seed": self._seed, "standard": table["standard"],
                             "metric": table["metric"], "value": table["value"]})
        rows.to_csv(self._path, mode="a", header=not self._path.exists(), index=False)
        logger.info("monitor epoch %d: %s", epoch, ", ".join(
            f"{r.standard}/{r.metric}={r.value:.3f}" for r in rows.itertuples()))
