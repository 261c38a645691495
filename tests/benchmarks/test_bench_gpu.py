"""benchmarks/bench_gpu.py at tiny size on the CPU: one table with every row and column, finite positive rates."""

from __future__ import annotations

import csv
import math
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
SCRIPT = BENCHMARKS / "bench_gpu.py"
COLUMNS = ["model", "devices", "batch", "xla", "train_store", "train_memory", "ratio", "embed", "peak_MiB",
           "fwd_GFLOP", "MFU_%", "speedup"]
PEAK_TFLOPS = 0.01


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> tuple[str, list[dict[str, str]]]:
    out = tmp_path_factory.mktemp("bench_gpu") / "table.csv"
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--models", "study", "--width", "0.0625", "--batch-sizes", "8", "16",
         "--steps", "2", "--repeats", "1", "--cells", "32", "--no-xla", "--devices", "2",
         "--peak-tflops", str(PEAK_TFLOPS), "--csv", str(out)],
        capture_output=True, text=True, env=env, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    with open(out, newline="") as fh:
        return result.stdout, list(csv.DictReader(fh))


@pytest.mark.slow
def test_bench_gpu_prints_one_row_per_model_devices_and_batch(tiny_run):
    stdout, rows = tiny_run
    header = next(line for line in stdout.splitlines() if line.startswith("model "))
    assert header.split() == COLUMNS
    assert "policy float32" in stdout
    assert [(r["model"], r["devices"], r["batch"]) for r in rows] == [
        ("deeploc-study", "1", "8"), ("deeploc-study", "1", "16"), ("deeploc-study", "2", "8"),
        ("deeploc-study", "2", "16")]
    printed = [line.split() for line in stdout.splitlines() if line.startswith("deeploc-study")]
    assert printed == [[r[c] for c in COLUMNS] for r in rows]
    assert [r["xla"] for r in rows] == ["off"] * 4


@pytest.mark.slow
def test_bench_gpu_rates_are_finite_and_positive(tiny_run):
    from deeploc_keras.models.deeploc import build_deeploc
    from deeploc_keras.models.flops import forward_flops

    _, rows = tiny_run
    flops = forward_flops(build_deeploc(19, "study", 0.0625, image_shape=(64, 64, 2)))
    for r in rows:
        rates = [float(r[c]) for c in ("train_store", "train_memory", "embed", "peak_MiB")]
        assert all(math.isfinite(v) and v > 0 for v in rates), r
        assert float(r["ratio"]) == pytest.approx(float(r["train_store"]) / float(r["train_memory"]), abs=0.01)
        assert float(r["fwd_GFLOP"]) == pytest.approx(flops / 1e9, rel=1e-3)
        mfu = float(r["train_store"]) * 3 * flops / (int(r["devices"]) * PEAK_TFLOPS * 1e12)
        assert float(r["MFU_%"]) == pytest.approx(100 * mfu, rel=0.02, abs=0.01)
    one = {r["batch"]: float(r["train_store"]) for r in rows if r["devices"] == "1"}
    for r in rows:
        assert float(r["speedup"]) == pytest.approx(float(r["train_store"]) / one[r["batch"]], abs=0.01)


def test_bench_gpu_raises_on_existing_csv(tmp_path, monkeypatch, capsys):
    out = tmp_path / "table.csv"
    out.write_text("kept\n")
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    main = runpy.run_path(str(SCRIPT), run_name="bench_gpu")["main"]
    with pytest.raises(SystemExit) as exit_info:
        main(["--csv", str(out)])
    assert exit_info.value.code == 2
    assert f"{out}: exists; pass --overwrite to replace it" in capsys.readouterr().err
    assert out.read_text() == "kept\n"
