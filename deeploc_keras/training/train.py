"""Train DeepLoc or Paired Cell Inpainting on a cell store with Keras ``fit`` and standard callbacks.

A run directory holds everything a run produced::

    RUN/best.keras        best model by validation loss (ModelCheckpoint); its ``info`` says what it is
                          (method, preset, width, classes, channels, image shape)
    RUN/history.csv       one row per epoch (CSVLogger)
    RUN/config.json       resolved configuration, versions, seed, store fingerprint
    RUN/backup/           the training state after the last two epochs while the run is unfinished (resume)
    RUN/monitor.csv       per-epoch functional scores of the test cells (``monitor``); of a sweep,
                          every run at the chosen rate (seed and lr columns)
    RUN/logs/             TensorBoard logs (``tensorboard``)
    RUN/sweep.csv         one row per (lr, seed) of a learning-rate sweep; runs in RUN/lr<rate>_seed<s>/

Everything that can be checked without TensorFlow (options, the store, its splits and
image size, the output, the recorded configuration of a resumed run) is checked by
:func:`validate_train` before TensorFlow loads and before anything is written. A resumed
run restores the weights, the optimizer and the augmentation's random state from its
backup, and the pipeline draws each epoch from ``(seed, epoch)``, so it gives the history
and the weights of the uninterrupted run exactly.

The configuration is a :class:`~deeploc_keras.training.config.TrainConfig`; what differs per
method (builder, loss, datasets, feature model) comes from :mod:`deeploc_keras.training.methods`.
A sweep chooses the learning rate of minimal mean validation loss over its seeds and keeps
every run; ``RUN/config.json`` records the chosen rate and the seed of its best run (copied to
``RUN/best.keras``), every ``RUN/lr<rate>_seed<s>/config.json`` its own, and
:func:`selected_runs` lists the runs at the chosen rate. The runs of a sweep (a constant rate, one
device) train one compiled model in turn, each from its own initial state
(:class:`~deeploc_keras.training.sweep.SweepModel`), so the train step is traced and compiled once per
sweep; each run saves its own model and equals the same run trained alone.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import logging
import math
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from eval.standards import load_standards, read_aliases, restrict

from .._tensorflow import load_tensorflow
from ..core.errors import DISK_FULL, DeeplocKerasError, InputError, file_error, reading
from ..core.outputs import atomic_path, check_output, kept_on_interrupt, remove_leftovers, remove_path, writing_dir
from ..core.ownership import check_replaceable, check_resumable
from ..core.records import write_run_record
from ..data.store import CellStore
from .config import TrainConfig, resolve_mixed_precision
from .methods import Method, get_method
from .sweep import SweepModel

if TYPE_CHECKING:  # TensorFlow and Keras load inside the functions, so the CLI starts fast
    import keras
    import tensorflow as tf

__all__ = ["NonFiniteLossError", "train", "validate_train", "selected_runs", "mixed_precision_policy"]

logger = logging.getLogger(__name__)


class NonFiniteLossError(DeeplocKerasError, ValueError):
    """The training loss became NaN or infinite."""


class mixed_precision_policy:  # noqa: N801 - used like a function in a with statement
    """Context manager that sets the global Keras dtype policy and restores the previous one.

    Parameters
    ----------
    name : str
        A Keras dtype policy name (``"float32"``, ``"mixed_float16"``, ``"mixed_bfloat16"``).

    Examples
    --------
    >>> import keras
    >>> with mixed_precision_policy("mixed_bfloat16"):
    ...     keras.mixed_precision.global_policy().name
    'mixed_bfloat16'
    >>> keras.mixed_precision.global_policy().name
    'float32'
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._previous: Any = None

    def __enter__(self) -> mixed_precision_policy:
        import keras

        self._previous = keras.mixed_precision.global_policy()
        keras.mixed_precision.set_global_policy(self._name)
        return self

    def __exit__(self, *exc: Any) -> None:
        import keras

        keras.mixed_precision.set_global_policy(self._previous)


