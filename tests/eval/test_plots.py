"""Tests of eval.plots: Figures 1-3 as PNG + SVG + data CSV, and the ``plot`` commands."""

from __future__ import annotations

from pathlib import Path

import matplotlib.collections
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from deeploc_keras.cli import main
from deeploc_keras.core.errors import InputError
from deeploc_keras.core.profiles import ProfileWriter
from eval import plots, standards
from eval.catalog import FIGURE1_METRICS, METRICS


def test_plot_summary_writes_png_svg_csv(tmp_path):
    rows = [{"representation": rep, "standard": std, "metric": metric, "value": 0.1 + k / 10,
             "sd": 0.02 if metric == "ami" else np.nan, "n_proteins": 10, "n_groups": 2, "prevalence": 0.05}
            for k, rep in enumerate(("DeepLoc", "CP")) for std in ("go_cc", "kegg")
            for metric in ("average_precision", "ami", "f_beta", "mean_average_precision")]
    paths = plots.plot_summary(pd.DataFrame(rows), tmp_path)
    assert [p.suffix for p in paths] == [".png", ".svg", ".csv"]
    data = pd.read_csv(paths[2])
    assert set(data["metric"]) == set(plots.FIGURE1_METRICS) and len(data) == 12
    assert paths[0].read_bytes()[:4] == b"\x89PNG" and b"<svg" in paths[1].read_bytes()[:500]


def _smallest_text_at_readme_width(fig) -> float:
    """The smallest text of ``fig`` in points once its PNG (tight box) is shown 880 px wide at 96 px per inch."""
    import matplotlib.text
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    width = fig.get_tightbbox(renderer).width + 0.2  # savefig's bbox_inches="tight" pads 0.1 in each side
    sizes = [t.get_fontsize() for t in fig.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text().strip()]
    return min(sizes) * (880 / 96) / max(width, 880 / 96)


def _ladder_summary():
    """DeepLoc and CP compared; DeepLoc's untrained twin, the labels and the generating parameters as references."""
    values = {"DeepLoc": 0.10, "CP": 0.07, "DeepLoc untrained": 0.08, "Localization labels": 0.12,
              "Generating parameters": 0.60}
    rows = [{"representation": rep, "standard": std, "metric": metric, "value": value, "sd": np.nan,
             "ci_low": value - 0.02, "ci_high": value + 0.03, "n_proteins": 10, "n_groups": 2, "prevalence": 0.05,
             "chance": 0.05, "chance_low": 0.04, "chance_high": 0.06}
            for rep, value in values.items() for std in ("go_cc", "kegg") for metric in ("average_precision", "f_beta")]
    rows += [{**row, "metric": "average_precision_within", "standard": "kegg", "prevalence": 0.2}
             for row in rows if row["metric"] == "f_beta" and row["standard"] == "kegg"]
    return pd.DataFrame(rows), ["DeepLoc untrained", "Localization labels", "Generating parameters"]


def test_plot_summary_draws_references_as_marks_on_the_methods_scale(tmp_path, monkeypatch):
    """The bars are the compared representations'; the y axis is theirs (not the generating parameters' 0.6); the
    untrained twin is a diamond on its method's bar, the labels a line, the generating parameters a ▲ with its value."""
    import matplotlib.pyplot as plt

    summary, references = _ladder_summary()
    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, data, out, stem: figures.append(fig) or [])
    plots.plot_summary(summary, tmp_path, metrics=("average_precision", "average_precision_within"),
                       references=references)
    fig = figures[0]
    for ax in fig.axes[:2]:
        bars = [p for p in ax.patches if p.get_height() > 0]
        assert sorted(round(b.get_height(), 3) for b in bars) == sorted([0.07, 0.1] * len(ax.get_xticks()))
        assert 0.13 <= ax.get_ylim()[1] < 0.6  # DeepLoc's interval reaches 0.13; the generating parameters are 0.6
        diamonds = np.concatenate([c.get_offsets() for c in ax.collections
                                   if isinstance(c, matplotlib.collections.PathCollection)])
        assert np.allclose(diamonds[:, 1], 0.08)
        levels = {round(seg[0][1], 3) for c in ax.collections if hasattr(c, "get_segments")
                  for seg in c.get_segments() if len(seg) == 2}
        assert 0.12 in levels and 0.6 not in levels  # the labels' line; no line at the generating parameters
        assert [t.get_text() for t in ax.texts].count("\u25b2 0.60") == len(ax.get_xticks())
    assert [t.get_text().split("\n")[0] for t in fig.axes[1].get_xticklabels()] == ["kegg"]  # the within panel
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[:2] == ["DeepLoc", "CP"] and "Localization labels" in legend and "Generating parameters" in legend
    plt.close(fig)


