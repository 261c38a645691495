"""benchmarks/device_check.py --dry-run: the device check's every step, tiny on the CPU, in one markdown table."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "device_check.py"


@pytest.mark.slow
def test_device_check_dry_run_writes_one_table_of_every_step(tmp_path):
    out = tmp_path / "check.md"
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run([sys.executable, str(SCRIPT), "--dry-run", "--out", str(out)], capture_output=True,
                            text=True, env=env, cwd=tmp_path, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = out.read_text().splitlines()
    assert lines[:2] == ["| step | result |", "|---|---|"]
    steps = [line.split(" | ")[0].lstrip("| ") for line in lines[2:]]
    assert steps == ["device", "train deeploc-study batch 8 (XLA off)", "train pci batch 8 (XLA off)",
                     "train on a tiny screen (dry run)", "extract study width 0.0625, 64 cells, batch 32"]
    assert "every loss finite" in lines[5] and "cells/s" in lines[6]
    assert out.read_text() in result.stdout
