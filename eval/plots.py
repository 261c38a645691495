"""The study's figures: summary bars (Figure 1), t-SNE of protein profiles (Figure 2), training monitor (Figure 3).

Every figure is written as PNG and SVG with the data it shows beside it as CSV
(``<stem>.png``, ``<stem>.svg``, ``<stem>.csv``). Figures are ``matplotlib.figure.Figure``
objects rendered by their own canvas, so importing this module leaves the user's pyplot backend alone.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.text
import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy.stats import gaussian_kde

from deeploc_keras.core.errors import InputError, file_error
from deeploc_keras.core.outputs import atomic_path, check_output
from deeploc_keras.core.ownership import check_replaceable
from deeploc_keras.core.profiles import read_profiles
from eval import standards as _standards
from eval.catalog import FIGURE1_METRICS, METRICS

__all__ = ["MONITOR_COLUMNS", "TSNE_PROCESSES", "plot_summary", "plot_tsne", "plot_monitor"]

logger = logging.getLogger(__name__)

#: columns of a training run's ``monitor.csv`` (``prevalence`` and ``lr`` are optional)
MONITOR_COLUMNS = ("epoch", "seed", "standard", "metric", "value")
#: bioprocesses drawn by default in Figure 2 (the study's number)
TSNE_PROCESSES = 23


def _literal(fig: Figure) -> Figure:
    """Draw every text of ``fig`` as written: a ``$`` in a name (representation, group, ``--name``) starts no TeX."""
    for text in fig.findobj(matplotlib.text.Text):
        text.set_parse_math(False)
    return fig


def _checked_out(out: str | os.PathLike, command: str, *, overwrite: bool, inputs: tuple) -> tuple:
    """Refuse an existing ``out`` (without ``overwrite``) or one that is not ``command``'s own; the inputs."""
    check_output(out, overwrite=overwrite)
    check_replaceable(out, command=command, inputs=inputs)
    return inputs


def _save(fig: Figure, data: pd.DataFrame, out: Path, stem: str) -> list[Path]:
    _literal(fig)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{stem}.png", out / f"{stem}.svg", out / f"{stem}.csv"]
    fig.savefig(paths[0], dpi=150, bbox_inches="tight")
    with matplotlib.rc_context({"svg.hashsalt": stem}):  # fixed element ids and no date: reruns give the same bytes
        fig.savefig(paths[1], bbox_inches="tight", metadata={"Date": None})
    data.to_csv(paths[2], index=False)
    return paths


