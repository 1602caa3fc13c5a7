"""One writer at a time: ``syncd run`` and ``syncd pull`` take the same lock in the state directory.

docs/systemd.md#timer: the service and the timer (or a pull by hand) must not write at once. An advisory
``flock`` is released by the kernel when its holder dies, so a crash never leaves a stale lock behind.
The file names the holder (pid and command) so the message to the user can say who it is.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from syncd.errors import StateError

LOCK_NAME = "lock"
POLL_SECONDS = 0.1


@contextlib.contextmanager
def writer_lock(
    directory: Path, holder: str, wait_seconds: float = 10.0, cancelled: Callable[[], bool] | None = None
) -> Iterator[None]:
    """Hold the state directory's lock for the block; wait up to ``wait_seconds`` for another holder,
    then raise StateError saying who holds it. ``cancelled`` ends the wait early (a stop request)."""
    path = directory / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                # Polled rather than a blocking flock: a blocking one cannot time out or be cancelled.
                if time.monotonic() >= deadline or (cancelled is not None and cancelled()):
                    raise StateError(_busy_message(path)) from None
                time.sleep(POLL_SECONDS)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {holder}\n".encode())
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _read(path: Path) -> tuple[str, str, str]:
    try:
        return path.read_text().strip().partition(" ")
    except OSError:
        return "?", "", ""


def _busy_message(path: Path) -> str:
    pid, _, holder = _read(path)
    if holder == "run":
        return (
            f"the syncd service is running (pid {pid}) and pulls by itself; "
            f"to pull now, run: kill -USR1 {pid}"
        )
    return f"another 'syncd {holder or 'pull'}' is running (pid {pid}); try again when it has finished"
