"""Xandikos (PyPI, pinned in requirements.lock) on loopback: one CalDAV/CardDAV principal ``/user/`` with a
default calendar and address book (``--defaults``), kept in a Git-backed folder. It has no users of its own:
anyone may read and write, so each test module starts its own server.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys

from tests.servers.base import (
    free_port,
    listening,
    missing,
    remove,
    server_folder,
    start_holding_its_ports,
    stderr_file,
    stop,
    wait_until,
)


class Xandikos:
    def __init__(self) -> None:
        if importlib.util.find_spec("xandikos") is None:
            missing("Xandikos", "the PyPI package xandikos (pinned in requirements.lock)")
        self.folder = server_folder("xandikos")
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> Xandikos:
        start_holding_its_ports(self._start_once, self._other_ports)
        return self

    def _other_ports(self) -> None:
        self.port = free_port()

    def _start_once(self, port_may_be_taken: bool) -> bool:
        with stderr_file(self.folder) as stderr:
            self.process = process = subprocess.Popen(
                [sys.executable, "-m", "xandikos", "serve", "-d", str(self.folder / "data"), "--defaults",
                 "-l", "127.0.0.1", "-p", str(self.port)],
                stdout=subprocess.DEVNULL, stderr=stderr)
        return wait_until(lambda: listening(process, self.port), process, "Xandikos", self.folder / "stderr.log",
                          port_may_be_taken=port_may_be_taken)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
        remove(self.folder)
