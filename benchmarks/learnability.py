"""Can the simulated screen answer its question? The oracle gate, and classes learnable but not trivial.

Usage: python benchmarks/learnability.py [--proteins 240] [--cells-per-protein 40] [--split 0.6 0.2 0.2]
       [--epochs E] [--width W] [--batch-size B] [--learning-rate LR] [--null 1000] [--seed 0] [--out DIR]
       [--json FILE] [--fit] [--classes] [--budget]

The oracle gate (docs/synthetic.md, "Learnability"): simulates the default (grounded) screen (the ``cpu`` preset's
size and split by default), trains the oracle (``deeploc_keras.study.oracle.train_oracle``: DeepLoc's trunk
regressing the function parameters theta on the training cells) and profiles the held-out cells (validation and
test) with it. It prints, per parameter, the R² of the per-protein means against the generator's theta (the gate
asks >= 0.5 for every parameter, both function channels), and per standard (``oracle.GATE_STANDARDS``: bioprocess,
pathway, complex and the two channel standards) the within-compartment AP of the oracle's profiles against eval's
within-class permutation null (``oracle.within_significance``; the gate asks p < 0.05), beside the same for the
generator's own theta, then the verdict per parameter and per standard (``deeploc_keras.study.gate.oracle_gate``,
as ``reproduce`` writes it, and its sentences). The oracle's epochs and width default to the ``cpu`` preset's
(``ReproducePreset.oracle_*``), its batch size and learning rate to ``train_oracle``'s. ``--fit`` also prints the
R² of the per-protein means of its predictions for the *training* cells (how well it fits what it was trained on).
``--out DIR`` keeps the screen, the oracle and its profiles there and reuses those already present. ``--classes``
also compares, on the same screen, a logistic regression on per-cell intensity statistics with the DeepLoc
classifier at the oracle's width (cell-level test accuracy). ``--budget`` trains, on the same store, the oracle and
one DeepLoc run exactly as the ``cpu`` preset does (XLA) and prints their CPU seconds side by side and the oracle's
share of the DeepLoc step. Prints the wall and CPU time of each step; exits 1 when the gate fails.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def _stats(images: np.ndarray) -> np.ndarray:
    x = images.astype(np.float32) - 100
    feats = []
    for c in range(x.shape[-1]):
        ch = x[..., c].reshape(len(x), -1)
        q = np.percentile(ch, [5, 25, 50, 75, 95, 99], axis=1).T
        feats.append(np.c_[ch.mean(1), ch.std(1), q, q[:, -1] / (q[:, 2] + 1)])
    return np.log1p(np.abs(np.concatenate(feats, 1)))


def _classes(store: Path, epochs: int, width: float, seed: int) -> dict:
    """Cell-level test accuracy of a logistic regression on intensity statistics and of the DeepLoc classifier."""
    import keras
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from deeploc_keras.data.store import CellStore
    from deeploc_keras.models.deeploc import build_deeploc

    with CellStore.open(store) as opened:
        images, cells, n_classes = opened.images(), opened.cells, len(opened.class_names)
    y, split = cells["label"].to_numpy(), cells["split"].to_numpy()
    train, test = split == 0, split == 2
    logreg = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    logreg.fit(_stats(images[train]), y[train])
    keras.utils.set_random_seed(seed)
    model = build_deeploc(n_classes, preset="study", width=width, image_shape=images.shape[1:], seed=seed)
    model.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    cpu = time.process_time()
    model.fit(images[train].astype(np.float32), y[train], batch_size=64, epochs=epochs, verbose=0)
    return {"chance": float(np.bincount(y[test]).max() / test.sum()),
            "logistic_regression": float((logreg.predict(_stats(images[test])) == y[test]).mean()),
            "cnn": float(model.evaluate(images[test].astype(np.float32), y[test], verbose=0)[1]),
            "cnn_cpu_seconds": time.process_time() - cpu, "epochs": epochs}


def _budget(store: Path, root: Path, seed: int) -> dict:
    """CPU seconds of the oracle and of one DeepLoc run as the ``cpu`` preset trains them, side by side on one store.

    The preset's DeepLoc step trains ``len(sweep_rates) x len(seeds)`` such runs; the ratio places the oracle's
    step beside it.
    """
    from deeploc_keras.study.oracle import train_oracle
    from deeploc_keras.study.reproduce import REPRODUCE_PRESETS
    from deeploc_keras.training.config import TrainConfig
    from deeploc_keras.training.train import train

    preset = REPRODUCE_PRESETS["cpu"]
    deeploc = TrainConfig.from_preset("deeploc", preset.deeploc_preset, epochs=preset.deeploc_epochs,
                                      batch_size=preset.batch_size, width=preset.deeploc_width, seed=seed,
                                      learning_rate=preset.sweep_rates[0], jit_compile=preset.jit_compile)
    cpu = {}
    start = time.process_time()
    train_oracle(store, store.parent / "proteins.csv", root / "budget_oracle", width=preset.oracle_width,
                 epochs=preset.oracle_epochs, seed=seed, jit_compile=preset.jit_compile, overwrite=True)
    cpu["oracle"] = time.process_time() - start
    start = time.process_time()
    train(store, root / "budget_deeploc", deeploc, overwrite=True)
    cpu["deeploc_run"] = time.process_time() - start
    runs = len(preset.sweep_rates) * len(preset.seeds)
    return {**cpu, "deeploc_runs_in_step": runs, "oracle_over_deeploc_step": cpu["oracle"] / (runs * cpu["deeploc_run"])}


def _timed(what: str, timings: dict, function, *args, **kwargs):
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args, **kwargs)
    timings[what] = {"seconds": round(time.perf_counter() - wall, 1), "cpu_seconds": round(time.process_time() - cpu, 1)}
    return result


def _steps(root: Path, args: argparse.Namespace, timings: dict) -> tuple[Path, Path]:
    """The screen and the oracle's profiles under ``root``, each made unless already there."""
    from deeploc_keras.data.synthetic import simulate_screen
    from deeploc_keras.study.oracle import oracle_profiles, train_oracle

    screen, run, profiles = root / "screen", root / "oracle", root / "profiles" / "proteins.parquet"
    if not screen.is_dir():
        _timed("simulate", timings, simulate_screen, screen, proteins=args.proteins,
               cells_per_protein=args.cells_per_protein, split_fractions=tuple(args.split), seed=args.seed)
    if not run.is_dir():
        _timed("train_oracle", timings, train_oracle, screen / "cells.h5", screen / "proteins.csv", run,
               width=args.width, epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
               seed=args.seed)
    if not profiles.is_file():
        _timed("oracle_profiles", timings, oracle_profiles, run, screen / "cells.h5", profiles.parent)
    record = json.loads((run / "oracle.json").read_text())
    timings.setdefault("train_oracle", {"seconds": record["seconds"], "cpu_seconds": record["cpu_seconds"]})
    return screen, profiles


