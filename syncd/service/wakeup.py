"""A sleep that a signal ends at once, without locks: the self-pipe of ``signal.set_wakeup_fd``.

A Python signal handler runs in the main thread between two bytecodes, possibly while that thread holds
a lock, so a handler that takes a lock (``threading.Event.set`` does) can deadlock against the very wait
it means to end: the service then hangs on SIGHUP or SIGTERM. The interpreter's C-level handler instead
writes the signal's number into a non-blocking pipe, and the loop sleeps in ``select`` on that pipe
(Python docs, ``signal.set_wakeup_fd``; the self-pipe trick).
"""

from __future__ import annotations

import os
import select
import signal
from types import TracebackType


class Wakeup:
    """Use as a context manager in the main thread; ``sleep`` returns early when a signal arrives."""

    def __init__(self) -> None:
        self._reader = self._writer = -1
        self._previous = -1

    def __enter__(self) -> Wakeup:
        self._reader, self._writer = os.pipe()
        os.set_blocking(self._reader, False)
        os.set_blocking(self._writer, False)
        self._previous = signal.set_wakeup_fd(self._writer, warn_on_full_buffer=False)
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        signal.set_wakeup_fd(self._previous)
        os.close(self._reader)
        os.close(self._writer)

    def sleep(self, seconds: float) -> None:
        """Wait up to ``seconds``, or until a signal arrives (also one that arrived since the last sleep)."""
        readable, _, _ = select.select([self._reader], [], [], max(seconds, 0.0))
        if readable:
            try:
                while os.read(self._reader, 512):
                    pass
            except BlockingIOError:
                pass  # drained