def plot_summary(
    summary: pd.DataFrame,
    out: str | os.PathLike,
    *,
    metrics: Sequence[str] = FIGURE1_METRICS,
    references: Sequence[str] = (),
    stem: str = "figure1_summary",
) -> list[Path]:
    """Figure 1: grouped bars per standard, one panel per metric, one colour per representation.

    Error bars show the bootstrap interval (``ci_low``/``ci_high``) where it exists,
    else ``sd`` (AMI samples). A representation scored over several training runs
    (``runs_mean``/``runs_sd``/``n_runs`` of :mod:`eval.runs`) is drawn as the study drew
    it: the bar is the mean over the runs, the error bar their sd, the legend says so. Every panel marks the
    measured chance with a black line where the summary has it (``chance``: the mean of the metric's null,
    :attr:`eval.catalog.Metric.null`, averaged over the representations drawn) and the null's 95 % range
    (the lowest ``chance_low`` to the highest ``chance_high``) as a grey band. Reference
    representations (``references``: untrained networks, pixel statistics, labels, the
    generating parameters) are drawn after the compared ones in shades of grey, hatched,
    so every method stands on the ladder from chance to ceiling. Tick labels give the
    standard's number of proteins and groups; the legend sits right of the panels.

    Parameters
    ----------
    summary : pandas.DataFrame
        ``summary.csv`` of :func:`eval.score.score` (representation, standard, metric, value, sd, ..., chance).
    out : path
        Directory to write into (created if needed).
    metrics : sequence of str, default :data:`FIGURE1_METRICS`
        Panels; metrics absent from ``summary`` are skipped. A panel shows the standards that have the metric.
    references : sequence of str, default ()
        Representations drawn as references (grey, hatched, after the others).
    stem : str, default "figure1_summary"

    Returns
    -------
    list of pathlib.Path
        The PNG, SVG and CSV files.

    Raises
    ------
    InputError
        If ``summary`` has none of ``metrics``.
    """
    panels = [m for m in metrics if m in set(summary["metric"])]
    if not panels:
        raise InputError(f"the summary has none of the metrics {', '.join(metrics)}")
    data = summary[summary["metric"].isin(panels)].reset_index(drop=True)
    present = list(dict.fromkeys(data["representation"]))
    compared = [r for r in present if r not in set(references)]
    grey = [r for r in present if r in set(references)]
    representations = compared + grey
    colours = matplotlib.colormaps.get_cmap("tab10")
    style = {rep: {"color": colours(k % 10)} for k, rep in enumerate(compared)}
    hatches = ("//", "\\\\", "xx", "..", "++", "--")
    for k, rep in enumerate(grey):
        shade = 0.25 + 0.55 * k / max(len(grey) - 1, 1)
        style[rep] = {"color": str(round(shade, 3)), "hatch": hatches[k % len(hatches)], "edgecolor": "white"}
    width = 0.84 / len(representations)
    columns = len(panels) if len(panels) <= 3 else 2
    grid = (-(-len(panels) // columns), columns)
    fig = Figure(figsize=(max(4.2, 0.64 * len(representations) + 1.2) * columns, 3.8 * grid[0]))
    axes = fig.subplots(*grid, squeeze=False)
    for ax in axes.ravel()[len(panels):]:
        ax.set_visible(False)
    for ax, metric in zip(axes.ravel(), panels, strict=False):
        rows = data[data["metric"] == metric].set_index(["representation", "standard"])
        standards = list(dict.fromkeys(rows.index.get_level_values("standard")))
        for k, rep in enumerate(representations):
            x = np.arange(len(standards)) - 0.42 + width * (k + 0.5)
            heights, errors, label = _bars(rows, rep, standards)
            ax.bar(x, heights, width, yerr=errors, capsize=1.5, error_kw={"linewidth": 0.8},
                   label=label, linewidth=0, **style[rep])
        _draw_chance(ax, rows, standards)
        n = rows.groupby(level="standard")["n_proteins"].first()
        groups = rows.groupby(level="standard")["n_groups"].first() if "n_groups" in rows else {}
        ax.set_xticks(np.arange(len(standards)),
                      [f"{s}\n(n={n.get(s, 0)}" + (f", {groups.get(s)} groups)" if len(groups) else ")")
                       for s in standards], rotation=30, ha="right", fontsize="small")
        ax.set_ylabel(_label(metric))
        ax.spines[["top", "right"]].set_visible(False)
    handles, names = axes[0, 0].get_legend_handles_labels()
    _literal(fig).tight_layout()
    fig.legend(handles, names, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, fontsize="small",
               title="grey, hatched: references" if grey else None, title_fontsize="x-small")
    return _save(fig, data, Path(out), stem)


def _label(metric: str) -> str:
    return METRICS[metric].label if metric in METRICS else metric


def _draw_chance(ax: Any, rows: pd.DataFrame, standards: Sequence[str]) -> None:
    """The measured chance of each standard: the mean of the null means, and the null's 95 % range shaded."""
    if "chance" not in rows:
        return
    by_standard = rows.groupby(level="standard")
    chance, low, high = by_standard["chance"].mean(), by_standard["chance_low"].min(), by_standard["chance_high"].max()
    labelled = False
    for i, s in enumerate(standards):
        if not np.isfinite(chance.get(s, np.nan)):
            continue
        ax.fill_between([i - 0.46, i + 0.46], low[s], high[s], color="0.85", linewidth=0, zorder=0,
                        label=None if labelled else "null, 95 % range")
        ax.hlines(chance[s], i - 0.46, i + 0.46, colors="black", linewidth=1.2,
                  label=None if labelled else "chance (null mean)")
        labelled = True


def _bars(rows: pd.DataFrame, representation: str, standards: Sequence[str]) -> tuple[list, np.ndarray | None, str]:
    """Bar heights, error bars and legend label: the mean and sd over runs where the rows have them."""
    runs = [rows["n_runs"].get((representation, s), np.nan) if "n_runs" in rows else np.nan for s in standards]
    if np.isfinite(np.asarray(runs, dtype=float)).all() and min(runs) > 1:
        means = [rows["runs_mean"].get((representation, s)) for s in standards]
        sd = np.nan_to_num(np.array([rows["runs_sd"].get((representation, s)) for s in standards], dtype=float))
        label = f"{representation} (mean ± sd, {int(min(runs))} runs)"
        return means, np.vstack([sd, sd]), label
    values = [rows["value"].get((representation, s), np.nan) for s in standards]
    return values, _error_bars(rows, representation, standards), representation


def _error_bars(rows: pd.DataFrame, representation: str, standards: Sequence[str]) -> np.ndarray | None:
    """Asymmetric bars from the bootstrap interval where it exists, else symmetric sd; None when neither does."""
    def column(name: str) -> np.ndarray:
        if name not in rows:
            return np.full(len(standards), np.nan)
        return np.array([rows[name].get((representation, s), np.nan) for s in standards], dtype=float)

    value, low, high, sd = column("value"), column("ci_low"), column("ci_high"), column("sd")
    below = np.where(np.isnan(low), sd, value - low)
    above = np.where(np.isnan(high), sd, high - value)
    if np.isnan(below).all():
        return None
    return np.nan_to_num(np.vstack([below, above]).clip(min=0))


def _palette(n: int) -> list:
    """``n`` distinct colours: tab20, then tab20b (40 in all), cycled beyond."""
    colours = list(matplotlib.colormaps["tab20"].colors) + list(matplotlib.colormaps["tab20b"].colors)
    return [colours[k % len(colours)] for k in range(n)]


def _cloud_kde(points: np.ndarray) -> gaussian_kde | None:
    """A group's Gaussian KDE (Scott's rule), or None when its points lie on a line (no 2-d density), exactly or
    within rounding (a covariance that is not numerically positive definite)."""
    if np.linalg.matrix_rank(points - points.mean(axis=0)) < 2:
        return None
    try:
        return gaussian_kde(points.T)
    except np.linalg.LinAlgError:
        return None


def _cloud_bounds(points: np.ndarray, kde: gaussian_kde | None) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper corners of a box that holds the group's cloud.

    The KDE is the mean of n Gaussian kernels, so its peak is at least 1/n of a kernel's and
    outside the points' Mahalanobis distance d it is below exp(-d^2/2) of a kernel's: the
    half-peak region lies within d = sqrt(2 ln 2n) kernel standard deviations of a point.
    """
    if kde is None:
        return points.min(axis=0), points.max(axis=0)
    reach = np.sqrt(2 * np.log(2 * len(points))) * np.sqrt(np.diag(kde.covariance))
    return points.min(axis=0) - reach, points.max(axis=0) + reach


def _draw_cloud(ax: Any, points: np.ndarray, kde: gaussian_kde | None, grid: tuple[np.ndarray, np.ndarray],
                colour: Any, *, label: str) -> tuple[np.ndarray, np.ndarray]:
    """A group's KDE cloud (half its peak density), or its points when they lie on a line; the drawn extent."""
    if kde is None:
        ax.scatter(points[:, 0], points[:, 1], s=12, color=colour, label=label)
        return points.min(axis=0), points.max(axis=0)
    density = kde(np.vstack([grid[0].ravel(), grid[1].ravel()])).reshape(grid[0].shape)
    peak = float(kde(points.T).max())  # a tight group's peak can fall between grid points
    cloud = ax.contourf(grid[0], grid[1], density, levels=[0.5 * peak, max(peak, float(density.max()))],
                        colors=[colour], alpha=0.45)
    ax.plot([], [], color=colour, linewidth=6, alpha=0.45, label=label)
    vertices = np.vstack([points, *(path.vertices for path in cloud.get_paths() if len(path.vertices))])
    return vertices.min(axis=0), vertices.max(axis=0)


def _draw_processes(ax: Any, coords: np.ndarray, groups: list[set[str]], proteins: list[str],
                    labels: list[str]) -> None:
    """Figure 2's right panel: each group's cloud on a grid that reaches past every cloud, axes fitted to them."""
    members = [np.asarray([p in group for p in proteins]) for group in groups]
    kdes = [_cloud_kde(coords[m]) for m in members]
    boxes = [_cloud_bounds(coords[m], kde) for m, kde in zip(members, kdes, strict=True)]
    low = np.min([coords.min(axis=0), *(b[0] for b in boxes)], axis=0)
    high = np.max([coords.max(axis=0), *(b[1] for b in boxes)], axis=0)
    grid = np.meshgrid(np.linspace(low[0], high[0], 240), np.linspace(low[1], high[1], 240))
    extents = [(coords.min(axis=0), coords.max(axis=0))]
    for m, kde, label, colour in zip(members, kdes, labels, _palette(len(groups)), strict=True):
        extents.append(_draw_cloud(ax, coords[m], kde, grid, colour, label=f"{label} ({int(m.sum())})"))
    low, high = np.min([e[0] for e in extents], axis=0), np.max([e[1] for e in extents], axis=0)
    pad = 0.04 * (high - low)
    ax.set_xlim(low[0] - pad[0], high[0] + pad[0])
    ax.set_ylim(low[1] - pad[1], high[1] + pad[1])


def _tsne_perplexity(perplexity: float, n_proteins: int, profiles: str | os.PathLike) -> float:
    """``perplexity``, or ``(n_proteins - 1) / 3`` (t-SNE's usual bound) when it is higher, with a warning.

    Examples
    --------
    >>> _tsne_perplexity(40, 1000, "p.parquet"), _tsne_perplexity(40, 31, "p.parquet")
    (40, 10.0)
    """
    if n_proteins < 4:
        raise file_error(profiles, f"t-SNE needs at least 4 proteins. Received: {n_proteins}")
    most = (n_proteins - 1) / 3
    if perplexity <= most:
        return perplexity
    logger.warning("perplexity %g is too high for %d proteins; using %.3g = (%d - 1) / 3", perplexity, n_proteins,
                   most, n_proteins)
    return most


def plot_tsne(
    profiles: str | os.PathLike,
    localization_standard: str | os.PathLike | None,
    process_standard: str | os.PathLike,
    out: str | os.PathLike,
    *,
    processes: Sequence[str] | None = None,
    perplexity: float = 40,
    seed: int = 0,
    aliases: Mapping[str, str] | None = None,
    name: str | None = None,
    overwrite: bool = False,
) -> list[Path]:
    """Figure 2: t-SNE of protein profiles by localization, and KDE clouds of bioprocesses.

    The title names the representation (``name``, else the method recorded in the profiles,
    else the file's stem).

    Left: every protein coloured by its localization class, by default the class the
    model was trained on (the profiles' ``Metadata_Label``, the most common label of the
    protein's cells; the study's 17 classes); with a localization standard instead, the
    proteins of a single group coloured by it. Proteins without a class are grey.
    Right: for each process (default: the :data:`TSNE_PROCESSES` largest, the study's
    number), a Gaussian KDE (Scott's rule) of its members' t-SNE coordinates, drawn as
    filled contours above the 50 % density level over the grey cloud of all proteins, on
    axes fitted to the whole clouds; the legend gives each process's id, its name when the
    standard is a GMT whose description column names it, and its number of proteins.

    Parameters
    ----------
    profiles : path
        Per-protein Parquet profiles (``Metadata_Protein``; ``Metadata_Label`` for the
        default colours).
    localization_standard : path or None
        None: colour by ``Metadata_Label``. Otherwise a standard file (GMT, TSV or JSON),
        e.g. built with ``standards build --from huh2003``.
    process_standard : path
        The biological-process standard (GMT, TSV or JSON).
    out : path
        Directory to create (``figure2_tsne.png``/``.svg``/``.csv``).
    processes : sequence of str, optional
        Process groups to draw (default: the :data:`TSNE_PROCESSES` largest after restriction).
    perplexity : float, default 40
        Lowered to a third of the proteins (less one) when they are too few for it, with a warning.
    seed : int, default 0
    aliases : mapping, optional
        Gene name -> ORF map.
    name : str, optional
        The representation's name in the title.
    overwrite : bool, default False

    Returns
    -------
    list of pathlib.Path

    Raises
    ------
    InputError
        Unknown process names, fewer than 4 proteins, profiles without labels when no
        localization standard is given, or bad inputs.
    """
    from sklearn.manifold import TSNE

    inputs = _checked_out(out, "plot tsne", overwrite=overwrite, inputs=(profiles, localization_standard, process_standard))
    table = read_profiles(profiles)
    if "Metadata_Protein" not in table.meta:
        raise file_error(profiles, "no Metadata_Protein column; t-SNE needs one row per protein")
    proteins = table.meta["Metadata_Protein"].astype(str).tolist()
    perplexity = _tsne_perplexity(perplexity, len(proteins), profiles)
    if localization_standard is None:
        labels = table.meta["Metadata_Label"].fillna("").astype(str) if "Metadata_Label" in table.meta else None
        if labels is None or not (labels != "").any():
            raise file_error(profiles, "no localization labels (Metadata_Label) to colour by; extract from a "
                                       "labelled store or pass a localization standard")
        single = labels.tolist()
    else:
        localization, _ = _standards.restrict(_standards.load_standard(localization_standard), proteins,
                                              aliases=aliases, min_group_size=1)
        where: dict[str, list[str]] = {}
        for group, ids in localization.items():
            for protein in ids:
                where.setdefault(protein, []).append(group)
        single = [where[p][0] if len(where.get(p, [])) == 1 else "" for p in proteins]
    process, _ = _standards.restrict(_standards.load_standard(process_standard), proteins, aliases=aliases)
    if processes is None:
        processes = sorted(process, key=lambda g: (-len(process[g]), g))[:TSNE_PROCESSES]
    unknown = [p for p in processes if p not in process]
    if unknown:
        raise InputError(f"unknown process {unknown[0]!r} in {os.fspath(process_standard)}; "
                         f"e.g. {', '.join(sorted(process)[:5])}")
    coords = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(table.features)
    data = pd.DataFrame({
        "protein": proteins, "tsne_1": coords[:, 0], "tsne_2": coords[:, 1], "localization": single,
        "processes": [";".join(g for g in processes if p in process[g]) for p in proteins],
    })
    fig = Figure(figsize=(13, 6))
    left, right = fig.subplots(1, 2)
    for ax in (left, right):
        ax.scatter(coords[:, 0], coords[:, 1], s=3, color="0.85", linewidths=0)
        ax.set_xticks([])
        ax.set_yticks([])
    classes = sorted(set(single) - {""})
    for group, colour in zip(classes, _palette(len(classes)), strict=True):
        rows = data["localization"] == group
        left.scatter(data.loc[rows, "tsne_1"], data.loc[rows, "tsne_2"], s=4, color=colour, label=group)
    left.legend(markerscale=3, fontsize="x-small", frameon=False, loc="center left", bbox_to_anchor=(1, 0.5))
    left.set_title(f"Localization ({len(classes)} classes)")
    names = _standards.read_gmt_descriptions(process_standard) if Path(process_standard).suffix == ".gmt" else {}
    _draw_processes(right, coords, [process[g] for g in processes], proteins,
                    [f"{g} {names[g]}" if g in names else g for g in processes])
    right.legend(fontsize="x-small", frameon=False, loc="center left", bbox_to_anchor=(1, 0.5))
    right.set_title(f"Biological processes (KDE, {len(processes)})")
    if name is None:
        name = table.method if table.method != "unknown" else Path(profiles).stem
    fig.suptitle(f"{name}: t-SNE of {len(proteins)} protein profiles")
    _literal(fig).tight_layout()
    with atomic_path(out, overwrite=overwrite, owner="plot tsne", inputs=inputs) as tmp:
        paths = _save(fig, data, tmp, "figure2_tsne")
    return [Path(out) / p.name for p in paths]


def plot_monitor(
    monitor_csv: str | os.PathLike,
    out: str | os.PathLike,
    *,
    metrics: Sequence[str] | None = None,
    overwrite: bool = False,
) -> list[Path]:
    """Figure 3: the scores of the test cells per standard over training epochs, one line per run.

    One row of panels per metric (in Figure 1's order, :data:`FIGURE1_METRICS`, then any
    other), one column per standard; every run (``seed``) is one line over the epochs
    (counted from 1, as ``monitor.csv`` writes them). A dashed black line marks the standard's
    ``prevalence`` where the file has it (the AP of a uniformly random ranking of the pairs;
    the monitor measures no null). The title names the learning rate when the file has one ``lr`` (a sweep's
    ``RUN/monitor.csv`` holds the runs of the chosen rate).

    Parameters
    ----------
    monitor_csv : path
        A training run's ``monitor.csv`` (columns :data:`MONITOR_COLUMNS`, optionally
        ``prevalence`` and ``lr``).
    out : path
        Directory to create (``figure3_monitor.png``/``.svg``/``.csv``).
    metrics : sequence of str, optional
        Metrics to draw (default: every metric of the file).
    overwrite : bool, default False

    Returns
    -------
    list of pathlib.Path

    Raises
    ------
    InputError
        Missing columns, or a metric absent from the file (the metrics present are listed).
    """
    _checked_out(out, "plot monitor", overwrite=overwrite, inputs=(monitor_csv,))
    monitor_csv = Path(monitor_csv)
    if not monitor_csv.is_file():
        raise file_error(monitor_csv, "no such file")
    try:
        frame = pd.read_csv(monitor_csv)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise file_error(monitor_csv, f"not a CSV table: {exc}") from None
    missing = [c for c in MONITOR_COLUMNS if c not in frame.columns]
    if missing:
        raise file_error(monitor_csv, f"missing columns {missing}; expected {', '.join(MONITOR_COLUMNS)}")
    present = list(dict.fromkeys(map(str, frame["metric"])))
    wanted = present if metrics is None else list(metrics)
    absent = [m for m in wanted if m not in present]
    if absent or not wanted:
        raise file_error(monitor_csv, f"no rows for metric {(absent or wanted or [''])[0]!r}; the file has: "
                                      f"{', '.join(sorted(present)) or 'no rows'}")
    order = [m for m in FIGURE1_METRICS if m in wanted] + [m for m in wanted if m not in FIGURE1_METRICS]
    data = frame[frame["metric"].isin(order)].copy()
    data["metric"] = pd.Categorical(data["metric"], order, ordered=True)
    data = data.sort_values(["metric", "standard", "seed", "epoch"]).reset_index(drop=True)
    data["metric"] = data["metric"].astype(str)
    standards = list(dict.fromkeys(frame["standard"]))
    rates = sorted(set(data["lr"].dropna())) if "lr" in data else []
    fig = Figure(figsize=(3.6 * len(standards), 3.0 * len(order) + 0.4))
    axes = fig.subplots(len(order), len(standards), squeeze=False, sharex=True)
    colours = matplotlib.colormaps.get_cmap("tab10")
    seeds = sorted(data["seed"].unique())
    for row, metric in zip(axes, order, strict=True):
        for ax, standard in zip(row, standards, strict=True):
            rows = data[(data["metric"] == metric) & (data["standard"] == standard)]
            for seed, run in rows.groupby("seed"):
                ax.plot(run["epoch"], run["value"], marker="o", markersize=3, color=colours(seeds.index(seed) % 10),
                        label=f"seed {seed}")
            prevalence = float(rows["prevalence"].iloc[0]) if "prevalence" in rows and len(rows) else np.nan
            if np.isfinite(prevalence):
                ax.axhline(prevalence, color="black", linestyle="--", linewidth=1, label="prevalence")
            ax.set_title(standard if metric == order[0] else "")
            ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
            ax.spines[["top", "right"]].set_visible(False)
        row[0].set_ylabel(_label(metric))
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
    handles, names = axes[0, -1].get_legend_handles_labels()
    title = f"Test cells, {len(seeds)} run{'s' if len(seeds) != 1 else ''}"
    if len(rates) == 1:
        title += f", chosen learning rate {rates[0]:g}"
    fig.suptitle(title)
    _literal(fig).tight_layout()
    fig.legend(handles, names, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, fontsize="small")
    with atomic_path(out, overwrite=overwrite, owner="plot monitor", inputs=[monitor_csv]) as tmp:
        paths = _save(fig, data, tmp, "figure3_monitor")
    return [Path(out) / p.name for p in paths]