def _fit(root: Path, screen: Path, timings: dict) -> pd.DataFrame:
    """R² of the per-protein means of the oracle's predictions for its own training cells."""
    from deeploc_keras.study.oracle import oracle_profiles, parameter_recovery

    profiles = root / "profiles_train" / "proteins.parquet"
    if not profiles.is_file():
        _timed("oracle_profiles_train", timings, oracle_profiles, root / "oracle", screen / "cells.h5",
               profiles.parent, split="train")
    return parameter_recovery(profiles, screen / "proteins.csv")


def _print(args: argparse.Namespace, n_proteins: int, recovery: pd.DataFrame, within: pd.DataFrame,
           verdict: pd.DataFrame, fit: pd.DataFrame | None) -> None:
    from deeploc_keras.study.gate import gate_sentences
    from deeploc_keras.study.oracle import GATE_ALPHA, GATE_R2

    pd.set_option("display.width", 160)
    print(f"screen: {args.proteins} proteins x {args.cells_per_protein} cells, split {args.split}, seed {args.seed}; "
          f"oracle width {args.width}, {args.epochs} epochs, batch {args.batch_size}, Adam {args.learning_rate}; "
          f"{n_proteins} proteins profiled from their held-out cells")
    print(f"R² of per-protein means (gate >= {GATE_R2}):")
    table = recovery if fit is None else recovery.assign(r2_training_cells=fit["r2"].to_numpy())
    print(table.to_string(index=False))
    print(f"within-compartment AP vs eval's within-class permutation null ({args.null} draws; gate p < {GATE_ALPHA}):")
    print(within[["profile", "standard", "n_proteins", "n_groups", "ap_within", "chance", "p_null", "passes"]]
          .round(4).to_string(index=False))
    print("oracle gate verdict:")
    for row in verdict.itertuples():
        value, sign = (row.value, ">=") if row.criterion == "r2" else (row.p_null, "<")
        measure = "R²" if row.criterion == "r2" else "p"
        print(f"  {row.name:<26} {measure} {value:.4f} {sign} {row.threshold:g}: {'pass' if row.passes else 'FAIL'}")
    for sentence in gate_sentences(verdict):
        print(" ", sentence)


