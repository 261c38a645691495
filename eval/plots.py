"""The study's figures: summary bars (Figure 1), t-SNE of protein profiles (Figure 2), training monitor (Figure 3).

Every figure is written as PNG and SVG with the data it shows beside it as CSV
(``<stem>.png``, ``<stem>.svg``, ``<stem>.csv``). Figures are ``matplotlib.figure.Figure``
objects rendered by their own canvas, so importing this module leaves the user's pyplot backend alone.
"""

from __future__ import annotations

import logging
import os
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.text
import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from deeploc_keras.core.errors import InputError, file_error
from deeploc_keras.core.outputs import atomic_path, check_output
from deeploc_keras.core.ownership import check_replaceable
from deeploc_keras.core.profiles import read_profiles
from eval import standards as _standards
from eval.catalog import FIGURE1_METRICS, METRICS

__all__ = ["MONITOR_COLUMNS", "TSNE_PROCESSES", "FIGURE_STYLE", "FIGURE_WIDTH", "UNTRAINED_SUFFIX",
           "TSNE_KERNEL_FLOOR", "plot_summary", "plot_tsne", "plot_monitor"]

logger = logging.getLogger(__name__)

#: columns of a training run's ``monitor.csv`` (``prevalence`` and ``lr`` are optional)
MONITOR_COLUMNS = ("epoch", "seed", "standard", "metric", "value")
#: bioprocesses drawn by default in Figure 2: the largest with distinct names (the study drew 23; at the README's
#: width more clouds overlap beyond reading)
TSNE_PROCESSES = 12
#: narrowest kernel of a Figure 2 cloud, as a share of the t-SNE map's extent
TSNE_KERNEL_FLOOR = 0.04
#: Text sizes of the figures: at most :data:`FIGURE_WIDTH` inches wide, shown 880 px wide (the README's column), no
#: text is below 9 pt.
FIGURE_STYLE = {"font.size": 10, "axes.titlesize": 10, "axes.labelsize": 10, "xtick.labelsize": 9,
                "ytick.labelsize": 9, "legend.fontsize": 9, "legend.title_fontsize": 9, "figure.titlesize": 11}
