"""One running server of each kind per test process, started on first use and stopped when the process ends.

Dovecot and Radicale isolate tests by user (each test takes a fresh one), so one server serves a whole
session (one per pytest-xdist worker). Xandikos has a single principal, so tests that need a calendar home
of their own start a fresh one (:func:`fresh_xandikos`).
"""

from __future__ import annotations

import atexit
import contextlib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from tests.servers.dovecot import WITHOUT_CONDSTORE, Dovecot
from tests.servers.radicale import Radicale
from tests.servers.xandikos import Xandikos

S = TypeVar("S")
_running: dict[str, Any] = {}


def _shared(kind: str, make: Callable[[], S]) -> S:
    if kind not in _running:
        server = make()
        _running[kind] = server
        atexit.register(server.stop)  # type: ignore[attr-defined]
    found: S = _running[kind]
    return found


def dovecot() -> Dovecot:
    return _shared("dovecot", lambda: Dovecot().start())


def dovecot_without_condstore() -> Dovecot:
    """A Dovecot that offers neither CONDSTORE nor QRESYNC: expunges are found by comparing counts."""
    return _shared("dovecot-plain", lambda: Dovecot(capabilities=WITHOUT_CONDSTORE).start())


def radicale() -> Radicale:
    return _shared("radicale", lambda: Radicale().start())


def radicale_tls() -> Radicale:
    return _shared("radicale-tls", lambda: Radicale(tls=True).start())


@contextlib.contextmanager
def fresh_xandikos() -> Iterator[Xandikos]:
    server = Xandikos().start()
    try:
        yield server
    finally:
        server.stop()
