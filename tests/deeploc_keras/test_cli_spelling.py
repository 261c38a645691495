"""The command line speaks its own language: CLI spellings in errors and usage lines, one name per option,
options that do nothing refused, and hints where a choice would mislead."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from deeploc_keras.cli import main


def _one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Untrained width-0.0625 models saved as .keras: DeepLoc study preset (no crop) and PCI."""
    from deeploc_keras.models.deeploc import build_deeploc
    from deeploc_keras.models.pci import build_pci

    folder = tmp_path_factory.mktemp("models")
    build_deeploc(4, preset="study", width=0.0625, image_shape=(64, 64, 2), seed=0,
                  class_names=[f"C{k}" for k in range(4)]).save(folder / "study.keras")
    build_pci(width=0.0625, seed=0).save(folder / "pci.keras")
    return folder


def test_train_refuses_seeds_without_lr_sweep(tiny_store, tmp_path):
    result = CliRunner().invoke(main, ["train", str(tiny_store), "--out", str(tmp_path / "run"), "--seeds", "0,1",
                                       "--width", "0.0625", "--epochs", "1", "--steps-per-epoch", "1", "--no-xla"])
    assert "Invalid value for --seeds: the seeds of a sweep need --lr-sweep; a single run takes --seed N" in \
        result.output and result.exit_code == 2
    assert not (tmp_path / "run").exists()


def test_train_standards_option_and_monitor_as_its_deprecated_alias(store_factory, tiny_standards, tmp_path):
    store = store_factory(tmp_path / "u.h5", labels=False)
    aliases = tmp_path / "SGD_features.tab"
    aliases.write_text("")
    alone = CliRunner().invoke(main, ["train", str(store), "--out", str(tmp_path / "r"), "--aliases", str(aliases)])
    assert "pass them with monitor (--standards)" in _one_error_line(alone)
    for option in ("--standards", "--monitor"):  # the standards reach train: --aliases is accepted, labels are not
        result = CliRunner().invoke(main, ["train", str(store), "--out", str(tmp_path / "r"), option,
                                           str(tiny_standards), "--aliases", str(aliases)])
        assert "no cell has a label" in _one_error_line(result)
        deprecated = "DeprecationWarning: `train --monitor` is deprecated and will be removed in the next release; " \
                     "use --standards"
        assert (deprecated in result.output) == (option == "--monitor")
    help_text = CliRunner().invoke(main, ["train", "--help"]).output
    assert "--standards PATH" in help_text and "--monitor" not in help_text


def test_usage_lines_show_the_current_spellings():
    for command, usage in ((["simulate"], "Usage: main simulate --out DIR [OPTIONS]\n"),
                           (["convert-checkpoint"], "Usage: main convert-checkpoint --out OUT.keras [OPTIONS] CKPT\n"),
                           (["import"], "Usage: main import --out OUT.h5 --format FORMAT [OPTIONS] SOURCE...\n")):
        assert CliRunner().invoke(main, [*command, "--help"]).output.startswith(usage)


def test_cli_errors_use_option_spellings_not_python_keywords(models, tiny_store, tmp_path):
    result = CliRunner().invoke(main, ["predict", str(tiny_store), "--model", str(models / "study.keras"), "--out",
                                       str(tmp_path / "calls"), "--tta", "5crop"])
    line = _one_error_line(result)
    assert line == "Error: --tta 5crop needs a preset with a crop (crop_size); use --tta center", line
    simulate = CliRunner().invoke(main, ["simulate", "--out", str(tmp_path / "s"), "--hierarchy", "synthetic",
                                         "--annotations", str(tmp_path)])
    assert _one_error_line(simulate).endswith("they need --hierarchy grounded")


def test_predict_on_a_pci_model_says_what_to_run_instead(models, tiny_store, tmp_path):
    result = CliRunner().invoke(main, ["predict", str(tiny_store), "--model", str(models / "pci.keras"), "--out",
                                       str(tmp_path / "calls")])
    line = _one_error_line(result)
    assert "is a 'pci' model, not 'deeploc'; predict classifies with a DeepLoc model (train --method deeploc); pci " \
           "features come from extract --method pci" in line
    assert "pass --method" not in line and not (tmp_path / "calls").exists()


def test_plot_tsne_lowers_the_perplexity_for_few_proteins_and_says_so(tmp_path, caplog):
    from deeploc_keras.core.profiles import ProfileWriter
    from eval import standards

    rng = np.random.default_rng(0)
    proteins = [f"P{i:02d}" for i in range(31)]
    with ProfileWriter(tmp_path / "p.parquet", info={"method": "Toy"}) as writer:
        writer.write(pd.DataFrame({"Metadata_Protein": proteins, "Metadata_Label": ["A", "B", "C"] * 10 + ["A"]}),
                     rng.normal(size=(31, 6)), [f"f_{i}" for i in range(6)])
    standards.write_gmt({"glycolysis": set(proteins[:12]), "transport": set(proteins[12:])}, tmp_path / "bp.gmt")
    with caplog.at_level(logging.WARNING, logger="eval.plots"):
        result = CliRunner().invoke(main, ["plot", "tsne", str(tmp_path / "p.parquet"), "--processes",
                                           str(tmp_path / "bp.gmt"), "--out", str(tmp_path / "fig")])
    assert result.exit_code == 0, result.output
    assert "perplexity 40 is too high for 31 proteins; using 10 = (31 - 1) / 3" in caplog.text
    assert len(pd.read_csv(tmp_path / "fig" / "figure2_tsne.csv")) == 31
