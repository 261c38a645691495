"""Tests of eval.plots: Figures 1-3 as PNG + SVG + data CSV, and the ``plot`` commands."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from deeploc_keras.cli import main
from deeploc_keras.errors import InputError
from deeploc_keras.profiles import ProfileWriter
from eval import plots, standards


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


def test_plot_monitor(tmp_path):
    rows = [{"epoch": e, "seed": s, "standard": std, "metric": "f_beta", "value": 0.1 + 0.01 * e + s / 100}
            for e in range(3) for s in (0, 1) for std in ("go_cc", "kegg")]
    monitor = tmp_path / "monitor.csv"
    pd.DataFrame(rows).to_csv(monitor, index=False)
    result = CliRunner().invoke(main, ["plot", "monitor", str(monitor), "--out", str(tmp_path / "fig3")])
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(tmp_path / "fig3" / "figure3_monitor.csv")) == 12
    assert (tmp_path / "fig3" / "figure3_monitor.svg").exists()


def test_plot_monitor_raises_missing_metric(tmp_path):
    monitor = tmp_path / "monitor.csv"
    pd.DataFrame({"epoch": [0], "seed": [0], "standard": ["go_cc"], "metric": ["ami"], "value": [0.1]}).to_csv(
        monitor, index=False)
    with pytest.raises(InputError, match="no rows for metric 'f_beta'; the file has: ami"):
        plots.plot_monitor(monitor, tmp_path / "fig3")
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
