"""One writer at a time: ``syncd run`` and ``syncd pull`` take the same lock in the state directory.

An advisory ``flock`` is released by the kernel when its holder dies, so a crash never leaves a stale
lock behind. The file names the holder (pid and command) so the message to the user can say who it is.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from syncd.errors import StateError

LOCK_NAME = "lock"


@contextlib.contextmanager
def writer_lock(directory: Path, holder: str, wait_seconds: float = 10.0) -> Iterator[None]:
    path = directory / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StateError(_busy_message(path)) from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {holder}\n".encode())
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _busy_message(path: Path) -> str:
    try:
        pid, _, holder = path.read_text().strip().partition(" ")
    except OSError:
        pid, holder = "?", ""
    if holder == "run":
        return (
            f"the syncd service is running (pid {pid}) and pulls by itself; "
            f"to pull now, run: kill -USR1 {pid}"
        )
    return f"another 'syncd {holder or 'pull'}' is running (pid {pid}); try again when it has finished"
