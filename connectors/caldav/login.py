"""``syncd auth login`` for a CalDAV account: the password is asked (no echo), checked by finding the
account's calendars, and only then kept in the token store (see :mod:`connectors.password`)."""

from __future__ import annotations

import getpass
from collections.abc import Callable, Mapping
from typing import Any

from connectors import password
from connectors.base import SecretSlot
from connectors.caldav.account import secret_check
from connectors.caldav.discovery import discover

describe = password.describe
import_secret = password.import_secret


def login(account: str, settings: Mapping[str, Any], slot: SecretSlot, *, echo: Callable[[str], None] = print,
          ask: Callable[[str], str] | None = None, **_browser_options: object) -> str:
    def verify(secret: str) -> str:
        connection = secret_check(account, settings, secret)
        calendars = discover(connection).calendars
        return f"{settings.get('username')} at {connection.host}, {len(calendars)} calendars"

    return password.login(account, settings, slot, verify, echo=echo, ask=ask or getpass.getpass,
                          where=str(settings.get("url")))

