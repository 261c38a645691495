"""Reproduce the study end to end: data, three representations, four standards, three figures, a report.

Steps (each writes into its own sub-directory of ``out`` and is skipped when a
resumed run finds it finished)::

    screen/         simulate the embedded synthetic screen (unless a store is given)
    runs/deeploc/   train DeepLoc (study protocol, learning-rate sweep x seeds, monitor)
    runs/pci/       train Paired Cell Inpainting
    runs/oracle/    on a simulated screen, train the oracle (DeepLoc's trunk regressing the function parameters)
    profiles/<m>/   extract DeepLoc, PCI and CellProfiler (+PCA) profiles of the held-out (validation and test)
                    cells, so a protein's profile averages 20 % of its cells
    run_profiles/<m>/<run>/  with several runs at the chosen learning rate, the profiles of each run
    references/     the ladder's reference rows on the same held-out cells: DeepLoc and PCI untrained (same
                    configuration and seed, random weights), pixel statistics, the localization labels,
                    and on a simulated screen the oracle (the empirical ceiling) and the generating
                    parameters (the generator's own numbers); references.json holds the
                    validation MSE of PCI's mean-image predictor
    scores/         score every representation on the four standards with bootstrap intervals, paired
                    comparisons with the best baseline, within-compartment AP/mAP, and the mean and
                    sd over the selected runs of DeepLoc and PCI (Figure 1: bars are those means)
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

import numpy as np
import pandas as pd

from eval.figures import FIGURE1_METRICS
from eval.runs import add_run_columns
from eval.standards import STANDARD_SUFFIXES

from ..core.errors import InputError, file_error
from ..core.outputs import atomic_path, remove_path
from ..core.records import environment
from ..data.store import CellStore
from ..data.synthetic.screen import HIERARCHY_CHOICES
from ..inference.extract import extract
from ..models.presets import STUDY_LEARNING_RATES
from ..training.config import TrainConfig
from ..training.methods import METHODS, PCI_LEARNING_RATES, TRAINABLE_METHODS
from ..training.train import selected_runs, train
from .references import GENERATING, LABELS, ORACLE, PIXEL_STATISTICS, UNTRAINED
from .report import BASELINES, write_report

__all__ = ["ReproducePreset", "REPRODUCE_PRESETS", "REPRODUCE_PRESET_NAMES", "STANDARD_NAMES", "STEP_NAMES",
           "REPRESENTATIONS", "WITHIN_STANDARDS", "NORMALIZE", "PROFILE_SPLIT", "reproduce"]

logger = logging.getLogger(__name__)

#: The four functional scales of the study, as standard file stems.
STANDARD_NAMES = ("cellular_component", "bioprocess", "pathway", "complex")
#: Representation display names, in the order of the report.
REPRESENTATIONS = (METHODS["deeploc"].display, METHODS["pci"].display, METHODS["cellprofiler"].display,
                   f"{METHODS['cellprofiler'].display}+PCA")
#: Standards scored within compartments too (pairs sharing a localization class only).
WITHIN_STANDARDS = ("bioprocess", "pathway", "complex")
#: ``score --normalize`` of reproduce: every profile as extracted (CellProfiler's are normalized and
#: feature-selected by its runner; the learned ones and the references are not normalized).
NORMALIZE = "none"
#: The cells every representation and reference is profiled from: those no gradient step saw.
PROFILE_SPLIT = "heldout"
STEP_NAMES = ("simulate", "train_deeploc", "train_pci", "train_oracle", "extract_deeploc", "extract_pci",
              "extract_cellprofiler", "references", "score", "figures", "report")
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
    pci_lr : float or None
        PCI learning rate (None: the original's 1e-4, chosen for width 1.0).
    sweep_rates : tuple of float
        Learning rates of the DeepLoc sweep.
    seeds : tuple of int
        Training seeds of the DeepLoc sweep (and of the PCI sweep), offset by ``reproduce``'s ``seed``.
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
    jit_compile : bool
        XLA for the training steps (``train --no-xla`` when False).
    n_bootstrap : int
        Bootstrap resamples of the proteins for the intervals and paired comparisons of the scores.
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
    pci_sweep_rates: tuple[float, ...] = ()
    pci_layer: str = METHODS["pci"].default_layer
    cp_workers: int | None = None
    cp_features: str = "default"
    mixed_precision: str = "auto"
    jit_compile: bool = True
    n_bootstrap: int = 200
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
        n_bootstrap=50, jit_compile=False, oracle_epochs=1,
    ),
    "cpu": ReproducePreset(
        description="The embedded demo (< 20 min on 2 CPU cores): the default synthetic screen, CPU-width models, "
                    "a short learning-rate sweep over 3 seeds, PCI 6 epochs at learning rate 1e-3.",
        proteins=240, cells_per_protein=40, deeploc_preset="study", deeploc_width=0.125, deeploc_epochs=2,
        sweep_rates=(1e-3, 3e-4), seeds=(0, 1, 2), batch_size=128, pci_width=0.0625, pci_epochs=6, pci_lr=1e-3,
        cp_workers=2, split_fractions=(0.6, 0.2, 0.2),
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
        if resume and overwrite:
            raise InputError("pass either --resume (continue the run in --out) or --overwrite (delete it and start "
                             "again), not both")
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
        """Protein profiles of each representation, by display name."""
        cellprofiler = self.profiles / "cellprofiler"
        return dict(zip(REPRESENTATIONS, (self.profiles / "deeploc" / "proteins.parquet",
                                          self.profiles / "pci" / "proteins.parquet",
                                          cellprofiler / "proteins.parquet", cellprofiler / "proteins_pca.parquet"), strict=True))

    @property
    def reference_files(self) -> dict[str, Path]:
        """Protein profiles of each reference representation, by display name."""
        files = {UNTRAINED[METHODS[m].display]: self.references / f"untrained_{m}" / "proteins.parquet"
                 for m in ("deeploc", "pci")}
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
        sweep_rates=config.sweep_rates, seeds=_seeds(config, seed), width=config.deeploc_width,
        mixed_precision=config.mixed_precision, jit_compile=config.jit_compile, monitor=layout.standards_dir)
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
    from cellprofiler_features.measure import FeatureConfig

    extract(layout.store, _fresh(layout.profiles / "cellprofiler"), method="cellprofiler", split=PROFILE_SPLIT, pca=0.99,
            workers=config.cp_workers, config=FeatureConfig.preset(config.cp_features))


def _references(layout: _Layout, config: ReproducePreset) -> None:
    """Every reference profile of the held-out cells, and PCI's mean-image predictor, into ``references/``."""
    from .ladder import reference_profiles
    from .references import mean_target_mse

    simulated = layout.proteins_csv is not None
    reference_profiles(layout.store, layout.references, split=PROFILE_SPLIT,
                       untrained=[layout.runs / m for m in ("deeploc", "pci")], layers={"pci": config.pci_layer},
                       generating=layout.proteins_csv, oracle=layout.runs / "oracle" if simulated else None,
                       overwrite=True)
    history = pd.read_csv(layout.runs / "pci" / "history.csv")
    facts = {"pci": {"best_val_mse": float(history["val_loss"].min()),
                     "epochs": len(history),
                     "mean_image_val_mse": mean_target_mse(layout.runs / "pci", layout.store)}}
    (layout.references / "references.json").write_text(json.dumps(facts, indent=2))


