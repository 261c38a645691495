"""Reproduce the study end to end: data, three representations, four standards, three figures, a report.

Steps (each writes into its own sub-directory of ``out`` and is skipped when a
resumed run finds it finished)::

    screen/         simulate the embedded synthetic screen (unless a store is given)
    runs/deeploc/   train DeepLoc (study protocol, learning-rate sweep x seeds, monitor)
    runs/pci/       train Paired Cell Inpainting
    profiles/<m>/   extract DeepLoc, PCI and CellProfiler (+PCA) profiles of the test cells
    scores/         score the four representations on the four standards (Figure 1)
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

from .errors import InputError, file_error
from .extract import extract
from .methods import METHODS, PCI_LEARNING_RATES
from .models.presets import STUDY_LEARNING_RATES
from .outputs import atomic_path, remove_path
from .records import environment
from .report import write_report
from .store import CellStore
from .synthetic.screen import HIERARCHY_CHOICES
from .train import train

__all__ = ["ReproducePreset", "REPRODUCE_PRESETS", "REPRODUCE_PRESET_NAMES", "STANDARD_NAMES", "STEP_NAMES",
           "reproduce"]

logger = logging.getLogger(__name__)

#: The four functional scales of the study, as standard file stems.
STANDARD_NAMES = ("cellular_component", "bioprocess", "pathway", "complex")
#: Representation display names, in the order of the report.
REPRESENTATIONS = (METHODS["deeploc"].display, METHODS["pci"].display, METHODS["cellprofiler"].display,
                   f"{METHODS['cellprofiler'].display}+PCA")
STEP_NAMES = ("simulate", "train_deeploc", "train_pci", "extract_deeploc", "extract_pci", "extract_cellprofiler",
              "score", "figures", "report")
_STATE = "reproduce.json"


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
    sweep_rates : tuple of float
        Learning rates of the DeepLoc sweep.
    seeds : tuple of int
        Training seeds of the DeepLoc sweep (and of the PCI sweep).
    batch_size : int or None
        DeepLoc batch size (None: the protocol's).
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
    pci_sweep_rates: tuple[float, ...] = ()
    pci_layer: str = METHODS["pci"].default_layer
    cp_workers: int | None = None
    cp_features: str = "default"
    mixed_precision: str = "auto"


REPRODUCE_PRESETS: dict[str, ReproducePreset] = {
    "smoke": ReproducePreset(
        description="CI smoke test (< 3 min on 2 CPU cores): tiny screen, tiny models, one epoch or two.",
        proteins=48, cells_per_protein=24, deeploc_preset="study", deeploc_width=0.125, deeploc_epochs=2,
        sweep_rates=(1e-3,), seeds=(0,), batch_size=64, pci_width=0.0625, pci_epochs=1, cp_workers=2,
    ),
    "cpu": ReproducePreset(
        description="The embedded demo (< 20 min on 2 CPU cores): the default synthetic screen, CPU-width models, "
                    "a short learning-rate sweep over 3 seeds.",
        proteins=240, cells_per_protein=40, deeploc_preset="study", deeploc_width=0.125, deeploc_epochs=2,
        sweep_rates=(1e-3, 3e-4), seeds=(0, 1, 2), batch_size=128, pci_width=0.0625, pci_epochs=2, cp_workers=2,
    ),
    "paper": ReproducePreset(
        description="The full study protocol on a GPU: full-size DeepLoc (study preset, 5 learning rates x 3 seeds, "
                    "30 epochs, the minimal validation-loss checkpoint) and PCI (3 learning rates around its 1e-4 x "
                    "3 seeds, 30 epochs), each rate chosen by the mean validation loss, mixed precision, over a "
                    "given store and standards.",
        proteins=None, cells_per_protein=None, deeploc_preset="study", deeploc_width=1.0, deeploc_epochs=None,
        sweep_rates=STUDY_LEARNING_RATES, seeds=(0, 1, 2), batch_size=None, pci_width=1.0,
        pci_epochs=None, pci_sweep_rates=PCI_LEARNING_RATES, cp_features="closest_to_study",
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


class _Run:
    """The state of one reproduce directory: configuration, finished steps and their timings."""

    def __init__(self, out: Path, config: dict[str, Any], *, resume: bool, overwrite: bool) -> None:
        self.out = out
        self.state_path = out / _STATE
        if out.exists() and any(out.iterdir()):
            if overwrite:
                remove_path(out)
            elif not self.state_path.is_file():
                raise file_error(out, "is not empty and holds no reproduce run; choose a new --out or pass --overwrite")
            elif not resume:
                raise file_error(out, "holds a previous reproduce run; pass --resume to continue it or --overwrite "
                                      "to start again")
        out.mkdir(parents=True, exist_ok=True)
        config = json.loads(json.dumps(config, default=str))  # as it is stored (tuples become lists)
        self.state = {"config": config, "steps": {}}
        if self.state_path.is_file():
            previous = json.loads(self.state_path.read_text())
            if previous.get("config") != config:
                raise file_error(self.state_path, "was written with another configuration; --resume needs the same "
                                                  "options (or pass --overwrite)")
            self.state = previous
        self._save()

    def _save(self) -> None:
        self.state["environment"] = environment()
        with atomic_path(self.state_path, overwrite=True) as tmp:
            tmp.write_text(json.dumps(self.state, indent=2, default=str))

    def step(self, name: str, function: Callable[[], Any]) -> None:
        if name in self.state["steps"]:
            logger.info("reproduce: %s already finished, skipped", name)
            return
        logger.info("reproduce: %s ...", name)
        start = time.perf_counter()
        function()
        seconds = time.perf_counter() - start
        self.state["steps"][name] = {"seconds": round(seconds, 2)}
        self._save()
        logger.info("reproduce: %s done in %.1f s", name, seconds)

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
    def scores(self) -> Path:
        return self.out / "scores"

    @property
    def profile_files(self) -> dict[str, Path]:
        """Protein profiles of each representation, by display name."""
        cellprofiler = self.profiles / "cellprofiler"
        return dict(zip(REPRESENTATIONS, (self.profiles / "deeploc" / "proteins.parquet",
                                          self.profiles / "pci" / "proteins.parquet",
                                          cellprofiler / "proteins.parquet", cellprofiler / "proteins_pca.parquet"), strict=True))


def _simulate(screen: Path, config: ReproducePreset, seed: int, hierarchy: str) -> None:
    from .synthetic import simulate_screen

    simulate_screen(_fresh(screen), proteins=config.proteins, cells_per_protein=config.cells_per_protein, seed=seed,
                    hierarchy=hierarchy)


def _train_deeploc(layout: _Layout, config: ReproducePreset) -> None:
    train(layout.store, _fresh(layout.runs / "deeploc"), method="deeploc", preset=config.deeploc_preset,
          epochs=config.deeploc_epochs, batch_size=config.batch_size, lr_sweep=True, sweep_rates=config.sweep_rates,
          seeds=config.seeds, width=config.deeploc_width, mixed_precision=config.mixed_precision,
          monitor=layout.standards_dir)


def _train_pci(layout: _Layout, config: ReproducePreset, seed: int) -> None:
    sweep = {"lr_sweep": True, "sweep_rates": config.pci_sweep_rates, "seeds": config.seeds}
    train(layout.store, _fresh(layout.runs / "pci"), method="pci", epochs=config.pci_epochs, width=config.pci_width,
          mixed_precision=config.mixed_precision, **(sweep if config.pci_sweep_rates else {"seed": seed}))


def _extract_learned(layout: _Layout, method: str, layer: str) -> None:
    extract(layout.store, _fresh(layout.profiles / method), method=method,
            model_path=layout.runs / method / "best.keras", layer=layer, split="test")


def _extract_cellprofiler(layout: _Layout, config: ReproducePreset) -> None:
    from cellprofiler_features.measure import FeatureConfig

    extract(layout.store, _fresh(layout.profiles / "cellprofiler"), method="cellprofiler", split="test", pca=0.99,
            workers=config.cp_workers, config=FeatureConfig.preset(config.cp_features))


def _score(layout: _Layout, seed: int) -> None:
    from eval.score import score

    score([layout.profile_files[name] for name in REPRESENTATIONS],
          [layout.standard_files[name] for name in STANDARD_NAMES], _fresh(layout.scores),
          names=list(REPRESENTATIONS), seed=seed)


def _figures(layout: _Layout, seed: int) -> None:
    from eval.plots import plot_monitor, plot_tsne

    deeploc = layout.profile_files[METHODS["deeploc"].display]
    with atomic_path(layout.out / "figures", overwrite=True) as tmp:
        tmp.mkdir()
        n_proteins = len(pd.read_parquet(deeploc, columns=["Metadata_Protein"]))
        plot_tsne(deeploc, layout.localization, layout.standard_files["bioprocess"],
                  tmp / "tsne", perplexity=min(40.0, max(2.0, (n_proteins - 1) / 3)), seed=seed)
        monitor = layout.runs / "deeploc" / "monitor.csv"
        if monitor.is_file():
            plot_monitor(monitor, tmp / "monitor")


def _report(layout: _Layout, run: _Run, record: dict[str, Any]) -> None:
    summary = pd.read_csv(layout.scores / "summary.csv")
    shutil.copyfile(layout.scores / "summary.csv", layout.out / "summary.csv")
    write_report(layout.out, summary=summary, coverage=pd.read_csv(layout.scores / "coverage.csv"), config=record,
                 timings=run.timings)


def _check_inputs(config: ReproducePreset, preset: str, store: str | os.PathLike | None,
                  standards: str | os.PathLike | None, hierarchy: str) -> None:
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
        Seed of the simulation, the pipelines and the scoring samples.
    hierarchy : {"grounded", "synthetic"}, default "grounded"
        Hierarchy of the simulated screen (:data:`deeploc_keras.synthetic.screen.HIERARCHY_CHOICES`):
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
    _check_inputs(config, preset, store, standards, hierarchy)
    out = Path(out)
    record = {"preset": preset, **dataclasses.asdict(config), "seed": seed,
              "hierarchy": hierarchy if store is None else None,
              "store": os.fspath(Path(store).resolve()) if store else None,
              "standards": os.fspath(Path(standards).resolve()) if standards else None}
    run = _Run(out, record, resume=resume, overwrite=overwrite)
    if store is None:
        run.step("simulate", partial(_simulate, out / "screen", config, seed, hierarchy))
        store, standards = out / "screen" / "cells.h5", out / "screen" / "standards"
        localization = out / "screen" / "localization.gmt"
    else:
        localization = None
    layout = _Layout(out=out, store=Path(store), standard_files=_find_standards(Path(standards)),
                     localization=localization)
    run.step("train_deeploc", partial(_train_deeploc, layout, config))
    run.step("train_pci", partial(_train_pci, layout, config, seed))
    run.step("extract_deeploc", partial(_extract_learned, layout, "deeploc", METHODS["deeploc"].default_layer))
    run.step("extract_pci", partial(_extract_learned, layout, "pci", config.pci_layer))
    run.step("extract_cellprofiler", partial(_extract_cellprofiler, layout, config))
    run.step("score", partial(_score, layout, seed))
    run.step("figures", partial(_figures, layout, seed))
    run.step("report", partial(_report, layout, run, record))
    return pd.read_csv(layout.scores / "summary.csv")