def _device_names(devices: int | Sequence[str] | None) -> tuple[str, ...] | None:
    """Resolve ``devices`` to device names: the first N GPUs (logical CPUs when no GPU) or the named ones."""
    import tensorflow as tf

    if devices is None:
        return None
    if isinstance(devices, (int, np.integer)):
        pool = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        if not 1 <= int(devices) <= len(pool):
            raise InputError(f"devices={devices} requested but {len(pool)} are visible "
                             f"({', '.join(d.name for d in pool)})")
        names = tuple(d.name for d in pool[: int(devices)])
    else:
        names = tuple(str(d) for d in devices)
        visible = {(spec.device_type, spec.device_index) for spec in
                   (tf.DeviceSpec.from_string(d.name) for d in tf.config.list_logical_devices())}
        for name in names:
            try:
                spec = tf.DeviceSpec.from_string(name)
            except ValueError:
                spec = tf.DeviceSpec()
            if ((spec.device_type or "").upper(), spec.device_index or 0) not in visible:
                raise InputError(f"unknown device {name!r}; visible: "
                                 f"{[d.name for d in tf.config.list_logical_devices()]}")
    return names


def _strategy(names: list[str] | None) -> tf.distribute.Strategy:
    """The default strategy, or MirroredStrategy over the named devices."""
    import tensorflow as tf

    if names is None:
        return tf.distribute.get_strategy()
    logger.info("MirroredStrategy over %s", names)
    return tf.distribute.MirroredStrategy(names)


def _progress_callbacks(verbose: int | str | None) -> tuple[int | str, list[keras.callbacks.Callback]]:
    """Keras' verbosity and the progress callbacks: by default one bar over the epochs on stderr, stdout untouched."""
    if verbose is not None:
        return verbose, []
    from ..core.console import epoch_progress_callback

    return 0, [epoch_progress_callback("train")]


def _history(history_csv: Path) -> pd.DataFrame:
    """The epochs of ``history.csv`` (none when the file is missing or empty: no epoch finished)."""
    if not history_csv.is_file() or history_csv.stat().st_size == 0:
        return pd.DataFrame({"epoch": [], "val_loss": []})
    with reading(history_csv):
        return pd.read_csv(history_csv)


def _best_val_loss(history_csv: Path) -> float:
    frame = _history(history_csv)
    if "val_loss" not in frame or frame["val_loss"].dropna().empty:
        return math.inf
    return float(frame["val_loss"].min())


def _compile(model: keras.Model, cfg: TrainConfig, spec: Method, store: CellStore) -> None:
    """Adam with the configuration's rate (and decay) or the method's schedule, the method's loss and metrics."""
    import keras

    # XLA on one device; MirroredStrategy's replicated variables are not placed for an XLA step
    jit_compile = cfg.jit_compile and not cfg.devices
    rate: Any = cfg.learning_rate if not cfg.lr_decay else keras.optimizers.schedules.ExponentialDecay(
        cfg.learning_rate, decay_steps=int(cfg.lr_decay[0]), decay_rate=float(cfg.lr_decay[1]), staircase=True)
    if spec.schedule is not None:
        rate = spec.schedule(store, cfg)
    optimizer = keras.optimizers.Adam(learning_rate=rate, beta_1=cfg.beta_1, epsilon=cfg.adam_epsilon)
    model.compile(optimizer=optimizer, loss=spec.loss(), metrics=spec.metrics() or None, jit_compile=jit_compile)
    # variables created inside the first call of a tf.function make TensorFlow trace it twice; built here, the
    # train step is traced once
    optimizer.build(model.trainable_variables)


