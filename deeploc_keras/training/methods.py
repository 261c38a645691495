"""The representation methods of the study, each declared once.

A :class:`Method` says everything train, extract, reproduce and the CLI need to
know about one method: its display name (the feature-name prefix), its default and
signature layers, its training defaults, how to build, compile and feed it, and how
to turn a trained model into a per-cell feature model. Adding a method means adding
one entry to :data:`METHODS`.

This module loads no TensorFlow: the builders import the models when they are called.

Examples
--------
>>> METHOD_NAMES
('deeploc', 'pci', 'pifia', 'cellprofiler', 'original-features')
>>> TRAINABLE_METHODS
('deeploc', 'pci', 'pifia')
>>> get_method("pci").display, get_method("pci").default_layer
('PCI', 'conv4_1')
>>> get_method("pci").defaults(None)["sweep_rates"]
(0.0003, 0.0001, 3e-05)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.errors import InputError, file_error
from ..data.store import SPLIT_NAMES, UNKNOWN_PROTEIN
from ..models.presets import PRESET_NAMES, STUDY_LEARNING_RATES, TTA_MODES, get_preset

if TYPE_CHECKING:  # TensorFlow and Keras load inside the builders
    import keras
    import tensorflow as tf

    from ..data.store import CellStore
    from .config import TrainConfig

__all__ = ["Method", "METHODS", "METHOD_NAMES", "TRAINABLE_METHODS", "PCI_DEFAULTS",
           "PCI_LEARNING_RATES", "PIFIA_DEFAULTS", "get_method"]


#: Learning rates of a PCI sweep: the original 1e-4 (Lu et al. 2019) and a factor of about 3 either side,
#: the spacing of the study's DeepLoc grid (:data:`~deeploc_keras.models.presets.STUDY_LEARNING_RATES`).
PCI_LEARNING_RATES = (3e-4, 1e-4, 3e-5)
#: Paired Cell Inpainting training defaults (Lu et al. 2019, ``yeast_model/opts.py``), as
#: :class:`~deeploc_keras.training.config.TrainConfig` values.
PCI_DEFAULTS: Mapping[str, Any] = MappingProxyType({"epochs": 30, "batch_size": 64, "learning_rate": 1e-4,
                                                     "beta_1": 0.5, "sweep_rates": PCI_LEARNING_RATES})
#: PIFiA training defaults (Razdaibiedina et al. 2024, ``arazd/pifia`` ``scripts/train_pifia.sh``): 30 epochs,
#: batch 128, Adam at 3e-4 with a cosine decay to 0 over the run (:attr:`Method.schedule`); a sweep tries the
#: study's rates (:data:`~deeploc_keras.models.presets.STUDY_LEARNING_RATES`, which hold the published 3e-4).
PIFIA_DEFAULTS: Mapping[str, Any] = MappingProxyType({"epochs": 30, "batch_size": 128, "learning_rate": 3e-4,
                                                       "sweep_rates": STUDY_LEARNING_RATES})


@dataclass(frozen=True)
class Method:
    """One representation method.

    Attributes
    ----------
    name : str
        The value of ``method=`` and ``--method``.
    display : str
        Display name: the representation in reports and the prefix of learned feature
        columns (``<display>_<layer>_<i:04d>``).
    needs_labels : bool
        Training needs localization labels (else only protein ids).
    default_layer : str or None
        Layer read by extract and the training monitor (learned methods).
    signature_layer : str or None
        A layer only this method's models have (tells a model file's method).
    tta_modes : tuple of str
        Test-time crop modes the feature model accepts (empty: none).
    presets : tuple of str
        The presets a run of this method can take (empty: none; its ``preset`` is None).
    defaults : callable (preset name or None) -> mapping, optional
        Training defaults as :class:`~deeploc_keras.training.config.TrainConfig` field values (a
        preset's protocol); None for a method that is not trained.
    build : callable (store, config) -> keras.Model, optional
    loss : callable () -> keras loss, optional
    metrics : callable () -> list of keras.metrics.Metric
        Compile settings: the loss and the metrics logged per epoch (metric objects, whose variables
        exist before the train step is traced, so it is traced once).
    datasets : callable (store, config, initial_epoch) -> (train, val, steps_per_epoch), optional
    feature_model : callable (model, layer, tta) -> keras.Model, optional
        Raw crops in, float32 per-cell features out; ``tta=None`` is the plain embedding.
    extractor : callable, optional
        For a method without a network: ``extractor(store, out, split=..., overwrite=..., **options)``.
    layers_module : str, optional
        The module whose import registers the method's custom Keras layers, so a saved model loads
        (imported with the package's other Keras objects, :func:`deeploc_keras._registration.register_keras_objects`).
    schedule : callable (store, config) -> learning rate, optional
        The rate the optimizer gets, for a method whose protocol decays it (a Keras schedule);
        None: the configuration's rate (and its ``lr_decay``).
    check_store : callable (store) -> None, optional
        Checks that the store's splits can feed the method (raises :class:`InputError`), run before
        TensorFlow loads; None: the checks of labelled (``needs_labels``) or paired training.
    """

    name: str
    display: str
    needs_labels: bool = False
    default_layer: str | None = None
    signature_layer: str | None = None
    tta_modes: tuple[str, ...] = ()
    presets: tuple[str, ...] = ()
    defaults: Callable[[str | None], Mapping[str, Any]] | None = None
    build: Callable[[CellStore, TrainConfig], keras.Model] | None = None
    loss: Callable[[], Any] | None = None
    metrics: Callable[[], list[keras.metrics.Metric]] = list
    datasets: Callable[[CellStore, TrainConfig, int], tuple[tf.data.Dataset, tf.data.Dataset, int | None]] | None = None
    feature_model: Callable[[keras.Model, str, str | None], keras.Model] | None = None
    extractor: Callable[..., dict[str, Any]] | None = None
    layers_module: str | None = None
    schedule: Callable[[CellStore, TrainConfig], Any] | None = None
    check_store: Callable[[CellStore], None] | None = None

    @property
    def trainable(self) -> bool:
        """Whether :func:`deeploc_keras.training.train.train` can fit this method."""
        return self.build is not None


# --- deeploc ---


def _deeploc_defaults(preset: str) -> dict[str, Any]:
    """The training protocol of a DeepLoc preset (:mod:`deeploc_keras.models.presets`)."""
    spec = get_preset(preset)
    return {"epochs": spec.epochs, "batch_size": spec.batch_size, "learning_rate": spec.learning_rate,
            "lr_decay": spec.lr_decay, "adam_epsilon": spec.adam_epsilon,
            "early_stopping_patience": spec.early_stopping_patience, "sweep_rates": spec.lr_sweep}


def _build_deeploc(store: CellStore, cfg: TrainConfig) -> keras.Model:
    from ..models.deeploc import build_deeploc

    return build_deeploc(num_classes=len(store.class_names), preset=cfg.preset, width=cfg.width,
                         image_shape=store.image_shape, seed=cfg.seed, class_names=store.class_names,
                         channel_names=store.channel_names)


def _deeploc_loss() -> Any:
    import keras

    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _deeploc_metrics() -> list[keras.metrics.Metric]:
    import keras

    return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]


def _stream_start(initial_epoch: int, steps_per_epoch: int | None, pass_steps: int) -> tuple[int, int]:
    """Where a resumed training stream starts: (pass, batches to skip in it).

    With a fixed ``steps_per_epoch`` the stream repeats passes over the cells (pass ``p`` draws from
    ``(seed, p)``), so Keras epoch ``e`` starts ``e * steps_per_epoch`` batches into it.

    Examples
    --------
    >>> _stream_start(2, None, 5), _stream_start(2, 3, 5)
    ((2, 0), (1, 1))
    """
    if not steps_per_epoch:
        return initial_epoch, 0
    return divmod(initial_epoch * steps_per_epoch, pass_steps)


def _window_datasets(store: CellStore, cfg: TrainConfig, initial_epoch: int, *, targets: np.ndarray | None = None,
                     no_val: str) -> tuple[tf.data.Dataset, tf.data.Dataset, int | None]:
    """Training and validation batches of single cells with their class (the label, or ``targets``)."""
    from ..data.pipeline import training_dataset

    steps = cfg.steps_per_epoch

    def stream(first_pass: int) -> Any:
        return training_dataset(store, split="train", class_balanced=cfg.class_balanced, repeat=bool(steps),
                                initial_epoch=first_pass, targets=targets, **cfg.input_options)

    first = stream(0)
    train_ds = first.dataset
    first_pass, skip = _stream_start(initial_epoch, steps, first.steps_per_epoch)
    if first_pass or skip:
        train_ds = stream(first_pass).dataset.skip(skip)
    try:
        val_data = training_dataset(store, split="val", shuffle=False, targets=targets, **cfg.input_options)
    except InputError:
        raise file_error(store.path, no_val) from None
    return train_ds, val_data.dataset, steps


def _deeploc_datasets(store: CellStore, cfg: TrainConfig,
                      initial_epoch: int) -> tuple[tf.data.Dataset, tf.data.Dataset, int | None]:
    return _window_datasets(store, cfg, initial_epoch,
                            no_val="no labelled cells in the val split; validation loss selects the best model "
                                   "(re-import with splits that give every split cells)")


def _deeploc_features(model: keras.Model, layer: str, tta: str | None) -> keras.Model:
    from ..models.deeploc import embedding_model, tta_model

    return embedding_model(model, layer=layer) if tta is None else tta_model(model, layer=layer, tta=tta)


# --- pci ---


def _build_pci(store: CellStore, cfg: TrainConfig) -> keras.Model:
    from ..models.pci import build_pci

    return build_pci(width=cfg.width, seed=cfg.seed, channel_names=store.channel_names)


def _pci_datasets(store: CellStore, cfg: TrainConfig,
                  initial_epoch: int) -> tuple[tf.data.Dataset, tf.data.Dataset, int | None]:
    from ..data.pairs import pair_dataset

    steps = cfg.steps_per_epoch

    def stream(first_pass: int) -> Any:
        data = pair_dataset(store, split="train", shuffle=True, initial_epoch=first_pass, **cfg.input_options)
        return data.dataset.repeat() if steps else data.dataset, data.steps_per_epoch

    train_ds, pass_steps = stream(0)
    first_pass, skip = _stream_start(initial_epoch, steps, pass_steps)
    if first_pass or skip:
        train_ds = stream(first_pass)[0].skip(skip)
    val_data = pair_dataset(store, split="val", shuffle=False, redraw=False,  # the same pairs every epoch
                            **cfg.input_options)
    return train_ds, val_data.dataset, steps


def _pci_features(model: keras.Model, layer: str, tta: str | None) -> keras.Model:
    from ..models.pci import pci_feature_model

    return pci_feature_model(model, layer)


# --- pifia ---


def _protein_targets(store: CellStore) -> tuple[list[str], np.ndarray]:
    """PIFiA's classes and each store cell's target: the proteins with train cells (sorted), their index or -1."""
    cells = store.cells
    proteins = cells["protein"].to_numpy().astype(str)
    known = proteins != UNKNOWN_PROTEIN
    classes = np.unique(proteins[known & _in_split(store, "train")])
    position = np.searchsorted(classes, proteins)
    found = known & (position < len(classes))
    found[found] = classes[position[found]] == proteins[found]
    return classes.tolist(), np.where(found, position, -1).astype(np.int32)


def _in_split(store: CellStore, split: str) -> np.ndarray:
    return store.cells["split"].to_numpy() == SPLIT_NAMES.index(split)


def _check_pifia_store(store: CellStore) -> None:
    proteins, targets = _protein_targets(store)
    if len(proteins) < 2:
        raise file_error(store.path, f"{len(proteins)} protein(s) with cells in the train split; PIFiA classifies "
                                     "cells by protein and needs at least 2 (re-import with protein ids and splits)")
    if not (targets[_in_split(store, "val")] >= 0).any():
        raise file_error(store.path, "no val cell belongs to a protein with train cells; validation loss on the "
                                     "trained proteins selects the best model (re-import with splits that give "
                                     "every split cells)")


def _build_pifia(store: CellStore, cfg: TrainConfig) -> keras.Model:
    from ..models.pifia import build_pifia, protein_channel

    proteins, _ = _protein_targets(store)
    return build_pifia(len(proteins), cfg.width, image_shape=store.image_shape,
                       channels=(protein_channel(store.channel_names),), seed=cfg.seed, protein_ids=proteins,
                       channel_names=store.channel_names)


def _pifia_datasets(store: CellStore, cfg: TrainConfig,
                    initial_epoch: int) -> tuple[tf.data.Dataset, tf.data.Dataset, int | None]:
    _, targets = _protein_targets(store)
    return _window_datasets(store, cfg, initial_epoch, targets=targets,
                            no_val="no val cell belongs to a protein with train cells")


def _pifia_schedule(store: CellStore, cfg: TrainConfig) -> Any:
    """Cosine decay from the run's rate to 0 over all its steps (``model/train.py``, ``--cosine_decay``)."""
    import math

    import keras

    _, targets = _protein_targets(store)
    train_cells = int((targets[_in_split(store, "train")] >= 0).sum())
    steps = cfg.steps_per_epoch or math.ceil(train_cells / cfg.batch_size)
    return keras.optimizers.schedules.CosineDecay(cfg.learning_rate, decay_steps=cfg.epochs * steps)


def _pifia_features(model: keras.Model, layer: str, tta: str | None) -> keras.Model:
    from ..models.pifia import pifia_feature_model

    return pifia_feature_model(model, layer)


# --- cellprofiler, and the per-cell CellProfiler features imported with the store (Chong et al. 2015) ---


def _cellprofiler_extract(store: CellStore, out: Any, **options: Any) -> dict[str, Any]:
    from cellprofiler_features.runner import extract_cellprofiler

    return extract_cellprofiler(store, out, **options)


def _original_features_extract(store: CellStore, out: Any, **options: Any) -> dict[str, Any]:
    from cellprofiler_features.original import original_feature_profiles

    summary = original_feature_profiles(store, out, **options)
    return {**summary, "cells": summary["n_cells"], "features": summary["n_features"]}


#: Every method, in the order of reports.
METHODS: dict[str, Method] = {
    "deeploc": Method(
        name="deeploc", display="DeepLoc", needs_labels=True, default_layer="fc_2", signature_layer="fc_2",
        tta_modes=TTA_MODES, presets=PRESET_NAMES, defaults=_deeploc_defaults, build=_build_deeploc, loss=_deeploc_loss,
        metrics=_deeploc_metrics, datasets=_deeploc_datasets, feature_model=_deeploc_features,
        layers_module="deeploc_keras.models.layers",
    ),
    "pci": Method(
        name="pci", display="PCI", default_layer="conv4_1", signature_layer="rfpconv1_1",
        defaults=lambda preset: PCI_DEFAULTS, build=_build_pci, loss=lambda: "mse", datasets=_pci_datasets,
        feature_model=_pci_features, layers_module="deeploc_keras.models.layers_pci",
    ),
    "pifia": Method(
        name="pifia", display="PIFiA", default_layer="d2", signature_layer="d3",
        defaults=lambda preset: PIFIA_DEFAULTS, build=_build_pifia, loss=_deeploc_loss, metrics=_deeploc_metrics,
        datasets=_pifia_datasets, feature_model=_pifia_features, layers_module="deeploc_keras.models.layers_pifia",
        schedule=_pifia_schedule, check_store=_check_pifia_store,
    ),
    "cellprofiler": Method(name="cellprofiler", display="CellProfiler", extractor=_cellprofiler_extract),
    "original-features": Method(name="original-features", display="CellProfilerOriginal",
                                extractor=_original_features_extract),
}
#: Values of ``method=`` (extract) and ``--method``.
METHOD_NAMES = tuple(METHODS)
#: Methods :func:`deeploc_keras.training.train.train` can fit.
TRAINABLE_METHODS = tuple(name for name, spec in METHODS.items() if spec.trainable)


def get_method(name: str, *, trainable: bool = False) -> Method:
    """Look up a method by name.

    Parameters
    ----------
    name : str
        One of :data:`METHOD_NAMES`.
    trainable : bool, default False
        Only accept :data:`TRAINABLE_METHODS`.

    Returns
    -------
    Method

    Raises
    ------
    InputError
        For an unknown name (the message lists the allowed ones).

    Examples
    --------
    >>> get_method("deeploc").tta_modes
    ('center', '5crop')
    >>> get_method("cellprofiler", trainable=True)
    Traceback (most recent call last):
    ...
    deeploc_keras.core.errors.InputError: unknown method 'cellprofiler'; expected one of ['deeploc', 'pci', 'pifia']
    """
    allowed = TRAINABLE_METHODS if trainable else METHOD_NAMES
    if name not in allowed:
        raise InputError(f"unknown method {name!r}; expected one of {list(allowed)}")
    return METHODS[name]
