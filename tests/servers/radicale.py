"""Radicale (PyPI, pinned in requirements.lock) on loopback: CalDAV with htpasswd users, optionally over TLS
with a self-signed certificate for 127.0.0.1.

Users live in a plain htpasswd file that Radicale reads at every login, so a test adds its own user
(:meth:`Radicale.new_user`) and sees only its own calendars. Reused for CardDAV: Radicale serves address
books from the same tree.
"""

from __future__ import annotations

import importlib.util
import itertools
import subprocess
import sys
from pathlib import Path

from tests.fakes.tls import self_signed
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


class Radicale:
    def __init__(self, tls: bool = False) -> None:
        if importlib.util.find_spec("radicale") is None:
            missing("Radicale", "the PyPI package radicale (pinned in requirements.lock)")
        self.folder = server_folder("radicale")
        self.port = free_port()
        self.tls = tls
        self.cert, self.key = self_signed(self.folder)
        self.htpasswd = self.folder / "users"
        self.htpasswd.write_text("")
        self._users = itertools.count(1)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/"

    def start(self) -> Radicale:
        start_holding_its_ports(self._start_once, self._other_ports)
        return self

    def _other_ports(self) -> None:
        self.port = free_port()

    def _start_once(self, port_may_be_taken: bool) -> bool:
        config = self.folder / "radicale.conf"
        tls = f"ssl = True\ncertificate = {self.cert}\nkey = {self.key}\n" if self.tls else ""
        config.write_text(
            f"[server]\nhosts = 127.0.0.1:{self.port}\n{tls}"
            f"[auth]\ntype = htpasswd\nhtpasswd_filename = {self.htpasswd}\nhtpasswd_encryption = plain\ndelay = 0\n"
            "[rights]\ntype = owner_only\n"
            f"[storage]\nfilesystem_folder = {self.folder / 'collections'}\n"
            "[logging]\nlevel = warning\nmask_passwords = True\n"
        )
        with stderr_file(self.folder) as stderr:
            self.process = process = subprocess.Popen([sys.executable, "-m", "radicale", "--config", str(config)],
                                                      stdout=subprocess.DEVNULL, stderr=stderr)
        return wait_until(lambda: listening(process, self.port), process, "Radicale", self.folder / "stderr.log",
                          port_may_be_taken=port_may_be_taken)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
        remove(self.folder)

    def new_user(self, prefix: str = "user") -> tuple[str, str]:
        """A fresh user and password (the user's tree is made on first use)."""
        name = f"{prefix}{next(self._users)}"
        password = f"pw-{name}"
        with self.htpasswd.open("a") as handle:
            handle.write(f"{name}:{password}\n")
        return name, password

    def ca_file(self) -> Path:
        return Path(self.cert)
