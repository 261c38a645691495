"""Which outputs are a command's own: the record that names the command, and the checks ``--overwrite`` makes.

Every command marks the folder it writes with a record named after it (:func:`record_name`:
``score.json``, ``extract.json``, ...; a training run's is ``config.json``), which names the
command and lists what it wrote. ``--overwrite`` replaces a folder only when it holds that
record and nothing else than the command writes (:func:`check_replaceable`), and never a
folder (or file) that is or holds one of the command's inputs (:func:`check_not_an_input`).
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
import json
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .._version import __version__
from .errors import file_error

__all__ = ["record_name", "read_record", "write_owner_record", "check_not_an_input", "check_replaceable",
           "check_resumable", "entries", "inside"]

#: Record file names that differ from ``<command>.json`` (the training run record predates the rule).
_RECORD_NAMES = {"train": "config.json"}
#: Hidden siblings this package writes beside an output while it runs (locks, partials, set-aside outputs).
_TRANSIENT = re.compile(r"\..+\.(lock|partial|previous)")


def record_name(command: str) -> str:
    """The name of the record that marks a folder as ``command``'s output.

    Examples
    --------
    >>> record_name("score"), record_name("plot monitor"), record_name("train")
    ('score.json', 'plot_monitor.json', 'config.json')
    """
    return _RECORD_NAMES.get(command, command.split(" --")[0].replace(" ", "_") + ".json")


def _names_command(record: Any, command: str) -> bool:
    named = record.get("command") if isinstance(record, dict) else None
    return isinstance(named, str) and (named == command or named.startswith(command + " "))


def read_record(folder: str | os.PathLike, command: str) -> dict[str, Any] | None:
    """The record of ``command`` in ``folder``, or None when the folder holds none.

    A record is the JSON file :func:`record_name` whose ``command`` names ``command``
    (``"extract --method cellprofiler"`` is an ``extract`` record); an unreadable one
    counts as none. Outputs of older versions recorded every command as ``config.json``,
    which is read too.

    Parameters
    ----------
    folder : str or os.PathLike
    command : str

    Returns
    -------
    dict or None

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = write_owner_record(folder, "score")
    >>> read_record(folder, "score")["command"], read_record(folder, "train")
    ('score', None)
    """
    for name in _record_files(Path(folder), command):
        return _load_json(Path(folder) / name)
    return None


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _record_files(folder: Path, command: str) -> list[str]:
    """The names of the files in ``folder`` that hold a record of ``command`` (its own name first)."""
    names = dict.fromkeys((record_name(command), "config.json"))
    return [name for name in names if _names_command(_load_json(folder / name), command)]


def write_owner_record(folder: str | os.PathLike, command: str, *, outputs: Sequence[str] | None = None,
                       extra: dict[str, Any] | None = None) -> Path:
    """Write the record that marks ``folder`` as ``command``'s output (the folder is complete).

    Parameters
    ----------
    folder : str or os.PathLike
        The finished output folder (or its temporary name).
    command : str
        The command that wrote it (``"score"``, ``"plot monitor"`` ...).
    outputs : sequence of str, optional
        The entries it wrote; default: everything in ``folder``.
    extra : dict, optional
        More fields (configuration, inputs).

    Returns
    -------
    pathlib.Path
        The record, :func:`record_name` in ``folder``.
    """
    folder = Path(folder)
    path = folder / record_name(command)
    written = sorted(outputs if outputs is not None else (p.name for p in folder.iterdir() if p != path))
    record = {"command": command, "outputs": written, "package_version": __version__,
              "written": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), **(extra or {})}
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str))
    os.replace(tmp, path)
    return path


def inside(inner: Path, outer: Path) -> bool:
    """Whether ``inner`` is ``outer`` or lies in it (both resolved; False when they cannot be).

    Examples
    --------
    >>> inside(Path("/a/b/c"), Path("/a/b")), inside(Path("/a/bc"), Path("/a/b"))
    (True, False)
    """
    try:
        inner, outer = inner.resolve(), outer.resolve()
    except OSError:
        return False
    return inner == outer or outer in inner.parents


def check_not_an_input(path: str | os.PathLike, inputs: Iterable[str | os.PathLike | None], *, command: str) -> None:
    """Refuse an output that is, or holds, one of the command's inputs.

    Parameters
    ----------
    path : str or os.PathLike
        The output file or folder.
    inputs : iterable of path or None
        The files and folders the command reads (None entries are skipped).
    command : str
        The command, named in the message.

    Raises
    ------
    InputError
        ``"<path>: holds <input>, an input of <command>; ..."`` (or ``"is <input> ..."``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "cells.h5").write_text("store")
    >>> check_not_an_input(folder, [folder / "cells.h5"], command="train")
    Traceback (most recent call last):
    ...
    deeploc_keras.core.errors.InputError: ...: holds ...cells.h5, an input of train; --overwrite would delete it: choose another output path
    """
    path = Path(path)
    for given in inputs:
        if given is None or not os.path.lexists(given):
            continue
        if inside(Path(given), path):
            verb = "is" if Path(given).resolve() == path.resolve() else "holds"
            raise file_error(path, f"{verb} {os.fspath(given)}, an input of {command}; --overwrite would delete it: "
                                   "choose another output path")


def check_replaceable(path: str | os.PathLike, *, command: str, inputs: Iterable[str | os.PathLike | None] = (),
                      names: Sequence[str] = ()) -> None:
    """Refuse to replace a folder that is not recognisably ``command``'s own output.

    A folder may be replaced when it is empty, or when it holds ``command``'s record
    (:func:`read_record`) and nothing but what that record lists, the record itself
    and entries matching ``names``; never when it is or holds one of ``inputs``.

    Parameters
    ----------
    path : str or os.PathLike
        The output about to be replaced (nothing is checked when it does not exist).
    command : str
        The command about to replace it.
    inputs : iterable of path or None, default ()
        The command's inputs.
    names : sequence of str, default ()
        Glob patterns of the entries the command writes besides those its record lists
        (a training run: ``best.keras``, ``lr*_seed*``, ...).

    Raises
    ------
    InputError
        One line naming the folder and the input, the missing record or the first foreign entry.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "thesis.tex").write_text("years of work")
    >>> check_replaceable(folder, command="score")
    Traceback (most recent call last):
    ...
    deeploc_keras.core.errors.InputError: ...: was not written by score (it holds no score.json naming it); --overwrite replaces only score's own output: choose another output path
    """
    path = Path(path)
    if not os.path.lexists(path):
        return
    check_not_an_input(path, inputs, command=command)
    if not path.is_dir() or path.is_symlink():
        return
    names_here = entries(path)
    if not names_here:
        return
    record = read_record(path, command)
    if record is None:
        raise file_error(path, f"was not written by {command} (it holds no {record_name(command)} naming it); "
                               f"--overwrite replaces only {command}'s own output: choose another output path")
    listed = set(record.get("outputs") or ()) | set(_record_files(path, command))
    foreign = [name for name in sorted(names_here)
               if name not in listed and not any(fnmatch.fnmatchcase(name, pattern) for pattern in names)]
    if foreign:
        raise file_error(path, f"holds {foreign[0]!r}, which {command} did not write; move it away (or choose "
                               "another output path) before --overwrite")


def entries(path: Path) -> list[str]:
    """The names in folder ``path``, without the transient files this package writes beside outputs while it runs
    (locks, partials, set-aside outputs)."""
    return [entry.name for entry in path.iterdir() if not _TRANSIENT.fullmatch(entry.name)]


def check_resumable(path: str | os.PathLike, *, command: str) -> None:
    """Refuse to continue writing into a folder that holds something but no record of ``command``.

    Parameters
    ----------
    path : str or os.PathLike
        The output folder of an interrupted run (missing or empty: the run starts).
    command : str

    Raises
    ------
    InputError
        ``"<path>: holds no interrupted <command> run to resume (no <record>); ..."``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "cells.h5").write_text("a store")
    >>> check_resumable(folder, command="train")
    Traceback (most recent call last):
    ...
    deeploc_keras.core.errors.InputError: ...: holds no interrupted train run to resume (no config.json naming train); choose the run's folder, or another output path without --resume
    """
    path = Path(path)
    if path.is_dir() and entries(path) and read_record(path, command) is None:
        raise file_error(path, f"holds no interrupted {command} run to resume (no {record_name(command)} naming "
                               f"{command}); choose the run's folder, or another output path without --resume")