def _run_callbacks(store: CellStore, cfg: TrainConfig, spec: Method, *, resuming: bool, standards: dict | None,
                   nan_guard: keras.callbacks.Callback, saved_model: keras.Model,
                   steps_per_epoch: int) -> list[keras.callbacks.Callback]:
    """The built-in callbacks of one run before the backup: NaN guard, BatchNorm re-estimation (where an epoch leaves
    the moving statistics unconverged), best checkpoint, CSV log, the optional ones.

    A resumed run's checkpoint threshold and early-stopping state start from the epochs in ``history.csv``;
    the checkpoint saves ``saved_model``, the run's own model, whichever model trains.
    """
    import keras

    from .callbacks import EpochLog, FiniteModelCheckpoint, MonitorScores, ResumedEarlyStopping

    run_dir = Path(cfg.out)
    history_csv = run_dir / "history.csv"
    past = _history(history_csv)["val_loss"].tolist() if resuming else []
    callbacks: list[keras.callbacks.Callback] = [
        nan_guard,
        *_batchnorm_callbacks(store, cfg, spec, saved_model, steps_per_epoch),
        FiniteModelCheckpoint(str(run_dir / "best.keras"), monitor="val_loss", save_best_only=True,
                              initial_value_threshold=_best_val_loss(history_csv) if resuming else None,
                              saved_model=saved_model),
        EpochLog(history_csv, append=resuming),
    ]
    if cfg.early_stopping_patience is not None:
        callbacks.append(ResumedEarlyStopping(past, monitor="val_loss", patience=int(cfg.early_stopping_patience)))
    if cfg.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(run_dir / "logs")))
    if standards is not None:
        callbacks.append(MonitorScores(store, standards, lambda model: spec.feature_model(model, spec.default_layer, None),
                                       path=run_dir / "monitor.csv", seed=cfg.seed,
                                       batch_size=max(cfg.batch_size, 256),
                                       aliases=None if cfg.aliases is None else read_aliases(cfg.aliases)))
    return callbacks


def _batchnorm_callbacks(store: CellStore, cfg: TrainConfig, spec: Method, model: keras.Model,
                         steps_per_epoch: int) -> list[keras.callbacks.Callback]:
    """Re-estimation of the BatchNorm moving statistics before each validation, where an epoch leaves them unconverged
    (on the first training batches: up to REESTIMATION_CELLS cells, at most an epoch's; drawn once and kept, so a
    resumed run re-estimates on the cells the uninterrupted run used)."""
    from .batchnorm import REESTIMATION_CELLS, BatchNormReestimation, warn_unconverged

    if not warn_unconverged(model, steps_per_epoch):
        return []
    batches = min(math.ceil(REESTIMATION_CELLS / cfg.batch_size), steps_per_epoch)
    sample = list(spec.datasets(store, cfg, 0)[0].take(batches))
    return [BatchNormReestimation(sample, jit_compile=cfg.jit_compile and not cfg.devices)]


def _run_summary(cfg: TrainConfig, *, resumed: bool) -> dict[str, Any]:
    history_csv = Path(cfg.out) / "history.csv"
    return {"dir": cfg.out, "lr": cfg.learning_rate, "seed": cfg.seed, "best_val_loss": _best_val_loss(history_csv),
            "epochs": len(_history(history_csv)), "resumed": resumed}


#: The files of a single run, whose leftovers (partials, locks) a killed run may have left beside them.
_RUN_FILES = ("config.json", "best.keras", "history.csv", "monitor.csv")

#: The first epoch number of each per-epoch log: history.csv counts from 0 (Keras), monitor.csv from 1.
_EPOCH_LOGS = {"history.csv": 0, "monitor.csv": 1}


def _keep_epochs(run_dir: Path, epochs: int) -> None:
    """Cut the per-epoch logs of a resumed run to the ``epochs`` its backup holds (later rows are trained again).

    The kept lines are copied unchanged, so a resumed run's logs equal the uninterrupted run's.
    """
    for name, first in _EPOCH_LOGS.items():
        path = run_dir / name
        if not path.is_file():
            continue
        with reading(path):
            lines = path.read_text().splitlines(keepends=True)
            if not lines:
                continue
            column = next(csv.reader(lines[:1])).index("epoch")
            kept = [line for line in lines[1:] if int(float(next(csv.reader([line]))[column])) < epochs + first]
        if len(kept) < len(lines) - 1:
            with atomic_path(path, overwrite=True) as tmp, open(tmp, "w", newline="") as handle:
                handle.writelines([lines[0], *kept])