#: Width of every figure in inches (880 px at 96 px per inch is 9.2 in).
FIGURE_WIDTH = 9.0
#: Suffix of a reference that is a learned representation's untrained network (``"DeepLoc untrained"``).
UNTRAINED_SUFFIX = " untrained"
_REFERENCE_LINES = (("black", ":"), ("0.45", "--"), ("#bcbd22", "-."), ("#17becf", (0, (5, 1, 1, 1))),
                    ("#e377c2", (0, (1, 3))), ("0.45", (0, (8, 2))))


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
    """Figure 1: the compared representations as bars per standard, the references as marks on their scale.

    One panel per metric, one bar per compared representation (a method or a baseline) in each
    standard's group, its error bar the bootstrap interval (``ci_low``/``ci_high``) where it exists,
    else ``sd`` (AMI samples). A representation scored over several training runs
    (``runs_mean``/``runs_sd``/``n_runs`` of :mod:`eval.runs`) is drawn as the study drew it: the
    bar is the mean over the runs, the error bar their sd, the legend says so.

    The y axis is the compared representations' own: it reaches just past their bars, error bars
    and the null's range, never to a reference's value. The references (``references``) are marks
    on it: a reference named ``"<name> untrained"`` (:data:`UNTRAINED_SUFFIX`) is a black diamond
    on ``<name>``'s bar (its untrained network); every other reference (pixel statistics, labels,
    generating parameters) is a horizontal line across the standard's group, each in its own
    colour and dash; a reference above the axis is a triangle at its top with its value written
    beside. Every panel marks the measured chance with a black line (``chance``: the mean of the
    metric's null, :attr:`eval.catalog.Metric.null`, averaged over the representations drawn) and
    the null's 95 % range (the lowest ``chance_low`` to the highest ``chance_high``) as a grey band.
    Tick labels give the standard's number of proteins and groups; the legend is below the panels.
    The figure is :data:`FIGURE_WIDTH` inches wide with text of at least 9 pt (:data:`FIGURE_STYLE`).

    Parameters
    ----------
    summary : pandas.DataFrame
        ``summary.csv`` of :func:`eval.score.score` (representation, standard, metric, value, sd, ..., chance).
    out : path
        Directory to write into (created if needed).
    metrics : sequence of str, default :data:`FIGURE1_METRICS`
        Panels; metrics absent from ``summary`` are skipped. A panel shows the standards that have the metric.
    references : sequence of str, default ()
        Representations drawn as references (marks, not bars).
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
    compared = [r for r in present if r not in set(references)] or present
    marks = [r for r in present if r not in compared]
    twins = {r: r[:-len(UNTRAINED_SUFFIX)] for r in marks
             if r.endswith(UNTRAINED_SUFFIX) and r[:-len(UNTRAINED_SUFFIX)] in compared}
    lines = {r: _REFERENCE_LINES[k % len(_REFERENCE_LINES)] for k, r in enumerate(m for m in marks if m not in twins)}
    columns = 1 if len(panels) == 1 else 2
    with matplotlib.rc_context(FIGURE_STYLE):
        fig = Figure(figsize=(FIGURE_WIDTH, 3.1 * -(-len(panels) // columns) + 0.9))
        axes = fig.subplots(-(-len(panels) // columns), columns, squeeze=False)
        for ax in axes.ravel()[len(panels):]:
            ax.remove()
        labels: dict[str, str] = {}
        for ax, metric in zip(axes.ravel(), panels, strict=False):
            rows = data[data["metric"] == metric].set_index(["representation", "standard"])
            for rep, label in _summary_panel(ax, rows, compared, twins, lines).items():
                labels.setdefault(rep, label)
            ax.set_ylabel(_label(metric))
        legend = _summary_legend(labels, twins, lines, chance="chance" in data)
        height = 0.25 * -(-len(legend) // 3) + 0.1
        _literal(fig).tight_layout(rect=(0, height / fig.get_figheight(), 1, 1))
        fig.legend(legend, [h.get_label() for h in legend], loc="lower center", bbox_to_anchor=(0.5, 0), ncol=3,
                   frameon=False)
    return _save(fig, data, Path(out), stem)


def _label(metric: str) -> str:
    return METRICS[metric].label if metric in METRICS else metric


def _column(rows: pd.DataFrame, name: str, representation: str, standards: Sequence[str]) -> np.ndarray:
    if name not in rows:
        return np.full(len(standards), np.nan)
    return np.array([rows[name].get((representation, s), np.nan) for s in standards], dtype=float)


def _summary_panel(ax: Any, rows: pd.DataFrame, compared: Sequence[str], twins: Mapping[str, str],
                   lines: Mapping[str, tuple]) -> dict[str, str]:
    """One panel of Figure 1: bars of ``compared`` on their own scale, ``twins`` as diamonds, ``lines`` as lines.

    Returns each compared representation's legend label.
    """
    standards = list(dict.fromkeys(rows.index.get_level_values("standard")))
    colours = matplotlib.colormaps.get_cmap("tab10")
    width = 0.84 / len(compared)
    tops, labels = [0.0], {}
    for k, rep in enumerate(compared):
        x = np.arange(len(standards)) - 0.42 + width * (k + 0.5)
        heights, errors, label = _bars(rows, rep, standards)
        heights, labels[rep] = np.asarray(heights, dtype=float), label
        ax.bar(x, heights, width, yerr=errors, capsize=1.5, error_kw={"linewidth": 0.8}, linewidth=0,
               color=colours(k % 10))
        tops.append(np.nanmax(heights + (0 if errors is None else errors[1]), initial=0))
        for twin in (t for t, of in twins.items() if of == rep):
            values = _column(rows, "value", twin, standards)
            ax.scatter(x, values, marker="D", s=16, color="black", edgecolors="white", linewidths=0.6, zorder=4)
            tops.append(np.nanmax(values, initial=0))
    tops.append(_draw_chance(ax, rows, standards))
    top = 1.15 * max(tops) or 1.0
    ax.set_ylim(0, top)
    above = np.zeros(len(standards), dtype=int)
    for reference, (colour, dash) in lines.items():
        for i, value in enumerate(_column(rows, "value", reference, standards)):
            if not np.isfinite(value):
                continue
            if value <= top:
                ax.hlines(value, i - 0.46, i + 0.46, colors=colour, linestyles=dash, linewidth=1.8, zorder=3)
                continue
            ax.annotate(f"\u25b2 {value:.2f}", (i, top), xytext=(0, 3 + 12 * above[i]), textcoords="offset points",
                        ha="center", fontsize=9, color=colour, annotation_clip=False)
            above[i] += 1
    n = rows.groupby(level="standard")["n_proteins"].first()
    groups = rows.groupby(level="standard")["n_groups"].first() if "n_groups" in rows else {}
    ax.set_xticks(np.arange(len(standards)),
                  ["\n".join([*textwrap.wrap(s.replace("_", " "), 12), f"n={n.get(s, 0)}"]
                             + ([f"{groups.get(s)} groups"] if len(groups) else [])) for s in standards])
    ax.tick_params(axis="x", length=0)
    ax.spines[["top", "right"]].set_visible(False)
    return labels


def _summary_legend(labels: Mapping[str, str], twins: Mapping[str, str], lines: Mapping[str, tuple], *,
                    chance: bool) -> list:
    """Figure 1's legend: the compared representations, then the references, then chance."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    colours = matplotlib.colormaps.get_cmap("tab10")
    handles = [Patch(color=colours(k % 10), label=label) for k, label in enumerate(labels.values())]
    if twins:
        handles.append(Line2D([], [], marker="D", linestyle="none", color="black", markeredgecolor="white",
                              label="the bar's untrained network"))
    handles += [Line2D([], [], color=colour, linestyle=dash, linewidth=1.8, label=reference)
                for reference, (colour, dash) in lines.items()]
    if lines:
        handles.append(Line2D([], [], marker="^", linestyle="none", color="0.3",
                              label="a reference above the axis: its value"))
    if chance:
        handles += [Line2D([], [], color="black", linewidth=1.2, label="chance (null mean)"),
                    Patch(color="0.85", label="null, 95 % range")]
    return handles


