"""Localization calls from a trained DeepLoc classifier: per-cell probabilities, per-protein calls.

Output directory::

    OUT/cells.parquet     one row per cell: Metadata_ columns (+ Metadata_Predicted) and one
                          probability column per class, named after the class
    OUT/proteins.csv      one row per protein: cells, top class, localization calls, the mean
                          probability (mean_<class>) and fraction of cells (fraction_<class>) per class
    OUT/confusion.csv     cells per (true class, predicted class), when the store has labels
    OUT/metrics.json      cell and protein accuracy, when the store has labels
    OUT/predict.json      run record (configuration, versions, model and store hashes)

A protein is called in every class that is the top class of at least ``threshold`` of its
cells; more than one call makes it multi-localized. Probabilities are the softmax of the
logits averaged over the test-time crops (``5crop``: the original's five fixed crops).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.errors import InputError, file_error
from ..core.locking import output_lock
from ..core.outputs import atomic_path, check_own_outputs, made_dir
from ..core.profiles import ProfileWriter, cell_metadata
from ..core.records import file_sha256, write_run_record
from ..data.pipeline import StoreData, inference_dataset, predict_batches
from ..data.store import UNKNOWN_PROTEIN, CellStore, check_split
from ..training.methods import METHODS
from .trained import default_tta, load_trained

__all__ = ["DEFAULT_THRESHOLD", "protein_calls", "predict"]

#: Share of a protein's cells a class must top to be called (``--threshold``).
DEFAULT_THRESHOLD = 0.25


def protein_calls(proteins: np.ndarray, probabilities: np.ndarray, class_names: list[str], *,
                  threshold: float = DEFAULT_THRESHOLD, labels: np.ndarray | None = None) -> pd.DataFrame:
    """Per-protein localization calls from per-cell class probabilities.

    Parameters
    ----------
    proteins : numpy.ndarray of str, shape (n,)
        Protein of each cell.
    probabilities : numpy.ndarray, shape (n, k)
        Class probabilities of each cell.
    class_names : list of str, length k
    threshold : float, default 0.25
        A class is called when it is the top class of at least this share of the cells.
    labels : numpy.ndarray of str, shape (n,), optional
        True class name of each cell ("" for none); the protein's most common one is kept.

    Returns
    -------
    pandas.DataFrame
        ``Metadata_Protein``, ``Metadata_Label``, ``Metadata_Count``, ``top_class``,
        ``top_probability``, ``localizations`` (called classes by share of cells, ``;``-joined),
        ``multi_localized``, ``mean_<class>`` and ``fraction_<class>`` per class; sorted by protein.

    Examples
    --------
    >>> probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3], [0.6, 0.4]])
    >>> calls = protein_calls(np.array(["A", "A", "B", "B"]), probs, ["ER", "GOLGI"], threshold=0.5)
    >>> calls[["Metadata_Protein", "top_class", "localizations", "multi_localized"]].to_dict("records")
    [{'Metadata_Protein': 'A', 'top_class': 'ER', 'localizations': 'ER;GOLGI', 'multi_localized': True}, \
{'Metadata_Protein': 'B', 'top_class': 'ER', 'localizations': 'ER', 'multi_localized': False}]
    """
    if not 0 < threshold <= 1:
        raise InputError(f"threshold must be in (0, 1]. Received: threshold={threshold}")
    probabilities = np.asarray(probabilities, dtype=np.float64)
    uniq, inverse = np.unique(np.asarray(proteins, dtype=str), return_inverse=True)
    k = len(class_names)
    counts = np.bincount(inverse, minlength=len(uniq)).astype(np.float64)
    means = np.zeros((len(uniq), k))
    np.add.at(means, inverse, probabilities)
    means /= counts[:, None]
    tops = np.zeros((len(uniq), k))
    np.add.at(tops, (inverse, probabilities.argmax(axis=1)), 1.0)
    fractions = tops / counts[:, None]
    names = np.asarray(class_names, dtype=object)
    calls = []
    for row in fractions:
        order = np.argsort(-row, kind="stable")
        calls.append(";".join(names[order[row[order] >= threshold - 1e-12]]))
    true = [""] * len(uniq)
    if labels is not None:
        labels = np.asarray(labels, dtype=str)
        for i in range(len(uniq)):
            values, n = np.unique(labels[(inverse == i) & (labels != "")], return_counts=True)
            true[i] = str(values[np.argmax(n)]) if len(values) else ""
    top = means.argmax(axis=1)
    frame = pd.DataFrame({
        "Metadata_Protein": uniq, "Metadata_Label": true, "Metadata_Count": counts.astype(np.int64),
        "top_class": names[top], "top_probability": means[np.arange(len(uniq)), top], "localizations": calls,
        "multi_localized": [c.count(";") > 0 for c in calls],
    })
    extra = {**{f"mean_{c}": means[:, j] for j, c in enumerate(class_names)},
             **{f"fraction_{c}": fractions[:, j] for j, c in enumerate(class_names)}}
    return pd.concat([frame, pd.DataFrame(extra)], axis=1)


def _class_names(model: Any, store: CellStore, path: Path, n_outputs: int) -> list[str]:
    names = list((getattr(model, "info", None) or {}).get("class_names") or [])
    if not names and len(store.class_names) == n_outputs:
        names = list(store.class_names)
    if len(names) != n_outputs:
        raise file_error(path, f"records {len(names)} class names for {n_outputs} outputs; "
                               "retrain it with this version (or keep RUN/model_card.json beside it)")
    return names


def predict(
    store: str | os.PathLike,
    out: str | os.PathLike,
    *,
    model_path: str | os.PathLike,
    split: str = "test",
    tta: str | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    batch_size: int = 256,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Classify the cells of a store with a trained DeepLoc model and call each protein's localization.

    Parameters
    ----------
    store : str or os.PathLike
        A cell store with protein ids (labels are optional: with them, accuracy and a
        confusion matrix are written).
    out : str or os.PathLike
        Output directory (see the module docstring).
    model_path : str or os.PathLike
        ``RUN/best.keras`` of a DeepLoc run.
    split : {"train", "val", "test", "all"}, default "test"
    tta : {"center", "5crop"}, optional
        Test-time crops; default the model's preset's (:func:`~deeploc_keras.inference.trained.default_tta`:
        ``5crop``, the original's, for ``kraus2017``; ``center`` for the presets without a crop).
    threshold : float, default 0.25
        Share of a protein's cells a class must top to be called.
    batch_size : int, default 256
    overwrite : bool, default False

    Returns
    -------
    dict
        ``cells``, ``proteins``, ``confusion`` and ``metrics`` (paths; the last two None without
        labels), ``n_cells``, ``n_proteins``, ``n_multi_localized``, ``cell_accuracy`` (or None),
        ``tta``, ``split``.

    Raises
    ------
    InputError
        A missing or non-DeepLoc model, unknown choices, a store without protein ids or with
        crops of another shape, an empty split.
    OutputExistsError
        If an output exists and ``overwrite`` is False.
    """
    from ..models.deeploc import tta_model

    spec = METHODS["deeploc"]
    check_split(split)
    if tta is not None and tta not in spec.tta_modes:
        raise InputError(f"unknown tta {tta!r}; expected one of {list(spec.tta_modes)}")
    if not 0 < threshold <= 1:
        raise InputError(f"threshold must be in (0, 1]. Received: threshold={threshold}")
    out = Path(out)
    with CellStore.open(store) as cell_store:
        cell_store.require_proteins()
        model, model_file = load_trained(model_path, spec.name, fix="predict classifies with a DeepLoc model "
                                         "(train --method deeploc); {found} features come from extract --method {found}")
        tta = tta or default_tta(spec, model.info)
        probs_model = tta_model(model, "logits", tta=tta)
        cell_store.require_image_shape(tuple(probs_model.inputs[0].shape[1:]), model_file)
        class_names = _class_names(model, cell_store, model_file, int(probs_model.output.shape[-1]))
        data = inference_dataset(cell_store, split=split, batch_size=batch_size)
        cells = cell_store.cells
        labelled = bool(cell_store.class_names) and bool((cells["label"].to_numpy() >= 0).any())
        names = ["cells.parquet", "proteins.csv", "predict.json"] + (["confusion.csv", "metrics.json"] if labelled
                                                                      else [])
        check_own_outputs(out, names, command="predict", overwrite=overwrite, inputs=(store, model_path))
        info = {"method": "deeploc", "layer": "logits", "model": str(model_file),
                "model_sha256": file_sha256(model_file), "tta": tta, "split": split, "threshold": threshold,
                "store_fingerprint": cell_store.fingerprint(), "class_names": class_names}
        with made_dir(out), output_lock(out):
            check_own_outputs(out, names, command="predict", overwrite=overwrite, inputs=(store, model_path))
            rows, probs = _write_cells(out / "cells.parquet", cell_store, probs_model, data, class_names, info,
                                       overwrite=overwrite)
            meta = cell_metadata(cells.iloc[rows], cell_store.class_names, index=rows)
            calls, accuracy = _write_calls(out, meta, probs, class_names, threshold=threshold, labelled=labelled,
                                           overwrite=overwrite)
            write_run_record(out / "predict.json", command="predict",
                             config={**info, "store": str(Path(store).resolve()), "out": str(out.resolve()),
                                     "batch_size": batch_size},
                             seed=None, inputs={"store": info["store_fingerprint"], "model": info["model_sha256"]})
    return {"cells": str(out / "cells.parquet"), "proteins": str(out / "proteins.csv"),
            "confusion": str(out / "confusion.csv") if labelled else None,
            "metrics": str(out / "metrics.json") if labelled else None,
            "n_cells": int(len(rows)), "n_proteins": int(len(calls)),
            "n_multi_localized": int(calls["multi_localized"].sum()), "cell_accuracy": accuracy,
            "tta": tta, "split": split}


