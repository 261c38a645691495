"""The oracle: a CNN of DeepLoc's trunk trained on a simulated screen's cells to regress the function parameters.

It is the empirical ceiling of the ladder on a simulated screen: what a network of
the same kind can read from the images about the generator's own numbers
(``theta``, :mod:`deeploc_keras.data.synthetic.parameters`), as opposed to those
numbers themselves (the "generating parameters" reference). Its profile is the
per-protein mean of its predictions for held-out cells.

- :func:`train_oracle`: DeepLoc's trunk (``study`` preprocessing, BatchNorm momentum
  :data:`ORACLE_BN_MOMENTUM` so its statistics settle within an epoch) with one linear
  output per parameter, trained with mean squared error on the parameters of each
  cell's protein, z-scored over the training proteins; streamed from the store.
- :func:`oracle_profiles`: predictions for the cells of a split, in parameter units,
  averaged per protein (``Oracle_theta_<name>`` columns).
- :func:`parameter_recovery`: R² of those per-protein means against the true parameters,
  per parameter and function channel (the oracle gate asks >= :data:`GATE_R2`).
- :func:`within_significance`: the within-compartment AP of the profiles per standard against
  the within-class permutation null (the gate asks p < :data:`GATE_ALPHA` for each of
  :data:`GATE_STANDARDS`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.errors import InputError, check_positive_int, file_error
from ..core.outputs import atomic_path, check_output
from ..core.profiles import ProfileWriter, read_profiles
from ..data.store import CellStore, check_split
from ..data.synthetic.channels import CHANNEL_STANDARDS

__all__ = ["ORACLE_METHOD", "ORACLE_BN_MOMENTUM", "ORACLE_LEARNING_RATE", "ORACLE_BATCH_SIZE", "GATE_R2",
           "GATE_ALPHA", "GATE_STANDARDS", "theta_table", "train_oracle", "oracle_profiles", "parameter_recovery",
           "within_significance"]

logger = logging.getLogger(__name__)

#: Feature-name prefix and method of :func:`oracle_profiles` (``Oracle_theta_<name>``).
ORACLE_METHOD = "Oracle"
#: BatchNorm momentum of the oracle (the study's 0.99 needs several epochs for its statistics to settle).
ORACLE_BN_MOMENTUM = 0.9
#: Adam's learning rate of the oracle.
ORACLE_LEARNING_RATE = 2e-3
#: Cells per batch of the oracle's training.
ORACLE_BATCH_SIZE = 64
#: The oracle gate: R² of per-protein means of held-out cells, for every parameter that carries function.
GATE_R2 = 0.5
#: The oracle gate: the within-compartment AP of its profiles beats the within-class null at this level, per standard.
GATE_ALPHA = 0.05
#: Standards of the gate: those scored within compartments, and the channel standards (one function channel each).
GATE_STANDARDS = ("bioprocess", "pathway", "complex", *CHANNEL_STANDARDS)
_MODEL, _RECORD, _HISTORY = "oracle.keras", "oracle.json", "history.csv"
_WINDOW_CELLS = 4096


def theta_table(proteins_csv: str | os.PathLike) -> pd.DataFrame:
    """The ``theta_*`` columns of a simulated screen's ``proteins.csv``, indexed by protein.

    Raises
    ------
    InputError
        If the file is missing or has no ``protein`` and ``theta_*`` columns.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "proteins.csv"
    >>> pd.DataFrame({"protein": ["A"], "mix": [0.0], "theta_size": [0.5]}).to_csv(path, index=False)
    >>> theta_table(path).columns.tolist()
    ['theta_size']
    """
    path = Path(proteins_csv)
    if not path.is_file():
        raise file_error(path, "no such file; pass a simulated screen's proteins.csv")
    table = pd.read_csv(path, keep_default_na=False, dtype={"protein": str})
    theta = [c for c in table.columns if c.startswith("theta_")]
    if "protein" not in table.columns or not theta:
        raise file_error(path, "has no protein and theta_* columns; pass a simulated screen's proteins.csv")
    return table.set_index("protein")[theta].astype(np.float64)


def _targets(store: CellStore, theta: pd.DataFrame, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the split's cells and their proteins' parameters."""
    rows = store.select(split, known_protein=True)
    if rows.size == 0:
        raise file_error(store.path, f"no cells with a protein in split {split!r}")
    proteins = store.cells["protein"].to_numpy().astype(str)[rows]
    missing = sorted(set(proteins) - set(theta.index))
    if missing:
        raise file_error(store.path, f"has proteins without parameters in proteins.csv (e.g. {', '.join(missing[:3])}); "
                                     "pass the proteins.csv of the screen this store was simulated as")
    return rows, theta.loc[proteins].to_numpy(np.float32)