def test_figures_text_is_at_least_9_pt_at_readme_width(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, data, out, stem: figures.append(fig) or Path(out).mkdir() or [])
    summary, references = _ladder_summary()
    plots.plot_summary(summary, tmp_path / "f1", metrics=("average_precision", "f_beta", "average_precision_within"),
                       references=references)
    rng = np.random.default_rng(1)
    data = pd.DataFrame({"protein": [f"P{i:03d}" for i in range(102)], "localization": [f"CLASS{i % 17:02d}"
                                                                                        for i in range(102)]})
    coords = rng.normal(size=(102, 2)) * 10
    groups = [set(rng.choice(data["protein"], 5 + k % 7, replace=False)) for k in range(plots.TSNE_PROCESSES)]
    labels = [f"protein modification by small protein conjugation or removal {k}" for k in range(len(groups))]
    figures.append(plots._tsne_figure(data.assign(tsne_1=coords[:, 0], tsne_2=coords[:, 1]), coords, groups, labels,
                                      title="DeepLoc: t-SNE of 102 protein profiles", which="the 12 largest"))
    _monitor_rows().to_csv(tmp_path / "monitor.csv", index=False)
    plots.plot_monitor(tmp_path / "monitor.csv", tmp_path / "f3")
    for fig, name in zip(figures, ("Figure 1", "Figure 2", "Figure 3"), strict=True):
        assert _smallest_text_at_readme_width(fig) >= 9, name
        plt.close(fig)


def _monitor_rows(metrics=("f_beta", "average_precision"), seeds=(0, 1), epochs=3, lr=3e-4):
    return pd.DataFrame([{"epoch": e, "seed": s, "standard": std, "metric": metric, "value": 0.1 + 0.01 * e + s / 100,
                          "prevalence": 0.05 if std == "go_cc" else 0.02, "lr": lr}
                         for e in range(1, epochs + 1) for s in seeds for std in ("go_cc", "kegg") for metric in metrics])


def test_plot_monitor(tmp_path):
    monitor = tmp_path / "monitor.csv"
    _monitor_rows().to_csv(monitor, index=False)
    result = CliRunner().invoke(main, ["plot", "monitor", str(monitor), "--out", str(tmp_path / "fig3")])
    assert result.exit_code == 0, result.output
    data = pd.read_csv(tmp_path / "fig3" / "figure3_monitor.csv")
    assert len(data) == 24 and list(dict.fromkeys(data["metric"])) == ["average_precision", "f_beta"]
    assert (tmp_path / "fig3" / "figure3_monitor.svg").exists()
    one = CliRunner().invoke(main, ["plot", "monitor", str(monitor), "--metric", "f_beta", "--out", str(tmp_path / "f")])
    assert one.exit_code == 0 and set(pd.read_csv(tmp_path / "f" / "figure3_monitor.csv")["metric"]) == {"f_beta"}