def _write_calls(out: Path, meta: pd.DataFrame, probs: np.ndarray, class_names: list[str], *, threshold: float,
                 labelled: bool, overwrite: bool) -> tuple[pd.DataFrame, float | None]:
    """Write ``proteins.csv`` (and with labels ``confusion.csv``, ``metrics.json``); the calls and cell accuracy."""
    known = meta["Metadata_Protein"].to_numpy(dtype=str) != UNKNOWN_PROTEIN
    calls = protein_calls(meta["Metadata_Protein"].to_numpy(dtype=str)[known], probs[known], class_names,
                          threshold=threshold, labels=meta["Metadata_Label"].to_numpy(dtype=str)[known])
    with atomic_path(out / "proteins.csv", overwrite=overwrite) as tmp:
        calls.to_csv(tmp, index=False)
    accuracy = None
    if labelled:
        accuracy = _write_label_checks(out, meta["Metadata_Label"].to_numpy(dtype=str), probs, class_names, calls,
                                       overwrite=overwrite)
    return calls, accuracy


def _write_cells(path: Path, store: CellStore, probs_model: Any, data: StoreData, class_names: list[str],
                 info: dict[str, Any], *, overwrite: bool) -> tuple[np.ndarray, np.ndarray]:
    """Stream the class probabilities of every selected cell into ``path``; return rows and probabilities."""
    cells = store.cells
    all_rows, all_probs = [], []
    names = np.asarray(class_names, dtype=object)
    with ProfileWriter(path, info=info, overwrite=overwrite) as writer:
        for rows, probs in predict_batches(probs_model, data, desc="predict"):
            meta = cell_metadata(cells.iloc[rows], store.class_names, index=rows)
            meta["Metadata_Predicted"] = names[probs.argmax(axis=1)]
            writer.write(meta, probs, class_names)
            all_rows.append(rows)
            all_probs.append(probs)
    return np.concatenate(all_rows), np.concatenate(all_probs)


