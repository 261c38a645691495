"""Worker processes that end with the run that started them.

A pool worker (or a forkserver child) outlives a parent killed by SIGKILL or
SIGTERM unless it notices: :func:`exit_with_parent`, run as the pool's
initializer, makes it exit when the run's process dies.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

__all__ = ["exit_with_parent", "process_alive"]

_PR_SET_PDEATHSIG = 1


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie.

    Parameters
    ----------
    pid : int

    Returns
    -------
    bool

    Examples
    --------
    >>> process_alive(os.getpid())
    True
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return True


def exit_with_parent(parent_pid: int, interval: float = 0.5) -> None:
    """Make the calling process exit soon after process ``parent_pid`` dies.

    On Linux the kernel also sends SIGTERM when the direct parent (e.g. the
    forkserver) dies; a daemon thread checks ``parent_pid`` every ``interval``
    seconds and ends the process with ``os._exit`` once it is gone. The worker
    ignores SIGINT: Ctrl-C reaches every process of the terminal's group, and the
    run that owns the worker stops it (a worker's own KeyboardInterrupt would
    print a traceback after the run's one line).

    Parameters
    ----------
    parent_pid : int
        The process whose death ends this one (the run that created the pool).
    interval : float, default 0.5
        Seconds between checks.

    Examples
    --------
    ``ProcessPoolExecutor(initializer=exit_with_parent, initargs=(os.getpid(),))``.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while process_alive(parent_pid):
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