def test_plot_monitor_draws_one_line_per_run_the_prevalence_and_the_rate(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, data, out, stem: figures.append(fig) or out.mkdir() or [])
    monitor = tmp_path / "monitor.csv"
    _monitor_rows(metrics=("f_beta", "ami", "average_precision"), seeds=(0, 1, 2)).to_csv(monitor, index=False)
    plots.plot_monitor(monitor, tmp_path / "fig3", standards=("kegg", "go_cc", "absent"))
    fig = figures[0]
    title = fig.texts[0].get_text()
    assert "chosen learning rate 0.0003" in title and "3 runs of 3 epochs" in title
    axes = np.array(fig.axes).reshape(3, 2)
    assert [ax.get_title() for ax in axes[0]] == ["kegg", "go cc"]  # Figure 1's order, as given
    assert all(ax.get_ylim()[0] == 0 for ax in axes.ravel())
    labels = [ax.get_ylabel().replace("\n", " ") for ax in axes[:, 0]]
    assert labels == [METRICS[m].label for m in FIGURE1_METRICS]  # Figure 1's order
    for row in axes:
        for ax, prevalence in zip(row, (0.02, 0.05), strict=True):
            runs = [line for line in ax.lines if line.get_label().startswith("seed")]
            assert [line.get_label() for line in runs] == ["seed 0", "seed 1", "seed 2"]
            assert all(list(line.get_xdata()) == [1, 2, 3] for line in runs)  # epochs from 1
            drawn = [line for line in ax.lines if line.get_label() == "prevalence"]
            assert len(drawn) == 1 and drawn[0].get_ydata()[0] == prevalence
    plt.close(fig)


def test_plot_monitor_raises_missing_metric(tmp_path):
    monitor = tmp_path / "monitor.csv"
    pd.DataFrame({"epoch": [1], "seed": [0], "standard": ["go_cc"], "metric": ["ami"], "value": [0.1]}).to_csv(
        monitor, index=False)
    with pytest.raises(InputError, match="no rows for metric 'f_beta'; the file has: ami"):
        plots.plot_monitor(monitor, tmp_path / "fig3", metrics=["f_beta"])
    assert not (tmp_path / "fig3").exists()