def _strata(layout: _Layout, proteins: list[str]) -> np.ndarray:
    """proteins x classes: the localization classes of each protein (simulated: primary and second class;
    a given store: the most common label of its test cells)."""
    from eval.metrics import membership_matrix
    from eval.standards import load_standard

    if layout.localization is not None:
        classes = load_standard(layout.localization)
    else:
        labels = pd.read_parquet(layout.reference_files[LABELS], columns=["Metadata_Protein", "Metadata_Label"])
        classes = {name: set(rows["Metadata_Protein"].astype(str))
                   for name, rows in labels.groupby("Metadata_Label")}
    strata, _ = membership_matrix(classes, proteins)
    return strata


def _within_rows(layout: _Layout, files: dict[str, Path], standards: dict[str, dict[str, set[str]]], *, seed: int,
                 n_bootstrap: int) -> pd.DataFrame:
    """Within-compartment AP and mAP rows (summary columns) of each representation on :data:`WITHIN_STANDARDS`.

    mAP within gets the bootstrap interval of :func:`eval.significance.bootstrap_mean` over the same
    resamples as the pooled scores; the pooled within AP has none.
    """
    from eval import metrics as _metrics
    from eval import significance as _significance
    from eval.standards import restrict

    from ..core.profiles import read_profiles

    rows = []
    for name, path in files.items():
        table = read_profiles(path)
        proteins = table.meta["Metadata_Protein"].astype(str).tolist()
        strata = _strata(layout, proteins)
        for standard in WITHIN_STANDARDS:
            kept, _ = restrict(standards[standard], proteins)
            membership, _ = _metrics.membership_matrix(kept, proteins)
            universe = membership.any(axis=1)
            x, member, strata_u = table.features[universe], membership[universe], strata[universe]
            base = {"representation": name, "standard": standard, "sd": np.nan, "n_proteins": int(universe.sum()),
                    "n_groups": len(kept), "prevalence": _metrics.prevalence(member, strata=strata_u),
                    "normalize": NORMALIZE}
            rows.append({**base, "metric": "average_precision_within", "ci_low": np.nan, "ci_high": np.nan,
                         "value": _metrics.average_precision_within(x, member, strata_u)})
            per_protein = _metrics.protein_average_precision(x, member, strata=strata_u)
            low = high = np.nan
            if n_bootstrap:
                ids = [p for p, kept_row in zip(proteins, universe, strict=True) if kept_row]
                weights = _significance.bootstrap_weights(ids, n_resamples=n_bootstrap, seed=seed)
                low, high = _significance.percentile_interval(_significance.bootstrap_mean(per_protein, weights))
            value = float(np.nanmean(per_protein)) if np.isfinite(per_protein).any() else np.nan
            rows.append({**base, "metric": "mean_average_precision_within", "ci_low": low, "ci_high": high,
                         "value": value})
    return pd.DataFrame(rows)


