"""Errors that report bad user input as one readable line.

Every library function raises :class:`InputError` (a ``ValueError``) or
:class:`OutputExistsError` (a ``FileExistsError``) for problems the user can fix;
the command line turns them into one line on stderr and exit code 2.
"""

from __future__ import annotations

import os

__all__ = ["InputError", "OutputExistsError", "file_error"]


class InputError(ValueError):
    """Bad input: a missing or corrupt file, a wrong shape, an unknown id, ..."""


class OutputExistsError(FileExistsError):
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