def test_plot_tsne_cli(tmp_path):
    rng = np.random.default_rng(0)
    proteins = [f"P{i:02d}" for i in range(60)]
    centres = rng.normal(size=(3, 8)) * 4
    features = centres[np.arange(60) % 3] + rng.normal(size=(60, 8))
    with ProfileWriter(tmp_path / "p.parquet", info={"method": "Toy"}) as writer:
        writer.write(pd.DataFrame({"Metadata_Protein": proteins}), features, [f"f_{i}" for i in range(8)])
    standards.write_gmt({name: {p for i, p in enumerate(proteins) if i % 3 == k}
                         for k, name in enumerate(("nucleus", "ER", "vacuole"))}, tmp_path / "loc.gmt")
    standards.write_gmt({"glycolysis": set(proteins[:20]), "transport": set(proteins[20:45])}, tmp_path / "bp.gmt")
    out = tmp_path / "fig2"
    args = ["plot", "tsne", str(tmp_path / "p.parquet"), "--localization", str(tmp_path / "loc.gmt"),
            "--processes", str(tmp_path / "bp.gmt"), "--perplexity", "10", "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    data = pd.read_csv(out / "figure2_tsne.csv")
    assert list(data.columns) == ["protein", "tsne_1", "tsne_2", "localization", "processes"]
    assert (data["localization"] == "ER").sum() == 20 and (out / "figure2_tsne.png").exists()
    bad = CliRunner().invoke(main, [*args[:-2], "--out", str(tmp_path / "x"), "--process", "meiosis"])
    assert bad.exit_code == 2 and "unknown process 'meiosis'" in bad.output and not (tmp_path / "x").exists()


def test_plot_summary_draws_intervals_measured_chance_and_n(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    rows = [{"representation": rep, "standard": std, "metric": metric, "value": 0.4 + k / 10,
             "sd": 0.02 if metric == "ami" else np.nan, "ci_low": np.nan if metric == "ami" else 0.3 + k / 10,
             "ci_high": np.nan if metric == "ami" else 0.45 + k / 10, "n_proteins": 10 + j, "n_groups": 2,
             "prevalence": 0.05 * (j + 1), "chance": 0.1 * (j + 1) + 0.02 * k, "chance_low": 0.05 * (j + 1) - 0.01 * k,
             "chance_high": 0.2 * (j + 1)}
            for k, rep in enumerate(("DeepLoc", "CP")) for j, std in enumerate(("go_cc", "kegg"))
            for metric in plots.FIGURE1_METRICS]
    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, data, out, stem: figures.append(fig) or [])
    plots.plot_summary(pd.DataFrame(rows), tmp_path)
    fig = figures[0]
    for ax, metric in zip(fig.axes, plots.FIGURE1_METRICS, strict=True):
        chance = [c for c in ax.collections if c.get_label() == "chance (null mean)"]
        levels = sorted({round(seg[0][1], 6) for c in ax.collections if hasattr(c, "get_segments")
                         for seg in c.get_segments() if len(seg) == 2 and seg[0][1] == seg[1][1]})
        assert chance, metric
        assert 0.11 in levels and 0.21 in levels  # the mean over the representations' null means
        band = [c for c in ax.collections if c.get_label() == "null, 95 % range"][0]
        y = band.get_paths()[0].vertices[:, 1]
        assert np.isclose(y.min(), 0.04) and np.isclose(y.max(), 0.2)  # lowest chance_low to highest chance_high
        assert [t.get_text() for t in ax.get_xticklabels()] == ["go cc\nn=10\n2 groups", "kegg\nn=11\n2 groups"]
        caps = [line for line in ax.lines if len(line.get_ydata()) > 0]
        ys = np.concatenate([line.get_ydata() for line in caps]) if caps else np.array([])
        if metric == "ami":
            assert np.isclose(ys, 0.42).any() and np.isclose(ys, 0.38).any()  # sd bars
        else:
            assert np.isclose(ys, 0.3).any() and np.isclose(ys, 0.45).any()  # interval bars
    assert fig.legends and sorted(t.get_text() for t in fig.legends[0].get_texts()) == [
        "CP", "DeepLoc", "chance (null mean)", "null, 95 % range"]
    plt.close(fig)


def test_plot_summary_draws_no_chance_where_none_was_measured(tmp_path, monkeypatch):
    rows = [{"representation": "A", "standard": "s", "metric": "average_precision", "value": 0.4, "n_proteins": 10,
             "n_groups": 2, "prevalence": 0.05, "chance": np.nan, "chance_low": np.nan, "chance_high": np.nan}]
    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, data, out, stem: figures.append(fig) or [])
    plots.plot_summary(pd.DataFrame(rows), tmp_path, metrics=("average_precision",))
    assert not [c for c in figures[0].axes[0].collections if "chance" in str(c.get_label())]


def test_plot_tsne_draws_a_tight_process(tmp_path):
    """A group whose KDE peak falls between grid points still gets its contour (no empty level range)."""
    rng = np.random.default_rng(0)
    proteins = [f"P{i:02d}" for i in range(48)]
    features = rng.normal(size=(48, 8))
    features[:3] = features[0] + 1e-4 * rng.normal(size=(3, 8))
    with ProfileWriter(tmp_path / "p.parquet", info={"method": "Toy"}) as writer:
        writer.write(pd.DataFrame({"Metadata_Protein": proteins}), features, [f"f_{i}" for i in range(8)])
    standards.write_gmt({"a": set(proteins[:24]), "b": set(proteins[24:])}, tmp_path / "loc.gmt")
    standards.write_gmt({"trio": set(proteins[:3]), "big": set(proteins[20:40])}, tmp_path / "bp.gmt")
    paths = plots.plot_tsne(tmp_path / "p.parquet", tmp_path / "loc.gmt", tmp_path / "bp.gmt", tmp_path / "fig",
                      perplexity=10)
    table = pd.read_csv(tmp_path / "fig" / "figure2_tsne.csv")
    assert {p.name for p in paths} == {"figure2_tsne.png", "figure2_tsne.svg", "figure2_tsne.csv"}
    assert (table["processes"] == "trio").sum() == 3


