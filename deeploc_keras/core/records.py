"""Run records: the resolved configuration, versions, seed and input hashes of every run."""

from __future__ import annotations

import datetime as _dt
import hashlib
import importlib.metadata
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

from .outputs import atomic_path

__all__ = ["environment", "file_sha256", "write_run_record"]

_PACKAGES = ("deeploc-keras", "tensorflow", "keras", "numpy", "h5py", "scikit-learn", "scipy", "pandas",
             "pyarrow", "cp-measure", "dask", "copairs")


def environment() -> dict[str, Any]:
    """Versions of Python, the platform and the packages a run depends on.

    Returns
    -------
    dict
        ``{"python": ..., "platform": ..., "packages": {name: version or None}}``.
        Packages are looked up in the installed metadata, never imported.
    """
    packages = {}
    for name in _PACKAGES:
        try:
            packages[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            packages[name] = None
    return {"python": sys.version.split()[0], "platform": platform.platform(), "packages": packages}


def file_sha256(path: str | os.PathLike, *, block_size: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, read in blocks.

    Parameters
    ----------
    path : str or os.PathLike
    block_size : int, default 1 MiB

    Returns
    -------
    str
        Hex digest.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(block_size):
            digest.update(block)
    return digest.hexdigest()


def write_run_record(
    path: str | os.PathLike,
    *,
    command: str,
    config: dict[str, Any],
    seed: int | None,
    inputs: dict[str, str] | None = None,
    overwrite: bool = True,
) -> Path:
    """Write a JSON record of a run (atomically).

    Parameters
    ----------
    path : str or os.PathLike
        Destination, e.g. ``RUN/config.json``.
    command : str
        The step that ran (``"train"``, ``"extract"``, ...).
    config : dict
        The resolved configuration (every default filled in).
    seed : int or None
        The seed of every random draw of the run.
    inputs : dict of str to str, optional
        Name -> hash of each input (file SHA-256 or store fingerprint).
    overwrite : bool, default True
        Replace an existing record (a resumed run rewrites its own).

    Returns
    -------
    pathlib.Path
    """
    record = {
        "command": command,
        "seed": seed,
        "config": config,
        "inputs": inputs or {},
        "environment": environment(),
        "written": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    path = Path(path)
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_text(json.dumps(record, indent=2, default=str))
    return path
