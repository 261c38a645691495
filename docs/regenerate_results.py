"""Regenerate the README's results section from a reproduce run (never hand-written numbers).

Usage::

    deeploc-keras reproduce --out demo --preset cpu
    python docs/regenerate_results.py demo

Copies the run's Figures 1-3 to ``docs/images/`` (each with its caption) and rewrites the block between
``<!-- results:start -->`` and ``<!-- results:end -->`` in README.md with the summary
table with its 95 % bootstrap intervals and AMI's sd (compared representations, then the ladder's references
and the measured chance row with the definition of each null), the within-compartment scores, the test family,
the comparison with the study's ranking and its significance, the ladder's sentences and the step timings.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pandas as pd

from deeploc_keras.study.findings import (
    compare_with_study,
    family_sentences,
    ladder_sentences,
    null_definitions,
    scores_with_intervals,
    within_sentences,
)
from deeploc_keras.study.references import REFERENCE_NAMES
from deeploc_keras.study.report import FIGURE_CAPTIONS

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- results:start -->", "<!-- results:end -->"
FIGURES = {
    "scores/figure1_summary.png": "docs/images/figure1_summary.png",
    "figures/tsne/figure2_tsne.png": "docs/images/figure2_tsne.png",
    "figures/monitor/figure3_monitor.png": "docs/images/figure3_monitor.png",
}


def _interval_markdown(summary: pd.DataFrame, metrics: tuple[str, ...]) -> str:
    """The scores with their 95 % bootstrap intervals (AMI: ± sd over samples), references marked, chance last."""
    frame = scores_with_intervals(summary, metrics, REFERENCE_NAMES)
    columns = [c for c in frame.columns if c not in ("representation", "kind")]
    rows = []
    for _, row in frame.iterrows():
        marked = row["kind"] == "reference" and row["representation"] != "chance"
        name = f"{row['representation']} (reference)" if marked else row["representation"]
        rows.append(f"| {name} | " + " | ".join(row[c] for c in columns) + " |")
    header = "| representation | " + " | ".join(columns) + " |"
    return "\n".join([header, "|---|" + "---|" * len(columns), *rows])


def _over_runs(summary: pd.DataFrame) -> list[str]:
    """The mean ± sd over the runs of the chosen learning rate (rows with ``n_runs`` > 1), as a table."""
    if "n_runs" not in summary:
        return []
    rows = summary[summary["n_runs"].fillna(0) > 1]
    rows = rows[rows["metric"].isin(("average_precision", "ami", "f_beta"))]
    if rows.empty:
        return []
    table = rows.assign(cell=[f"{m:.3f} ± {sd:.3f}" for m, sd in zip(rows["runs_mean"], rows["runs_sd"], strict=True)])
    wide = table.pivot_table(index="representation", columns=["standard", "metric"], values="cell",
                             aggfunc="first", sort=False)
    header = "| representation (runs) | " + " | ".join(f"{s} {m}" for s, m in wide.columns) + " |"
    runs = rows.groupby("representation")["n_runs"].first()
    lines = [f"| {name} ({int(runs[name])}) | " + " | ".join("" if pd.isna(v) else v for v in row) + " |"
             for name, row in wide.iterrows()]
    return ["The table gives the best run of each learned method (lowest validation loss). Mean ± sd over the "
            "runs at the chosen learning rate (Figure 1 draws these means):", "",
            header, "|---|" + "---|" * len(wide.columns), *lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="a finished `deeploc-keras reproduce` directory")
    args = parser.parse_args()
    summary = pd.read_csv(args.run / "summary.csv")
    tests = pd.read_csv(args.run / "scores" / "tests.csv")
    state = json.loads((args.run / "reproduce.json").read_text())
    for source, target in FIGURES.items():
        shutil.copyfile(args.run / source, ROOT / target)
    timings = {step: info["seconds"] for step, info in state["steps"].items()}
    references = args.run / "references" / "references.json"
    pci_learning = json.loads(references.read_text())["pci"] if references.is_file() else None
    total_minutes = sum(timings.values()) / 60
    config = state["config"]
    block = "\n".join([
        START,
        f"Preset `{config['preset']}`: {config['proteins']} simulated proteins x {config['cells_per_protein']} cells, "
        f"DeepLoc width {config['deeploc_width']} ({config['deeploc_epochs']} epochs, learning rates "
        f"{', '.join(f'{r:g}' for r in config['sweep_rates'])} x seeds {', '.join(map(str, config['seeds']))}), "
        f"PCI width {config['pci_width']} ({config['pci_epochs']} epochs, learning rate "
        f"{config.get('pci_lr') or 1e-4:g}); profiles of the test cells; "
        f"{total_minutes:.1f} min in all on this 2-core CPU machine "
        f"({', '.join(f'{k} {v:.0f} s' for k, v in timings.items())}).",
        "",
        _interval_markdown(summary, ("average_precision", "ami", "f_beta")),
        "",
        "Chance is measured, each metric on its null:",
        "",
        *[f"- {text}" for text in null_definitions(("average_precision", "ami", "f_beta"))],
        "",
        "Within compartments (each localization class's proteins scored on their own, averaged over the classes):",
        "",
        _interval_markdown(summary, ("average_precision_within", "mean_average_precision_within")),
        "",
        *[f"- {text}" for text in within_sentences(summary, tests)],
        "",
        *_over_runs(summary),
        f"Scored with `score --normalize {summary['normalize'].iloc[0]}`, "
        f"{config.get('n_bootstrap', 0)} bootstrap resamples of the proteins and {config.get('n_null', 0)} draws of "
        "each null.",
        "",
        "The tests (generated by `deeploc_keras.study.findings.family_sentences`):",
        "",
        *[f"- {sentence}" for sentence in family_sentences(tests, summary)],
        "",
        "How the ranking compares with the study (generated by `deeploc_keras.study.findings.compare_with_study`):",
        "",
        *[f"- {sentence}" for sentence in compare_with_study(summary, tests)],
        "",
        "The ladder (generated by `deeploc_keras.study.findings.ladder_sentences`):",
        "",
        *[f"- {sentence}" for sentence in ladder_sentences(summary, pci_learning=pci_learning)],
        "",
        "![Figure 1: AP, AMI, F0.5 and AP within compartment per standard](docs/images/figure1_summary.png)",
        "",
        FIGURE_CAPTIONS["figure1_summary"],
        "",
        "![Figure 2: t-SNE of DeepLoc protein profiles](docs/images/figure2_tsne.png)",
        "",
        FIGURE_CAPTIONS["figure2_tsne"],
        "",
        "![Figure 3: AP and F0.5 per standard over training epochs](docs/images/figure3_monitor.png)",
        "",
        FIGURE_CAPTIONS["figure3_monitor"],
        END,
    ])
    readme = (ROOT / "README.md").read_text()
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    (ROOT / "README.md").write_text(head + block + tail)
    print(f"README.md results regenerated from {args.run}")


if __name__ == "__main__":
    main()