def test_plot_summary_svg_is_reproducible(tmp_path):
    rows = [{"representation": rep, "standard": std, "metric": metric, "value": 0.1 + k / 10,
             "sd": 0.02 if metric == "ami" else np.nan, "n_proteins": 10, "n_groups": 2, "prevalence": 0.05}
            for k, rep in enumerate(("DeepLoc", "CP")) for std in ("go_cc", "kegg")
            for metric in ("average_precision", "ami", "f_beta", "mean_average_precision")]
    first = plots.plot_summary(pd.DataFrame(rows), tmp_path / "a")[1].read_bytes()
    second = plots.plot_summary(pd.DataFrame(rows), tmp_path / "b")[1].read_bytes()
    assert b"<dc:date>" not in first
    assert b'id="' in first  # element ids exist, and are the same in both files
    assert first == second


def _labelled_profiles(path, n_classes=17, per_class=6, seed=0):
    rng = np.random.default_rng(seed)
    proteins = [f"P{i:03d}" for i in range(n_classes * per_class)]
    labels = [f"CLASS{i % n_classes:02d}" for i in range(len(proteins))]
    centres = rng.normal(size=(n_classes, 8)) * 5
    features = centres[np.arange(len(proteins)) % n_classes] + rng.normal(size=(len(proteins), 8))
    with ProfileWriter(path, info={"method": "Toy"}) as writer:
        writer.write(pd.DataFrame({"Metadata_Protein": proteins, "Metadata_Label": labels}), features,
                     [f"f_{i}" for i in range(8)])
    return proteins, labels


def test_plot_tsne_colours_the_trained_classes_and_names_the_largest_processes(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    proteins, labels = _labelled_profiles(tmp_path / "p.parquet")
    rng = np.random.default_rng(1)
    bp = {f"process {k:02d}": set(rng.choice(proteins, 5 + k % 7, replace=False)) for k in range(30)}
    standards.write_gmt(bp, tmp_path / "bp.gmt")
    figures = []
    real_save = plots._save
    monkeypatch.setattr(plots, "_save", lambda fig, data, out, stem: figures.append(fig) or real_save(fig, data, out, stem))
    plots.plot_tsne(tmp_path / "p.parquet", None, tmp_path / "bp.gmt", tmp_path / "fig", perplexity=10)
    data = pd.read_csv(tmp_path / "fig" / "figure2_tsne.csv")
    assert list(data["localization"]) == labels  # every protein coloured by its trained class
    left, right = figures[0].axes[0], figures[0].axes[2]
    assert sorted(t.get_text() for t in left.get_legend().get_texts()) == sorted(set(labels))
    colours = {tuple(np.round(c.get_facecolor()[0], 4)) for c in left.collections[1:]}
    assert len(colours) == 17  # 17 distinct colours
    expected = sorted(bp, key=lambda g: (-len(bp[g]), g))[:plots.TSNE_PROCESSES]
    names = [t.get_text() for t in right.get_legend().get_texts()]
    assert plots.TSNE_PROCESSES == 12 and names == [f"{g} ({len(bp[g])})" for g in expected]
    plt.close(figures[0])
    with pytest.raises(InputError, match="no localization labels"):
        unlabelled = tmp_path / "u.parquet"
        with ProfileWriter(unlabelled, info={"method": "Toy"}) as writer:
            writer.write(pd.DataFrame({"Metadata_Protein": proteins}), np.zeros((len(proteins), 2)), ["a", "b"])
        plots.plot_tsne(unlabelled, None, tmp_path / "bp.gmt", tmp_path / "fig_u", perplexity=10)


def test_plot_tsne_title_names_the_representation(tmp_path, monkeypatch):
    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, data, out, stem: figures.append(fig) or out.mkdir() or [])
    rng = np.random.default_rng(1)
    proteins = [f"P{i:02d}" for i in range(30)]
    with ProfileWriter(tmp_path / "p.parquet", info={"method": "DeepLoc"}) as writer:
        writer.write(pd.DataFrame({"Metadata_Protein": proteins}), rng.normal(size=(30, 4)),
                     [f"f_{i}" for i in range(4)])
    standards.write_gmt({"a": set(proteins[:15]), "b": set(proteins[15:])}, tmp_path / "loc.gmt")
    plots.plot_tsne(tmp_path / "p.parquet", tmp_path / "loc.gmt", tmp_path / "loc.gmt", tmp_path / "fig",
                    perplexity=5)
    assert figures[0]._suptitle.get_text() == "DeepLoc: t-SNE of 30 protein profiles"
    plots.plot_tsne(tmp_path / "p.parquet", tmp_path / "loc.gmt", tmp_path / "loc.gmt", tmp_path / "named",
                    perplexity=5, name="DeepLoc fc_2")
    assert figures[1]._suptitle.get_text() == "DeepLoc fc_2: t-SNE of 30 protein profiles"


