"""One writer per output (deeploc_keras.core.locking): a second process is refused, a dead holder's lock is taken over."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap

import pytest

from deeploc_keras.core.locking import OutputLockedError, lock_holder, lock_path, output_lock

_HOLD = textwrap.dedent("""
    import sys, time
    from deeploc_keras.core.locking import output_lock
    with output_lock(sys.argv[1]):
        print("held", flush=True)
        time.sleep(120)
""")


def _holder(out) -> subprocess.Popen:
    """A second process that takes the lock of ``out`` and keeps it."""
    process = subprocess.Popen([sys.executable, "-c", _HOLD, str(out)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    return process


def test_output_lock_raises_when_another_process_holds_it(tmp_path):
    out = tmp_path / "scores"
    process = _holder(out)
    try:
        with pytest.raises(OutputLockedError, match=rf"scores: another run \(pid {process.pid} on "
                                                    rf"{socket.gethostname()}, since .*\) is writing this output"):
            with output_lock(out):
                pass
        assert not out.exists()
    finally:
        process.kill()
        process.wait()


def test_output_lock_takes_over_the_lock_of_a_killed_process(tmp_path):
    out = tmp_path / "scores"
    process = _holder(out)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert lock_holder(out)["pid"] == process.pid  # the killed holder's file is left behind
    with output_lock(out):
        assert lock_holder(out)["pid"] == os.getpid()
    assert not lock_path(out).exists()


def test_output_lock_is_released_on_error_and_shared_by_nested_calls(tmp_path):
    out = tmp_path / "cells.h5"
    with pytest.raises(RuntimeError), output_lock(out):
        with output_lock(out):
            assert json.loads(lock_path(out).read_text())["host"] == socket.gethostname()
        raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []


def test_output_lock_holds_nothing_where_no_lock_file_can_be_made(tmp_path):
    with output_lock(tmp_path / "missing" / "out"):  # no parent folder: nothing to lock in, nothing written
        pass
    assert os.listdir(tmp_path) == []