def _draw_chance(ax: Any, rows: pd.DataFrame, standards: Sequence[str]) -> float:
    """The measured chance of each standard: the mean of the null means, and the null's 95 % range shaded.

    Returns the highest value drawn (0 without a chance column).
    """
    if "chance" not in rows:
        return 0.0
    by_standard = rows.groupby(level="standard")
    chance, low, high = by_standard["chance"].mean(), by_standard["chance_low"].min(), by_standard["chance_high"].max()
    top = 0.0
    for i, s in enumerate(standards):
        if not np.isfinite(chance.get(s, np.nan)):
            continue
        ax.fill_between([i - 0.46, i + 0.46], low[s], high[s], color="0.85", linewidth=0, zorder=0,
                        label="null, 95 % range")
        ax.hlines(chance[s], i - 0.46, i + 0.46, colors="black", linewidth=1.2, label="chance (null mean)")
        top = max(top, float(np.nanmax([chance[s], high[s]])))
    return top


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
    value, low, high, sd = (_column(rows, name, representation, standards)
                            for name in ("value", "ci_low", "ci_high", "sd"))
    below = np.where(np.isnan(low), sd, value - low)
    above = np.where(np.isnan(high), sd, high - value)
    if np.isnan(below).all():
        return None
    return np.nan_to_num(np.vstack([below, above]).clip(min=0))


def _palette(n: int) -> list:
    """``n`` distinct colours: tab10, then tab20's light shades, then tab20b (40 in all), cycled beyond."""
    colours = (list(matplotlib.colormaps["tab10"].colors) + list(matplotlib.colormaps["tab20"].colors[1::2])
               + list(matplotlib.colormaps["tab20b"].colors))
    return [colours[k % len(colours)] for k in range(n)]


def _cloud_covariance(points: np.ndarray, floor: float) -> np.ndarray:
    """A group's kernel covariance: Scott's rule (``n ** (-1/6)`` of the points' covariance, as
    :class:`scipy.stats.gaussian_kde`), plus ``floor ** 2`` in every direction, so a group of a few
    points, or of points on a line, is a readable cloud rather than a streak.

    Examples
    --------
    >>> _cloud_covariance(np.array([[0.0, 0.0], [1.0, 1.0]]), 0.5).round(3).tolist()
    [[0.25, 0.0], [0.0, 0.25]]
    """
    scott = np.cov(points.T) * len(points) ** (-1 / 3) if len(points) > 2 else np.zeros((2, 2))
    return scott + floor ** 2 * np.eye(2)


