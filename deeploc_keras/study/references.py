"""Reference representations: the rungs from chance to ceiling that every learned representation is read against.

Each function writes a per-protein ``proteins.parquet`` (the profile contract of
:mod:`deeploc_keras.core.profiles`) of the cells a comparison scores, so a reference is
scored exactly as the representations it frames:

- :func:`untrained_model`: a method's network built with a training run's configuration
  and seed and never trained (random weights); extract with it as with ``best.keras``;
- pixel statistics: :func:`deeploc_keras.study.pixel_stats.pixel_statistics_profiles`;
- :func:`label_profiles`: the localization labels themselves, per protein the share of
  its cells in each class the classifier is trained on (available on real data too);
- :func:`generating_profiles`: on a simulated screen, the parameters each protein was
  drawn from (class mixture and ``theta``): the generator's own numbers, not what the
  images carry (the oracle, :mod:`deeploc_keras.study.oracle`, is that empirical ceiling).

Chance needs no profile: it is measured per metric from its null (:mod:`eval.nulls`,
the ``chance`` columns of a score summary). Each reference is declared once in
:data:`REFERENCES` with its rung on the ladder, which the report reads.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.errors import InputError, file_error
from ..core.outputs import atomic_path, check_output
from ..core.profiles import ProfileWriter
from ..data.store import SPLIT_CHOICES, CellStore

__all__ = ["Reference", "REFERENCES", "RUNGS", "LABELS_METHOD", "GENERATING_METHOD", "UNTRAINED", "PIXEL_STATISTICS",
           "LABELS", "ORACLE", "GENERATING", "REFERENCE_NAMES", "untrained_model", "label_profiles",
           "generating_profiles", "mean_target_mse"]

#: Rungs of the ladder: what a learned representation must beat, what localization alone gives, the ceiling.
RUNGS = ("floor", "labels", "ceiling")


@dataclass(frozen=True)
class Reference:
    """One reference row of the ladder.

    Attributes
    ----------
    name : str
        Its row in the tables.
    rung : {"floor", "labels", "ceiling"}
        A floor is what a learned representation must beat; ``labels`` what knowing the localization
        alone gives; a ceiling what the images could give at best.
    description : str
        What it is, as the report states it.
    twin_of : str, optional
        The learned representation it is the untrained network of.
    """

    name: str
    rung: str
    description: str
    twin_of: str | None = None


#: Display names of the references this module writes.
PIXEL_STATISTICS, LABELS = "Pixel statistics", "Localization labels"
GENERATING = "Generating parameters (the generator's own numbers)"
#: The empirical ceiling on a simulated screen (:mod:`deeploc_keras.study.oracle`).
ORACLE = "Oracle (CNN trained on the generating parameters)"
#: Every reference row, from the floor up.
REFERENCES = (
    Reference("DeepLoc untrained", "floor", "the DeepLoc network of the run, same configuration and seed, random "
                                            "weights", twin_of="DeepLoc"),
    Reference("PCI untrained", "floor", "the PCI network of the run, same configuration and seed, random weights",
              twin_of="PCI"),
    Reference("PIFiA untrained", "floor", "the PIFiA network of the run, same configuration and seed, random "
                                          "weights", twin_of="PIFiA"),
    Reference(PIXEL_STATISTICS, "floor", "24 fixed rotation-invariant pixel statistics per cell, averaged per "
                                         "protein"),
    Reference(LABELS, "labels", "per protein, the share of its cells in each localization class"),
    Reference(ORACLE, "ceiling", "the empirical ceiling: DeepLoc's trunk trained on the training cells to regress "
                                 "each protein's function parameters theta, its predictions for the held-out cells "
                                 "averaged per protein (simulated screen only)"),
    Reference(GENERATING, "ceiling", "the generator's own numbers, not what the images carry: each protein's "
                                     "generating class mixture and theta (simulated screen only)"),
)
#: Display name of each learned method's untrained network, by the method's display name.
UNTRAINED = {r.twin_of: r.name for r in REFERENCES if r.twin_of}
#: Every reference representation, from the floor up.
REFERENCE_NAMES = tuple(r.name for r in REFERENCES)
#: Feature-name prefix and method of :func:`label_profiles` (``Labels_<class>``).
LABELS_METHOD = "Labels"
#: Feature-name prefix and method of :func:`generating_profiles` (``Generating_class_<c>``, ``Generating_theta_<p>``).
GENERATING_METHOD = "Generating"


def untrained_model(run_dir: str | os.PathLike, store: str | os.PathLike, out: str | os.PathLike, *,
                    overwrite: bool = False) -> Path:
    """Build a training run's network with its configuration and seed, untrained, as ``OUT/untrained.keras``.

    The model's ``info`` names the run's method, so :func:`deeploc_keras.inference.extract.extract`
    reads it as a model of that method.

    Parameters
    ----------
    run_dir : str or os.PathLike
        A finished training run (``config.json`` and ``best.keras``; a sweep root records its winner's seed).
    store : str or os.PathLike
        The store the run was trained on (classes and image shape).
    out : str or os.PathLike
        Directory to create.
    overwrite : bool, default False

    Returns
    -------
    pathlib.Path
        ``OUT/untrained.keras``.

    Raises
    ------
    InputError
        If ``run_dir`` holds no finished training run.
    OutputExistsError
        If ``out`` exists and ``overwrite`` is False.
    """
    import keras

    from ..training.config import TrainConfig
    from ..training.methods import get_method

    run_dir, out = Path(run_dir), check_output(out, overwrite=overwrite)
    if not (run_dir / "best.keras").is_file():
        raise file_error(run_dir, "holds no finished training run (no best.keras)")
    cfg = TrainConfig.read(run_dir / "config.json")
    spec = get_method(cfg.method, trainable=True)
    keras.backend.clear_session()
    keras.utils.set_random_seed(cfg.seed)
    with CellStore.open(store) as opened:
        model = spec.build(opened, cfg)
    with atomic_path(out, overwrite=overwrite) as tmp:
        tmp.mkdir(parents=True)
        model.save(tmp / "untrained.keras")
    return out / "untrained.keras"


def _write_proteins(path: Path, meta: pd.DataFrame, features: np.ndarray, names: Sequence[str],
                    info: dict[str, Any], overwrite: bool) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with ProfileWriter(path, info=info, overwrite=overwrite) as writer:
        writer.write(meta, features, names)
    return path


def label_profiles(store: str | os.PathLike, out: str | os.PathLike, *, split: str = "test",
                   overwrite: bool = False) -> Path:
    """The localization labels as a representation: per protein, the share of its labelled cells in each class.

    A protein whose cells all carry one class is that class's one-hot vector. Proteins
    without a labelled cell in the split are left out.

    Parameters
    ----------
    store : str or os.PathLike
        A cell store with protein ids and labels.
    out : str or os.PathLike
        Directory; ``OUT/proteins.parquet`` is written (columns ``Labels_<class>``).
    split : {"train", "val", "test", "all"}, default "test"
    overwrite : bool, default False

    Returns
    -------
    pathlib.Path
        ``OUT/proteins.parquet``.

    Raises
    ------
    InputError
        An unknown split, a store without proteins or labels, or no labelled cell in the split.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from deeploc_keras.core.profiles import read_profiles
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> with CellStore.create(folder / "cells.h5", class_names=["ER", "NUCLEI"]) as writer:
    ...     writer.append(np.zeros((4, 64, 64, 2), np.uint16), {"label": [0, 0, 1, 0], "protein": ["A", "A", "B", "B"],
    ...                                                         "split": [2, 2, 2, 2]})
    >>> table = read_profiles(label_profiles(folder / "cells.h5", folder / "labels"))
    >>> table.meta["Metadata_Protein"].tolist(), table.features.tolist()
    (['A', 'B'], [[1.0, 0.0], [0.5, 0.5]])
    """
    if split not in SPLIT_CHOICES:
        raise InputError(f"unknown split {split!r}; expected one of {list(SPLIT_CHOICES)}")
    path = check_output(Path(out) / "proteins.parquet", overwrite=overwrite)
    with CellStore.open(store) as opened:
        opened.require_proteins()
        opened.require_labels()
        cells = opened.cells.iloc[opened.select(split)]
        class_names = list(opened.class_names)
        labelled = cells[cells["label"] >= 0]
        if labelled.empty:
            raise file_error(opened.path, f"no labelled cells in split {split!r}")
        fingerprint = opened.fingerprint()
    counts = pd.crosstab(labelled["protein"].astype(str), labelled["label"]).reindex(
        columns=range(len(class_names)), fill_value=0).sort_index()
    shares = counts.to_numpy(dtype=np.float64) / counts.to_numpy().sum(axis=1, keepdims=True)
    meta = pd.DataFrame({"Metadata_Protein": counts.index.to_numpy(dtype=object),
                         "Metadata_Label": np.asarray(class_names, dtype=object)[shares.argmax(axis=1)],
                         "Metadata_Count": counts.to_numpy().sum(axis=1)})
    names = [f"{LABELS_METHOD}_{name}" for name in class_names]
    info = {"method": LABELS_METHOD, "split": split, "store_fingerprint": fingerprint}
    return _write_proteins(path, meta, shares, names, info, overwrite)


def generating_profiles(proteins_csv: str | os.PathLike, out: str | os.PathLike, *, class_names: Sequence[str],
                        proteins: Sequence[str] | None = None, overwrite: bool = False) -> Path:
    """The generating parameters of a simulated screen's proteins: class mixture and ``theta``.

    Per protein: ``1 - mix`` at its class and ``mix`` at its second class (one-hot for a
    single localization), then the morphological parameters ``theta_*`` it was drawn with,
    as :func:`deeploc_keras.data.synthetic.simulate_screen` writes them to ``proteins.csv``.

    Parameters
    ----------
    proteins_csv : str or os.PathLike
        ``SCREEN/proteins.csv`` (columns protein, localization, second_localization, mix, theta_*).
    out : str or os.PathLike
        Directory; ``OUT/proteins.parquet`` is written.
    class_names : sequence of str
        The classes of the mixture columns (the store's).
    proteins : sequence of str, optional
        Keep these proteins only (e.g. those with test cells), in this order.
    overwrite : bool, default False

    Returns
    -------
    pathlib.Path

    Raises
    ------
    InputError
        A missing column, a class not in ``class_names``, or a protein not in the table.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from deeploc_keras.core.profiles import read_profiles
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> pd.DataFrame({"protein": ["A", "B"], "localization": ["ER", "NUCLEI"], "second_localization": ["NUCLEI", ""],
    ...               "mix": [0.25, 0.0], "theta_size": [0.5, -1.0]}).to_csv(folder / "proteins.csv", index=False)
    >>> table = read_profiles(generating_profiles(folder / "proteins.csv", folder / "gen", class_names=["ER", "NUCLEI"]))
    >>> table.feature_names, table.features.tolist()
    (['Generating_class_ER', 'Generating_class_NUCLEI', 'Generating_theta_size'], [[0.75, 0.25, 0.5], [0.0, 1.0, -1.0]])
    """
    proteins_csv = Path(proteins_csv)
    path = check_output(Path(out) / "proteins.parquet", overwrite=overwrite)
    if not proteins_csv.is_file():
        raise file_error(proteins_csv, "no such file")
    table = pd.read_csv(proteins_csv, keep_default_na=False, dtype={"protein": str})
    theta = [c for c in table.columns if c.startswith("theta_")]
    missing = [c for c in ("protein", "localization", "second_localization", "mix") if c not in table.columns]
    if missing or not theta:
        raise file_error(proteins_csv, f"missing columns {missing or ['theta_*']}; expected a simulated screen's "
                                       "proteins.csv")
    table = table.set_index("protein")
    if proteins is not None:
        unknown = [p for p in proteins if p not in table.index]
        if unknown:
            raise file_error(proteins_csv, f"has no row for {len(unknown)} proteins (e.g. {', '.join(unknown[:5])})")
        table = table.loc[list(proteins)]
    position = {name: k for k, name in enumerate(class_names)}
    foreign = sorted((set(table["localization"]) | set(table["second_localization"])) - {""} - set(position))
    if foreign:
        raise file_error(proteins_csv, f"classes {foreign} are not among {list(class_names)}")
    mix = table["mix"].to_numpy(dtype=np.float64)
    mixture = np.zeros((len(table), len(class_names)))
    rows = np.arange(len(table))
    mixture[rows, [position[c] for c in table["localization"]]] = 1 - mix
    second = table["second_localization"].to_numpy(dtype=str)
    has = second != ""
    mixture[rows[has], [position[c] for c in second[has]]] += mix[has]
    features = np.hstack([mixture, table[theta].to_numpy(dtype=np.float64)])
    names = [f"{GENERATING_METHOD}_class_{c}" for c in class_names] + [f"{GENERATING_METHOD}_{c}" for c in theta]
    meta = pd.DataFrame({"Metadata_Protein": table.index.to_numpy(dtype=object),
                         "Metadata_Label": table["localization"].to_numpy(dtype=object)})
    info = {"method": GENERATING_METHOD, "source": os.fspath(proteins_csv.resolve())}
    return _write_proteins(path, meta, features, names, info, overwrite)


def mean_target_mse(run_dir: str | os.PathLike, store: str | os.PathLike) -> float:
    """Validation MSE of predicting the mean training target image: what a PCI run must get below to have learned.

    Streams the run's own training and validation pairs (its configuration and seed,
    :data:`deeploc_keras.training.methods.METHODS` ``["pci"].datasets``): the pixel-wise mean of the
    training targets, then its mean squared error on the validation targets, the same
    pairs the run's ``val_loss`` is computed on.

    Parameters
    ----------
    run_dir : str or os.PathLike
        A PCI training run.
    store : str or os.PathLike

    Returns
    -------
    float

    Raises
    ------
    InputError
        If the run is not a PCI run.
    """
    from ..training.config import TrainConfig
    from ..training.methods import get_method

    cfg = TrainConfig.read(Path(run_dir) / "config.json")
    if cfg.method != "pci":
        raise file_error(Path(run_dir) / "config.json", f"is a {cfg.method!r} run; the mean-image predictor "
                                                         "applies to pci")
    spec = get_method("pci", trainable=True)
    with CellStore.open(store) as opened:
        train_ds, val_ds, _ = spec.datasets(opened, dataclasses.replace(cfg, steps_per_epoch=None), 0)
        total, count = None, 0
        for _, target in train_ds:
            batch = target.numpy().astype(np.float64)
            total = batch.sum(axis=0) if total is None else total + batch.sum(axis=0)
            count += len(batch)
        mean = total / count
        squared, n = 0.0, 0
        for _, target in val_ds:
            batch = target.numpy().astype(np.float64)
            squared += float(((batch - mean) ** 2).sum())
            n += batch.size
    return squared / n
