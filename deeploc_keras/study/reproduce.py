"""Reproduce the study end to end: data, three representations, four standards, three figures, a report.

Steps (each writes into its own sub-directory of ``out`` and is skipped when a
resumed run finds it finished)::

    screen/         simulate the embedded synthetic screen (unless a store is given)
    runs/deeploc/   train DeepLoc (study protocol, learning-rate sweep x seeds, monitor)
    runs/pci/       train Paired Cell Inpainting
    runs/pifia/     train PIFiA (protein identity; published protocol, one run)
    runs/oracle/    on a simulated screen, train the oracle (DeepLoc's trunk regressing the function parameters)
    profiles/<m>/   extract DeepLoc, PIFiA, PCI and CellProfiler (+PCA) profiles of the held-out (validation
                    and test) cells, the cells no gradient step saw
    run_profiles/<m>/<run>/  with several runs at the chosen learning rate, the profiles of each run
    references/     the ladder's reference rows on the same held-out cells: DeepLoc, PCI and PIFiA untrained
                    (same configuration and seed, random weights), pixel statistics, the localization labels,
                    and on a simulated screen the oracle (the empirical ceiling) and the generating parameters
                    (the generator's own numbers); references.json holds the validation MSE of PCI's
                    mean-image predictor and PIFiA's validation accuracy over proteins beside chance and
                    beside knowing each cell's localization only
    scores/         score every representation on the four standards (eval.score.score): bootstrap
                    intervals, measured chance (each metric's null), within-compartment AP/mAP per
                    localization class, the test family (each method against each baseline, tests.csv),
                    and the mean and sd over the selected runs of DeepLoc and PCI (Figure 1: bars are
                    those means)
    figures/        Figure 2 (t-SNE of DeepLoc profiles) and Figure 3 (training monitor)
    report.html, summary.csv, reproduce.json (configuration, step timings, environment)
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from eval.standards import STANDARD_SUFFIXES

from ..core.console import format_seconds, status
from ..core.errors import MAX_SEED, InputError, check_seed, file_error
from ..core.outputs import atomic_path, remove_path, writing_dir
from ..core.ownership import check_replaceable
from ..core.records import environment
from ..data.store import UNKNOWN_PROTEIN, CellStore
from ..data.synthetic.screen import HIERARCHY_CHOICES
from ..inference.extract import extract
from ..models.presets import STUDY_LEARNING_RATES
from ..training.config import TrainConfig
from ..training.methods import METHODS, TRAINABLE_METHODS
from ..training.train import selected_runs, train
from .references import GENERATING, LABELS, ORACLE, PIXEL_STATISTICS, UNTRAINED

__all__ = ["ReproducePreset", "Representation", "REPRODUCE_PRESETS", "REPRODUCE_PRESET_NAMES", "STANDARD_NAMES",
           "STEP_NAMES", "REPRESENTATIONS", "WITHIN_STANDARDS", "NORMALIZE", "PROFILE_SPLIT", "reproduce"]

logger = logging.getLogger(__name__)

#: The four functional scales of the study, as standard file stems.
STANDARD_NAMES = ("cellular_component", "bioprocess", "pathway", "complex")


@dataclass(frozen=True)
class Representation:
    """One compared representation of a reproduce run.

    Attributes
    ----------
    name : str
        Its row in the tables (the method's display name for a learned method).
    role : {"method", "baseline"}
        Its role in the test family (:data:`eval.score.ROLES`): each method is tested against each baseline.
    profiles : str
        Its protein profiles, relative to the run's ``profiles/``.
    description : str
        What it is, as the report states it.
    """

    name: str
    role: str
    profiles: str
    description: str


#: The compared representations, in the order of the report (the references are :mod:`.references`').
REPRESENTATIONS: dict[str, Representation] = {r.name: r for r in (
    Representation(METHODS["deeploc"].display, "method", "deeploc/proteins.parquet",
                   "the DeepLoc CNN trained on the localization classes, its fc_2 embedding averaged per protein"),
    Representation(METHODS["pifia"].display, "method", "pifia/proteins.parquet",
                   "PIFiA, the study's successor (Razdaibiedina et al. 2024): a CNN trained on protein identity, its "
                   "d2 features averaged per protein"),
    Representation(METHODS["pci"].display, "baseline", "pci/proteins.parquet",
                   "Paired Cell Inpainting, its conv4_1 features max-pooled and averaged per protein"),
    Representation(f"{METHODS['cellprofiler'].display} raw", "baseline", "cellprofiler/proteins_zscored.parquet",
                   "CellProfiler as the study used it (its code and README describe running the CellProfiler "
                   "pipeline and nothing after it): every measured feature averaged per protein, each feature "
                   "z-scored across proteins, no selection"),
    Representation(f"{METHODS['cellprofiler'].display} processed", "baseline", "cellprofiler/proteins.parquet",
                   "CellProfiler as profiling pipelines use it (pycytominer): per-protein means robust-normalized "
                   "across proteins, then feature-selected (NaN, variance and correlation filters)"),
    Representation(f"{METHODS['cellprofiler'].display}+PCA", "baseline", "cellprofiler/proteins_pca.parquet",
                   "every measured feature of every cell z-scored and projected on the PCA keeping 99 % of the "
                   "variance (the study's), averaged per protein"),
)}
#: Standards scored within compartments too (each localization class's proteins on their own).
WITHIN_STANDARDS = ("bioprocess", "pathway", "complex")
#: ``score --normalize`` of reproduce: every profile as extracted (CellProfiler's are normalized and
#: feature-selected by its runner; the learned ones and the references are not normalized).
NORMALIZE = "none"
#: The cells every representation and reference is profiled from: those no gradient step saw.
PROFILE_SPLIT = "heldout"
STEP_NAMES = ("simulate", "train_deeploc", "train_pci", "train_pifia", "train_oracle", "extract_deeploc",
              "extract_pci", "extract_pifia", "extract_cellprofiler", "references", "score", "figures", "report")
#: Learned methods whose untrained twin is a reference row.
_TWINS = ("deeploc", "pci", "pifia")
_STATE = "reproduce.json"
#: Seconds of each step in a ``cpu`` run on 2 cores (the README's run): the shares that turn the time the finished
#: steps took into an estimate of the rest.
_STEP_SECONDS = dict(zip(STEP_NAMES, (10, 272, 200, 187, 105, 9, 6, 6, 117, 49, 35, 5, 1), strict=True))


@dataclass(frozen=True)
class ReproducePreset:
    """Sizes and protocols of one ``reproduce`` preset.

    Attributes
    ----------
    description : str
    proteins, cells_per_protein : int or None
        Size of the simulated screen (None: a store must be given).
    deeploc_preset : str
        DeepLoc training protocol (:data:`deeploc_keras.models.presets.PRESET_NAMES`).
    deeploc_width, pci_width : float
        Channel width multipliers.
    deeploc_epochs, pci_epochs : int or None
        Epochs (None: the protocol's own).
    pci_lr : float or None
        PCI learning rate (None: the original's 1e-4, chosen for width 1.0).
    sweep_rates : tuple of float
        Learning rates of the DeepLoc sweep.
    seeds : tuple of int
        Training seeds of the DeepLoc sweep (and of the PCI sweep), offset by ``reproduce``'s ``seed``.
    batch_size : int or None
        DeepLoc batch size (None: the protocol's).
    deeploc_lr_decay : tuple (decay_steps, decay_rate) or None
        DeepLoc's staircase exponential learning-rate decay per optimizer step (None: the protocol's).
    pci_sweep_rates : tuple of float
        Learning rates of a PCI sweep over ``seeds`` (chosen by the mean validation loss);
        empty: one PCI run at its default rate.
    pci_layer : str
        PCI feature layer.
    cp_workers : int or None
        CellProfiler worker processes (None: all cores).
    cp_features : str
        CellProfiler feature set (:meth:`cellprofiler_features.measure.FeatureConfig.preset`): ``"default"``
        (265 features) or ``"closest_to_study"`` (431, the nearest to the study's 433).
    mixed_precision : str
    jit_compile : bool
        XLA for the training steps (``train --no-xla`` when False).
    n_bootstrap : int
        Bootstrap resamples of the proteins for the intervals and the paired tests of the scores (the smallest
        attainable p is ``1 / (n_bootstrap + 1)``; 10,000 in ``cpu`` and ``paper`` put it below 0.05 / k for
        their family of about 180 tests, two methods x 4 baselines x 22 points).
    n_null : int
        Draws of each metric's null (the measured chance; AMI's test against it).
    pifia_width : float
        PIFiA's conv width multiplier.
    pifia_epochs : int or None
        PIFiA epochs (None: the published 30).
    pifia_lr : float or None
        PIFiA's initial learning rate of its cosine decay (None: the published 3e-4).
    oracle_width, oracle_epochs : float, int
        The oracle's width and epochs (:func:`deeploc_keras.study.oracle.train_oracle`; simulated screens only).
    split_fractions : tuple of 3 floats
        Train, validation and test shares of each protein's cells of a simulated screen; the profiles average
        the validation and test cells.
    """

    description: str
    proteins: int | None
    cells_per_protein: int | None
    deeploc_preset: str
    deeploc_width: float
    deeploc_epochs: int | None
    sweep_rates: tuple[float, ...]
    seeds: tuple[int, ...]
    batch_size: int | None
    pci_width: float
    pci_epochs: int | None
    pci_lr: float | None = None
    deeploc_lr_decay: tuple[int, float] | None = None
    pci_sweep_rates: tuple[float, ...] = ()
    pci_layer: str = METHODS["pci"].default_layer
    cp_workers: int | None = None
    cp_features: str = "default"
    mixed_precision: str = "auto"
    jit_compile: bool = True
    n_bootstrap: int = 1000
    n_null: int = 1000
    pifia_width: float = 1.0
    pifia_epochs: int | None = None
    pifia_lr: float | None = None
    oracle_width: float = 0.125
    oracle_epochs: int = 4
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)


REPRODUCE_PRESETS: dict[str, ReproducePreset] = {
    "smoke": ReproducePreset(
        description="CI smoke test (< 3 min on 2 CPU cores): tiny screen, tiny models, one epoch or two, "
                    "two DeepLoc runs (so the mean and sd over runs are computed), no XLA (its compile time "
                    "would dominate steps this few).",
        proteins=48, cells_per_protein=24, deeploc_preset="study", deeploc_width=0.125, deeploc_epochs=2,
        sweep_rates=(1e-3,), seeds=(0, 1), batch_size=64, pci_width=0.0625, pci_epochs=1, pci_lr=1e-3, cp_workers=2,
        n_null=100, jit_compile=False, pifia_width=0.0625, pifia_epochs=1, pifia_lr=1e-3, oracle_epochs=1,
    ),
    "cpu": ReproducePreset(
        description="The embedded demo (< 20 min on 2 CPU cores): the default synthetic screen, CPU-width models, "
                    "DeepLoc one run of 12 epochs at batch 32 (four times the protocol's updates per epoch at the "
                    "same cells per CPU-second) from learning rate 2e-3, times 0.83 after each epoch (BatchNorm "
                    "statistics re-estimated on the training cells), PCI 5 epochs at learning rate 3e-3, PIFiA "
                    "width 0.125, 10 epochs from learning rate 1e-3 (cosine decay), the oracle (width 0.125, 4 "
                    "epochs); each protein's cells split 60/20/20 so its profile averages 16 held-out cells.",
        proteins=240, cells_per_protein=40, deeploc_preset="study", deeploc_width=0.125, deeploc_epochs=12,
        sweep_rates=(2e-3,), seeds=(0,), batch_size=32, deeploc_lr_decay=(180, 0.83), pci_width=0.0625, pci_epochs=5,
        pci_lr=3e-3,
        cp_workers=2, pifia_width=0.125, pifia_epochs=10, pifia_lr=1e-3, n_bootstrap=10_000,
        split_fractions=(0.6, 0.2, 0.2),
    ),
    "paper": ReproducePreset(
        description="The full study protocol on a GPU: the study's DeepLoc network as its code builds it "
                    "(razdaibiedina2022 preset: VALID padding, no BatchNorm on the dense layers, Keras-default "
                    "initialisation, flips only; 5 learning rates x 3 seeds, 30 epochs, the minimal validation-loss "
                    "checkpoint) and PCI (the study's 5 learning rates x 3 seeds, 30 epochs), each rate chosen by "
                    "the mean validation loss; PIFiA full size with its published protocol (lr 3e-4, cosine decay, "
                    "30 epochs); mixed precision, over a given store and standards.",
        proteins=None, cells_per_protein=None, deeploc_preset="razdaibiedina2022", deeploc_width=1.0,
        deeploc_epochs=None, sweep_rates=STUDY_LEARNING_RATES, seeds=(0, 1, 2), batch_size=None, pci_width=1.0,
        pci_epochs=None, pci_sweep_rates=STUDY_LEARNING_RATES, cp_features="closest_to_study", n_bootstrap=10_000,
    ),
}
REPRODUCE_PRESET_NAMES = tuple(REPRODUCE_PRESETS)


def _get_preset(name: str) -> ReproducePreset:
    try:
        return REPRODUCE_PRESETS[name]
    except KeyError:
        raise InputError(f"unknown reproduce preset {name!r}; expected one of {list(REPRODUCE_PRESET_NAMES)}") from None


def _find_standards(directory: Path) -> dict[str, Path]:
    """Map each of :data:`STANDARD_NAMES` to its file in ``directory``."""
    if not directory.is_dir():
        raise file_error(directory, "no such standards directory")
    found = {}
    for name in STANDARD_NAMES:
        matches = sorted(p for p in directory.iterdir() if p.stem == name and p.suffix in STANDARD_SUFFIXES)
        if not matches:
            raise file_error(directory, f"missing the {name} standard; expected {name}{STANDARD_SUFFIXES[0]} (or "
                                        f"{'/'.join(STANDARD_SUFFIXES[1:])}) for "
                                        f"each of {list(STANDARD_NAMES)}")
        found[name] = matches[0]
    return found


#: What a reproduce run writes into its directory: ``--overwrite`` replaces a folder holding only these.
_OUTPUTS = (_STATE, "screen", "runs", "profiles", "run_profiles", "references", "scores", "figures", "report.html",
            "summary.csv")


def _check_out(out: Path, *, resume: bool, overwrite: bool, inputs: tuple) -> None:
    """Refuse an ``out`` that holds something else than a reproduce run to continue or (with overwrite) to replace."""
    if resume and overwrite:
        raise InputError("pass either --resume (continue the run in --out) or --overwrite (delete it and start "
                         "again), not both")
    if not (out.is_dir() and any(out.iterdir())):
        return
    if overwrite:
        check_replaceable(out, command="reproduce", inputs=inputs, names=_OUTPUTS)
    elif not (out / _STATE).is_file():
        raise file_error(out, "is not empty and holds no reproduce run; choose a new --out or pass --overwrite")
    elif not resume:
        raise file_error(out, "holds a previous reproduce run; pass --resume to continue it or --overwrite "
                              "to start again")


class _Run:
    """The state of one reproduce directory: configuration, finished steps and their timings."""

    def __init__(self, out: Path, config: dict[str, Any]) -> None:
        self.out = out
        self.state_path = out / _STATE
        config = json.loads(json.dumps(config, default=str))  # as it is stored (tuples become lists)
        self.state = {"command": "reproduce", "config": config, "steps": {}}
        if self.state_path.is_file():
            previous = self._read()
            if previous.get("config") != config:
                raise file_error(self.state_path, "was written with another configuration; --resume needs the same "
                                                  "options (or pass --overwrite)")
            self.state = {**previous, "command": "reproduce"}
        self._save()

    def _read(self) -> dict[str, Any]:
        """The recorded state; a damaged file is named in one line."""
        try:
            state = json.loads(self.state_path.read_text())
        except (OSError, ValueError) as exc:
            raise file_error(self.state_path, f"cannot read the run's state (corrupt or truncated file?): "
                                              f"{str(exc).splitlines()[0]}; pass --overwrite to start again") from None
        if not isinstance(state, dict) or not isinstance(state.get("steps"), dict):
            raise file_error(self.state_path, "is not the state of a reproduce run (no 'steps'); pass --overwrite "
                                              "to start again")
        return state

    def _save(self) -> None:
        self.state["environment"] = environment()
        with atomic_path(self.state_path, overwrite=True) as tmp:
            tmp.write_text(json.dumps(self.state, indent=2, default=str))

    def step(self, name: str, function: Callable[[], Any]) -> None:
        if name in self.state["steps"]:
            status(f"{self._position(name)}: finished before, skipped")
            return
        logger.info("reproduce: %s ...", name)
        start = time.perf_counter()
        function()
        seconds = time.perf_counter() - start
        self.state["steps"][name] = {"seconds": round(seconds, 2)}
        self._save()
        status(f"{self._position(name)}: {format_seconds(seconds)}; {self._elapsed_and_rest(name)}")

    def _planned(self) -> list[str]:
        """The steps of this run: ``simulate`` and ``train_oracle`` only on a simulated screen."""
        simulated = self.state["config"].get("store") is None
        return [name for name in STEP_NAMES if simulated or name not in ("simulate", "train_oracle")]

    def _position(self, name: str) -> str:
        planned = self._planned()
        return f"reproduce [{planned.index(name) + 1}/{len(planned)}] {name}"

    def _elapsed_and_rest(self, name: str) -> str:
        """Time of the finished steps and the rest estimated from them (scaled by the steps' usual shares)."""
        planned = self._planned()
        later = planned[planned.index(name) + 1:]
        done = [step for step in planned if step in self.state["steps"]]
        elapsed = sum(self.state["steps"][step]["seconds"] for step in done)
        if not later:
            return f"{format_seconds(elapsed)} in all"
        rest = elapsed * sum(_STEP_SECONDS[step] for step in later) / sum(_STEP_SECONDS[step] for step in done)
        return f"elapsed {format_seconds(elapsed)}, about {format_seconds(rest)} left"

    @property
    def timings(self) -> dict[str, float]:
        return {name: info["seconds"] for name, info in self.state["steps"].items()}


def _fresh(path: Path) -> Path:
    """Remove what an interrupted step left behind, so the step starts clean."""
    remove_path(path)
    return path


@dataclass(frozen=True)
class _Layout:
    """Where a reproduce run reads its inputs and writes each step's outputs."""

    out: Path
    store: Path
    standard_files: dict[str, Path]
    localization: Path | None = None
    """Localization classes as groups (Figure 2's colours); None: the classes DeepLoc was trained on."""

    @property
    def standards_dir(self) -> Path:
        return self.standard_files[STANDARD_NAMES[0]].parent

    @property
    def runs(self) -> Path:
        return self.out / "runs"

    @property
    def profiles(self) -> Path:
        return self.out / "profiles"

    @property
    def run_profiles(self) -> Path:
        """Profiles of every selected run of a learned method: ``run_profiles/<method>/<run>/``."""
        return self.out / "run_profiles"

    @property
    def scores(self) -> Path:
        return self.out / "scores"

    @property
    def references(self) -> Path:
        return self.out / "references"

    @property
    def proteins_csv(self) -> Path | None:
        """The simulated screen's protein table (generating parameters); None for a given store."""
        path = self.store.parent / "proteins.csv"
        return path if self.localization is not None and path.is_file() else None

    @property
    def profile_files(self) -> dict[str, Path]:
        """Protein profiles of each compared representation, by name (:data:`REPRESENTATIONS`)."""
        return {name: self.profiles / r.profiles for name, r in REPRESENTATIONS.items()}

    @property
    def reference_files(self) -> dict[str, Path]:
        """Protein profiles of each reference representation, by display name."""
        files = {UNTRAINED[METHODS[m].display]: self.references / f"untrained_{m}" / "proteins.parquet"
                 for m in _TWINS}
        files[PIXEL_STATISTICS] = self.references / "pixel_statistics" / "proteins.parquet"
        files[LABELS] = self.references / "labels" / "proteins.parquet"
        if self.proteins_csv is not None:
            files[ORACLE] = self.references / "oracle" / "proteins.parquet"
            files[GENERATING] = self.references / "generating" / "proteins.parquet"
        return files


def _simulate(screen: Path, config: ReproducePreset, seed: int, hierarchy: str) -> None:
    from ..data.synthetic import simulate_screen

    simulate_screen(_fresh(screen), proteins=config.proteins, cells_per_protein=config.cells_per_protein, seed=seed,
                    hierarchy=hierarchy, split_fractions=config.split_fractions)


def _resumable(path: Path) -> tuple[Path, bool]:
    """A training step's run directory and whether to resume it (it holds the record of an interrupted run)."""
    if (path / "config.json").is_file():
        return path, True
    return _fresh(path), False


def _train_deeploc(layout: _Layout, config: ReproducePreset, seed: int) -> None:
    run_dir, resume = _resumable(layout.runs / "deeploc")
    training = TrainConfig.from_preset(
        "deeploc", config.deeploc_preset, epochs=config.deeploc_epochs, batch_size=config.batch_size, lr_sweep=True,
        lr_decay=config.deeploc_lr_decay, sweep_rates=config.sweep_rates, seeds=_seeds(config, seed),
        width=config.deeploc_width, mixed_precision=config.mixed_precision, jit_compile=config.jit_compile,
        monitor=layout.standards_dir)
    train(layout.store, run_dir, training, resume=resume)


def _train_pci(layout: _Layout, config: ReproducePreset, seed: int) -> None:
    run_dir, resume = _resumable(layout.runs / "pci")
    runs = {"lr_sweep": True, "sweep_rates": config.pci_sweep_rates, "seeds": _seeds(config, seed)} \
        if config.pci_sweep_rates else {"seed": seed, "learning_rate": config.pci_lr}
    training = TrainConfig.from_preset("pci", epochs=config.pci_epochs, width=config.pci_width,
                                       mixed_precision=config.mixed_precision, jit_compile=config.jit_compile, **runs)
    train(layout.store, run_dir, training, resume=resume)


def _seeds(config: ReproducePreset, seed: int) -> tuple[int, ...]:
    """The training seeds of a sweep: the preset's, offset by the run's ``seed`` (the preset's own at seed 0)."""
    return tuple(seed + s for s in config.seeds)


def _train_pifia(layout: _Layout, config: ReproducePreset, seed: int) -> None:
    run_dir, resume = _resumable(layout.runs / "pifia")
    training = TrainConfig.from_preset("pifia", epochs=config.pifia_epochs, width=config.pifia_width,
                                       learning_rate=config.pifia_lr, seed=seed, mixed_precision=config.mixed_precision,
                                       jit_compile=config.jit_compile)
    train(layout.store, run_dir, training, resume=resume)


def _train_oracle(layout: _Layout, config: ReproducePreset, seed: int) -> None:
    from .oracle import train_oracle

    train_oracle(layout.store, layout.proteins_csv, _fresh(layout.runs / "oracle"), width=config.oracle_width,
                 epochs=config.oracle_epochs, seed=seed, jit_compile=config.jit_compile)


def _extract_learned(layout: _Layout, method: str, layer: str) -> None:
    """Profiles of the best run into ``profiles/<method>/``; with several selected runs, each run's too."""
    extract(layout.store, _fresh(layout.profiles / method), method=method,
            model_path=layout.runs / method / "best.keras", layer=layer, split=PROFILE_SPLIT)
    runs = selected_runs(layout.runs / method)
    folder = _fresh(layout.run_profiles / method)
    if len(runs) > 1:
        for run_dir in runs:
            extract(layout.store, folder / run_dir.name, method=method, model_path=run_dir / "best.keras",
                    layer=layer, split=PROFILE_SPLIT)


def _extract_cellprofiler(layout: _Layout, config: ReproducePreset) -> None:
    """CellProfiler profiles (raw, processed, PCA) and the study's table: every raw feature z-scored, none selected."""
    from cellprofiler_features.measure import FeatureConfig

    from ..core.processing import ProfileProcessing, process_profile_file

    folder = _fresh(layout.profiles / "cellprofiler")
    extract(layout.store, folder, method="cellprofiler", split=PROFILE_SPLIT, pca=0.99, workers=config.cp_workers,
            config=FeatureConfig.preset(config.cp_features))
    process_profile_file(folder / "proteins_raw.parquet", folder / "proteins_zscored.parquet",
                         ProfileProcessing(normalize="standardize", operations=()))


def _references(layout: _Layout, config: ReproducePreset) -> None:
    """Every reference profile of the held-out cells, and PCI's mean-image predictor, into ``references/``."""
    from .ladder import reference_profiles
    from .references import mean_target_mse

    simulated = layout.proteins_csv is not None
    reference_profiles(layout.store, layout.references, split=PROFILE_SPLIT,
                       untrained=[layout.runs / m for m in _TWINS], layers={"pci": config.pci_layer},
                       generating=layout.proteins_csv, oracle=layout.runs / "oracle" if simulated else None,
                       overwrite=True)
    history = pd.read_csv(layout.runs / "pci" / "history.csv")
    facts = {"pci": {"best_val_mse": float(history["val_loss"].min()),
                     "epochs": len(history),
                     "mean_image_val_mse": mean_target_mse(layout.runs / "pci", layout.store)},
             "pifia": _pifia_learning(layout)}
    (layout.references / "references.json").write_text(json.dumps(facts, indent=2))


def _pifia_learning(layout: _Layout) -> dict[str, float]:
    """PIFiA's validation accuracy over proteins (at its minimal validation loss) beside chance (one over the
    proteins) and beside knowing only each cell's localization: a uniform guess among the proteins of its class
    (a protein's class: the most common label of its train cells)."""
    history = pd.read_csv(layout.runs / "pifia" / "history.csv")
    with CellStore.open(layout.store) as store:
        cells = store.cells[["protein", "label", "split"]]
    train = cells[(cells["split"] == 0) & (cells["protein"] != UNKNOWN_PROTEIN)]
    labelled = train[train["label"] >= 0]
    protein_class = labelled.groupby("protein")["label"].agg(lambda labels: labels.mode().iloc[0])
    val = cells[(cells["split"] == 1) & cells["protein"].isin(protein_class.index)]
    class_sizes = protein_class.value_counts()
    localization_only = float((1.0 / class_sizes.loc[protein_class.loc[val["protein"]]].to_numpy()).mean())
    return {"val_accuracy": float(history.loc[history["val_loss"].idxmin(), "val_accuracy"]),
            "epochs": len(history), "proteins": int(train["protein"].nunique()),
            "chance": 1.0 / train["protein"].nunique(), "localization_only": localization_only}


def _localization(layout: _Layout) -> dict[str, set[str]]:
    """Localization class -> proteins of the within metrics (simulated: primary and second class; a given store:
    the most common label of each protein's test cells)."""
    from eval.standards import load_standard

    if layout.localization is not None:
        return load_standard(layout.localization)
    labels = pd.read_parquet(layout.reference_files[LABELS], columns=["Metadata_Protein", "Metadata_Label"])
    return {name: set(rows["Metadata_Protein"].astype(str)) for name, rows in labels.groupby("Metadata_Label")}


def _over_runs(layout: _Layout, standards: dict[str, dict[str, set[str]]], seed: int) -> pd.DataFrame:
    """Figure 1's scores over the selected runs of each learned method that has several (:func:`eval.runs.score_runs`)."""
    from eval.catalog import FIGURE1_METRICS
    from eval.runs import score_runs

    runs = {}
    for method in TRAINABLE_METHODS:
        found = sorted((layout.run_profiles / method).glob("*/proteins.parquet"))
        if found:
            runs[METHODS[method].display] = found
    return score_runs(runs, standards, metrics=FIGURE1_METRICS, seed=seed, normalize=NORMALIZE)


def _all_profiles(layout: _Layout) -> dict[str, Path]:
    return {**layout.profile_files, **layout.reference_files}


def _channel_scores(layout: _Layout, files: dict[str, Path], roles: dict[str, str], n_null: int,
                    seed: int) -> pd.DataFrame | None:
    """On a simulated screen, the within-compartment AP of every representation on each channel standard
    (:mod:`deeploc_keras.data.synthetic.channels`) against the within-class null; None without them."""
    from eval.score import score_representation
    from eval.standards import load_standard

    from ..core.profiles import read_profiles
    from ..data.synthetic.channels import CHANNEL_STANDARDS

    paths = {name: layout.standards_dir / f"{name}.gmt" for name in CHANNEL_STANDARDS}
    if layout.proteins_csv is None or not all(path.is_file() for path in paths.values()):
        return None
    standards = {name: load_standard(path) for name, path in paths.items()}
    localization, frames = _localization(layout), []
    for name, path in files.items():
        table = read_profiles(path)
        rows = score_representation(table.meta["Metadata_Protein"].astype(str).tolist(), table.features, standards,
                                    metrics=["average_precision_within"], n_null=n_null, seed=seed,
                                    localization=localization, normalize=NORMALIZE)
        frames.append(rows.assign(representation=name, role=roles.get(name, "reference"),
                                  channel=rows["standard"].map(CHANNEL_STANDARDS)))
    return pd.concat(frames, ignore_index=True)


def _oracle_gate(layout: _Layout, summary: pd.DataFrame, channels: pd.DataFrame) -> pd.DataFrame:
    """The oracle gate of a simulated screen (:func:`deeploc_keras.study.gate.oracle_gate`)."""
    from .gate import oracle_gate
    from .oracle import parameter_recovery

    recovery = parameter_recovery(layout.reference_files[ORACLE], layout.proteins_csv)
    return oracle_gate(recovery, summary, channels)


def _score(layout: _Layout, config: ReproducePreset, seed: int) -> None:
    from eval.catalog import FIGURE1_METRICS
    from eval.plots import plot_summary
    from eval.runs import add_run_columns
    from eval.score import score
    from eval.standards import load_standard

    from .findings import roles

    files = _all_profiles(layout)
    references = [name for name in files if name in layout.reference_files]
    standards = {name: load_standard(layout.standard_files[name]) for name in STANDARD_NAMES}
    baselines = [name for name, r in REPRESENTATIONS.items() if r.role == "baseline" and name in files]
    with atomic_path(layout.scores, overwrite=True) as tmp:
        summary = score(list(files.values()), standards, tmp, names=list(files), references=references, seed=seed,
                        n_bootstrap=config.n_bootstrap, n_null=config.n_null, compare_to=baselines,
                        localization=_localization(layout), within_standards=WITHIN_STANDARDS, normalize=NORMALIZE)
        summary = add_run_columns(summary, _over_runs(layout, standards, seed))
        summary.to_csv(tmp / "summary.csv", index=False)
        channels = _channel_scores(layout, files, roles(summary), config.n_null, seed)
        if channels is not None:
            channels.to_csv(tmp / "channels.csv", index=False)
            _oracle_gate(layout, summary, channels).to_csv(tmp / "oracle_gate.csv", index=False)
        plot_summary(summary, tmp, metrics=(*FIGURE1_METRICS, "average_precision_within"), references=references)


def _figures(layout: _Layout, seed: int) -> None:
    from eval.plots import plot_monitor, plot_tsne

    deeploc = layout.profile_files[METHODS["deeploc"].display]
    with atomic_path(layout.out / "figures", overwrite=True) as tmp:
        tmp.mkdir()
        n_proteins = len(pd.read_parquet(deeploc, columns=["Metadata_Protein"]))
        plot_tsne(deeploc, layout.localization, layout.standard_files["bioprocess"],
                  tmp / "tsne", perplexity=min(40.0, max(2.0, (n_proteins - 1) / 3)), seed=seed,
                  name=METHODS["deeploc"].display)
        monitor = layout.runs / "deeploc" / "monitor.csv"
        if monitor.is_file():
            plot_monitor(monitor, tmp / "monitor", standards=STANDARD_NAMES)


def _report(layout: _Layout, run: _Run, record: dict[str, Any]) -> None:
    from .report import write_report

    summary = pd.read_csv(layout.scores / "summary.csv")
    shutil.copyfile(layout.scores / "summary.csv", layout.out / "summary.csv")
    facts = json.loads((layout.references / "references.json").read_text())
    channels, gate = layout.scores / "channels.csv", layout.scores / "oracle_gate.csv"
    write_report(layout.out, summary=summary, tests=pd.read_csv(layout.scores / "tests.csv"),
                 channels=pd.read_csv(channels) if channels.is_file() else None,
                 gate=pd.read_csv(gate) if gate.is_file() else None,
                 coverage=pd.read_csv(layout.scores / "coverage.csv"), config=record, timings=run.timings,
                 normalize=NORMALIZE, pci_learning=facts["pci"],
                 descriptions={name: r.description for name, r in REPRESENTATIONS.items()})


def _check_inputs(config: ReproducePreset, preset: str, store: str | os.PathLike | None,
                  standards: str | os.PathLike | None, hierarchy: str, seed: int) -> None:
    check_seed("seed", seed)
    if seed + max(config.seeds, default=0) > MAX_SEED:
        raise InputError(f"seed offsets the preset's training seeds {list(config.seeds)}, which must stay at most "
                         f"{MAX_SEED}. Received: seed={seed}")
    if hierarchy not in HIERARCHY_CHOICES:
        raise InputError(f"hierarchy must be one of {list(HIERARCHY_CHOICES)}. Received: hierarchy={hierarchy!r}")
    if (store is None) != (standards is None):
        raise InputError("a real run needs both --store and --standards (or neither, to simulate the screen). "
                         f"Received: store={store}, standards={standards}")
    if store is None and config.proteins is None:
        raise InputError(f"preset {preset!r} runs on a given screen: pass --store STORE.h5 --standards DIR")
    if store is not None:
        with CellStore.open(store) as opened:
            opened.require_proteins()
            opened.require_labels()
        _find_standards(Path(standards))


def reproduce(
    out: str | os.PathLike,
    *,
    preset: str = "cpu",
    store: str | os.PathLike | None = None,
    standards: str | os.PathLike | None = None,
    seed: int = 0,
    hierarchy: str = "grounded",
    resume: bool = False,
    overwrite: bool = False,
) -> pd.DataFrame:
    """Run the whole study and write ``out/report.html`` and ``out/summary.csv``.

    Parameters
    ----------
    out : str or os.PathLike
        Output directory; a step's outputs stay in it so the step can be rerun.
    preset : {"smoke", "cpu", "paper"}, default "cpu"
        Sizes and protocols (:data:`REPRODUCE_PRESETS`); ``smoke`` and ``cpu`` simulate
        the embedded synthetic screen when no store is given.
    store : str or os.PathLike, optional
        A cell store with protein ids and labels (e.g. the imported Chong et al. 2015
        screen); needs ``standards``.
    standards : str or os.PathLike, optional
        Directory with ``cellular_component``, ``bioprocess``, ``pathway`` and ``complex``
        standards (``.gmt``, ``.tsv`` or ``.json``); needs ``store``.
    seed : int, default 0
        Seed of every random draw: the simulation, the training runs (a single PCI run's seed; a
        sweep's seeds are the preset's ``seeds`` plus ``seed``), the pipelines and the scoring samples.
    hierarchy : {"grounded", "synthetic"}, default "grounded"
        Hierarchy of the simulated screen (:data:`deeploc_keras.data.synthetic.screen.HIERARCHY_CHOICES`):
        real ORFs, Huh 2003 classes and real groups from the shipped annotation, or fully synthetic.
    resume : bool, default False
        Continue an interrupted run in ``out`` (finished steps are skipped).
    overwrite : bool, default False
        Delete ``out`` first.

    Returns
    -------
    pandas.DataFrame
        The summary table (representation, standard, metric, value, ...).

    Raises
    ------
    InputError
        ``store`` without ``standards`` (or the reverse), ``paper`` without them, an unknown hierarchy, a store
        whose proteins are unknown, or an ``out`` holding another run.
    """
    config = _get_preset(preset)
    _check_inputs(config, preset, store, standards, hierarchy, seed)
    out = Path(out)
    record = {"preset": preset, **dataclasses.asdict(config), "seed": seed,
              "hierarchy": hierarchy if store is None else None,
              "store": os.fspath(Path(store).resolve()) if store else None,
              "standards": os.fspath(Path(standards).resolve()) if standards else None}
    inputs = (store, standards)
    _check_out(out, resume=resume, overwrite=overwrite, inputs=inputs)
    with writing_dir(out, command="reproduce", overwrite=overwrite, resume=resume, inputs=inputs, names=_OUTPUTS):
        run = _Run(out, record)
        if store is None:
            run.step("simulate", partial(_simulate, out / "screen", config, seed, hierarchy))
            store, standards = out / "screen" / "cells.h5", out / "screen" / "standards"
            localization = out / "screen" / "localization.gmt"
        else:
            localization = None
        layout = _Layout(out=out, store=Path(store), standard_files=_find_standards(Path(standards)),
                         localization=localization)
        run.step("train_deeploc", partial(_train_deeploc, layout, config, seed))
        run.step("train_pci", partial(_train_pci, layout, config, seed))
        run.step("train_pifia", partial(_train_pifia, layout, config, seed))
        if layout.proteins_csv is not None:
            run.step("train_oracle", partial(_train_oracle, layout, config, seed))
        run.step("extract_deeploc", partial(_extract_learned, layout, "deeploc", METHODS["deeploc"].default_layer))
        run.step("extract_pci", partial(_extract_learned, layout, "pci", config.pci_layer))
        run.step("extract_pifia", partial(_extract_learned, layout, "pifia", METHODS["pifia"].default_layer))
        run.step("extract_cellprofiler", partial(_extract_cellprofiler, layout, config))
        run.step("references", partial(_references, layout, config))
        run.step("score", partial(_score, layout, config, seed))
        run.step("figures", partial(_figures, layout, seed))
        run.step("report", partial(_report, layout, run, record))
    return pd.read_csv(layout.scores / "summary.csv")