def _cloud_density(points: np.ndarray, covariance: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The mean of Gaussian kernels (``covariance``) on ``points``, at the rows of ``at``, up to a constant."""
    inverse = np.linalg.inv(covariance)
    density = np.zeros(len(at))
    for point in points:
        d = at - point
        density += np.exp(-0.5 * np.einsum("mi,ij,mj->m", d, inverse, d))
    return density / len(points)


def _cloud_bounds(points: np.ndarray, covariance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper corners of a box that holds the group's cloud.

    The density is the mean of n Gaussian kernels, so its peak is at least 1/n of a kernel's and
    outside the points' Mahalanobis distance d it is below exp(-d^2/2) of a kernel's: the
    half-peak region lies within d = sqrt(2 ln 2n) kernel standard deviations of a point.
    """
    reach = np.sqrt(2 * np.log(2 * len(points))) * np.sqrt(np.diag(covariance))
    return points.min(axis=0) - reach, points.max(axis=0) + reach


def _draw_cloud(ax: Any, points: np.ndarray, covariance: np.ndarray, grid: tuple[np.ndarray, np.ndarray],
                colour: Any, *, label: str) -> tuple[np.ndarray, np.ndarray]:
    """A group's cloud, filled above half its peak density and outlined; the drawn extent."""
    density = _cloud_density(points, covariance, np.column_stack([grid[0].ravel(), grid[1].ravel()]))
    density = density.reshape(grid[0].shape)
    peak = float(_cloud_density(points, covariance, points).max())  # the peak can fall between grid points
    levels = [0.5 * peak, max(peak, float(density.max()))]
    cloud = ax.contourf(grid[0], grid[1], density, levels=levels, colors=[colour], alpha=0.35)
    ax.contour(grid[0], grid[1], density, levels=levels[:1], colors=[colour], linewidths=1.2)
    ax.plot([], [], color=colour, linewidth=6, alpha=0.6, label=label)
    vertices = np.vstack([points, *(path.vertices for path in cloud.get_paths() if len(path.vertices))])
    return vertices.min(axis=0), vertices.max(axis=0)


def _draw_processes(ax: Any, coords: np.ndarray, groups: list[set[str]], proteins: list[str],
                    labels: list[str]) -> None:
    """Figure 2's process panel: each group's cloud on a grid that reaches past every cloud, axes fitted to them.

    Every kernel is at least :data:`TSNE_KERNEL_FLOOR` of the map's extent wide (:func:`_cloud_covariance`).
    """
    members = [np.asarray([p in group for p in proteins]) for group in groups]
    floor = TSNE_KERNEL_FLOOR * float(np.ptp(coords, axis=0).max())
    covariances = [_cloud_covariance(coords[m], floor) for m in members]
    boxes = [_cloud_bounds(coords[m], c) for m, c in zip(members, covariances, strict=True)]
    low = np.min([coords.min(axis=0), *(b[0] for b in boxes)], axis=0)
    high = np.max([coords.max(axis=0), *(b[1] for b in boxes)], axis=0)
    grid = np.meshgrid(np.linspace(low[0], high[0], 200), np.linspace(low[1], high[1], 200))
    extents = [(coords.min(axis=0), coords.max(axis=0))]
    for m, covariance, label, colour in zip(members, covariances, labels, _palette(len(groups)), strict=True):
        extents.append(_draw_cloud(ax, coords[m], covariance, grid, colour, label=f"{label} ({int(m.sum())})"))
    low, high = np.min([e[0] for e in extents], axis=0), np.max([e[1] for e in extents], axis=0)
    pad = 0.04 * (high - low)
    ax.set_xlim(low[0] - pad[0], high[0] + pad[0])
    ax.set_ylim(low[1] - pad[1], high[1] + pad[1])


def _process_name(group: str, names: Mapping[str, str]) -> str:
    """The legend's name of a process: its GMT description (``"in X"``, a module within X, reads
    ``"module in X"``), else its id.

    Examples
    --------
    >>> _process_name("GO:1", {"GO:1": "in RNA catabolic process"}), _process_name("GO:2", {})
    ('module in RNA catabolic process', 'GO:2')
    """
    name = names.get(group, group)
    return f"module {name}" if name.startswith("in ") else name


def _distinct_processes(process: Mapping[str, set[str]], names: Mapping[str, str], n: int) -> list[str]:
    """The ``n`` largest processes (ties: by id) with distinct names: of those sharing a name, the largest.

    Examples
    --------
    >>> _distinct_processes({"a": {1, 2, 3}, "b": {1, 2}, "c": {4}}, {"a": "x", "b": "x"}, 5)
    ['a', 'c']
    """
    chosen, seen = [], set()
    for group in sorted(process, key=lambda g: (-len(process[g]), g)):
        name = _process_name(group, names)
        if name not in seen:
            chosen.append(group)
            seen.add(name)
    return chosen[:n]


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


def _tsne_figure(data: pd.DataFrame, coords: np.ndarray, groups: list[set[str]], labels: list[str], *,
                 title: str, which: str) -> Figure:
    """Figure 2's two maps, one above the other, each with its legend on the right."""
    with matplotlib.rc_context(FIGURE_STYLE):
        fig = Figure(figsize=(FIGURE_WIDTH, 9.6))
        axes = fig.subplots(2, 2, gridspec_kw={"width_ratios": (1.3, 1.0)})
        for ax in axes[:, 0]:
            ax.scatter(coords[:, 0], coords[:, 1], s=4, color="0.85", linewidths=0)
            ax.set_xticks([])
            ax.set_yticks([])
        for ax in axes[:, 1]:
            ax.axis("off")
        localization, process = axes[:, 0]
        classes = sorted(set(data["localization"]) - {""})
        for group, colour in zip(classes, _palette(len(classes)), strict=True):
            rows = data["localization"] == group
            localization.scatter(data.loc[rows, "tsne_1"], data.loc[rows, "tsne_2"], s=7, color=colour, label=group)
        localization.set_title(f"Localization ({len(classes)} classes)")
        handles = localization.get_legend_handles_labels()
        localization.legend(*handles, markerscale=2, frameon=False, loc="center left", bbox_to_anchor=(1.02, 0.5),
                            ncol=2 if len(classes) > 12 else 1, columnspacing=0.8)
        _draw_processes(process, coords, groups, list(data["protein"]), labels)
        process.set_title(f"Biological processes: {which}\n(KDE cloud above half its peak; n proteins)")
        entries = process.get_legend_handles_labels()
        process.legend(entries[0], ["\n".join(textwrap.wrap(t, 34)) for t in entries[1]], frameon=False,
                       loc="center left", bbox_to_anchor=(1.02, 0.5))
        fig.suptitle(title)
        _literal(fig).tight_layout()
    return fig


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

    Top: every protein coloured by its localization class, by default the class the
    model was trained on (the profiles' ``Metadata_Label``, the most common label of the
    protein's cells; the study's 17 classes); with a localization standard instead, the
    proteins of a single group coloured by it. Proteins without a class are grey.
    Bottom: for each process (default: the :data:`TSNE_PROCESSES` largest with distinct names;
    of processes sharing a name, the largest), a Gaussian KDE (Scott's rule, each kernel at
    least :data:`TSNE_KERNEL_FLOOR` of the map wide) of its members' t-SNE coordinates, filled
    and outlined above half its peak density over the grey cloud of all proteins, on axes
    fitted to the whole clouds; the legend gives each process's name (the GMT's description
    when it has one, else its id) and its number of proteins. The figure is
    :data:`FIGURE_WIDTH` inches wide with text of at least 9 pt.

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
        Process groups to draw (default: the :data:`TSNE_PROCESSES` largest with distinct names after
        restriction).
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
    names = _standards.read_gmt_descriptions(process_standard) if Path(process_standard).suffix == ".gmt" else {}
    which = f"the {len(processes or ())} given"
    if processes is None:
        processes = _distinct_processes(process, names, TSNE_PROCESSES)
        which = f"the {len(processes)} largest with distinct names"
    unknown = [p for p in processes if p not in process]
    if unknown:
        raise InputError(f"unknown process {unknown[0]!r} in {os.fspath(process_standard)}; "
                         f"e.g. {', '.join(sorted(process)[:5])}")
    coords = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(table.features)
    data = pd.DataFrame({
        "protein": proteins, "tsne_1": coords[:, 0], "tsne_2": coords[:, 1], "localization": single,
        "processes": [";".join(g for g in processes if p in process[g]) for p in proteins],
    })
    if name is None:
        name = table.method if table.method != "unknown" else Path(profiles).stem
    fig = _tsne_figure(data, coords, [process[g] for g in processes],
                       [_process_name(g, names) for g in processes],
                       title=f"{name}: t-SNE of {len(proteins)} protein profiles", which=which)
    with atomic_path(out, overwrite=overwrite, owner="plot tsne", inputs=inputs) as tmp:
        paths = _save(fig, data, tmp, "figure2_tsne")
    return [Path(out) / p.name for p in paths]