def _fit_one(store: CellStore, cfg: TrainConfig, *, fingerprint: str, standards: dict | None,
             extra_callbacks: Sequence[keras.callbacks.Callback], shared: SweepModel | None = None) -> dict[str, Any]:
    """Train the single run ``cfg`` describes in ``cfg.out``; resume from its backup when there is one.

    With ``shared`` (the runs of a sweep), the run trains the sweep's compiled model from this run's own
    initial state, and its checkpoints save this run's own model.
    """
    import keras

    from .callbacks import RunBackup, TerminateOnNaNEpoch

    spec = get_method(cfg.method, trainable=True)
    run_dir = Path(cfg.out)
    history_csv, best_path = run_dir / "history.csv", run_dir / "best.keras"
    resuming = (run_dir / "backup").exists()
    if history_csv.exists() and not resuming and best_path.exists():
        logger.info("%s already finished; not retrained", run_dir)
        return _run_summary(cfg, resumed=False)
    if not resuming:
        for stale in (history_csv, run_dir / "monitor.csv"):
            remove_path(stale)
    run_dir.mkdir(parents=True, exist_ok=True)
    for name in _RUN_FILES:
        remove_leftovers(run_dir / name)
    write_run_record(run_dir / "config.json", command="train", config=cfg.to_dict(), seed=cfg.seed,
                     inputs={"store": fingerprint})
    keras.backend.clear_session()
    keras.utils.set_random_seed(cfg.seed)
    with mixed_precision_policy(cfg.dtype_policy):
        with _strategy(None if cfg.device_names is None else list(cfg.device_names)).scope():
            model = spec.build(store, cfg)
            _compile(model, cfg, spec, store)
            trained = model if shared is None else shared.adopt(model)
            backup = RunBackup(run_dir / "backup")
            kept_on_interrupt(backup.directory, "resume with --resume")
            done = backup.restore(trained) if resuming else 0  # optimizer variables are built in the scope
        _keep_epochs(run_dir, done)
        train_ds, val_ds, steps = spec.datasets(store, cfg, done)
        nan_guard = TerminateOnNaNEpoch()
        callbacks = _run_callbacks(store, cfg, spec, resuming=resuming, standards=standards, nan_guard=nan_guard,
                                   saved_model=model, steps_per_epoch=steps or int(train_ds.cardinality()))
        verbose, progress = _progress_callbacks(cfg.verbose)
        # the backup comes last, so the logs of an epoch are written before the state that skips it on resume
        try:
            trained.fit(train_ds, validation_data=val_ds, epochs=cfg.epochs, initial_epoch=done,
                        steps_per_epoch=steps, callbacks=[*callbacks, *progress, *extra_callbacks, backup],
                        verbose=verbose, shuffle=False)
        except InputError as exc:
            if DISK_FULL not in str(exc):
                raise
            raise InputError(f"{exc}; the run so far is kept: continue it with --resume") from exc
    if nan_guard.nan_epoch is not None:
        kept = f"last good checkpoint kept at {best_path}" if best_path.exists() else \
            f"no checkpoint was saved in {run_dir} (the first epoch already diverged)"
        raise NonFiniteLossError(f"loss became NaN at epoch {nan_guard.nan_epoch + 1}; {kept}. "
                                 f"Lower the learning rate (lr={cfg.learning_rate:g}) and train again with "
                                 "--overwrite")
    return _run_summary(cfg, resumed=resuming)


def _collect_monitors(selected: list[dict[str, Any]], path: Path) -> None:
    """Gather the monitor of every run at the chosen learning rate into one file (the study's Figure 3)."""
    frames = [pd.read_csv(Path(r["dir"]) / "monitor.csv").assign(lr=r["lr"]) for r in selected
              if (Path(r["dir"]) / "monitor.csv").is_file()]
    if frames:
        with atomic_path(path, overwrite=True) as tmp:
            pd.concat(frames, ignore_index=True).to_csv(tmp, index=False)


