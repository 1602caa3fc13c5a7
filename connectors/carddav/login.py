"""``syncd auth login`` for a CardDAV account: the password is asked (no echo), checked by finding the account's
address books, and only then kept in the token store (see :mod:`connectors.password`)."""

from __future__ import annotations

import getpass
from collections.abc import Callable, Mapping
from typing import Any

from connectors import password
from connectors.base import SecretSlot
from connectors.caldav.account import secret_check
from connectors.carddav.discovery import discover

describe = password.describe
import_secret = password.import_secret


def login(account: str, settings: Mapping[str, Any], slot: SecretSlot, *, echo: Callable[[str], None] = print,
          ask: Callable[[str], str] | None = None, **_browser_options: object) -> str:
    def verify(secret: str) -> str:
        connection = secret_check(account, settings, secret, protocol="CardDAV")
        books = discover(connection).books
        return f"{settings.get('username')} at {connection.host}, {len(books)} address books"

    return password.login(account, settings, slot, verify, echo=echo, ask=ask or getpass.getpass,
                          where=str(settings.get("url")))