def _write_label_checks(out: Path, labels: np.ndarray, probs: np.ndarray, class_names: list[str],
                        calls: pd.DataFrame, *, overwrite: bool) -> float | None:
    """Write ``confusion.csv`` (cells) and ``metrics.json``; return the cell accuracy (None if no cell is labelled)."""
    predicted = np.asarray(class_names, dtype=object)[probs.argmax(axis=1)]
    known = np.isin(labels, class_names)
    truth = labels[known]
    confusion = pd.crosstab(pd.Categorical(truth, categories=class_names),
                            pd.Categorical(predicted[known], categories=class_names), dropna=False)
    confusion.index.name, confusion.columns.name = "true", "predicted"
    with atomic_path(out / "confusion.csv", overwrite=overwrite) as tmp:
        confusion.to_csv(tmp)
    cell_accuracy = float((truth == predicted[known]).mean()) if known.any() else None
    protein_known = calls["Metadata_Label"].isin(class_names)
    protein_accuracy = float((calls.loc[protein_known, "Metadata_Label"] == calls.loc[protein_known, "top_class"])
                             .mean()) if protein_known.any() else None
    metrics = {"cell_accuracy": cell_accuracy, "n_cells_labelled": int(known.sum()),
               "n_cells_label_not_in_model": int((~known & (labels != "")).sum()),
               "protein_accuracy": protein_accuracy, "n_proteins_labelled": int(protein_known.sum())}
    with atomic_path(out / "metrics.json", overwrite=overwrite) as tmp:
        tmp.write_text(json.dumps(metrics, indent=2))
    return cell_accuracy
