"""The configuration of one training run: what :func:`deeploc_keras.training.train.train` takes.

:meth:`TrainConfig.from_preset` is the one constructor that fills the method's defaults
(the DeepLoc preset's, or the PCI defaults, :attr:`deeploc_keras.training.methods.Method.defaults`)
under the options given; :func:`deeploc_keras.training.train.train` writes the configuration as
``RUN/config.json`` and reads it back on resume. Adding a training option means adding a field
here (and its ``--option`` to the ``train`` command); the options every input dataset of a run
takes travel in :attr:`TrainConfig.input_options`. This module loads no TensorFlow unless
``mixed_precision="auto"`` has to look for a GPU.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import InputError, check_positive_int, check_seed, file_error
from .methods import METHODS, TRAINABLE_METHODS, get_method

__all__ = ["MIXED_PRECISION_CHOICES", "TrainConfig", "resolve_mixed_precision"]

#: Values of ``mixed_precision``.
MIXED_PRECISION_CHOICES = ("auto", "off", "float16", "bfloat16")
#: Fields that describe the machine or the output of a run, not what is trained (free to differ on resume).
_RUNTIME_FIELDS = ("store", "out", "mixed_precision", "dtype_policy", "devices", "device_names", "monitor",
                   "aliases", "tensorboard", "jit_compile", "verbose", "readers")
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

    Build one with :meth:`from_preset`, which fills what is not given from the method's
    defaults; the constructor itself takes every value as given (:meth:`from_dict` reads a record).

    Attributes
    ----------
    method : str
        A trainable method (:data:`deeploc_keras.training.methods.TRAINABLE_METHODS`).
    preset : str or None
        DeepLoc preset (:data:`deeploc_keras.models.presets.PRESET_NAMES`); None for methods without presets.
    epochs, batch_size : int
    learning_rate : float or None
        The rate of the run. Under ``lr_sweep`` None until the sweep has chosen it;
        the sweep root's record then holds the winner's.
    lr_decay : tuple (decay_steps, decay_rate) or None
        Staircase exponential decay per optimizer step.
    adam_epsilon, beta_1 : float
        Adam's epsilon and first-moment decay.
    early_stopping_patience : int or None
        Stop after this many epochs without a better validation loss; None (every preset's
        default) trains all ``epochs`` and keeps the checkpoint of minimal validation loss.
    sweep_rates : tuple of float
        Rates tried by a learning-rate sweep.
    lr_sweep : bool
        Train ``sweep_rates`` x ``seeds``; the rate of minimal mean validation loss over the seeds is chosen.
    seeds : tuple of int
        Seeds of the sweep.
    seed : int or None
        Seed of weights, augmentation and the pipeline. Under ``lr_sweep`` None until
        the sweep has chosen it (the winner's seed).
    width : float
        Channel width multiplier (0.125 for CPU tests).
    mixed_precision : {"auto", "off", "float16", "bfloat16"}
        Global Keras policy during the run (``auto``: float16 on a GPU, off on a CPU).
    dtype_policy : {"float32", "mixed_float16", "mixed_bfloat16"}
        The policy ``mixed_precision`` resolved to (by :func:`~deeploc_keras.training.train.train`).
    devices : int, tuple of str or None
        MirroredStrategy over the first N GPUs (logical CPUs when no GPU), or the named devices.
    device_names : tuple of str or None
        The resolved device names of ``devices``.
    monitor : str or None
        Standards directory of the per-epoch monitor (``monitor.csv``).
    aliases : str or None
        ``SGD_features.tab`` mapping the monitor standards' gene names to ORFs.
    tensorboard : bool
        TensorBoard logs in ``RUN/logs``.
    class_balanced : bool
        Class-balanced sampling of training cells (methods that need labels).
    jit_compile : bool
        Compile the train step with XLA (not with ``devices``: MirroredStrategy).
    steps_per_epoch : int or None
        Fixed steps per epoch (the training stream then repeats).
    verbose : int, str or None
        Keras verbosity (epoch lines on stdout); None: a progress bar on a terminal's stderr.
    readers : int or None
        Store reads at the same time (training windows, PCI pair batches); None: the pipeline's
        default. The batches do not depend on it.
    store, out : str
        Absolute paths of the cell store and the run directory (filled by
        :func:`~deeploc_keras.training.train.train`).

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
    mixed_precision: str = "auto"
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
    readers: int | None = None
    store: str = ""
    out: str = ""

    def __post_init__(self) -> None:
        spec = get_method(self.method, trainable=True)
        if self.preset not in (spec.presets or (None,)):
            raise InputError(f"unknown preset {self.preset!r} for method {self.method!r}; expected one of "
                             f"{list(spec.presets or (None,))}")
        check_positive_int("epochs", self.epochs)
        check_positive_int("batch_size", self.batch_size)
        check_positive_int("steps_per_epoch", self.steps_per_epoch, optional=True)
        check_positive_int("patience", self.early_stopping_patience, optional=True)
        check_positive_int("readers", self.readers, optional=True)
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
        if self.sweep_rates and not all(0 < rate < math.inf for rate in self.sweep_rates):
            raise InputError(f"sweep_rates must be positive finite numbers. Received: sweep_rates={list(self.sweep_rates)}")
        if self.lr_sweep:
            if not self.seeds or not self.sweep_rates:
                raise InputError(f"lr_sweep needs seeds and sweep_rates. Received: seeds={list(self.seeds)}, "
                                 f"sweep_rates={list(self.sweep_rates)}")
        elif self.learning_rate is None or self.seed is None:
            raise InputError("a single run needs a learning_rate and a seed (None only under lr_sweep)")
        if self.class_balanced and not spec.needs_labels:
            labelled = [name for name in TRAINABLE_METHODS if METHODS[name].needs_labels]
            raise InputError(f"class_balanced sampling needs labels; it applies to method {labelled} only")
        if self.aliases is not None and self.monitor is None:
            raise InputError("aliases map the monitor's standards to ORFs; pass them with monitor (--standards)")

    @classmethod
    def from_preset(cls, method: str = "deeploc", preset: str | None = "study", **options: Any) -> TrainConfig:
        """The configuration of ``options``; what is not given (or given as None) is the method's default.

        Parameters
        ----------
        method : str, default "deeploc"
            A trainable method (:data:`deeploc_keras.training.methods.TRAINABLE_METHODS`).
        preset : str, default "study"
            The DeepLoc preset the defaults come from; ignored by a method without presets (``pci``).
        **options
            Any field of :class:`TrainConfig` (``learning_rate``, ``epochs``, ``seeds``, ...).
            Under ``lr_sweep`` the ``learning_rate`` and the ``seed`` are the sweep's to choose.

        Returns
        -------
        TrainConfig

        Raises
        ------
        InputError
            Unknown method, preset or option, ``learning_rate`` or ``seed`` with ``lr_sweep``
            (the sweep's seeds are ``seeds``), or any value :class:`TrainConfig` rejects.

        Examples
        --------
        >>> cfg = TrainConfig.from_preset("pci")
        >>> cfg.preset, cfg.epochs, cfg.batch_size, cfg.learning_rate, cfg.beta_1
        (None, 30, 64, 0.0001, 0.5)
        >>> TrainConfig.from_preset("deeploc", "kraus2017", batch_size=7).lr_decay
        (25, 0.96)
        >>> sweep = TrainConfig.from_preset(lr_sweep=True, seeds=[1, 2])
        >>> sweep.learning_rate, sweep.seed, sweep.seeds, sweep.sweep_rates
        (None, None, (1, 2), (0.001, 0.0006, 0.0003, 0.0001, 5e-05))
        >>> TrainConfig.from_preset(lr_sweep=True, seed=3)
        Traceback (most recent call last):
        ...
        deeploc_keras.core.errors.InputError: a sweep trains every seed of seeds=[0]; pass seeds, not seed
        """
        spec = get_method(method, trainable=True)
        names = {f.name for f in dataclasses.fields(cls)} - {"method", "preset"}
        unknown = sorted(set(options) - names)
        if unknown:
            raise InputError(f"unknown training options {unknown}; expected some of {sorted(names)}")
        given = {key: value for key, value in options.items() if value is not None}
        if given.get("lr_sweep"):
            if "learning_rate" in given:
                raise InputError("pass either learning_rate (--lr) or lr_sweep, not both")
            if "seed" in given:
                raise InputError(f"a sweep trains every seed of seeds={list(given.get('seeds', (0,)))}; "
                                 "pass seeds, not seed")
            given.update(learning_rate=None, seed=None)
        preset = preset if spec.presets else None
        values = {**spec.defaults(preset), **given}
        return cls(method=method, preset=preset, **_normalized(values))

    @property
    def input_options(self) -> dict[str, Any]:
        """The keyword options every input dataset of the run takes (training and validation)."""
        return {"batch_size": self.batch_size, "seed": self.seed, "readers": self.readers}

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
        return cls(**_normalized(values))

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


def _normalized(values: dict[str, Any]) -> dict[str, Any]:
    """Sequences as tuples (JSON lists, user lists) and paths as strings, so equal configurations compare equal."""
    return {key: tuple(value) if isinstance(value, list | tuple) else os.fspath(value)
            if isinstance(value, os.PathLike) else value for key, value in values.items()}
