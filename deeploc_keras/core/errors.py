"""Errors that report bad user input as one readable line.

Every library function raises a :class:`DeeplocKerasError` for problems the user
can fix: :class:`InputError` (also a ``ValueError``) or :class:`OutputExistsError`
(also a ``FileExistsError``). The command line turns them, and operating-system
errors that name a file, into one line on stderr and exit code 2; any other
exception is a bug and keeps its traceback.

Reads of user files go through :func:`reading`, so a corrupt file (a bad zip
CRC, a failing HDF5 filter) is reported with its path.
"""

from __future__ import annotations

import contextlib
import errno
import lzma
import operator
import os
import threading
import zipfile
import zlib
from collections.abc import Iterator

__all__ = ["DISK_FULL", "MAX_SEED", "is_disk_full", "write_problem", "DeeplocKerasError", "InputError", "OutputExistsError",
           "file_error", "check_positive_int", "check_seed", "os_error_message", "reading", "user_error_behind"]

#: Exceptions a corrupt or truncated file raises from the libraries that read it (h5py, zipfile, gzip, keras).
_READ_ERRORS = (OSError, EOFError, ValueError, KeyError, TypeError, zipfile.BadZipFile, zlib.error, lzma.LZMAError)

#: The largest seed: numpy, TensorFlow and Keras take seeds in [0, 2**32 - 1].
MAX_SEED = 2**32 - 1

#: The problem text of a full disk (ENOSPC or EDQUOT), after the path.
DISK_FULL = "no space left on device; free some space (or write elsewhere) and run again"

_recent: list[DeeplocKerasError] = []
_recent_lock = threading.Lock()


class DeeplocKerasError(Exception):
    """Base class of the errors the user can fix; the CLI prints them as one line with exit code 2."""


class InputError(DeeplocKerasError, ValueError):
    """Bad input: a missing or corrupt file, a wrong shape, an unknown id, ...

    Each instance is remembered briefly, so that :func:`user_error_behind` can
    recognise it when raised in a data-pipeline thread and re-raised by TensorFlow.
    """

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        _remember(self)


class OutputExistsError(DeeplocKerasError, FileExistsError):
    """An output already exists and ``overwrite`` was not given."""

    def __init__(self, path: str | os.PathLike) -> None:
        super().__init__(f"{os.fspath(path)}: output already exists; pass --overwrite to replace it")


def file_error(path: str | os.PathLike, problem: str) -> InputError:
    """Return an :class:`InputError` whose message starts with the path.

    Parameters
    ----------
    path : str or os.PathLike
        The offending file.
    problem : str
        What is wrong, what was expected and received, and the fix when there is one.

    Returns
    -------
    InputError

    Examples
    --------
    >>> str(file_error("cells.h5", "not an HDF5 file"))
    'cells.h5: not an HDF5 file'
    """
    return InputError(f"{os.fspath(path)}: {problem}")


def check_positive_int(name: str, value: object, *, optional: bool = False) -> int | None:
    """Check a count option (batch size, cells per chunk, epochs ...) and return it as an ``int``.

    Parameters
    ----------
    name : str
        The option's name, as the user passes it (``"batch_size"``).
    value : object
        An ``int`` or numpy integer of at least 1 (``bool`` and floats are refused).
    optional : bool, default False
        Let ``None`` through (returned as ``None``).

    Returns
    -------
    int or None

    Raises
    ------
    InputError
        If ``value`` is not an integer of at least 1.

    Examples
    --------
    >>> check_positive_int("batch_size", 32)
    32
    >>> check_positive_int("steps_per_epoch", None, optional=True) is None
    True
    >>> check_positive_int("chunk_cells", 0)
    Traceback (most recent call last):
    ...
    deeploc_keras.core.errors.InputError: chunk_cells must be a positive integer. Received: chunk_cells=0
    """
    if value is None and optional:
        return None
    try:
        number = None if isinstance(value, bool) else operator.index(value)
    except TypeError:
        number = None
    if number is None or number < 1:
        raise InputError(f"{name} must be a positive integer. Received: {name}={value!r}")
    return number


def check_seed(name: str, value: object, *, optional: bool = False) -> int | None:
    """Check a seed and return it as an ``int`` in [0, :data:`MAX_SEED`].

    Parameters
    ----------
    name : str
        The option's name (``"seed"``).
    value : object
        An integer (``bool`` and floats are refused).
    optional : bool, default False
        Let ``None`` through.

    Returns
    -------
    int or None

    Raises
    ------
    InputError
        If ``value`` is not an integer in [0, 2**32 - 1].

    Examples
    --------
    >>> check_seed("seed", 7)
    7
    >>> check_seed("seed", -5)
    Traceback (most recent call last):
    ...
    deeploc_keras.core.errors.InputError: seed must be an integer in [0, 4294967295]. Received: seed=-5
    """
    if value is None and optional:
        return None
    try:
        number = None if isinstance(value, bool) else operator.index(value)
    except TypeError:
        number = None
    if number is None or not 0 <= number <= MAX_SEED:
        raise InputError(f"{name} must be an integer in [0, {MAX_SEED}]. Received: {name}={value!r}")
    return number


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _remember(error: DeeplocKerasError) -> None:
    """Keep the last few user errors (tf.data generators re-raise them as TensorFlow errors)."""
    with _recent_lock:
        _recent.append(error)
        del _recent[:-8]


