"""Keras callbacks of :func:`deeploc_keras.training.train.train`: kill-safe backups, NaN guard, resumable early
stopping, the finite checkpoint, the epoch log and the per-epoch monitor.

Every file they write is complete whenever the process dies: each is written under a
temporary name and renamed into place (the history and the monitor are rewritten whole
after every epoch; they are a few lines).
"""

from __future__ import annotations

import io
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import keras
import numpy as np
import pandas as pd

from eval.catalog import MONITOR_METRICS
from eval.score import score_representation

from ..core.errors import InputError, check_positive_int, file_error, reading, write_problem
from ..core.outputs import atomic_path, partial_path, publish, remove_path, remove_stale_partials
from ..core.profiles import ProteinMeans
from ..data.pipeline import inference_dataset, predict_batches
from ..data.store import CellStore
from .sweep import copy_state

__all__ = ["RunBackup", "TerminateOnNaNEpoch", "FiniteModelCheckpoint", "ResumedEarlyStopping", "EpochLog",
           "MonitorScores"]

logger = logging.getLogger(__name__)

#: The split the monitor embeds.
MONITOR_SPLIT = "test"


_BACKUP_NAME = re.compile(r"epoch-(\d+)\.weights\.h5")
#: The backup's group of random states: Keras' weight files leave out the seed generators (Dropout's, for one).
_RANDOM_STATES = "random_states"


def _random_states(model: keras.Model) -> list[Any]:
    """The state of every random generator of ``model`` (dropout, augmentation), in the model's variable order."""
    return [v for v in model.variables if v.name == "seed_generator_state"]


def _save_random_states(model: keras.Model, path: Path) -> None:
    """Add the model's random states to the weights file ``path``."""
    with h5py.File(path, "a") as handle:
        group = handle.create_group(_RANDOM_STATES)
        for i, state in enumerate(_random_states(model)):
            group[str(i)] = np.asarray(state)


def _load_random_states(model: keras.Model, path: Path) -> None:
    """Restore the random states saved in ``path`` (a backup written without them keeps the seeds' states)."""
    states = _random_states(model)
    with h5py.File(path, "r") as handle:
        if _RANDOM_STATES not in handle:
            return
        group = handle[_RANDOM_STATES]
        if len(group) != len(states):
            raise file_error(path, f"holds {len(group)} random states where the model has {len(states)}")
        for i, state in enumerate(states):
            state.assign(group[str(i)][()])


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _raise_write_problem(exc: BaseException, path: Path) -> None:
    """Name ``path`` when ``exc`` is a full disk or a read-only folder (h5py and zipfile name no file)."""
    cause: BaseException | None = exc
    seen: set[int] = set()
    while cause is not None and id(cause) not in seen and write_problem(cause) is None:
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    if cause is not None and write_problem(cause) is not None:
        raise file_error(path, write_problem(cause)) from exc


def _write_text(path: Path, text: str) -> None:
    """Replace ``path`` by ``text`` in one rename (flushed to disk first)."""
    with atomic_path(path, overwrite=True) as tmp:
        with open(tmp, "w", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())


