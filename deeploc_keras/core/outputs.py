"""Safe outputs: refuse to overwrite, write under a temporary name, rename when complete.

Temporary names are hidden siblings ``.<name>.<host>-<pid>-<tag>.partial``: a run
killed outright (SIGKILL, power loss) leaves one behind, and the next run writing
the same output removes the partials of processes that are no longer alive.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

from .errors import DISK_FULL, OutputExistsError, file_error, is_disk_full
from .lifetime import process_alive

__all__ = ["check_output", "atomic_path", "remove_path", "partial_path", "remove_stale_partials",
           "kept_on_interrupt", "kept_notes"]

logger = logging.getLogger(__name__)

_HOST = re.sub(r"[^A-Za-z0-9_.]", "_", socket.gethostname()) or "host"
_kept: dict[str, str] = {}


def check_output(path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Refuse an existing output unless ``overwrite``.

    Parameters
    ----------
    path : str or os.PathLike
        The file or directory about to be written.
    overwrite : bool, default False
        Allow replacing an existing output.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    OutputExistsError
        If ``path`` exists and ``overwrite`` is False.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(path)
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise file_error(parent, f"is a file, but a folder is needed here for {path}; "
                                         "choose another output path")
            break
    return path


def partial_path(path: str | os.PathLike) -> Path:
    """The hidden temporary sibling that ``path`` is written to before it is renamed into place.

    The name records this host and process id, so :func:`remove_stale_partials`
    can tell the leftovers of dead processes from files being written now.

    Parameters
    ----------
    path : str or os.PathLike
        Final name of the output.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import os
    >>> name = partial_path("out/cells.h5").name
    >>> name.startswith(".cells.h5.") and f"-{os.getpid()}-" in name and name.endswith(".partial")
    True
    """
    path = Path(path)
    return path.with_name(f".{path.name}.{_HOST}-{os.getpid()}-{uuid.uuid4().hex[:8]}.partial")


def remove_stale_partials(path: str | os.PathLike) -> list[Path]:
    """Delete the temporary siblings of ``path`` left by processes of this host that have died.

    Parameters
    ----------
    path : str or os.PathLike
        Final name of an output.

    Returns
    -------
    list of pathlib.Path
        The partial files or directories removed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "cells.h5"
    >>> dead = partial_path(out).name.replace(f"-{os.getpid()}-", "-999999999-")
    >>> _ = (out.parent / dead).write_text("half")
    >>> [p.name == dead for p in remove_stale_partials(out)]
    [True]
    """
    path = Path(path)
    if not path.parent.is_dir():
        return []
    pattern = re.compile(re.escape(f".{path.name}.{_HOST}-") + r"(\d+)-[0-9a-f]{8}\.partial")
    removed = []
    for candidate in path.parent.iterdir():
        match = pattern.fullmatch(candidate.name)
        if match and int(match.group(1)) != os.getpid() and not process_alive(int(match.group(1))):
            remove_path(candidate)
            removed.append(candidate)
    if removed:
        logger.info("removed %d stale partial output(s) of %s left by killed runs", len(removed), path)
    return removed


def kept_on_interrupt(path: str | os.PathLike, hint: str) -> None:
    """Record an output kept on purpose when the run is interrupted (shown by the CLI).

    Parameters
    ----------
    path : str or os.PathLike
        The kept file or directory, e.g. ``RUN/backup``.
    hint : str
        What to do with it, e.g. ``"resume with --resume"``.

    Examples
    --------
    >>> import tempfile
    >>> backup = tempfile.mkdtemp()
    >>> kept_on_interrupt(backup, "resume with --resume")
    >>> f"{backup} (resume with --resume)" in kept_notes()
    True
    >>> _ = _kept.pop(backup)
    """
    _kept[os.fspath(path)] = hint


def kept_notes() -> list[str]:
    """The outputs recorded with :func:`kept_on_interrupt` that exist, as ``"path (hint)"``."""
    return [f"{path} ({hint})" for path, hint in _kept.items() if os.path.exists(path)]


def remove_path(path: str | os.PathLike) -> None:
    """Delete a file or a directory tree if it exists.

    Parameters
    ----------
    path : str or os.PathLike
        A file, a link or a directory; nothing happens when it does not exist.
    """
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling of ``path``; rename it to ``path`` on success.

    On an exception (or an interrupt) the temporary file or directory is removed,
    so ``path`` never appears incomplete and an existing ``path`` is left untouched.

    Parameters
    ----------
    path : str or os.PathLike
        Final name of the output (file or directory).
    overwrite : bool, default False
        Replace an existing ``path``; otherwise refuse before anything is written.

    Yields
    ------
    pathlib.Path
        The temporary name to write to (it does not exist yet).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> with atomic_path(out) as tmp:
    ...     _ = tmp.write_text("done")
    >>> out.read_text()
    'done'
    """
    path = check_output(path, overwrite=overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(path)
    tmp = partial_path(path)
    try:
        yield tmp
        if path.exists():
            remove_path(path)
        os.replace(tmp, path)
    except OSError as exc:
        remove_path(tmp)
        if is_disk_full(exc):
            raise file_error(path, DISK_FULL) from exc
        raise
    except BaseException:
        remove_path(tmp)
        raise