@contextlib.contextmanager
def reading(path: str | os.PathLike, what: str = "") -> Iterator[None]:
    """Report any failure while reading ``path`` as one :class:`InputError` naming it.

    Parameters
    ----------
    path : str or os.PathLike
        The user file being read.
    what : str, default ""
        The part being read (e.g. ``"/images rows 0-511"``), added to the message.

    Raises
    ------
    InputError
        ``"<path>: cannot read <what> (corrupt or truncated file?): <library message>"``;
        errors of this package pass through unchanged.

    Examples
    --------
    >>> import tempfile, pathlib, zipfile
    >>> bad = pathlib.Path(tempfile.mkdtemp()) / "model.keras"
    >>> _ = bad.write_bytes(b"not a zip")
    >>> try:
    ...     with reading(bad):
    ...         zipfile.ZipFile(bad)
    ... except InputError as exc:
    ...     print(str(exc).replace(str(bad), "model.keras"))
    model.keras: cannot read (corrupt or truncated file?): File is not a zip file
    """
    try:
        yield
    except DeeplocKerasError:
        raise
    except _READ_ERRORS as exc:
        part = f" {what}" if what else ""
        raise file_error(path, f"cannot read{part} (corrupt or truncated file?): {_first_line(exc)}") from exc


def user_error_behind(exc: BaseException) -> DeeplocKerasError | None:
    """The user error that caused ``exc``, if any.

    Follows ``__cause__`` / ``__context__`` and recognises errors raised inside
    data-pipeline threads, which TensorFlow re-raises as its own exception with
    the original message embedded.

    Parameters
    ----------
    exc : BaseException

    Returns
    -------
    DeeplocKerasError or None

    Examples
    --------
    >>> user_error_behind(RuntimeError("x")) is None
    True
    >>> try:
    ...     try:
    ...         raise InputError("cells.h5: bad")
    ...     except InputError as inner:
    ...         raise RuntimeError("wrapped") from inner
    ... except RuntimeError as outer:
    ...     print(user_error_behind(outer))
    cells.h5: bad
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, DeeplocKerasError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    text = str(exc)
    with _recent_lock:
        for error in reversed(_recent):
            if str(error) and str(error) in text:
                return error
    return None


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` reports a full disk or an exceeded quota (h5py puts the errno only in the text).

    Examples
    --------
    >>> is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    True
    >>> is_disk_full(OSError("[Errno 28] Can't write data (file write failed)"))
    True
    >>> is_disk_full(OSError(errno.ENOENT, "No such file or directory"))
    False
    """
    if not isinstance(exc, OSError):
        return False
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(exc)
    return "[Errno 28]" in text or "errno = 28" in text or "No space left on device" in text


#: What cannot be written, by errno: the text after the path, with what to do.
_WRITE_PROBLEMS = {
    errno.EROFS: "read-only file system; write to another folder",
    errno.EACCES: "permission denied; write to a folder you may write to",
    errno.EPERM: "operation not permitted; write to a folder you may write to",
}


def write_problem(exc: BaseException) -> str | None:
    """The problem text of an error while writing a file (full disk, read-only or forbidden folder), or None.

    Libraries that write through C (h5py) put the errno only in the message; it is read there too.

    Parameters
    ----------
    exc : BaseException

    Returns
    -------
    str or None
        The text after the path (:data:`DISK_FULL`, ...), None for other errors.

    Examples
    --------
    >>> write_problem(OSError("Unable to create file (errno = 30, error message = 'Read-only file system')"))
    'read-only file system; write to another folder'
    >>> write_problem(ValueError("x")) is None
    True
    """
    if not isinstance(exc, OSError):
        return None
    if is_disk_full(exc):
        return DISK_FULL
    if exc.errno in _WRITE_PROBLEMS:
        return _WRITE_PROBLEMS[exc.errno]
    text = str(exc)
    for code, problem in _WRITE_PROBLEMS.items():
        if f"errno = {code}," in text or f"[Errno {code}]" in text or os.strerror(code) in text:
            return problem
    return None


def os_error_message(exc: OSError, path: str | os.PathLike | None = None) -> str | None:
    """One line for an operating-system error about a file, or None when it names none.

    Parameters
    ----------
    exc : OSError
    path : str or os.PathLike, optional
        The file being written or read, used when ``exc`` carries no file name.

    Returns
    -------
    str or None

    Examples
    --------
    >>> os_error_message(OSError(errno.ENOSPC, "No space left on device"), "out/cells.h5")
    'out/cells.h5: no space left on device; free some space (or write elsewhere) and run again'
    >>> os_error_message(FileNotFoundError(errno.ENOENT, "No such file or directory", "a.csv"))
    'a.csv: no such file or directory'
    >>> os_error_message(OSError("something")) is None
    True
    """
    name = exc.filename if exc.filename is not None else path
    if name is None:
        return None
    name = os.fspath(name)
    code = exc.errno
    if is_disk_full(exc):
        return f"{name}: {DISK_FULL}"
    if code == errno.EEXIST and os.path.isfile(name):
        return f"{name}: is a file, but a folder is needed here; choose another output path"
    if code == errno.ENOTDIR:
        blocker = next((p for p in _parents(name) if os.path.isfile(p)), name)
        return f"{blocker}: is a file, but a folder is needed here; choose another output path"
    reason = exc.strerror or _first_line(exc)
    return f"{name}: {reason[0].lower() + reason[1:] if reason else type(exc).__name__}"


def _parents(path: str | os.PathLike) -> list[str]:
    parents, current = [], os.path.dirname(os.fspath(path))
    while current and current not in parents and current != os.path.dirname(current):
        parents.append(current)
        current = os.path.dirname(current)
    return parents
