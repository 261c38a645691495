"""The resolved configuration of one training run, validated once.

:func:`resolve_train_config` fills a :class:`TrainConfig` from the method's defaults
(the DeepLoc preset, or :data:`deeploc_keras.training.methods.PCI_DEFAULTS`) and the explicit
arguments; :func:`deeploc_keras.training.train.train` writes it as ``RUN/config.json`` and reads
it back on resume. This module loads no TensorFlow unless ``mixed_precision="auto"``
has to look for a GPU.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import InputError, check_positive_int, check_seed, file_error
from .methods import METHODS, TRAINABLE_METHODS, get_method

__all__ = ["MIXED_PRECISION_CHOICES", "TrainConfig", "resolve_mixed_precision", "resolve_train_config"]

#: Values of ``mixed_precision``.
MIXED_PRECISION_CHOICES = ("auto", "off", "float16", "bfloat16")
#: Fields that describe the machine or the output of a run, not what is trained (free to differ on resume).
_RUNTIME_FIELDS = ("store", "out", "mixed_precision", "dtype_policy", "devices", "device_names", "monitor",
                   "aliases", "tensorboard", "jit_compile", "verbose")
_DTYPE_POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")


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


@dataclass(frozen=True)
class TrainConfig:
    """Everything one training run (or one learning-rate sweep) is run with.

    Attributes
    ----------
    method : str
        A trainable method (:data:`deeploc_keras.training.methods.TRAINABLE_METHODS`).
    preset : str or None
        DeepLoc preset; None for methods without presets.
    epochs, batch_size : int
    learning_rate : float or None
        The rate of the run. Under ``lr_sweep`` None until the sweep has chosen it;
        the sweep root's record then holds the winner's.
    lr_decay : tuple (decay_steps, decay_rate) or None
    adam_epsilon, beta_1 : float
    early_stopping_patience : int or None
        Stop after this many epochs without a better validation loss; None (every preset's
        default) trains all ``epochs`` and keeps the checkpoint of minimal validation loss.
    sweep_rates : tuple of float
    lr_sweep : bool
    seeds : tuple of int
        Seeds of the sweep.
    seed : int or None
        Seed of weights, augmentation and the pipeline. Under ``lr_sweep`` None until
        the sweep has chosen it (the winner's seed).
    width : float
    mixed_precision : str
    dtype_policy : {"float32", "mixed_float16", "mixed_bfloat16"}
    devices : int, tuple of str or None
    device_names : tuple of str or None
        The resolved device names of ``devices``.
    monitor : str or None
        Standards directory of the per-epoch monitor.
    aliases : str or None
        ``SGD_features.tab`` mapping the monitor standards' gene names to ORFs.
    tensorboard, class_balanced, jit_compile : bool
    steps_per_epoch : int or None
    verbose : int, str or None
    store, out : str
        Absolute paths of the cell store and the run directory.

    Raises
    ------
    InputError
        In ``__post_init__``, for any value out of range or a combination that does not go together.

    Examples
    --------
    >>> cfg = TrainConfig(method="pci", preset=None, epochs=2, batch_size=16, learning_rate=1e-4, seed=0)
    >>> TrainConfig.from_dict(cfg.to_dict()) == cfg
    True
    >>> TrainConfig(method="pci", preset=None, epochs=0, batch_size=16, learning_rate=1e-4, seed=0)
    Traceback (most recent call last):
    ...
    deeploc_keras.core.errors.InputError: epochs must be a positive integer. Received: epochs=0
    """

    method: str
    preset: str | None
    epochs: int
    batch_size: int
    learning_rate: float | None
    lr_decay: tuple[int, float] | None = None
    adam_epsilon: float = 1e-7
    beta_1: float = 0.9
    early_stopping_patience: int | None = None
    sweep_rates: tuple[float, ...] = ()
    lr_sweep: bool = False
    seeds: tuple[int, ...] = (0,)
    seed: int | None = 0
    width: float = 1.0
    mixed_precision: str = "off"
    dtype_policy: str = "float32"
    devices: int | tuple[str, ...] | None = None
    device_names: tuple[str, ...] | None = None
    monitor: str | None = None
    aliases: str | None = None
    tensorboard: bool = False
    class_balanced: bool = False
    jit_compile: bool = True
    steps_per_epoch: int | None = None
    verbose: int | str | None = None
    store: str = ""
    out: str = ""

    def __post_init__(self) -> None:
        spec = get_method(self.method, trainable=True)
        check_positive_int("epochs", self.epochs)
        check_positive_int("batch_size", self.batch_size)
        check_positive_int("steps_per_epoch", self.steps_per_epoch, optional=True)
        check_positive_int("patience", self.early_stopping_patience, optional=True)
        if not self.width > 0:
            raise InputError(f"width must be positive. Received: width={self.width}")
        if self.mixed_precision not in MIXED_PRECISION_CHOICES:
            raise InputError(f"unknown mixed_precision {self.mixed_precision!r}; "
                             f"expected one of {list(MIXED_PRECISION_CHOICES)}")
        if self.dtype_policy not in _DTYPE_POLICIES:
            raise InputError(f"unknown dtype_policy {self.dtype_policy!r}; expected one of {list(_DTYPE_POLICIES)}")
        if self.learning_rate is not None and not 0 < self.learning_rate < math.inf:
            raise InputError(f"lr must be a positive finite number. Received: lr={self.learning_rate}")
        check_seed("seed", self.seed, optional=True)
        for seed in self.seeds:
            check_seed("seeds", seed)
        if self.lr_sweep:
            if not self.seeds:
                raise InputError("lr_sweep needs at least one seed in seeds")
            if not self.sweep_rates or not all(0 < rate < math.inf for rate in self.sweep_rates):
                raise InputError(f"sweep_rates must be positive numbers. Received: sweep_rates={list(self.sweep_rates)}")
        elif self.learning_rate is None or self.seed is None:
            raise InputError("a single run needs a learning_rate and a seed (None only under lr_sweep)")
        if self.class_balanced and not spec.needs_labels:
            labelled = [name for name in TRAINABLE_METHODS if METHODS[name].needs_labels]
            raise InputError(f"class_balanced sampling needs labels; it applies to method {labelled} only")

    def to_dict(self) -> dict[str, Any]:
        """The configuration as JSON-ready values (tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Rebuild a configuration from :meth:`to_dict` output (lists become tuples again)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise InputError(f"unknown training configuration keys {unknown}; expected some of {sorted(names)}")
        fixed = {key: tuple(value) if isinstance(value, list) else value for key, value in values.items()}
        return cls(**fixed)

    @classmethod
    def read(cls, path: str | os.PathLike) -> TrainConfig:
        """Read the ``config`` of a ``RUN/config.json`` run record.

        Raises
        ------
        InputError
            If the file is not a training record.
        """
        try:
            record = json.loads(Path(path).read_text())
            if record.get("command") != "train":
                raise ValueError("not a train record")
            return cls.from_dict(record["config"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise file_error(path, f"is not a training run record ({str(exc).splitlines()[0]})") from None

    def differences(self, other: TrainConfig) -> list[str]:
        """Names of the fields that change what is trained and differ from ``other``.

        The machine and output fields (paths, precision, devices, logging) are free to
        differ; so are ``learning_rate`` and ``seed`` of a sweep, which the sweep chooses.
        """
        free = set(_RUNTIME_FIELDS) | ({"learning_rate", "seed"} if self.lr_sweep else set())
        return [f.name for f in dataclasses.fields(self)
                if f.name not in free and getattr(self, f.name) != getattr(other, f.name)]


def resolve_train_config(
    store: str | os.PathLike,
    out: str | os.PathLike,
    *,
    method: str = "deeploc",
    preset: str = "study",
    epochs: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    lr_sweep: bool = False,
    sweep_rates: Sequence[float] | None = None,
    seeds: Sequence[int] = (0,),
    seed: int | None = None,
    patience: int | None = None,
    width: float = 1.0,
    mixed_precision: str = "auto",
    dtype_policy: str | None = None,
    devices: int | Sequence[str] | None = None,
    device_names: Sequence[str] | None = None,
    monitor: str | os.PathLike | None = None,
    aliases: str | os.PathLike | None = None,
    tensorboard: bool = False,
    class_balanced: bool = False,
    jit_compile: bool = True,
    steps_per_epoch: int | None = None,
    verbose: int | str | None = None,
) -> TrainConfig:
    """The :class:`TrainConfig` of :func:`deeploc_keras.training.train.train`'s arguments.

    Values not given come from the method's defaults (the DeepLoc ``preset``, or the
    PCI defaults; ``patience`` overrides their early-stopping patience). Parameters are those of
    :func:`deeploc_keras.training.train.train`, plus
    ``dtype_policy`` (default: resolved from ``mixed_precision``) and ``device_names``
    (the resolved ``devices``).

    Returns
    -------
    TrainConfig

    Raises
    ------
    InputError
        Unknown method or preset, ``lr`` with ``lr_sweep``, ``seed`` with ``lr_sweep``
        (the sweep's seeds are ``seeds``), or any value :class:`TrainConfig` rejects.

    Examples
    --------
    >>> cfg = resolve_train_config("cells.h5", "run", method="pci", mixed_precision="off")
    >>> cfg.epochs, cfg.batch_size, cfg.learning_rate, cfg.beta_1
    (30, 64, 0.0001, 0.5)
    >>> resolve_train_config("cells.h5", "run", preset="kraus2017", lr=1e-3, mixed_precision="off").epochs
    30
    >>> study = resolve_train_config("cells.h5", "run", mixed_precision="off")
    >>> study.epochs, study.early_stopping_patience
    (30, None)
    >>> resolve_train_config("cells.h5", "run", patience=5, mixed_precision="off").early_stopping_patience
    5
    """
    spec = get_method(method, trainable=True)
    if lr is not None and lr_sweep:
        raise InputError("pass either lr or lr_sweep, not both")
    if seed is not None and lr_sweep:
        raise InputError(f"a sweep trains every seed of seeds={list(seeds)}; pass seeds, not seed")
    if aliases is not None and monitor is None:
        raise InputError("aliases map the monitor's standards to ORFs; pass them with monitor (--monitor)")
    if sweep_rates is not None and (not sweep_rates or min(sweep_rates) <= 0):
        raise InputError(f"sweep_rates must be positive numbers. Received: sweep_rates={list(sweep_rates)}")
    defaults = spec.defaults(preset)
    return TrainConfig(
        method=method, preset=defaults.preset, epochs=defaults.epochs if epochs is None else epochs,
        batch_size=defaults.batch_size if batch_size is None else batch_size,
        learning_rate=None if lr_sweep else (defaults.learning_rate if lr is None else lr),
        lr_decay=defaults.lr_decay, adam_epsilon=defaults.adam_epsilon, beta_1=defaults.beta_1,
        early_stopping_patience=defaults.early_stopping_patience if patience is None else patience,
        sweep_rates=tuple(float(r) for r in (defaults.sweep_rates if sweep_rates is None else sweep_rates)),
        lr_sweep=bool(lr_sweep), seeds=tuple(int(s) for s in seeds),
        seed=None if lr_sweep else (0 if seed is None else int(seed)), width=float(width),
        mixed_precision=mixed_precision,
        dtype_policy=dtype_policy if dtype_policy is not None else resolve_mixed_precision(mixed_precision),
        devices=devices if devices is None or isinstance(devices, int) else tuple(devices),
        device_names=None if device_names is None else tuple(device_names),
        monitor=None if monitor is None else str(monitor), aliases=None if aliases is None else str(aliases),
        tensorboard=bool(tensorboard),
        class_balanced=bool(class_balanced), jit_compile=bool(jit_compile), steps_per_epoch=steps_per_epoch,
        verbose=verbose, store=str(Path(store).resolve()), out=str(Path(out).resolve()),
    )
