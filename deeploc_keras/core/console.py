"""What the command line shows: verbosity, progress bars, status lines and TensorFlow's native log lines.

At the default verbosity a command shows one progress bar per long step (on a terminal
only), a status line per finished stage of a long run (on a terminal and in logs alike) and
its summary; warnings and errors are logged, INFO is not. ``-q`` leaves errors only, ``-v``
adds INFO log lines, ``-vv`` DEBUG and TensorFlow's own C++ log lines (hidden below ``-vv``).

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

__all__ = ["QUIET", "DEFAULT", "VERBOSE", "DEBUG", "set_verbosity", "verbosity", "progress", "status",
           "format_seconds", "stderr_is_terminal", "epoch_progress_callback", "filter_native_stderr"]

QUIET, DEFAULT, VERBOSE, DEBUG = -1, 0, 1, 2
_LOG_LEVELS = {QUIET: logging.ERROR, DEFAULT: logging.WARNING, VERBOSE: logging.INFO, DEBUG: logging.DEBUG}
_PACKAGES = ("deeploc_keras", "eval", "cellprofiler_features")
#: Lines TensorFlow/XLA/absl write from C++ (``I0000 00:00:... file.cc:31] ...``) and their preambles.
_NATIVE_LINE = re.compile(rb"^(?:[IWEF]\d{4} \d\d:\d\d:[\d.]+ +\d+ [\w.]+:\d+\]|WARNING: All log messages before "
                          rb"absl::InitializeLog|To enable the following instructions:)")
#: A line without its newline yet that starts like a native line and is shorter than this waits for the rest.
_NATIVE_HOLD_BYTES = 256
#: Seconds of one training step above which :func:`epoch_progress_callback` states the time per epoch.
_EPOCH_ESTIMATE_FROM_S = 30.0
_STATUS_LOGGER = "deeploc_keras.status"
_state: dict[str, Any] = {"verbosity": DEFAULT, "filtered": False, "terminal_fd": None}


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


def stderr_is_terminal() -> bool:
    """Whether stderr is a terminal, judged on the descriptor it had before :func:`filter_native_stderr`.

    The filter puts a pipe on file descriptor 2, so ``sys.stderr.isatty()`` is False from then
    on; this asks the saved original instead. A host that replaced ``sys.stderr`` (pytest,
    click's test runner, a notebook) is asked directly.

    Examples
    --------
    >>> import io, contextlib
    >>> with contextlib.redirect_stderr(io.StringIO()):
    ...     stderr_is_terminal()
    False
    """
    saved = _state["terminal_fd"]
    try:
        if saved is not None and sys.stderr.fileno() == 2:
            return os.isatty(saved)
        return bool(sys.stderr.isatty())
    except (AttributeError, OSError, ValueError):
        return False


def _terminal_columns() -> int | None:
    """Width of the original terminal behind a filtered stderr (None: let tqdm ask the stream)."""
    saved = _state["terminal_fd"]
    if saved is None:
        return None
    try:
        columns = os.get_terminal_size(saved).columns
    except OSError:
        return None
    return columns - 1 if columns > 1 else None  # a terminal of unknown width reports 0


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

    shown = verbosity() >= DEFAULT and stderr_is_terminal()
    columns = _terminal_columns()
    return tqdm(iterable, total=total, desc=desc, unit=unit, initial=initial, disable=not shown, leave=False,
                file=sys.stderr, dynamic_ncols=columns is None, ncols=columns)


class _CurrentStderr(logging.StreamHandler):
    """A handler writing to whatever ``sys.stderr`` is when a record is emitted."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def _status_logger() -> logging.Logger:
    logger = logging.getLogger(_STATUS_LOGGER)
    if not logger.handlers:
        handler = _CurrentStderr()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
        logger.setLevel(logging.INFO)
    return logger


def status(message: str) -> None:
    """One status line of a long run on stderr, on a terminal and in logs alike (not with ``-q``).

    It goes through the logger ``deeploc_keras.status`` (plain message, its own handler), so a
    host that configures logging may route it elsewhere.

    Parameters
    ----------
    message : str
        One line, e.g. ``"reproduce [2/10] train_deeploc: 10.4 min; ..."``.

    Examples
    --------
    >>> import io, contextlib
    >>> buffer = io.StringIO()
    >>> with contextlib.redirect_stderr(buffer):
    ...     status("step 1 of 2 done")
    >>> buffer.getvalue()
    'step 1 of 2 done\\n'
    """
    if verbosity() >= DEFAULT:
        _status_logger().info(message)


def format_seconds(seconds: float) -> str:
    """A duration as people read it: seconds below two minutes, then minutes, then hours.

    Examples
    --------
    >>> format_seconds(42.1), format_seconds(610), format_seconds(7300)
    ('42 s', '10.2 min', '2.0 h')
    """
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _on_cpu_only() -> bool:
    import tensorflow as tf

    return not tf.config.list_logical_devices("GPU")


def epoch_progress_callback(desc: str = "train") -> Any:
    """A Keras callback: one tqdm bar over the epochs (loss and val_loss in its postfix), epoch logs at INFO.

    Keras' own epoch lines go to stdout; train with ``verbose=0`` and this callback to keep
    stdout for results. When a step (timed on the second one, after compilation) puts an epoch
    at 30 s or more, a :func:`status` line states the time per epoch and for the run (on a CPU
    with a hint that a smaller ``--width`` trains faster).

    Returns
    -------
    keras.callbacks.Callback
    """
    import time

    import keras

    logger = logging.getLogger("deeploc_keras.training.train")

    class EpochProgress(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self._bar: Any = None
            self._step_started: float | None = None
            self._estimated = False

        def on_train_begin(self, logs: dict | None = None) -> None:
            self._bar = progress(total=self.params.get("epochs"), desc=desc, unit="epoch")
            self._bar.update(self.params.get("initial_epoch", 0) or 0)

        def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
            if not self._estimated and batch == 1:
                self._step_started = time.perf_counter()

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            if self._estimated or batch != 1 or self._step_started is None:
                return
            self._estimated = True
            step_seconds = time.perf_counter() - self._step_started
            line = _epoch_estimate(desc, step_seconds, self.params.get("steps"), self.params.get("epochs"),
                                   self._bar.n)
            if line is not None:
                status(line + ("; on a CPU, a smaller --width trains faster" if _on_cpu_only() else ""))

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


def _epoch_estimate(desc: str, step_seconds: float, steps: int | None, epochs: int | None,
                    done_epochs: int) -> str | None:
    """The status line of :func:`epoch_progress_callback`, or None for a short epoch or unknown sizes.

    Examples
    --------
    >>> _epoch_estimate("train", 1.5, 480, 30, 0)
    'train: about 12.0 min per epoch (480 steps x 1.50 s, timed on step 2), 6.0 h for 30 epochs'
    >>> _epoch_estimate("train", 0.01, 480, 30, 0) is None
    True
    """
    if not steps or not epochs:
        return None
    per_epoch = steps * step_seconds
    if per_epoch < _EPOCH_ESTIMATE_FROM_S:
        return None
    left = epochs - done_epochs
    return (f"{desc}: about {format_seconds(per_epoch)} per epoch ({steps} steps x {step_seconds:.2f} s, timed on "
            f"step 2), {format_seconds(per_epoch * left)} for {left} epoch{'s' if left != 1 else ''}")


class _NativeFilter:
    """Drops TensorFlow's C++ log lines from a byte stream; everything else passes as soon as it arrives.

    A line is judged when its newline arrives; a partial line that cannot be a native one (a
    progress bar redrawn after ``\\r``) passes at once, and the rest of that line with it.

    Examples
    --------
    >>> native = _NativeFilter()
    >>> native.feed(b"\\rtrain:  50%") + native.feed(b"|#####|\\nI0000 00:00:1.5 12 x.cc:31] hi\\nok\\n")
    b'\\rtrain:  50%|#####|\\nok\\n'
    """

    def __init__(self) -> None:
        self._pending = b""
        self._passing = False

    def feed(self, chunk: bytes, *, show_all: bool = False) -> bytes:
        """The bytes of ``chunk`` (after what was held back) that may be written now."""
        pending, out = self._pending + chunk, []
        while pending:
            end = pending.find(b"\n")
            if end < 0:
                if self._passing or show_all or not self._may_be_native(pending):
                    out.append(pending)
                    self._passing, pending = True, b""
                break
            line, pending = pending[:end + 1], pending[end + 1:]
            if self._passing or show_all or not _NATIVE_LINE.match(line):
                out.append(line)
            self._passing = False
        self._pending = pending
        return b"".join(out)

    def rest(self) -> bytes:
        """What is held back at the end of the stream, unless it is a native line."""
        pending, self._pending = self._pending, b""
        return b"" if _NATIVE_LINE.match(pending) else pending

    @staticmethod
    def _may_be_native(partial: bytes) -> bool:
        return partial[:1] in (b"I", b"W", b"E", b"F", b"T") and len(partial) < _NATIVE_HOLD_BYTES


def filter_native_stderr() -> bool:
    """Drop TensorFlow's C++ log lines from this process's stderr (file descriptor 2) below ``-vv``.

    Everything else written to stderr passes through unchanged and at once (progress bars
    included). Only for a real console (stderr is file descriptor 2); a second call does
    nothing. Whether the original stderr is a terminal stays known to :func:`stderr_is_terminal`.

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
    _state["terminal_fd"] = real
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump() -> None:
        native = _NativeFilter()
        with os.fdopen(read_end, "rb", buffering=0) as source:
            while True:
                chunk = source.read(65536)
                if not chunk:
                    break
                kept = native.feed(chunk, show_all=verbosity() >= DEBUG)
                if kept:
                    os.write(real, kept)
        rest = native.rest()
        if rest:
            os.write(real, rest)

    thread = threading.Thread(target=pump, name="stderr-filter", daemon=True)
    thread.start()

    def restore() -> None:
        sys.stderr.flush()
        os.dup2(real, 2)  # closes the pipe's last write end: the pump drains and stops
        thread.join(timeout=5)

    atexit.register(restore)
    return True