def _batches(path: Path, rows: np.ndarray, targets: np.ndarray, *, batch_size: int, seed: int, chunk_cells: int,
             image_shape: tuple[int, ...], dtype: np.dtype) -> Any:
    """A ``tf.data.Dataset`` of (crops, targets) batches, mixed as the training pipeline mixes them: each pass
    over it is the next epoch, read window by window (memory bounded by a window); its length is stated, so
    ``fit`` knows where an epoch ends."""
    import tensorflow as tf

    from ..data.order import MixedOrder

    order = MixedOrder(rows, chunk_cells=chunk_cells, seed=seed, window_cells=_WINDOW_CELLS)
    epochs = iter(range(2**31))

    def windows():
        epoch = next(epochs)
        with CellStore.open(path) as opened:
            for w in range(order.n_windows):
                window_rows, positions = order.window(epoch, w)
                images = np.empty((len(window_rows), *image_shape), dtype)
                opened.reader().read_into(images, window_rows)
                yield images, targets[positions]

    signature = (tf.TensorSpec((None, *image_shape), tf.as_dtype(dtype)),
                 tf.TensorSpec((None, targets.shape[1]), tf.float32))
    dataset = tf.data.Dataset.from_generator(windows, output_signature=signature)
    n_batches = sum(-(-len(order.window(0, w)[0]) // batch_size) for w in range(order.n_windows))
    return (dataset.flat_map(lambda x, y: tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size))
            .map(lambda x, y: (tf.cast(x, tf.float32), y))
            .apply(tf.data.experimental.assert_cardinality(n_batches)).prefetch(2))


def _build(n_outputs: int, width: float, image_shape: tuple[int, ...], seed: int) -> Any:
    """DeepLoc's network (``study`` preprocessing and augmentation) with one output per parameter."""
    from ..models.deeploc import build_deeploc
    from ..models.presets import get_preset

    preset = dataclasses.replace(get_preset("study"), batchnorm_momentum=ORACLE_BN_MOMENTUM)
    return build_deeploc(n_outputs, preset=preset, width=width, image_shape=image_shape, seed=seed)


def train_oracle(
    store: str | os.PathLike,
    proteins_csv: str | os.PathLike,
    out: str | os.PathLike,
    *,
    width: float = 0.125,
    epochs: int = 4,
    batch_size: int = ORACLE_BATCH_SIZE,
    learning_rate: float = ORACLE_LEARNING_RATE,
    seed: int = 0,
    jit_compile: bool = False,
    overwrite: bool = False,
) -> Path:
    """Train the oracle on the training cells of a simulated screen.

    Parameters
    ----------
    store : str or os.PathLike
        The screen's cell store.
    proteins_csv : str or os.PathLike
        Its ``proteins.csv`` (the ``theta_*`` columns are the targets).
    out : str or os.PathLike
        Directory to create: ``oracle.keras``, ``oracle.json`` (parameters, their training mean and
        sd, sizes, times), ``history.csv``.
    width : float, default 0.125
        Channel width multiplier of DeepLoc's trunk.
    epochs : int, default 4
    batch_size : int, default ORACLE_BATCH_SIZE
    learning_rate : float, default ORACLE_LEARNING_RATE
        Adam's learning rate.
    seed : int, default 0
        Seed of the weights, the augmentation and the order of the cells.
    jit_compile : bool, default False
        XLA for the training step.
    overwrite : bool, default False

    Returns
    -------
    pathlib.Path
        ``OUT`` (appears only when complete).

    Raises
    ------
    InputError
        A missing store or table, a store protein without parameters, no training cells, or bad counts.
    OutputExistsError
        If ``out`` exists and ``overwrite`` is False.
    """
    import keras

    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        check_positive_int(name, value)
    out = check_output(out, overwrite=overwrite)
    theta = theta_table(proteins_csv)
    with CellStore.open(store) as opened:
        rows, targets = _targets(opened, theta, "train")
        shape, dtype, chunk_cells = tuple(opened.image_shape), opened.dtype, opened.chunk_cells
        fingerprint, path = opened.fingerprint(), opened.path
        trained = sorted(set(opened.cells["protein"].to_numpy().astype(str)[rows]))
    per_protein = theta.loc[trained].to_numpy()
    mean, sd = per_protein.mean(axis=0), np.maximum(per_protein.std(axis=0), 1e-9)
    keras.utils.set_random_seed(seed)
    model = _build(theta.shape[1], width, shape, seed)
    model.compile(keras.optimizers.Adam(learning_rate), loss="mse", jit_compile=jit_compile)
    data = _batches(path, rows, ((targets - mean) / sd).astype(np.float32), batch_size=batch_size, seed=seed,
                    chunk_cells=chunk_cells, image_shape=shape, dtype=dtype)
    wall, cpu = time.perf_counter(), time.process_time()
    history = model.fit(data, epochs=epochs, verbose=0, shuffle=False)
    seconds, cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
    record = {"parameters": [c.removeprefix("theta_") for c in theta.columns], "mean": mean.tolist(),
              "sd": sd.tolist(), "width": width, "epochs": epochs, "batch_size": batch_size,
              "learning_rate": learning_rate, "seed": seed, "bn_momentum": ORACLE_BN_MOMENTUM,
              "train_cells": int(len(rows)), "seconds": round(seconds, 1), "cpu_seconds": round(cpu_seconds, 1),
              "store_fingerprint": fingerprint}
    with atomic_path(out, overwrite=overwrite) as tmp:
        tmp.mkdir(parents=True)
        model.save(tmp / _MODEL)
        pd.DataFrame(history.history).rename_axis("epoch").to_csv(tmp / _HISTORY)
        (tmp / _RECORD).write_text(json.dumps(record, indent=2))
    logger.info("oracle: %d training cells, %d epochs in %.0f s (%.0f CPU-s), final loss %.3f", len(rows), epochs,
                seconds, cpu_seconds, history.history["loss"][-1])
    return out


def oracle_profiles(run_dir: str | os.PathLike, store: str | os.PathLike, out: str | os.PathLike, *,
                    split: str = "heldout", batch_size: int = 256, overwrite: bool = False) -> Path:
    """The oracle's profile: its predicted parameters for the cells of a split, averaged per protein.

    Parameters
    ----------
    run_dir : str or os.PathLike
        A :func:`train_oracle` directory.
    store : str or os.PathLike
        The screen's cell store.
    out : str or os.PathLike
        Directory; ``OUT/proteins.parquet`` is written (``Oracle_theta_<name>`` columns, in the
        parameters' own units).
    split : str, default "heldout"
        Cells to predict (:data:`deeploc_keras.data.store.SPLIT_CHOICES`; ``heldout`` = validation and test).
    batch_size : int, default 256
    overwrite : bool, default False

    Returns
    -------
    pathlib.Path
        ``OUT/proteins.parquet``.

    Raises
    ------
    InputError
        A directory without an oracle, an unknown split or one without cells.
    """
    import keras

    from ..data.pipeline import inference_dataset

    run_dir = Path(run_dir)
    check_split(split)
    check_positive_int("batch_size", batch_size)
    if not (run_dir / _RECORD).is_file() or not (run_dir / _MODEL).is_file():
        raise file_error(run_dir, f"holds no {_MODEL} and {_RECORD}; pass a directory written by train_oracle")
    record = json.loads((run_dir / _RECORD).read_text())
    path = check_output(Path(out) / "proteins.parquet", overwrite=overwrite)
    model = keras.saving.load_model(run_dir / _MODEL, compile=False)
    with CellStore.open(store) as opened:
        proteins = opened.cells["protein"].to_numpy().astype(str)
        data = inference_dataset(opened, split=split, batch_size=batch_size)
        fingerprint = opened.fingerprint()
        rows, predictions = [], []
        for index, images in data.dataset:
            rows.append(index.numpy())
            predictions.append(model(images, training=False).numpy())
    rows, predictions = np.concatenate(rows), np.concatenate(predictions).astype(np.float64)
    predictions = predictions * np.asarray(record["sd"]) + np.asarray(record["mean"])
    names = [f"{ORACLE_METHOD}_theta_{p}" for p in record["parameters"]]
    table = pd.DataFrame(predictions, columns=names).groupby(proteins[rows], sort=True)
    means, counts = table.mean(), table.size()
    meta = pd.DataFrame({"Metadata_Protein": means.index.to_numpy(dtype=object),
                         "Metadata_Count": counts.to_numpy()})
    info = {"method": ORACLE_METHOD, "split": split, "store_fingerprint": fingerprint,
            "oracle": os.fspath(run_dir.resolve())}
    path.parent.mkdir(parents=True, exist_ok=True)
    with ProfileWriter(path, info=info, overwrite=overwrite) as writer:
        writer.write(meta, means.to_numpy(), names)
    return path


def parameter_recovery(profiles: str | os.PathLike | pd.DataFrame, proteins_csv: str | os.PathLike
                       ) -> pd.DataFrame:
    """R² of per-protein predicted parameters against the generator's, per parameter.

    ``R² = 1 - sum((predicted - true)^2) / sum((true - mean(true))^2)`` over the proteins of the
    profile table, in the parameters' own units.

    Parameters
    ----------
    profiles : path or pandas.DataFrame
        :func:`oracle_profiles` output (columns ``<Method>_theta_<name>``).
    proteins_csv : str or os.PathLike
        The screen's ``proteins.csv``.

    Returns
    -------
    pandas.DataFrame
        One row per parameter: ``parameter``, ``channel`` (from
        :data:`deeploc_keras.data.synthetic.parameters.FUNCTION_CHANNELS`), ``r2``, ``n_proteins``, ``passes``
        (``r2 >= GATE_R2``).

    Raises
    ------
    InputError
        If the profiles have no ``theta`` columns or proteins missing from the table.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "proteins.csv"
    >>> pd.DataFrame({"protein": ["A", "B", "C"], "theta_size": [0.0, 1.0, 2.0]}).to_csv(path, index=False)
    >>> guess = pd.DataFrame({"Metadata_Protein": ["A", "B", "C"], "Oracle_theta_size": [0.0, 1.5, 2.0]})
    >>> parameter_recovery(guess, path)[["parameter", "channel", "r2"]].to_dict("records")
    [{'parameter': 'size', 'channel': 'label_aligned', 'r2': 0.875}]
    """
    from ..data.synthetic.parameters import FUNCTION_CHANNELS

    table = read_profiles(profiles)
    truth = theta_table(proteins_csv)
    columns = {name: name.split("_theta_", 1)[1] for name in table.feature_names if "_theta_" in name}
    if not columns:
        raise InputError("the profiles have no <Method>_theta_<name> columns; pass the oracle's profiles")
    proteins = table.meta["Metadata_Protein"].astype(str).to_numpy()
    missing = sorted(set(proteins) - set(truth.index))
    if missing:
        raise InputError(f"proteins.csv has no row for {len(missing)} profiled proteins (e.g. {missing[0]})")
    channel = {p: c for c, names in FUNCTION_CHANNELS.items() for p in names}
    rows = []
    for column, parameter in columns.items():
        predicted = table.features[:, table.feature_names.index(column)]
        true = truth.loc[proteins, f"theta_{parameter}"].to_numpy()
        r2 = 1 - float(((predicted - true) ** 2).sum()) / max(float(((true - true.mean()) ** 2).sum()), 1e-12)
        rows.append({"parameter": parameter, "channel": channel.get(parameter, ""), "r2": round(r2, 6),
                     "n_proteins": len(proteins), "passes": r2 >= GATE_R2})
    return pd.DataFrame(rows)


def within_significance(profiles: str | os.PathLike | pd.DataFrame, screen: str | os.PathLike, *,
                        standards: Sequence[str] = GATE_STANDARDS, n_null: int = 1000, seed: int = 0
                        ) -> pd.DataFrame:
    """Within-compartment AP of per-protein profiles per standard, against the within-class permutation null.

    Scored by :func:`eval.score.score_representation` (metric ``average_precision_within``, its
    null :func:`eval.nulls.class_permutations`: in each localization class, each protein takes the
    profile of another protein of that class), exactly as ``score`` and ``reproduce`` score it.

    Parameters
    ----------
    profiles : path or pandas.DataFrame
        Protein profiles (``Metadata_Protein`` and feature columns).
    screen : str or os.PathLike
        A simulated screen's folder (``localization.gmt``, ``standards/<name>.gmt``).
    standards : sequence of str, default GATE_STANDARDS
    n_null : int, default 1000
        Null draws (the smallest p is ``1 / (n_null + 1)``).
    seed : int, default 0

    Returns
    -------
    pandas.DataFrame
        One row per standard: ``standard``, ``n_proteins``, ``n_groups``, ``ap_within``, ``chance``,
        ``chance_low``, ``chance_high``, ``p_null``, ``passes`` (``p_null < GATE_ALPHA``).

    Raises
    ------
    InputError
        A missing standard file, or profiles that cannot be scored.

    Examples
    --------
    >>> import tempfile
    >>> from deeploc_keras.data.synthetic.screen import write_gmt
    >>> root = Path(tempfile.mkdtemp()); (root / "standards").mkdir()
    >>> ids = [f"P{i}" for i in range(12)]
    >>> write_gmt(root / "localization.gmt", {"N": ids})
    >>> write_gmt(root / "standards" / "complex.gmt", {f"G{g}": ids[3 * g:3 * g + 3] for g in range(4)})
    >>> x = np.repeat(np.eye(4, 5), 3, axis=0) + np.random.default_rng(0).normal(0, 0.1, (12, 5))
    >>> table = pd.DataFrame(x, columns=[f"f{k}" for k in range(5)]).assign(Metadata_Protein=ids)
    >>> within_significance(table, root, standards=("complex",), n_null=99)[["ap_within", "p_null", "passes"]]
       ap_within  p_null  passes
    0        1.0    0.01    True
    """
    from eval.score import score_representation
    from eval.standards import load_standard

    check_positive_int("n_null", n_null)
    screen = Path(screen)
    table = read_profiles(profiles)
    files = {name: screen / "standards" / f"{name}.gmt" for name in standards}
    for path in (screen / "localization.gmt", *files.values()):
        if not path.is_file():
            raise file_error(path, "no such file; pass a simulated screen's folder")
    scored = score_representation(table.meta["Metadata_Protein"].astype(str).tolist(), table.features,
                                  {name: load_standard(path) for name, path in files.items()},
                                  metrics=["average_precision_within"], n_null=n_null, seed=seed,
                                  localization=load_standard(screen / "localization.gmt"))
    scored = scored.rename(columns={"value": "ap_within"})
    return scored.assign(passes=scored["p_null"] < GATE_ALPHA)[
        ["standard", "n_proteins", "n_groups", "ap_within", "chance", "chance_low", "chance_high", "p_null", "passes"]
    ].reset_index(drop=True)