class RunBackup(keras.callbacks.Callback):
    """The training state after every epoch, written so that a kill at any instant leaves a readable one.

    After epoch ``n`` (counted from 1) the model, optimizer and random state (every seed
    generator's: augmentation, dropout) go to a hidden temporary file in ``directory``, which
    is flushed to disk and renamed to ``epoch-<n>.weights.h5``; then all but the newest ``keep`` backups are deleted.
    A rename is atomic, so every ``epoch-*.weights.h5`` is complete whenever the
    process dies. :meth:`restore` loads the newest readable backup and falls back to
    the previous one when it cannot be read (a damaged disk, a file copied halfway).
    The directory exists from the start of training until it ends (also when the NaN
    guard or early stopping end it), so it marks an unfinished run; an interrupt or a
    kill keeps it.

    Parameters
    ----------
    directory : str or os.PathLike
        ``RUN/backup``; used by this run only.
    keep : int, default 2
        Backups kept (at least 1).

    Examples
    --------
    >>> import tempfile, numpy as np, keras
    >>> backup = RunBackup(tempfile.mkdtemp())
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    >>> model.compile("adam", "mse")
    >>> _ = model.fit(np.ones((4, 3)), np.ones(4), epochs=2, verbose=0, callbacks=[backup])
    >>> backup.restore(model)  # the run finished: its backup is gone
    0
    """

    def __init__(self, directory: str | os.PathLike, *, keep: int = 2) -> None:
        super().__init__()
        self.directory = Path(directory)
        self.keep = check_positive_int("keep", keep)

    def backups(self) -> list[tuple[int, Path]]:
        """The complete backups, newest first, as (epochs done, path)."""
        if not self.directory.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.directory.iterdir() if (m := _BACKUP_NAME.fullmatch(p.name))]
        return sorted(found, reverse=True)

    def restore(self, model: keras.Model) -> int:
        """Load the newest readable backup into the compiled ``model``; return its epochs done (0: none).

        Raises
        ------
        InputError
            If there are backups and none of them can be read, naming the newest.
        """
        found = self.backups()
        if not found:
            return 0
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        problems = []
        for epochs, path in found:
            try:
                with reading(path, "as a training backup"):
                    model.load_weights(path)
                    _load_random_states(model, path)
            except InputError as exc:
                problems.append(str(exc))
                logger.warning("%s; trying an older backup", exc)
                continue
            if problems:
                logger.warning("resumed from the older backup %s (epoch %d)", path, epochs)
            return epochs
        newest = found[0][1]
        detail = problems[0].split(": ", 1)[1] if ": " in problems[0] else problems[0]
        raise file_error(newest, f"{detail}; no readable backup is left in {self.directory} "
                                 "(pass --overwrite to train again from the start)")

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)  # present from the start: the run is unfinished

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        done = epoch + 1
        for stale in self.directory.glob(".epoch-*.weights.h5"):
            stale.unlink()
        tmp = self.directory / f".epoch-{done:04d}.{os.getpid()}.weights.h5"
        final = self.directory / f"epoch-{done:04d}.weights.h5"
        try:
            self.model.save_weights(tmp)
            _save_random_states(self.model, tmp)
            _fsync(tmp)
            os.replace(tmp, final)
            _fsync(self.directory)
        except BaseException as exc:
            tmp.unlink(missing_ok=True)
            _raise_write_problem(exc, final)
            raise
        for _, old in self.backups()[self.keep:]:
            old.unlink()

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.directory.is_dir():
            for path in self.directory.iterdir():
                path.unlink()
            self.directory.rmdir()


