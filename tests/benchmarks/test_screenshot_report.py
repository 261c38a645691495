"""benchmarks/screenshot_report.py: a wide table overflows and is named; without PyQt6-WebEngine, one clear line."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "screenshot_report.py"
HAS_CHROMIUM = importlib.util.find_spec("PyQt6") is not None and \
    importlib.util.find_spec("PyQt6.QtWebEngineWidgets") is not None


def _run(tmp_path: Path) -> subprocess.CompletedProcess:
    page = tmp_path / "report.html"
    page.write_text("<html><body><h2>Wide</h2><table style='width:2000px'><tr><td>x</td></tr></table></body></html>")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run([sys.executable, str(SCRIPT), str(page), "--out", str(tmp_path / "shots")],
                          capture_output=True, text=True, env=env, timeout=300, check=False)


@pytest.mark.skipif(HAS_CHROMIUM, reason="PyQt6-WebEngine is installed: the screenshot test runs instead")
def test_screenshot_report_without_chromium_says_what_to_install(tmp_path):
    result = _run(tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "screenshot_report.py needs PyQt6-WebEngine: pip install 'deeploc-keras[screenshots]'")


@pytest.mark.skipif(not HAS_CHROMIUM, reason="needs PyQt6-WebEngine (pip install 'deeploc-keras[screenshots]')")
def test_screenshot_report_names_what_overflows(tmp_path):
    result = _run(tmp_path)
    assert result.returncode == 0, result.stderr
    overflow = re.search(r"sideways overflow (\d+) px", result.stdout)
    assert overflow and int(overflow.group(1)) > 500 and 'table 2000 px under "Wide"' in result.stdout
    assert (tmp_path / "shots" / "report_01.png").read_bytes()[:4] == b"\x89PNG"
