"""Per-epoch reconstruction loss of a CPU-width Paired Cell Inpainting model on a synthetic screen.

Builds a small store of round cells (marker) with a protein-specific GFP blob, streams
same-protein pairs with :func:`deeploc_keras.data.pairs.pair_dataset` and trains
:func:`deeploc_keras.models.pci.build_pci` with the original loss (MSE) and optimiser
(Adam, beta_1 0.5). Prints one line per epoch (train and val MSE), plus the MSE of
predicting the mean target image as a reference, so the ratio shows what was learned.

With ``--screen`` the store is the embedded grounded screen (``simulate_screen``,
``--proteins`` x ``--cells``, as ``reproduce`` simulates it), and every ``--score-every``
epochs the conv4_1 protein profiles of the test cells are scored (pooled AP on
cellular_component and bioprocess) beside those of the same network untrained.

Usage::

    python benchmarks/pci_learning_curve.py --epochs 10 --width 0.125 --lr 1e-3
    python benchmarks/pci_learning_curve.py --screen --proteins 240 --cells 40 --width 0.0625 --epochs 8 \
        --lr 1e-3 --batch-size 64 --score-every 2
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def make_store(path: Path, *, proteins: int, cells: int, seed: int) -> None:
    """Write a synthetic 2-channel store: cell disk in the marker, a protein-specific blob in GFP."""
    from deeploc_keras.data.store import CellStore

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:64, :64]
    with CellStore.create(path, seed=seed) as store:
        for p in range(proteins):
            angle = 2 * np.pi * p / proteins
            cy, cx = (32 + rng.integers(-6, 7, size=(2, cells)))[..., None, None]
            disk = ((yy - cy) ** 2 + (xx - cx) ** 2 < 14**2).astype(float)
            by, bx = cy + 8 * np.sin(angle), cx + 8 * np.cos(angle)
            blob = np.exp(-((yy - by) ** 2 + (xx - bx) ** 2) / (2 * (1 + p % 3) ** 2)) * disk
            gfp = 200 + 3000 * blob + rng.normal(0, 20, disk.shape)
            rfp = 200 + 1500 * disk + rng.normal(0, 20, disk.shape)
            images = np.clip(np.stack([gfp, rfp], -1), 0, 65535).astype(np.uint16)
            store.append(images, {"protein": [f"P{p}"] * cells})


def _protein_ap(model, path: Path, standards: dict) -> dict[str, float]:
    """Pooled AP of the conv4_1 protein profiles of the test cells on each standard."""
    from deeploc_keras.data.pipeline import inference_dataset
    from deeploc_keras.data.store import CellStore
    from deeploc_keras.models.pci import pci_feature_model
    from eval.metrics import average_precision, membership_matrix

    features_model = pci_feature_model(model, "conv4_1")
    with CellStore.open(path) as store:
        data = inference_dataset(store, split="test", batch_size=256)
        rows, feats = [], []
        for index, images in data.dataset:
            rows.append(index.numpy())
            feats.append(np.asarray(features_model.predict_on_batch(images), dtype=np.float64))
        proteins = store.cells["protein"].to_numpy(dtype=str)[np.concatenate(rows)]
    feats = np.concatenate(feats)
    ids, inverse = np.unique(proteins, return_inverse=True)
    profiles = np.zeros((len(ids), feats.shape[1]))
    np.add.at(profiles, inverse, feats)
    profiles /= np.bincount(inverse)[:, None]
    out = {}
    for name, groups in standards.items():
        membership, _ = membership_matrix(groups, list(ids))
        universe = membership.any(axis=1)
        out[name] = average_precision(profiles[universe], membership[universe])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proteins", type=int, default=12)
    parser.add_argument("--cells", type=int, default=64, help="cells per protein")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--width", type=float, default=0.125)
    parser.add_argument("--lr", type=float, default=1e-3, help="the original uses 1e-4 at width 1.0")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--screen", action="store_true", help="train on the embedded grounded screen")
    parser.add_argument("--score-every", type=int, default=0, help="with --screen: score every K epochs")
    args = parser.parse_args()

    import keras

    from deeploc_keras.data.pairs import pair_dataset
    from deeploc_keras.models.pci import build_pci

    keras.utils.set_random_seed(args.seed)
    folder = Path(tempfile.mkdtemp())
    standards = {}
    if args.screen:
        from deeploc_keras.data.synthetic import simulate_screen
        from eval.standards import load_standard

        screen = simulate_screen(folder / "screen", proteins=args.proteins, cells_per_protein=args.cells,
                                 seed=args.seed)
        path = screen.store
        standards = {name: load_standard(screen.standards[name]) for name in ("cellular_component", "bioprocess")}
    else:
        path = folder / "pci_synthetic.h5"
        make_store(path, proteins=args.proteins, cells=args.cells, seed=args.seed)
    train = pair_dataset(path, split="train", batch_size=args.batch_size, seed=args.seed)
    val = pair_dataset(path, split="val", batch_size=args.batch_size, seed=args.seed, shuffle=False)
    targets = np.concatenate([y.numpy() for _, y in train.dataset])
    mean_target = targets.mean(axis=0)
    baseline = float(((targets - mean_target) ** 2).mean())
    val_targets = np.concatenate([y.numpy() for _, y in val.dataset])
    val_baseline = float(((val_targets - mean_target) ** 2).mean())
    model = build_pci(args.width, seed=args.seed)
    model.compile(optimizer=keras.optimizers.Adam(args.lr, beta_1=0.5), loss="mse")
    print(f"store: {args.proteins} proteins x {args.cells} cells; train {train.n_cells} cells "
          f"({train.steps_per_epoch} steps of {args.batch_size}), val {val.n_cells} cells; "
          f"width {args.width} ({model.count_params():,} params), Adam lr {args.lr} beta_1 0.5")
    print(f"reference: MSE of predicting the mean training target = {baseline:.5f} (train), "
          f"{val_baseline:.5f} (val)")
    if standards and args.score_every:
        untrained = _protein_ap(model, path, standards)
        print("untrained network: " + ", ".join(f"AP {k} {v:.3f}" for k, v in untrained.items()))
    print("epoch  train_mse  val_mse  val/reference  seconds  scores")
    for epoch in range(args.epochs):
        start = time.perf_counter()
        history = model.fit(train.dataset, validation_data=val.dataset, epochs=epoch + 1, initial_epoch=epoch,
                            verbose=0).history
        seconds = time.perf_counter() - start
        scores = ""
        if standards and args.score_every and (epoch + 1) % args.score_every == 0:
            trained = _protein_ap(model, path, standards)
            scores = ", ".join(f"AP {k} {v:.3f} (untrained {untrained[k]:.3f})" for k, v in trained.items())
        print(f"{epoch + 1:5d}  {history['loss'][-1]:.5f}    {history['val_loss'][-1]:.5f}  "
              f"{history['val_loss'][-1] / val_baseline:13.3f}  {seconds:7.1f}  {scores}", flush=True)


if __name__ == "__main__":
    main()
