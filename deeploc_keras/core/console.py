"""What the command line shows: verbosity, progress bars and TensorFlow's native log lines.

At the default verbosity a command shows one progress bar per long step (on a terminal
only) and its summary; warnings and errors are logged, INFO is not. ``-q`` leaves errors
only, ``-v`` adds INFO log lines, ``-vv`` DEBUG and TensorFlow's own C++ log lines (hidden
below ``-vv``).

Examples
--------
>>> set_verbosity(-1)
>>> with progress(total=3, desc="demo") as bar:
...     bar.update(3)
>>> bar.disable
True
>>> set_verbosity(0)
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import sys
import threading
from typing import Any

__all__ = ["QUIET", "DEFAULT", "VERBOSE", "DEBUG", "set_verbosity", "verbosity", "progress",
           "epoch_progress_callback", "filter_native_stderr"]

QUIET, DEFAULT, VERBOSE, DEBUG = -1, 0, 1, 2
_LOG_LEVELS = {QUIET: logging.ERROR, DEFAULT: logging.WARNING, VERBOSE: logging.INFO, DEBUG: logging.DEBUG}
_PACKAGES = ("deeploc_keras", "eval", "cellprofiler_features")
#: Lines TensorFlow/XLA/absl write from C++ (``I0000 00:00:... file.cc:31] ...``) and their preambles.
_NATIVE_LINE = re.compile(rb"^(?:[IWEF]\d{4} \d\d:\d\d:[\d.]+ +\d+ [\w.]+:\d+\]|WARNING: All log messages before "
                          rb"absl::InitializeLog|To enable the following instructions:)")
_state: dict[str, Any] = {"verbosity": DEFAULT, "filtered": False}


def verbosity() -> int:
    """The current verbosity (-1 quiet ... 2 debug)."""
    return _state["verbosity"]


def set_verbosity(level: int) -> None:
    """Set the verbosity of logging, progress bars and TensorFlow's native logs.

    Parameters
    ----------
    level : int
        -1 (errors only), 0 (default), 1 (INFO), 2 (DEBUG and TensorFlow's C++ lines);
        values outside are clipped.
    """
    from .._tensorflow import quiet_startup

    level = max(QUIET, min(DEBUG, int(level)))
    _state["verbosity"] = level
    quiet_startup(level < VERBOSE)  # TensorFlow's C++ start-up lines ignore TF_CPP_MIN_LOG_LEVEL
    for name in ("TF_CPP_MIN_LOG_LEVEL", "ABSL_MIN_LOG_LEVEL"):
        if level >= DEBUG:
            os.environ[name] = "0"
        else:
            os.environ.setdefault(name, "3")
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    root.setLevel(_LOG_LEVELS[level] if level < DEBUG else logging.INFO)
    for name in _PACKAGES:
        logging.getLogger(name).setLevel(_LOG_LEVELS[level])
    for name in ("tensorflow", "absl", "keras"):
        logging.getLogger(name).setLevel(logging.ERROR if level < DEBUG else logging.INFO)


def progress(iterable: Any = None, *, total: int | None = None, desc: str = "", unit: str = "it",
             initial: int = 0) -> Any:
    """A tqdm progress bar on stderr: shown on a terminal at the default verbosity or above.

    Parameters
    ----------
    iterable : iterable, optional
    total : int, optional
    desc, unit : str
    initial : int, default 0
        Work already done (a resumed step).

    Returns
    -------
    tqdm.tqdm
        Use as a context manager or iterate; disabled bars cost nothing.
    """
    from tqdm.auto import tqdm

    shown = verbosity() >= DEFAULT and sys.stderr.isatty()
    return tqdm(iterable, total=total, desc=desc, unit=unit, initial=initial, disable=not shown, leave=False,
                file=sys.stderr, dynamic_ncols=True)


def epoch_progress_callback(desc: str = "train") -> Any:
    """A Keras callback: one tqdm bar over the epochs (loss and val_loss in its postfix), epoch logs at INFO.

    Keras' own epoch lines go to stdout; train with ``verbose=0`` and this callback to keep
    stdout for results.

    Returns
    -------
    keras.callbacks.Callback
    """
    import keras

    logger = logging.getLogger("deeploc_keras.training.train")

    class EpochProgress(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self._bar: Any = None

        def on_train_begin(self, logs: dict | None = None) -> None:
            self._bar = progress(total=self.params.get("epochs"), desc=desc, unit="epoch")
            self._bar.update(self.params.get("initial_epoch", 0) or 0)

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            values = {k: float(v) for k, v in (logs or {}).items() if k in ("loss", "val_loss", "accuracy",
                                                                             "val_accuracy")}
            self._bar.set_postfix({k: f"{v:.4g}" for k, v in values.items()}, refresh=False)
            self._bar.update(1)
            logger.info("epoch %d/%s: %s", epoch + 1, self.params.get("epochs"),
                        ", ".join(f"{k} {v:.4f}" for k, v in values.items()))

        def on_train_end(self, logs: dict | None = None) -> None:
            if self._bar is not None:
                self._bar.close()

    return EpochProgress()


def filter_native_stderr() -> bool:
    """Drop TensorFlow's C++ log lines from this process's stderr (file descriptor 2) below ``-vv``.

    Everything else written to stderr passes through unchanged, line by line. Only for a
    real console (stderr is file descriptor 2); a second call does nothing.

    Returns
    -------
    bool
        Whether the filter was installed.
    """
    try:
        if sys.stderr.fileno() != 2 or _state.get("filtered"):
            return False
    except (AttributeError, OSError, ValueError):
        return False
    _state["filtered"] = True
    sys.stderr.flush()
    real = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump() -> None:
        pending = b""
        with os.fdopen(read_end, "rb", buffering=0) as source:
            while True:
                chunk = source.read(65536)
                if not chunk:
                    break
                pending += chunk
                *lines, pending = pending.split(b"\n")
                show_all = verbosity() >= DEBUG
                kept = b"".join(line + b"\n" for line in lines if show_all or not _NATIVE_LINE.match(line))
                if kept:
                    os.write(real, kept)
        if pending and not _NATIVE_LINE.match(pending):
            os.write(real, pending)

    thread = threading.Thread(target=pump, name="stderr-filter", daemon=True)
    thread.start()

    def restore() -> None:
        sys.stderr.flush()
        os.dup2(real, 2)  # closes the pipe's last write end: the pump drains and stops
        thread.join(timeout=5)

    atexit.register(restore)
    return True