def _sweep_run(cfg: TrainConfig, rate: float, seed: int) -> TrainConfig:
    """The configuration of one (rate, seed) run of a sweep, in ``<out>/lr<rate>_seed<seed>``."""
    return dataclasses.replace(cfg, lr_sweep=False, learning_rate=float(rate), seed=int(seed), seeds=(int(seed),),
                               out=str(Path(cfg.out) / f"lr{rate:g}_seed{seed}"))


def _select(runs: list[dict[str, Any]]) -> pd.DataFrame:
    """The sweep table: one row per run, the mean validation loss of its rate, the chosen rate's runs, the best run.

    The rate of minimal mean validation loss over its seeds is chosen (ties: the rate listed first);
    ``best`` marks the run of minimal validation loss at that rate.
    """
    table = pd.DataFrame(runs)
    table["mean_val_loss"] = table.groupby("lr", sort=False)["best_val_loss"].transform("mean")
    means = table.drop_duplicates("lr")
    chosen = float(means["lr"].iloc[int(np.argmin(means["mean_val_loss"].to_numpy()))])
    table["selected"] = table["lr"] == chosen
    table["best"] = False
    table.loc[table.loc[table["selected"], "best_val_loss"].idxmin(), "best"] = True
    return table


def selected_runs(run: str | os.PathLike) -> list[Path]:
    """The run directories a training run directory stands for: every seed at the chosen rate of a sweep.

    Parameters
    ----------
    run : str or os.PathLike
        A run directory written by :func:`train`.

    Returns
    -------
    list of pathlib.Path
        For a sweep, the ``RUN/lr<rate>_seed<s>/`` of the rate chosen by the mean validation
        loss (``selected`` in ``RUN/sweep.csv``), in seed order; for a single run, ``[RUN]``.

    Raises
    ------
    InputError
        If ``run`` holds no finished run.
    """
    run = Path(run)
    sweep = run / "sweep.csv"
    if sweep.is_file():
        table = pd.read_csv(sweep)
        if "selected" not in table:
            raise file_error(sweep, "has no 'selected' column; train the sweep again with this version")
        rows = table[table["selected"].astype(bool)].sort_values("seed")
        return [run / Path(d).name for d in rows["dir"]]
    if not (run / "best.keras").is_file():
        raise file_error(run, "holds no finished training run (no best.keras)")
    return [run]


def _sweep(store: CellStore, cfg: TrainConfig, *, fingerprint: str, standards: dict | None,
           extra_callbacks: Sequence[keras.callbacks.Callback]) -> dict[str, Any]:
    """Train every (rate, seed) of ``cfg``; choose the rate by the mean validation loss over the seeds."""
    out = Path(cfg.out)
    runs = []
    # a decayed rate is a constant of the traced step, and replicated variables belong to one strategy
    decayed = cfg.lr_decay or get_method(cfg.method).schedule is not None
    shared = SweepModel() if not decayed and cfg.device_names is None else None
    for rate in cfg.sweep_rates:
        for run_seed in cfg.seeds:
            sub = _sweep_run(cfg, rate, run_seed)
            logger.info("sweep: lr=%g seed=%d -> %s", rate, run_seed, sub.out)
            runs.append(_fit_one(store, sub, fingerprint=fingerprint, standards=standards,
                                 extra_callbacks=extra_callbacks, shared=shared))
    table = _select(runs)
    with atomic_path(out / "sweep.csv", overwrite=True) as tmp:
        table.to_csv(tmp, index=False, quoting=csv.QUOTE_MINIMAL)
    selected = [runs[i] for i in np.flatnonzero(table["selected"].to_numpy())]
    winner = runs[int(np.flatnonzero(table["best"].to_numpy())[0])]
    with atomic_path(out / "best.keras", overwrite=True) as tmp:
        shutil.copyfile(Path(winner["dir"]) / "best.keras", tmp)
    _collect_monitors(selected, out / "monitor.csv")
    chosen = dataclasses.replace(cfg, learning_rate=winner["lr"], seed=winner["seed"])
    write_run_record(out / "config.json", command="train", config=chosen.to_dict(), seed=chosen.seed,
                     inputs={"store": fingerprint})
    logger.info("sweep: lr=%g chosen (mean val_loss %.4f over seeds %s); best run seed=%d val_loss=%.4f",
                winner["lr"], float(table.loc[table["best"], "mean_val_loss"].iloc[0]), list(cfg.seeds),
                winner["seed"], winner["best_val_loss"])
    return {"run": str(out), "best_model": str(out / "best.keras"), **winner, "runs": runs, "selected": selected}