def test_plot_tsne_names_processes_from_the_gmt_and_holds_every_cloud(tmp_path, monkeypatch):
    """Legend entries are the GMT's process names, one process per name (the largest); on the axes' border every
    cloud's density (Scott's KDE widened by the kernel floor, computed here with scipy) is below its half-peak
    level, so no cloud is cut off."""
    from scipy.stats import gaussian_kde, multivariate_normal

    figures, tables = [], []
    monkeypatch.setattr(plots, "_save", lambda fig, data, out, stem: figures.append(fig) or tables.append(data)
                        or out.mkdir() or [])
    proteins, _ = _labelled_profiles(tmp_path / "p.parquet")
    rng = np.random.default_rng(2)
    groups = {f"GO:{k:07d}": sorted(rng.choice(proteins, 4 + k, replace=False)) for k in range(6)}
    names = {"GO:0000000": "protein folding", "GO:0000003": "in autophagy", "GO:0000004": "in autophagy"}
    (tmp_path / "bp.gmt").write_text("".join(f"{g}\t{names.get(g, 'na')}\t" + "\t".join(m) + "\n"
                                             for g, m in groups.items()))
    plots.plot_tsne(tmp_path / "p.parquet", None, tmp_path / "bp.gmt", tmp_path / "fig", perplexity=10)
    right = figures[0].axes[2]
    labels = sorted(t.get_text() for t in right.get_legend().get_texts())
    assert labels == sorted(["protein folding (4)", "GO:0000001 (5)", "GO:0000002 (6)", "module in autophagy (8)",
                             "GO:0000005 (9)"])
    data = tables[0]
    drawn = {g: m for g, m in groups.items() if g != "GO:0000003"}
    assert not data["processes"].str.contains("GO:0000003").any()
    floor = plots.TSNE_KERNEL_FLOOR * np.ptp(data[["tsne_1", "tsne_2"]].to_numpy(), axis=0).max()
    (x0, x1), (y0, y1) = right.get_xlim(), right.get_ylim()
    t = np.linspace(0, 1, 400)
    border = np.hstack([np.vstack([x0 + t * (x1 - x0), np.full_like(t, y0)]),
                        np.vstack([x0 + t * (x1 - x0), np.full_like(t, y1)]),
                        np.vstack([np.full_like(t, x0), y0 + t * (y1 - y0)]),
                        np.vstack([np.full_like(t, x1), y0 + t * (y1 - y0)])]).T
    for group, members in drawn.items():
        points = data.loc[data["protein"].isin(members), ["tsne_1", "tsne_2"]].to_numpy()
        covariance = gaussian_kde(points.T).covariance + floor ** 2 * np.eye(2)
        kernels = [multivariate_normal(point, covariance) for point in points]
        density = lambda at: np.mean([k.pdf(at) for k in kernels], axis=0)  # noqa: E731, B023
        assert density(border).max() < 0.5 * density(points).max(), group
