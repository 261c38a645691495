"""Benchmark the evaluation suite: every metric, intervals and per-group retrieval x 4 real standards, and mAP vs copairs.

Usage: python benchmarks/bench_score.py [--proteins 4000] [--dims 512] [--jobs 2] [--bootstrap 200]
       [--permutations 1000] [--standards ../shared/data/standards] [--skip-copairs]

Profiles are random with a weak signal from KEGG membership, on the real ORFs of the
standards; the strata of the within metrics are the Huh 2003 localization classes. Each
standard is scored as ``eval.score`` does it: one ``Ranking`` shared by all metrics, the
bootstrap and per-group retrieval. Prints, per standard, the wall time of each part (the
first part that needs the pair ranking or the per-protein rankings pays for it), then the
total wall and CPU time of this process (AMI's worker processes excluded; ``--jobs 1``
keeps all of it in this process) against the 60 s budget, then our mean_average_precision against copairs on the same input (a
non-overlapping labelling, where the two are defined identically): both values and the
time ratio, measured side by side.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from eval import metrics, retrieval, significance, standards

BUDGET_S = 60.0


def _standards(folder: Path) -> dict[str, dict[str, set[str]]]:
    slim = folder / "sgd_go_slim_mapping_2024.tab"
    return {
        "go_cc": standards.from_sgd_slim(slim, "C"),
        "go_bp": standards.from_sgd_slim(slim, "P"),
        "kegg": standards.from_modules_json(folder / "icon_yeast-KEGG-pathway-modules.json"),
        "complexes": standards.from_modules_json(folder / "icon_yeast-IntAct-complex-modules.json"),
    }


def _timed(row: dict, key: str, call):
    """Run ``call``; record its wall time in ``row[key]`` and this process's CPU time in ``row["cpu"][key]``."""
    start, cpu = time.perf_counter(), time.process_time()
    value = call()
    row[key] = round(time.perf_counter() - start, 2)
    row.setdefault("cpu", {})[key] = round(time.process_time() - cpu, 2)
    return value


def _score_standard(x, m, strata, ids, args) -> dict:
    """One standard as eval.score computes it; the wall time of each part."""
    row: dict = {}
    ranking = metrics.Ranking(x, m)
    pooled = ["average_precision", "f_beta"]
    _timed(row, "ap_f_s", lambda: metrics.compute_metrics(x, m, pooled, ranking=ranking))
    _timed(row, "map_s", lambda: metrics.compute_metrics(x, m, ["mean_average_precision"], ranking=ranking))
    _timed(row, "within_s", lambda: metrics.compute_metrics(x, m, list(metrics.WITHIN_METRICS), strata=strata,
                                                            ranking=ranking))
    sampled = _timed(row, "ami_s", lambda: metrics.compute_metrics(x, m, list(metrics.SAMPLED_METRICS),
                                                                   n_jobs=args.jobs))
    row["ami"] = round(sampled["ami"].mean, 4)
    if args.bootstrap:
        weights = significance.bootstrap_weights(ids, n_resamples=args.bootstrap, seed=0)
        boot = _timed(row, "bootstrap_s", lambda: significance.bootstrap_metrics(
            x, m, weights, significance.BOOTSTRAP_METRICS, strata=strata, ranking=ranking))
        row["ap_interval"] = tuple(round(v, 4) for v in significance.percentile_interval(boot["average_precision"]))
    if args.permutations:
        found = _timed(row, "groups_s", lambda: retrieval.group_retrieval(
            x, m, n_permutations=args.permutations, ranking=ranking))
        row["fraction_retrieved"] = round(retrieval.fraction_retrieved(found.q_value), 3)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proteins", type=int, default=4000)
    parser.add_argument("--dims", type=int, default=512)
    parser.add_argument("--standards", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/standards")
    parser.add_argument("--jobs", type=int, default=2, help="processes for the AMI samples")
    parser.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples for the intervals (0: none)")
    parser.add_argument("--permutations", type=int, default=1000, help="null size of per-group retrieval (0: none)")
    parser.add_argument("--skip-copairs", action="store_true")
    args = parser.parse_args()
    loaded = _standards(args.standards)
    localization = standards.from_huh2003(args.standards / "huh2003_yeastgfp.csv.xz")
    universe = sorted(set().union(*(set().union(*s.values()) for s in loaded.values())))
    rng = np.random.default_rng(0)
    proteins = sorted(rng.choice(universe, size=min(args.proteins, len(universe)), replace=False).tolist())
    kegg, _ = metrics.membership_matrix(loaded["kegg"], proteins)
    features = rng.normal(size=(len(proteins), args.dims)) + 0.3 * kegg @ rng.normal(size=(kegg.shape[1], args.dims))
    strata, _ = metrics.membership_matrix(localization, proteins)
    print(f"{len(proteins)} proteins x {args.dims} dims; {args.bootstrap} resamples, {args.permutations} permutations, "
          f"AMI on {args.jobs} processes; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    wall, cpu = time.perf_counter(), time.process_time()
    rows = []
    for name, standard in loaded.items():
        kept, _ = standards.restrict(standard, proteins)
        membership, _ = metrics.membership_matrix(kept, proteins)
        inside = membership.any(axis=1)
        ids = [p for p, keep in zip(proteins, inside, strict=True) if keep]
        start = time.perf_counter()
        row = {"standard": name, "proteins": int(inside.sum()), "groups": len(kept),
               **_score_standard(features[inside], membership[inside], strata[inside], ids, args)}
        row["total_s"] = round(time.perf_counter() - start, 2)
        rows.append(row)
        print(row, flush=True)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    cpu_parts = pd.DataFrame([{"standard": row["standard"], **row.pop("cpu")} for row in rows])
    print(pd.DataFrame(rows).to_string(index=False))
    print("CPU seconds of this process per part (AMI: only the parent's share unless --jobs 1):")
    print(cpu_parts.to_string(index=False))
    print("sum per part:", cpu_parts.drop(columns="standard").sum().round(1).to_dict())
    print(f"all standards: {wall:.1f} s wall, {cpu:.1f} s CPU in this process; budget {BUDGET_S:.0f} s: "
          f"wall/budget {wall / BUDGET_S:.2f}; load average now {os.getloadavg()[0]:.2f}")
    if args.skip_copairs:
        return
    from copairs.map import average_precision as copairs_ap

    membership, _ = metrics.membership_matrix(loaded["kegg"], proteins)
    assigned = metrics.sample_nonoverlapping_groups(membership, seed=0)
    inside = assigned >= 0
    x, group = features[inside], assigned[inside]
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