def _monitor_figure(data: pd.DataFrame, order: Sequence[str], standards: Sequence[str]) -> Figure:
    """Figure 3's panels: a row per metric, a column per standard, a line per run, y from 0; legend below."""
    rates = sorted(set(data["lr"].dropna())) if "lr" in data else []
    seeds = sorted(data["seed"].unique())
    colours = matplotlib.colormaps.get_cmap("tab10")
    with matplotlib.rc_context(FIGURE_STYLE):
        fig = Figure(figsize=(FIGURE_WIDTH, 2.3 * len(order) + 1.2))
        axes = fig.subplots(len(order), len(standards), squeeze=False, sharex=True)
        for row, metric in zip(axes, order, strict=True):
            for ax, standard in zip(row, standards, strict=True):
                rows = data[(data["metric"] == metric) & (data["standard"] == standard)]
                for seed, run in rows.groupby("seed"):
                    ax.plot(run["epoch"], run["value"], marker="o", markersize=3,
                            color=colours(seeds.index(seed) % 10), label=f"seed {seed}")
                prevalence = float(rows["prevalence"].iloc[0]) if "prevalence" in rows and len(rows) else np.nan
                if np.isfinite(prevalence):
                    ax.axhline(prevalence, color="black", linestyle="--", linewidth=1, label="prevalence")
                ax.set_ylim(0, 1.1 * max(float(rows["value"].max()) if len(rows) else 0.0,
                                         np.nan_to_num(prevalence), 1e-3))
                ax.set_title("\n".join(textwrap.wrap(standard.replace("_", " "), 18)) if metric == order[0] else "")
                ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
                ax.spines[["top", "right"]].set_visible(False)
            row[0].set_ylabel("\n".join(textwrap.wrap(_label(metric), 16)))
        for ax in axes[-1]:
            ax.set_xlabel("epoch")
        epochs = int(data["epoch"].max())
        title = (f"{len(seeds)} run{'s' if len(seeds) != 1 else ''} of {epochs} epoch{'s' if epochs != 1 else ''}"
                 f", scored on the test cells after each epoch")
        if len(rates) == 1:
            title += f"; chosen learning rate {rates[0]:g}"
        fig.suptitle(title)
        handles, names = axes[0, -1].get_legend_handles_labels()
        _literal(fig).tight_layout(rect=(0, 0.45 / fig.get_figheight(), 1, 1))
        fig.legend(handles, names, loc="lower center", bbox_to_anchor=(0.5, 0), ncol=len(names), frameon=False)
    return fig


