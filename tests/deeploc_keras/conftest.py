"""Tiny cell stores for the pipeline, train and extract tests (written once per session)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deeploc_keras.data.store import CellStore

N_CLASSES = 4
PROTEINS_PER_CLASS = 2


def write_tiny_store(path: Path, *, cells_per_protein: int = 24, chunk_cells: int = 16, seed: int = 0,
                     labels: bool = True, proteins: bool = True, imbalanced: bool = False,
                     n_classes: int = N_CLASSES) -> Path:
    """A few hundred 64x64 uint16 cells; the GFP pattern depends on the class.

    Class 0 fills the cell, 1 is a rim, 2 a central dot, 3 a half ring; RFP is the
    cell disc. Pixel (0, 0, 1) holds the cell's row number + 1 (an id the tests read back).
    With ``imbalanced`` class 0 has three times the cells.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:64, :64]
    images, prot, lab = [], [], []
    for c in range(n_classes):
        for p in range(PROTEINS_PER_CLASS):
            n = cells_per_protein * (3 if imbalanced and c == 0 else 1)
            cy = 32 + rng.normal(0, 2, n)[:, None, None]
            cx = 32 + rng.normal(0, 2, n)[:, None, None]
            r = np.hypot(yy - cy, xx - cx)
            cell = (r < 14).astype(float)
            pattern = [cell, np.abs(r - 13) < 2, r < 5, (np.abs(r - 8) < 2) & (xx > cx)][c % 4].astype(float)
            gfp = 100 + 3000 * pattern + rng.normal(0, 50, pattern.shape)
            rfp = 100 + 2000 * cell + rng.normal(0, 50, cell.shape)
            images.append(np.clip(np.stack([gfp, rfp], -1), 0, 65535).astype(np.uint16))
            prot += [f"P{c}{p}"] * n
            lab += [c] * n
    images = np.concatenate(images)
    order = rng.permutation(len(images))
    images = images[order]
    images[:, 0, 0, 1] = np.arange(1, len(images) + 1)
    columns = {}
    if proteins:
        columns["protein"] = np.asarray(prot)[order]
    if labels:
        columns["label"] = np.asarray(lab)[order]
    class_names = [f"C{k}" for k in range(n_classes)] if labels else []
    with CellStore.create(path, class_names=class_names, chunk_cells=chunk_cells, seed=seed) as store:
        store.append(images, columns)
    return path


@pytest.fixture(scope="session")
def store_factory():
    """:func:`write_tiny_store` (path, **options) -> path, for stores a test varies."""
    return write_tiny_store


@pytest.fixture(scope="session")
def tiny_store(tmp_path_factory) -> Path:
    """192 labelled cells of 8 proteins in 4 classes, 16 cells per chunk."""
    return write_tiny_store(tmp_path_factory.mktemp("tiny") / "cells.h5")


@pytest.fixture(scope="session")
def tiny_standards(tmp_path_factory) -> Path:
    """A GMT standard grouping the tiny store's proteins by class."""
    folder = tmp_path_factory.mktemp("standards")
    lines = [f"C{c}\tclass {c}\t" + "\t".join(f"P{c}{p}" for p in range(PROTEINS_PER_CLASS)) for c in range(N_CLASSES)]
    (folder / "classes.gmt").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture(scope="session")
def trained_runs(tiny_store, tmp_path_factory) -> dict[str, Path]:
    """RUN/best.keras of a DeepLoc (study preset), a PCI, a PIFiA and a cropping DeepLoc (kraus2017,
    ``deeploc_cropped``) run: width 0.0625, 1 epoch of 2 steps."""
    from deeploc_keras.training.train import train

    folder = tmp_path_factory.mktemp("trained")
    fast = {"width": 0.0625, "epochs": 1, "steps_per_epoch": 2, "batch_size": 32, "mixed_precision": "off",
            "verbose": 0, "jit_compile": False, "seed": 0}
    runs = {method: Path(train(tiny_store, folder / method, method=method, **fast)["best_model"])
            for method in ("deeploc", "pci", "pifia")}
    cropped = train(tiny_store, folder / "kraus2017", method="deeploc", preset="kraus2017", **{**fast, "learning_rate": 1e-3})
    return {**runs, "deeploc_cropped": Path(cropped["best_model"])}


def _one_line(result, *fragments: str, code: int = 2) -> str:
    """The single ``Error:`` line of a command's output (CliRunner result or CompletedProcess), checked."""
    output = result.output if hasattr(result, "output") else result.stderr
    exit_code = result.exit_code if hasattr(result, "exit_code") else result.returncode
    assert exit_code == code, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    lines = [line for line in output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, output[-3000:]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="session")
def one_line():
    """Check a command failed with exit code 2 and one ``Error:`` line holding the fragments; return the line."""
    return _one_line


@pytest.fixture(scope="session")
def untrained_run(tmp_path_factory) -> Path:
    """A training run folder (its config.json record) holding an untrained width-0.0625 DeepLoc ``best.keras``
    (study preset, 4 classes, 64x64x2): what extract and predict read, without training."""
    import json

    from deeploc_keras.models.deeploc import build_deeploc

    run = tmp_path_factory.mktemp("untrained") / "run"
    run.mkdir()
    build_deeploc(N_CLASSES, preset="study", width=0.0625, image_shape=(64, 64, 2), seed=0,
                  class_names=[f"C{k}" for k in range(N_CLASSES)]).save(run / "best.keras")
    (run / "model_card.json").write_text(json.dumps({"method": "deeploc", "preset": "study"}))
    (run / "config.json").write_text(json.dumps({"command": "train", "config": {"method": "deeploc"}}))
    return run