def _over_runs(layout: _Layout, standards: dict[str, dict[str, set[str]]], seed: int) -> pd.DataFrame:
    """Figure 1's scores over the selected runs of each learned method that has several (:func:`eval.runs.score_runs`)."""
    from eval.runs import score_runs

    runs = {}
    for method in TRAINABLE_METHODS:
        found = sorted((layout.run_profiles / method).glob("*/proteins.parquet"))
        if found:
            runs[METHODS[method].display] = found
    return score_runs(runs, standards, metrics=FIGURE1_METRICS, seed=seed, normalize=NORMALIZE)


def _all_profiles(layout: _Layout) -> dict[str, Path]:
    return {**layout.profile_files, **layout.reference_files}


def _score(layout: _Layout, config: ReproducePreset, seed: int) -> None:
    from eval.plots import plot_summary
    from eval.score import score
    from eval.standards import load_standard

    files = _all_profiles(layout)
    references = [name for name in files if name in layout.reference_files]
    standards = {name: load_standard(layout.standard_files[name]) for name in STANDARD_NAMES}
    with atomic_path(layout.scores, overwrite=True) as tmp:
        summary = score(list(files.values()), standards, tmp, names=list(files), references=references, seed=seed,
                        n_bootstrap=config.n_bootstrap, compare_to=[b for b in BASELINES if b in files],
                        normalize=NORMALIZE)
        within = _within_rows(layout, files, standards, seed=seed, n_bootstrap=config.n_bootstrap)
        summary = pd.concat([summary, within.reindex(columns=summary.columns)], ignore_index=True)
        summary = add_run_columns(summary, _over_runs(layout, standards, seed))
        summary.to_csv(tmp / "summary.csv", index=False)
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
            plot_monitor(monitor, tmp / "monitor")


def _report(layout: _Layout, run: _Run, record: dict[str, Any]) -> None:
    summary = pd.read_csv(layout.scores / "summary.csv")
    shutil.copyfile(layout.scores / "summary.csv", layout.out / "summary.csv")
    facts = json.loads((layout.references / "references.json").read_text())
    write_report(layout.out, summary=summary, coverage=pd.read_csv(layout.scores / "coverage.csv"), config=record,
                 timings=run.timings, references=list(layout.reference_files), normalize=NORMALIZE,
                 pci_learning=facts["pci"])


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
    run.step("train_deeploc", partial(_train_deeploc, layout, config, seed))
    run.step("train_pci", partial(_train_pci, layout, config, seed))
    if layout.proteins_csv is not None:
        run.step("train_oracle", partial(_train_oracle, layout, config, seed))
    run.step("extract_deeploc", partial(_extract_learned, layout, "deeploc", METHODS["deeploc"].default_layer))
    run.step("extract_pci", partial(_extract_learned, layout, "pci", config.pci_layer))
    run.step("extract_cellprofiler", partial(_extract_cellprofiler, layout, config))
    run.step("references", partial(_references, layout, config))
    run.step("score", partial(_score, layout, config, seed))
    run.step("figures", partial(_figures, layout, seed))
    run.step("report", partial(_report, layout, run, record))
    return pd.read_csv(layout.scores / "summary.csv")
