"""What the installed package carries besides its modules: the typing marker of each top-level package."""

from __future__ import annotations

from pathlib import Path

from setuptools.config.setupcfg import read_configuration

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_ships_py_typed():
    package_data = read_configuration(ROOT / "setup.cfg")["options"]["package_data"]
    for package in ("deeploc_keras", "eval", "cellprofiler_features"):
        assert "py.typed" in package_data.get(package, []), package
        assert (ROOT / package / "py.typed").is_file(), package
