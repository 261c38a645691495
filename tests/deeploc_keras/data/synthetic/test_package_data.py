"""The package data a wheel ships: only files redistributable under BSD-3-Clause terms, each with a PROVENANCE row."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import deeploc_keras
from deeploc_keras.data.synthetic.annotations import package_annotations

SETUP_CFG = Path(deeploc_keras.__file__).resolve().parents[1] / "setup.cfg"
#: Licences that allow redistribution inside a BSD-3-Clause wheel with attribution.
REDISTRIBUTABLE = {"CC BY 4.0", "CC0", "MIT", "BSD-3-Clause", "public domain"}
#: Licence words that do not (copyleft, or terms restricting redistribution).
_LICENCE = re.compile(r"CC BY 4\.0|CC0|MIT|BSD-3-Clause|public domain|A?L?GPL[^;)|]*|KEGG[^;)|]*|restrict\w*",
                      re.IGNORECASE)


def _shipped_files() -> list[Path]:
    """The files setup.cfg's package_data puts into the wheel for deeploc_keras.data.synthetic."""
    config = configparser.ConfigParser()
    config.read(SETUP_CFG)
    patterns = config["options.package_data"]["deeploc_keras.data.synthetic"].replace(",", " ").split()
    root = Path(str(package_annotations())).parent
    return sorted({path for pattern in patterns for path in root.glob(pattern) if path.is_file()})


def _provenance_rows() -> dict[str, list[str]]:
    text = (package_annotations() / "PROVENANCE.md").read_text()
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if line.startswith("| `") and len(cells) == 6:
            rows[cells[0].strip("`")] = cells
    return rows


def test_wheel_package_data_is_redistributable_with_a_provenance_row_each():
    files = _shipped_files()
    rows = _provenance_rows()
    data = [f for f in files if f.name != "PROVENANCE.md"]
    assert data and len(data) + 1 == len(files)
    assert sorted(f.name for f in data) == sorted(rows)
    for path in data:
        licence = rows[path.name][4]
        found = {m.group(0).strip() for m in _LICENCE.finditer(licence)}
        assert found, (path.name, licence)
        assert found <= REDISTRIBUTABLE, (path.name, found - REDISTRIBUTABLE)
        assert rows[path.name][2] and f"{path.stat().st_size:,}" == rows[path.name][1]
