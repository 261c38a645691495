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

__all__ = ["environment", "thread_configuration", "file_sha256", "write_run_record"]

_PACKAGES = ("deeploc-keras", "tensorflow", "keras", "numpy", "h5py", "scikit-learn", "scipy", "pandas",
             "pyarrow", "cp-measure", "dask", "copairs")


#: Environment variables that set the thread pools of TensorFlow and the numeric libraries.
_THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                     "OPENBLAS_NUM_THREADS")


def thread_configuration() -> dict[str, Any]:
    """The CPUs this process may use and the thread settings that shape a run's floating-point results.

    TensorFlow splits its reductions over its intra-op threads, so training gives the same
    weights only for the same thread configuration (op determinism does not remove this).
    TensorFlow's own settings are read only when it is already loaded (0: its default, one
    thread per CPU).

    Returns
    -------
    dict
        ``cpus``, ``intra_op_threads``, ``inter_op_threads`` (None when TensorFlow is not loaded)
        and the thread variables of the environment that are set.

    Examples
    --------
    >>> config = thread_configuration()
    >>> config["cpus"] >= 1 and set(config) == {"cpus", "intra_op_threads", "inter_op_threads", "variables"}
    True
    """
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    tf = sys.modules.get("tensorflow")
    threading = getattr(getattr(tf, "config", None), "threading", None)
    return {"cpus": cpus,
            "intra_op_threads": threading.get_intra_op_parallelism_threads() if threading else None,
            "inter_op_threads": threading.get_inter_op_parallelism_threads() if threading else None,
            "variables": {name: os.environ[name] for name in _THREAD_VARIABLES if name in os.environ}}


def environment() -> dict[str, Any]:
    """Versions of Python, the platform and the packages a run depends on, and its thread configuration.

    Returns
    -------
    dict
        ``{"python": ..., "platform": ..., "packages": {name: version or None}, "threads": ...}``.
        Packages are looked up in the installed metadata, never imported; ``threads`` is
        :func:`thread_configuration`.
    """
    packages = {}
    for name in _PACKAGES:
        try:
            packages[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            packages[name] = None
    return {"python": sys.version.split()[0], "platform": platform.platform(), "packages": packages,
            "threads": thread_configuration()}


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
