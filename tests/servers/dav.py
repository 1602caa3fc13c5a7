"""A CalDAV account on a test server, as syncd is configured for it, and another client's hands on it: the
caldav library making calendars and putting, moving or deleting events the way a phone or desktop app would.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import icalendar

from tests.fakes.slot import MemorySlot
from tests.servers.radicale import Radicale
from tests.servers.xandikos import Xandikos


@dataclasses.dataclass
class DavAccount:
    url: str
    username: str
    password: str
    ca_file: str | None = None

    @property
    def slot(self) -> MemorySlot:
        return MemorySlot(json.dumps({"password": self.password}))

    def settings(self, **extra: Any) -> dict[str, Any]:
        return {"url": self.url, "username": self.username, "password_command": (), "ca_file": self.ca_file,
                "calendars": (), "followups_calendar": None, "me": (), **extra}

    def client(self) -> Any:
        from caldav.davclient import DAVClient

        return DAVClient(url=self.url, username=self.username, password=self.password,
                                enable_rfc6764=False, ssl_verify_cert=self.ca_file or True)

    def calendar(self, name: str) -> Any:
        """The calendar called ``name`` in the user's home, made when missing (as another client would)."""
        principal = self.client().principal()
        for calendar in principal.get_calendars():
            if calendar.get_display_name() == name:
                return calendar
        return principal.make_calendar(name=name)


def radicale_account(server: Radicale) -> DavAccount:
    user, password = server.new_user()
    return DavAccount(server.url, user, password, str(server.ca_file()) if server.tls else None)


def xandikos_account(server: Xandikos) -> DavAccount:
    return DavAccount(server.url, "user", "anything")


def load(calendar: Any, ics: bytes) -> int:
    """Put every UID of an .ics export into ``calendar`` as one object each (RFC 4791 §4.1); returns how many."""
    source = icalendar.Calendar.from_ical(ics)
    zones = list(source.walk("VTIMEZONE"))
    by_uid: dict[str, list[Any]] = {}
    for event in source.walk("VEVENT"):
        by_uid.setdefault(str(event["UID"]), []).append(event)
    for events in by_uid.values():
        single = icalendar.Calendar()
        single.add("PRODID", "-//tests//other client//EN")
        single.add("VERSION", "2.0")
        for component in [*zones, *events]:
            single.add_component(component)
        calendar.save_event(single.to_ical().decode())
    return len(by_uid)
