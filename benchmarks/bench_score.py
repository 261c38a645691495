"""Benchmark the evaluation suite: every metric with its intervals, measured chance and per-group retrieval x 4 real
standards, against the 60 s budget; the pooled-bootstrap kernel against its int64 predecessor; mAP vs copairs.

Usage: python benchmarks/bench_score.py [--proteins 4000] [--dims 512] [--jobs 2] [--bootstrap 1000] [--null 100]
       [--permutations 1000] [--standards ../shared/data/standards] [--skip-kernel] [--skip-copairs]

Profiles are random with a weak signal from KEGG membership, on the real ORFs of the
standards; the localization classes of the within metrics are the Huh 2003 classes. Each
standard is scored as ``eval.score`` scores it: one ``eval.evaluation.Evaluation`` shared
by every metric record of ``eval.catalog`` (value, bootstrap resamples, null draws), then
per-group retrieval. Prints, per standard, the wall time of each part (the first part that
needs the pair ranking or the per-protein rankings pays for it), then the total wall and CPU
time against the budget: CPU of this process and of AMI's worker processes (``--jobs 1`` keeps
all of it in this process), and that CPU time spread over 2 cores. Then the pooled bootstrap
of the current kernel (int32 counts, 128 resamples a block) against the previous one (int64
counts, 32 a block) on the same resamples, side by side in this process: their CPU seconds,
the ratio and the largest difference; then our mean_average_precision against copairs.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

import numba
import numpy as np
import pandas as pd

from eval import catalog, metrics, retrieval, significance, standards
from eval.evaluation import Evaluation

BUDGET_S = 60.0


def _standards(folder: Path) -> dict[str, dict[str, set[str]]]:
    slim = folder / "sgd_go_slim_mapping_2024.tab"
    return {
        "go_cc": standards.from_sgd_slim(slim, "C"),
        "go_bp": standards.from_sgd_slim(slim, "P"),
        "kegg": standards.from_modules_json(folder / "icon_yeast-KEGG-pathway-modules.json"),
        "complexes": standards.from_modules_json(folder / "icon_yeast-IntAct-complex-modules.json"),
    }


def _cpu() -> float:
    """CPU seconds of this process and of its reaped children (AMI's worker processes, once shut down)."""
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _timed(row: dict, key: str, call):
    """Run ``call``; record its wall time in ``row[key]``."""
    start = time.perf_counter()
    value = call()
    row[key] = round(time.perf_counter() - start, 2)
    return value


def _score_standard(evaluation: Evaluation, args) -> dict:
    """One standard as eval.score computes it: values, resamples and nulls of every record, then retrieval."""
    row: dict = {}
    records = catalog.METRICS
    _timed(row, "ap_f_s", lambda: [records[m].compute(evaluation) for m in ("average_precision", "f_beta")])
    _timed(row, "map_s", lambda: records["mean_average_precision"].compute(evaluation))
    within = [m for m, r in records.items() if r.within]
    _timed(row, "within_s", lambda: [records[m].compute(evaluation) for m in within])
    sampled = _timed(row, "ami_s", lambda: [records[m].compute(evaluation) for m in ("ami", "f_beta_clusters")])
    row["ami"] = round(sampled[0].mean, 4)
    if args.bootstrap:
        boot = _timed(row, "bootstrap_s", lambda: {m: r.resampled(evaluation) for m, r in records.items()
                                                   if r.resampled is not None})
        row["ap_interval"] = tuple(round(v, 4) for v in significance.percentile_interval(boot["average_precision"]))
    if args.null:
        nulls = _timed(row, "null_s", lambda: {m: r.null(evaluation) for m, r in records.items() if r.null})
        row["ap_chance"] = round(float(np.mean(nulls["average_precision"])), 4)
        row["ami_chance"] = round(float(np.mean(nulls["ami"])), 4)
    if args.permutations:
        found = _timed(row, "groups_s", lambda: retrieval.group_retrieval(
            evaluation.features, evaluation.membership, n_permutations=args.permutations,
            ranking=evaluation.ranking))
        row["fraction_retrieved"] = round(retrieval.fraction_retrieved(found.q_value), 3)
    return row


@numba.njit(parallel=True)
def _previous_kernel(i, j, labels, evaluate, positive, blocks, beta):
    """The pooled bootstrap before int32 counts: int64 counts, 32 resamples a block (for the ratio only)."""
    n_blocks, _, width = blocks.shape
    ap, f = np.zeros((n_blocks, width)), np.zeros((n_blocks, width))
    b2 = beta * beta
    for block in numba.prange(n_blocks):
        w = blocks[block]
        total = np.zeros(width, dtype=np.int64)
        for q in positive:
            for c in range(width):
                total[c] += w[i[q], c] * w[j[q], c]
        drawn, hits = np.zeros(width, dtype=np.int64), np.zeros(width, dtype=np.int64)
        before, area, best = np.zeros(width, dtype=np.int64), np.zeros(width), np.zeros(width)
        for q in range(len(i)):
            a, b = w[i[q]], w[j[q]]
            for c in range(width):
                pair = a[c] * b[c]
                drawn[c] += pair
                if labels[q]:
                    hits[c] += pair
            if evaluate[q]:
                for c in range(width):
                    if total[c] == 0 or drawn[c] == 0:
                        continue
                    precision, recall = hits[c] / drawn[c], hits[c] / total[c]
                    area[c] += (hits[c] - before[c]) * precision
                    before[c] = hits[c]
                    if b2 * precision + recall > 0:
                        best[c] = max(best[c], (1 + b2) * precision * recall / (b2 * precision + recall))
        for c in range(width):
            if total[c] > 0:
                ap[block, c], f[block, c] = area[c] / total[c], best[c]
    return ap, f


def _kernel_ratio(evaluation: Evaluation, n_resamples: int) -> None:
    """The current pooled bootstrap against the previous kernel on the same resamples, CPU seconds side by side."""
    ranking, weights = evaluation.ranking, evaluation.weights[:n_resamples]
    i, j, labels, last = ranking.pairs
    starts = np.r_[0, last[:-1] + 1]
    holds = np.add.reduceat(labels, starts) > 0
    stop = last[holds][-1] + 1
    evaluate = np.zeros(stop, dtype=bool)
    evaluate[last[holds]] = True
    n, width = weights.shape[1], 32
    blocks = np.zeros((-(-len(weights) // width) * width, n), dtype=np.int16)
    blocks[: len(weights)] = weights
    blocks = np.ascontiguousarray(blocks.reshape(-1, width, n).transpose(0, 2, 1))
    args = (i[:stop].astype(np.int16), j[:stop].astype(np.int16), labels[:stop], evaluate,
            np.flatnonzero(labels[:stop]), blocks, 0.5)
    _previous_kernel(*args)  # compile
    significance.bootstrap_pooled(evaluation.features, evaluation.membership, weights[:1], ranking=ranking)
    start = time.process_time()
    old, _ = _previous_kernel(*args)
    old_s = time.process_time() - start
    start = time.process_time()
    new, _ = significance.bootstrap_pooled(evaluation.features, evaluation.membership, weights, ranking=ranking)
    new_s = time.process_time() - start
    print(f"pooled bootstrap, {n} proteins, {len(weights)} resamples, CPU s: previous kernel {old_s:.2f}, current "
          f"{new_s:.2f}, ratio x{old_s / new_s:.2f}; largest |difference| {np.abs(old.ravel()[:len(new)] - new).max():.1e}")


def _copairs(loaded: dict, proteins: list[str], features: np.ndarray) -> None:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proteins", type=int, default=4000)
    parser.add_argument("--dims", type=int, default=512)
    parser.add_argument("--standards", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/standards")
    parser.add_argument("--jobs", type=int, default=2, help="processes for the AMI samples")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (0: none)")
    parser.add_argument("--null", type=int, default=100, help="draws of each metric's null (0: none)")
    parser.add_argument("--permutations", type=int, default=1000, help="null size of per-group retrieval (0: none)")
    parser.add_argument("--skip-kernel", action="store_true", help="skip the bootstrap kernel ratio")
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
    print(f"{len(proteins)} proteins x {args.dims} dims; {args.bootstrap} resamples, {args.null} null draws, "
          f"{args.permutations} permutations, AMI on {args.jobs} processes; load average {os.getloadavg()[0]:.2f} "
          f"on {os.cpu_count()} cores")
    wall, cpu = time.perf_counter(), _cpu()
    rows, evaluations = [], {}
    for name, standard in loaded.items():
        kept, _ = standards.restrict(standard, proteins)
        membership, _ = metrics.membership_matrix(kept, proteins)
        inside = membership.any(axis=1)
        evaluations[name] = Evaluation(features[inside], membership[inside], strata=strata[inside],
                                       ids=[p for p, keep in zip(proteins, inside, strict=True) if keep],
                                       n_jobs=args.jobs, n_bootstrap=args.bootstrap, n_null=args.null)
        start = time.perf_counter()
        row = {"standard": name, "proteins": int(inside.sum()), "groups": len(kept),
               **_score_standard(evaluations[name], args)}
        row["total_s"] = round(time.perf_counter() - start, 2)
        rows.append(row)
        print(row, flush=True)
    wall, cpu = time.perf_counter() - wall, _cpu() - cpu
    print(pd.DataFrame(rows).to_string(index=False))
    print(f"all standards: {wall:.1f} s wall (load average now {os.getloadavg()[0]:.2f}), {cpu:.1f} s CPU "
          f"({cpu / 2:.1f} s spread over 2 cores); budget {BUDGET_S:.0f} s: wall/budget {wall / BUDGET_S:.2f}, "
          f"CPU on 2 cores/budget {cpu / 2 / BUDGET_S:.2f}")
    if not args.skip_kernel and args.bootstrap:
        _kernel_ratio(evaluations["go_bp"], args.bootstrap)
    if not args.skip_copairs:
        _copairs(loaded, proteins, features)


if __name__ == "__main__":
    main()
