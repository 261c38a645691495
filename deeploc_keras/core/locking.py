"""One writer per output: a lock file beside each output, held by the process that writes it.

The lock of ``out/scores`` is the hidden sibling ``out/.scores.lock``. The writer
holds an exclusive :func:`fcntl.flock` on it (released by the kernel when the process
dies, however it dies) and writes its host, process id and start time into it, so a
second writer is refused with one line naming the holder. A lock file left by a killed
process is unlocked: the next writer takes it over (the stale lock is cleared).
Where the file system has no ``flock`` (some network mounts), the recorded process id
decides: a lock of a process of this host that no longer runs is stale.

A process may take the lock of an output it already holds (nested calls share it).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from .errors import DeeplocKerasError
from .lifetime import process_alive

__all__ = ["OutputLockedError", "lock_path", "output_lock", "lock_holder"]

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

_HOST = socket.gethostname()
_held: dict[str, tuple[int, int]] = {}


class OutputLockedError(DeeplocKerasError, BlockingIOError):
    """Another run holds the lock of an output."""

    def __init__(self, path: str | os.PathLike, holder: dict) -> None:
        who = f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}"
        since = f", since {holder['since']}" if holder.get("since") else ""
        super().__init__(f"{os.fspath(path)}: another run ({who}{since}) is writing this output; wait for it to "
                         "finish or choose another output path")


def lock_path(path: str | os.PathLike) -> Path:
    """The lock file of an output: its hidden sibling ``.<name>.lock``.

    Examples
    --------
    >>> lock_path("out/scores").as_posix()
    'out/.scores.lock'
    """
    path = Path(os.path.abspath(path)) if Path(path).name in ("", ".", "..") else Path(path)
    return path.with_name(f".{path.name}.lock")


def lock_holder(path: str | os.PathLike) -> dict | None:
    """The host, process id and start time recorded in the lock of ``path`` (None when there is none).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "scores"
    >>> with output_lock(out):
    ...     lock_holder(out)["pid"] == os.getpid()
    True
    >>> lock_holder(out) is None
    True
    """
    try:
        text = lock_path(path).read_text()
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        holder = json.loads(text)
    except ValueError:
        return {}
    return holder if isinstance(holder, dict) else {}


def _record() -> bytes:
    since = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
    return json.dumps({"host": _HOST, "pid": os.getpid(), "since": since}).encode()


def _stale_without_flock(fd: int) -> bool:
    """On a file system without flock: the recorded holder is a dead process of this host (or none)."""
    try:
        holder = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except ValueError:
        return True
    if not isinstance(holder, dict) or not holder:
        return True
    return holder.get("host") == _HOST and not process_alive(int(holder.get("pid", 0)))


def _acquire(lock: Path, path: Path) -> int | None:
    """Open and lock ``lock``; the descriptor, or None where no lock file can be made (read-only folder)."""
    for _ in range(20):
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EROFS, errno.EPERM, errno.ENOENT, errno.ENOTDIR):
                return None
            raise
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise OutputLockedError(path, lock_holder(path) or {}) from None
                except OSError as exc:
                    if exc.errno != errno.ENOLCK or not _stale_without_flock(fd):
                        raise OutputLockedError(path, lock_holder(path) or {}) from None
            try:
                same = os.stat(lock).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # the holder released (and removed) it between our open and our lock: try again
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.pwrite(fd, _record(), 0)
            return fd
        except BaseException:
            with contextlib.suppress(OSError):
                os.close(fd)
            raise
    raise OutputLockedError(path, lock_holder(path) or {})


@contextlib.contextmanager
def output_lock(path: str | os.PathLike) -> Iterator[Path]:
    """Hold the lock of the output ``path`` while the block writes it.

    Parameters
    ----------
    path : str or os.PathLike
        A file or directory about to be written (it need not exist).

    Yields
    ------
    pathlib.Path
        ``path``.

    Raises
    ------
    OutputLockedError
        If another process holds the lock: ``"<path>: another run (pid N on HOST, since T) is writing
        this output; ..."``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "scores"
    >>> with output_lock(out), output_lock(out):  # the same process may nest
    ...     lock_path(out).exists()
    True
    >>> lock_path(out).exists()
    False
    """
    path = Path(path)
    lock = lock_path(path)
    key = os.path.abspath(lock)
    if key in _held:
        fd, depth = _held[key]
        _held[key] = (fd, depth + 1)
        try:
            yield path
        finally:
            fd, depth = _held[key]
            _held[key] = (fd, depth - 1)
        return
    if not lock.parent.is_dir():
        yield path
        return
    fd = _acquire(lock, path)
    if fd is None:
        yield path
        return
    _held[key] = (fd, 1)
    try:
        yield path
    finally:
        del _held[key]
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()
        os.close(fd)
