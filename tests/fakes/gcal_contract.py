"""Google Calendar for the connector contract (tests/connectors/test_contract.py), and the rig the gcal tests share.

:func:`calendar_rig` starts one loopback server with Google's token endpoint and the Calendar fake, logs the
account in (an authorized-user JSON in a :class:`MemorySlot`) and hands out connector settings pointing at
them. Backoff never really sleeps: throttles get a fake sleep that only records the waits.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from connectors.base import CalendarTarget
from connectors.google.auth import CALENDAR_APP_CREATED, CALENDAR_EVENTS, CALENDAR_LIST_READ, CALENDAR_READ
from connectors.google.calendar import GoogleCalendarSource
from connectors.google.calendar_target import GoogleCalendarTarget
from connectors.throttle import RateBudget, RetryPolicy, Throttle
from tests.fakes.gcal import GoogleCalendarFake
from tests.fakes.google_oauth import GoogleOAuthFake
from tests.fakes.server import FakeServer, loopback_only
from tests.fakes.slot import MemorySlot

# What a login for the follow-ups account grants; calendar.events too, for the tests that write into "primary".
SCOPES = [CALENDAR_READ, CALENDAR_APP_CREATED, CALENDAR_LIST_READ, CALENDAR_EVENTS]


@dataclasses.dataclass
class Rig:
    server: FakeServer
    oauth: GoogleOAuthFake
    calendar: GoogleCalendarFake
    slot: MemorySlot
    sleeps: list[float] = dataclasses.field(default_factory=list)

    def settings(self, **extra: Any) -> dict[str, Any]:
        return {"calendar_endpoint": self.calendar.endpoint, "token_uri": self.oauth.token_uri,
                "calendar_quota": 600, "calendars": ("primary",), "followups_calendar_id": None,
                "me": (), "gmail": False, "followups_target": True, "calendar_name": "Follow-ups", **extra}

    def throttle(self, attempts: int = 6) -> Throttle:
        # Real budget arithmetic, but every wait (backoff or budget) is only recorded.
        return Throttle(RateBudget(600, 60, sleep=self.sleeps.append),
                        RetryPolicy(attempts=attempts, base=0.01, cap=0.05, jitter=0.0), sleep=self.sleeps.append)

    def source(self, **extra: Any) -> GoogleCalendarSource:
        return GoogleCalendarSource("acct", self.settings(**extra), self.slot, throttle=self.throttle())

    def target(self, **extra: Any) -> GoogleCalendarTarget:
        return GoogleCalendarTarget("acct", self.settings(**extra), self.slot, throttle=self.throttle())


@contextlib.contextmanager
def calendar_rig(scopes: list[str] | None = None) -> Iterator[Rig]:
    with loopback_only():
        server = FakeServer()
        oauth = GoogleOAuthFake(server)
        calendar = GoogleCalendarFake(server, oauth)
        server.start()
        try:
            oauth.add_refresh_token("rt-1", list(SCOPES if scopes is None else scopes))
            yield Rig(server, oauth, calendar, MemorySlot(oauth.authorized_user_json("rt-1")))
        finally:
            server.stop()


@contextlib.contextmanager
def contract_target(tmp_path: Path) -> Iterator[Callable[[], CalendarTarget]]:
    """A factory of Google Calendar targets, all on one started fake (one account, one calendar)."""
    with calendar_rig() as rig:
        yield rig.target
