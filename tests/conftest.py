"""Shared fixtures: the real data in ../shared/data (skipped with a reason when absent)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# A suite started in the background of a non-interactive shell inherits SIGINT ignored, and so would every
# process a test starts: the tests that press Ctrl-C need those processes to take it as a terminal's user would.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# ``--doctest-modules`` (setup.cfg) would import every conftest.py as a module named ``conftest``;
# the packages' doctests are what it is for, so the fixture files are left to pytest's own loading.
collect_ignore_glob = ["*conftest.py"]


def _shared(sub: str) -> Path:
    path = SHARED_DATA / sub
    if not path.exists():
        pytest.skip(f"real test data {path} is absent (it lives in ../shared/data beside the checkout)")
    return path


@pytest.fixture(scope="session")
def pci_toy_dir() -> Path:
    """1,642 real yeast cells (5 proteins) as paired float32 TIFFs."""
    return _shared("real/pci_yeast_toy")


@pytest.fixture(scope="session")
def pifia_checkpoint_index() -> Path:
    """The index of arazd/pifia's pretrained weights (names, shapes, dtypes; the weight shard is absent)."""
    return _shared("real/pifia_checkpoint/pifia_weights_i0.index")


@pytest.fixture(scope="session")
def sql_data_csv() -> Path:
    """The original DeepLoc demo's CellProfiler table (361 cells)."""
    return _shared("real/deeploc_original/SQL_data.csv")


@pytest.fixture(scope="session")
def standards_dir() -> Path:
    """Real functional standards (SGD GO slim, Huh 2003, ICoN/BIONIC modules)."""
    return _shared("standards")
