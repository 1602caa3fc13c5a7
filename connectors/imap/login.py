"""``syncd auth login`` for an IMAP account: the password is asked (no echo), checked by logging in to the
server, and only then kept in the token store (see :mod:`connectors.password`)."""

from __future__ import annotations

import getpass
from collections.abc import Callable, Mapping
from typing import Any

from connectors import password
from connectors.base import SecretSlot
from connectors.imap.session import ImapSession

describe = password.describe
import_secret = password.import_secret


def login(account: str, settings: Mapping[str, Any], slot: SecretSlot, *, echo: Callable[[str], None] = print,
          ask: Callable[[str], str] | None = None, **_browser_options: object) -> str:
    def verify(secret: str) -> str:
        with ImapSession(account, settings, None, secret=secret) as session:
            return f"{settings.get('username')} at {session.where}"

    return password.login(account, settings, slot, verify, echo=echo, ask=ask or getpass.getpass,
                          where=str(settings.get("host")))

