"""Tests of run records (deeploc_keras.core.records): environment, file hashes, the JSON record."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import pytest

from deeploc_keras import records
from deeploc_keras.core.errors import OutputExistsError
from deeploc_keras.core.records import environment, file_sha256, write_run_record


def test_file_sha256_matches_hashlib_across_blocks(tmp_path):
    path = tmp_path / "blob.bin"
    data = bytes(range(256)) * 41 + b"tail"
    path.write_bytes(data)
    expected = hashlib.sha256(data).hexdigest()
    assert file_sha256(path) == expected
    assert file_sha256(path, block_size=7) == expected
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert file_sha256(empty) == hashlib.sha256(b"").hexdigest()


def test_environment_reads_installed_versions(monkeypatch):
    monkeypatch.setattr(records, "_PACKAGES", ("numpy", "no-such-package-deeploc-test"))
    env = environment()
    assert env["python"] == sys.version.split()[0]
    assert env["packages"] == {"numpy": importlib.metadata.version("numpy"), "no-such-package-deeploc-test": None}
    assert isinstance(env["platform"], str) and env["platform"]


def test_environment_imports_none_of_the_packages():
    script = ("import sys; from deeploc_keras.core.records import environment; env = environment(); "
              "print(env['packages']['tensorflow'] is not None, 'tensorflow' in sys.modules, 'sklearn' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert proc.stdout.split() == ["True", "False", "False"]


def test_write_run_record_writes_json(tmp_path):
    path = tmp_path / "run" / "config.json"
    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    returned = write_run_record(path, command="extract", config={"layer": "fc_2", "out": Path("profiles")}, seed=3,
                                inputs={"store": "ab" * 32})
    assert returned == path
    record = json.loads(path.read_text())
    assert set(record) == {"command", "seed", "config", "inputs", "environment", "written"}
    assert record["command"] == "extract" and record["seed"] == 3
    assert record["config"] == {"layer": "fc_2", "out": "profiles"}
    assert record["inputs"] == {"store": "ab" * 32}
    assert record["environment"]["packages"]["numpy"] == importlib.metadata.version("numpy")
    written = dt.datetime.fromisoformat(record["written"])
    assert written.tzinfo is not None and before <= written <= dt.datetime.now(dt.timezone.utc)
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.json"]


def test_write_run_record_overwrites_unless_told_not_to(tmp_path):
    path = tmp_path / "config.json"
    write_run_record(path, command="train", config={"epochs": 1}, seed=None)
    write_run_record(path, command="train", config={"epochs": 2}, seed=None)
    record = json.loads(path.read_text())
    assert record["config"] == {"epochs": 2} and record["seed"] is None and record["inputs"] == {}
    with pytest.raises(OutputExistsError):
        write_run_record(path, command="train", config={"epochs": 3}, seed=None, overwrite=False)
    assert json.loads(path.read_text())["config"] == {"epochs": 2}
