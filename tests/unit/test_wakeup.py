"""The service's sleep ends when a signal arrives, without the handler taking any lock (syncd.service.wakeup)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from syncd.service.wakeup import Wakeup


@pytest.fixture
def usr1() -> Iterator[list[int]]:
    """SIGUSR1 handled by a flag-only handler, as the daemon's are."""
    seen: list[int] = []
    previous = signal.signal(signal.SIGUSR1, lambda signum, _frame: seen.append(signum))
    yield seen
    signal.signal(signal.SIGUSR1, previous)


def test_a_signal_during_the_sleep_ends_it(usr1: list[int]) -> None:
    threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGUSR1)).start()
    started = time.monotonic()
    with Wakeup() as wakeup:
        wakeup.sleep(60)
    assert usr1 == [signal.SIGUSR1]
    assert time.monotonic() - started < 30  # ended by the signal, not by the 60 s


def test_a_signal_before_the_sleep_ends_the_next_one(usr1: list[int]) -> None:
    with Wakeup() as wakeup:
        os.kill(os.getpid(), signal.SIGUSR1)  # between two sleeps: the byte waits in the pipe
        started = time.monotonic()
        wakeup.sleep(60)
        assert time.monotonic() - started < 30
        wakeup.sleep(0)  # drained: a later sleep is not ended by the same signal
    assert usr1 == [signal.SIGUSR1]


def test_the_previous_wakeup_fd_is_restored() -> None:
    before = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(before)
    with Wakeup():
        pass
    assert signal.set_wakeup_fd(before) == before
