"""Can the simulated screen answer its question? The oracle gate, and classes learnable but not trivial.

Usage: python benchmarks/learnability.py [--proteins 240] [--cells-per-protein 40] [--epochs 4] [--width 0.125]
       [--permutations 200] [--seed 0] [--json FILE] [--classes]

The oracle gate (docs/synthetic.md, "Learnability"): simulates the default (grounded) screen, trains the oracle
(``deeploc_keras.study.oracle.train_oracle``: DeepLoc's trunk regressing the function parameters theta on the
training cells) and profiles the held-out cells (validation and test) with it. It prints, per parameter, the R² of
the per-protein means against the generator's theta (the gate asks >= 0.5 for every parameter, both function
channels), and per standard the within-compartment AP of the oracle's profiles against a within-class permutation
null (profiles permuted among proteins of the same class; the gate asks p < 0.05), beside the same for the
generator's own theta. ``--classes`` also compares, on the same screen, a logistic regression on per-cell intensity
statistics with the DeepLoc classifier at the oracle's width (cell-level test accuracy). Prints the wall and CPU
time of each step; exits 1 when the gate fails.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _within_null import within_class_null  # noqa: E402

WITHIN_STANDARDS = ("bioprocess", "pathway", "complex")
ALPHA = 0.05


def _within(features: pd.DataFrame, screen: Path, n_permutations: int, seed: int) -> pd.DataFrame:
    """Within-compartment AP and permutation p of per-protein ``features`` (indexed by protein) per standard."""
    from eval import metrics
    from eval.standards import load_standard, restrict

    proteins = features.index.astype(str).tolist()
    table = pd.read_csv(screen / "proteins.csv", keep_default_na=False).set_index("protein").loc[proteins]
    strata, _ = metrics.membership_matrix(load_standard(screen / "localization.gmt"), proteins)
    rows = []
    for name in WITHIN_STANDARDS:
        kept, _ = restrict(load_standard(screen / "standards" / f"{name}.gmt"), proteins)
        membership, _ = metrics.membership_matrix(kept, proteins)
        universe = membership.any(axis=1)
        result = within_class_null(features.to_numpy()[universe], membership[universe], strata[universe],
                                   table["localization"].to_numpy()[universe], n_permutations=n_permutations,
                                   seed=seed)
        rows.append({"standard": name, "n_proteins": int(universe.sum()), **result})
    return pd.DataFrame(rows)


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


def _timed(what: str, timings: dict, function, *args, **kwargs):
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args, **kwargs)
    timings[what] = {"seconds": round(time.perf_counter() - wall, 1), "cpu_seconds": round(time.process_time() - cpu, 1)}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--proteins", type=int, default=240)
    parser.add_argument("--cells-per-protein", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--width", type=float, default=0.125)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--permutations", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="Write every number to this file.")
    parser.add_argument("--classes", action="store_true", help="Also compare classifiers of the classes.")
    args = parser.parse_args()
    from deeploc_keras.data.synthetic import simulate_screen
    from deeploc_keras.study.oracle import GATE_R2, oracle_profiles, parameter_recovery, theta_table, train_oracle

    timings: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        screen = _timed("simulate", timings, simulate_screen, Path(tmp) / "screen", proteins=args.proteins,
                        cells_per_protein=args.cells_per_protein, seed=args.seed).outdir
        run = _timed("train_oracle", timings, train_oracle, screen / "cells.h5", screen / "proteins.csv",
                     Path(tmp) / "oracle", width=args.width, epochs=args.epochs, batch_size=args.batch_size,
                     seed=args.seed)
        profiles = _timed("oracle_profiles", timings, oracle_profiles, run, screen / "cells.h5", Path(tmp) / "prof")
        recovery = parameter_recovery(profiles, screen / "proteins.csv")
        table = pd.read_parquet(profiles).set_index("Metadata_Protein")
        oracle = table[[c for c in table.columns if not c.startswith("Metadata_")]]
        within = _within(oracle, screen, args.permutations, args.seed).assign(profile="oracle")
        truth = theta_table(screen / "proteins.csv").loc[oracle.index]
        within = pd.concat([within, _within(truth, screen, args.permutations, args.seed)
                            .assign(profile="generating theta")])
        classes = _classes(screen / "cells.h5", args.epochs, args.width, args.seed) if args.classes else None
        n_cells = int(oracle.shape[0])
    passes = bool(recovery["passes"].all() and (within.query("profile == 'oracle'")["p"] < ALPHA).all())
    pd.set_option("display.width", 160)
    print(f"screen: {args.proteins} proteins x {args.cells_per_protein} cells, seed {args.seed}; oracle width "
          f"{args.width}, {args.epochs} epochs; {n_cells} proteins profiled from their held-out cells")
    print(f"R² of per-protein means (gate >= {GATE_R2}):")
    print(recovery.to_string(index=False))
    print(f"within-compartment AP vs a within-class permutation null ({args.permutations} draws; gate p < {ALPHA}):")
    print(within[["profile", "standard", "n_proteins", "prevalence", "ap_within", "null_mean", "null_sd", "p"]]
          .round(4).to_string(index=False))
    if classes:
        print(f"class learnability (cell-level test accuracy): chance {classes['chance']:.3f}, logistic regression on "
              f"intensity statistics {classes['logistic_regression']:.3f}, DeepLoc CNN width {args.width} "
              f"{classes['epochs']} epochs {classes['cnn']:.3f} ({classes['cnn_cpu_seconds']:.0f} CPU-s)")
    print("timings:", json.dumps(timings))
    print("oracle gate:", "PASS" if passes else "FAIL")
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "passes": passes,
                                         "recovery": recovery.to_dict("records"),
                                         "within": within.to_dict("records"), "classes": classes,
                                         "timings": timings}, indent=2, default=float))
    sys.exit(0 if passes else 1)


if __name__ == "__main__":
    main()
