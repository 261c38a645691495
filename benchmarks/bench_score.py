"""Benchmark the evaluation suite: all metrics x 4 real standards on N proteins x D dims, and mAP vs copairs.

Usage: python benchmarks/bench_score.py [--proteins 4000] [--dims 512] [--jobs 2] [--bootstrap 200]
       [--standards ../shared/data/standards]

Profiles are random with a weak signal from KEGG membership, on the real ORFs of the
standards. Prints the wall time of all metrics per standard (AMI samples on ``--jobs`` processes) and of
the bootstrap intervals (``--bootstrap`` resamples of the proteins), then our mean_average_precision
against copairs on the same input (a non-overlapping labelling, where the two are
defined identically): both values and the time ratio, measured side by side.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from eval import metrics, significance, standards


def _standards(folder: Path) -> dict[str, dict[str, set[str]]]:
    slim = folder / "sgd_go_slim_mapping_2024.tab"
    return {
        "go_cc": standards.from_sgd_slim(slim, "C"),
        "go_bp": standards.from_sgd_slim(slim, "P"),
        "kegg": standards.from_modules_json(folder / "icon_yeast-KEGG-pathway-modules.json"),
        "complexes": standards.from_modules_json(folder / "icon_yeast-IntAct-complex-modules.json"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proteins", type=int, default=4000)
    parser.add_argument("--dims", type=int, default=512)
    parser.add_argument("--standards", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/standards")
    parser.add_argument("--jobs", type=int, default=2, help="processes for the AMI samples")
    parser.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples for the intervals (0: none)")
    parser.add_argument("--skip-copairs", action="store_true")
    args = parser.parse_args()
    loaded = _standards(args.standards)
    universe = sorted(set().union(*(set().union(*s.values()) for s in loaded.values())))
    rng = np.random.default_rng(0)
    proteins = sorted(rng.choice(universe, size=min(args.proteins, len(universe)), replace=False).tolist())
    kegg, _ = metrics.membership_matrix(loaded["kegg"], proteins)
    features = rng.normal(size=(len(proteins), args.dims)) + 0.3 * kegg @ rng.normal(size=(kegg.shape[1], args.dims))
    print(f"{len(proteins)} proteins x {args.dims} dims")
    total = time.perf_counter()
    rows = []
    for name, standard in loaded.items():
        kept, _ = standards.restrict(standard, proteins)
        membership, _ = metrics.membership_matrix(kept, proteins)
        universe_rows = membership.any(axis=1)
        x, m = features[universe_rows], membership[universe_rows]
        n_pairs = len(x) * (len(x) - 1) // 2
        start = time.perf_counter()
        results = metrics.compute_metrics(x, m, list(metrics.METRICS), n_jobs=args.jobs)
        row = {"standard": name, "proteins": len(x), "groups": len(kept), "pairs": n_pairs}
        for metric, value in results.items():
            row[metric] = round(value.mean if isinstance(value, metrics.SampledScore) else value, 4)
        row["seconds"] = round(time.perf_counter() - start, 2)
        start = time.perf_counter()
        if args.bootstrap:
            ids = [p for p, inside in zip(proteins, universe_rows, strict=True) if inside]
            weights = significance.bootstrap_weights(ids, n_resamples=args.bootstrap, seed=0)
            boot = significance.bootstrap_metrics(x, m, weights, significance.BOOTSTRAP_METRICS)
            row["ap_interval"] = tuple(round(v, 4) for v in significance.percentile_interval(boot["average_precision"]))
        rows.append({**row, "bootstrap_seconds": round(time.perf_counter() - start, 2)})
        print(rows[-1], flush=True)
    print(pd.DataFrame(rows).to_string(index=False))
    frame = pd.DataFrame(rows)
    print(f"all standards x metrics: {frame['seconds'].sum():.1f} s; bootstrap intervals ({args.bootstrap} resamples): "
          f"{frame['bootstrap_seconds'].sum():.1f} s; total {time.perf_counter() - total:.1f} s wall")
    if args.skip_copairs:
        return
    from copairs.map import average_precision as copairs_ap

    membership, _ = metrics.membership_matrix(loaded["kegg"], proteins)
    assigned = metrics.sample_nonoverlapping_groups(membership, seed=0)
    rows = assigned >= 0
    x, group = features[rows], assigned[rows]
    one_hot = np.eye(group.max() + 1, dtype=bool)[group]
    start = time.perf_counter()
    ours = metrics.mean_average_precision(x, one_hot)
    t_ours = time.perf_counter() - start
    start = time.perf_counter()
    result = copairs_ap(pd.DataFrame({"group": group.astype(str)}), x, pos_sameby=["group"], pos_diffby=[],
                        neg_sameby=[], neg_diffby=["group"], distance="correlation", progress_bar=False)
    theirs = result["average_precision"].dropna().mean()
    t_theirs = time.perf_counter() - start
    print(f"mAP on {len(x)} proteins (KEGG sample, non-overlapping): ours {ours:.10f} in {t_ours:.2f} s, "
          f"copairs {theirs:.10f} in {t_theirs:.2f} s, |diff| {abs(ours - theirs):.1e}, "
          f"speed-up x{t_theirs / t_ours:.1f}")


if __name__ == "__main__":
    main()
