"""sd_notify without a dependency (docs/systemd.md#sd_notify): one datagram, '@' abstract sockets, no-ops outside systemd."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.service.notify import notify, watchdog_seconds


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = tmp_path / "notify"
    sock.bind(str(path))
    sock.settimeout(5)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    yield sock
    sock.close()


def test_notify_sends_one_datagram(notify_socket: socket.socket) -> None:
    assert notify("READY=1", "STATUS=hello")
    assert notify_socket.recv(4096) == b"READY=1\nSTATUS=hello"


def test_notify_reaches_an_abstract_namespace_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"syncd-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)  # what systemd means by NOTIFY_SOCKET=@name
        sock.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert notify("WATCHDOG=1")
        assert sock.recv(4096) == b"WATCHDOG=1"


def test_notify_outside_systemd_is_a_no_op(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert not notify("READY=1")
    monkeypatch.setenv("NOTIFY_SOCKET", "vsock:2:1234")  # a scheme we do not speak
    assert not notify("READY=1")
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone"))  # systemd went away: never fatal
    assert not notify("READY=1")


def test_notify_never_blocks_when_nobody_reads(notify_socket: socket.socket) -> None:
    sent: list[bool] = []
    # Far beyond the receive queue; run aside, so a send that blocked would fail here, not hang the suite.
    sender = threading.Thread(target=lambda: sent.extend(notify(f"STATUS={n}") for n in range(2000)), daemon=True)
    sender.start()
    sender.join(60)
    assert not sender.is_alive(), "notify blocked"
    assert sent[0] and not all(sent)  # the first ones queued, the rest dropped instead of waiting
    assert notify_socket.recv(4096) == b"STATUS=0"


def test_watchdog_interval_is_half_of_watchdog_usec_and_only_for_us(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    assert watchdog_seconds() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert watchdog_seconds() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert watchdog_seconds() is None  # meant for another process (sd_watchdog_enabled(3))
    monkeypatch.delenv("WATCHDOG_PID")
    monkeypatch.setenv("WATCHDOG_USEC", "soon")
    assert watchdog_seconds() is None
    monkeypatch.delenv("WATCHDOG_USEC")
    assert watchdog_seconds() is None