class ResumedEarlyStopping(keras.callbacks.EarlyStopping):
    """Keras' EarlyStopping that starts from the validation losses of the epochs already trained.

    Parameters
    ----------
    past : sequence of float
        ``val_loss`` of the epochs before the resumed one, in order (empty for a new run).
    **kwargs
        Passed to :class:`keras.callbacks.EarlyStopping` (``monitor="val_loss"``, ``patience``).
    """

    def __init__(self, past: Sequence[float] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._past = [float(v) for v in past]

    def on_train_begin(self, logs: dict | None = None) -> None:
        super().on_train_begin(logs)
        for epoch, value in enumerate(self._past):
            super().on_epoch_end(epoch, {self.monitor: value})


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

    Parameters
    ----------
    *args, **kwargs
        Those of :class:`keras.callbacks.ModelCheckpoint`.
    saved_model : keras.Model, optional
        The model to save when it is not the one trained (a sweep run trained in the sweep's
        shared model, :class:`~deeploc_keras.training.sweep.SweepModel`): the trained model's state
        is copied into it before each epoch's checkpoint.
    """

    def __init__(self, *args: Any, saved_model: keras.Model | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._saved_model = saved_model
        self._trained_model: keras.Model | None = None

    def set_model(self, model: keras.Model) -> None:
        self._trained_model = model
        super().set_model(self._saved_model if self._saved_model is not None else model)

    def on_train_begin(self, logs: dict | None = None) -> None:
        super().on_train_begin(logs)
        remove_stale_partials(self.filepath)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        values = [logs.get(key) for key in ("loss", self.monitor)]
        if any(v is not None and not np.isfinite(float(v)) for v in values):
            logger.warning("epoch %d: loss or %s is not finite; no checkpoint saved", epoch + 1, self.monitor)
            return
        copy_state(self._trained_model, self.model)
        super().on_epoch_end(epoch, logs)

    def _save_model(self, epoch: int, batch: int | None, logs: dict | None) -> None:
        """Save into a hidden folder beside the checkpoint, then swap the file into place in one rename."""
        final = Path(self.filepath)
        staging = partial_path(final)
        staging.mkdir(parents=True)
        self.filepath = os.fspath(staging / final.name)
        try:
            super()._save_model(epoch, batch, logs)
            saved = staging / final.name
            if saved.is_file():
                _fsync(saved)
                publish(saved, final, replace=True)
        except Exception as exc:
            _raise_write_problem(exc, final)
            raise
        finally:
            self.filepath = os.fspath(final)
            remove_path(staging)


class EpochLog(keras.callbacks.CSVLogger):
    """Keras' CSVLogger whose file is rewritten whole, in one rename, after every epoch.

    The file exists only once an epoch has finished, and always holds whole rows, so a
    run killed at any instant (in its first epoch too) leaves a history that resumes.

    Parameters
    ----------
    path : str or os.PathLike
        ``RUN/history.csv``.
    append : bool, default False
        Continue the rows already in ``path`` (a resumed run).

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, keras
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "history.csv"
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    >>> model.compile("adam", "mse")
    >>> _ = model.fit(np.ones((4, 3)), np.ones(4), epochs=2, verbose=0, callbacks=[EpochLog(path)])
    >>> path.read_text().splitlines()[0], len(path.read_text().splitlines())
    ('epoch,loss,val_loss', 3)
    """

    def __init__(self, path: str | os.PathLike, *, append: bool = False) -> None:
        super().__init__(os.fspath(path), append=append)
        self.path = Path(path)

    def on_train_begin(self, logs: dict | None = None) -> None:
        previous = ""
        if self.append and self.path.is_file():
            with reading(self.path):
                previous = self.path.read_text()
        self.append_header = not previous
        self.csv_file = io.StringIO(previous)
        self.csv_file.seek(0, io.SEEK_END)
        self.writer = None
        self.keys = None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        super().on_epoch_end(epoch, logs)
        _write_text(self.path, self.csv_file.getvalue())


class MonitorScores(keras.callbacks.Callback):
    """After every epoch: embed the test cells, average per protein, score against standards.

    Appends to ``path`` one row per standard and metric: ``epoch`` (counted from 1), ``seed``,
    ``standard``, ``metric``, ``value`` and ``prevalence`` (the chance level of AP and F).
    Only the test split is embedded, as the study's Figure 3 (the validation cells choose the checkpoint).
    """

    def __init__(self, store: CellStore, standards: dict, feature_model_fn: Any, *, path: Path, seed: int,
                 batch_size: int, aliases: dict[str, str] | None = None) -> None:
        super().__init__()
        self._store, self._standards, self._fn = store, standards, feature_model_fn
        self._path, self._seed, self._batch_size, self._aliases = path, seed, batch_size, aliases

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        features_model = self._fn(self.model)
        proteins = self._store.cells["protein"].to_numpy(dtype=str)
        means = ProteinMeans()
        try:
            data = inference_dataset(self._store, split=MONITOR_SPLIT, batch_size=self._batch_size)
        except InputError:
            logger.warning("monitor epoch %d: no %s cells to score", epoch + 1, MONITOR_SPLIT)
            return
        for rows, features in predict_batches(features_model, data):
            means.add(proteins[rows], features)
        known, matrix, _ = means.result()
        if not known:
            return
        score_logger = logging.getLogger("eval.score")
        level = score_logger.level
        score_logger.setLevel(logging.WARNING)  # one summary line per epoch below, not one per metric
        try:
            table = score_representation(known, matrix, self._standards, metrics=MONITOR_METRICS, seed=self._seed,
                                         aliases=self._aliases)
        finally:
            score_logger.setLevel(level)
        rows = pd.DataFrame({"epoch": epoch + 1, "seed": self._seed, "standard": table["standard"],
                             "metric": table["metric"], "value": table["value"], "prevalence": table["prevalence"]})
        previous = ""
        if self._path.is_file():
            with reading(self._path):
                previous = self._path.read_text()
        _write_text(self._path, previous + rows.to_csv(header=not previous, index=False))
        logger.info("monitor epoch %d: %s", epoch + 1, ", ".join(
            f"{r.standard}/{r.metric}={r.value:.3f}" for r in rows.itertuples()))