#: What a training run writes into its directory (glob patterns): ``--overwrite`` replaces a folder holding only these.
RUN_OUTPUTS = ("config.json", "model_card.json", "best.keras", "history.csv", "monitor.csv", "backup", "logs",
               "sweep.csv", "lr*_seed*")


def _run_directory(cfg: TrainConfig, *, overwrite: bool, resume: bool) -> contextlib.AbstractContextManager:
    """The run directory, locked while the run writes it; under ``overwrite`` the previous run is set aside and
    deleted once this one finishes (:func:`deeploc_keras.core.outputs.writing_dir`)."""
    return writing_dir(cfg.out, command="train", overwrite=overwrite and not resume, resume=resume,
                       inputs=(cfg.store, cfg.monitor, cfg.aliases), names=RUN_OUTPUTS)


def _check_run_dir(cfg: TrainConfig, *, overwrite: bool, resume: bool) -> None:
    """Refuse to replace a folder that is not a training run or holds an input; to resume one that is not a run."""
    if overwrite:
        check_replaceable(cfg.out, command="train", inputs=(cfg.store, cfg.monitor, cfg.aliases), names=RUN_OUTPUTS)
    elif resume:
        check_resumable(cfg.out, command="train")


def _check_splits(store: CellStore, spec: Method) -> None:
    """Refuse a store whose train or val split cannot feed the method (val selects the best model)."""
    from ..data.store import SPLIT_NAMES, UNKNOWN_PROTEIN

    if spec.check_store is not None:
        spec.check_store(store)
        return
    cells = store.cells
    for split in ("train", "val"):
        if spec.needs_labels:
            if store.select(split, labelled=True).size == 0:
                raise file_error(store.path, f"no labelled cells in the {split} split; training needs them "
                                             "(validation loss selects the best model): re-import with splits "
                                             "that give every split cells")
            continue
        in_split = cells.loc[(cells["split"] == SPLIT_NAMES.index(split)) & (cells["protein"] != UNKNOWN_PROTEIN),
                             "protein"]
        if not (in_split.value_counts() >= 2).any():
            raise file_error(store.path, f"no protein has 2 or more cells in the {split} split; {spec.display} "
                                         "trains and validates on pairs of cells of one protein: re-import with "
                                         "splits that give every split cells")


def _smallest_input(padding: str) -> int:
    """The smallest input side the DeepLoc stack (:mod:`deeploc_keras.models.deeploc`: 3x3 convolutions ``conv_1`` ...
    ``conv_8``, a 2x2 max-pool after the 2nd, 4th and 8th) turns into at least one pixel."""
    side = 1
    for k in range(8, 0, -1):
        if k in (2, 4, 8):
            side *= 2 if padding == "valid" else 1
        side += 2 if padding == "valid" else 0
    return side


def _check_image_shape(store: CellStore, cfg: TrainConfig) -> None:
    """Refuse crops smaller than the preset's network or random crop needs."""
    if cfg.preset is None:
        return
    from ..models.presets import get_preset

    preset = get_preset(cfg.preset)
    h, w = store.image_shape[:2]
    smallest = _smallest_input(preset.padding)
    if min(h, w, preset.crop_size or h) < smallest:
        raise file_error(store.path, f"crops are {h}x{w}, but preset {cfg.preset!r} ({preset.padding} convolutions) "
                                     f"needs inputs of at least {smallest}x{smallest}; import larger crops or choose "
                                     "another preset")
    if preset.crop_size is None:
        return
    need = preset.crop_size + preset.crop_offsets - 1
    if min(h, w) < need:
        raise file_error(store.path, f"crops are {h}x{w}, but preset {cfg.preset!r} crops {preset.crop_size}x"
                                     f"{preset.crop_size} at offsets 0-{preset.crop_offsets - 1} (needs at least "
                                     f"{need}x{need}); import larger crops or choose another preset")


