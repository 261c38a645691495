"""Train DeepLoc or Paired Cell Inpainting on a cell store with Keras ``fit`` and standard callbacks.

A run directory holds everything a run produced::

    RUN/best.keras        best model by validation loss (ModelCheckpoint)
    RUN/history.csv       one row per epoch (CSVLogger)
    RUN/config.json       resolved configuration, versions, seed, store fingerprint
    RUN/model_card.json   method, preset, width, classes, channels, image shape, layer names
    RUN/backup/           BackupAndRestore state while the run is unfinished (resume)
    RUN/monitor.csv       per-epoch functional scores (``monitor``)
    RUN/logs/             TensorBoard logs (``tensorboard``)
    RUN/sweep.csv         one row per (lr, seed) of a learning-rate sweep; runs in RUN/lr<rate>_seed<s>/
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .errors import InputError, OutputExistsError, file_error
from .models.presets import get_preset
from .outputs import atomic_path, kept_on_interrupt, remove_path
from .pipeline import training_dataset
from .records import write_run_record
from .store import CellStore

if TYPE_CHECKING:  # TensorFlow and Keras load inside the functions, so the CLI starts fast
    import keras
    import tensorflow as tf

__all__ = [
    "MODEL_CHOICES",
    "MIXED_PRECISION_CHOICES",
    "PCI_DEFAULTS",
    "EMBEDDING_LAYERS",
    "NonFiniteLossError",
    "train",
    "resolve_mixed_precision",
    "mixed_precision_policy",
]

logger = logging.getLogger(__name__)

#: Methods ``train`` can fit.
MODEL_CHOICES = ("deeploc", "pci")
#: Values of ``mixed_precision``.
MIXED_PRECISION_CHOICES = ("auto", "off", "float16", "bfloat16")
#: Paired Cell Inpainting training defaults (Lu et al. 2019, ``yeast_model/opts.py``).
PCI_DEFAULTS = {"learning_rate": 1e-4, "beta_1": 0.5, "batch_size": 64, "epochs": 30}
#: Default embedding layer of each method (monitor and extract).
EMBEDDING_LAYERS = {"deeploc": "fc_2", "pci": "conv4_1"}


class NonFiniteLossError(ValueError):
    """The training loss became NaN or infinite."""


def resolve_mixed_precision(mixed_precision: str = "auto") -> str:
    """Keras dtype policy name for a ``mixed_precision`` choice.

    Parameters
    ----------
    mixed_precision : {"auto", "off", "float16", "bfloat16"}, default "auto"
        ``auto`` is ``mixed_float16`` when a GPU is visible and ``float32`` otherwise.

    Returns
    -------
    str
        ``"float32"``, ``"mixed_float16"`` or ``"mixed_bfloat16"``.

    Raises
    ------
    InputError
        For an unknown choice.

    Examples
    --------
    >>> resolve_mixed_precision("bfloat16")
    'mixed_bfloat16'
    """
    if mixed_precision not in MIXED_PRECISION_CHOICES:
        raise InputError(f"unknown mixed_precision {mixed_precision!r}; expected one of {list(MIXED_PRECISION_CHOICES)}")
    if mixed_precision == "auto":
        import tensorflow as tf

        return "mixed_float16" if tf.config.list_physical_devices("GPU") else "float32"
    return {"off": "float32", "float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}[mixed_precision]


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


def _device_names(devices: int | Sequence[str] | None) -> list[str] | None:
    """Resolve ``devices`` to device names: the first N GPUs (logical CPUs when no GPU) or the named ones."""
    import tensorflow as tf

    if devices is None:
        return None
    if isinstance(devices, (int, np.integer)):
        pool = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        if not 1 <= int(devices) <= len(pool):
            raise InputError(f"devices={devices} requested but {len(pool)} are visible "
                             f"({', '.join(d.name for d in pool)})")
        names = [d.name for d in pool[: int(devices)]]
    else:
        names = [str(d) for d in devices]
        visible = {(spec.device_type, spec.device_index) for spec in
                   (tf.DeviceSpec.from_string(d.name) for d in tf.config.list_logical_devices())}
        for name in names:
            spec = tf.DeviceSpec.from_string(name)
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


def _verbose(verbose: int | str | None) -> int | str:
    if verbose is None:
        return 1 if sys.stdout.isatty() else 2
    return verbose


def _best_val_loss(history_csv: Path) -> float:
    if not history_csv.is_file():
        return math.inf
    frame = pd.read_csv(history_csv)
    if "val_loss" not in frame or frame["val_loss"].dropna().empty:
        return math.inf
    return float(frame["val_loss"].min())


def _check_run_dir(out: Path, *, overwrite: bool, resume: bool) -> None:
    if out.exists():
        if resume:
            return
        if overwrite:
            remove_path(out)
            return
        raise OutputExistsError(out)


def _build_deeploc(store: CellStore, cfg: dict[str, Any], seed: int) -> keras.Model:
    from .models.deeploc import build_deeploc

    return build_deeploc(num_classes=len(store.class_names), preset=cfg["preset"], width=cfg["width"],
                         image_shape=store.image_shape, seed=seed)


def _compile(model: keras.Model, cfg: dict[str, Any], lr: float) -> None:
    import keras

    # XLA on one device; MirroredStrategy's replicated variables are not placed for an XLA step
    jit_compile = cfg["jit_compile"] and not cfg["devices"]

    if cfg["model"] == "pci":
        optimizer = keras.optimizers.Adam(learning_rate=lr, beta_1=PCI_DEFAULTS["beta_1"])
        model.compile(optimizer=optimizer, loss="mse", jit_compile=jit_compile)
        return
    decay = cfg.get("lr_decay")
    rate: Any = lr if not decay else keras.optimizers.schedules.ExponentialDecay(
        lr, decay_steps=int(decay[0]), decay_rate=float(decay[1]), staircase=True)
    optimizer = keras.optimizers.Adam(learning_rate=rate, epsilon=cfg["adam_epsilon"])
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], jit_compile=jit_compile)


def _datasets(store: CellStore, cfg: dict[str, Any], seed: int,
              initial_epoch: int) -> tuple[tf.data.Dataset, tf.data.Dataset, int | None]:
    steps = cfg["steps_per_epoch"]
    if cfg["model"] == "pci":
        from .pairs import pair_dataset

        train_data = pair_dataset(store, split="train", batch_size=cfg["batch_size"], seed=seed, shuffle=True,
                                  initial_epoch=initial_epoch)
        val_data = pair_dataset(store, split="val", batch_size=cfg["batch_size"], seed=seed, shuffle=False,
                                redraw=False)  # the same validation pairs every epoch
        train_ds = train_data.dataset.repeat() if steps else train_data.dataset
        return train_ds, val_data.dataset, steps
    train_data = training_dataset(store, split="train", batch_size=cfg["batch_size"], seed=seed,
                                  class_balanced=cfg["class_balanced"], repeat=bool(steps),
                                  initial_epoch=initial_epoch)
    try:
        val_data = training_dataset(store, split="val", batch_size=cfg["batch_size"], seed=seed, shuffle=False)
    except InputError:
        raise file_error(store.path, "no labelled cells in the val split; validation loss selects the best "
                                     "model (re-import with splits that give every split cells)") from None
    return train_data.dataset, val_data.dataset, steps


def _feature_model_fn(method: str) -> Any:
    if method == "pci":
        from .models.pci import pci_feature_model

        return lambda model: pci_feature_model(model, EMBEDDING_LAYERS["pci"])
    from .models.deeploc import embedding_model

    return lambda model: embedding_model(model, layer=EMBEDDING_LAYERS["deeploc"])


def _model_card(model: keras.Model, store: CellStore, cfg: dict[str, Any], lr: float, seed: int) -> dict[str, Any]:
    return {
        "method": cfg["model"],
        "preset": cfg["preset"],
        "width": cfg["width"],
        "learning_rate": lr,
        "seed": seed,
        "num_classes": len(store.class_names) if cfg["model"] == "deeploc" else None,
        "class_names": store.class_names if cfg["model"] == "deeploc" else [],
        "channel_names": store.channel_names,
        "image_shape": list(store.image_shape),
        "embedding_layer": EMBEDDING_LAYERS[cfg["model"]],
        "dtype_policy": cfg["dtype_policy"],
        "layers": [layer.name for layer in model.layers],
    }


def _fit_one(store: CellStore, run_dir: Path, cfg: dict[str, Any], *, lr: float, seed: int,
             standards: dict | None, extra_callbacks: Sequence[keras.callbacks.Callback]) -> dict[str, Any]:
    """Train one (lr, seed) in ``run_dir``; resume from its backup when there is one."""
    import keras

    from ._callbacks import FiniteModelCheckpoint, MonitorScores, TerminateOnNaNEpoch

    backup = run_dir / "backup"
    kept_on_interrupt(backup, "resume with --resume")
    history_csv = run_dir / "history.csv"
    resuming = backup.exists()
    if history_csv.exists() and not resuming and (run_dir / "best.keras").exists():
        logger.info("%s already finished; not retrained", run_dir)
        return {"dir": str(run_dir), "lr": lr, "seed": seed, "best_val_loss": _best_val_loss(history_csv),
                "epochs": len(pd.read_csv(history_csv)), "resumed": False}
    if not resuming:
        for stale in (history_csv, run_dir / "monitor.csv"):
            remove_path(stale)
    run_dir.mkdir(parents=True, exist_ok=True)
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    with mixed_precision_policy(cfg["dtype_policy"]):
        strategy = _strategy(cfg["device_names"])
        with strategy.scope():
            if cfg["model"] == "pci":
                from .models.pci import build_pci

                model = build_pci(width=cfg["width"], seed=seed)
            else:
                model = _build_deeploc(store, cfg, seed)
            _compile(model, cfg, lr)
        done = len(pd.read_csv(history_csv)) if resuming and history_csv.is_file() else 0
        train_ds, val_ds, steps = _datasets(store, cfg, seed, done)
        nan_guard = TerminateOnNaNEpoch()
        best_path = run_dir / "best.keras"
        callbacks: list[keras.callbacks.Callback] = [
            keras.callbacks.BackupAndRestore(str(backup)),
            nan_guard,
            FiniteModelCheckpoint(str(best_path), monitor="val_loss", save_best_only=True,
                                            initial_value_threshold=_best_val_loss(history_csv) if resuming else None),
            keras.callbacks.CSVLogger(str(history_csv), append=resuming),
        ]
        if cfg["early_stopping_patience"] is not None:
            callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss",
                                                           patience=int(cfg["early_stopping_patience"])))
        if cfg["tensorboard"]:
            callbacks.append(keras.callbacks.TensorBoard(log_dir=str(run_dir / "logs")))
        if standards is not None:
            callbacks.append(MonitorScores(store, standards, _feature_model_fn(cfg["model"]), path=run_dir / "monitor.csv",
                                      seed=seed, batch_size=max(cfg["batch_size"], 256)))
        callbacks.extend(extra_callbacks)
        with atomic_path(run_dir / "model_card.json", overwrite=True) as tmp:
            tmp.write_text(json.dumps(_model_card(model, store, cfg, lr, seed), indent=2))
        model.fit(train_ds, validation_data=val_ds, epochs=cfg["epochs"], steps_per_epoch=steps,
                  callbacks=callbacks, verbose=_verbose(cfg["verbose"]), shuffle=False)
    if nan_guard.nan_epoch is not None:
        kept = f"last good checkpoint kept at {best_path}" if best_path.exists() else \
            f"no checkpoint was saved in {run_dir} (the first epoch already diverged)"
        raise NonFiniteLossError(f"loss became NaN at epoch {nan_guard.nan_epoch + 1}; {kept}. "
                                 f"Lower the learning rate (lr={lr:g})")
    return {"dir": str(run_dir), "lr": lr, "seed": seed, "best_val_loss": _best_val_loss(history_csv),
            "epochs": len(pd.read_csv(history_csv)), "resumed": resuming}


def _collect_monitors(runs: list[dict[str, Any]], winner: dict[str, Any], path: Path) -> None:
    """Gather the monitor of every seed at the winning learning rate into one file (the study's Figure 3)."""
    frames = [pd.read_csv(Path(r["dir"]) / "monitor.csv").assign(lr=r["lr"]) for r in runs
              if r["lr"] == winner["lr"] and (Path(r["dir"]) / "monitor.csv").is_file()]
    if frames:
        with atomic_path(path, overwrite=True) as tmp:
            pd.concat(frames, ignore_index=True).to_csv(tmp, index=False)


def train(
    store: str | os.PathLike,
    out: str | os.PathLike,
    *,
    model: str = "deeploc",
    preset: str = "study",
    epochs: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    lr_sweep: bool = False,
    sweep_rates: Sequence[float] | None = None,
    seeds: Sequence[int] = (0,),
    width: float = 1.0,
    mixed_precision: str = "auto",
    devices: int | Sequence[str] | None = None,
    monitor: str | os.PathLike | None = None,
    seed: int = 0,
    tensorboard: bool = False,
    overwrite: bool = False,
    resume: bool = False,
    class_balanced: bool = False,
    jit_compile: bool = True,
    steps_per_epoch: int | None = None,
    verbose: int | str | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> dict[str, Any]:
    """Train a model on a cell store into a run directory.

    Parameters
    ----------
    store : str or os.PathLike
        A cell store (``deeploc`` needs labels of at least two classes; ``pci``
        needs protein ids).
    out : str or os.PathLike
        Run directory (created; see the module docstring for its layout).
    model : {"deeploc", "pci"}, default "deeploc"
    preset : str, default "study"
        DeepLoc preset (:data:`deeploc_keras.models.presets.PRESET_NAMES`); ignored by ``pci``.
    epochs, batch_size : int, optional
        Override the preset (``pci``: 30 epochs, batch 64).
    lr : float, optional
        Learning rate (preset's, or 1e-4 for ``pci``).
    lr_sweep : bool, default False
        Train the preset's sweep rates x ``seeds``, each in ``out/lr<rate>_seed<s>/``; the run with
        the minimal validation loss is copied to ``out/best.keras``; ``out/sweep.csv`` lists all.
    sweep_rates : sequence of float, optional
        Rates of the sweep (default: the preset's; the study's 1e-3, 6e-4, 3e-4, 1e-4, 5e-5).
    seeds : sequence of int, default (0,)
        Seeds of the sweep.
    width : float, default 1.0
        Channel width multiplier (0.125 for CPU tests).
    mixed_precision : {"auto", "off", "float16", "bfloat16"}, default "auto"
        Global Keras policy during the run only (restored afterwards); logits stay float32.
    devices : int or sequence of str, optional
        MirroredStrategy over the first N GPUs (logical CPUs when no GPU), or named devices.
    monitor : str or os.PathLike, optional
        Directory of functional standards: after every epoch the val/test cells are embedded,
        averaged per protein and scored into ``monitor.csv`` (epoch, seed, standard, metric, value).
    seed : int, default 0
        Seed of weights, augmentation and the pipeline (single run).
    tensorboard : bool, default False
        Write TensorBoard logs to ``out/logs``.
    overwrite : bool, default False
        Replace an existing run directory.
    resume : bool, default False
        Continue an interrupted run from ``out/backup`` (finished sweep runs are kept).
    class_balanced : bool, default False
        Class-balanced sampling of training cells (``deeploc``).
    jit_compile : bool, default True
        Compile the train step with XLA (about 2x faster on the CPU for the CPU-width models);
        not with ``devices`` (MirroredStrategy).
    steps_per_epoch : int, optional
        Fixed steps per epoch (the training stream then repeats).
    verbose : int or str, optional
        Keras verbosity; default: progress bar on a terminal, one line per epoch otherwise.
    callbacks : sequence of keras.callbacks.Callback, default ()
        Extra callbacks, run after the built-in ones.

    Returns
    -------
    dict
        ``run``, ``best_model``, ``best_val_loss``, ``lr``, ``seed``, ``epochs`` and ``runs``
        (one dict per trained (lr, seed)).

    Raises
    ------
    InputError
        Unknown choices, a store without labels or with fewer than two classes (``deeploc``),
        unknown proteins (``pci`` or ``monitor``), an empty split.
    OutputExistsError
        If ``out`` exists without ``overwrite`` or ``resume``.
    NonFiniteLossError
        If the loss became NaN (the last good ``best.keras`` is kept).
    """
    if model not in MODEL_CHOICES:
        raise InputError(f"unknown model {model!r}; expected one of {list(MODEL_CHOICES)}")
    dtype_policy = resolve_mixed_precision(mixed_precision)
    if width <= 0:
        raise InputError(f"width must be positive. Received: width={width}")
    for name, value in (("epochs", epochs), ("batch_size", batch_size), ("steps_per_epoch", steps_per_epoch)):
        if value is not None and int(value) < 1:
            raise InputError(f"{name} must be a positive integer. Received: {name}={value}")
    if lr_sweep and not seeds:
        raise InputError("lr_sweep needs at least one seed in seeds")
    if lr is not None and lr_sweep:
        raise InputError("pass either lr or lr_sweep, not both")
    if lr is not None and not lr > 0:
        raise InputError(f"lr must be positive. Received: lr={lr}")
    out = Path(out)
    with CellStore.open(store) as cell_store:
        if model == "deeploc":
            cell_store.require_labels()
            spec = get_preset(preset)
            cfg: dict[str, Any] = {
                "preset": spec.name, "epochs": epochs or spec.epochs, "batch_size": batch_size or spec.batch_size,
                "learning_rate": lr or spec.learning_rate, "lr_decay": spec.lr_decay,
                "adam_epsilon": spec.adam_epsilon, "early_stopping_patience": spec.early_stopping_patience,
                "sweep_rates": list(spec.lr_sweep),
            }
        else:
            cell_store.require_proteins()
            cfg = {
                "preset": None, "epochs": epochs or PCI_DEFAULTS["epochs"],
                "batch_size": batch_size or PCI_DEFAULTS["batch_size"],
                "learning_rate": lr or PCI_DEFAULTS["learning_rate"], "beta_1": PCI_DEFAULTS["beta_1"],
                "early_stopping_patience": None, "sweep_rates": list(get_preset("study").lr_sweep),
            }
        if class_balanced and model != "deeploc":
            raise InputError("class_balanced sampling needs labels; it applies to model='deeploc' only")
        standards = None
        if monitor is not None:
            from eval.standards import load_standards

            cell_store.require_proteins()
            standards = load_standards(monitor)
        if sweep_rates is not None:
            if not sweep_rates or min(sweep_rates) <= 0:
                raise InputError(f"sweep_rates must be positive numbers. Received: sweep_rates={list(sweep_rates)}")
            cfg["sweep_rates"] = [float(r) for r in sweep_rates]
        cfg.update({
            "model": model, "store": str(Path(store).resolve()), "out": str(out.resolve()), "width": float(width),
            "mixed_precision": mixed_precision, "dtype_policy": dtype_policy,
            "devices": devices if devices is None or isinstance(devices, int) else list(devices),
            "device_names": _device_names(devices),
            "monitor": None if monitor is None else str(monitor), "seed": seed, "seeds": list(seeds),
            "lr_sweep": lr_sweep, "tensorboard": tensorboard, "class_balanced": class_balanced,
            "jit_compile": bool(jit_compile), "steps_per_epoch": steps_per_epoch, "verbose": verbose,
        })
        _check_run_dir(out, overwrite=overwrite, resume=resume)
        out.mkdir(parents=True, exist_ok=True)
        write_run_record(out / "config.json", command="train", config=cfg, seed=seed,
                         inputs={"store": cell_store.fingerprint()})
        if not lr_sweep:
            result = _fit_one(cell_store, out, cfg, lr=cfg["learning_rate"], seed=seed, standards=standards,
                              extra_callbacks=callbacks)
            return {"run": str(out), "best_model": str(out / "best.keras"), **result, "runs": [result]}
        runs = []
        for rate in cfg["sweep_rates"]:
            for run_seed in seeds:
                sub = out / f"lr{rate:g}_seed{run_seed}"
                logger.info("sweep: lr=%g seed=%d -> %s", rate, run_seed, sub)
                runs.append(_fit_one(cell_store, sub, cfg, lr=rate, seed=int(run_seed), standards=standards,
                                     extra_callbacks=callbacks))
    table = pd.DataFrame(runs)
    with atomic_path(out / "sweep.csv", overwrite=True) as tmp:
        table.to_csv(tmp, index=False, quoting=csv.QUOTE_MINIMAL)
    winner = runs[int(np.argmin(table["best_val_loss"].to_numpy()))]
    for name in ("best.keras", "model_card.json"):
        shutil.copyfile(Path(winner["dir"]) / name, out / name)
    _collect_monitors(runs, winner, out / "monitor.csv")
    logger.info("sweep winner: lr=%g seed=%d val_loss=%.4f", winner["lr"], winner["seed"], winner["best_val_loss"])
    return {"run": str(out), "best_model": str(out / "best.keras"), **winner, "runs": runs}
