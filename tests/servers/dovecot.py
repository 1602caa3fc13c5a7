"""Dovecot (Debian's ``dovecot-imapd``) on loopback, run unprivileged from a config generated in a temporary
folder, with a self-signed certificate for 127.0.0.1 and any number of users (one password for all).

Dovecot normally starts as root and refuses to serve mail as uid 0 ("userdb returned 0 as uid"). Run as
an ordinary user it needs every path of its own (``base_dir``, ``state_dir``, the log) and no chroot for
the login and anvil services; ``default_internal_user``/``default_login_user`` name that same user. When the
tests run as root (as CI does), the server drops to ``nobody`` and the folder is handed over to it.

Each test takes a user of its own (:meth:`Dovecot.new_user`), so tests sharing the server never see each
other's mail; :meth:`Dovecot.admin` is a second IMAP session to change the mailbox as another client would
(APPEND, expunge, RENAME, re-create a folder). The log's logout line counts the bodies a session fetched
(``body_count``): tests read it to prove syncd never fetches one.
"""

from __future__ import annotations

import contextlib
import imaplib
import itertools
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tests.fakes.tls import self_signed
from tests.servers.base import (
    free_port,
    give_to_server,
    listening,
    missing,
    remove,
    server_folder,
    start_holding_its_ports,
    stderr_file,
    stop,
    unprivileged_user,
    wait_until,
)

PASSWORD = "dovecot-test-password"
BINARY = "/usr/sbin/dovecot"
# What Dovecot 2.3 offers, less CONDSTORE and QRESYNC (RFC 7162): a server that can only be compared by counts.
WITHOUT_CONDSTORE = ("IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT LITERAL+ NAMESPACE UIDPLUS "
                     "UNSELECT CHILDREN SPECIAL-USE LIST-EXTENDED ESEARCH MOVE")


def installed() -> str:
    found = shutil.which("dovecot") or (BINARY if Path(BINARY).exists() else None)
    if found is None:
        missing("Dovecot", "the Debian package dovecot-imapd (apt-get install dovecot-imapd)")
    return found


class Dovecot:
    def __init__(self, capabilities: str | None = None) -> None:
        self.binary = installed()
        self.folder = server_folder("dovecot")
        self.cert, self.key = self_signed(self.folder)
        self.plain_port, self.tls_port = free_port(), free_port()
        self.log = self.folder / "dovecot.log"
        self.capabilities = capabilities
        self._users = itertools.count(1)
        self.process: subprocess.Popen[bytes] | None = None

    def config(self) -> str:
        user = unprivileged_user()
        name = "nobody" if user is not None else _current_user()
        uid, gid = user if user is not None else (_ids())
        capability = f"imap_capability = {self.capabilities}\n" if self.capabilities else ""
        d = self.folder
        return f"""
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
default_internal_user = {name}
default_internal_group = {_group(gid)}
default_login_user = {name}
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{self.cert}
ssl_key = <{self.key}
auth_failure_delay = 0
mail_fsync = never
mail_location = maildir:{d}/mail/%u
{capability}
passdb {{
  driver = static
  args = password={PASSWORD}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={d}/home/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.plain_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.tls_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
  # No auth penalty: it would delay every login after a wrong-password test by seconds. Auth cannot reach
  # the penalty socket, which is Dovecot's documented way to turn the penalty off.
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""

    def start(self) -> Dovecot:
        start_holding_its_ports(self._start_once, self._other_ports)
        return self

    def _other_ports(self) -> None:
        self.plain_port, self.tls_port = free_port(), free_port()

    def _start_once(self, port_may_be_taken: bool) -> bool:
        path = self.folder / "dovecot.conf"
        path.write_text(self.config())
        (self.folder / "mail").mkdir(exist_ok=True)
        give_to_server(self.folder)
        user = unprivileged_user()
        drop = {"user": user[0], "group": user[1], "extra_groups": []} if user is not None else {}
        with stderr_file(self.folder) as stderr:
            self.process = process = subprocess.Popen([self.binary, "-F", "-c", str(path)],
                                                      stdout=subprocess.DEVNULL, stderr=stderr,
                                                      **drop)  # type: ignore[call-overload]
        return wait_until(lambda: listening(process, self.plain_port, self.tls_port), process, "Dovecot", self.log,
                          port_may_be_taken=port_may_be_taken)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
        remove(self.folder)

    # ---- users and their mail ---------------------------------------------------------------------------

    def new_user(self, prefix: str = "user") -> str:
        return f"{prefix}{next(self._users)}"

    def maildir(self, user: str) -> Path:
        """The user's Maildir (INBOX; other folders are ``.Name`` beside ``cur``): mail written here before the
        user's first login is what Dovecot serves (call :meth:`hand_over` after writing)."""
        return self.folder / "mail" / user

    def hand_over(self, user: str) -> None:
        give_to_server(self.maildir(user))

    def settings(self, user: str, **extra: object) -> dict[str, object]:
        """Account settings for syncd's IMAP source: STARTTLS on the plain port, trusting the test certificate."""
        return {"host": "127.0.0.1", "port": self.plain_port, "security": "starttls", "username": user,
                "ca_file": Path(self.cert), "folders": (), "me": (), "password_command": None, **extra}

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.cert)

    @contextlib.contextmanager
    def admin(self, user: str) -> Iterator[imaplib.IMAP4]:
        """Another client's session for ``user`` (plain IMAP on loopback)."""
        session = imaplib.IMAP4("127.0.0.1", self.plain_port, timeout=30)
        try:
            session.login(user, PASSWORD)
            yield session
        finally:
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                session.logout()

    def logouts(self, user: str) -> list[str]:
        """The log's logout lines of ``user``'s sessions (each counts the headers and bodies fetched)."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return []
        return [line for line in text.splitlines() if f"imap({user})" in line and "Disconnected" in line]


def _current_user() -> str:
    import getpass

    return getpass.getuser()


def _ids() -> tuple[int, int]:
    import os

    return os.getuid(), os.getgid()


def _group(gid: int) -> str:
    import grp

    return grp.getgrgid(gid).gr_name