def _warn_other_threads(record_path: Path, recorded: dict[str, Any]) -> None:
    """Warn when a run resumes with other CPUs or thread variables than it started with (its numbers will differ)."""
    from ..core.records import thread_configuration

    now = thread_configuration()
    changed = [key for key in ("cpus", "variables") if key in recorded and recorded[key] != now[key]]
    if changed:
        logger.warning("%s: the run started with %s and resumes with %s; the resumed epochs equal the uninterrupted "
                       "run's only with the same thread configuration", record_path,
                       {k: recorded[k] for k in changed}, {k: now[k] for k in changed})


def _check_resume(cfg: TrainConfig, store: CellStore) -> None:
    """Refuse to resume a run recorded with other options or another store (lists the keys that differ)."""
    record_path = Path(cfg.out) / "config.json"
    if not record_path.is_file():
        return
    recorded = TrainConfig.read(record_path)
    with reading(record_path):
        record = json.loads(record_path.read_text())
    inputs = record.get("inputs") or {}
    _warn_other_threads(record_path, (record.get("environment") or {}).get("threads") or {})
    changed = cfg.differences(recorded)
    if inputs.get("store") not in (None, store.fingerprint()):
        changed.append("store")
    if changed:
        raise file_error(record_path, f"was written with other values of {changed}; resume needs the same options "
                                      "and store (or pass --overwrite to start again)")


def _config(store: str | os.PathLike, out: str | os.PathLike, config: TrainConfig | None,
            options: dict[str, Any]) -> TrainConfig:
    """``config`` (or the configuration of ``options``), on the absolute paths of ``store`` and ``out``."""
    if config is not None and options:
        raise InputError(f"pass a config or training options ({sorted(options)}), not both")
    cfg = TrainConfig.from_preset(**options) if config is None else config
    return dataclasses.replace(cfg, store=str(Path(store).resolve()), out=str(Path(out).resolve()))


def validate_train(store: str | os.PathLike, out: str | os.PathLike, config: TrainConfig | None = None, *,
                   overwrite: bool = False, resume: bool = False, **options: Any) -> TrainConfig:
    """Check a training run without TensorFlow and without writing anything.

    Checks the configuration, the store (labels or protein ids, cells in the train and val
    splits, a crop size the preset can crop), the standards of ``monitor``, the output
    directory and, on ``resume``, that the configuration and the store are those recorded in
    ``out/config.json``. :func:`train` calls it first, before it loads TensorFlow, and
    trains the configuration it returns.

    Parameters
    ----------
    store, out, config, overwrite, resume, **options
        As in :func:`train`.

    Returns
    -------
    TrainConfig
        The configuration on the absolute paths of ``store`` and ``out``, with ``dtype_policy``
        and ``device_names`` not yet resolved (``devices`` are checked by :func:`train`, which
        needs TensorFlow to list them).

    Raises
    ------
    InputError, OutputExistsError
        As :func:`train` does for these checks.

    Examples
    --------
    >>> validate_train("missing.h5", "run")
    Traceback (most recent call last):
    ...
    deeploc_keras.core.errors.InputError: missing.h5: no such file
    """
    if resume and overwrite:
        raise InputError("pass either resume (continue the run in out) or overwrite (start it again), not both")
    cfg = _config(store, out, config, options)
    spec = get_method(cfg.method, trainable=True)
    run_dir = check_output(cfg.out, overwrite=overwrite or resume)
    if run_dir.exists() and not run_dir.is_dir():
        raise file_error(run_dir, "is a file, but the run directory is a folder; choose another --out")
    _check_run_dir(cfg, overwrite=overwrite, resume=resume)
    with CellStore.open(store) as cell_store:
        cell_store.require_labels() if spec.needs_labels else cell_store.require_proteins()
        if cfg.monitor is not None:
            _check_monitor(cell_store, cfg)
        _check_splits(cell_store, spec)
        _check_image_shape(cell_store, cfg)
        if resume:
            _check_resume(cfg, cell_store)
    return cfg