def plot_monitor(
    monitor_csv: str | os.PathLike,
    out: str | os.PathLike,
    *,
    metrics: Sequence[str] | None = None,
    standards: Sequence[str] | None = None,
    overwrite: bool = False,
) -> list[Path]:
    """Figure 3: the scores of the test cells per standard over training epochs, one line per run.

    One row of panels per metric (in Figure 1's order, :data:`FIGURE1_METRICS`, then any
    other), one column per standard; every run (``seed``) is one line over the epochs
    (counted from 1, as ``monitor.csv`` writes them) on a y axis from 0. A dashed black line marks the standard's
    ``prevalence`` where the file has it (the AP of a uniformly random ranking of the pairs;
    the monitor measures no null). The title gives the number of runs and of epochs trained, and the learning
    rate when the file has one ``lr`` (a sweep's ``RUN/monitor.csv`` holds the runs of the chosen rate).

    Parameters
    ----------
    monitor_csv : path
        A training run's ``monitor.csv`` (columns :data:`MONITOR_COLUMNS`, optionally
        ``prevalence`` and ``lr``).
    out : path
        Directory to create (``figure3_monitor.png``/``.svg``/``.csv``).
    metrics : sequence of str, optional
        Metrics to draw (default: every metric of the file).
    standards : sequence of str, optional
        The order of the columns, as in Figure 1 (default: the file's order); standards of the file not named
        follow, names absent from the file are skipped.
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
    present = list(dict.fromkeys(frame["standard"]))
    standards = [s for s in standards or () if s in present] + [s for s in present if s not in (standards or ())]
    fig = _monitor_figure(data, order, standards)
    with atomic_path(out, overwrite=overwrite, owner="plot monitor", inputs=[monitor_csv]) as tmp:
        paths = _save(fig, data, tmp, "figure3_monitor")
    return [Path(out) / p.name for p in paths]
