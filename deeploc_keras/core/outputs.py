"""Safe outputs: refuse to overwrite, write under a temporary name, rename when complete.

Temporary names are hidden siblings ``.<name>.<host>-<pid>-<tag>.partial``: a run
killed outright (SIGKILL, power loss) leaves one behind, and the next run writing
the same output removes the partials of processes that are no longer alive.

An output is published by one rename that never replaces a file that appeared after
the check (``renameat2`` with ``RENAME_NOREPLACE``); a replaced output is exchanged
with the new one in one step (``RENAME_EXCHANGE``) and deleted afterwards. Each
output is written under its lock (:mod:`deeploc_keras.core.locking`), so a second
writer is refused.

``overwrite`` replaces only what is recognisably the command's own output
(:mod:`deeploc_keras.core.ownership`).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import logging
import os
import re
import shutil
import socket
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from .errors import OutputExistsError, file_error, write_problem
from .lifetime import process_alive
from .locking import output_lock
from .ownership import (
    check_not_an_input,
    check_replaceable,
    entries,
    inside,
    read_record,
    record_name,
    write_owner_record,
)

__all__ = ["check_output", "atomic_path", "remove_path", "partial_path", "remove_stale_partials", "remove_leftovers",
           "kept_on_interrupt", "kept_notes", "check_own_outputs", "publish", "writing_dir", "made_dir"]

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


def _siblings(path: Path, suffix: str) -> Iterator[tuple[Path, int]]:
    """The hidden siblings ``.<name>.<this host>-<pid>-<tag><suffix>`` of ``path``, with their process ids."""
    if not path.parent.is_dir():
        return
    pattern = re.compile(re.escape(f".{path.name}.{_HOST}-") + r"(\d+)-[0-9a-f]{8}" + re.escape(suffix))
    for candidate in path.parent.iterdir():
        match = pattern.fullmatch(candidate.name)
        if match:
            yield candidate, int(match.group(1))


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
    removed = []
    for candidate, pid in _siblings(Path(path), ".partial"):
        if pid != os.getpid() and not process_alive(pid):
            remove_path(candidate)
            removed.append(candidate)
    if removed:
        logger.info("removed %d stale partial output(s) of %s left by killed runs", len(removed), path)
    return removed


def remove_leftovers(path: str | os.PathLike) -> None:
    """Delete what killed processes left beside ``path``: their partials and an unheld lock file.

    Parameters
    ----------
    path : str or os.PathLike
        An output about to be written again (a resumed run's ``history.csv`` ...).

    Raises
    ------
    OutputLockedError
        If another process holds the lock of ``path``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from deeploc_keras.core.locking import lock_path
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "history.csv"
    >>> _ = lock_path(out).write_text('{"host": "h", "pid": 999999999}')
    >>> remove_leftovers(out)
    >>> lock_path(out).exists()
    False
    """
    remove_stale_partials(path)
    with output_lock(path):
        pass


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


def check_own_outputs(folder: str | os.PathLike, names: Sequence[str], *, command: str, overwrite: bool = False,
                      inputs: Iterable[str | os.PathLike | None] = ()) -> None:
    """Check the files a command writes into a folder it shares with others (``extract --out RUN``).

    Existing files among ``names`` are refused without ``overwrite``; with it they are
    replaced only when ``folder`` holds ``command``'s record (:func:`read_record`), and
    none of them may be an input.

    Parameters
    ----------
    folder : str or os.PathLike
    names : sequence of str
        The files the command writes into ``folder`` (its record included).
    command : str
    overwrite : bool, default False
    inputs : iterable of path or None, default ()

    Raises
    ------
    OutputExistsError, InputError

    Examples
    --------
    >>> import tempfile, pathlib
    >>> run = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (run / "cells.parquet").write_text("someone else's")
    >>> check_own_outputs(run, ["cells.parquet", "extract.json"], command="extract", overwrite=True)
    Traceback (most recent call last):
    ...
    deeploc_keras.core.errors.InputError: ...cells.parquet: was not written by extract (no extract.json beside it); --overwrite replaces only extract's own outputs: choose another output folder
    """
    folder = Path(folder)
    for name in names:
        check_output(folder / name, overwrite=overwrite)
        check_not_an_input(folder / name, inputs, command=command)
    existing = [name for name in names if os.path.lexists(folder / name)]
    if existing and read_record(folder, command) is None:
        raise file_error(folder / existing[0], f"was not written by {command} (no {record_name(command)} beside "
                                               f"it); --overwrite replaces only {command}'s own outputs: choose "
                                               "another output folder")


_AT_FDCWD = -100
_RENAME_NOREPLACE, _RENAME_EXCHANGE = 1, 2
_libc: Any = None


def _renameat2(src: Path, dst: Path, flags: int) -> bool:
    """``renameat2(2)``; False where the system or the file system does not offer it (then the caller falls back)."""
    global _libc
    if _libc is None:
        try:
            _libc = ctypes.CDLL(None, use_errno=True)
            _libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        except (OSError, AttributeError):
            _libc = False
    if not _libc:
        return False
    if _libc.renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), os.fspath(dst))


def publish(tmp: str | os.PathLike, path: str | os.PathLike, *, replace: bool = False) -> None:
    """Move the finished ``tmp`` to ``path`` in one rename.

    Without ``replace`` the rename never replaces anything: an output that appeared
    at ``path`` after it was checked raises :class:`OutputExistsError`. With
    ``replace`` an existing ``path`` is exchanged with ``tmp`` in one step (readers see
    the old or the new output, never neither) and then deleted.

    Parameters
    ----------
    tmp : str or os.PathLike
        The complete output under its temporary name.
    path : str or os.PathLike
        Its final name.
    replace : bool, default False
        Replace an existing ``path`` (checked by the caller).

    Raises
    ------
    OutputExistsError
        If ``path`` exists and ``replace`` is False.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "new").write_text("new")
    >>> _ = (folder / "out").write_text("appeared meanwhile")
    >>> publish(folder / "new", folder / "out")
    Traceback (most recent call last):
    ...
    deeploc_keras.core.errors.OutputExistsError: ...out: output already exists; pass --overwrite to replace it
    >>> publish(folder / "new", folder / "out", replace=True)
    >>> (folder / "out").read_text(), (folder / "new").exists()
    ('new', False)
    """
    tmp, path = Path(tmp), Path(path)
    if replace and os.path.lexists(path):
        if _renameat2(tmp, path, _RENAME_EXCHANGE):
            remove_path(tmp)
        else:
            remove_path(path)
            os.replace(tmp, path)
        return
    try:
        if _renameat2(tmp, path, _RENAME_NOREPLACE):
            return
    except FileExistsError:
        raise OutputExistsError(path) from None
    if os.path.lexists(path):
        raise OutputExistsError(path)
    if tmp.is_dir():
        os.rename(tmp, path)
        return
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise OutputExistsError(path) from None
    except OSError:
        os.rename(tmp, path)
        return
    tmp.unlink()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, overwrite: bool = False, owner: str | None = None,
                inputs: Iterable[str | os.PathLike | None] = ()) -> Iterator[Path]:
    """Yield a temporary sibling of ``path``; rename it to ``path`` on success.

    On an exception (or an interrupt) the temporary file or directory is removed,
    so ``path`` never appears incomplete and an existing ``path`` is left untouched.
    The output's lock is held throughout (a second writer is refused), and the final
    rename never replaces an output that appeared meanwhile (:func:`publish`).

    Parameters
    ----------
    path : str or os.PathLike
        Final name of the output (file or directory).
    overwrite : bool, default False
        Replace an existing ``path``; otherwise refuse before anything is written.
    owner : str, optional
        The command writing a folder output: the finished folder gets its record
        (:func:`write_owner_record`), and ``overwrite`` replaces only a folder that
        :func:`check_replaceable` recognises as this command's output.
    inputs : iterable of path or None, default ()
        The command's inputs: an output that is or holds one is refused under ``overwrite``.

    Yields
    ------
    pathlib.Path
        The temporary name to write to (it does not exist yet).

    Raises
    ------
    OutputExistsError, InputError
        An existing output without ``overwrite``, or one that is not the command's own.
    OutputLockedError
        If another process writes ``path``.

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
    if path.name in ("", ".", ".."):
        path = Path(os.path.abspath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    with output_lock(path):
        existed = os.path.lexists(path)
        if existed and not overwrite:
            raise OutputExistsError(path)
        if owner is not None:
            check_replaceable(path, command=owner, inputs=inputs)
        else:
            check_not_an_input(path, inputs, command="this command")
        remove_stale_partials(path)
        tmp = partial_path(path)
        try:
            yield tmp
            if owner is not None and tmp.is_dir():
                write_owner_record(tmp, owner)
            publish(tmp, path, replace=existed)
        except OSError as exc:
            remove_path(tmp)
            problem = write_problem(exc)
            if problem is not None:
                raise file_error(path, problem) from exc
            raise
        except BaseException:
            remove_path(tmp)
            raise


def _remove_previous(path: Path) -> None:
    """Delete the set-aside previous outputs of ``path`` (of this process or of dead ones)."""
    for candidate, pid in _siblings(path, ".previous"):
        if pid == os.getpid() or not process_alive(pid):
            remove_path(candidate)
            _kept.pop(os.fspath(candidate), None)


@contextlib.contextmanager
def writing_dir(path: str | os.PathLike, *, command: str, overwrite: bool = False, resume: bool = False,
                inputs: Iterable[str | os.PathLike | None] = (), names: Sequence[str] = ()) -> Iterator[Path]:
    """Hold the lock of an output folder written in place (a training or reproduce run) while the block runs.

    An existing folder is refused unless ``resume`` (continue it) or ``overwrite``; under
    ``overwrite`` it must be ``command``'s own (:func:`check_replaceable`) and is renamed
    aside to ``.<name>.<host>-<pid>-<tag>.previous``, then deleted once the block completes.
    When the block fails or is interrupted, the new, unfinished folder stays (it resumes
    like any interrupted run) and the previous one stays aside, until a later run in
    ``path`` completes.

    Parameters
    ----------
    path : str or os.PathLike
        The output folder (created).
    command : str
        The command writing it.
    overwrite, resume : bool, default False
        Replace, or continue, an existing folder.
    inputs : iterable of path or None, default ()
        The command's inputs (never inside a replaced folder).
    names : sequence of str, default ()
        Glob patterns of the entries the command writes (:func:`check_replaceable`).

    Yields
    ------
    pathlib.Path

    Examples
    --------
    >>> import tempfile, pathlib
    >>> run = pathlib.Path(tempfile.mkdtemp()) / "run"
    >>> with writing_dir(run, command="train") as folder:
    ...     _ = (folder / "config.json").write_text('{"command": "train"}')
    >>> with writing_dir(run, command="train", overwrite=True) as folder:
    ...     sorted(p.name for p in run.parent.iterdir() if p.name.endswith(".previous")) != []
    True
    >>> sorted(p.name for p in run.parent.iterdir())
    ['run']
    """
    path = Path(os.path.abspath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    with output_lock(path):
        if path.is_dir() and entries(path) and not resume:
            if not overwrite:
                raise OutputExistsError(path)
            check_replaceable(path, command=command, inputs=inputs, names=names)
            if inside(Path.cwd(), path):
                raise file_error(path, "holds the current folder; --overwrite would move it away: run the command "
                                       "from another folder")
            aside = path.with_name(f".{path.name}.{_HOST}-{os.getpid()}-{uuid.uuid4().hex[:8]}.previous")
            os.rename(path, aside)
            kept_on_interrupt(aside, f"the previous {path.name}, deleted once a run in {path} finishes")
        elif os.path.lexists(path) and not path.is_dir():
            raise file_error(path, "is a file, but a folder is needed here; choose another output path")
        path.mkdir(exist_ok=True)
        yield path
        _remove_previous(path)


@contextlib.contextmanager
def made_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Create the folder ``path`` (and missing parents) for a block; if the block fails, remove those it created
    that are still empty.

    Parameters
    ----------
    path : str or os.PathLike

    Yields
    ------
    pathlib.Path

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> try:
    ...     with made_dir(root / "a" / "b"):
    ...         raise ValueError("refused")
    ... except ValueError:
    ...     pass
    >>> list(root.iterdir())
    []
    """
    path = Path(path)
    created = []
    current = path
    while not current.exists() and current != current.parent:
        created.append(current)
        current = current.parent
    path.mkdir(parents=True, exist_ok=True)
    try:
        yield path
    except BaseException:
        for folder in created:
            if not folder.is_dir() or any(folder.iterdir()):
                break
            folder.rmdir()
        raise
