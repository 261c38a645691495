"""Safe outputs: refuse to overwrite, write under a temporary name, rename when complete."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from .errors import OutputExistsError

__all__ = ["check_output", "atomic_path", "remove_path"]


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
    return path


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
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        yield tmp
    except BaseException:
        remove_path(tmp)
        raise
    if path.exists():
        remove_path(path)
    os.replace(tmp, path)