def _check_monitor(store: CellStore, cfg: TrainConfig) -> None:
    """Refuse monitor standards none of whose ids can match the store's proteins (up front, not after an epoch)."""
    store.require_proteins()
    alias_map = read_aliases(cfg.aliases) if cfg.aliases is not None else None
    proteins = sorted(set(store.cells["protein"].astype(str)))
    for name, standard in load_standards(cfg.monitor).items():
        try:
            restrict(standard, proteins, aliases=alias_map)
        except InputError as exc:
            raise InputError(f"monitor standard {name!r}: {exc}") from None


def train(
    store: str | os.PathLike,
    out: str | os.PathLike,
    config: TrainConfig | None = None,
    *,
    overwrite: bool = False,
    resume: bool = False,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    **options: Any,
) -> dict[str, Any]:
    """Train a method on a cell store into a run directory.

    Parameters
    ----------
    store : str or os.PathLike
        A cell store (``deeploc`` needs labels of at least two classes; ``pci``
        needs protein ids; ``pifia`` at least two proteins with train cells).
    out : str or os.PathLike
        Run directory (created; see the module docstring for its layout).
    config : TrainConfig, optional
        What to train (:meth:`TrainConfig.from_preset
        <deeploc_keras.training.config.TrainConfig.from_preset>`); default: the configuration of ``options``.
    overwrite : bool, default False
        Replace an existing run directory.
    resume : bool, default False
        Continue an interrupted run from ``out/backup``; the configuration must be the one
        recorded in ``out/config.json``.
    callbacks : sequence of keras.callbacks.Callback, default ()
        Extra callbacks, run after the built-in ones.
    **options
        Without ``config``: ``method``, ``preset`` and any :class:`~deeploc_keras.training.config.TrainConfig`
        field, passed to :meth:`TrainConfig.from_preset <deeploc_keras.training.config.TrainConfig.from_preset>`
        (e.g. ``method="pci"``, ``epochs=2``, ``learning_rate=1e-3``, ``lr_sweep=True``, ``seeds=(0, 1, 2)``).

    Returns
    -------
    dict
        ``run``, ``best_model``, ``best_val_loss``, ``lr``, ``seed``, ``epochs`` (of ``best_model``),
        ``runs`` (one per (lr, seed)) and ``selected`` (the runs at the chosen rate).

    Raises
    ------
    InputError
        Unknown options, a store without labels (``deeploc``) or protein ids (``pci``, ``monitor``),
        an empty split, ``seed`` with ``lr_sweep``, both ``config`` and ``options``, or ``resume``
        with another configuration than recorded.
    OutputExistsError
        If ``out`` exists without ``overwrite`` or ``resume``.
    NonFiniteLossError
        If the loss became NaN (the last good ``best.keras`` is kept).
    """
    cfg = validate_train(store, out, config, overwrite=overwrite, resume=resume, **options)
    load_tensorflow()
    cfg = dataclasses.replace(cfg, dtype_policy=resolve_mixed_precision(cfg.mixed_precision),
                              device_names=_device_names(cfg.devices))
    with CellStore.open(store) as cell_store, _run_directory(cfg, overwrite=overwrite, resume=resume):
        standards = None if cfg.monitor is None else load_standards(cfg.monitor)
        fingerprint = cell_store.fingerprint()
        if cfg.lr_sweep:
            write_run_record(Path(cfg.out) / "config.json", command="train", config=cfg.to_dict(), seed=None,
                             inputs={"store": fingerprint})
            return _sweep(cell_store, cfg, fingerprint=fingerprint, standards=standards, extra_callbacks=callbacks)
        result = _fit_one(cell_store, cfg, fingerprint=fingerprint, standards=standards, extra_callbacks=callbacks)
    return {"run": str(out), "best_model": str(Path(out) / "best.keras"), **result, "runs": [result],
            "selected": [result]}
