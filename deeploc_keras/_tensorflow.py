"""Load TensorFlow once, keeping its C++ start-up lines off the console when asked.

TensorFlow prints absl and CUDA start-up lines straight to file descriptor 2 while
it is imported and while it first looks for GPUs, whatever ``TF_CPP_MIN_LOG_LEVEL``
says. :func:`load_tensorflow` does both with descriptor 2 pointed at a temporary file
when :func:`quiet_startup` was switched on (the command line does so unless ``-v`` is
given); the captured lines are printed after all when the import fails.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from types import ModuleType

__all__ = ["load_tensorflow", "quiet_startup"]

_quiet = [False]


def quiet_startup(enabled: bool = True) -> None:
    """Keep TensorFlow's C++ start-up lines off stderr in later :func:`load_tensorflow` calls.

    Examples
    --------
    >>> quiet_startup(False)
    """
    _quiet[0] = bool(enabled)


@contextlib.contextmanager
def _stderr_captured() -> Iterator[None]:
    """Point file descriptor 2 at a temporary file; replay it to stderr if the block raises."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            capture.seek(0)
            os.write(2, capture.read())
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def load_tensorflow() -> ModuleType:
    """Import TensorFlow and let it find its devices (quietly after :func:`quiet_startup`).

    Returns
    -------
    module
        ``tensorflow``.

    Examples
    --------
    >>> load_tensorflow().__name__
    'tensorflow'
    """
    if "tensorflow" in sys.modules or not _quiet[0]:
        import tensorflow as tf

        return tf
    with _stderr_captured():
        import tensorflow as tf

        tf.config.list_physical_devices()
    return tf