def main() -> None:
    from deeploc_keras.study.oracle import ORACLE_BATCH_SIZE, ORACLE_LEARNING_RATE
    from deeploc_keras.study.reproduce import REPRODUCE_PRESETS

    cpu = REPRODUCE_PRESETS["cpu"]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--proteins", type=int, default=cpu.proteins)
    parser.add_argument("--cells-per-protein", type=int, default=cpu.cells_per_protein)
    parser.add_argument("--split", type=float, nargs=3, default=list(cpu.split_fractions))
    parser.add_argument("--epochs", type=int, default=cpu.oracle_epochs)
    parser.add_argument("--width", type=float, default=cpu.oracle_width)
    parser.add_argument("--batch-size", type=int, default=ORACLE_BATCH_SIZE)
    parser.add_argument("--learning-rate", type=float, default=ORACLE_LEARNING_RATE)
    parser.add_argument("--null", type=int, default=1000, help="Draws of the within-class null.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="Keep (and reuse) the screen, oracle and profiles.")
    parser.add_argument("--json", type=Path, default=None, help="Write every number to this file.")
    parser.add_argument("--fit", action="store_true", help="Also the R² of the oracle's own training cells.")
    parser.add_argument("--classes", action="store_true", help="Also compare classifiers of the classes.")
    parser.add_argument("--budget", action="store_true",
                        help="Also time the oracle beside one DeepLoc run of the cpu preset (CPU seconds, one store).")
    args = parser.parse_args()
    from deeploc_keras.study.gate import oracle_gate
    from deeploc_keras.study.oracle import ORACLE_METHOD, parameter_recovery, theta_table, within_significance

    timings: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = args.out or Path(tmp)
        screen, profiles = _steps(root, args, timings)
        recovery = parameter_recovery(profiles, screen / "proteins.csv")
        fit = _fit(root, screen, timings) if args.fit else None
        within = within_significance(profiles, screen, n_null=args.null, seed=args.seed).assign(profile="oracle")
        proteins = pd.read_parquet(profiles, columns=["Metadata_Protein"])["Metadata_Protein"].astype(str)
        truth = theta_table(screen / "proteins.csv").loc[proteins].reset_index(names="Metadata_Protein")
        within = pd.concat([within, within_significance(truth, screen, n_null=args.null, seed=args.seed)
                            .assign(profile="generating theta")])
        classes = _classes(screen / "cells.h5", args.epochs, args.width, args.seed) if args.classes else None
        budget = _budget(screen / "cells.h5", root, args.seed) if args.budget else None
    scores = within.query("profile == 'oracle'").rename(columns={"ap_within": "value"}).assign(
        representation=ORACLE_METHOD, metric="average_precision_within")
    verdict = oracle_gate(recovery, scores, scores, representation=ORACLE_METHOD)
    passes = bool(verdict["passes"].all())
    _print(args, len(proteins), recovery, within, verdict, fit)
    if classes:
        print(f"class learnability (cell-level test accuracy): chance {classes['chance']:.3f}, logistic regression on "
              f"intensity statistics {classes['logistic_regression']:.3f}, DeepLoc CNN width {args.width} "
              f"{classes['epochs']} epochs {classes['cnn']:.3f} ({classes['cnn_cpu_seconds']:.0f} CPU-s)")
    if budget:
        print(f"cpu preset budget (CPU-s, side by side): oracle {budget['oracle']:.0f}, one DeepLoc run "
              f"{budget['deeploc_run']:.0f}; the oracle is {budget['oracle_over_deeploc_step']:.2f} of the DeepLoc step "
              f"({budget['deeploc_runs_in_step']} runs)")
    print("timings:", json.dumps(timings))
    print("oracle gate:", "PASS" if passes else "FAIL")
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "passes": passes,
                                         "recovery": recovery.to_dict("records"),
                                         "fit": None if fit is None else fit.to_dict("records"),
                                         "within": within.to_dict("records"), "verdict": verdict.to_dict("records"),
                                         "classes": classes, "budget": budget, "timings": timings},
                                        indent=2, default=float))
    sys.exit(0 if passes else 1)


if __name__ == "__main__":
    main()
